import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import { encodeEf15 } from '@simtap/sdk/core/pboc';
import { cardEf15, cardProfile } from '@simtap/sdk/core/profile';
import { describe, expect, it } from 'vitest';
import { LIFECYCLE } from '../../runtime/applet';
import { Card } from '../../runtime/card';
import { DirectoryDdf } from '../../runtime/directory';
import type { StoreDataItem } from '../personalization';
import { EPURSE_DGI } from './constants';
import { encodeParameters, encodeRecordFile } from './dgi';
import type { EpurseApplet } from './epurse';
import { epurseDgis, findEpurse, installEpurse, personalizeEpurse } from './install';
import { createPurseCard, PurseTerminal, send } from './testing';

const AID = fromHex('A000000632010105');
const sw = (code: number) => expect.objectContaining({ sw: code });

function blank() {
  const card = new Card({ logger: { error: () => undefined } });
  const applet = installEpurse(card);
  const env = { store: card.registry.storeOf(AID), card, atomically: <T>(f: () => T) => card.atomically(f) };
  const put = (dgi: number, data: Uint8Array | string, o: Partial<StoreDataItem> = {}) =>
    applet.applyStoreData(env, {
      dgi,
      data: typeof data === 'string' ? fromHex(data) : data,
      encrypted: o.encrypted ?? true,
      last: o.last ?? false,
    });
  return { card, applet, put };
}

describe('installEpurse', () => {
  it('installs the PSE and PPSE once and lists every purse in them', () => {
    const card = new Card();
    installEpurse(card);
    installEpurse(card, { aid: fromHex('A000000632010107'), fid: 0x3f02, label: 'SECOND' });
    const names = card.registry.list().map((e) => toHex(e.aid));
    expect(names.filter((n) => n.startsWith('315041') || n.startsWith('325041'))).toHaveLength(2);
    const pse = card.registry.get(new TextEncoder().encode(DirectoryDdf.PSE))!.applet as DirectoryDdf;
    expect(pse.records(card)).toHaveLength(2);
    expect(() => installEpurse(card)).toThrow(expect.objectContaining({ code: 'AID_EXISTS' }));
    const bare = new Card();
    installEpurse(bare, { directories: false, default: true });
    expect(bare.registry.list()).toHaveLength(1);
    bare.powerOn('contactless');
    expect(toHex(bare.selectedAid('contactless')!)).toBe(toHex(AID));
  });
});

