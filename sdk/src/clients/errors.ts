/**
 * What {@link PlatformClient} rejects with. Two families:
 *
 * - **The platform's answers**: a JSON-RPC error -32000 arrives as a {@link PlatformCallError} whose `code` is the
 *   server's `error.data.code` (`INSUFFICIENT_FUNDS`, `BAD_MAC1`, …; the codes and their meaning are
 *   `WIRE_ERROR_CODES` of `@simtap/sdk/wire` and `docs/protocol.md`). Each code has its subclass
 *   ({@link InsufficientFundsError}, {@link BadMac1Error}, …); match codes with {@link hasPlatformErrorCode}, which
 *   types them: `hasPlatformErrorCode(e, 'INSUFFICIENT_FUNDS')`.
 * - **The client's own codes** ({@link CLIENT_ERRORS}, matched with the core's `hasErrorCode(e, CLIENT_ERRORS,
 *   'CALL_TIMEOUT')`): protocol errors (-32600 / -32601 / -32602, and bad params found locally before any round
 *   trip) as {@link ProtocolError}, {@link TimeoutError}, {@link AbortError}, {@link ConnectionError},
 *   {@link AuthenticationError} (fatal: a wrong secret or the wrong endpoint) and {@link ClientClosedError}.
 *
 * A call that moves money and ends without an answer (timeout, abort, lost connection, close) says so:
 * `effectUnknown` is `true` when its request reached the wire, and `idempotencyKey` is the key to retry it with —
 * the retry returns the first outcome and moves no money twice.
 *
 * @module
 */
import { defineErrors, SimtapError } from '../core/errors';
import { JSONRPC_ERRORS, type RpcError, WIRE_ERROR_CODES, type WireErrorCode } from '../wire';

/**
 * The client's own error codes (the platform's application codes are the wire's `WIRE_ERROR_CODES`, carried by
 * {@link PlatformCallError}).
 * @example
 * import { hasErrorCode } from '@simtap/sdk/core/errors';
 * import { CLIENT_ERRORS } from '@simtap/sdk/clients';
 * const retryLater = (e: unknown) => hasErrorCode(e, CLIENT_ERRORS, 'CALL_TIMEOUT', 'CONNECTION_LOST');
 */
export const CLIENT_ERRORS = defineErrors({
  CALL_TIMEOUT: {
    class: 'TimeoutError',
    when:
      'a `PlatformClient` call got no answer within its `timeoutMs` (reconnects and retries included); ' +
      '`effectUnknown` is set when a money-moving request reached the platform',
    fix: 'retry with the same `idempotencyKey` (the error carries it): the platform returns the first outcome',
  },
  CALL_ABORTED: {
    class: 'AbortError',
    when: "the caller's `AbortSignal` aborted a `PlatformClient` call; `effectUnknown` as for `CALL_TIMEOUT`",
    fix: 'nothing, or retry with the same `idempotencyKey` to learn the outcome',
  },
  CONNECTION_LOST: {
    class: 'ConnectionError',
    when:
      'the connection dropped while a call that cannot be re-sent safely was in flight (`cards.reportLost`, ' +
      '`cards.block`, `cards.unblock`), or the client gave up reconnecting (`reconnect.maxAttempts`)',
    fix: 'read the state back (`cards.get`) before repeating the call',
  },
  CONNECT_FAILED: {
    class: 'ConnectionError',
    when: '`connect()` could not open and authenticate a session within its time or attempts',
    fix: 'check the URL, that the platform runs, and the TLS options; the `cause` has the last failure',
  },
  AUTH_FAILED: {
    class: 'AuthenticationError',
    when:
      'the platform refused the session: `BAD_PROOF` / close 4401 (wrong secret or unknown client id) or ' +
      "`FORBIDDEN` / close 4403 (the client's role does not match the endpoint); fatal, the client does not retry",
    fix: 'fix `clientId`, `secret` or `endpoint`, then create a new client',
  },
  CLIENT_CLOSED: {
    class: 'ClientClosedError',
    when: 'a call on a `PlatformClient` after `close()`, or in flight when `close()` was called',
    fix: 'create a new client; a money-moving call with `effectUnknown` is retried with its `idempotencyKey`',
  },
  INVALID_PARAMS: {
    class: 'ProtocolError',
    when:
      "a call's params do not fit the method's schema: found by the client before sending, or answered -32602 " +
      'by the platform',
    fix: 'a programming error: fix the params (the message names the fields)',
  },
  METHOD_NOT_FOUND: {
    class: 'ProtocolError',
    when: 'the endpoint does not serve the method (-32601, or found by the client before sending)',
    fix: 'call the method on its endpoint (`endpoint: "console"` for the operator methods)',
  },
  INVALID_REQUEST: {
    class: 'ProtocolError',
    when: 'the platform answered -32600 / -32700 or another JSON-RPC error the protocol does not define',
    fix: 'report it: client and platform disagree on `simtap.v1`',
  },
  INVALID_RESULT: {
    class: 'ProtocolError',
    when: "a result does not fit the method's result schema (the raw result is in `data.result`)",
    fix: 'report it: client and platform disagree on `simtap.v1`; a money-moving call has taken effect',
  },
  FRAME_TOO_BIG: {
    class: 'ProtocolError',
    when: 'a request over the 1 MiB frame limit (found before sending, or the platform closed with 1009)',
    fix: 'split the call (e.g. a clearing batch into batches of at most 500 records)',
  },
});

