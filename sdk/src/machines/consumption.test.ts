import { describe, expect, it, vi } from 'vitest';
import { fromHex, toHex } from '../core/bytes';
import { ArgumentError, TransportError } from '../core/errors';
import { InsufficientBalanceError, StatusWordError } from '../core/iso7816';
import { ISO14443_106, ISO14443_424 } from '../core/iso14443';
import { encodeTlv, tlv } from '../core/tlv';
import { fixedClock } from './clock';
import { ConsumptionMachine, type ConsumptionMachineOptions } from './consumption';
import { CardLeftFieldError, CardLockedError, MacError, TacError } from './errors';
import { PsamDriver } from './psam';
import type { PurchaseRecord } from './records';
import { cardRemoved, ScriptedChannel, type ScriptStep } from './test-support';
import { decodeTransitRecord, distanceFare, encodeTransitRecord } from './transit';

const SERIAL = '00004401202600000001';
const OTHER_SERIAL = '00004401202600000002';
const ef15 = (serial = SERIAL) => `4401000000000000 02 01 ${serial} 20260101 20361231 0000`;
const TID = '440100000001';
const DATE = '20260301';
const TIME = '100304'; // 2026-03-01T02:03:04Z at UTC+8
const AID = 'A000000632010105';

const u32 = (v: number) => v.toString(16).padStart(8, '0');
const u16 = (v: number) => v.toString(16).padStart(4, '0');
const u8 = (v: number) => v.toString(16).padStart(2, '0').toUpperCase();

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

