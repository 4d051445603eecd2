import { readFileSync } from 'node:fs';
import { concat, fromHex, toHex } from '@simtap/sdk/core/bytes';
import { DesCipher } from '@simtap/sdk/core/crypto';
import type { DgiItem } from '@simtap/sdk/core/gp';
import { PbocMac, TTI } from '@simtap/sdk/core/pboc';
import { cardProfile, psamProfile, referenceProfile } from '@simtap/sdk/core/profile';
import { describe, expect, it, vi } from 'vitest';
import { Card } from '../../runtime/card';
import { refDesMac, refDiversify, refJoin, refSespk, refTacKey, refTdesEcb } from '../epurse/reference-crypto';
import { createPurseCard, hexApdu, PurseTerminal, send } from '../epurse/testing';
import { cardTransmit, openScp03Sync, personalizeThroughIsd, swOf as swOfRsp } from '../isd/sync-host';
import {
  createPsam,
  installPsam,
  installPsamIsd,
  PSAM_FACTORIES,
  personalizePsam,
  psamDgis,
  psamIsdKeys,
} from './install';
import { PSAM_COMMANDS, PSAM_DEFAULT_AID_HEX, PSAM_DGI, PsamApplet } from './psam';

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

/** A card with the PSAM card's ISD and a blank PSAM applet. */
function psamCardWithIsd(): Card {
  const card = new Card({ factories: PSAM_FACTORIES });
  installPsamIsd(card, 'pos-1');
  installPsam(card);
  return card;
}