/** A code of {@link CLIENT_ERRORS}. */
export type ClientErrorCode = keyof typeof CLIENT_ERRORS;

/** What every error of the client carries besides its code: the call, and what is known of its effect. */
export interface CallErrorContext {
  /** The method of the call, when the error belongs to one. */
  readonly method?: string;
  /** The idempotency key the call was sent with (money-moving calls): retry with it to learn the outcome. */
  readonly idempotencyKey?: string;
  /**
   * `true` when the request reached the wire and no answer came: the effect on the platform is unknown (a
   * money-moving call is then retried with `idempotencyKey`). `false` when the platform answered or the request
   * was never sent.
   */
  readonly effectUnknown?: boolean;
  /** What led to it. */
  readonly cause?: unknown;
}

/**
 * Base class of everything {@link PlatformClient} rejects with.
 * @example
 * import { PlatformClientError } from '@simtap/sdk/clients';
 * const describe = (e: unknown) => (e instanceof PlatformClientError ? `${e.method ?? '-'}: ${e.code}` : String(e));
 */
export class PlatformClientError<C extends string = string> extends SimtapError<C> {
  /** The method of the call. */
  readonly method: string | undefined;
  /** The idempotency key the call was sent with (money-moving calls). */
  readonly idempotencyKey: string | undefined;
  /** `true` when the request reached the platform and no answer came: its effect is unknown. */
  readonly effectUnknown: boolean;
  constructor(code: C, message: string, context: CallErrorContext = {}) {
    super(code, message, context.cause === undefined ? undefined : { cause: context.cause });
    this.method = context.method;
    this.idempotencyKey = context.idempotencyKey;
    this.effectUnknown = context.effectUnknown ?? false;
  }
}

/**
 * An application error the platform answered (JSON-RPC -32000): `code` is its `error.data.code`, `data` the rest
 * of `error.data`. The platform answered, so nothing is unknown: a money-moving call that failed moved no money
 * (and a retry with the same key answers the same error). Subclasses per code ({@link InsufficientFundsError},
 * …); a code this SDK does not know yet arrives as this class.
 * @example
 * import { hasPlatformErrorCode, PlatformCallError } from '@simtap/sdk/clients';
 * function explain(e: unknown): string {
 *   if (hasPlatformErrorCode(e, 'INSUFFICIENT_FUNDS')) return 'top up the phone account first';
 *   return e instanceof PlatformCallError ? `${e.method} refused: ${e.code}` : 'not an answer of the platform';
 * }
 */
