import { readFileSync } from 'node:fs';
import { fromHex, readUint, toHex } from '@simtap/sdk/core/bytes';
import { encodeEf15, PbocMac, TTI } from '@simtap/sdk/core/pboc';
import { cardEf15, cardProfile } from '@simtap/sdk/core/profile';
import { decodeTlv, findTlv } from '@simtap/sdk/core/tlv';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { Card } from '../../runtime/card';
import { createPsam } from '../psam/install';
import { EPURSE_COMMANDS, EPURSE_DGI, EPURSE_TRY_LIMIT, INTERFACE_RULE } from './constants';
import { EPURSE_FACTORIES, findEpurse } from './install';
import { refRetailMac, refTdesEcb } from './reference-crypto';
import { createPurseCard, hexApdu, PurseTerminal, ScriptedRandom, send } from './testing';

const card1 = cardProfile('card-1');
const AID = 'A000000632010105';
const SELECT = `00 A4 04 00 08 ${AID} 00`;
const hx = toHex;
const swOf = (r: { sw: number }): string => r.sw.toString(16).toUpperCase();

/** A purse card (balance 10 000 fen by default), selected on both interfaces, and a terminal on contactless. */
function setup(personalization: Parameters<typeof createPurseCard>[0] = {}) {
  const { card, applet } = createPurseCard({ personalization: { balance: 10_000 }, ...personalization });
  const t = new PurseTerminal(card);
  expect(t.select().sw).toBe(0x9000);
  expect(send(card, 'contact', SELECT).sw).toBe(0x9000);
  return { card, applet, t };
}

function initPurchase(t: PurseTerminal, amount: number, p1 = 0x01, p2 = 0x02, keyIndex = 1) {
  return t.send(
    hexApdu(
      0x80,
      0x50,
      p1,
      p2,
      [Uint8Array.of(keyIndex), fromHex(amount.toString(16).padStart(8, '0')), t.terminalId],
      0x0f,
    ),
  );
}

/** Line-protected APPLICATION BLOCK/UNBLOCK with a fresh 4-byte challenge and the card's DLPK. */
function lineProtected(card: Card, ins: 0x1e | 0x18, p2 = 0, key = card1.keys.DLPK.key) {
  const ch = send(card, 'contact', '00 84 00 00 04').data;
  const icv = new Uint8Array(8);
  icv.set(ch);
  const mac = refRetailMac(key, Uint8Array.of(0x84, ins, 0x00, p2, 0x04), icv);
  return send(card, 'contact', hexApdu(0x84, ins, 0x00, p2, [mac]));
}

/** GET CHALLENGE then EXTERNAL AUTHENTICATE with key id `kk`, under `key` (default the card's DEAK). */
function externalAuth(card: Card, kk = 1, key = card1.keys.DEAK.key) {
  const ch = send(card, 'contact', '00 84 00 00 08').data;
  return send(card, 'contact', hexApdu(0, 0x82, 0, kk, [refTdesEcb(key, ch)]));
}

/** The issuer's DGI 0F01 (what the ISD hands the purse from STORE DATA inside its secure channel). */
function issuerStatus(card: Card, status: 0 | 1 | 2): void {
  const env = { store: card.registry.storeOf(fromHex(AID)), card, atomically: <T>(f: () => T) => card.atomically(f) };
  findEpurse(card).applyStoreData(env, {
    dgi: EPURSE_DGI.STATUS,
    data: Uint8Array.of(status),
    encrypted: false,
    last: true,
  });
}

const WRONG_KEY = fromHex('0F0E0D0C0B0A09080706050403020100');

describe('installation, selection and files', () => {
  it('lists the purse in the PSE and PPSE and answers SELECT with the FCI (EF 0x15 copy in 9F0C)', () => {
    const { card } = createPurseCard();
    for (const iface of ['contact', 'contactless'] as const) {
      const name = iface === 'contact' ? '1PAY.SYS.DDF01' : '2PAY.SYS.DDF01';
      const ddf = send(card, iface, hexApdu(0, 0xa4, 4, 0, [new TextEncoder().encode(name)], 0));
      expect(ddf.sw).toBe(0x9000);
      const rec = send(card, iface, '00 B2 01 0C 00');
      expect(hx(findTlv(decodeTlv(rec.data), '70/61/4F')!.value)).toBe(AID);
    }
    const fci = send(card, 'contactless', SELECT);
    expect(fci.sw).toBe(0x9000);
    const tlvs = decodeTlv(fci.data);
    expect(hx(findTlv(tlvs, '6F/84')!.value)).toBe(AID);
    expect(hx(findTlv(tlvs, '6F/A5/5F2D')!.value)).toBe('7A68');
    expect(hx(findTlv(tlvs, '6F/A5/9F0C')!.value)).toBe(hx(encodeEf15(cardEf15(card1))));
    expect(hx(findTlv(tlvs, '6F/A5/BF0C/9F4D')!.value)).toBe('180A');
    // By FID 3F01 from the MF, too.
    expect(hx(send(card, 'contact', '00 A4 00 00 02 3F01').data)).toBe(hx(fci.data));
  });

  it('serves EF 0x15 by SFI, EF 0x16 (update only after external authentication), the empty log (6A83)', () => {
    const random = new ScriptedRandom().push('1122334455667788');
    const { card } = createPurseCard({ cardOptions: { random: random.next } });
    send(card, 'contact', SELECT);
    expect(hx(send(card, 'contact', '00 B0 95 00 1E').data)).toBe(hx(encodeEf15(cardEf15(card1))));
    expect(send(card, 'contact', '00 B0 96 00 37').data.length).toBe(55);
    expect(swOf(send(card, 'contact', '00 B2 01 C4 17'))).toBe('6A83');
    expect(swOf(send(card, 'contact', '00 D6 96 00 02 1234'))).toBe('6982');
    expect(swOf(send(card, 'contact', '00 DC 01 C4 17 ' + '00'.repeat(23)))).toBe('6982');
    const ch = send(card, 'contact', '00 84 00 00 08').data;
    expect(swOf(send(card, 'contact', hexApdu(0, 0x82, 0, 1, [refTdesEcb(card1.keys.DEAK.key, ch)])))).toBe('9000');
    expect(swOf(send(card, 'contact', '00 D6 96 00 02 1234'))).toBe('9000');
    expect(hx(send(card, 'contact', '00 B0 96 00 02').data)).toBe('1234');
    expect(swOf(send(card, 'contact', '00 B0 99 00 02'))).toBe('6A82');
  });

  it('answers unknown INS 6D00, SM CLA 6882, chaining 6884, and 6985 before personalization', () => {
    const { card } = createPurseCard({ blank: true });
    send(card, 'contact', SELECT);
    expect(swOf(send(card, 'contact', '80 5C 00 02 04'))).toBe('6985');
    expect(swOf(send(card, 'contact', '80 50 01 02 0B 01 00000001 000000000001 0F'))).toBe('6985');
    expect(swOf(send(card, 'contact', '80 99 00 00'))).toBe('6D00');
    expect(swOf(send(card, 'contact', '00 99 00 00'))).toBe('6D00');
    expect(swOf(send(card, 'contact', '84 5C 00 02 04'))).toBe('6882');
    expect(swOf(send(card, 'contact', '0C B0 95 00 04'))).toBe('6882');
    expect(swOf(send(card, 'contact', '90 5C 00 02 04'))).toBe('6884');
  });

  it('keeps its state in a card image (snapshot → restore with EPURSE_FACTORIES)', () => {
    const { card, t } = setup();
    expect(t.purchase(250).sw).toBe(0x9000);
    const copy = Card.fromSnapshot(card.snapshot(), { factories: EPURSE_FACTORIES });
    copy.powerOn('contactless');
    const t2 = new PurseTerminal(copy, t.psam);
    t2.select();
    expect(t2.balance()).toBe(9750);
    const r = t2.purchase(750);
    expect([r.sw, r.psamSw, r.counter]).toEqual([0x9000, 0x9000, 1]);
    expect(t2.balance()).toBe(9000);
  });

  it('documents every command header in docs/card.md', () => {
    const doc = readFileSync(new URL('../../../../docs/card.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## Electronic purse'));
    expect(section.length).toBeGreaterThan(100);
    for (const c of Object.values(EPURSE_COMMANDS)) expect(section, c.label).toContain(c.header);
  });
});

