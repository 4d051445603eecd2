/**
 * Reading an e-purse without moving money: {@link readPurse} selects the purse, reads EF 0x15, the balance (GET
 * BALANCE: a signed 4-byte amount in fen, negative while overdrawn), the online (load) and offline (purchase)
 * counters and the newest records of the transaction log (EF 0x18), and decodes them.
 *
 * **Counters.** No PBOC command reads a counter by itself. INITIALIZE FOR LOAD / PURCHASE answer with the counter
 * the next load / purchase will use, and change nothing on the card: counters, balance, log and the proof of the last
 * transaction move only with CREDIT / DEBIT, and the session INITIALIZE opens is dropped by the next command. So with
 * `counters: 'card'` (the default) the reader sends INITIALIZE with an amount of 1 fen (cards refuse 0 with 6A80) and
 * abandons each session with the next command. When the card refuses (a balance that cannot pay 1 fen, a balance at
 * its maximum, no key for `keyIndex`, an interface or PIN rule), the counter comes from the log instead: the newest
 * record of its family (loads: TTI 02 / 01; purchases: 06, 09 / 05) plus one, `source: 'log'`; `undefined` when the
 * log has none. `counters: 'log'` never sends INITIALIZE; `'none'` reads no counter.
 *
 * @module
 */
import { assertCardChannel, assertOptionsObject } from '../card/arguments';
import type { CardChannel } from '../card/channel';
import { assertBytes, assertUint } from '../core/bytes';
import { ArgumentError } from '../core/errors';
import { SW } from '../core/iso7816';
import {
  balanceResponse,
  type Ef15,
  initForLoadResponse,
  initForPurchaseResponse,
  type TransactionLogRecord,
  TTI,
} from '../core/pboc';
import { getBalanceApdu, INITIALIZE_P1, initializeApdu, type MachineCommandName, verifyPinApdu } from './commands';
import { EPURSE_DEFAULT_AID, identifyCard, readLogRecord } from './epurse-client';
import { ApduLink, accept } from './link';

/** Options of {@link readPurse}. */
export interface ReadPurseOptions {
  /** The e-purse AID; default A000000632010105. */
  readonly aid?: Uint8Array;
  /** Select the purse directly (default) or through the PPSE. */
  readonly selectVia?: 'aid' | 'ppse';
  /** The electronic purse (`'ep'`, default) or the electronic deposit (`'ed'`, usually behind the PIN). */
  readonly purse?: 'ep' | 'ed';
  /** Sent with VERIFY before anything else when given (4..12 digits). */
  readonly pin?: string;
  /** Newest log records to return, 0..254; default 10 (the log of the reference card holds 10). */
  readonly logRecords?: number;
  /**
   * Stops reading the log early: after the first record for which this returns true (that record is returned too),
   * even when fewer than `logRecords` have been read. A machine that needs only today's records of a log written
   * newest first passes `(r) => date(r) < today` and reads today's records plus one, not the whole log: each record
   * is one READ RECORD, the costliest part of a reading at a real reader (docs/tap-time.md).
   */
  readonly logUntil?: (record: TransactionLogRecord) => boolean;
  /** Where the counters come from (module doc): `'card'` (default), `'log'` or `'none'`. */
  readonly counters?: 'card' | 'log' | 'none';
  /** Key index of the INITIALIZE that reads the counters; default 1 (reference profile). */
  readonly keyIndex?: number;
  /** Terminal ID of that INITIALIZE (6 bytes); default 000000000000. */
  readonly terminalId?: Uint8Array;
}

/** A counter value and where it was read. */
export interface CounterReading {
  /** The counter the next transaction of its kind will use (the card's counter now), 0..65535. */
  readonly value: number;
  /** `'card'`: INITIALIZE answered it; `'log'`: the newest log record of its family, plus one. */
  readonly source: 'card' | 'log';
}

/** What {@link readPurse} read. */
export interface PurseReading {
  /** Which purse was read. */
  readonly purse: 'ep' | 'ed';
  /** EF 0x15, the public application data. */
  readonly ef15: Ef15;
  /** Application serial (10 bytes, a copy). */
  readonly serial: Uint8Array;
  /** Balance in fen; negative while the purse is overdrawn (4-byte two's complement on the card). */
  readonly balance: number;
  /** Online (load) counter; `undefined` when neither the card nor the log tells it, or `counters: 'none'`. */
  readonly onlineCounter: CounterReading | undefined;
  /** Offline (purchase) counter; `undefined` as {@link PurseReading.onlineCounter}. */
  readonly offlineCounter: CounterReading | undefined;
  /** The newest transaction log records, newest first (at most `logRecords`). */
  readonly log: readonly TransactionLogRecord[];
  /** APDUs exchanged. */
  readonly apduCount: number;
}