export class PlatformCallError<C extends string = WireErrorCode> extends PlatformClientError<C> {
  /** `error.data` as the platform sent it (`code` included). */
  readonly data: Readonly<Record<string, unknown>>;
  /** The JSON-RPC `error.code` (-32000). */
  readonly rpcCode: number;
  constructor(
    code: C,
    message: string,
    data: Readonly<Record<string, unknown>> = {},
    context: CallErrorContext & { rpcCode?: number } = {},
  ) {
    super(code, message, { ...context, effectUnknown: false });
    this.data = data;
    this.rpcCode = context.rpcCode ?? JSONRPC_ERRORS.APPLICATION;
  }
}

/**
 * `UNAUTHENTICATED`: a call before the session was authenticated (the client authenticates first; not expected).
 * @example
 * import { UnauthenticatedError } from '@simtap/sdk/clients';
 * const unauthenticated = (e: unknown) => e instanceof UnauthenticatedError; // or hasPlatformErrorCode(e, 'UNAUTHENTICATED')
 */
export class UnauthenticatedError extends PlatformCallError<'UNAUTHENTICATED'> {}
/**
 * `BAD_PROOF` as a call's answer (a refused session arrives as {@link AuthenticationError}).
 * @example
 * import { BadProofError } from '@simtap/sdk/clients';
 * const badProof = (e: unknown) => e instanceof BadProofError; // or hasPlatformErrorCode(e, 'BAD_PROOF')
 */
export class BadProofError extends PlatformCallError<'BAD_PROOF'> {}
/**
 * `FORBIDDEN`: the client's role may not make this call.
 * @example
 * import { ForbiddenError } from '@simtap/sdk/clients';
 * const forbidden = (e: unknown) => e instanceof ForbiddenError; // or hasPlatformErrorCode(e, 'FORBIDDEN')
 */
export class ForbiddenError extends PlatformCallError<'FORBIDDEN'> {}
/**
 * `RATE_LIMITED`: the client retries after a delay; this arrives only when its budget runs out.
 * @example
 * import { RateLimitedError } from '@simtap/sdk/clients';
 * const rateLimited = (e: unknown) => e instanceof RateLimitedError; // or hasPlatformErrorCode(e, 'RATE_LIMITED')
 */
export class RateLimitedError extends PlatformCallError<'RATE_LIMITED'> {}
/**
 * `IDEMPOTENCY_CONFLICT`: the idempotency key was used with another method or other params.
 * @example
 * import { IdempotencyConflictError } from '@simtap/sdk/clients';
 * const idempotencyConflict = (e: unknown) => e instanceof IdempotencyConflictError; // or hasPlatformErrorCode(e, 'IDEMPOTENCY_CONFLICT')
 */
export class IdempotencyConflictError extends PlatformCallError<'IDEMPOTENCY_CONFLICT'> {}
/**
 * `UNKNOWN_CARD`: no card with this serial was issued.
 * @example
 * import { UnknownCardError } from '@simtap/sdk/clients';
 * const unknownCard = (e: unknown) => e instanceof UnknownCardError; // or hasPlatformErrorCode(e, 'UNKNOWN_CARD')
 */
export class UnknownCardError extends PlatformCallError<'UNKNOWN_CARD'> {}
/**
 * `CARD_BLOCKED`: the card is blocked, lost or not yet active.
 * @example
 * import { CardBlockedError } from '@simtap/sdk/clients';
 * const cardBlocked = (e: unknown) => e instanceof CardBlockedError; // or hasPlatformErrorCode(e, 'CARD_BLOCKED')
 */
export class CardBlockedError extends PlatformCallError<'CARD_BLOCKED'> {}
/**
 * `INSUFFICIENT_FUNDS`: the account to debit has not enough available.
 * @example
 * import { InsufficientFundsError } from '@simtap/sdk/clients';
 * const insufficientFunds = (e: unknown) => e instanceof InsufficientFundsError; // or hasPlatformErrorCode(e, 'INSUFFICIENT_FUNDS')
 */
