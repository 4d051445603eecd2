/**
 * Error families shared by every simtap package, and the shape of the error-code tables.
 *
 * Every error carries a stable, documented `code` string; tests and integrators branch on `code`,
 * never on message text. See `docs/errors.md` for the catalogue, which is generated from the tables.
 *
 * ## Error-code tables (one per area, next to the area's error classes)
 *
 * ```ts
 * export const GP_ERRORS = defineErrors({
 *   SCP_HOST_CRYPTOGRAM_INVALID: {
 *     class: 'CryptoError',            // the doc's "class" column; class names are set in code font
 *     when: 'the card side cannot verify the host cryptogram (card answers `6300`)', // "thrown when" (markdown)
 *     fix: 'wrong keys on the host; stop',                                             // "what to do" (markdown)
 *   },
 * });
 * export type GpErrorCode = keyof typeof GP_ERRORS;
 * ```
 *
 * - Keys are the codes (`SCREAMING_SNAKE`); the table is named `<AREA>_ERRORS`, its union `<Area>ErrorCode`.
 *   {@link defineErrors} keeps the literal types (no `as const` needed) and freezes the table.
 * - An area class takes its union: `class TlvError extends ParseError<TlvErrorCode>`. A shared class takes the
 *   union as a type argument at the throw site: `new ParseError<BytesErrorCode>('HEX_INVALID', …)`, so a typo
 *   is a type error. {@link CodeOfClass} picks the codes of one class out of a table.
 * - Code matches go through {@link hasErrorCode} with the table: `hasErrorCode(e, GP_ERRORS,
 *   'SCP_HOST_CRYPTOGRAM_INVALID')`; never `e.code === '…'` and never a class-name check.
 * - `docs/errors.md` is generated from the tables by `scripts/gen-docs.ts` (`npm run docs:gen`), which holds the
 *   registry: each doc section's title, intro and tables. A new table must be added to that registry;
 *   `tests/docs/errors-doc.test.ts` fails on a thrown code that is in no table.
 *
 * @module
 */

/** One row of an error-code table: how `docs/errors.md` describes the code. */
export interface ErrorInfo {
  /**
   * The class(es) thrown with the code, as the doc's "class" column reads (`'TlvError'`,
   * `'SecurityStatusError; MacError in machines'`); words ending in `Error` are set in code font.
   */
  readonly class: string;
  /** When it is thrown ("thrown when …"), markdown. */
  readonly when: string;
  /** What the caller should do, markdown. */
  readonly fix: string;
}

/** An error-code table: code → {@link ErrorInfo}. */
export type ErrorTable = { readonly [code: string]: ErrorInfo };

/** The codes of a table whose `class` is exactly `Name`: `CodeOfClass<typeof RUNTIME_ERRORS, 'StoreError'>`. */
export type CodeOfClass<T extends ErrorTable, Name extends string> = {
  [K in keyof T]: T[K]['class'] extends Name ? K : never;
}[keyof T] &
  string;

/**
 * Declares an error-code table: returns `table` frozen, with its literal types kept.
 * @example
 * export const PROFILE_ERRORS = defineErrors({
 *   PROFILE_INVALID: { class: 'ProfileError', when: 'a card profile fails validation', fix: 'fix the profile' },
 * });
 * export type ProfileErrorCode = keyof typeof PROFILE_ERRORS;
 */
export function defineErrors<const T extends ErrorTable>(table: T): T {
  for (const info of Object.values(table)) Object.freeze(info);
  return Object.freeze(table);
}

/**
 * True when `err` is an `Error` whose `code` is one of `codes` (or, with no `codes`, any code of `table`).
 * `table` types the codes, so a misspelt code does not compile.
 * @example
 * if (hasErrorCode(e, TRANSPORT_ERRORS, 'CARD_REMOVED')) retryTap();
 */
export function hasErrorCode<T extends ErrorTable, C extends keyof T & string = keyof T & string>(
  err: unknown,
  table: T,
  ...codes: C[]
): err is Error & { readonly code: C } {
  if (!(err instanceof Error) || !('code' in err) || typeof err.code !== 'string') return false;
  return codes.length === 0 ? Object.hasOwn(table, err.code) : (codes as string[]).includes(err.code);
}