const MAX_LOG_RECORDS = 254;
const ZERO_TID = new Uint8Array(6);

/** Refusals of INITIALIZE (1 fen) after which the counter comes from the log instead (module doc). */
const COUNTER_FALLBACK_SW: ReadonlySet<number> = new Set([
  SW.INSUFFICIENT_BALANCE, // 9401: the balance cannot pay 1 fen (purchase)
  SW.WRONG_DATA, // 6A80: the balance is at its maximum (load)
  SW.KEY_INDEX_NOT_SUPPORTED, // 9403: no key for keyIndex
  SW.CONDITIONS_NOT_SATISFIED, // 6985: an interface rule forbids the transaction here
  SW.SECURITY_STATUS_NOT_SATISFIED, // 6982: the PIN rule
]);

/** The log-record TTIs that use each counter of each purse. */
const FAMILIES = {
  ep: { online: [TTI.EP_LOAD], offline: [TTI.EP_PURCHASE, TTI.CAPP_PURCHASE] },
  ed: { online: [TTI.ED_LOAD], offline: [TTI.ED_PURCHASE] },
} as const;

function checkOptions(opts: ReadPurseOptions): Required<Omit<ReadPurseOptions, 'pin' | 'logUntil'>> & {
  pin: string | undefined;
  logUntil: ((record: TransactionLogRecord) => boolean) | undefined;
} {
  assertOptionsObject(opts, 'options');
  const aid = opts.aid ?? EPURSE_DEFAULT_AID;
  assertBytes(aid, 'aid');
  if (aid.length < 5 || aid.length > 16) throw new ArgumentError(`aid: expected 5..16 bytes, got ${aid.length}`);
  const selectVia = opts.selectVia ?? 'aid';
  if (selectVia !== 'aid' && selectVia !== 'ppse') throw new ArgumentError("selectVia: expected 'aid' or 'ppse'");
  const purse = opts.purse ?? 'ep';
  if (purse !== 'ep' && purse !== 'ed') throw new ArgumentError("purse: expected 'ep' or 'ed'");
  const logRecords = opts.logRecords ?? 10;
  assertUint(logRecords, 'logRecords', MAX_LOG_RECORDS);
  if (opts.logUntil !== undefined && typeof opts.logUntil !== 'function')
    throw new ArgumentError('logUntil: expected a function');
  const counters = opts.counters ?? 'card';
  if (counters !== 'card' && counters !== 'log' && counters !== 'none')
    throw new ArgumentError("counters: expected 'card', 'log' or 'none'");
  const keyIndex = opts.keyIndex ?? 1;
  assertUint(keyIndex, 'keyIndex', 0xff);
  const terminalId = opts.terminalId ?? ZERO_TID;
  assertBytes(terminalId, 'terminalId', 6);
  if (opts.pin !== undefined) verifyPinApdu(opts.pin); // validates the digits
  return { aid, selectVia, purse, logRecords, counters, keyIndex, terminalId, pin: opts.pin, logUntil: opts.logUntil };
}

/**
 * Reads the e-purse on `channel` (module doc): EF 0x15, balance, counters and the newest log records. Moves no money
 * and changes nothing persistent on the card.
 * @throws {ArgumentError} `BAD_ARGUMENT` when `channel` is not a {@link CardChannel} or an option is malformed.
 * @throws {StatusWordError} `SW_xxxx` when the card refuses a read (e.g. SELECT `6A82`: no e-purse; `6982`: the ED
 *   needs the PIN), as the commands' status tables type it (`CardLockedError` for a locked or blocked purse,
 *   `SecurityStatusError`).
 * @throws {MachineResponseError} `MACHINE_BAD_RESPONSE` when a response has the wrong length.
 * @throws {CardLeftFieldError} `CARD_REMOVED` when the card leaves the field; other `TransportError`s as the
 *   channel throws them.
 * @example
 * const r = await readPurse(channel);
 * console.log(r.balance, r.offlineCounter?.value, r.log[0]?.amount);
 */
