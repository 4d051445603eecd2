import { describe, expect, it, vi } from 'vitest';
import { bcdToString, fromHex, toHex } from '../core/bytes';
import { ArgumentError, TransportError } from '../core/errors';
import { InsufficientBalanceError, StatusWordError } from '../core/iso7816';
import { ISO14443_106, ISO14443_424 } from '../core/iso14443';
import {
  encodeTransactionLogRecord,
  IssuerTacVerifier,
  purchaseTac,
  type TransactionLogRecord,
  TTI,
} from '../core/pboc';
import { cardProfile, referenceProfile } from '../core/profile';
import { encodeTlv, tlv } from '../core/tlv';
import { fixedClock } from './clock';
import { type CardInspection, ConsumptionMachine, type ConsumptionMachineOptions } from './consumption';
import { CardLeftFieldError, CardLockedError, MacError } from './errors';
import { PsamDriver } from './psam';
import type { PurchaseResult } from './records';
import { cardRemoved, ScriptedChannel, type ScriptStep } from './test-support';
import { decodeTransitRecord, distanceFare, encodeTransitRecord } from './transit';

const SERIAL = '00004401202600000001'; // card-1 of the reference profile
const OTHER_SERIAL = '00004401202600000002';
const ef15 = (serial = SERIAL) => `4401000000000000 02 01 ${serial} 20260101 20361231 0000`;
const TID = '440100000001';
const DATE = '20260301';
const TIME = '100304'; // 2026-03-01T02:03:04Z at UTC+8
const AID = 'A000000632010105';

const u32 = (v: number) => v.toString(16).padStart(8, '0');
const u16 = (v: number) => v.toString(16).padStart(4, '0');
const u8 = (v: number) => v.toString(16).padStart(2, '0').toUpperCase();
// DEBIT answers TAC ‖ MAC2; GET TRANSACTION PROVE answers MAC2 ‖ TAC.

/** SELECT + READ BINARY EF15 of the card `serial`. */
const identify = (serial = SERIAL): ScriptStep[] => [
  { cmd: `00A4040008${AID}00`, rsp: '6F0A8408A0000006320101059000' },
  { cmd: '00B095001E', rsp: `${ef15(serial)} 9000` },
];
/** INITIALIZE FOR PURCHASE answer: balance, offline counter, no overdraft, key version 1, alg 0, random. */
const initRsp = (balance: number, counter: number) => `${u32(balance)}${u16(counter)}000000 01 00 11223344 9000`;

function psamChannel(...steps: ScriptStep[]): ScriptedChannel {
  return new ScriptedChannel([
    { cmd: '00A4040008A00000063201010600', rsp: '6F0A8408A0000006320101069000' },
    { cmd: '00B0960006', rsp: `${TID}9000` },
    ...steps,
  ]);
}
const psamMac1 = (seq: number): ScriptStep => ({ cmd: '807000001C', rsp: `${u32(seq)}CAFEBABE9000` });
const psamMac2Ok: ScriptStep = { cmd: '8072000004', rsp: '9000' };

/** Clearing's view: the issuer's TAC check (reference profile TAC master key). */
const clearing = new IssuerTacVerifier(referenceProfile().issuer.masterKeys.tacMasterKey);
/** The TAC card-1 computes for a purchase at this test's terminal (hex), as a genuine card would return it. */
const cardTac = (amount: number, seq: number, tid = TID, tti: number = TTI.EP_PURCHASE) =>
  toHex(
    purchaseTac({
      tacKey: cardProfile('card-1').tacSingleDesKey,
      amount,
      tti,
      terminalId: fromHex(tid),
      terminalTxnSeq: seq,
      date: fromHex(DATE),
      time: fromHex(TIME),
    }),
  );
/** Every completed record's TAC is the card's: it verifies under the issuer's key. */
function expectClears(records: readonly PurchaseResult[]): void {
  for (const r of records) if (r.status === 'completed') expect(clearing.verifyPurchase(r, r.cardSerial)).toBe(true);
}

function machine(card: ScriptedChannel, sam: ScriptedChannel, extra: Partial<ConsumptionMachineOptions> = {}) {
  const records: PurchaseResult[] = [];
  const psam = new PsamDriver(sam);
  const m = new ConsumptionMachine({
    card,
    psam,
    clock: fixedClock(new Date('2026-03-01T02:03:04Z')),
    onRecord: (r) => records.push(r),
    ...extra,
  });
  /** Another PSAM command, which drops the PSAM's pending MAC2 check. */
  const dropPsamSession = async () => {
    sam.push({ cmd: '801A', rsp: '9000' });
    await psam.desInit(0x01, 1, fromHex(SERIAL.slice(4)));
  };
  return { m, records, psam, dropPsamSession };
}

/** Card steps of one complete purchase of `amount` from `balance` with offline counter `ctr`. */
const purchaseSteps = (amount: number, balance: number, ctr: number, seq: number, serial = SERIAL): ScriptStep[] => [
  ...identify(serial),
  { cmd: `805001020B01${u32(amount)}${TID}0F`, rsp: initRsp(balance, ctr) },
  { cmd: `805401000F${u32(seq)}${DATE}${TIME}CAFEBABE08`, rsp: 'A1A2A3A4B1B2B3B49000' },
];