export class InsufficientFundsError extends PlatformCallError<'INSUFFICIENT_FUNDS'> {}
/**
 * `BAD_MAC1`: the load's MAC1 is not the card's.
 * @example
 * import { BadMac1Error } from '@simtap/sdk/clients';
 * const badMac1 = (e: unknown) => e instanceof BadMac1Error; // or hasPlatformErrorCode(e, 'BAD_MAC1')
 */
export class BadMac1Error extends PlatformCallError<'BAD_MAC1'> {}
/**
 * `BAD_TAC`: a TAC or a card proof does not verify; the load stays pending.
 * @example
 * import { BadTacError } from '@simtap/sdk/clients';
 * const badTac = (e: unknown) => e instanceof BadTacError; // or hasPlatformErrorCode(e, 'BAD_TAC')
 */
export class BadTacError extends PlatformCallError<'BAD_TAC'> {}
/**
 * `UNKNOWN_LOAD`: no load with this id.
 * @example
 * import { UnknownLoadError } from '@simtap/sdk/clients';
 * const unknownLoad = (e: unknown) => e instanceof UnknownLoadError; // or hasPlatformErrorCode(e, 'UNKNOWN_LOAD')
 */
export class UnknownLoadError extends PlatformCallError<'UNKNOWN_LOAD'> {}
/**
 * `LOAD_STATE`: the load is not in a state that allows the call.
 * @example
 * import { LoadStateError } from '@simtap/sdk/clients';
 * const loadState = (e: unknown) => e instanceof LoadStateError; // or hasPlatformErrorCode(e, 'LOAD_STATE')
 */
export class LoadStateError extends PlatformCallError<'LOAD_STATE'> {}
/**
 * `BALANCE_LIMIT`: the load would take the purse over its maximum balance.
 * @example
 * import { BalanceLimitError } from '@simtap/sdk/clients';
 * const balanceLimit = (e: unknown) => e instanceof BalanceLimitError; // or hasPlatformErrorCode(e, 'BALANCE_LIMIT')
 */
export class BalanceLimitError extends PlatformCallError<'BALANCE_LIMIT'> {}
/**
 * `UNKNOWN_CUSTOMER`: no customer (phone account) with this MSISDN.
 * @example
 * import { UnknownCustomerError } from '@simtap/sdk/clients';
 * const unknownCustomer = (e: unknown) => e instanceof UnknownCustomerError; // or hasPlatformErrorCode(e, 'UNKNOWN_CUSTOMER')
 */
export class UnknownCustomerError extends PlatformCallError<'UNKNOWN_CUSTOMER'> {}
/**
 * `NO_MERCHANT`: the client settles to no merchant.
 * @example
 * import { NoMerchantError } from '@simtap/sdk/clients';
 * const noMerchant = (e: unknown) => e instanceof NoMerchantError; // or hasPlatformErrorCode(e, 'NO_MERCHANT')
 */
export class NoMerchantError extends PlatformCallError<'NO_MERCHANT'> {}
/**
 * `FUNDING_REFUSED`: a load funded from a phone account that is not the card holder's.
 * @example
 * import { FundingRefusedError } from '@simtap/sdk/clients';
 * const fundingRefused = (e: unknown) => e instanceof FundingRefusedError; // or hasPlatformErrorCode(e, 'FUNDING_REFUSED')
 */
export class FundingRefusedError extends PlatformCallError<'FUNDING_REFUSED'> {}
/**
 * `BAD_CARD_PROOF`: the card's INTERNAL AUTHENTICATE answer, or its challenge, is not valid.
 * @example
 * import { BadCardProofError } from '@simtap/sdk/clients';
 * const badCardProof = (e: unknown) => e instanceof BadCardProofError; // or hasPlatformErrorCode(e, 'BAD_CARD_PROOF')
 */