/** Base class of every error simtap throws on purpose. */
export class SimtapError<C extends string = string> extends Error {
  /** Stable machine-readable code, e.g. `TLV_TRUNCATED`, `APDU_BAD_LENGTH`. */
  readonly code: C;
  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Malformed input handed to a decoder (hex, TLV, APDU, profile, …). `offset` says where, when known. */
export class ParseError<C extends string = string> extends SimtapError<C> {
  readonly offset: number | undefined;
  constructor(code: C, message: string, offset?: number, options?: { cause?: unknown }) {
    super(code, offset === undefined ? message : `${message} (at offset ${offset})`, options);
    this.offset = offset;
  }
}

/** The codes of the core's own classes ({@link ArgumentError}). */
export const CORE_ERRORS = defineErrors({
  BAD_ARGUMENT: {
    class: 'ArgumentError',
    when:
      'a caller passed a value outside its documented domain: wrong key or buffer length, amount out of range, ' +
      'wrong type, an operation on the wrong side of a session',
    fix: 'a programming error: fix the call; the message names the argument',
  },
});

/** Code of an {@link ArgumentError}. */
export type CoreErrorCode = keyof typeof CORE_ERRORS;

/** An argument outside its documented domain (wrong key length, amount out of range, …). */
export class ArgumentError extends SimtapError<CoreErrorCode> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BAD_ARGUMENT', message, options);
  }
}

/** A cryptographic check failed (MAC, cryptogram, key check value). */
export class CryptoError<C extends string = string> extends SimtapError<C> {}

/** The link to the card (reader, socket, relay) failed; the card's state is unknown. */
export class TransportError<C extends string = string> extends SimtapError<C> {}

/**
 * The codes of the {@link TransportError}s that card channels (`@simtap/sdk/card`) and the vpcd bridge throw.
 * A `TransportError` means the card's state is unknown: a command in flight may or may not have run.
 */
export const TRANSPORT_ERRORS = defineErrors({
  TRANSPORT_CLOSED: {
    class: 'TransportError',
    when: '`transmit` on a channel after `close()` or after its link went away; a closed vpcd bridge',
    fix: 'open a new channel',
  },
  CARD_REMOVED: {
    class: 'TransportError; CardLeftFieldError in machines',
    when:
      "the card was removed, torn or is absent (the runtime's `CARD_NOT_POWERED` / `CARD_TORN` arrive as this " +
      'code); `CardLeftFieldError.pending` is set when money may have moved',
    fix: 'ask for the card again; machines resolve `pending` at the next tap of the same card',
  },
  READER_NOT_FOUND: {
    class: 'TransportError',
    when: 'no PC/SC reader matches the requested name',
    fix: 'check the reader name (the message lists the readers)',
  },
  PCSC_UNAVAILABLE: {
    class: 'TransportError',
    when: 'the optional `smartcard` package or the PC/SC service (pcscd) is missing',
    fix: 'install `smartcard`, start pcscd',
  },
  PCSC_ERROR: {
    class: 'TransportError',
    when: "any other PC/SC failure (sharing violation, protocol error, …); the message has PC/SC's text",
    fix: 'retry once, then report the message',
  },
  TIMEOUT: {
    class: 'TransportError',
    when: 'the card or reader did not answer within the configured time; vpcd not connected in time',
    fix: 'retry the tap; check the reader or pcscd',
  },
  TRACE_MISMATCH: {
    class: 'TransportError',
    when: 'a replayed trace (strict) expected another command',
    fix: 'the code under test sends different APDUs than recorded: fix it or re-record',
  },
  TRACE_EXHAUSTED: {
    class: 'TransportError',
    when: 'a replayed trace has no more exchanges',
    fix: 'the code under test sends more APDUs than recorded',
  },
  BAD_RESPONSE: {
    class: 'TransportError',
    when: "the vpcd bridge's card returned something that is not an R-APDU",
    fix: 'a bug in the emulated card: check the card log',
  },
});

/** Code of a {@link TransportError} of a card channel or the vpcd bridge. */
export type TransportErrorCode = keyof typeof TRANSPORT_ERRORS;

/**
 * The codes of the {@link TransportError}s a card model (the emulated card runtime) throws when the card is
 * not in the field: the contract between the card side and the terminal side, whose in-process channel turns
 * them into `CARD_REMOVED`.
 */
export const CARD_GONE_ERRORS = defineErrors({
  CARD_NOT_POWERED: {
    class: 'CardRemovedError',
    when: '`transmit` on an interface that is not powered',
    fix: '`powerOn` the interface first',
  },
  CARD_TORN: {
    class: 'CardTornError',
    when: 'an injected tear struck: the card lost power, the open transaction rolled back',
    fix: 'power the card on again and resolve the transaction (tests)',
  },
});

/** Code of a card-gone {@link TransportError} (the runtime's `CardRemovedError`). */
export type CardGoneErrorCode = keyof typeof CARD_GONE_ERRORS;