describe('ConsumptionMachine.purchase', () => {
  it('runs SELECT → EF15 → INITIALIZE → PSAM MAC1 → DEBIT → PSAM MAC2 and returns the record', async () => {
    const card = new ScriptedChannel(purchaseSteps(1250, 5000, 3, 7));
    const sam = psamChannel(psamMac1(7), psamMac2Ok);
    const { m, records } = machine(card, sam);
    const r = await m.purchase({ amount: 1250 });
    expect(card.remaining).toBe(0);
    expect(sam.remaining).toBe(0);
    // the PSAM got the card's random, counter, amount, TTI 06, date/time, key version/alg and serial
    expect(sam.sent[2]).toBe(`807000001C112233440003000004E206${DATE}${TIME}0100${SERIAL.slice(4)}08`);
    expect(sam.sent[3]).toBe('8072000004B1B2B3B4');
    expect(r).toMatchObject({
      status: 'completed',
      kind: 'purchase',
      tti: 6,
      offlineCounter: 3,
      amount: 1250,
      balanceBefore: 5000,
      balanceAfter: 3750,
      terminalTxnSeq: 7,
      keyVersion: 1,
      algorithmId: 0,
      mac2Verified: true,
      recovered: undefined,
      apduCount: 4,
      psamApduCount: 2,
    });
    expect(toHex(r.cardSerial)).toBe(SERIAL);
    expect(toHex(r.terminalId)).toBe(TID);
    expect(toHex(r.date) + toHex(r.time)).toBe(DATE + TIME);
    if (r.status !== 'completed') throw new Error('expected a completed record');
    expect(toHex(r.tac)).toBe('A1A2A3A4');
    expect(toHex(r.mac2)).toBe('B1B2B3B4');
    expect(r).not.toHaveProperty('tacVerified');
    expect(r.tapTime.apduCount).toBe(4);
    expect(r.tapTime.link).toBe('106 kbit/s');
    expect(r.tapTime.totalUs).toBeGreaterThan(0);
    expect(records).toEqual([r]);
    expect(m.pending).toEqual([]);
  });

  it('estimates the tap at the requested link profile', async () => {
    const card = new ScriptedChannel([...purchaseSteps(100, 5000, 0, 1), ...purchaseSteps(100, 4900, 1, 2)]);
    const sam = psamChannel(psamMac1(1), psamMac2Ok, psamMac1(2), psamMac2Ok);
    const { m } = machine(card, sam);
    const slow = await m.purchase({ amount: 100, linkProfile: ISO14443_106 });
    const fast = await m.purchase({ amount: 100, linkProfile: ISO14443_424 });
    expect(fast.tapTime.link).toBe('424 kbit/s');
    expect(fast.tapTime.totalUs).toBeLessThan(slow.tapTime.totalUs);
  });

  it('selects through the PPSE when configured', async () => {
    const entry = (aid: string) => tlv(0x61, [tlv(0x4f, fromHex(aid))]);
    const fci = tlv(0x6f, [
      tlv(0x84, new TextEncoder().encode('2PAY.SYS.DDF01')),
      tlv(0xa5, [tlv(0xbf0c, [entry('A0000000031010'), entry(AID)])]),
    ]);
    const ppse = `${toHex(encodeTlv(fci))}9000`;
    const card = new ScriptedChannel([
      { cmd: '00A404000E325041592E5359532E444446303100', rsp: ppse },
      ...purchaseSteps(10, 100, 0, 1),
    ]);
    const { m } = machine(card, psamChannel(psamMac1(1), psamMac2Ok), { selectVia: 'ppse' });
    expect((await m.purchase({ amount: 10 })).apduCount).toBe(5);
  });

  it('sends the issuer ID for two-level diversification when configured', async () => {
    const sam = psamChannel({ cmd: '8070000024', rsp: `${u32(1)}CAFEBABE9000` }, psamMac2Ok);
    const { m } = machine(new ScriptedChannel(purchaseSteps(10, 100, 0, 1)), sam, { twoLevelDiversification: true });
    await m.purchase({ amount: 10 });
    expect(sam.sent[2]!.slice(-18)).toBe('440100000000000008');
  });

  it('throws InsufficientBalanceError on 9401 without asking the PSAM for MAC1', async () => {
    const card = new ScriptedChannel([...identify(), { cmd: '805001020B', rsp: '9401' }]);
    const sam = psamChannel();
    const { m } = machine(card, sam);
    const e = await m.purchase({ amount: 999999 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InsufficientBalanceError);
    expect(e).toMatchObject({ code: 'SW_9401', command: 'INITIALIZE_FOR_PURCHASE' });
    expect(sam.sent).toHaveLength(2); // open only
  });

  it.each([
    ['SELECT answers 6283', [{ cmd: '00A4', rsp: '6F0A8408A0000006320101056283' }], 'SW_6283'],
    ['INITIALIZE answers 9303', [...identify(), { cmd: '805001020B', rsp: '9303' }], 'SW_9303'],
  ])('throws CardLockedError when %s', async (_, steps, code) => {
    const { m } = machine(new ScriptedChannel(steps), psamChannel());
    await expect(m.purchase({ amount: 1 })).rejects.toMatchObject({ code, constructor: CardLockedError });
  });

  it('throws MacError (origin card) when the card refuses MAC1; nothing is pending', async () => {
    const card = new ScriptedChannel([
      ...identify(),
      { cmd: '805001020B', rsp: initRsp(100, 0) },
      { cmd: '805401000F', rsp: '9302' },
    ]);
    const { m, records } = machine(card, psamChannel(psamMac1(1)));
    const e = await m.purchase({ amount: 10 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MacError);
    expect(e).toMatchObject({ code: 'SW_9302', origin: 'card', record: undefined });
    expect(m.pending).toEqual([]);
    expect(records).toEqual([]);
  });

  it('throws MacError (origin psam) with the debited record when the PSAM refuses MAC2', async () => {
    const card = new ScriptedChannel(purchaseSteps(10, 100, 0, 1));
    const { m, records } = machine(card, psamChannel(psamMac1(1), { cmd: '8072000004', rsp: '9302' }));
    const e = (await m.purchase({ amount: 10 }).catch((x: unknown) => x)) as MacError;
    expect(e).toBeInstanceOf(MacError);
    expect(e.origin).toBe('psam');
    expect(e.record).toMatchObject({ amount: 10, mac2Verified: false, balanceAfter: 90 });
    expect(records).toEqual([e.record]);
  });

  it('keeps the record unverified when the PSAM fails otherwise after the debit', async () => {
    const card = new ScriptedChannel(purchaseSteps(10, 100, 0, 1));
    const { m } = machine(card, psamChannel(psamMac1(1), { cmd: '8072000004', rsp: '6F00' }));
    expect(await m.purchase({ amount: 10 })).toMatchObject({ mac2Verified: false, amount: 10 });
  });

  it('reports nothing charged when the card leaves before DEBIT', async () => {
    const card = new ScriptedChannel([...identify(), { cmd: '805001020B', fail: cardRemoved() }]);
    const { m } = machine(card, psamChannel());
    const e = await m.purchase({ amount: 10 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CardLeftFieldError);
    expect(e).toMatchObject({ code: 'CARD_REMOVED', command: 'INITIALIZE_FOR_PURCHASE', pending: undefined });
    expect(m.pending).toEqual([]);
  });

  it('rejects bad amounts and options', async () => {
    const { m } = machine(new ScriptedChannel(), psamChannel());
    await expect(m.purchase({ amount: -1 })).rejects.toBeInstanceOf(ArgumentError);
    await expect(m.purchase({ amount: 1.5 })).rejects.toBeInstanceOf(ArgumentError);
    await expect(m.enter({ station: { line: 1, station: 1 } })).rejects.toBeInstanceOf(ArgumentError);
    const psam = new PsamDriver(psamChannel());
    const card = new ScriptedChannel();
    expect(() => new ConsumptionMachine({ card, psam, keyIndex: 256 })).toThrow(ArgumentError);
    expect(() => new ConsumptionMachine({ card, psam, aid: new Uint8Array(3) })).toThrow(ArgumentError);
    expect(() => new ConsumptionMachine({ card: {} as never, psam })).toThrow(ArgumentError);
  });
});

describe('ConsumptionMachine torn purchase', () => {
  /** A purchase of 1250 from 5000 with counter 3 / seq 7 whose DEBIT answer is lost. */
  async function tornPurchase(extraPsam: ScriptStep[] = [], extraCard: ScriptStep[] = [], opts = {}) {
    const card = new ScriptedChannel([
      ...identify(),
      { cmd: '805001020B01000004E2', rsp: initRsp(5000, 3) },
      { cmd: '805401000F00000007', fail: cardRemoved() },
      ...extraCard,
    ]);
    const sam = psamChannel(psamMac1(7), ...extraPsam);
    const ctx = machine(card, sam, opts);
    const e = (await ctx.m.purchase({ amount: 1250 }).catch((x: unknown) => x)) as CardLeftFieldError;
    return { ...ctx, card, sam, e };
  }

  const prove = (rsp: string): ScriptStep => ({ cmd: '805A000602000308', rsp });
  /** Our purchase's proof as card-1 gives it: MAC2 (accepted by the scripted PSAM) ‖ the card's TAC. */
  const OUR_TAC = cardTac(1250, 7);
  const ourProof = () => prove(`B1B2B3B4${OUR_TAC}9000`);
  const logRecord = (ctr: number, amount: number, tti: number, tid = TID, date = DATE, time = TIME) =>
    `${u16(ctr)}000000${u32(amount)}${tti.toString(16).padStart(2, '0')}${tid}${date}${time}9000`;
  /** Another POS's purchase with counter 3, same amount, date and time: only the terminal ID tells it apart. */
  const OTHER_TID = '440100000099';
  const otherProof = () => prove(`E1E2E3E4${cardTac(1250, 5, OTHER_TID)}9000`);

  it('keeps a pending record and reports it', async () => {
    const { m, e } = await tornPurchase();
    expect(e).toBeInstanceOf(CardLeftFieldError);
    expect(e.command).toBe('DEBIT_FOR_PURCHASE');
    expect(e.pending).toMatchObject({ status: 'pending', offlineCounter: 3, amount: 1250, terminalTxnSeq: 7 });
    expect(m.pending).toHaveLength(1);
  });

  it('completes from GET TRANSACTION PROVE checked by the still-open PSAM session, without debiting again', async () => {
    const { m, card, sam, records } = await tornPurchase([psamMac2Ok]);
    card.push(...identify(), ourProof());
    const r = await m.purchase({ amount: 1250 });
    expect(r).toMatchObject({
      status: 'completed',
      recovered: 'transaction-prove',
      mac2Verified: true,
      amount: 1250,
      apduCount: 3,
      psamApduCount: 1,
    });
    if (r.status !== 'completed') throw new Error('expected a completed record');
    expect(toHex(r.tac)).toBe(OUR_TAC); // stored as the card gave it
    expect(toHex(r.mac2)).toBe('B1B2B3B4');
    expect(sam.sent.at(-1)).toBe('8072000004B1B2B3B4');
    expect(card.remaining).toBe(0); // the log was not read
    expect(card.sent.filter((c) => c.startsWith('8054'))).toHaveLength(1);
    expect(m.pending).toEqual([]);
    expect(records).toEqual([r]);
    expectClears(records);
  });

  it("completes with mac2Verified false when the PSAM's session is gone and the log agrees: the TAC is the proof", async () => {
    const { m, card, sam, records, dropPsamSession } = await tornPurchase();
    await dropPsamSession();
    const psamBefore = sam.sent.length;
    card.push(...identify(), ourProof(), { cmd: '00B201C417', rsp: logRecord(3, 1250, 6) });
    const out = await m.recover();
    expect(out).toMatchObject({
      outcome: 'charged',
      record: {
        status: 'completed',
        recovered: 'transaction-prove',
        mac2Verified: false,
        amount: 1250,
        psamApduCount: 0,
      },
    });
    if (out.outcome !== 'charged') throw new Error('expected charged');
    expect(toHex(out.record.tac)).toBe(OUR_TAC);
    expect(toHex(out.record.mac2)).toBe('B1B2B3B4');
    expect(sam.sent.length).toBe(psamBefore); // no PSAM command: nothing computes a TAC
    expect(card.remaining).toBe(0);
    expect(m.pending).toEqual([]);
    expect(records).toEqual([out.record]);
    expectClears(records);
  });

  it('treats a PSAM that no longer has the session (6985) like one whose session ended', async () => {
    const { m, card } = await tornPurchase([{ cmd: '8072000004', rsp: '6985' }]);
    card.push(...identify(), ourProof(), { cmd: '00B201C417', rsp: logRecord(3, 1250, 6) });
    expect(await m.recover()).toMatchObject({ outcome: 'charged', record: { mac2Verified: false } });
  });

  it('keeps the pending record when the PSAM link fails during the MAC2 check', async () => {
    const { m, card } = await tornPurchase([{ cmd: '8072000004', fail: cardRemoved() }]);
    card.push(...identify(), ourProof());
    await expect(m.recover()).rejects.toMatchObject({ code: 'CARD_REMOVED' });
    expect(m.pending).toHaveLength(1);
  });

  it('charges once when the card proves nothing and its log shows the counter unused', async () => {
    const { m, card, sam, records } = await tornPurchase([psamMac1(8), psamMac2Ok]);
    card.push(
      ...identify(),
      prove('9406'),
      { cmd: '00B201C417', rsp: logRecord(2, 500, 6) }, // newest purchase used counter 2 < 3
      { cmd: '805001020B01000004E2', rsp: initRsp(5000, 3) },
      { cmd: '805401000F00000008', rsp: `${cardTac(1250, 8)}D1D2D3D49000` },
    );
    const r = await m.purchase({ amount: 1250 });
    expect(r).toMatchObject({ recovered: undefined, offlineCounter: 3, terminalTxnSeq: 8, balanceAfter: 3750 });
    expect(r.apduCount).toBe(6);
    expect(card.remaining).toBe(0);
    expect(sam.remaining).toBe(0);
    expect(records).toEqual([r]);
    expect(m.pending).toEqual([]);
    expectClears(records);
  });

  it("gives an 'unproven' record, never a TAC, when a later transaction replaced the proof (9406) and the log shows the purchase", async () => {
    const { m, card, sam, records } = await tornPurchase();
    const psamBefore = sam.sent.length;
    card.push(
      ...identify(),
      prove('9406'),
      { cmd: '00B201C417', rsp: logRecord(0, 5000, 2, '999999999999') }, // a load since (other family)
      { cmd: '00B202C417', rsp: logRecord(3, 1250, 6) }, // our purchase, counter 3
    );
    const r = await m.purchase({ amount: 1250 }); // the same sale: returned, not debited again
    expect(r).toMatchObject({
      status: 'unproven',
      reason: 'proof-replaced',
      kind: 'purchase',
      offlineCounter: 3,
      amount: 1250,
      terminalTxnSeq: 7,
      log: { counter: 3, amount: 1250, tti: 6 },
      apduCount: 5,
      psamApduCount: 0,
    });
    expect(r).not.toHaveProperty('tac');
    expect(r).not.toHaveProperty('mac2');
    expect(card.remaining).toBe(0);
    expect(card.sent.filter((c) => c.startsWith('8054'))).toHaveLength(1); // no second DEBIT
    expect(sam.sent.length).toBe(psamBefore); // nothing asked of the PSAM
    expect(records).toEqual([r]);
    expect(m.pending).toEqual([]);
  });

  it('hands an unproven earlier purchase to onRecord and runs a different new sale', async () => {
    const { m, card, records } = await tornPurchase([psamMac1(8), psamMac2Ok]);
    card.push(
      ...identify(),
      prove('9406'),
      { cmd: '00B201C417', rsp: logRecord(3, 1250, 6) },
      { cmd: '805001020B01000001F4', rsp: initRsp(3750, 4) },
      { cmd: '805401000F00000008', rsp: `${cardTac(500, 8)}D1D2D3D49000` },
    );
    const r = await m.purchase({ amount: 500 });
    expect(records.map((x) => [x.status, x.amount])).toEqual([
      ['unproven', 1250],
      ['completed', 500],
    ]);
    expect(r).toBe(records[1]);
    expectClears(records);
  });

  it("gives an 'unproven' record when the PSAM refuses the proof's MAC2 but the log shows the purchase", async () => {
    const { m, card, records } = await tornPurchase([{ cmd: '8072000004', rsp: '9302' }]);
    card.push(...identify(), otherProof(), { cmd: '00B201C417', rsp: logRecord(3, 1250, 6) });
    const out = await m.recover();
    expect(out).toMatchObject({ outcome: 'unproven', record: { status: 'unproven', reason: 'proof-refused' } });
    expect(records.map((r) => r.status)).toEqual(['unproven']);
    expect(m.pending).toEqual([]);
  });

  it('a forged log record cannot make a completed record when the card has no proof the PSAM accepts', async () => {
    // The log record is the card's unauthenticated word; a reader in the middle can write it. With no proof (9406)
    // or a proof the PSAM refuses, the best it gets is an unproven record for the back office: no TAC, no clearing.
    const forged = { cmd: '00B201C417', rsp: logRecord(3, 1250, 6) };
    const noProof = await tornPurchase();
    noProof.card.push(...identify(), prove('9406'), forged);
    const refused = await tornPurchase([{ cmd: '8072000004', rsp: '9302' }]);
    refused.card.push(...identify(), otherProof(), forged);
    for (const { m, records } of [noProof, refused]) {
      expect(await m.purchase({ amount: 1250 })).toMatchObject({ status: 'unproven' });
      expect(records.filter((r) => r.status === 'completed')).toEqual([]);
    }
  });

  it('a proof the PSAM cannot check next to a forged log completes a record whose TAC clearing rejects', async () => {
    // The one case where the log tips the verdict: the record carries the card's TAC as returned, and that TAC
    // only verifies when the card made this very purchase.
    const { m, card, records, dropPsamSession } = await tornPurchase();
    await dropPsamSession();
    card.push(...identify(), otherProof(), { cmd: '00B201C417', rsp: logRecord(3, 1250, 6) });
    const out = await m.recover();
    expect(out).toMatchObject({ outcome: 'charged', record: { mac2Verified: false } });
    if (out.outcome !== 'charged') throw new Error('expected charged');
    expect(clearing.verifyPurchase(out.record, out.record.cardSerial)).toBe(false);
    expect(records).toEqual([out.record]);
  });

  it("treats a proof that is another terminal's as not charged and runs the purchase (PSAM refuses its MAC2)", async () => {
    const { m, card, sam, records } = await tornPurchase([{ cmd: '8072000004', rsp: '9302' }, psamMac1(9), psamMac2Ok]);
    card.push(
      ...identify(),
      otherProof(),
      { cmd: '00B201C417', rsp: logRecord(3, 1250, 6, OTHER_TID) }, // counter 3 used by another POS, same sale
      { cmd: '805001020B', rsp: initRsp(3750, 4) },
      { cmd: '805401000F00000009', rsp: `${cardTac(1250, 9)}D1D2D3D49000` },
    );
    const r = await m.purchase({ amount: 1250 });
    expect(r).toMatchObject({ status: 'completed', offlineCounter: 4, recovered: undefined, balanceAfter: 2500 });
    expect(card.remaining).toBe(0);
    expect(sam.remaining).toBe(0);
    expect(records).toEqual([r]);
    expectClears(records);
  });

  it("treats a proof that is another terminal's as not charged when the PSAM cannot check it", async () => {
    const { m, card, records, dropPsamSession } = await tornPurchase();
    await dropPsamSession();
    card.push(...identify(), otherProof(), { cmd: '00B201C417', rsp: logRecord(3, 1250, 6, OTHER_TID) });
    expect(await m.recover()).toMatchObject({ outcome: 'not-charged', pending: { offlineCounter: 3 } });
    expect(records).toEqual([]);
    expect(m.pending).toEqual([]);
  });

  it('throws RECOVERY_UNDETERMINED and keeps the record when the log does not reach the counter', async () => {
    const { m, card } = await tornPurchase();
    card.push(...identify(), prove('9406'), { cmd: '00B201C417', rsp: logRecord(9, 1, 6) });
    for (let n = 2; n <= 10; n++) card.push({ cmd: `00B2${u8(n)}C417`, rsp: logRecord(14 - n, 1, 6) });
    const e = await m.purchase({ amount: 1250 }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'RECOVERY_UNDETERMINED' });
    expect(m.pending).toHaveLength(1);
    expect(m.discardPending(fromHex(SERIAL))).toMatchObject({ offlineCounter: 3 });
    expect(m.pending).toEqual([]);
  });

  it('hands a charged pending purchase to onRecord and runs a different new sale', async () => {
    const { m, card, records } = await tornPurchase([psamMac2Ok, psamMac1(8), psamMac2Ok]);
    card.push(
      ...identify(),
      ourProof(),
      { cmd: '805001020B01000001F4', rsp: initRsp(3750, 4) },
      { cmd: '805401000F00000008', rsp: `${cardTac(500, 8)}D1D2D3D49000` },
    );
    const r = await m.purchase({ amount: 500 });
    expect(records.map((x) => [x.amount, x.status === 'completed' && x.recovered])).toEqual([
      [1250, 'transaction-prove'],
      [500, undefined],
    ]);
    expect(r.balanceAfter).toBe(3250);
    expectClears(records);
  });

  it('leaves the pending record alone when another card taps', async () => {
    const { m, card } = await tornPurchase([psamMac1(8), psamMac2Ok]);
    card.push(...purchaseSteps(100, 900, 0, 8, OTHER_SERIAL));
    const r = await m.purchase({ amount: 100 });
    expect(toHex(r.cardSerial)).toBe(OTHER_SERIAL);
    expect(m.pending).toHaveLength(1);
  });

  it('keeps the pending record when the card leaves again during recovery', async () => {
    const { m, card } = await tornPurchase();
    card.push(...identify(), { cmd: '805A', fail: cardRemoved() });
    await expect(m.recover()).rejects.toBeInstanceOf(CardLeftFieldError);
    expect(m.pending).toHaveLength(1);
  });

  it('restores pending records given at construction', async () => {
    const { e } = await tornPurchase();
    const card = new ScriptedChannel([...identify(), prove('9406'), { cmd: '00B201C417', rsp: '6A83' }]);
    const { m } = machine(card, psamChannel(), { pending: [e.pending as never] });
    expect(await m.recover()).toMatchObject({ outcome: 'not-charged' });
    expect(m.pending).toEqual([]);
    const none = machine(new ScriptedChannel(identify()), psamChannel()).m;
    expect(await none.recover()).toEqual({ outcome: 'none' });
  });
});

describe('ConsumptionMachine transit', () => {
  const fare = distanceFare({ base: 200, includedStops: 2, perStop: 50, max: 900 });
  const entryRecord = (station: number, amount = 0) =>
    toHex(
      encodeTransitRecord(1, {
        type: 'entry',
        station: { line: 1, station },
        terminalId: fromHex('440100000002'),
        amount,
        balance: 5000,
        date: fromHex(DATE),
        time: fromHex('090000'),
      }),
    );

  it('enter writes the entry record in the composite purchase (TTI 09) and charges the entry charge', async () => {
    const card = new ScriptedChannel([
      ...identify(),
      { cmd: `805003020B0100000000${TID}0F`, rsp: initRsp(5000, 0) },
      { cmd: '80DC01B830', rsp: '9000' },
      { cmd: '805401000F', rsp: 'A1A2A3A4B1B2B3B49000' },
    ]);
    const sam = psamChannel({ cmd: '807000001C', rsp: `${u32(1)}CAFEBABE9000` }, psamMac2Ok);
    const { m } = machine(card, sam, { transit: { fare } });
    const r = await m.enter({ station: { line: 1, station: 3 } });
    expect(sam.sent[2]!.slice(10 + 20, 10 + 22)).toBe('09');
    const written = decodeTransitRecord(fromHex(card.sent[3]!.slice(10)));
    expect(written).toMatchObject({ type: 'entry', station: { line: 1, station: 3 }, amount: 0, balance: 5000 });
    expect(r).toMatchObject({
      kind: 'transit-entry',
      tti: 9,
      amount: 0,
      apduCount: 5,
      station: { line: 1, station: 3 },
    });
  });

  it('exit reads the entry record and charges the distance fare', async () => {
    const fareSpy = vi.fn(fare);
    const card = new ScriptedChannel([
      ...identify(),
      { cmd: '00B201BC30', rsp: `${entryRecord(3)}9000` },
      { cmd: `805003020B0100000190${TID}0F`, rsp: initRsp(5000, 1) }, // 200 + 4 × 50 = 400
      { cmd: '80DC01B830', rsp: '9000' },
      { cmd: '805401000F', rsp: 'A1A2A3A4B1B2B3B49000' },
    ]);
    const { m } = machine(card, psamChannel(psamMac1(2), psamMac2Ok), { transit: { fare: fareSpy } });
    const r = await m.exit({ station: { line: 1, station: 9 } });
    expect(fareSpy).toHaveBeenCalledOnce();
    expect(fareSpy.mock.calls[0]![0]).toMatchObject({ type: 'entry', station: { line: 1, station: 3 } });
    expect(r).toMatchObject({ kind: 'transit-exit', amount: 400, balanceAfter: 4600, entry: { type: 'entry' } });
    expect(decodeTransitRecord(fromHex(card.sent[4]!.slice(10)))).toMatchObject({ type: 'exit', amount: 400 });
  });

  it('exit without an entry record charges the no-entry fare', async () => {
    const blank = `01${'00'.repeat(47)}`;
    const card = new ScriptedChannel([
      ...identify(),
      { cmd: '00B201BC30', rsp: `${blank}9000` },
      { cmd: `805003020B0100000384`, rsp: initRsp(5000, 1) }, // max 900
      { cmd: '80DC01B830', rsp: '9000' },
      { cmd: '805401000F', rsp: 'A1A2A3A4B1B2B3B49000' },
    ]);
    const { m } = machine(card, psamChannel(psamMac1(2), psamMac2Ok), { transit: { fare } });
    expect(await m.exit({ station: { line: 2, station: 1 } })).toMatchObject({ amount: 900, entry: undefined });
  });

  it('a torn exit is recovered at the same gate without charging again', async () => {
    const card = new ScriptedChannel([
      ...identify(),
      { cmd: '00B201BC30', rsp: `${entryRecord(3)}9000` },
      { cmd: '805003020B', rsp: initRsp(5000, 1) },
      { cmd: '80DC01B830', rsp: '9000' },
      { cmd: '805401000F', fail: cardRemoved() },
      ...identify(),
      { cmd: '805A000902000108', rsp: 'B1B2B3B4A1A2A3A49000' },
    ]);
    const { m } = machine(card, psamChannel(psamMac1(2), psamMac2Ok), { transit: { fare } });
    await expect(m.exit({ station: { line: 1, station: 9 } })).rejects.toMatchObject({
      command: 'DEBIT_FOR_CAPP_PURCHASE',
    });
    const r = await m.exit({ station: { line: 1, station: 9 } });
    expect(r).toMatchObject({ recovered: 'transaction-prove', amount: 400, kind: 'transit-exit' });
    expect(card.remaining).toBe(0);
  });
});

describe('ConsumptionMachine inspect (a look at the card inside the tap, before the debit)', () => {
  const fare = distanceFare({ base: 200, includedStops: 2, perStop: 50, max: 900 });
  /** A metro exit's log record on 2026-`month`-`day` (BCD bytes). */
  const logRecord = (counter: number, day: number, month = 0x03): TransactionLogRecord => ({
    counter,
    overdraftLimit: 0,
    amount: 300,
    tti: TTI.CAPP_PURCHASE,
    terminalId: fromHex('440112010101'),
    date: Uint8Array.of(0x20, 0x26, month, day),
    time: Uint8Array.of(0x08, 0x00, 0x00),
  });
  const logStep = (n: number, r: TransactionLogRecord | 'end'): ScriptStep => ({
    cmd: `00B2${u8(n)}C417`,
    rsp: r === 'end' ? '6A83' : `${toHex(encodeTransactionLogRecord(r))}9000`,
  });
  const entryRecord = toHex(
    encodeTransitRecord(1, {
      type: 'entry',
      station: { line: 1, station: 3 },
      terminalId: fromHex('440100000002'),
      amount: 0,
      balance: 5000,
      date: fromHex(DATE),
      time: fromHex('090000'),
    }),
  );

  it('exit: the inspection reads the log inside the tap (after EF 0x15, before the entry record), until told to stop', async () => {
    const today = logRecord(4, 0x01);
    const yesterday = logRecord(3, 0x28, 0x02);
    const card = new ScriptedChannel([
      ...identify(),
      logStep(1, today),
      logStep(2, yesterday), // the first record before today: read, then no more
      { cmd: '00B201BC30', rsp: `${entryRecord}9000` },
      { cmd: `805003020B0100000190${TID}0F`, rsp: initRsp(5000, 5) },
      { cmd: '80DC01B830', rsp: '9000' },
      { cmd: '805401000F', rsp: 'A1A2A3A4B1B2B3B49000' },
    ]);
    const order: string[] = [];
    const { m } = machine(card, psamChannel(psamMac1(2), psamMac2Ok), {
      transit: {
        fare: (e, x) => {
          order.push('fare');
          return fare(e, x);
        },
      },
    });
    let seen: TransactionLogRecord[] = [];
    const r = await m.exit({
      station: { line: 1, station: 9 },
      inspect: async (c) => {
        order.push('inspect');
        expect(toHex(c.identity.serial)).toBe(SERIAL);
        seen = await c.readLog({ until: (x) => bcdToString(x.date) < DATE });
      },
    });
    expect(order).toEqual(['inspect', 'fare']);
    expect(seen).toEqual([today, yesterday]);
    expect(card.remaining).toBe(0);
    // The log reads are part of the tap: its APDU count and its modelled time.
    expect(r).toMatchObject({ status: 'completed', amount: 400, apduCount: 8 });
    expect(r.tapTime.apduCount).toBe(8);
    const without = await (async () => {
      const c2 = new ScriptedChannel([
        ...identify(),
        { cmd: '00B201BC30', rsp: `${entryRecord}9000` },
        { cmd: `805003020B0100000190${TID}0F`, rsp: initRsp(5000, 5) },
        { cmd: '80DC01B830', rsp: '9000' },
        { cmd: '805401000F', rsp: 'A1A2A3A4B1B2B3B49000' },
      ]);
      return machine(c2, psamChannel(psamMac1(2), psamMac2Ok), { transit: { fare } }).m.exit({
        station: { line: 1, station: 9 },
      });
    })();
    expect(r.tapTime.totalUs).toBeGreaterThan(without.tapTime.totalUs);
  });

  it('readLog stops at the end of the log and at `records`', async () => {
    const card = new ScriptedChannel([
      ...identify(),
      logStep(1, logRecord(2, 0x01)),
      logStep(2, 'end'),
      ...identify(),
      logStep(1, logRecord(2, 0x01)),
    ]);
    const { m } = machine(card, psamChannel());
    const lengths: number[] = [];
    const refuse = new Error('stop here');
    for (const records of [undefined, 1]) {
      const err = await m
        .purchase({
          amount: 1,
          inspect: async (c) => {
            lengths.push((await c.readLog(records === undefined ? {} : { records })).length);
            throw refuse;
          },
        })
        .catch((e: unknown) => e);
      expect(err).toBe(refuse);
    }
    expect(lengths).toEqual([1, 1]);
    expect(card.remaining).toBe(0);
  });

  it('readBalance is GET BALANCE of the purse inside the tap (negative while overdrawn), then the purchase runs', async () => {
    const card = new ScriptedChannel([
      ...identify(),
      { cmd: '805C000204', rsp: 'FFFFFF38 9000' },
      ...identify(),
      { cmd: '805C000204', rsp: '00001388 9000' },
      { cmd: '805001020B0100000064', rsp: initRsp(5000, 3) },
      { cmd: '805401000F', rsp: 'A1A2A3A4B1B2B3B49000' },
    ]);
    const { m } = machine(card, psamChannel(psamMac1(1), psamMac2Ok));
    const seen: number[] = [];
    const tooLow = new Error('pay another way');
    const inspect = async (c: CardInspection) => {
      const balance = await c.readBalance();
      seen.push(balance);
      if (balance < 100) throw tooLow;
    };
    expect(await m.purchase({ amount: 100, inspect }).catch((e: unknown) => e)).toBe(tooLow);
    const r = await m.purchase({ amount: 100, inspect });
    expect(seen).toEqual([-200, 5000]);
    expect(r).toMatchObject({ status: 'completed', amount: 100, balanceAfter: 4900, apduCount: 5 });
    expect(card.remaining).toBe(0);
  });

  it('an inspection kept past its tap refuses to send (the card may be another tap’s by then)', async () => {
    const card = new ScriptedChannel([
      ...identify(),
      { cmd: '805001020B0100000064', rsp: initRsp(5000, 3) },
      { cmd: '805401000F', rsp: 'A1A2A3A4B1B2B3B49000' },
    ]);
    const { m } = machine(card, psamChannel(psamMac1(1), psamMac2Ok));
    let kept: CardInspection | undefined;
    await m.purchase({
      amount: 100,
      inspect: (c) => {
        kept = c;
      },
    });
    await expect(kept!.readBalance()).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    await expect(kept!.readLog()).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    expect(card.remaining).toBe(0);
    expect(card.sent).toHaveLength(4);
  });

  it('a throwing inspection refuses the tap: no INITIALIZE, no PSAM session, no record', async () => {
    const card = new ScriptedChannel([...identify()]);
    const sam = psamChannel();
    const { m, records } = machine(card, sam);
    const err = await m
      .purchase({
        amount: 100,
        inspect: () => {
          throw new ArgumentError('blacklisted');
        },
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BAD_ARGUMENT', message: 'blacklisted' });
    expect(card.remaining).toBe(0);
    expect(sam.sent).toHaveLength(2); // the PSAM's SELECT and terminal ID only
    expect(records).toEqual([]);
  });

  it('enter: a function entry charge is asked after the inspection (a fare priced from the card)', async () => {
    const card = new ScriptedChannel([
      ...identify(),
      logStep(1, 'end'),
      { cmd: `805003020B01000000C8${TID}0F`, rsp: initRsp(5000, 0) }, // 200 fen, priced by the inspection
      { cmd: '80DC01B830', rsp: '9000' },
      { cmd: '805401000F', rsp: 'A1A2A3A4B1B2B3B49000' },
    ]);
    let charge = 0;
    const { m } = machine(card, psamChannel(psamMac1(1), psamMac2Ok), { transit: { fare, entryCharge: () => charge } });
    const r = await m.enter({
      station: { line: 1, station: 3 },
      inspect: async (c) => {
        charge = (await c.readLog()).length === 0 ? 200 : 100;
      },
    });
    expect(r).toMatchObject({ status: 'completed', amount: 200, apduCount: 6 });
    expect(card.remaining).toBe(0);
  });

  it('is not called when the tap settles a torn attempt at the same sale (nothing new is charged)', async () => {
    const card = new ScriptedChannel([
      ...identify(),
      { cmd: '805001020B', rsp: initRsp(5000, 7) },
      { cmd: '805401000F', fail: cardRemoved() },
      ...identify(),
      { cmd: '805A000602000708', rsp: 'B1B2B3B4A1A2A3A49000' },
    ]);
    const { m } = machine(card, psamChannel(psamMac1(9), psamMac2Ok));
    const inspect = vi.fn();
    await expect(m.purchase({ amount: 100, inspect })).rejects.toMatchObject({ code: 'CARD_REMOVED' });
    expect(inspect).toHaveBeenCalledOnce();
    const r = await m.purchase({ amount: 100, inspect });
    expect(r).toMatchObject({ recovered: 'transaction-prove', amount: 100 });
    expect(inspect).toHaveBeenCalledOnce();
    expect(card.remaining).toBe(0);
  });

  it.each([
    ['a string', 'inspect'],
    ['an object', {}],
  ])('rejects an inspect that is %s with BAD_ARGUMENT before sending anything', async (_, inspect) => {
    const card = new ScriptedChannel();
    const { m } = machine(card, psamChannel(), { transit: { fare } });
    for (const call of [
      () => m.purchase({ amount: 1, inspect } as never),
      () => m.enter({ station: { line: 1, station: 1 }, inspect } as never),
      () => m.exit({ station: { line: 1, station: 1 }, inspect } as never),
    ])
      await expect(call()).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    expect(card.sent).toEqual([]);
  });
});

describe('ConsumptionMachine misc', () => {
  it('serialises concurrent taps', async () => {
    const card = new ScriptedChannel([...purchaseSteps(1, 100, 0, 1), ...purchaseSteps(2, 99, 1, 2)]);
    const { m } = machine(card, psamChannel(psamMac1(1), psamMac2Ok, psamMac1(2), psamMac2Ok));
    const [a, b] = await Promise.all([m.purchase({ amount: 1 }), m.purchase({ amount: 2 })]);
    expect([a.amount, b.amount]).toEqual([1, 2]);
  });

  it('open() reads the terminal ID once', async () => {
    const sam = psamChannel();
    const { m } = machine(new ScriptedChannel(), sam);
    expect(toHex(await m.open())).toBe(TID);
    expect(toHex(await m.open())).toBe(TID);
    expect(sam.sent).toHaveLength(2);
  });

  it('surfaces a PSAM transport failure as is', async () => {
    const sam = new ScriptedChannel([{ cmd: '', fail: cardRemoved() }]);
    const { m } = machine(new ScriptedChannel(), sam);
    const e = await m.purchase({ amount: 1 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TransportError);
    expect(e).not.toBeInstanceOf(CardLeftFieldError);
  });

  it('maps other status words to StatusWordError', async () => {
    const card = new ScriptedChannel([...identify(), { cmd: '805001020B', rsp: '9403' }]);
    const e = await machine(card, psamChannel())
      .m.purchase({ amount: 1 })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(StatusWordError);
    expect(e).toMatchObject({ code: 'SW_9403' });
  });
});