function machine(card: ScriptedChannel, sam: ScriptedChannel, extra: Partial<ConsumptionMachineOptions> = {}) {
  const records: PurchaseRecord[] = [];
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
      tacVerified: false,
      recovered: undefined,
      apduCount: 4,
      psamApduCount: 2,
    });
    expect(toHex(r.cardSerial)).toBe(SERIAL);
    expect(toHex(r.terminalId)).toBe(TID);
    expect(toHex(r.date) + toHex(r.time)).toBe(DATE + TIME);
    expect(toHex(r.tac!)).toBe('A1A2A3A4');
    expect(toHex(r.mac2!)).toBe('B1B2B3B4');
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
  const logRecord = (ctr: number, amount: number, tti: number, tid = TID, date = DATE, time = TIME) =>
    `${u16(ctr)}000000${u32(amount)}${tti.toString(16).padStart(2, '0')}${tid}${date}${time}9000`;

  it('keeps a pending record and reports it', async () => {
    const { m, e } = await tornPurchase();
    expect(e).toBeInstanceOf(CardLeftFieldError);
    expect(e.command).toBe('DEBIT_FOR_PURCHASE');
    expect(e.pending).toMatchObject({ status: 'pending', offlineCounter: 3, amount: 1250, terminalTxnSeq: 7 });
    expect(m.pending).toHaveLength(1);
  });

  it('completes from GET TRANSACTION PROVE checked by the still-open PSAM session, without debiting again', async () => {
    const { m, card, sam, records } = await tornPurchase([psamMac2Ok]);
    card.push(...identify(), prove('B1B2B3B4A1A2A3A49000'));
    const r = await m.purchase({ amount: 1250 });
    expect(r).toMatchObject({ recovered: 'transaction-prove', mac2Verified: true, amount: 1250, apduCount: 3 });
    expect(toHex(r.tac!)).toBe('A1A2A3A4');
    expect(sam.sent.at(-1)).toBe('8072000004B1B2B3B4');
    expect(card.remaining).toBe(0);
    expect(card.sent.filter((c) => c.startsWith('8054'))).toHaveLength(1);
    expect(m.pending).toEqual([]);
    expect(records).toEqual([r]);
  });

  it("checks the proof's TAC in the PSAM when its MAC2 session is gone", async () => {
    const { m, card, sam, dropPsamSession } = await tornPurchase();
    await dropPsamSession();
    sam.push(
      { cmd: `801A440108${SERIAL.slice(4)}`, rsp: '9000' },
      { cmd: `80FA010016000004E206${TID}00000007${DATE}${TIME}00`, rsp: 'A1A2A3A49000' },
    );
    card.push(...identify(), prove('B1B2B3B4A1A2A3A49000'));
    const out = await m.recover();
    expect(out).toMatchObject({
      outcome: 'charged',
      record: { recovered: 'transaction-prove', mac2Verified: false, tacVerified: true, amount: 1250 },
    });
    expect(m.pending).toEqual([]);
  });

  it('charges once when the card proves nothing and its log shows the counter unused', async () => {
    const { m, card, sam, records } = await tornPurchase([psamMac1(8), psamMac2Ok]);
    card.push(
      ...identify(),
      prove('9406'),
      { cmd: '00B201C417', rsp: logRecord(2, 500, 6) }, // newest purchase used counter 2 < 3
      { cmd: '805001020B01000004E2', rsp: initRsp(5000, 3) },
      { cmd: '805401000F00000008', rsp: 'C1C2C3C4D1D2D3D49000' },
    );
    const r = await m.purchase({ amount: 1250 });
    expect(r).toMatchObject({ recovered: undefined, offlineCounter: 3, terminalTxnSeq: 8, balanceAfter: 3750 });
    expect(r.apduCount).toBe(6);
    expect(card.remaining).toBe(0);
    expect(sam.remaining).toBe(0);
    expect(records).toEqual([r]);
    expect(m.pending).toEqual([]);
  });

  it('completes from the log (TAC from the PSAM) when a later transaction replaced the proof', async () => {
    const { m, card } = await tornPurchase([
      { cmd: '801A440108', rsp: '9000' },
      { cmd: '80FA0100', rsp: 'A1A2A3A49000' },
    ]);
    card.push(
      ...identify(),
      prove('9406'),
      { cmd: '00B201C417', rsp: logRecord(0, 5000, 2, '999999999999') }, // a load since (other family)
      { cmd: '00B202C417', rsp: logRecord(3, 1250, 6) }, // our purchase, counter 3
    );
    const r = await m.purchase({ amount: 1250 });
    expect(r).toMatchObject({ recovered: 'transaction-log', mac2: undefined, mac2Verified: false, amount: 1250 });
    expect(toHex(r.tac!)).toBe('A1A2A3A4');
    expect(card.remaining).toBe(0);
  });

  it("treats a proof that is another terminal's as not charged and runs the purchase", async () => {
    const { m, card, sam, dropPsamSession } = await tornPurchase();
    await dropPsamSession();
    sam.push(
      { cmd: '801A440108', rsp: '9000' },
      { cmd: '80FA0100', rsp: '000000009000' }, // our TAC differs from the proof's
      psamMac1(9),
      psamMac2Ok,
    );
    card.push(
      ...identify(),
      prove('EEEEEEEEFFFFFFFF9000'),
      { cmd: '00B201C417', rsp: logRecord(3, 300, 6, '440100000099') }, // counter 3 used by another POS
      { cmd: '805001020B', rsp: initRsp(4700, 4) },
      { cmd: '805401000F00000009', rsp: 'C1C2C3C4D1D2D3D49000' },
    );
    const r = await m.purchase({ amount: 1250 });
    expect(r).toMatchObject({ offlineCounter: 4, recovered: undefined, balanceAfter: 3450 });
    expect(card.remaining).toBe(0);
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
      prove('B1B2B3B4A1A2A3A49000'),
      { cmd: '805001020B01000001F4', rsp: initRsp(3750, 4) },
      { cmd: '805401000F00000008', rsp: 'C1C2C3C4D1D2D3D49000' },
    );
    const r = await m.purchase({ amount: 500 });
    expect(records.map((x) => [x.amount, x.recovered])).toEqual([
      [1250, 'transaction-prove'],
      [500, undefined],
    ]);
    expect(r.balanceAfter).toBe(3250);
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

  it('throws TacError when the log confirms the purchase but its proof does not authenticate', async () => {
    const { m, card, sam, dropPsamSession } = await tornPurchase();
    await dropPsamSession();
    sam.push({ cmd: '801A', rsp: '9000' }, { cmd: '80FA', rsp: '000000009000' });
    card.push(...identify(), prove('EEEEEEEEFFFFFFFF9000'), { cmd: '00B201C417', rsp: logRecord(3, 1250, 6) });
    const e = await m.recover().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TacError);
    expect((e as TacError).record).toMatchObject({ amount: 1250 });
    expect(m.pending).toEqual([]);
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
