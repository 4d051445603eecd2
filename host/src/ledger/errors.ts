/**
 * The ledger's error codes. `INSUFFICIENT_FUNDS` and `IDEMPOTENCY_CONFLICT` are the names `simtap.v1` fixes
 * (`../shared/PROTOCOL.md`); the server of the next issue passes them through unchanged. Match them with the core's
 * `hasErrorCode(err, LEDGER_ERRORS, 'INSUFFICIENT_FUNDS')`.
 * @module
 */
import { type CodeOfClass, defineErrors, SimtapError } from '@simtap/sdk/core/errors';

/** The codes of {@link LedgerError} and {@link LedgerStoreError}. */
export const LEDGER_ERRORS = defineErrors({
  AMOUNT_INVALID: {
    class: 'LedgerError',
    when:
      'an amount is not an integer number of fen from 1 to `Number.MAX_SAFE_INTEGER` (a fraction, a negative, ' +
      'zero, `NaN`, a string, a bigint)',
    fix: 'a programming error of the caller: amounts are integer fen; nothing moved',
  },
  ACCOUNT_UNKNOWN: {
    class: 'LedgerError',
    when: 'a transfer or hold names an account that was never opened',
    fix: 'open the account first (`openAccount`); nothing moved',
  },
  ACCOUNT_KIND_MISMATCH: {
    class: 'LedgerError',
    when: '`openAccount` names an existing account with another kind',
    fix: 'account ids are permanent: choose another id, or open it with its kind',
  },
  INSUFFICIENT_FUNDS: {
    class: 'LedgerError',
    when: "the debit would take the account's available balance (balance minus its pending holds) below its floor",
    fix: 'nothing moved; the outcome is kept for the idempotency key: a retry with the same key gets it again',
  },
  BALANCE_OVERFLOW: {
    class: 'LedgerError',
    when: 'a balance would leave the safe-integer range (±`Number.MAX_SAFE_INTEGER` fen)',
    fix: 'nothing moved; amounts of this size are not money',
  },
  IDEMPOTENCY_CONFLICT: {
    class: 'LedgerError',
    when: 'an idempotency key the client already used comes with another operation or other parameters',
    fix: 'a new operation needs a new key; repeat the first request exactly to get its outcome',
  },
  TRANSFER_UNKNOWN: {
    class: 'LedgerError',
    when: '`post`, `void` or `suspend` names a transfer that does not exist',
    fix: 'check the transfer id',
  },
  TRANSFER_STATE: {
    class: 'LedgerError',
    when:
      'a pending transfer is not in a state that allows the call: post or void of a transfer already settled the ' +
      'other way (or with another reason), post or void of a direct transfer, suspend of a settled one (the ' +
      "wallets surface it as `simtap.v1`'s `LOAD_STATE`)",
    fix: 'each pending transfer is settled exactly once; read it (`getTransfer`) to see how',
  },
  RECORD_CONFLICT: {
    class: 'LedgerError',
    when:
      '`writeRecords` expected a record at one version and found another (another writer came first); none of ' +
      'the writes was applied',
    fix: 'read the record again and redo the change (compare-and-set)',
  },
  STORE_SCHEMA_NEWER: {
    class: 'LedgerStoreError',
    when: 'the database was migrated by a newer simtap: its schema version is above the versions this code knows',
    fix: 'run the newer simtap, or restore a backup made for this version; the store opens nothing',
  },
  STORE_CLOSED: {
    class: 'LedgerStoreError',
    when: 'an operation on a store after `close()`',
    fix: 'open the store again',
  },
  STORE_COMMIT_FAILED: {
    class: 'LedgerStoreError',
    when: 'the database refused a group commit (disk full, I/O error); every operation of the group fails with it',
    fix: 'nothing of the group was applied; retry each with its idempotency key once the disk is healthy',
  },
});

/** Code of a {@link LedgerError} or {@link LedgerStoreError}. */
export type LedgerErrorCode = keyof typeof LEDGER_ERRORS;

/** A ledger rule refused an operation; nothing moved. */
export class LedgerError extends SimtapError<CodeOfClass<typeof LEDGER_ERRORS, 'LedgerError'>> {}

/** The store itself failed or refused to open. */
export class LedgerStoreError extends SimtapError<CodeOfClass<typeof LEDGER_ERRORS, 'LedgerStoreError'>> {}
