import { describe, expect, it } from 'vitest';
import { toHex } from '../core/bytes';
import { ArgumentError } from '../core/errors';
import { SecurityStatusError, StatusWordError } from '../core/iso7816';
import { encodeTransactionLogRecord, type TransactionLogRecord, TTI } from '../core/pboc';
import { cardProfile } from '../core/profile';
import { CardLeftFieldError, CardLockedError } from './errors';
import { readPurse } from './purse-reader';
import { cardRemoved, ScriptedChannel, type ScriptStep } from './test-support';

const SERIAL = toHex(cardProfile('card-1').applicationSerial).toUpperCase();
const u32 = (v: number) => (v >>> 0).toString(16).padStart(8, '0').toUpperCase();
const u16 = (v: number) => v.toString(16).padStart(4, '0').toUpperCase();

const identify: ScriptStep[] = [
  { cmd: '00A4040008A00000063201010500', rsp: '6F0A8408A0000006320101059000' },
  { cmd: '00B095001E', rsp: `4401000000000000 02 01 ${SERIAL} 20260101 20361231 0000 9000` },
];
/** INITIALIZE of 1 fen, key index 1, terminal 000000000000 (never amount 0). */
const INIT_LOAD = '805000020B010000000100000000000010';
const INIT_PURCHASE = '805001020B01000000010000000000000F';
const initLoadRsp = (balance: number, ctr: number) => `${u32(balance)}${u16(ctr)}0100 0A0B0C0D 11223344 9000`;
const initPurchaseRsp = (balance: number, ctr: number) => `${u32(balance)}${u16(ctr)}000000 0100 0A0B0C0D 9000`;

function rec(tti: number, counter: number, amount: number): TransactionLogRecord {
  return {
    counter,
    overdraftLimit: 0,
    amount,
    tti,
    terminalId: Uint8Array.of(0x44, 0x01, 0, 0, 0, 0x01),
    date: Uint8Array.of(0x20, 0x26, 0x03, 0x01),
    time: Uint8Array.of(0x10, 0x03, 0x04),
  };
}
const logStep = (n: number, r: TransactionLogRecord | 'end' | 'empty'): ScriptStep => ({
  cmd: `00B2${n.toString(16).padStart(2, '0')}C417`,
  rsp: r === 'end' ? '6A83' : r === 'empty' ? `${'00'.repeat(23)}9000` : `${toHex(encodeTransactionLogRecord(r))}9000`,
});

