import { fromHex, hex, toHex } from '@simtap/sdk/core/bytes';
import { decodeTlvOne, findAllTlv, findTlv } from '@simtap/sdk/core/tlv';
import { describe, expect, it } from 'vitest';
import { Card } from './card';
import { DirectoryDdf, directoryRecord } from './directory';

const EP = hex`A0 00 00 06 32 01 01 05`;
const PSE_HEX = toHex(new TextEncoder().encode(DirectoryDdf.PSE));
const PPSE_HEX = toHex(new TextEncoder().encode(DirectoryDdf.PPSE));

function makeCard(): { card: Card; pse: DirectoryDdf; ppse: DirectoryDdf } {
  const card = new Card();
  const pse = new DirectoryDdf(DirectoryDdf.PSE, { interfaces: ['contact'] });
  const ppse = new DirectoryDdf(DirectoryDdf.PPSE, { interfaces: ['contactless'] });
  card.registry.install(pse);
  card.registry.install(ppse);
  for (const d of [pse, ppse]) d.addEntry(card, { aid: EP, label: 'T-UNION', priority: 1 });
  card.powerOn('contact');
  card.powerOn('contactless');
  return { card, pse, ppse };
}

const run = (card: Card, iface: 'contact' | 'contactless', apdu: string): string =>
  toHex(card.transmit(iface, fromHex(apdu)));

describe('DirectoryDdf', () => {
  it('builds 70 { 61 { 4F 50 87 } } directory records', () => {
    expect(toHex(directoryRecord({ aid: EP, label: 'EP', priority: 1, extra: hex`9F12 01 41` }))).toBe(
      '701761154F08A000000632010105500245508701019F120141',
    );
  });

  it('PSE: FCI names the directory SFI and READ RECORD returns the entries', () => {
    const { card } = makeCard();
    const r = run(card, 'contact', `00 A4 04 00 0E ${PSE_HEX} 00`);
    expect(r.slice(-4)).toBe('9000');
    const fci = decodeTlvOne(fromHex(r.slice(0, -4)));
    expect(toHex(findTlv(fci, '6F/84')!.value)).toBe(PSE_HEX);
    expect(toHex(findTlv(fci, '6F/A5/88')!.value)).toBe('01');
    const rec = run(card, 'contact', '00 B2 01 0C 00');
    expect(rec).toBe(`${toHex(directoryRecord({ aid: EP, label: 'T-UNION', priority: 1 }))}9000`);
    expect(run(card, 'contact', '00 B2 02 0C 00')).toBe('6A83');
    expect(run(card, 'contact', '00 DC 01 0C 01 00')).toBe('6982');
    expect(run(card, 'contact', '80 CA 00 00 00')).toBe('6D00');
    expect(run(card, 'contactless', `00 A4 04 00 0E ${PSE_HEX} 00`)).toBe('6A82');
  });

  it('PPSE: the FCI lists the entries in BF0C', () => {
    const { card, ppse } = makeCard();
    ppse.addEntry(card, { aid: hex`A0 00 00 03 33 01 01 01`, priority: 2 });
    const r = run(card, 'contactless', `00 A4 04 00 0E ${PPSE_HEX} 00`);
    const fci = decodeTlvOne(fromHex(r.slice(0, -4)));
    const entries = findAllTlv(fci, '6F/A5/BF0C/61');
    expect(entries.map((e) => toHex(findTlv(e, '61/4F')!.value))).toEqual(['A000000632010105', 'A000000333010101']);
    expect(findTlv(fci, '6F/A5/88')).toBeUndefined();
    expect(run(card, 'contact', `00 A4 04 00 0E ${PPSE_HEX} 00`)).toBe('6A82');
  });

  it('answers a stored FCI and survives a snapshot round trip', () => {
    const { card, pse } = makeCard();
    pse.setFci(card, hex`6F 03 84 01 31`);
    expect(run(card, 'contact', `00 A4 04 00 0E ${PSE_HEX}`)).toBe('6F038401319000');
    const copy = Card.fromSnapshot(card.snapshot());
    copy.powerOn('contact');
    copy.powerOn('contactless');
    expect(run(copy, 'contact', `00 A4 04 00 0E ${PSE_HEX}`)).toBe('6F038401319000');
    expect(run(copy, 'contact', '00 B2 01 0C 00').slice(-4)).toBe('9000');
    expect(run(copy, 'contactless', `00 A4 04 00 0E ${PSE_HEX}`)).toBe('6A82'); // interfaces restored
    pse.setFci(card, undefined);
    expect(run(card, 'contact', `00 A4 04 00 0E ${PSE_HEX}`).startsWith('6F')).toBe(true);
  });

  it('refuses to add entries before it is installed', () => {
    const card = new Card();
    const pse = new DirectoryDdf(DirectoryDdf.PSE);
    expect(() => pse.addEntry(card, { aid: EP })).toThrow(expect.objectContaining({ code: 'AID_NOT_FOUND' }));
  });
});
