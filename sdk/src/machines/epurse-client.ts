/**
 * The card-side steps both machines share: find and select the e-purse (directly by AID or through the
 * contactless PPSE), read EF 0x15, ask for a transaction proof, and search the transaction log — the last two
 * resolve torn transactions.
 *
 * @module
 */
import { equalBytes, fromHex } from '../core/bytes';
import { SW } from '../core/iso7816';
import {
  type Ef15,
  EPURSE_SFI,
  ef15,
  type TransactionLogRecord,
  type TransactionProveResponse,
  transactionLogRecord,
  transactionProveResponse,
} from '../core/pboc';
import { decodeTlv, findAllTlv } from '../core/tlv';
import { getTransactionProveApdu, readBinarySfiApdu, readRecordApdu, selectByNameApdu } from './commands';
import { type ApduLink, accept } from './link';

/** Default e-purse AID (reference profile `card.epurse.aid`, T-Union transit purse). */
export const EPURSE_DEFAULT_AID: Uint8Array = /* @__PURE__ */ fromHex('A000000632010105');

/** The contactless directory `2PAY.SYS.DDF01`. */
const PPSE_NAME = /* @__PURE__ */ new TextEncoder().encode('2PAY.SYS.DDF01');

/** How a machine finds the e-purse application. */
export interface SelectOptions {
  /** The e-purse AID. */
  readonly aid: Uint8Array;
  /** `'aid'`: SELECT the AID directly (1 APDU); `'ppse'`: read the PPSE directory first (2 APDUs). */
  readonly selectVia: 'aid' | 'ppse';
}

/** The card as a machine identifies it at the start of a tap. */
export interface CardIdentity {
  readonly ef15: Ef15;
  /** Application serial (10 bytes, a copy). */
  readonly serial: Uint8Array;
}

/**
 * Selects the e-purse (via the PPSE when asked: the first listed AID equal to `aid`, else the first listed), then
 * reads EF 0x15 (`00 B0 95 00 1E`).
 * @throws {StatusWordError} `SW_xxxx` (`CardLockedError` on 6283/9303) and the link's errors.
 */
export async function identifyCard(link: ApduLink, opts: SelectOptions): Promise<CardIdentity> {
  let aid = opts.aid;
  if (opts.selectVia === 'ppse') {
    const fci = await link.run('SELECT', selectByNameApdu(PPSE_NAME));
    const listed = findAllTlv(decodeTlv(fci, { copy: false }), '6F/A5/BF0C/61/4F').map((t) => t.value);
    aid = listed.find((a) => equalBytes(a, opts.aid)) ?? listed[0] ?? opts.aid;
  }
  await link.run('SELECT', selectByNameApdu(aid));
  const apdu = readBinarySfiApdu(EPURSE_SFI.EF15, 0, ef15.length);
  const basic = ef15.decode(await link.run('READ_BINARY', apdu, ef15.length));
  return { ef15: basic, serial: basic.applicationSerial };
}

/** MAC2 ‖ TAC of a committed transaction, as GET TRANSACTION PROVE returns them (docs/spec.md §15 D2). */
export type TransactionProof = Readonly<TransactionProveResponse>;

/**
 * GET TRANSACTION PROVE for (`tti`, `counter`): the proof when that transaction is the card's last committed
 * one, `undefined` on 9406 (not available).
 * @throws {StatusWordError} on any other SW; `MACHINE_BAD_RESPONSE` unless 8 bytes come back.
 */
export async function proveTransaction(
  link: ApduLink,
  tti: number,
  counter: number,
): Promise<TransactionProof | undefined> {
  const apdu = getTransactionProveApdu(tti, counter);
  const r = await link.exchange('GET_TRANSACTION_PROVE', apdu);
  if (r.sw === SW.MAC_NOT_AVAILABLE) return undefined;
  return transactionProveResponse.decode(accept('GET_TRANSACTION_PROVE', r, transactionProveResponse.length));
}

/** What the card's transaction log says about one counter value. */
export type LogVerdict =
  /** A record with that counter matches the expected transaction: it was committed. */
  | { readonly verdict: 'committed'; readonly record: TransactionLogRecord }
  /** The counter was never used, or used by another transaction: the expected one was not committed. */
  | { readonly verdict: 'not-committed' }
  /** The log no longer reaches back to that counter. */
  | { readonly verdict: 'unknown' };

/** The transaction a log search looks for. */
export interface LogQuery {
  /** Counter value the transaction used (before increment). */
  readonly counter: number;
  /** TTIs sharing that counter (purchases: 06/09; loads: 02). */
  readonly family: readonly number[];
  readonly tti: number;
  readonly amount: number;
  readonly terminalId: Uint8Array;
  readonly date: Uint8Array;
  readonly time: Uint8Array;
}

/**
 * Reads EF 0x18 newest-first (`00 B2 n C4 17`) until the answer is known: the newest record of the counter's
 * family with a counter below `counter` means the counter was never used; a record with `counter` is ours when
 * TTI, amount, terminal ID, date and time all match.
 * @throws {StatusWordError} on an SW other than 9000 / 6A83 (end of log).
 */
export async function searchLog(link: ApduLink, q: LogQuery, maxRecords: number): Promise<LogVerdict> {
  let seenFamily = false;
  for (let n = 1; n <= maxRecords; n++) {
    const rec = await readLogRecord(link, n);
    if (rec === undefined) break;
    if (!q.family.includes(rec.tti)) continue;
    seenFamily = true;
    if (rec.counter < q.counter) return { verdict: 'not-committed' };
    if (rec.counter === q.counter) {
      const ours =
        rec.tti === q.tti &&
        rec.amount === q.amount &&
        equalBytes(rec.terminalId, q.terminalId) &&
        equalBytes(rec.date, q.date) &&
        equalBytes(rec.time, q.time);
      return ours ? { verdict: 'committed', record: rec } : { verdict: 'not-committed' };
    }
  }
  return seenFamily ? { verdict: 'unknown' } : { verdict: 'not-committed' };
}

/**
 * Record `n` of the transaction log (EF 0x18, `00 B2 n C4 17`; 1 = the newest), `undefined` past its end (6A83, or
 * a record never written).
 * @throws {StatusWordError} on an SW other than 9000 / 6A83; `MACHINE_BAD_RESPONSE` unless 23 bytes come back.
 */
export async function readLogRecord(link: ApduLink, n: number): Promise<TransactionLogRecord | undefined> {
  const r = await link.exchange('READ_RECORD', readRecordApdu(n, EPURSE_SFI.EF18, transactionLogRecord.length));
  if (r.sw === SW.RECORD_NOT_FOUND) return undefined;
  const data = accept('READ_RECORD', r, transactionLogRecord.length);
  if (data.every((b) => b === 0)) return undefined;
  return transactionLogRecord.decode(data);
}