describe('GET BALANCE and PIN', () => {
  it('returns EP and ED balances; ED needs contact or a verified PIN (6982 contactless)', () => {
    const { t, card } = setup();
    expect(hx(t.send('80 5C 00 02 04').data)).toBe('00002710');
    expect(swOf(t.send('80 5C 00 01 04'))).toBe('6982');
    expect(hx(send(card, 'contact', '80 5C 00 01 04').data)).toBe('00000000');
    expect(swOf(t.send('00 20 00 00 03 123456'))).toBe('9000');
    expect(swOf(t.send('80 5C 00 01 04'))).toBe('9000');
    expect(swOf(t.send('80 5C 01 02 04'))).toBe('6A86');
    expect(swOf(t.send('80 5C 00 03 04'))).toBe('6A86');
    expect(swOf(t.send('80 5C 00 02 02 0000'))).toBe('6700');
  });

  it('VERIFY counts down 63C2, 63C1, 63C0, then 6983; a right PIN resets the tries', () => {
    const { card } = setup();
    expect(swOf(send(card, 'contact', '00 20 00 00 00'))).toBe('63C3');
    expect(swOf(send(card, 'contact', '00 20 00 00 03 111111'))).toBe('63C2');
    expect(swOf(send(card, 'contact', '00 20 00 00 03 123456'))).toBe('9000');
    expect(swOf(send(card, 'contact', '00 20 00 00 00'))).toBe('9000');
    for (const sw of ['63C2', '63C1', '63C0', '6983'])
      expect(swOf(send(card, 'contact', '00 20 00 00 03 111111'))).toBe(sw);
    expect(swOf(send(card, 'contact', '00 20 00 00 03 123456'))).toBe('6983');
    expect(swOf(send(card, 'contact', '00 20 00 00 00'))).toBe('6983');
    expect(swOf(send(card, 'contact', '00 20 00 00 07 11111111111111'))).toBe('6700');
    expect(swOf(send(card, 'contact', '00 20 00 01 03 123456'))).toBe('6A86');
  });

  it('rejects a malformed PIN block with 6A80 without using a try', () => {
    const { card } = setup();
    expect(swOf(send(card, 'contact', '00 20 00 00 03 12345A'))).toBe('6A80');
    expect(swOf(send(card, 'contact', '00 20 00 00 00'))).toBe('63C3');
  });

  it('CHANGE PIN (old ‖ FF ‖ new) needs contact or a verified PIN; RELOAD PIN needs the DPUK MAC', () => {
    const { card, t } = setup();
    expect(swOf(t.send('80 5E 01 00 07 123456 FF 654321'))).toBe('6982');
    expect(swOf(send(card, 'contact', '80 5E 01 00 07 999999 FF 654321'))).toBe('63C2');
    expect(swOf(send(card, 'contact', '80 5E 01 00 07 123456 FF 654321'))).toBe('9000');
    expect(swOf(send(card, 'contact', '00 20 00 00 03 123456'))).toBe('63C2');
    expect(swOf(send(card, 'contact', '00 20 00 00 03 654321'))).toBe('9000');
    expect(swOf(send(card, 'contact', '80 5E 01 00 03 123456'))).toBe('6A80');
    // Block the PIN, then RELOAD it with the issuer's MAC.
    for (let i = 0; i < 3; i++) send(card, 'contact', '00 20 00 00 03 000000');
    expect(swOf(send(card, 'contact', '00 20 00 00 03 654321'))).toBe('6983');
    const newPin = fromHex('2468');
    const bad = send(card, 'contact', hexApdu(0x80, 0x5e, 0, 0, [newPin, fromHex('00000000')]));
    expect(swOf(bad)).toBe('9302');
    const mac = refRetailMac(card1.keys.DPUK.key, newPin);
    expect(swOf(send(card, 'contact', hexApdu(0x80, 0x5e, 0, 0, [newPin, mac])))).toBe('9000');
    expect(swOf(send(card, 'contact', '00 20 00 00 02 2468'))).toBe('9000');
    expect(swOf(send(card, 'contact', '80 5E 00 00 03 123456'))).toBe('6700');
    expect(swOf(send(card, 'contact', '80 5E 02 00 03 123456'))).toBe('6A86');
  });
});

