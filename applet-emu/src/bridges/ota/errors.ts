/**
 * What {@link VirtualPhone} rejects with. Two families, as for the SDK's `PlatformClient`:
 *
 * - **The platform's answers**: a JSON-RPC error -32000 arrives as a {@link PhoneCallError} whose `code` is the
 *   platform's `error.data.code` (`IDENTITY_REFUSED`, `INSUFFICIENT_FUNDS`, …, the `WIRE_ERROR_CODES` of
 *   `@simtap/sdk/wire`); match it with {@link hasPhoneCallCode}, which types the codes.
 * - **The phone's own codes** ({@link PHONE_ERRORS}, matched with `hasErrorCode(e, PHONE_ERRORS, 'PHONE_TIMEOUT')`):
 *   the link ({@link PhoneConnectionError}) and answers the phone cannot read ({@link PhoneProtocolError}).
 *
 * @module
 */
import { defineErrors, SimtapError } from '@simtap/sdk/core/errors';
import { JSONRPC_ERRORS, type WireErrorCode } from '@simtap/sdk/wire';

/** The phone's own error codes (the platform's are the wire's, carried by {@link PhoneCallError}). */
export const PHONE_ERRORS = defineErrors({
  PHONE_CONNECT_FAILED: {
    class: 'PhoneConnectionError',
    when:
      "`VirtualPhone.connect()` could not open `/v1/ota` (the platform is not listening, the URL's path is wrong, " +
      'the upgrade was refused or `simtap.v1` not selected)',
    fix: 'check `url` and that the platform runs; the `cause` has the socket error',
  },
  PHONE_LINK_LOST: {
    class: 'PhoneConnectionError',
    when:
      'the link dropped while `connect()` or `topUp()` waited for an answer and `reconnect` is `false`; ' +
      '`effectUnknown` is set when the request had been sent',
    fix: 'connect a new phone; repeat a top-up with the same `idempotencyKey`',
  },
  PHONE_TIMEOUT: {
    class: 'PhoneConnectionError',
    when:
      'no answer within `timeoutMs` (`topUp`, reconnects included), or no notice of the kind (`waitForNotice`); ' +
      '`effectUnknown` as for `PHONE_LINK_LOST`',
    fix: 'retry the top-up with the same `idempotencyKey`: the platform answers its first outcome',
  },
  PHONE_REFUSED: {
    class: 'PhoneConnectionError',
    when:
      'the platform closed the link with 4403 (the SIM refused) without an error answer: at the hello, or later (a ' +
      'SIM that holds another card); a refused hello it answers arrives as `PhoneCallError` `IDENTITY_REFUSED`. ' +
      'Final: the phone does not reconnect',
    fix: 'check `msisdn` and `iccid` against the card the platform issued',
  },
  PHONE_CLOSED: {
    class: 'PhoneConnectionError',
    when: '`close()` was called while a call waited, or a call after `close()` (or after the platform refused the SIM)',
    fix: 'create a new `VirtualPhone`',
  },
  PHONE_PROTOCOL: {
    class: 'PhoneProtocolError',
    when:
      'the platform answered a JSON-RPC protocol error (-32600, -32601, -32602, -32700) or a result that does not ' +
      'fit the `/v1/ota` schema',
    fix: 'report it: phone and platform disagree on `/v1/ota`',
  },
});

/** A code of {@link PHONE_ERRORS}. */
export type PhoneErrorCode = keyof typeof PHONE_ERRORS;

/** What a call's error says besides its code. */
export interface PhoneErrorContext {
  /** The request the error belongs to (`phone.hello`, `phone.topUp`), when one. */
  readonly method?: string;
  /** The top-up's idempotency key: repeat the top-up with it to learn the outcome. */
  readonly idempotencyKey?: string;
  /** `true` when the request was sent and no answer came: its effect on the platform is unknown. */
  readonly effectUnknown?: boolean;
  /** The WebSocket close code of the link that dropped, when known. */
  readonly closeCode?: number;
  readonly cause?: unknown;
}

/** Base class of the phone's errors. */
export class PhoneError<C extends string = string> extends SimtapError<C> {
  readonly method: string | undefined;
  readonly idempotencyKey: string | undefined;
  readonly effectUnknown: boolean;
  readonly closeCode: number | undefined;
  constructor(code: C, message: string, context: PhoneErrorContext = {}) {
    super(code, message, context.cause === undefined ? undefined : { cause: context.cause });
    this.method = context.method;
    this.idempotencyKey = context.idempotencyKey;
    this.effectUnknown = context.effectUnknown ?? false;
    this.closeCode = context.closeCode;
  }
}

/**
 * The link to the platform: not reachable (`PHONE_CONNECT_FAILED`), lost without reconnection (`PHONE_LINK_LOST`),
 * no answer in time (`PHONE_TIMEOUT`), refused by a close 4403 alone (`PHONE_REFUSED`), the phone closed
 * (`PHONE_CLOSED`).
 */
export class PhoneConnectionError extends PhoneError<
  'PHONE_CONNECT_FAILED' | 'PHONE_LINK_LOST' | 'PHONE_TIMEOUT' | 'PHONE_REFUSED' | 'PHONE_CLOSED'
> {}

/** The platform answered something the phone cannot use (`PHONE_PROTOCOL`); `rpcCode` is the JSON-RPC code. */
export class PhoneProtocolError extends PhoneError<'PHONE_PROTOCOL'> {
  readonly rpcCode: number | undefined;
  constructor(message: string, context: PhoneErrorContext & { rpcCode?: number } = {}) {
    super('PHONE_PROTOCOL', message, context);
    this.rpcCode = context.rpcCode;
  }
}

/**
 * The platform's refusal (JSON-RPC -32000): `code` is its `error.data.code`, `data` the rest of `error.data`.
 * The platform answered, so nothing is unknown.
 * @example
 * try { await phone.connect(); } catch (e) { if (hasPhoneCallCode(e, 'IDENTITY_REFUSED')) console.log('not this SIM'); }
 */
export class PhoneCallError<C extends string = WireErrorCode> extends PhoneError<C> {
  readonly data: Readonly<Record<string, unknown>>;
  readonly rpcCode: number;
  constructor(code: C, message: string, data: Readonly<Record<string, unknown>> = {}, context: PhoneErrorContext = {}) {
    super(code, message, { ...context, effectUnknown: false });
    this.data = data;
    this.rpcCode = JSONRPC_ERRORS.APPLICATION;
  }
}

/**
 * True when `err` is the platform's refusal with one of `codes` (any, with none); the codes are typed.
 * @example hasPhoneCallCode(e, 'IDENTITY_REFUSED')
 */
export function hasPhoneCallCode<C extends WireErrorCode>(err: unknown, ...codes: C[]): err is PhoneCallError<C> {
  if (!(err instanceof PhoneCallError)) return false;
  return codes.length === 0 || (codes as string[]).includes(err.code);
}