describe('personalization (storeData / personalizeEpurse)', () => {
  it('personalizes from the profile: EF 0x15, keys, PIN; life cycle PERSONALIZED; then refuses (6985)', () => {
    const { card, applet } = createPurseCard({ personalization: { balance: 42 } });
    expect(card.registry.get(AID)!.lifecycle).toBe(LIFECYCLE.PERSONALIZED);
    send(card, 'contact', '00 A4 04 00 08 A000000632010105');
    expect(toHex(send(card, 'contact', '00 B0 95 00 1E').data)).toBe(
      toHex(encodeEf15(cardEf15(cardProfile('card-1')))),
    );
    expect(send(card, 'contact', '00 20 00 00 03 123456').sw).toBe(0x9000);
    expect(() => personalizeEpurse(card)).toThrow(sw(0x6985));
    expect(findEpurse(card)).toBe(applet);
    expect(() => findEpurse(new Card())).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    const items = epurseDgis(cardProfile('card-2'));
    expect(items.map((i) => i.dgi)).toEqual([0x0101, 0x0201, 0x0202, 0x8001, 0x8010]);
    expect(items.map((i) => i.last)).toEqual([false, false, false, false, true]);
  });

  it('refuses secret DGIs without encryption (6982), unknown DGIs (6A88), malformed values (6A80)', () => {
    const { put } = blank();
    expect(() => put(EPURSE_DGI.PIN, '123456', { encrypted: false })).toThrow(sw(0x6982));
    expect(() => put(0x0999, '00')).toThrow(sw(0x6a88));
    expect(() => put(EPURSE_DGI.EF15, '00')).toThrow(sw(0x6a80));
    expect(() => put(EPURSE_DGI.FCI_PROPRIETARY, '9F08')).toThrow(sw(0x6a80));
    expect(() => put(EPURSE_DGI.GET_DATA, new Uint8Array(0))).toThrow(sw(0x6a80));
    expect(() => put(EPURSE_DGI.PIN, '12AB')).toThrow(sw(0x6a80));
    expect(() => put(EPURSE_DGI.STATUS, '03')).toThrow(sw(0x6a80));
    expect(() => put(EPURSE_DGI.RECORD_FILE | 0x15, '02 01 01')).toThrow(sw(0x6a80));
    expect(() => put(EPURSE_DGI.RECORD_FILE | 0x1f, '02 01 01')).toThrow(sw(0x6a80));
    expect(() => put(EPURSE_DGI.RECORD_FILE | 0x18, '02 17 05')).toThrow(sw(0x6a80));
  });

  it('resizes EF 0x16, redefines record files and the log capacity', () => {
    const { card, put } = blank();
    put(EPURSE_DGI.EF16, 'AABBCC');
    put(
      EPURSE_DGI.RECORD_FILE | 0x18,
      encodeRecordFile({
        sfi: 0x18,
        structure: 'cyclic',
        recordSize: 23,
        maxRecords: 4,
        records: [new Uint8Array(23).fill(7)],
      }),
    );
    put(
      EPURSE_DGI.RECORD_FILE | 0x09,
      encodeRecordFile({
        sfi: 0x09,
        structure: 'linear-fixed',
        recordSize: 4,
        maxRecords: 2,
        records: [fromHex('01000000'), fromHex('02000000')],
      }),
    );
    put(
      EPURSE_DGI.PARAMETERS,
      encodeParameters({
        maxBalance: 1000,
        overdraftLimit: 0,
        logRecords: 6,
        macFailureLimit: 3,
        pinTryLimit: 3,
        rules: 15,
      }),
      { last: true },
    );
    card.powerOn('contact');
    const fci = send(card, 'contact', '00 A4 04 00 08 A000000632010105');
    expect(toHex(fci.data)).toContain('9F4D021806');
    expect(toHex(send(card, 'contact', '00 B0 96 00 00').data)).toBe('AABBCC');
    expect(toHex(send(card, 'contact', '00 B2 01 C4 17').data)).toBe('07'.repeat(23));
    expect(toHex(send(card, 'contact', '00 B2 02 4C 04').data)).toBe('02000000');
    const adf = card.files.findByName(AID)!;
    expect(card.files.bySfi(adf, 0x18)!.maxRecords).toBe(6);
  });

  it('DGI 0F01 (issuer status) works after personalization: block, unlock, permanent block', () => {
    const { card } = createPurseCard({ personalization: { balance: 100 } });
    const applet = findEpurse(card);
    const env = { store: card.registry.storeOf(AID), card, atomically: <T>(f: () => T) => card.atomically(f) };
    const status = (v: string) =>
      applet.applyStoreData(env, { dgi: EPURSE_DGI.STATUS, data: fromHex(v), encrypted: false, last: true });
    const t = new PurseTerminal(card);
    status('01');
    expect(t.select().sw).toBe(0x6283);
    expect(t.purchase(1).sw).toBe(0x9303);
    status('00');
    expect(t.select().sw).toBe(0x9000);
    expect(t.purchase(1).sw).toBe(0x9000);
    status('02');
    expect(() => status('00')).toThrow(sw(0x6985));
    expect(t.purchase(1).sw).toBe(0x9303);
  });

  it('storeData is the ISD entry point (same code path)', () => {
    const { card, applet } = blank();
    const ctx = { store: card.registry.storeOf(AID), card, atomically: <T>(f: () => T) => card.atomically(f) };
    (applet as EpurseApplet).storeData(ctx as never, {
      dgi: EPURSE_DGI.GET_DATA,
      data: fromHex('0102'),
      encrypted: false,
      last: true,
    });
    card.powerOn('contact');
    send(card, 'contact', '00 A4 04 00 08 A000000632010105');
    expect(toHex(send(card, 'contact', '80 CA 00 00 02').data)).toBe('0102');
    expect(card.registry.get(AID)!.lifecycle).toBe(LIFECYCLE.PERSONALIZED);
  });
});