export class BadCardProofError extends PlatformCallError<'BAD_CARD_PROOF'> {}
/**
 * `CARD_STATE`: a life-cycle change the card cannot make.
 * @example
 * import { CardStateError } from '@simtap/sdk/clients';
 * const cardState = (e: unknown) => e instanceof CardStateError; // or hasPlatformErrorCode(e, 'CARD_STATE')
 */
export class CardStateError extends PlatformCallError<'CARD_STATE'> {}
/**
 * `PHONE_UNREACHABLE`: the phone of the card is not connected; the request runs at its next contact.
 * @example
 * import { PhoneUnreachableError } from '@simtap/sdk/clients';
 * const phoneUnreachable = (e: unknown) => e instanceof PhoneUnreachableError; // or hasPlatformErrorCode(e, 'PHONE_UNREACHABLE')
 */
export class PhoneUnreachableError extends PlatformCallError<'PHONE_UNREACHABLE'> {}
/**
 * `IDENTITY_REFUSED` (`/v1/ota`): the phone's SIM is not the card it claims; the connection closes with 4403.
 * @example
 * import { IdentityRefusedError } from '@simtap/sdk/clients';
 * const refused = (e: unknown) => e instanceof IdentityRefusedError; // or hasPlatformErrorCode(e, 'IDENTITY_REFUSED')
 */
export class IdentityRefusedError extends PlatformCallError<'IDENTITY_REFUSED'> {}
/**
 * `CARD_ABSENT` (`/v1/ota`): the SIM did not answer; the platform resumes at the next contact.
 * @example
 * import { CardAbsentError } from '@simtap/sdk/clients';
 * const absent = (e: unknown) => e instanceof CardAbsentError; // or hasPlatformErrorCode(e, 'CARD_ABSENT')
 */
export class CardAbsentError extends PlatformCallError<'CARD_ABSENT'> {}
/**
 * `TIMEOUT`: the platform did not finish in time (retried by the client with the same key until `timeoutMs`).
 * @example
 * import { PlatformTimeoutError } from '@simtap/sdk/clients';
 * const platformTimeout = (e: unknown) => e instanceof PlatformTimeoutError; // or hasPlatformErrorCode(e, 'TIMEOUT')
 */
export class PlatformTimeoutError extends PlatformCallError<'TIMEOUT'> {}
/**
 * `UNAVAILABLE`: the platform is shutting down or its store is unavailable (retried like `TIMEOUT`).
 * @example
 * import { UnavailableError } from '@simtap/sdk/clients';
 * const unavailable = (e: unknown) => e instanceof UnavailableError; // or hasPlatformErrorCode(e, 'UNAVAILABLE')
 */
export class UnavailableError extends PlatformCallError<'UNAVAILABLE'> {}
/**
 * `INTERNAL`: an unexpected error of the platform; nothing is known to have moved, retry with the same key.
 * @example
 * import { InternalError } from '@simtap/sdk/clients';
 * const internal = (e: unknown) => e instanceof InternalError; // or hasPlatformErrorCode(e, 'INTERNAL')
 */
export class InternalError extends PlatformCallError<'INTERNAL'> {}

type CallErrorClass = new (
  code: never,
  message: string,
  data?: Readonly<Record<string, unknown>>,
  context?: CallErrorContext & { rpcCode?: number },
) => PlatformCallError<string>;

