/**
 * How the platform's errors reach the wire: a sub-platform's `PlatformError`, the ledger's `LedgerError` and the key
 * store's `IssuerKeyError` become the application error (-32000) whose `data.code` has the same name; an
 * `ArgumentError` is invalid params (-32602); a store that is closed or failing is `UNAVAILABLE`; anything else is
 * `INTERNAL` (logged by the server, without the params).
 * @module
 */
import { CORE_ERRORS, hasErrorCode } from '@simtap/sdk/core/errors';
import {
  applicationError,
  JSONRPC_ERRORS,
  type RpcError,
  WIRE_ERROR_CODES,
  type WireErrorCode,
} from '@simtap/sdk/wire';
import { KEYS_ERRORS } from '../keys';
import { LEDGER_ERRORS } from '../ledger';
import { OTA_ERRORS } from '../ota/errors';
import { PLATFORM_ERRORS } from '../platform';

/**
 * An answer the server decided on itself (not an error of the platform): thrown by a handler, answered as its
 * {@link WireAnswer.rpc} error.
 */
export class WireAnswer extends Error {
  readonly rpc: RpcError;
  constructor(rpc: RpcError) {
    super(rpc.message);
    this.rpc = rpc;
    this.name = 'WireAnswer';
  }
}

/** The wire error for an error a handler threw; `log` says when the server logs it (and at which level). */
export function toRpcError(e: unknown): { readonly error: RpcError; readonly log?: 'warn' | 'error' } {
  if (e instanceof WireAnswer) return { error: e.rpc };
  if (hasErrorCode(e, CORE_ERRORS, 'BAD_ARGUMENT'))
    return { error: { code: JSONRPC_ERRORS.INVALID_PARAMS, message: e.message } };
  if (
    hasErrorCode(e, PLATFORM_ERRORS) ||
    hasErrorCode(e, LEDGER_ERRORS, 'INSUFFICIENT_FUNDS', 'IDEMPOTENCY_CONFLICT') ||
    hasErrorCode(e, KEYS_ERRORS, 'BAD_MAC1')
  ) {
    if (Object.hasOwn(WIRE_ERROR_CODES, e.code)) return { error: applicationError(e.code as WireErrorCode, e.message) };
  }
  if (hasErrorCode(e, LEDGER_ERRORS, 'TRANSFER_STATE')) return { error: applicationError('LOAD_STATE', e.message) };
  if (hasErrorCode(e, OTA_ERRORS, 'IDENTITY_REFUSED', 'CARD_ABSENT'))
    return { error: applicationError(e.code, e.message) };
  if (hasErrorCode(e, OTA_ERRORS))
    return { error: applicationError('UNAVAILABLE', `the link to the SIM failed: ${e.message}`), log: 'warn' };
  if (
    hasErrorCode(e, LEDGER_ERRORS, 'STORE_CLOSED', 'STORE_COMMIT_FAILED') ||
    hasErrorCode(e, KEYS_ERRORS, 'KEY_STORE_DESTROYED')
  )
    return {
      error: applicationError(
        'UNAVAILABLE',
        'the platform is shutting down or its store is unavailable; retry with the same idempotency key',
      ),
      log: 'warn',
    };
  return {
    error: applicationError(
      'INTERNAL',
      'an unexpected error of the platform; nothing is known to have moved, retry with the same idempotency key',
    ),
    log: 'error',
  };
}