describe('purchase', () => {
  it('debits, counts, logs and proves; the PSAM accepts MAC2', () => {
    const { t } = setup();
    const r = t.purchase(1_250);
    expect([r.sw, r.psamSw, r.balanceBefore, r.counter]).toEqual([0x9000, 0x9000, 10_000, 0]);
    expect(t.balance()).toBe(8_750);
    const log = t.send('00 B2 01 C4 17').data;
    expect(hx(log)).toBe(`0000 000000 000004E2 06 ${hx(t.terminalId)} 20260301 120000`.replaceAll(' ', ''));
    const prove = t.send('80 5A 00 06 02 0000 08');
    expect(hx(prove.data)).toBe(hx(r.mac2!) + hx(r.tac!));
    expect(t.purchase(1).counter).toBe(1);
  });

  it('accepts INITIALIZE in case 3 (no Le) and case 4 alike', () => {
    const { t } = setup();
    expect(t.purchase(10, { case3: true }).sw).toBe(0x9000);
    expect(t.purchase(10).sw).toBe(0x9000);
    expect(t.balance()).toBe(9_980);
  });

  it('answers 9401 above balance + overdraft; an overdraft takes the balance below zero', () => {
    const { t } = setup({ personalization: { balance: 100, parameters: { overdraftLimit: 500 } } });
    expect(swOf(initPurchase(t, 601))).toBe('9401');
    const r = t.purchase(600);
    expect(r.sw).toBe(0x9000);
    expect(t.balance()).toBe(-500);
    expect(hx(t.send('80 5C 00 02 04').data)).toBe('FFFFFE0C');
    expect(swOf(initPurchase(t, 1))).toBe('9401');
    expect(t.purchase(0, { capp: [] }).sw).toBe(0x9000);
    expect(t.load(1000).sw).toBe(0x9000);
    expect(t.balance()).toBe(500);
  });

  it('checks key index (9403), lengths (6700), P1/P2 (6A86) and the offline counter (9402)', () => {
    const { t } = setup({ personalization: { balance: 1000, offlineCounter: 0xfffe } });
    expect(swOf(initPurchase(t, 1, 1, 2, 7))).toBe('9403');
    expect(swOf(t.send('80 50 01 02 0A 01 00000001 0000000000'))).toBe('6700');
    expect(swOf(initPurchase(t, 1, 2, 2))).toBe('6A86');
    expect(swOf(initPurchase(t, 1, 3, 1))).toBe('6A86');
    expect(swOf(initPurchase(t, 1, 1, 3))).toBe('6A86');
    expect(t.purchase(1).sw).toBe(0x9000);
    expect(swOf(initPurchase(t, 1))).toBe('9402');
    expect(swOf(t.send('80 54 01 00 0E 00000001 20260301 120000 000000'))).toBe('6700');
    expect(swOf(t.send('80 54 00 00 0F 00000001 20260301 120000 00000000'))).toBe('6A86');
  });

  it('is one-shot: any command, a reset, another selection or another interface drops the session (6985)', () => {
    const { t, card } = setup();
    const debit = (iface: 'contact' | 'contactless' = 'contactless') =>
      swOf(send(card, iface, '80 54 01 00 0F 00000001 20260301 120000 00000000 08'));
    expect(debit()).toBe('6985');
    initPurchase(t, 1);
    t.send('80 5C 00 02 04');
    expect(debit()).toBe('6985');
    initPurchase(t, 1);
    card.reset('contactless');
    t.select();
    expect(debit()).toBe('6985');
    initPurchase(t, 1);
    t.send('00 A4 04 00 0E 325041592E5359532E4444463031');
    t.select();
    expect(debit()).toBe('6985');
    initPurchase(t, 1);
    expect(debit('contact')).toBe('6985');
    initPurchase(t, 1);
    card.powerOff('contactless');
    card.powerOn('contactless');
    t.select();
    expect(debit()).toBe('6985');
    expect(t.balance()).toBe(10_000);
  });

  it('refuses to commit when another logical channel moved the purse since INITIALIZE (6985)', () => {
    const { t, card } = setup();
    const open = send(card, 'contactless', '00 70 00 00 01');
    const ch = open.data[0]!;
    expect(send(card, 'contactless', `0${ch} A4 04 00 08 ${AID}`).sw).toBe(0x9000);
    const init = initPurchase(t, 100);
    const psamR = send(
      t.psam,
      'contact',
      hexApdu(0x80, 0x70, 0, 0, [
        init.data.subarray(11, 15),
        init.data.subarray(4, 6),
        fromHex('00000064'),
        Uint8Array.of(TTI.EP_PURCHASE),
        fromHex('20260301120000'),
        init.data.subarray(9, 11),
        card1.diversificationData,
      ]),
    );
    // A purchase on the other channel in between.
    const other = new PurseTerminal(card, createPsam('gate-1'));
    other.send = (apdu) => {
      const b = typeof apdu === 'string' ? fromHex(apdu) : apdu.slice();
      b[0]! |= ch;
      return send(card, 'contactless', b);
    };
    other.select();
    expect(other.purchase(5).sw).toBe(0x9000);
    const r = t.send(
      hexApdu(0x80, 0x54, 1, 0, [psamR.data.subarray(0, 4), fromHex('20260301120000'), psamR.data.subarray(4)], 8),
    );
    expect(swOf(r)).toBe('6985');
    expect(t.balance()).toBe(9_995);
  });

  it('counts MAC1 failures: a success resets the count; at the limit the purse locks (9303, SELECT 6283)', () => {
    const { t, card } = setup();
    expect(t.purchase(1, { corruptMac1: true }).sw).toBe(0x9302);
    expect(t.purchase(1, { corruptMac1: true }).sw).toBe(0x9302);
    expect(t.purchase(1).sw).toBe(0x9000);
    expect(t.purchase(1, { corruptMac1: true }).sw).toBe(0x9302);
    expect(t.purchase(1, { corruptMac1: true }).sw).toBe(0x9302);
    expect(t.purchase(1, { corruptMac1: true }).sw).toBe(0x9302);
    expect(t.balance()).toBe(9_999);
    expect(swOf(initPurchase(t, 1))).toBe('9303');
    expect(t.load(1).sw).toBe(0x9303);
    expect(swOf(t.send('00 20 00 00 03 123456'))).toBe('9303');
    const sel = t.select();
    expect(swOf(sel)).toBe('6283');
    expect(decodeTlv(sel.data)[0]!.tag).toBe(0x6f);
    // Read-only commands still work.
    expect(t.balance()).toBe(9_999);
    expect(t.send('00 B2 01 C4 17').sw).toBe(0x9000);
    // The issuer unblocks over line protection; the purse works again.
    expect(swOf(lineProtected(card, 0x18))).toBe('9000');
    expect(t.select().sw).toBe(0x9000);
    expect(t.purchase(1).sw).toBe(0x9000);
  });
});