/** The class of each application code of `simtap.v1` (a compile error when the wire gains a code). */
const CALL_ERROR_CLASSES: { readonly [C in WireErrorCode]: CallErrorClass } = {
  UNAUTHENTICATED: UnauthenticatedError,
  BAD_PROOF: BadProofError,
  FORBIDDEN: ForbiddenError,
  RATE_LIMITED: RateLimitedError,
  IDEMPOTENCY_CONFLICT: IdempotencyConflictError,
  UNKNOWN_CARD: UnknownCardError,
  CARD_BLOCKED: CardBlockedError,
  INSUFFICIENT_FUNDS: InsufficientFundsError,
  BAD_MAC1: BadMac1Error,
  BAD_TAC: BadTacError,
  UNKNOWN_LOAD: UnknownLoadError,
  LOAD_STATE: LoadStateError,
  BALANCE_LIMIT: BalanceLimitError,
  UNKNOWN_CUSTOMER: UnknownCustomerError,
  NO_MERCHANT: NoMerchantError,
  FUNDING_REFUSED: FundingRefusedError,
  BAD_CARD_PROOF: BadCardProofError,
  CARD_STATE: CardStateError,
  PHONE_UNREACHABLE: PhoneUnreachableError,
  TIMEOUT: PlatformTimeoutError,
  UNAVAILABLE: UnavailableError,
  INTERNAL: InternalError,
  IDENTITY_REFUSED: IdentityRefusedError,
  CARD_ABSENT: CardAbsentError,
};

/**
 * True when `err` is the platform's answer ({@link PlatformCallError}) with one of `codes` (any code with none).
 * The codes are typed by the wire's catalogue, so a misspelt code does not compile.
 * @example
 * import { hasPlatformErrorCode } from '@simtap/sdk/clients';
 * const cardUnusable = (e: unknown) => hasPlatformErrorCode(e, 'CARD_BLOCKED', 'UNKNOWN_CARD');
 */
export function hasPlatformErrorCode<C extends WireErrorCode>(
  err: unknown,
  ...codes: C[]
): err is PlatformCallError<C> {
  if (!(err instanceof PlatformCallError)) return false;
  return codes.length === 0 || (codes as string[]).includes(err.code);
}

/**
 * A protocol-layer failure: bad params (found locally or answered -32602), a method the endpoint does not serve
 * (-32601), a request the platform could not read (-32600 / -32700), a result that does not fit its schema, a
 * frame over the limit. `rpcCode` is the JSON-RPC code (for `INVALID_RESULT` and `FRAME_TOO_BIG`, none).
 * @example
 * import { hasErrorCode } from '@simtap/sdk/core/errors';
 * import { CLIENT_ERRORS } from '@simtap/sdk/clients';
 * const isBug = (e: unknown) => hasErrorCode(e, CLIENT_ERRORS, 'INVALID_PARAMS', 'METHOD_NOT_FOUND');
 */
export class ProtocolError extends PlatformClientError<
  'INVALID_PARAMS' | 'METHOD_NOT_FOUND' | 'INVALID_REQUEST' | 'INVALID_RESULT' | 'FRAME_TOO_BIG'
> {
  /** The JSON-RPC error code, when the platform answered one (or the one it would answer). */
  readonly rpcCode: number | undefined;
  /** Details: the platform's `error.data`, or `{ result }` for `INVALID_RESULT`. */
  readonly data: Readonly<Record<string, unknown>>;
  constructor(
    code: ProtocolError['code'],
    message: string,
    context: CallErrorContext & { rpcCode?: number; data?: Readonly<Record<string, unknown>> } = {},
  ) {
    super(code, message, context);
    this.rpcCode = context.rpcCode;
    this.data = context.data ?? {};
  }
}

/**
 * `CALL_TIMEOUT`: no answer within the call's `timeoutMs`. For a money-moving call `effectUnknown` tells whether
 * the request reached the platform; retry with `idempotencyKey` to learn the outcome without moving money twice.
 * @example
 * import { TimeoutError } from '@simtap/sdk/clients';
 * const retryKey = (e: unknown) => (e instanceof TimeoutError && e.effectUnknown ? e.idempotencyKey : undefined);
 */
export class TimeoutError extends PlatformClientError<'CALL_TIMEOUT'> {
  constructor(message: string, context: CallErrorContext = {}) {
    super('CALL_TIMEOUT', message, context);
  }
}

/**
 * `CALL_ABORTED`: the caller's `AbortSignal` aborted the call (`cause` is the signal's reason); `effectUnknown`
 * and `idempotencyKey` as for {@link TimeoutError}.
 * @example
 * import { AbortError } from '@simtap/sdk/clients';
 * const aborted = (e: unknown) => e instanceof AbortError;
 */