export async function readPurse(channel: CardChannel, opts: ReadPurseOptions = {}): Promise<PurseReading> {
  assertCardChannel(channel, 'channel');
  const o = checkOptions(opts);
  const link = new ApduLink(channel, 'card');
  const kind = o.purse === 'ep' ? 0x02 : 0x01;
  const { ef15, serial } = await identifyCard(link, { aid: o.aid, selectVia: o.selectVia });
  if (o.pin !== undefined) await link.run('VERIFY_PIN', verifyPinApdu(o.pin));

  // INITIALIZE first: GET BALANCE and READ RECORD after them drop the sessions they open.
  let online: CounterReading | undefined;
  let offline: CounterReading | undefined;
  if (o.counters === 'card') {
    online = await counterFromCard(link, 'INITIALIZE_FOR_LOAD', INITIALIZE_P1.LOAD, o, kind);
    offline = await counterFromCard(link, 'INITIALIZE_FOR_PURCHASE', INITIALIZE_P1.PURCHASE, o, kind);
  }
  const balanceData = await link.run('GET_BALANCE', getBalanceApdu(kind), balanceResponse.length);
  const balance = balanceResponse.decode(balanceData).balance | 0; // two's complement: negative while overdrawn

  const log = new LogReader(link);
  const records = await log.read(o.logRecords, o.logUntil);
  if (o.counters !== 'none') {
    const family = FAMILIES[o.purse];
    online ??= await log.counterOf(family.online);
    offline ??= await log.counterOf(family.offline);
  }
  return {
    purse: o.purse,
    ef15,
    serial: serial.slice(),
    balance,
    onlineCounter: online,
    offlineCounter: offline,
    log: records,
    apduCount: link.apduCount,
  };
}

/** INITIALIZE of 1 fen for the counter at bytes 4..5 of the answer; `undefined` when the card refuses (fallback). */
async function counterFromCard(
  link: ApduLink,
  command: MachineCommandName,
  p1: (typeof INITIALIZE_P1)[keyof typeof INITIALIZE_P1],
  o: { keyIndex: number; terminalId: Uint8Array },
  kind: 0x01 | 0x02,
): Promise<CounterReading | undefined> {
  const r = await link.exchange(command, initializeApdu(p1, o.keyIndex, 1, o.terminalId, kind));
  if (r.sw === SW.TRANSACTION_COUNTER_MAX) return { value: 0xffff, source: 'card' }; // 9402: counter at FFFF
  if (COUNTER_FALLBACK_SW.has(r.sw)) return undefined;
  const value =
    p1 === INITIALIZE_P1.LOAD
      ? initForLoadResponse.decode(accept(command, r, initForLoadResponse.length)).onlineCounter
      : initForPurchaseResponse.decode(accept(command, r, initForPurchaseResponse.length)).offlineCounter;
  return { value, source: 'card' };
}

/** Reads EF 0x18 newest first, once per record, up to the end of the log (6A83 or an empty record). */
class LogReader {
  readonly #records: TransactionLogRecord[] = [];
  #ended = false;

  constructor(private readonly link: ApduLink) {}

  /** The first `n` records (fewer when the log ends first, or after the first record `until` is true of). */
  async read(n: number, until?: (record: TransactionLogRecord) => boolean): Promise<TransactionLogRecord[]> {
    for (let i = 0; i < n; i++) {
      if (this.#records[i] === undefined && !(await this.#next())) break;
      if (until?.(this.#records[i]!)) return this.#records.slice(0, i + 1);
    }
    return this.#records.slice(0, n);
  }

  /** The newest record whose TTI is in `family`, plus one, reading further when needed; else `undefined`. */
  async counterOf(family: readonly number[]): Promise<CounterReading | undefined> {
    for (let i = 0; ; i++) {
      const rec = this.#records[i];
      if (rec === undefined && !(await this.#next())) return undefined;
      const r = this.#records[i]!;
      if (family.includes(r.tti)) return { value: Math.min(r.counter + 1, 0xffff), source: 'log' };
    }
  }

  async #next(): Promise<boolean> {
    if (this.#ended || this.#records.length >= MAX_LOG_RECORDS) return false;
    const n = this.#records.length + 1;
    const record = await readLogRecord(this.link, n);
    if (record === undefined) {
      this.#ended = true;
      return false;
    }
    this.#records.push(record);
    return true;
  }
}
