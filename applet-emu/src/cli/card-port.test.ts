import { fromHex, hex, toHex } from '@simtap/sdk/core/bytes';
import { describe, expect, it } from 'vitest';
import { Card, DEFAULT_ATR_HEX, DEFAULT_ATS_HEX } from '../runtime/card';
import { SampleApplet } from '../runtime/sample-applet';
import { CardPort, formatTraceLine, pcscContactlessAtr } from './card-port';

const SELECT_SAMPLE = hex`00 A4 04 00 08 F0 53 49 4D 54 41 50 01`;
const ADD_1 = hex`80 32 00 00 04 00 00 00 01`;
const GET = hex`80 CA 00 00 04`;

describe('pcscContactlessAtr', () => {
  it('builds 3B 8D 80 01 ‖ the ATS historical bytes ‖ TCK for the default ATS', () => {
    const atr = pcscContactlessAtr(fromHex(DEFAULT_ATS_HEX));
    expect(toHex(atr)).toBe(`3B8D8001${toHex(fromHex(DEFAULT_ATS_HEX).subarray(5))}${toHex(atr.subarray(-1))}`);
    // TCK makes the XOR of T0..TCK zero; the historical bytes are the contact ATR's.
    expect(atr.subarray(1).reduce((a, b) => a ^ b, 0)).toBe(0);
    expect(toHex(atr.subarray(4, -1))).toBe(toHex(fromHex(DEFAULT_ATR_HEX).subarray(7, 20)));
  });

  it('handles an ATS without T0 or interface bytes', () => {
    expect(toHex(pcscContactlessAtr(hex`01`))).toBe('3B80800101');
    expect(toHex(pcscContactlessAtr(hex`04 00 41 42`))).toBe(
      toHex(Uint8Array.of(0x3b, 0x82, 0x80, 0x01, 0x41, 0x42, 0x82 ^ 0x80 ^ 0x01 ^ 0x41 ^ 0x42)),
    );
  });

  it.each([
    ['empty', ''],
    ['TL past the end', '05 78 80'],
    ['TL zero', '00'],
    ['interface bytes past TL', '02 70'],
  ])('rejects an ATS that is %s with ATS_INVALID', (_, ats) => {
    expect(() => pcscContactlessAtr(fromHex(ats))).toThrow(expect.objectContaining({ code: 'ATS_INVALID' }));
  });

  it('rejects more than 15 historical bytes', () => {
    const ats = new Uint8Array(18);
    ats[0] = 18;
    expect(() => pcscContactlessAtr(ats)).toThrow(expect.objectContaining({ code: 'ATS_INVALID' }));
  });
});

describe('formatTraceLine', () => {
  it('prints command, response data and SW, and the time', () => {
    expect(formatTraceLine('contactless', hex`00 A4 04 00 02 3F 00`, hex`6F 00 90 00`, 0.125)).toBe(
      'contactless 00A40400023F00 → 6F00 9000  (0.13 ms)',
    );
    expect(formatTraceLine('contact', GET, hex`6A 82`, 1)).toBe('contact     80CA000004 → 6A82  (1.00 ms)');
  });

  it.each([
    ['PUT KEY', hex`84 D8 01 81 0A 30 88 10 11 22 33 44 55 66 77`],
    ['STORE DATA', hex`84 E2 80 00 06 80 10 03 AA BB CC`],
    ['VERIFY', hex`00 20 00 00 04 31 32 33 34`],
    ['CHANGE PIN', hex`80 5E 01 00 05 12 34 FF 56 78`],
  ])('redacts the data of %s', (_, cmd) => {
    const line = formatTraceLine('contact', cmd, hex`90 00`, 0);
    expect(line).toContain(`${toHex(cmd.subarray(0, 4))} [${cmd.length - 4} bytes redacted]`);
    expect(line).not.toContain(toHex(cmd.subarray(5)));
  });
});

describe('CardPort', () => {
  function sampleCard(): Card {
    const card = new Card();
    card.registry.install(new SampleApplet(), { default: true });
    return card;
  }

  it('reports the pseudo-ATR on contactless and the ATR on contact, and leaves the card unpowered', () => {
    const card = sampleCard();
    const cl = new CardPort(card, 'contactless');
    expect(toHex(cl.atr())).toBe(toHex(pcscContactlessAtr(fromHex(DEFAULT_ATS_HEX))));
    const ct = new CardPort(card, 'contact');
    expect(toHex(ct.atr())).toBe(toHex(fromHex(DEFAULT_ATR_HEX)));
    expect(card.isPowered('contact')).toBe(false);
    expect(card.isPowered('contactless')).toBe(false);
  });

  it('drives the chosen interface and calls onCommit only after committing commands', () => {
    const card = sampleCard();
    let commits = 0;
    const port = new CardPort(card, 'contact', { onCommit: () => commits++ });
    port.powerOn();
    expect(card.isPowered('contact')).toBe(true);
    expect(card.isPowered('contactless')).toBe(false);
    expect(toHex(port.transmit(SELECT_SAMPLE)).endsWith('9000')).toBe(true);
    expect(toHex(port.transmit(GET))).toBe('000000009000');
    expect(commits).toBe(0);
    expect(toHex(port.transmit(ADD_1))).toBe('000000019000');
    expect(commits).toBe(1);
    expect(toHex(port.transmit(hex`80 EF 00 00`))).toBe('6985'); // rolled back: no commit
    expect(commits).toBe(1);
    port.reset();
    expect(toHex(port.transmit(ADD_1))).toBe('000000029000');
    expect(commits).toBe(2);
    port.powerOff();
    expect(card.isPowered('contact')).toBe(false);
    expect(() => port.transmit(GET)).toThrow(expect.objectContaining({ code: 'CARD_NOT_POWERED' }));
  });
});