describe('readPurse', () => {
  it('reads EF 0x15, the counters from INITIALIZE of 1 fen, a negative balance and the log, newest first', async () => {
    const purchase = rec(TTI.EP_PURCHASE, 6, 1250);
    const load = rec(TTI.EP_LOAD, 2, 5000);
    const ch = new ScriptedChannel([
      ...identify,
      { cmd: INIT_LOAD, rsp: initLoadRsp(-200, 3) },
      { cmd: INIT_PURCHASE, rsp: initPurchaseRsp(-200, 7) },
      { cmd: '805C000204', rsp: 'FFFFFF38 9000' },
      logStep(1, purchase),
      logStep(2, load),
      logStep(3, 'end'),
    ]);
    const r = await readPurse(ch);
    expect(r).toMatchObject({
      purse: 'ep',
      balance: -200,
      onlineCounter: { value: 3, source: 'card' },
      offlineCounter: { value: 7, source: 'card' },
      apduCount: 8, // SELECT, READ BINARY, 2 × INITIALIZE, GET BALANCE, 3 × READ RECORD
    });
    expect(toHex(r.serial).toUpperCase()).toBe(SERIAL);
    expect(r.ef15.applicationType).toBe(2);
    expect(r.log).toEqual([purchase, load]);
    expect(ch.remaining).toBe(0);
    // The amount of each INITIALIZE is 1 fen; GET BALANCE comes after them and drops the last session.
    expect(ch.sent.slice(2, 5)).toEqual([INIT_LOAD, INIT_PURCHASE, '805C000204']);
  });

  it('stops the log at an empty record and returns at most logRecords', async () => {
    const ch = new ScriptedChannel([
      ...identify,
      { cmd: '805000', rsp: initLoadRsp(100, 1) },
      { cmd: '805001', rsp: initPurchaseRsp(100, 0) },
      { cmd: '805C000204', rsp: '00000064 9000' },
      logStep(1, rec(TTI.EP_LOAD, 0, 100)),
      logStep(2, 'empty'),
    ]);
    const r = await readPurse(ch, { logRecords: 5 });
    expect(r.log).toHaveLength(1);
    expect(r.balance).toBe(100);
    const one = new ScriptedChannel([
      ...identify,
      { cmd: '805000', rsp: initLoadRsp(100, 1) },
      { cmd: '805001', rsp: initPurchaseRsp(100, 0) },
      { cmd: '805C000204', rsp: '00000064 9000' },
      logStep(1, rec(TTI.EP_LOAD, 0, 100)),
    ]);
    expect((await readPurse(one, { logRecords: 1 })).log).toHaveLength(1);
    expect(one.remaining).toBe(0);
  });

  it('stops the log after the first record logUntil is true of, that record included, and never reads on', async () => {
    const on = (r: TransactionLogRecord, day: number) => ({ ...r, date: Uint8Array.of(0x20, 0x26, 0x03, day) });
    const today = [on(rec(TTI.CAPP_PURCHASE, 9, 300), 0x02), on(rec(TTI.EP_PURCHASE, 8, 200), 0x02)];
    const yesterday = on(rec(TTI.EP_LOAD, 4, 1000), 0x01);
    const ch = new ScriptedChannel([
      ...identify,
      { cmd: '805C000204', rsp: '00000064 9000' },
      logStep(1, today[0]!),
      logStep(2, today[1]!),
      logStep(3, yesterday),
    ]);
    const seen: number[] = [];
    const r = await readPurse(ch, {
      counters: 'none',
      logUntil: (x) => {
        seen.push(x.counter);
        return x.date[3]! < 0x02;
      },
    });
    expect(r.log).toEqual([...today, yesterday]);
    expect(seen).toEqual([9, 8, 4]);
    expect(r.apduCount).toBe(6); // SELECT, READ BINARY, GET BALANCE, 3 READ RECORD: not the 10 of logRecords
    expect(ch.remaining).toBe(0);
    // logRecords still bounds it; a log that ends first ends the reading.
    const two = new ScriptedChannel([
      ...identify,
      { cmd: '805C000204', rsp: '00000064 9000' },
      logStep(1, today[0]!),
      logStep(2, today[1]!),
    ]);
    expect((await readPurse(two, { counters: 'none', logRecords: 2, logUntil: () => false })).log).toEqual(today);
    const short = new ScriptedChannel([
      ...identify,
      { cmd: '805C000204', rsp: '00000064 9000' },
      logStep(1, today[0]!),
      logStep(2, 'end'),
    ]);
    expect((await readPurse(short, { counters: 'none', logUntil: () => false })).log).toEqual([today[0]]);
  });

  it.each([
    ['9401 (the balance cannot pay 1 fen) and 6A80 (balance at its maximum)', '6A80', '9401'],
    ['9403 (no key for the index)', '9403', '9403'],
    ['6985 (interface rule) and 6982 (PIN rule)', '6985', '6982'],
  ])('takes the counters from the log after %s, reading on to the newest record of each family', async (_, l, p) => {
    const ch = new ScriptedChannel([
      ...identify,
      { cmd: '805000', rsp: l },
      { cmd: '805001', rsp: p },
      { cmd: '805C000204', rsp: '00000000 9000' },
      logStep(1, rec(TTI.CAPP_PURCHASE, 9, 300)),
      logStep(2, rec(TTI.EP_PURCHASE, 8, 200)),
      logStep(3, rec(TTI.EP_LOAD, 4, 1000)), // read beyond logRecords: 2, for the online counter
    ]);
    const r = await readPurse(ch, { logRecords: 2 });
    expect(r.offlineCounter).toEqual({ value: 10, source: 'log' });
    expect(r.onlineCounter).toEqual({ value: 5, source: 'log' });
    expect(r.log.map((x) => x.counter)).toEqual([9, 8]);
    expect(ch.remaining).toBe(0);
  });

  it('reports a counter undefined when the card refuses and the log has no record of its family', async () => {
    const ch = new ScriptedChannel([
      ...identify,
      { cmd: '805000', rsp: initLoadRsp(0, 0) },
      { cmd: '805001', rsp: '9401' },
      { cmd: '805C000204', rsp: '00000000 9000' },
      logStep(1, 'end'),
    ]);
    const r = await readPurse(ch);
    expect(r.onlineCounter).toEqual({ value: 0, source: 'card' });
    expect(r.offlineCounter).toBeUndefined();
    expect(r.log).toEqual([]);
  });

  it('reads an exhausted counter (9402) as FFFF', async () => {
    const ch = new ScriptedChannel([
      ...identify,
      { cmd: '805000', rsp: '9402' },
      { cmd: '805001', rsp: initPurchaseRsp(5, 1) },
      { cmd: '805C000204', rsp: '00000005 9000' },
      logStep(1, 'end'),
    ]);
    expect((await readPurse(ch)).onlineCounter).toEqual({ value: 0xffff, source: 'card' });
  });

  it("with counters 'log' sends no INITIALIZE; with 'none' reads no counter", async () => {
    const logOnly = new ScriptedChannel([
      ...identify,
      { cmd: '805C000204', rsp: '00000005 9000' },
      logStep(1, rec(TTI.EP_PURCHASE, 0, 5)),
      logStep(2, rec(TTI.EP_LOAD, 0, 10)),
    ]);
    const r = await readPurse(logOnly, { counters: 'log', logRecords: 1 });
    expect(r.offlineCounter).toEqual({ value: 1, source: 'log' });
    expect(r.onlineCounter).toEqual({ value: 1, source: 'log' });
    expect(logOnly.sent.some((c) => c.startsWith('8050'))).toBe(false);
    const none = new ScriptedChannel([...identify, { cmd: '805C000204', rsp: '00000005 9000' }]);
    const n = await readPurse(none, { counters: 'none', logRecords: 0 });
    expect(n).toMatchObject({ balance: 5, onlineCounter: undefined, offlineCounter: undefined, log: [], apduCount: 3 });
  });

  it('reads the electronic deposit (P2 01) after VERIFY when given the PIN', async () => {
    const ch = new ScriptedChannel([
      ...identify,
      { cmd: '00200000 03 123456', rsp: '9000' },
      { cmd: '805000010B', rsp: initLoadRsp(10, 2) },
      { cmd: '805001010B', rsp: initPurchaseRsp(10, 3) },
      { cmd: '805C000104', rsp: '0000000A 9000' },
      logStep(1, rec(TTI.ED_LOAD, 1, 10)),
      logStep(2, 'end'),
    ]);
    const r = await readPurse(ch, { purse: 'ed', pin: '123456' });
    expect(r).toMatchObject({ purse: 'ed', balance: 10, onlineCounter: { value: 2 }, offlineCounter: { value: 3 } });
  });

  it('throws typed errors: no purse, a locked purse, a PIN needed, a bad length, a card that leaves', async () => {
    const noPurse = new ScriptedChannel([{ cmd: '00A404', rsp: '6A82' }]);
    await expect(readPurse(noPurse)).rejects.toMatchObject({ code: 'SW_6A82', sw: 0x6a82 });
    await expect(readPurse(new ScriptedChannel([{ cmd: '00A404', rsp: '6283' }]))).rejects.toBeInstanceOf(
      CardLockedError,
    );
    const locked = new ScriptedChannel([...identify, { cmd: '805000', rsp: '9303' }]);
    await expect(readPurse(locked)).rejects.toBeInstanceOf(CardLockedError);
    const pin = new ScriptedChannel([...identify, { cmd: '805C000104', rsp: '6982' }]);
    const err = await readPurse(pin, { purse: 'ed', counters: 'none' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SecurityStatusError);
    expect(err).toBeInstanceOf(StatusWordError);
    const short = new ScriptedChannel([...identify, { cmd: '805C000204', rsp: '0000 9000' }]);
    await expect(readPurse(short, { counters: 'none' })).rejects.toMatchObject({ code: 'MACHINE_BAD_RESPONSE' });
    const gone = new ScriptedChannel([...identify, { cmd: '805000', fail: cardRemoved() }]);
    const left = await readPurse(gone).catch((e: unknown) => e);
    expect(left).toBeInstanceOf(CardLeftFieldError);
    expect(left).toMatchObject({ code: 'CARD_REMOVED', pending: undefined });
  });

  it.each([
    ['no channel', undefined, undefined],
    ['a channel without transmit', {}, undefined],
    ['options that are no object', 'ch', 5],
    ['an AID too short', 'ch', { aid: new Uint8Array(4) }],
    ['an AID not bytes', 'ch', { aid: 'A000000632010105' }],
    ['selectVia', 'ch', { selectVia: 'fid' }],
    ['purse', 'ch', { purse: 'ep2' }],
    ['logRecords above 254', 'ch', { logRecords: 255 }],
    ['logRecords negative', 'ch', { logRecords: -1 }],
    ['counters', 'ch', { counters: 'initialize' }],
    ['keyIndex', 'ch', { keyIndex: 256 }],
    ['terminalId', 'ch', { terminalId: new Uint8Array(5) }],
    ['pin', 'ch', { pin: '12ab' }],
    ['logUntil not a function', 'ch', { logUntil: 'today' }],
  ])('rejects %s with BAD_ARGUMENT before sending anything', async (_, channel, options) => {
    const ch = new ScriptedChannel();
    const err = await readPurse((channel === 'ch' ? ch : channel) as never, options as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArgumentError);
    expect(err).toMatchObject({ code: 'BAD_ARGUMENT' });
    expect(ch.sent).toEqual([]);
  });
});
