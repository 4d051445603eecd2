/**
 * The seam between the ledger's rules and a database: every store (SQLite now, PostgreSQL next) implements
 * {@link LedgerStore}, and one conformance suite (`describeLedgerStore`) checks each against the same rules.
 * @module
 */
import type {
  Account,
  AccountKind,
  IdempotencyUse,
  KindTotal,
  LinkedTransferRequest,
  LinkedTransferResult,
  RecordWrite,
  SettleRequest,
  StoredRecord,
  Transfer,
  TransferFilter,
  TransferRequest,
  TransferResult,
  TransferState,
  VerifyResult,
} from './model';

/**
 * A durable double-entry ledger. Every method that changes something resolves only after its commit is on disk,
 * and rejects with a typed `LedgerError` (nothing moved) or `LedgerStoreError`.
 */
export interface LedgerStore {
  /** Opens an account of `kind` (its floor is the kind's); repeating it with the same kind returns the account. */
  openAccount(id: string, kind: AccountKind): Promise<Account>;
  /** The account, or `undefined`. */
  getAccount(id: string): Promise<Account | undefined>;
  /**
   * Moves `amount` fen from `from` to `to` at once. Idempotent per `(client, idempotencyKey)`: the same request
   * again returns the first outcome (its result or its `LedgerError`) and moves nothing; another request under
   * the same key fails with `IDEMPOTENCY_CONFLICT`.
   * @throws LedgerError `AMOUNT_INVALID`, `ACCOUNT_UNKNOWN`, `INSUFFICIENT_FUNDS`, `BALANCE_OVERFLOW`, `IDEMPOTENCY_CONFLICT`
   */
  transfer(req: TransferRequest): Promise<TransferResult>;
  /**
   * Opens a pending transfer: `amount` is reserved on `from` at once (it counts against `from`'s available
   * balance) and moves only when the transfer is posted. Idempotent like {@link LedgerStore.transfer}.
   */
  hold(req: TransferRequest): Promise<TransferResult>;
  /**
   * Applies several direct transfers together: all of them or none (a leg that fails fails the whole request
   * with its error). Idempotent like {@link LedgerStore.transfer}, under one key for all the legs.
   */
  transferLinked(req: LinkedTransferRequest): Promise<LinkedTransferResult>;
  /**
   * Posts a pending (or suspended) transfer: the money moves to `to`. Exactly once: repeating the post with the
   * same reason returns the first result; anything else on a settled transfer fails with `TRANSFER_STATE`.
   */
  post(req: SettleRequest): Promise<TransferResult>;
  /** Voids a pending (or suspended) transfer: the reservation is released (a suspended amount returns to `from`). */
  void(req: SettleRequest): Promise<TransferResult>;
  /**
   * Moves a pending transfer's amount from `from` into the suspense account, where it waits, still pending, for the
   * proof that posts or voids it (a later `post` pays `to` from suspense, a `void` refunds `from`). Repeating it on
   * a suspended transfer returns it unchanged.
   */
  suspend(req: SettleRequest): Promise<TransferResult>;
  /**
   * Suspends every pending transfer older than the store's `suspendAfterMs`: what a scheduler calls for the back
   * office. Never voids anything: only a proof decides.
   */
  suspendStale(reason: string): Promise<TransferResult[]>;
  /** The transfer, or `undefined`. */
  getTransfer(id: string): Promise<Transfer | undefined>;
  /**
   * Transfers matching the filter, oldest first (in the order they were made): by state (`pending` and `suspended` are the back office's
   * reports) and/or by `ref` (a card's loads, a card's cleared purchases).
   */
  listTransfers(filter: TransferState | TransferFilter): Promise<Transfer[]>;
  /**
   * What the ledger holds under `(client, idempotencyKey)`: the operation, the hash of its body and whether its
   * outcome was a result or an error — or `undefined` when the key is unused. Lets a caller with checks of its own
   * before the ledger tell a retry (replay it) from a first request.
   */
  idempotencyOf(client: string, idempotencyKey: string): Promise<IdempotencyUse | undefined>;
  /** The record, or `undefined`. */
  getRecord<T = unknown>(collection: string, id: string): Promise<StoredRecord<T> | undefined>;
  /** The records of a collection whose id starts with `prefix` (default: all), by id. */
  listRecords<T = unknown>(collection: string, prefix?: string): Promise<StoredRecord<T>[]>;
  /**
   * Writes records together: all or none. A write with `expectVersion` applies only if the record has that
   * version now (`0`: does not exist); otherwise nothing is written and the call fails with `RECORD_CONFLICT`.
   * Resolves with the records as written, in order.
   */
  writeRecords(writes: readonly RecordWrite[]): Promise<StoredRecord[]>;
  /**
   * The stored balances by account kind (every kind, 0 when it has no account), in the order of `ACCOUNT_KINDS`:
   * the ledger per sub-platform — phone accounts, floats, pending loads, merchant payables, points — for reports.
   * Money sums to 0 over the fen kinds, as {@link LedgerStore.verify} checks from the journal.
   */
  summary(): Promise<KindTotal[]>;
  /** Recomputes every balance from the journal and checks the chain, the zero sum and the stored balances. */
  verify(): Promise<VerifyResult>;
  /** Commits what is queued, then closes; later calls fail with `STORE_CLOSED`. */
  close(): Promise<void>;
}

/** Options every store takes. */
export interface LedgerStoreOptions {
  /** How old (ms) a pending transfer must be for `suspendStale` to suspend it. Default 24 h. */
  readonly suspendAfterMs?: number;
  /** The clock (epoch ms); tests move it. Default `Date.now`. */
  readonly now?: () => number;
}

/** Default of {@link LedgerStoreOptions.suspendAfterMs}: 24 hours. */
export const DEFAULT_SUSPEND_AFTER_MS = 24 * 60 * 60 * 1000;