export class AbortError extends PlatformClientError<'CALL_ABORTED'> {
  constructor(message: string, context: CallErrorContext = {}) {
    super('CALL_ABORTED', message, context);
  }
}

/**
 * The connection failed in a way the client does not hide: `CONNECTION_LOST` (a call that cannot be re-sent was
 * in flight, or reconnecting gave up) or `CONNECT_FAILED` (`connect()` gave up). `closeCode` is the WebSocket
 * close code when there was one.
 * @example
 * import { ConnectionError } from '@simtap/sdk/clients';
 * const closeCodeOf = (e: unknown) => (e instanceof ConnectionError ? e.closeCode : undefined);
 */
export class ConnectionError extends PlatformClientError<'CONNECTION_LOST' | 'CONNECT_FAILED'> {
  /** The WebSocket close code, when the connection was closed with one. */
  readonly closeCode: number | undefined;
  constructor(code: ConnectionError['code'], message: string, context: CallErrorContext & { closeCode?: number } = {}) {
    super(code, message, context);
    this.closeCode = context.closeCode;
  }
}

/**
 * `AUTH_FAILED`: the platform refused the session — `reason` `BAD_PROOF` (close 4401: a wrong secret or unknown
 * client id) or `FORBIDDEN` (close 4403: the client's role does not match the endpoint). Fatal: the client does not
 * reconnect, and every call on it rejects with this error.
 * @example
 * import { AuthenticationError } from '@simtap/sdk/clients';
 * const wrongSecret = (e: unknown) => e instanceof AuthenticationError && e.reason === 'BAD_PROOF';
 */
export class AuthenticationError extends PlatformClientError<'AUTH_FAILED'> {
  /** The platform's code: `BAD_PROOF` or `FORBIDDEN`. */
  readonly reason: 'BAD_PROOF' | 'FORBIDDEN';
  /** The close code (4401 or 4403) when the platform closed the connection before answering. */
  readonly closeCode: number | undefined;
  constructor(
    reason: 'BAD_PROOF' | 'FORBIDDEN',
    message: string,
    context: CallErrorContext & { closeCode?: number } = {},
  ) {
    super('AUTH_FAILED', message, context);
    this.reason = reason;
    this.closeCode = context.closeCode;
  }
}

/**
 * `CLIENT_CLOSED`: the client was closed (before the call, or with the call in flight: `effectUnknown` then).
 * @example
 * import { ClientClosedError } from '@simtap/sdk/clients';
 * const closed = (e: unknown) => e instanceof ClientClosedError;
 */
export class ClientClosedError extends PlatformClientError<'CLIENT_CLOSED'> {
  constructor(message: string, context: CallErrorContext = {}) {
    super('CLIENT_CLOSED', message, context);
  }
}

/**
 * The error a JSON-RPC error answer stands for.
 * @internal
 */
export function errorFromRpc(error: RpcError, context: CallErrorContext): PlatformClientError {
  const data: Record<string, unknown> = { ...(error.data ?? {}) };
  switch (error.code) {
    case JSONRPC_ERRORS.INVALID_PARAMS:
      return new ProtocolError('INVALID_PARAMS', error.message, { ...context, rpcCode: error.code, data });
    case JSONRPC_ERRORS.METHOD_NOT_FOUND:
      return new ProtocolError('METHOD_NOT_FOUND', error.message, { ...context, rpcCode: error.code, data });
  }
  const code = typeof data.code === 'string' ? data.code : undefined;
  if (error.code !== JSONRPC_ERRORS.APPLICATION || code === undefined)
    return new ProtocolError('INVALID_REQUEST', error.message, { ...context, rpcCode: error.code, data });
  const Class: CallErrorClass = Object.hasOwn(WIRE_ERROR_CODES, code)
    ? CALL_ERROR_CLASSES[code as WireErrorCode]
    : PlatformCallError;
  return new Class(code as never, error.message, data, { ...context, rpcCode: error.code });
}
