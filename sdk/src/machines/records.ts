/**
 * What machines hand back: one record per completed money movement (purchase, transit entry/exit, load), the
 * unproven records of torn movements the card's log shows but the card cannot prove, and the pending records they
 * keep when a card leaves the field while the movement may have landed.
 *
 * Byte fields are fresh `Uint8Array`s owned by the record. Amounts and balances are integer fen.
 *
 * @module
 */

import { toHex } from '../core/bytes';
import type { TapTimeEstimate } from '../core/iso14443';
import type { TransactionLogRecord } from '../core/pboc';

/** A metro/bus stop as the transit records name it. */
export interface TransitStation {
  /** Line number (0..65535). */
  readonly line: number;
  /** Station number on the line (0..65535). */
  readonly station: number;
}

/** What kind of purchase a record is. */
export type PurchaseKind = 'purchase' | 'transit-entry' | 'transit-exit';

/** The fields a pending (torn) purchase and a completed one share. */
export interface PurchaseCore {
  readonly kind: PurchaseKind;
  /** Transaction type identifier: 06 EP purchase, 09 composite (CAPP) purchase. */
  readonly tti: number;
  /** The card's 10-byte application serial (EF 0x15 bytes 10..19). */
  readonly cardSerial: Uint8Array;
  /** The offline counter this purchase used (INITIALIZE's value, before the card increments it). */
  readonly offlineCounter: number;
  /** Amount debited, fen. */
  readonly amount: number;
  /** Balance before the debit, fen. */
  readonly balanceBefore: number;
  /** Balance after the debit, fen (`balanceBefore - amount`). */
  readonly balanceAfter: number;
  /** The PSAM's terminal ID (6 bytes). */
  readonly terminalId: Uint8Array;
  /** The PSAM's terminal transaction sequence number for this purchase. */
  readonly terminalTxnSeq: number;
  /** YYYYMMDD, 4 BCD bytes. */
  readonly date: Uint8Array;
  /** hhmmss, 3 BCD bytes. */
  readonly time: Uint8Array;
  readonly keyVersion: number;
  readonly algorithmId: number;
  /** Transit only: the station of this entry or exit. */
  readonly station?: TransitStation;
  /** Transit exit only: the entry record the fare was computed from (undefined when the card had none). */
  readonly entry?: TransitRecord;
}

/** A purchase the card may or may not have committed (the card left the field during DEBIT). */
export interface PendingPurchase extends PurchaseCore {
  readonly status: 'pending';
}

/**
 * How a record completed at a later tap was proven: by GET TRANSACTION PROVE, the card's MAC2 ‖ TAC of the
 * transaction. (A card's transaction log alone never completes a record: see {@link UnprovenPurchase}.)
 */
export type RecoveryProof = 'transaction-prove';

/**
 * Why a torn transaction the card's log shows has no usable proof:
 * - `'proof-replaced'`: GET TRANSACTION PROVE answered 9406, a later transaction replaced the card's proof;
 * - `'proof-refused'`: the card proved a transaction with that counter, but the proof is not this one's (the PSAM
 *   refused its MAC2; for a load: it does not carry the MAC2 the machine sent).
 */
export type UnprovenReason = 'proof-replaced' | 'proof-refused';

/** A completed purchase, ready for the clearing batch: the card's MAC2 and TAC as the card returned them. */
export interface PurchaseRecord extends PurchaseCore {
  readonly status: 'completed';
  /**
   * The card's transaction authentication code (4 bytes), as the card returned it (DEBIT, or GET TRANSACTION
   * PROVE for a recovered record). Only the issuer can check it: clearing verifies it with the issuer's TAC key
   * (`IssuerTacVerifier` in `@simtap/sdk/core/pboc`).
   */
  readonly tac: Uint8Array;
  /** The card's MAC2 (4 bytes), as the card returned it. */
  readonly mac2: Uint8Array;
  /**
   * True when the PSAM accepted MAC2: the card made this debit in this machine's session. False when the PSAM
   * refused it (then thrown as `MacError`), could not check it (a recovery after the PSAM's session ended), or
   * failed otherwise: the TAC is then the only proof, and clearing decides.
   */
  readonly mac2Verified: boolean;
  /** Set when this record completes a torn purchase at a later tap: how the card proved it. */
  readonly recovered: RecoveryProof | undefined;
  /** Card APDUs of the tap that produced this record. */
  readonly apduCount: number;
  /** PSAM APDUs spent for this record. */
  readonly psamApduCount: number;
  /** Estimated tap time of the card exchanges at the machine's link profile. */
  readonly tapTime: TapTimeEstimate;
}

/**
 * A torn purchase the card's transaction log (EF 0x18) shows, but which the card cannot prove: no TAC, nothing
 * for clearing to verify. The machine does not debit the same sale again; the back office settles it with the
 * issuer (who sees the card's counters and later TACs).
 */