describe('load', () => {
  it('credits with the issuer MAC2 and the expected TAC; beyond the maximum balance → 6A80', () => {
    const { t } = setup({ personalization: { balance: 90_000 } });
    const r = t.load(5_000);
    expect([r.sw, r.mac1Ok, r.counter]).toEqual([0x9000, true, 0]);
    expect(hx(r.tac!)).toBe(hx(r.expectedTac!));
    expect(t.balance()).toBe(95_000);
    expect(t.load(5_001).sw).toBe(0x6a80);
    expect(t.load(5_000).sw).toBe(0x9000);
    expect(t.load(1).sw).toBe(0x6a80);
    const log = t.send('00 B2 01 C4 17').data;
    expect(hx(log.subarray(0, 10))).toBe('00010000000000138802');
  });

  it('ED loads need the PIN rule; a bad MAC2 → 9302 and counts; CREDIT without INITIALIZE → 6985', () => {
    const { t, card } = setup();
    expect(t.load(100, { ed: true }).sw).toBe(0x6982);
    t.iface = 'contact';
    expect(t.load(100, { ed: true }).sw).toBe(0x9000);
    expect(t.balance(true)).toBe(100);
    expect(t.load(100, { corruptMac2: true }).sw).toBe(0x9302);
    expect(t.balance()).toBe(10_000);
    expect(swOf(send(card, 'contact', '80 52 00 00 0B 20260301 120000 00000000 04'))).toBe('6985');
    expect(swOf(send(card, 'contact', '80 52 00 00 0A 20260301 120000 000000'))).toBe('6700');
    expect(swOf(send(card, 'contact', '80 52 00 01 0B 20260301 120000 00000000'))).toBe('6A86');
  });

  it('answers 9402 when the online counter is exhausted', () => {
    const { t } = setup({ personalization: { balance: 0, onlineCounter: 0xfffe } });
    expect(t.load(1).sw).toBe(0x9000);
    expect(t.load(1).sw).toBe(0x9402);
  });
});

describe('zero amounts', () => {
  it('refuses to commit a load or a plain EP or ED purchase of 0 (6A80) and moves nothing', () => {
    const { t, card } = setup();
    const store = card.registry.storeOf(fromHex(AID));
    const before = JSON.stringify([store.getJson('ep'), store.getJson('ed'), store.getNumber('macFailures')]);
    expect(t.load(0).sw).toBe(0x6a80);
    expect(t.purchase(0).sw).toBe(0x6a80);
    // Refused before the MAC is looked at: a wrong one is not counted either.
    expect(t.load(0, { corruptMac2: true }).sw).toBe(0x6a80);
    expect(t.purchase(0, { corruptMac1: true }).sw).toBe(0x6a80);
    t.iface = 'contact';
    expect(t.load(0, { ed: true }).sw).toBe(0x6a80);
    expect(t.purchase(0, { ed: true }).sw).toBe(0x6a80);
    expect(JSON.stringify([store.getJson('ep'), store.getJson('ed'), store.getNumber('macFailures')])).toBe(before);
    expect(swOf(t.send('00 B2 01 C4 17'))).toBe('6A83');
    expect(swOf(t.send('80 5A 00 06 02 0000'))).toBe('9406');
    // One fen is a transaction.
    expect(t.load(1).sw).toBe(0x9000);
    expect(t.purchase(1).sw).toBe(0x9000);
  });

  it('answers INITIALIZE of 0 with the counters (how terminals read them) without moving anything', () => {
    const { t } = setup({ personalization: { balance: 10_000, onlineCounter: 7, offlineCounter: 9 } });
    const purchase = initPurchase(t, 0);
    expect(swOf(purchase)).toBe('9000');
    expect(hx(purchase.data.subarray(0, 6))).toBe('000027100009');
    const load = t.send(hexApdu(0x80, 0x50, 0x00, 0x02, [Uint8Array.of(1), new Uint8Array(4), t.terminalId], 0x10));
    expect(swOf(load)).toBe('9000');
    expect(hx(load.data.subarray(0, 6))).toBe('000027100007');
    expect(t.purchase(1).counter).toBe(9);
  });

  it('accepts a composite purchase of 0: the gate writes its entry record, counted and logged, balance unchanged', () => {
    const { t } = setup();
    const entry = new Uint8Array(48).fill(0x03);
    const r = t.purchase(0, { capp: [{ p1: 0x00, p2: 0x1e << 3, data: entry }] });
    expect([r.sw, r.psamSw, r.counter]).toEqual([0x9000, 0x9000, 0]);
    expect(t.balance()).toBe(10_000);
    expect(hx(t.send('00 B2 01 F4 30').data)).toBe(hx(entry));
    const log = t.send('00 B2 01 C4 17').data;
    expect(hx(log.subarray(0, 10))).toBe(`0000 000000 00000000 09`.replaceAll(' ', '').toLowerCase());
    expect(hx(t.send('80 5A 00 09 02 0000 08').data)).toBe(hx(r.mac2!) + hx(r.tac!));
    expect(t.purchase(1).counter).toBe(1);
  });
});

