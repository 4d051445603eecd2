/**
 * The platform's double-entry ledger (`@simtap/host/ledger`): accounts with floors, transfers and two-phase
 * (pending) transfers in integer fen, idempotency keys scoped per client, a SHA-256-chained append-only journal
 * with `verify()`, and the stores behind {@link LedgerStore} (SQLite now).
 * @example
 * const ledger = openSqliteLedger({ path: './data/simtap.db' });
 * await ledger.openAccount('cash:kiosk-1', 'CASH');
 * await ledger.openAccount('phone:13800138000', 'PHONE');
 * await ledger.transfer({ client: 'app-1', idempotencyKey: 'k1', from: 'cash:kiosk-1', to: 'phone:13800138000', amount: 5000 });
 * (await ledger.verify()).ok; // true
 * @module
 */
export { LEDGER_ERRORS, LedgerError, type LedgerErrorCode, LedgerStoreError } from './errors';
export {
  ACCOUNT_KINDS,
  type Account,
  type AccountKind,
  checkAmount,
  entryHash,
  GENESIS_HASH,
  type Idempotency,
  type IdempotencyUse,
  type JournalEntry,
  type KindTotal,
  kindTotals,
  type LinkedTransferRequest,
  type LinkedTransferResult,
  MAX_LINKED_LEGS,
  MAX_LINKED_RECORDS,
  MAX_META_CHARS,
  MAX_RECORD_CHARS,
  type RecordWrite,
  type RememberFailure,
  requestHash,
  type SettleRequest,
  type StoredRecord,
  SUSPENSE_ACCOUNT,
  type Transfer,
  type TransferFilter,
  type TransferLeg,
  type TransferMeta,
  type TransferRequest,
  type TransferResult,
  type TransferState,
  type VerifyResult,
  verifyJournal,
} from './model';
export {
  openPostgresLedger,
  POSTGRES_SCHEMA_VERSION,
  type PostgresLedgerOptions,
  PostgresLedgerStore,
} from './postgres';
export {
  DEFAULT_DATABASE_PATH,
  openSqliteLedger,
  SQLITE_SCHEMA_VERSION,
  type SqliteLedgerOptions,
  SqliteLedgerStore,
} from './sqlite';
export { DEFAULT_SUSPEND_AFTER_MS, type LedgerStore, type LedgerStoreOptions } from './store';