/** Personalizes through the ISD with these DGIs; returns the refusal, or undefined. */
function personalizeRaw(card: Card, items: DgiItem[]): unknown {
  card.powerOn('contact');
  try {
    personalizeThroughIsd(card, {
      iface: 'contact',
      isdAid: referenceProfile().card.isd.aid,
      keySet: { scp: 3, kvn: 0x30, keys: psamIsdKeys('pos-1') },
      target: fromHex(PSAM_DEFAULT_AID_HEX),
      items,
    });
    return undefined;
  } catch (e) {
    return e;
  } finally {
    card.powerOff('contact');
  }
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
    expect(swOf(send(blank, 'contact', '80 1A 44 01 08 4401202600000001'))).toBe('6A86');
    expect(swOf(send(blank, 'contact', '80 1A 21 01 08 4401202600000001'))).toBe('6985');
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

  it('general-purpose keys: 80 1A 21 then 80 FA 00 encrypts; 80 1A 22 then 80 FA 01/05 MACs; each only its own', () => {
    const enc = fromHex('A1A2A3A4A5A6A7A8A9AAABACADAEAFB0');
    const mac = fromHex('B1B2B3B4B5B6B7B8B9BABBBCBDBEBFC0');
    const psam = powered(createPsam('pos-1', { generalKeys: { encryption: enc, mac } }));
    const div = card1.diversificationData;
    const block = fromHex('0011223344556677');
    expect(swOf(send(psam, 'contact', '80 FA 00 00 08 0011223344556677'))).toBe('6985');
    expect(swOf(send(psam, 'contact', '80 1A 21 01 07 44012026000000'))).toBe('6700');
    expect(swOf(send(psam, 'contact', '80 1A 21 02 08 4401202600000001'))).toBe('6A88');
    expect(swOf(send(psam, 'contact', hexApdu(0x80, 0x1a, 0x21, 0x01, [div])))).toBe('9000');
    expect(hx(send(psam, 'contact', hexApdu(0x80, 0xfa, 0, 0, [block])).data)).toBe(
      hx(refTdesEcb(refDiversify(enc, div), block)),
    );
    expect(swOf(send(psam, 'contact', '80 FA 01 00 04 00112233'))).toBe('6985');
    expect(swOf(send(psam, 'contact', '80 FA 00 00 07 00112233445566'))).toBe('6700');
    expect(swOf(send(psam, 'contact', '80 FA 02 00 04 00112233'))).toBe('6A86');
    expect(swOf(send(psam, 'contact', hexApdu(0x80, 0x1a, 0x22, 0x01, [div])))).toBe('9000');
    expect(swOf(send(psam, 'contact', hexApdu(0x80, 0xfa, 0, 0, [block])))).toBe('6985');
    const m = send(psam, 'contact', '80 FA 01 00 04 00112233');
    expect([m.sw, m.data.length]).toEqual([0x9000, 4]);
    expect(swOf(send(psam, 'contact', '80 FA 05 00 04 00112233'))).toBe('6700');
    // ICV in the data (P1 05): zero ICV gives the same MAC as P1 01.
    expect(hx(send(psam, 'contact', hexApdu(0x80, 0xfa, 0x05, 0, [new Uint8Array(8), fromHex('00112233')])).data)).toBe(
      hx(m.data),
    );
    // A reset drops the working key.
    psam.reset('contact');
    expect(swOf(send(psam, 'contact', '80 FA 01 00 04 00112233'))).toBe('6985');
  });

  it('refuses 80 1A for every usage but 21/22: the purchase key serves 80 70 only (6A86)', () => {
    const psam = powered(createPsam('pos-1'));
    for (let usage = 0; usage <= 0xff; usage++) {
      if (usage === 0x21 || usage === 0x22) continue;
      const sw = send(psam, 'contact', hexApdu(0x80, 0x1a, usage, 0x01, [card1.diversificationData])).sw;
      expect(sw, `usage ${usage.toString(16)}`).toBe(0x6a86);
    }
    // pos-1 holds no general-purpose key: 6A88.
    expect(swOf(send(psam, 'contact', hexApdu(0x80, 0x1a, 0x21, 0x01, [card1.diversificationData])))).toBe('6A88');
  });

  it('a dishonest terminal cannot make a POS PSAM produce a TAC or a purchase session key', () => {
    // The purchase the terminal would like to forge, and the secrets that would let it.
    const { card } = createPurseCard({ personalization: { balance: 100_000 } });
    const t = new PurseTerminal(card, createPsam('pos-1'));
    t.select();
    const honest = t.purchase(250);
    expect(honest.sw).toBe(0x9000);
    const tacInput = refJoin([999_999, 4], [TTI.EP_PURCHASE, 1], t.terminalId, [7, 4], DATE_TIME);
    const realTac = refDesMac(refTacKey(card1.keys.DTK.key), tacInput);
    const sespkInput = refJoin(RANDOM, [5, 2], [0, 2]);
    const realSespk = refSespk(card1.keys.DPK.key, RANDOM, 5, 0);
    const secrets = [hx(realTac), hx(realSespk), hx(realSespk.subarray(0, 4)), hx(honest.tac!)];
    // Every APDU class the PSAM serves, with the inputs an attacker would choose.
    const psam = powered(createPsam('pos-1'));
    const outputs: string[] = [];
    const inputs = [tacInput, sespkInput, refJoin(sespkInput, new Uint8Array(8 - (sespkInput.length % 8 || 8)))];
    const divs = [card1.diversificationData, concat(card1.diversificationData, fromHex('4401000000000000'))];
    for (let usage = 0; usage <= 0xff; usage++)
      for (const version of [0, 1, 2, 0xff])
        for (const div of divs) {
          if (send(psam, 'contact', hexApdu(0x80, 0x1a, usage, version, [div])).sw !== 0x9000) continue;
          for (const p1 of [0x00, 0x01, 0x05])
            for (const data of inputs) {
              const r = send(psam, 'contact', hexApdu(0x80, 0xfa, p1, 0, [data]));
              if (r.sw === 0x9000) outputs.push(hx(r.data));
            }
        }
    // INIT SAM FOR PURCHASE with any TTI and the TAC input as its "purchase": only MAC1s come out.
    for (let tti = 0; tti <= 0xff; tti++) {
      const r = send(psam, 'contact', mac1Command({ tti, amount: 999_999 }));
      if (r.sw === 0x9000) outputs.push(hx(r.data), hx(r.data.subarray(4)));
    }
    expect(outputs.length).toBeGreaterThan(0); // the MAC1s
    for (const out of outputs) for (const secret of secrets) expect(out).not.toContain(secret);
    // And no TAC verifies: none of the 4-byte outputs is the TAC of the forged purchase.
    expect(outputs.filter((o) => o.length === 8 && o === hx(realTac))).toEqual([]);
  });

  it('refuses a DGI 8001 with any usage but 01/21/22 (TAC, load, other purse keys, the old direct-key flag): 6A80', () => {
    const items = psamDgis(psamProfile('pos-1'));
    const keys = items.find((i) => i.dgi === PSAM_DGI.KEYS)!;
    for (const usage of [0x02, 0x03, 0x04, 0x05, 0x44, 0x81, 0x00, 0xff]) {
      const bad = concat(Uint8Array.of(usage, 1), masters.tacMasterKey);
      const card = psamCardWithIsd();
      const err = personalizeRaw(card, [items[0]!, items[1]!, { dgi: PSAM_DGI.KEYS, data: concat(keys.data, bad) }]);
      expect(err, `usage ${usage.toString(16)}`).toMatchObject({ sw: 0x6a80 });
      // Nothing was stored: the PSAM stays blank and answers nothing but 6985 / 6A86.
      card.powerOn('contact');
      expect(swOf(send(card, 'contact', mac1Command()))).toBe('6985');
      expect(swOf(send(card, 'contact', hexApdu(0x80, 0x1a, 0x44, 0x01, [card1.diversificationData])))).toBe('6A86');
    }
    // Key version 00 is refused too.
    const v0 = concat(Uint8Array.of(0x01, 0x00), masters.purchaseMasterKey);
    expect(personalizeRaw(psamCardWithIsd(), [{ dgi: PSAM_DGI.KEYS, data: v0 }])).toMatchObject({ sw: 0x6a80 });
  });

  it('wipes an abandoned MAC2 session key and a dropped working key (another command, a reset)', () => {
    const macDestroy = vi.spyOn(PbocMac.prototype, 'destroy');
    const cipherDestroy = vi.spyOn(DesCipher.prototype, 'destroy');
    try {
      const psam = powered(createPsam('pos-1', { generalKeys: { encryption: masters.purchaseMasterKey } }));
      send(psam, 'contact', mac1Command());
      expect(macDestroy).not.toHaveBeenCalled();
      send(psam, 'contact', '00 B0 96 00 06'); // abandons the MAC2 check
      expect(macDestroy).toHaveBeenCalledTimes(1);
      send(psam, 'contact', mac1Command());
      psam.reset('contact'); // the session goes with the reset
      expect(macDestroy).toHaveBeenCalledTimes(2);
      cipherDestroy.mockClear();
      send(psam, 'contact', hexApdu(0x80, 0x1a, 0x21, 0x01, [card1.diversificationData]));
      send(psam, 'contact', hexApdu(0x80, 0x1a, 0x21, 0x01, [card1.diversificationData])); // replaces the first
      expect(cipherDestroy).toHaveBeenCalledTimes(1);
      psam.reset('contact');
      expect(cipherDestroy).toHaveBeenCalledTimes(2);
    } finally {
      macDestroy.mockRestore();
      cipherDestroy.mockRestore();
    }
  });

  it('works as a T=0 PSAM: 6108 then GET RESPONSE', () => {
    const psam = powered(createPsam('pos-1', { card: { t0: true } }));
    expect(swOf(send(psam, 'contact', mac1Command()))).toBe('6108');
    const r = send(psam, 'contact', '00 C0 00 00 08');
    expect([r.sw, r.data.length]).toEqual([0x9000, 8]);
  });

  it('refuses bad personalization: keys not DEK-encrypted 6982, unknown DGI 6A88, bad length 6A80, twice 6985', () => {
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
    expect(item(PSAM_DGI.KEYS, `0101${'11'.repeat(16)}`, { encrypted: false })).toThrow(
      expect.objectContaining({ sw: 0x6982 }),
    );
    expect(item(0x0199, '00')).toThrow(expect.objectContaining({ sw: 0x6a88 }));
    expect(item(PSAM_DGI.TERMINAL_ID, '0011')).toThrow(expect.objectContaining({ sw: 0x6a80 }));
    expect(item(PSAM_DGI.TXN_SEQ, '00')).toThrow(expect.objectContaining({ sw: 0x6a80 }));
    expect(item(PSAM_DGI.KEYS, '01'.repeat(17))).toThrow(expect.objectContaining({ sw: 0x6a80 }));
    // CPS padding after DEK decryption is removed (18 bytes → 24 with 80 00…); bad padding is 6A80.
    expect(item(PSAM_DGI.KEYS, `0101${'11'.repeat(16)}800000000000`)).not.toThrow();
    expect(item(PSAM_DGI.KEYS, `0101${'11'.repeat(16)}810000000000`)).toThrow(expect.objectContaining({ sw: 0x6a80 }));
    expect(() => personalizePsam(card, 'pos-1')).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    // Through the ISD, as the issuer does it.
    const full = createPsam('pos-1');
    const psamEntry = full.registry.list().find((e) => e.applet instanceof PsamApplet)!;
    expect(psamEntry.lifecycle).toBe(0x0f);
    expect(() => personalizePsam(full, 'pos-1')).toThrow(expect.objectContaining({ sw: 0x6985 }));
    expect(psamDgis(profile.psams[0]!).map((i) => i.dgi)).toEqual([0x0101, 0x0102, 0x8001]);
    expect(() => personalizePsam(new Card(), 'pos-1')).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    expect(() => psamDgis({ ...profile.psams[0]!, holds: ['tacMasterKey'] })).toThrow(/never holds tacMasterKey/);
    expect(PsamApplet.TYPE).toBe('simtap.psam');
  });

  it('secret DGI 8001 reaches the PSAM only DEK-encrypted: in plaintext, even under C-DECRYPTION, it is 6982', () => {
    const card = psamCardWithIsd();
    card.powerOn('contact');
    const raw = cardTransmit(card, 'contact');
    raw(fromHex('00 A4 04 00 08 A000000151000000 00'));
    const scp = openScp03Sync(raw, { keys: psamIsdKeys('pos-1'), securityLevel: 0x33 });
    const aid = fromHex(PSAM_DEFAULT_AID_HEX);
    expect(swOfRsp(scp.transmit(concat(fromHex('80 E6 20 00 0E 00 00 08'), aid, fromHex('00 00 00 00'))))).toBe(0x9000);
    const keys = psamDgis(psamProfile('pos-1')).find((i) => i.dgi === PSAM_DGI.KEYS)!;
    const dgi = concat(fromHex('8001'), Uint8Array.of(keys.data.length), keys.data);
    // P1 00: secret DGI in plaintext → 6982, under SL 33 (C-DECRYPTION) all the same.
    expect(swOfRsp(scp.transmit(concat(fromHex('80 E2 80 00'), Uint8Array.of(dgi.length), dgi)))).toBe(0x6982);
    scp.close();
  });

  it('documents every command header in docs/card.md', () => {
    const doc = readFileSync(new URL('../../../../docs/card.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## PSAM'));
    expect(section.length).toBeGreaterThan(100);
    for (const c of Object.values(PSAM_COMMANDS)) expect(section, c.label).toContain(c.header);
  });
});