describe('logical channels', () => {
  /** A second terminal on a new logical channel of the contactless interface, the purse selected on it. */
  function onOtherChannel(card: Card): PurseTerminal {
    const open = send(card, 'contactless', '00 70 00 00 01');
    expect(open.sw).toBe(0x9000);
    const other = new PurseTerminal(card, createPsam('gate-1'));
    other.channel = open.data[0]!;
    expect(other.select().sw).toBe(0x9000);
    return other;
  }

  /** EF 0x18 records as [counter, amount, TTI]. */
  function logOf(t: PurseTerminal): number[][] {
    const out: number[][] = [];
    for (let i = 1; ; i++) {
      const r = t.send(hexApdu(0, 0xb2, i, 0xc4, [], 0x17));
      if (r.sw !== 0x9000) return out;
      out.push([readUint(r.data, 0, 2), readUint(r.data, 5, 4), r.data[9]!]);
    }
  }

  const between = {
    /** Another load: counter and balance moved. */
    load: (o: PurseTerminal) => expect(o.load(500).sw).toBe(0x9000),
    /** A purchase: only the balance moved. */
    purchase: (o: PurseTerminal) => expect(o.purchase(300).sw).toBe(0x9000),
    /** A load and a purchase of the same amount: the balance is back, only the online counter moved. */
    'load and spend': (o: PurseTerminal) => {
      expect(o.load(300).sw).toBe(0x9000);
      expect(o.purchase(300).sw).toBe(0x9000);
    },
  } as const;

  for (const [name, run] of Object.entries(between)) {
    it(`CREDIT FOR LOAD refuses (6985) after ${name} on another channel since INITIALIZE; no second load under the counter`, () => {
      const { t, card } = setup();
      const other = onOtherChannel(card);
      const started = t.startLoad(1_000);
      expect([started.sw, started.counter]).toEqual([0x9000, 0]);
      run(other);
      // Read on channel 1: any command on channel 0 would drop its load session.
      const balance = other.balance();
      const online = name === 'purchase' ? 0 : 1;
      // A valid MAC2 of the session INITIALIZE opened on channel 0.
      const r = started.credit!();
      expect(swOf(r)).toBe('6985');
      expect(r.tac).toBeUndefined();
      expect(t.balance()).toBe(balance);
      const ep = card.registry.storeOf(fromHex(AID)).getJson<{ online: number }>('ep')!;
      expect(ep.online).toBe(online);
      const loads = logOf(t).filter(([, , tti]) => tti === TTI.EP_LOAD);
      expect(loads.map(([counter]) => counter)).toEqual(online === 1 ? [0] : []);
      expect(loads.some(([, amount]) => amount === 1_000)).toBe(false);
      // The refusal counted no MAC failure, and the purse goes on.
      expect(card.registry.storeOf(fromHex(AID)).getNumber('macFailures')).toBe(0);
      expect(t.load(1_000).counter).toBe(online);
    });
  }
});

describe('per-interface rules', () => {
  it('follows the rule bits: purchase contactless-only, load contact-only, PIN required on contact', () => {
    const rules = INTERFACE_RULE.PURCHASE_CONTACTLESS | INTERFACE_RULE.LOAD_CONTACT | INTERFACE_RULE.PIN_ON_CONTACT;
    const { t, card } = setup({ personalization: { balance: 1000, parameters: { rules } } });
    expect(t.purchase(1).sw).toBe(0x9000);
    expect(t.load(1).sw).toBe(0x6985);
    t.iface = 'contact';
    expect(t.purchase(1).sw).toBe(0x6985);
    expect(t.load(1).sw).toBe(0x9000);
    expect(swOf(send(card, 'contact', '80 5C 00 01 04'))).toBe('6982');
    send(card, 'contact', '00 20 00 00 03 123456');
    expect(swOf(send(card, 'contact', '80 5C 00 01 04'))).toBe('9000');
  });
});

describe('composite (CAPP) purchase', () => {
  const rec17 = (id: number, fill: number) => {
    const r = new Uint8Array(48).fill(fill);
    r[0] = id;
    return r;
  };

  it('commits cached record writes with the debit (by identifier, by number, cyclic append)', () => {
    const { t } = setup();
    const travel = new Uint8Array(48).fill(0x77);
    const r = t.purchase(300, {
      capp: [
        { p1: 0x02, p2: 0x17 << 3, data: rec17(2, 0xaa) },
        { p1: 0x01, p2: (0x1a << 3) | 4, data: new Uint8Array(128).fill(0x01) },
        { p1: 0x00, p2: 0x1e << 3, data: travel },
        { p1: 0x02, p2: 0x17 << 3, data: rec17(2, 0xbb) },
      ],
    });
    expect([r.sw, r.psamSw, r.tti]).toEqual([0x9000, 0x9000, TTI.CAPP_PURCHASE]);
    expect(hx(t.send('00 B2 02 BC 30').data)).toBe(hx(rec17(2, 0xbb)));
    expect(hx(t.send('00 B2 01 BC 30').data)).toBe(hx(rec17(1, 0)));
    expect(t.send('00 B2 01 D4 80').data[5]).toBe(0x01);
    expect(hx(t.send('00 B2 01 F4 30').data)).toBe(hx(travel));
    expect(t.send('00 B2 01 C4 17').data[9]).toBe(TTI.CAPP_PURCHASE);
    expect(hx(t.send('80 5A 00 09 02 0000').data.subarray(4))).toBe(hx(r.tac!));
  });

  it('drops the cache when the debit fails (9302) and when the session is lost', () => {
    const { t } = setup();
    const before = hx(t.send('00 B2 02 BC 30').data);
    expect(t.purchase(1, { capp: [{ p1: 2, p2: 0x17 << 3, data: rec17(2, 0x55) }], corruptMac1: true }).sw).toBe(
      0x9302,
    );
    expect(hx(t.send('00 B2 02 BC 30').data)).toBe(before);
    expect(t.balance()).toBe(10_000);
  });

  it('answers the UPDATE CAPP DATA CACHE errors', () => {
    const { t, card, applet } = setup();
    const cache = (p1: number, p2: number, data: Uint8Array) => swOf(t.send(hexApdu(0x80, 0xdc, p1, p2, [data])));
    expect(cache(1, 0x17 << 3, rec17(1, 0))).toBe('6901');
    const capp = () => expect(swOf(initPurchase(t, 1, 3, 2))).toBe('9000');
    capp();
    expect(cache(1, (0x09 << 3) | 0, rec17(1, 0))).toBe('6A82');
    capp();
    expect(cache(1, 0x18 << 3, new Uint8Array(23))).toBe('6982');
    capp();
    expect(cache(1, 0x15 << 3, rec17(1, 0))).toBe('6981');
    capp();
    expect(cache(1, 0x17 << 3, new Uint8Array(47))).toBe('6700');
    capp();
    expect(cache(2, 0x17 << 3, rec17(1, 0))).toBe('6A80');
    capp();
    expect(cache(9, 0x17 << 3, rec17(9, 0))).toBe('6A83');
    capp();
    expect(cache(5, (0x17 << 3) | 4, rec17(5, 0))).toBe('6A83');
    capp();
    expect(cache(0, 0x17 << 3, rec17(0, 0))).toBe('6A86');
    capp();
    expect(cache(1, (0x17 << 3) | 1, rec17(1, 0))).toBe('6A86');
    capp();
    expect(cache(1, (0x17 << 3) | 3, rec17(1, 0))).toBe('9000');
    initPurchase(t, 1, 1, 2);
    expect(cache(1, 0x17 << 3, rec17(1, 0))).toBe('6901');
    capp();
    for (let i = 0; i < 8; i++) expect(cache(0, 0x1e << 3, new Uint8Array(48))).toBe('9000');
    expect(cache(0, 0x1e << 3, new Uint8Array(48))).toBe('6A84');
    expect(applet.aid.length).toBe(8);
    expect(card).toBeDefined();
  });

  it('answers 6A86 for P2 mode 011 when the quirk option is off', () => {
    const { t } = setup({ install: { cappP2Mode011: false } });
    expect(swOf(initPurchase(t, 1, 3, 2))).toBe('9000');
    const r = new Uint8Array(48);
    r[0] = 1;
    expect(swOf(t.send(hexApdu(0x80, 0xdc, 1, (0x17 << 3) | 3, [r])))).toBe('6A86');
  });
});