export interface UnprovenPurchase extends PurchaseCore {
  readonly status: 'unproven';
  /** Why the card's proof is missing. */
  readonly reason: UnprovenReason;
  /** The log record that matches this purchase, as the card returned it (unauthenticated: the card's word). */
  readonly log: TransactionLogRecord;
  /** Card APDUs of the tap that resolved it. */
  readonly apduCount: number;
  /** PSAM APDUs of that tap. */
  readonly psamApduCount: number;
  /** Estimated tap time of that tap's card exchanges. */
  readonly tapTime: TapTimeEstimate;
}

/** What a consumption machine reports for a purchase: completed (with the card's TAC) or unproven. */
export type PurchaseResult = PurchaseRecord | UnprovenPurchase;

/** The travel record a gate writes into the card's composite-application file at entry and exit. */
export interface TransitRecord {
  /** 0x03 entry, 0x04 exit (JT/T 978 travel record types). */
  readonly type: 'entry' | 'exit';
  readonly station: TransitStation;
  /** The gate's terminal ID (6 bytes). */
  readonly terminalId: Uint8Array;
  /** Amount charged at this gate, fen. */
  readonly amount: number;
  /** Balance after this gate's debit, fen. */
  readonly balance: number;
  /** YYYYMMDD, 4 BCD bytes. */
  readonly date: Uint8Array;
  /** hhmmss, 3 BCD bytes. */
  readonly time: Uint8Array;
}

/** A load the card may or may not have committed (the card left the field during CREDIT FOR LOAD). */
export interface PendingLoad {
  readonly status: 'pending';
  /** 02 EP load (01 ED load). */
  readonly tti: number;
  readonly cardSerial: Uint8Array;
  /** The online counter this load used (INITIALIZE FOR LOAD's value). */
  readonly onlineCounter: number;
  readonly amount: number;
  readonly balanceBefore: number;
  readonly balanceAfter: number;
  readonly terminalId: Uint8Array;
  readonly date: Uint8Array;
  readonly time: Uint8Array;
  readonly keyVersion: number;
  readonly algorithmId: number;
  /** The MAC2 the machine sent. */
  readonly mac2: Uint8Array;
}

/** A completed load. */
export interface LoadRecord extends Omit<PendingLoad, 'status'> {
  readonly status: 'completed';
  /** The card's TAC (4 bytes), as the card returned it (CREDIT FOR LOAD, or GET TRANSACTION PROVE). */
  readonly tac: Uint8Array;
  /** True when the authorizer verified the TAC; false when it cannot verify TACs (the platform verifies it later). */
  readonly tacVerified: boolean;
  /** Set when this record completes a torn load at a later tap. */
  readonly recovered: RecoveryProof | undefined;
  readonly apduCount: number;
  readonly tapTime: TapTimeEstimate;
}

/**
 * A torn load the card's transaction log shows, but which the card cannot prove (no TAC). Neither credited to the
 * card float nor refunded by the machine: the platform settles it (the card's next online load proves its online
 * counter in MAC1).
 */
export interface UnprovenLoad extends Omit<PendingLoad, 'status'> {
  readonly status: 'unproven';
  /** Why the card's proof is missing. */
  readonly reason: UnprovenReason;
  /** The log record that matches this load, as the card returned it (unauthenticated). */
  readonly log: TransactionLogRecord;
  /** Card APDUs of the tap that resolved it. */
  readonly apduCount: number;
  readonly tapTime: TapTimeEstimate;
}

/** What a recharge machine reports for a load: completed (with the card's TAC) or unproven. */
export type LoadResult = LoadRecord | UnprovenLoad;

/**
 * `T` without `readonly`: how the machines fill a record in place before handing it out.
 * @internal
 */
export type Writable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Torn transactions awaiting their card's next tap, one per card, keyed by the application serial (EF15).
 * Shared by the consumption and the recharge machine.
 * @internal
 */
export class PendingBySerial<T extends { readonly cardSerial: Uint8Array }> {
  readonly #map = new Map<string, T>();

  constructor(initial: Iterable<T> = []) {
    for (const p of initial) this.add(p);
  }

  /** Records `p` (replacing an earlier one of the same card). */
  add(p: T): void {
    this.#map.set(toHex(p.cardSerial), p);
  }

  /** The pending transaction of the card with `serial`, if any. */
  of(serial: Uint8Array): T | undefined {
    return this.#map.size === 0 ? undefined : this.#map.get(toHex(serial));
  }

  /** Forgets the pending transaction of `serial`; returns it, if there was one. */
  remove(serial: Uint8Array): T | undefined {
    if (this.#map.size === 0) return undefined;
    const key = toHex(serial);
    const p = this.#map.get(key);
    this.#map.delete(key);
    return p;
  }

  /** All pending transactions, oldest first. */
  list(): T[] {
    return [...this.#map.values()];
  }
}
