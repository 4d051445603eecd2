import { createCipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import { TTI } from '@simtap/sdk/core/pboc';
import { cardProfile, referenceProfile } from '@simtap/sdk/core/profile';
import { describe, expect, it } from 'vitest';
import { Card } from '../../runtime/card';
import { refDesMac, refDiversify, refJoin, refSespk, refTacKey, refTdesEcb } from '../epurse/reference-crypto';
import { createPurseCard, hexApdu, PurseTerminal, send } from '../epurse/testing';
import { createPsam, installPsam, PSAM_FACTORIES, personalizePsam, psamDgis } from './install';
import { PSAM_COMMANDS, PSAM_DGI, PsamApplet } from './psam';

const profile = referenceProfile();
const card1 = cardProfile('card-1');
const masters = profile.issuer.masterKeys;
const hx = toHex;
const swOf = (r: { sw: number }): string => r.sw.toString(16).toUpperCase();
const RANDOM = fromHex('A1B2C3D4');
const DATE_TIME = fromHex('20260301 101500');

function mac1Command(
  o: { counter?: number; amount?: number; tti?: number; keyVersion?: number; issuer?: Uint8Array } = {},
) {
  return hexApdu(0x80, 0x70, 0, 0, [
    RANDOM,
    Uint8Array.of(0, o.counter ?? 5),
    refJoin([o.amount ?? 250, 4]),
    Uint8Array.of(o.tti ?? TTI.EP_PURCHASE),
    DATE_TIME,
    Uint8Array.of(o.keyVersion ?? 1, 0),
    card1.diversificationData,
    ...(o.issuer === undefined ? [] : [o.issuer]),
  ]);
}

function powered(psam: Card): Card {
  psam.powerOn('contact');
  return psam;
}

describe('PSAM', () => {
  it('is selectable by AID and FID DF01 and serves the terminal ID (00 B0 96 00 06)', () => {
    const psam = powered(createPsam('pos-1'));
    expect(hx(send(psam, 'contact', '00 B0 96 00 06').data)).toBe('440100000001');
    expect(send(psam, 'contact', '00 A4 00 00 02 DF01').sw).toBe(0x9000);
    expect(send(psam, 'contact', '00 A4 04 00 08 A000000632010106 00').sw).toBe(0x9000);
    expect(hx(send(psam, 'contact', '00 B0 96 00 06').data)).toBe('440100000001');
    expect(hx(send(powered(createPsam('gate-1')), 'contact', '00 B0 96 00 06').data)).toBe('440100000002');
  });

  it('MAC1 (one level): SESPK from the diversified purchase master key; the sequence increments', () => {
    const psam = powered(createPsam('pos-1'));
    const dpk = refDiversify(masters.purchaseMasterKey, card1.diversificationData);
    expect(hx(dpk)).toBe(hx(card1.keys.DPK.key));
    for (const seq of [1, 2, 3]) {
      const r = send(psam, 'contact', mac1Command());
      expect(r.sw).toBe(0x9000);
      expect(hx(r.data.subarray(0, 4))).toBe(hx(refJoin([seq, 4])));
      const sespk = refSespk(dpk, RANDOM, 5, seq);
      const m = refJoin([250, 4], [TTI.EP_PURCHASE, 1], fromHex('440100000001'), DATE_TIME);
      expect(hx(r.data.subarray(4))).toBe(hx(refDesMac(sespk, m)));
      expect(send(psam, 'contact', hexApdu(0x80, 0x72, 0, 0, [refDesMac(sespk, refJoin([250, 4]))])).sw).toBe(0x9000);
    }
  });

  it('MAC1 (two levels, Lc 24): issuer ID first, then the card serial', () => {
    const psam = powered(createPsam('pos-1'));
    const issuer = fromHex('4401000000000000');
    const r = send(psam, 'contact', mac1Command({ issuer, tti: TTI.CAPP_PURCHASE }));
    expect(r.sw).toBe(0x9000);
    const dpk = refDiversify(refDiversify(masters.purchaseMasterKey, issuer), card1.diversificationData);
    const sespk = refSespk(dpk, RANDOM, 5, 1);
    const m = refJoin([250, 4], [TTI.CAPP_PURCHASE, 1], fromHex('440100000001'), DATE_TIME);
    expect(hx(r.data.subarray(4))).toBe(hx(refDesMac(sespk, m)));
  });

  it('checks MAC2 once: 9302 when wrong, 6985 without a MAC1 session or after another command', () => {
    const psam = powered(createPsam('pos-1'));
    expect(swOf(send(psam, 'contact', '80 72 00 00 04 00000000'))).toBe('6985');
    send(psam, 'contact', mac1Command());
    expect(swOf(send(psam, 'contact', '80 72 00 00 04 00000000'))).toBe('9302');
    expect(swOf(send(psam, 'contact', '80 72 00 00 04 00000000'))).toBe('6985');
    send(psam, 'contact', mac1Command());
    send(psam, 'contact', '00 B0 96 00 06');
    expect(swOf(send(psam, 'contact', '80 72 00 00 04 00000000'))).toBe('6985');
    expect(swOf(send(psam, 'contact', '80 72 00 00 03 000000'))).toBe('6700');
    expect(swOf(send(psam, 'contact', '80 72 01 00 04 00000000'))).toBe('6A86');
  });

  it('answers the MAC1 errors: 6700, 6A86, 6A80 (TTI), 6A88 (key version), 6985 (not personalized)', () => {
    const psam = powered(createPsam('pos-1'));
    const cmd = mac1Command();
    expect(
      swOf(
        send(
          psam,
          'contact',
          cmd.subarray(0, cmd.length - 1).map((b, i) => (i === 4 ? 0x1b : b)),
        ),
      ),
    ).toBe('6700');
    expect(
      swOf(
        send(
          psam,
          'contact',
          cmd.map((b, i) => (i === 2 ? 1 : b)),
        ),
      ),
    ).toBe('6A86');
    expect(swOf(send(psam, 'contact', mac1Command({ tti: TTI.EP_LOAD })))).toBe('6A80');
    expect(swOf(send(psam, 'contact', mac1Command({ keyVersion: 9 })))).toBe('6A88');
    expect(swOf(send(psam, 'contact', '00 72 00 00 04 00000000'))).toBe('6D00');
    expect(swOf(send(psam, 'contact', '80 99 00 00'))).toBe('6D00');
    const blank = new Card();
    installPsam(blank);
    blank.powerOn('contact');
    expect(swOf(send(blank, 'contact', mac1Command()))).toBe('6985');
    expect(swOf(send(blank, 'contact', '80 1A 44 01 08 4401202600000001'))).toBe('6985');
  });

  it('answers 9402 when the terminal transaction sequence is exhausted', () => {
    const psam = powered(createPsam('pos-1', { initialTerminalTxnSeq: 0xfffffffe }));
    expect(hx(send(psam, 'contact', mac1Command()).data.subarray(0, 4))).toBe('FFFFFFFE');
    expect(swOf(send(psam, 'contact', mac1Command()))).toBe('9402');
  });

  it('keeps the sequence across power cycles and card images; increments it atomically with MAC1', () => {
    const psam = powered(createPsam('pos-1'));
    send(psam, 'contact', mac1Command());
    const copy = Card.fromSnapshot(psam.snapshot(), { factories: PSAM_FACTORIES });
    copy.powerOn('contact');
    expect(hx(send(copy, 'contact', mac1Command()).data.subarray(0, 4))).toBe('00000002');
    // A tear on the sequence write: the MAC1 is never answered and the sequence stays.
    copy.tearAt(1);
    expect(() => copy.transmit('contact', mac1Command())).toThrow();
    copy.powerOn('contact');
    expect(hx(send(copy, 'contact', mac1Command()).data.subarray(0, 4))).toBe('00000003');
  });

  it('recomputes the TAC of a purchase with 80 1A 44 (TAC master) and 80 FA (P1 01 and 05)', () => {
    const { card } = createPurseCard({ personalization: { balance: 1_000 } });
    const psam = createPsam('pos-1');
    const t = new PurseTerminal(card, psam);
    t.select();
    const r = t.purchase(321);
    expect(r.sw).toBe(0x9000);
    expect(send(psam, 'contact', hexApdu(0x80, 0x1a, 0x44, 0x01, [card1.diversificationData])).sw).toBe(0x9000);
    const input = refJoin([321, 4], [TTI.EP_PURCHASE, 1], t.terminalId, [r.terminalTxnSeq!, 4], r.date, r.time);
    expect(hx(send(psam, 'contact', hexApdu(0x80, 0xfa, 0x01, 0x00, [input])).data)).toBe(hx(r.tac!));
    const withIcv = hexApdu(0x80, 0xfa, 0x05, 0x00, [new Uint8Array(8), input]);
    expect(hx(send(psam, 'contact', withIcv).data)).toBe(hx(r.tac!));
    // P1 00: single-DES ECB with the TAC key.
    const block = fromHex('0011223344556677');
    const k = refTacKey(card1.keys.DTK.key);
    const c = createCipheriv('des-ede3-ecb', Buffer.concat([k, k, k]), null);
    c.setAutoPadding(false);
    expect(hx(send(psam, 'contact', hexApdu(0x80, 0xfa, 0x00, 0x00, [block])).data)).toBe(hx(c.update(block)));
  });

  it('diversifies other usages to the 16-byte card key (80 FA 00 = 3DES-ECB) and answers the errors', () => {
    const psam = powered(createPsam('pos-1'));
    expect(swOf(send(psam, 'contact', '80 FA 00 00 08 0011223344556677'))).toBe('6985');
    expect(swOf(send(psam, 'contact', '80 1A 01 01 07 44012026000000'))).toBe('6700');
    expect(swOf(send(psam, 'contact', '80 1A 02 01 08 4401202600000001'))).toBe('6A88');
    expect(swOf(send(psam, 'contact', '80 1A 01 01 08 4401202600000001'))).toBe('9000');
    const block = fromHex('0011223344556677');
    expect(hx(send(psam, 'contact', hexApdu(0x80, 0xfa, 0, 0, [block])).data)).toBe(
      hx(refTdesEcb(card1.keys.DPK.key, block)),
    );
    expect(swOf(send(psam, 'contact', '80 FA 00 00 07 00112233445566'))).toBe('6700');
    expect(swOf(send(psam, 'contact', '80 FA 05 00 04 00112233'))).toBe('6700');
    expect(swOf(send(psam, 'contact', '80 FA 02 00 04 00112233'))).toBe('6A86');
    expect(send(psam, 'contact', '80 FA 01 00 04 00112233').data.length).toBe(4);
    const noTac = powered(createPsam('pos-1', { withTacKey: false }));
    expect(swOf(send(noTac, 'contact', '80 1A 44 01 08 4401202600000001'))).toBe('6A88');
  });

  it('works as a T=0 PSAM: 6108 then GET RESPONSE', () => {
    const psam = powered(createPsam('pos-1', { card: { t0: true } }));
    expect(swOf(send(psam, 'contact', mac1Command()))).toBe('6108');
    const r = send(psam, 'contact', '00 C0 00 00 08');
    expect([r.sw, r.data.length]).toEqual([0x9000, 8]);
  });

  it('refuses bad personalization: unencrypted keys 6982, unknown DGI 6A88, bad length 6A80, twice 6985', () => {
    const card = new Card();
    const applet = installPsam(card);
    const env = { store: card.registry.storeOf(applet.aid), card, atomically: <T>(f: () => T) => card.atomically(f) };
    const item =
      (dgi: number, data: string, extra: { encrypted?: boolean; last?: boolean } = {}) =>
      () =>
        applet.applyStoreData(env, {
          dgi,
          data: fromHex(data),
          encrypted: extra.encrypted ?? true,
          last: extra.last ?? false,
        });
    expect(item(PSAM_DGI.KEYS, '01'.repeat(18), { encrypted: false })).toThrow(expect.objectContaining({ sw: 0x6982 }));
    expect(item(0x0199, '00')).toThrow(expect.objectContaining({ sw: 0x6a88 }));
    expect(item(PSAM_DGI.TERMINAL_ID, '0011')).toThrow(expect.objectContaining({ sw: 0x6a80 }));
    expect(item(PSAM_DGI.TXN_SEQ, '00')).toThrow(expect.objectContaining({ sw: 0x6a80 }));
    expect(item(PSAM_DGI.KEYS, '01'.repeat(17))).toThrow(expect.objectContaining({ sw: 0x6a80 }));
    personalizePsam(card, 'pos-1');
    expect(card.registry.get(applet.aid)!.lifecycle).toBe(0x0f);
    expect(() => personalizePsam(card, 'pos-1')).toThrow(expect.objectContaining({ sw: 0x6985 }));
    expect(psamDgis(profile.psams[0]!).map((i) => i.dgi)).toEqual([0x0101, 0x0102, 0x8001]);
    expect(() => personalizePsam(new Card(), 'pos-1')).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    expect(PsamApplet.TYPE).toBe('simtap.psam');
  });

  it('documents every command header in docs/card.md', () => {
    const doc = readFileSync(new URL('../../../../docs/card.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## PSAM'));
    expect(section.length).toBeGreaterThan(100);
    for (const c of Object.values(PSAM_COMMANDS)) expect(section, c.label).toContain(c.header);
  });
});