describe('GET CHALLENGE, authentication, line protection, GET DATA, GET TRANSACTION PROVE', () => {
  it('GET CHALLENGE gives 4 or 8 bytes (else 6700); EXTERNAL AUTHENTICATE errors', () => {
    const { card } = setup();
    expect(send(card, 'contact', '00 84 00 00 04').data.length).toBe(4);
    expect(swOf(send(card, 'contact', '00 84 00 00 05'))).toBe('6700');
    expect(swOf(send(card, 'contact', '00 84 00 00'))).toBe('6700');
    expect(swOf(send(card, 'contact', '00 84 01 00 08'))).toBe('6A86');
    expect(swOf(send(card, 'contact', '00 82 00 01 08 0000000000000000'))).toBe('6984');
    send(card, 'contact', '00 84 00 00 08');
    expect(swOf(send(card, 'contact', '00 82 00 01 08 0000000000000000'))).toBe('63C2');
    send(card, 'contact', '00 84 00 00 08');
    expect(swOf(send(card, 'contact', '00 82 00 09 08 0000000000000000'))).toBe('6A88');
    expect(swOf(send(card, 'contact', '00 82 00 01 04 00000000'))).toBe('6700');
    // A 4-byte challenge is extended with 00000000.
    const ch = send(card, 'contact', '00 84 00 00 04').data;
    const crypt = refTdesEcb(card1.keys.DEAK.key, Uint8Array.of(...ch, 0, 0, 0, 0));
    expect(swOf(send(card, 'contact', hexApdu(0, 0x82, 0, 1, [crypt])))).toBe('9000');
    // The challenge is single-use.
    expect(swOf(send(card, 'contact', hexApdu(0, 0x82, 0, 1, [crypt])))).toBe('6984');
  });

  it('INTERNAL AUTHENTICATE: lengths and key', () => {
    const { card } = setup();
    expect(send(card, 'contact', '00 88 00 01 08 0102030405060708 00').data.length).toBe(8);
    expect(swOf(send(card, 'contact', '00 88 00 01 07 01020304050607'))).toBe('6700');
    expect(swOf(send(card, 'contact', '00 88 00 05 08 0102030405060708'))).toBe('6A88');
    expect(swOf(send(card, 'contact', '00 88 01 01 08 0102030405060708'))).toBe('6A86');
  });

  it('APPLICATION BLOCK / UNBLOCK: temporary and permanent, MAC and challenge errors', () => {
    const { card, t } = setup();
    expect(swOf(send(card, 'contact', '80 1E 00 00 04 00000000'))).toBe('6987');
    expect(swOf(send(card, 'contact', '84 1E 00 00'))).toBe('6987');
    expect(swOf(send(card, 'contact', '84 1E 00 00 04 00000000'))).toBe('6984');
    send(card, 'contact', '00 84 00 00 04');
    expect(swOf(send(card, 'contact', '84 1E 00 00 04 00000000'))).toBe('6988');
    expect(swOf(lineProtected(card, 0x1e, 0, card1.keys.DLK.key))).toBe('6988');
    expect(swOf(lineProtected(card, 0x1e, 2))).toBe('6A86');
    expect(swOf(lineProtected(card, 0x1e, 0))).toBe('9000');
    expect(swOf(initPurchase(t, 1))).toBe('9303');
    expect(swOf(t.select())).toBe('6283');
    expect(swOf(lineProtected(card, 0x18))).toBe('9000');
    expect(t.purchase(1).sw).toBe(0x9000);
    expect(swOf(lineProtected(card, 0x1e, 1))).toBe('9000');
    expect(swOf(lineProtected(card, 0x18))).toBe('9303');
    expect(swOf(initPurchase(t, 1))).toBe('9303');
  });

  it('GET DATA returns the personalized object (else 6A88)', () => {
    const { card } = setup({ personalization: { getData: fromHex('0102030405060708AA') } });
    expect(hx(send(card, 'contact', '80 CA 00 00 09').data)).toBe('0102030405060708AA');
    expect(swOf(send(card, 'contact', '80 CA 9F 36 00'))).toBe('6A88');
    const blank = setup();
    expect(swOf(send(blank.card, 'contact', '80 CA 00 00 09'))).toBe('6A88');
  });

  it('GET TRANSACTION PROVE: only the last committed transaction, by TTI and counter (else 9406)', () => {
    const { t } = setup();
    expect(swOf(t.send('80 5A 00 06 02 0000 08'))).toBe('9406');
    const p = t.purchase(10);
    expect(hx(t.send('80 5A 00 06 02 0000 08').data)).toBe(hx(p.mac2!) + hx(p.tac!));
    expect(swOf(t.send('80 5A 00 06 02 0001 08'))).toBe('9406');
    expect(swOf(t.send('80 5A 00 02 02 0000 08'))).toBe('9406');
    const l = t.load(10);
    expect(hx(t.send('80 5A 00 02 02 0000 08').data)).toBe(hx(l.mac2!) + hx(l.tac!));
    expect(swOf(t.send('80 5A 00 06 02 0000 08'))).toBe('9406');
    expect(swOf(t.send('80 5A 00 06 03 000000'))).toBe('6700');
    expect(swOf(t.send('80 5A 01 06 02 0000'))).toBe('6A86');
  });
});

describe('counters and locks', () => {
  it('EXTERNAL AUTHENTICATE counts wrong cryptograms per key id: 63C2, 63C1, 63C0, then 6983 until DGI 0F01 00', () => {
    const keys = (['DLK', 'DPK', 'DTK', 'DEAK', 'DLPK', 'DPUK'] as const).map((type) => ({
      type,
      index: card1.keyIndex,
      version: card1.keyVersion,
      algorithm: card1.algorithmId,
      key: card1.keys[type].key,
    }));
    const deak2 = fromHex('101112131415161718191A1B1C1D1E1F');
    const { card } = setup({
      personalization: { balance: 0, keys: [...keys, { ...keys[3]!, index: 2, key: deak2 }] },
    });
    expect(EPURSE_TRY_LIMIT.EXTERNAL_AUTHENTICATE).toBe(3);
    // A right cryptogram resets the count.
    expect(swOf(externalAuth(card, 1, WRONG_KEY))).toBe('63C2');
    expect(swOf(externalAuth(card, 1, WRONG_KEY))).toBe('63C1');
    expect(swOf(externalAuth(card))).toBe('9000');
    for (const sw of ['63C2', '63C1', '63C0']) expect(swOf(externalAuth(card, 1, WRONG_KEY))).toBe(sw);
    // Blocked: even the right cryptogram, with or without a challenge, also after a reset.
    expect(swOf(externalAuth(card))).toBe('6983');
    expect(swOf(send(card, 'contact', '00 82 00 01 08 0000000000000000'))).toBe('6983');
    card.reset('contact');
    send(card, 'contact', SELECT);
    expect(swOf(externalAuth(card))).toBe('6983');
    expect(swOf(send(card, 'contact', '00 D6 96 00 02 1234'))).toBe('6982');
    // The count is per key id: DEAK 2 still works and counts on its own.
    expect(swOf(externalAuth(card, 2, WRONG_KEY))).toBe('63C2');
    expect(swOf(externalAuth(card, 2, deak2))).toBe('9000');
    expect(swOf(send(card, 'contact', '00 D6 96 00 02 1234'))).toBe('9000');
    // The purse itself is not locked by a blocked DEAK.
    expect(swOf(send(card, 'contact', '80 5C 00 02 04'))).toBe('9000');
    // Only the issuer (DGI 0F01 00 through the ISD) gives key id 1 its tries back.
    issuerStatus(card, 0);
    expect(swOf(externalAuth(card, 1, WRONG_KEY))).toBe('63C2');
    expect(swOf(externalAuth(card))).toBe('9000');
  });

  it('counts wrong line-protection MACs: at the limit the line key answers 6983 and the purse locks until DGI 0F01 00', () => {
    const { card, t } = setup();
    const store = card.registry.storeOf(fromHex(AID));
    expect(EPURSE_TRY_LIMIT.LINE_MAC).toBe(3);
    // A verified MAC resets the count.
    expect(swOf(lineProtected(card, 0x1e, 0, WRONG_KEY))).toBe('6988');
    expect(swOf(lineProtected(card, 0x18, 0, WRONG_KEY))).toBe('6988');
    expect(store.getNumber('lineMacFailures')).toBe(2);
    expect(swOf(lineProtected(card, 0x18))).toBe('9000');
    expect(store.getNumber('lineMacFailures')).toBe(0);
    expect(t.purchase(1).sw).toBe(0x9000);
    // Three in a row: the application locks.
    for (let i = 0; i < 3; i++) expect(swOf(lineProtected(card, 0x18, 0, WRONG_KEY))).toBe('6988');
    expect(store.getString('lock')).toBe('line-mac-limit');
    expect(swOf(initPurchase(t, 1))).toBe('9303');
    expect(t.load(1).sw).toBe(0x9303);
    expect(swOf(t.select())).toBe('6283');
    // UNBLOCK is line-protected itself: the blocked line key refuses even the right MAC, with or without a challenge.
    expect(swOf(lineProtected(card, 0x18))).toBe('6983');
    expect(swOf(lineProtected(card, 0x1e, 1))).toBe('6983');
    expect(swOf(send(card, 'contact', '84 18 00 00 04 00000000'))).toBe('6983');
    card.reset('contact');
    send(card, 'contact', SELECT);
    expect(swOf(lineProtected(card, 0x18))).toBe('6983');
    expect(store.getNumber('lineMacFailures')).toBe(3);
    // The issuer's path through the ISD lifts the lock and gives the line key its tries back.
    issuerStatus(card, 0);
    expect(t.select().sw).toBe(0x9000);
    expect(t.purchase(1).sw).toBe(0x9000);
    expect(swOf(lineProtected(card, 0x18, 0, WRONG_KEY))).toBe('6988');
    expect(swOf(lineProtected(card, 0x18))).toBe('9000');
  });

  it('a permanently blocked purse answers APPLICATION BLOCK / UNBLOCK 9303 before the MAC: no guess is taken', () => {
    const { card } = setup();
    const store = card.registry.storeOf(fromHex(AID));
    expect(swOf(lineProtected(card, 0x1e, 1))).toBe('9000');
    for (let i = 0; i < 4; i++) {
      expect(swOf(lineProtected(card, 0x18, 0, WRONG_KEY))).toBe('9303');
      expect(swOf(lineProtected(card, 0x1e, 0, WRONG_KEY))).toBe('9303');
    }
    expect(store.getNumber('lineMacFailures')).toBe(0);
    expect(store.getString('lock')).toBe('permanent');
  });

  it('a wrong UNBLOCK MAC neither lifts the MAC-failure lock nor resets its count', () => {
    const { card, t } = setup();
    const store = card.registry.storeOf(fromHex(AID));
    for (let i = 0; i < 3; i++) expect(t.purchase(1, { corruptMac1: true }).sw).toBe(0x9302);
    expect([store.getString('lock'), store.getNumber('macFailures')]).toEqual(['mac-limit', 3]);
    expect(swOf(lineProtected(card, 0x18, 0, WRONG_KEY))).toBe('6988');
    expect([store.getString('lock'), store.getNumber('macFailures')]).toEqual(['mac-limit', 3]);
    expect(swOf(lineProtected(card, 0x18))).toBe('9000');
    expect([store.getString('lock'), store.getNumber('macFailures')]).toEqual(['none', 0]);
  });

  it('RELOAD PIN MACs count with DEBIT and CREDIT MACs: the third wrong one locks the purse (9303)', () => {
    const { card, t } = setup();
    const reload = (mac: Uint8Array) => swOf(send(card, 'contact', hexApdu(0x80, 0x5e, 0, 0, [fromHex('2468'), mac])));
    expect(reload(fromHex('00000000'))).toBe('9302');
    expect(t.load(1, { corruptMac2: true }).sw).toBe(0x9302);
    expect(reload(fromHex('00000000'))).toBe('9302');
    expect(reload(refRetailMac(card1.keys.DPUK.key, fromHex('2468')))).toBe('9303');
    expect(swOf(initPurchase(t, 1))).toBe('9303');
    issuerStatus(card, 0);
    expect(reload(refRetailMac(card1.keys.DPUK.key, fromHex('2468')))).toBe('9000');
  });
});

describe('key hygiene', () => {
  /** The PbocMac objects the card reset (every MAC computation starts with a reset) while `run` ran. */
  function macsUsedBy(run: () => void): PbocMac[] {
    const spy = vi.spyOn(PbocMac.prototype, 'reset');
    try {
      run();
      return [...new Set(spy.mock.contexts as PbocMac[])];
    } finally {
      spy.mockRestore();
    }
  }

  const destroyed = (mac: PbocMac): boolean => {
    try {
      mac.mac(new Uint8Array(1));
      return false;
    } catch {
      return true;
    }
  };

  const droppers: Record<string, (card: Card, t: PurseTerminal) => void> = {
    'another command': (_, t) => t.send('80 5C 00 02 04'),
    'a second INITIALIZE': (_, t) => initPurchase(t, 1),
    'a failing command': (_, t) => t.send('80 99 00 00'),
    'CREDIT with a wrong MAC2': (_, t) => t.send(hexApdu(0x80, 0x52, 0, 0, [fromHex('20260301 120000 00000000')])),
    'a reset': (card) => card.reset('contactless'),
    'a deselection': (_, t) => t.send('00 A4 04 00 0E 325041592E5359532E4444463031'),
    'leaving the field': (card) => card.powerOff('contactless'),
    'a tear on the other interface': (card) => {
      card.tearAt(1);
      expect(() => externalAuth(card, 1, WRONG_KEY)).toThrow(expect.objectContaining({ code: 'CARD_TORN' }));
    },
  };

  for (const [name, drop] of Object.entries(droppers)) {
    it(`destroys a dropped load session's SESLK MAC: ${name}`, () => {
      const { t, card } = setup();
      const init = hexApdu(0x80, 0x50, 0x00, 0x02, [Uint8Array.of(1), fromHex('00000064'), t.terminalId], 0x10);
      // MAC1 is the only MAC INITIALIZE FOR LOAD computes: with the session's SESLK MAC.
      const macs = macsUsedBy(() => expect(t.send(init).sw).toBe(0x9000));
      expect(macs).toHaveLength(1);
      expect(destroyed(macs[0]!)).toBe(false);
      drop(card, t);
      expect(destroyed(macs[0]!)).toBe(true);
    });
  }

  it('destroys the SESLK MAC after CREDIT and the SESPK MAC after DEBIT; keeps the cached TAC MAC', () => {
    const { t } = setup();
    const load = t.startLoad(100);
    const credit = macsUsedBy(() => expect(load.credit!().sw).toBe(0x9000));
    const p = t.startPurchase(100);
    const debit = hexApdu(0x80, 0x54, 1, 0, [
      fromHex(p.terminalTxnSeq!.toString(16).padStart(8, '0')),
      p.date,
      p.time,
      p.mac1!,
    ]);
    const purchase = macsUsedBy(() => expect(t.send(debit).sw).toBe(0x9000));
    // Each: the session-key MAC (destroyed) and the TAC MAC (cached, shared).
    expect(credit.map(destroyed)).toEqual([true, false]);
    expect(purchase.map(destroyed)).toEqual([true, false]);
    expect(purchase[1]).toBe(credit[1]);
  });
});

describe('T=0 contact interface', () => {
  it('withholds INITIALIZE data behind 61xx; GET RESPONSE keeps the session alive for DEBIT', () => {
    const { card } = createPurseCard({
      personalization: { balance: 500 },
      cardOptions: { t0: true, random: new ScriptedRandom().next, logger: { error: () => undefined } },
    });
    const t = new PurseTerminal(card, createPsam('pos-1'), 'contact');
    t.select();
    const init = t.send(hexApdu(0x80, 0x50, 0x01, 0x02, [Uint8Array.of(1), fromHex('00000064'), t.terminalId]));
    expect(swOf(init)).toBe('610F');
    const data = t.send('00 C0 00 00 0F');
    expect(data.sw).toBe(0x9000);
    expect(readUint(data.data, 0, 4)).toBe(500);
    expect(t.send('80 54 01 00 0F 00000001 20260301 120000 00000000').sw).toBe(0x9302);
  });
});

describe('dispatcher fuzz', () => {
  it('answers any command with a status word (never 6F00, no logged error) and never moves money', () => {
    const errors: unknown[] = [];
    const { card } = createPurseCard({
      personalization: { balance: 10_000 },
      cardOptions: { random: new ScriptedRandom().next, logger: { error: (m, c) => errors.push([m, c]) } },
    });
    const insArb = fc.constantFrom(
      0x20,
      0x82,
      0x84,
      0x88,
      0x18,
      0x1e,
      0x50,
      0x52,
      0x54,
      0x5a,
      0x5c,
      0x5e,
      0xca,
      0xdc,
      0xb0,
      0xb2,
      0xd6,
      0xe2,
      0x00,
    );
    const apduArb = fc
      .record({
        cla: fc.constantFrom(0x00, 0x80, 0x84, 0x0c, 0x90, 0x81),
        ins: fc.oneof(insArb, fc.integer({ min: 0, max: 255 })),
        p1: fc.oneof(fc.constantFrom(0, 1, 2, 3, 0x95, 0x96), fc.integer({ min: 0, max: 255 })),
        p2: fc.oneof(fc.constantFrom(0, 1, 2, 6, 9, 0xc4, 0xb8, 0xf0, 0x3b), fc.integer({ min: 0, max: 255 })),
        data: fc.uint8Array({ maxLength: 40 }),
        le: fc.option(fc.integer({ min: 0, max: 255 })),
      })
      .filter((a) => a.ins !== 0xa4 && a.ins !== 0x70 && a.ins !== 0xc0);
    fc.assert(
      fc.property(fc.array(apduArb, { maxLength: 12 }), (apdus) => {
        send(card, 'contactless', SELECT);
        for (const a of apdus) {
          const r = send(
            card,
            'contactless',
            hexApdu(a.cla, a.ins, a.p1, a.p2, a.data.length > 0 ? [a.data] : [], a.le ?? undefined),
          );
          expect(r.sw).not.toBe(0x6f00);
        }
        const ep = card.registry.storeOf(fromHex(AID)).getJson<{ balance: number }>('ep')!;
        expect(ep.balance).toBe(10_000);
      }),
      { numRuns: 300 },
    );
    expect(errors).toEqual([]);
  });
});
