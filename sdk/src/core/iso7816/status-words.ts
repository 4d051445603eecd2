/**
 * Status words: the ISO/IEC 7816-4 §5.6 set (status bytes, table 6), the PBOC/JR/T 0025 e-purse additions
 * (JR/T 0025.2 §5.2, per command) and the GlobalPlatform secure-channel ones, with descriptions, typed terminal-side
 * errors and the card-side {@link IsoException}. Which command answers which status word, and why, is
 * `docs/spec.md` §7 (§7.4 per command); the clause of each family is given on its entries below.
 *
 * @module
 */
import { assertUint } from '../bytes';
import { ArgumentError, defineErrors, SimtapError } from '../errors';
import type { CommandApdu, ResponseApdu } from './apdu';

/** Status words by name. Family bases (`BYTES_AVAILABLE` 61xx, `WRONG_LE` 6Cxx, `PIN_WRONG` 63Cx) carry 00/0. */
export const SW = {
  /** ISO 7816-4 §5.6: normal processing. */
  OK: 0x9000,
  /** ISO 7816-4 §5.6: 61xx, xx response bytes still available (GET RESPONSE). */
  BYTES_AVAILABLE: 0x6100,
  /** ISO 7816-4 §5.6: 6Cxx, wrong Le; xx is the exact length. */
  WRONG_LE: 0x6c00,
  /** ISO 7816-4 §5.6: part of returned data may be corrupted. */
  DATA_MAY_BE_CORRUPTED: 0x6281,
  /** ISO 7816-4 §5.6: end of file or record reached before reading Ne bytes. */
  END_OF_FILE: 0x6282,
  /** ISO 7816-4 §5.6: selected file deactivated (EMV/PBOC: application blocked). */
  SELECTED_FILE_INVALIDATED: 0x6283,
  /**
   * GP: host cryptogram verification failed (EXTERNAL AUTHENTICATE; GPC 2.3.1 §E.5.2 table E-12, Amendment D
   * §7.1.2); on the e-purse, EXTERNAL AUTHENTICATE with a wrong cryptogram answers 63Cx instead.
   */
  AUTHENTICATION_FAILED: 0x6300,
  /** ISO 7816-4 §5.6: 63Cx, verification failed, x tries left. */
  PIN_WRONG: 0x63c0,
  /** ISO 7816-4 §5.6: memory failure. */
  MEMORY_FAILURE: 0x6581,
  /** ISO 7816-4 §5.6: wrong length (Lc/Le). */
  WRONG_LENGTH: 0x6700,
  /** ISO 7816-4 §5.6: logical channel not supported. */
  LOGICAL_CHANNEL_NOT_SUPPORTED: 0x6881,
  /** ISO 7816-4 §5.6: secure messaging not supported. */
  SECURE_MESSAGING_NOT_SUPPORTED: 0x6882,
  /** ISO 7816-4 §5.6: command chaining not supported. */
  CHAINING_NOT_SUPPORTED: 0x6884,
  /** ISO 7816-4 §5.6: command not allowed, no information given. */
  COMMAND_NOT_ALLOWED: 0x6900,
  /** PBOC (JR/T 0025.2 §5.2, docs/spec.md §7.2): command not accepted (invalid state). */
  COMMAND_NOT_ACCEPTED: 0x6901,
  /** ISO 7816-4 §5.6: command incompatible with file structure. */
  COMMAND_INCOMPATIBLE_WITH_FILE_STRUCTURE: 0x6981,
  /** ISO 7816-4 §5.6: security status not satisfied. */
  SECURITY_STATUS_NOT_SATISFIED: 0x6982,
  /** ISO 7816-4 §5.6: authentication method blocked. */
  AUTHENTICATION_METHOD_BLOCKED: 0x6983,
  /** ISO 7816-4 §5.6: reference data not usable (PBOC: random number invalid). */
  REFERENCE_DATA_INVALIDATED: 0x6984,
  /** ISO 7816-4 §5.6: conditions of use not satisfied. */
  CONDITIONS_NOT_SATISFIED: 0x6985,
  /** ISO 7816-4 §5.6: command not allowed (no current EF). */
  COMMAND_NOT_ALLOWED_NO_CURRENT_EF: 0x6986,
  /** ISO 7816-4 §5.6: expected SM data objects missing. */
  SM_DATA_OBJECTS_MISSING: 0x6987,
  /** ISO 7816-4 §5.6: incorrect SM data objects. */
  SM_DATA_OBJECTS_INCORRECT: 0x6988,
  /** ISO 7816-4 §5.6: incorrect parameters in the data field. */
  WRONG_DATA: 0x6a80,
  /** ISO 7816-4 §5.6: function not supported. */
  FUNCTION_NOT_SUPPORTED: 0x6a81,
  /** ISO 7816-4 §5.6: file or application not found. */
  FILE_NOT_FOUND: 0x6a82,
  /** ISO 7816-4 §5.6: record not found. */
  RECORD_NOT_FOUND: 0x6a83,
  /** ISO 7816-4 §5.6: not enough memory space in the file. */
  NOT_ENOUGH_MEMORY: 0x6a84,
  /** ISO 7816-4 §5.6: incorrect parameters P1-P2. */
  INCORRECT_P1P2: 0x6a86,
  /** ISO 7816-4 §5.6: referenced data or reference data not found (e.g. key). */
  REFERENCED_DATA_NOT_FOUND: 0x6a88,
  /** ISO 7816-4 §5.6: wrong parameters P1-P2 (e.g. offset outside the EF). */
  WRONG_P1P2: 0x6b00,
  /** ISO 7816-4 §5.6: instruction code not supported or invalid. */
  INS_NOT_SUPPORTED: 0x6d00,
  /** ISO 7816-4 §5.6: class not supported. */
  CLA_NOT_SUPPORTED: 0x6e00,
  /** ISO 7816-4 §5.6: no precise diagnosis. */
  NO_PRECISE_DIAGNOSIS: 0x6f00,
  /** PBOC (JR/T 0025.2 §5.2, docs/spec.md §7.2): MAC invalid. */
  MAC_INVALID: 0x9302,
  /** PBOC (JR/T 0025.2 §5.2, docs/spec.md §7.2): application permanently locked. */
  APPLICATION_LOCKED: 0x9303,
  /** PBOC (JR/T 0025.2 §5.2, docs/spec.md §7.2): insufficient balance. */
  INSUFFICIENT_BALANCE: 0x9401,
  /** PBOC (JR/T 0025.2 §5.2, docs/spec.md §7.2): transaction counter reached its maximum. */
  TRANSACTION_COUNTER_MAX: 0x9402,
  /** PBOC (JR/T 0025.2 §5.2, docs/spec.md §7.2): key index not supported. */
  KEY_INDEX_NOT_SUPPORTED: 0x9403,
  /** PBOC (JR/T 0025.2 §5.2, docs/spec.md §7.2): required MAC/TAC not available (GET TRANSACTION PROVE). */
  MAC_NOT_AVAILABLE: 0x9406,
} as const;

/** Name of a status word in {@link SW}. */
export type SwName = keyof typeof SW;

/** Where a status word is defined. */
export type SwSource = 'ISO 7816-4' | 'PBOC' | 'GP';

/** Catalogue entry of a status word. */
export interface SwInfo {
  readonly name: SwName;
  readonly meaning: string;
  readonly source: SwSource;
}

const ISO: SwSource = 'ISO 7816-4';
const META: { readonly [K in SwName]: readonly [meaning: string, source: SwSource] } = {
  OK: ['normal processing', ISO],
  BYTES_AVAILABLE: ['response bytes still available', ISO],
  WRONG_LE: ['wrong Le field', ISO],
  DATA_MAY_BE_CORRUPTED: ['part of returned data may be corrupted', ISO],
  END_OF_FILE: ['end of file or record reached before reading Le bytes', ISO],
  SELECTED_FILE_INVALIDATED: ['selected file invalidated (application blocked)', ISO],
  AUTHENTICATION_FAILED: ['authentication of host cryptogram failed', 'GP'],
  PIN_WRONG: ['verification failed', ISO],
  MEMORY_FAILURE: ['memory failure', ISO],
  WRONG_LENGTH: ['wrong length', ISO],
  LOGICAL_CHANNEL_NOT_SUPPORTED: ['logical channel not supported', ISO],
  SECURE_MESSAGING_NOT_SUPPORTED: ['secure messaging not supported', ISO],
  CHAINING_NOT_SUPPORTED: ['command chaining not supported', ISO],
  COMMAND_NOT_ALLOWED: ['command not allowed', ISO],
  COMMAND_NOT_ACCEPTED: ['command not accepted (invalid state)', 'PBOC'],
  COMMAND_INCOMPATIBLE_WITH_FILE_STRUCTURE: ['command incompatible with file structure', ISO],
  SECURITY_STATUS_NOT_SATISFIED: ['security status not satisfied', ISO],
  AUTHENTICATION_METHOD_BLOCKED: ['authentication method blocked', ISO],
  REFERENCE_DATA_INVALIDATED: ['referenced data invalidated', ISO],
  CONDITIONS_NOT_SATISFIED: ['conditions of use not satisfied', ISO],
  COMMAND_NOT_ALLOWED_NO_CURRENT_EF: ['command not allowed (no current EF)', ISO],
  SM_DATA_OBJECTS_MISSING: ['expected secure messaging data objects missing', ISO],
  SM_DATA_OBJECTS_INCORRECT: ['incorrect secure messaging data objects', ISO],
  WRONG_DATA: ['incorrect parameters in the data field', ISO],
  FUNCTION_NOT_SUPPORTED: ['function not supported', ISO],
  FILE_NOT_FOUND: ['file or application not found', ISO],
  RECORD_NOT_FOUND: ['record not found', ISO],
  NOT_ENOUGH_MEMORY: ['not enough memory space in the file', ISO],
  INCORRECT_P1P2: ['incorrect parameters P1-P2', ISO],
  REFERENCED_DATA_NOT_FOUND: ['referenced data not found', ISO],
  WRONG_P1P2: ['wrong parameters P1-P2', ISO],
  INS_NOT_SUPPORTED: ['instruction code not supported or invalid', ISO],
  CLA_NOT_SUPPORTED: ['class not supported', ISO],
  NO_PRECISE_DIAGNOSIS: ['no precise diagnosis', ISO],
  MAC_INVALID: ['MAC invalid', 'PBOC'],
  APPLICATION_LOCKED: ['application permanently locked', 'PBOC'],
  INSUFFICIENT_BALANCE: ['insufficient balance', 'PBOC'],
  TRANSACTION_COUNTER_MAX: ['transaction counter reached its maximum', 'PBOC'],
  KEY_INDEX_NOT_SUPPORTED: ['key index not supported', 'PBOC'],
  MAC_NOT_AVAILABLE: ['required MAC/TAC not available', 'PBOC'],
};

/** Catalogue: status word → `{ name, meaning, source }` for every entry of {@link SW} (family bases included). */
export const SW_INFO: Readonly<Record<number, SwInfo>> = Object.freeze(
  Object.fromEntries(
    (Object.keys(META) as SwName[]).map((name) => {
      const [meaning, source] = META[name];
      return [SW[name], Object.freeze({ name, meaning, source })];
    }),
  ),
);

// ---------------------------------------------------------------- families

/** True for 61xx (xx response bytes available; 00 means 256 or more). */
export const isBytesAvailable = (sw: number): boolean => (sw & 0xff00) === 0x6100;
/** True for 6Cxx (wrong Le, xx is the exact length; 00 means 256). */
export const isWrongLe = (sw: number): boolean => (sw & 0xff00) === 0x6c00;
/** True for 63Cx (verification failed, x tries left). */
export const isPinWrong = (sw: number): boolean => (sw & 0xfff0) === 0x63c0;

/**
 * 61xx for `available` response bytes still to fetch (≥ 256 → `6100`).
 * @throws {ArgumentError} `BAD_ARGUMENT` when `available` is not a non-negative integer.
 */
export function bytesAvailableSw(available: number): number {
  assertUint(available, 'available', Number.MAX_SAFE_INTEGER);
  return 0x6100 | (available >= 256 ? 0 : available);
}

/**
 * 6Cxx telling the exact length `exact` (1..256; 256 → `6C00`).
 * @throws {ArgumentError} `BAD_ARGUMENT` outside 1..256.
 */
export function wrongLeSw(exact: number): number {
  assertUint(exact, 'exact', 256);
  if (exact === 0) throw new ArgumentError('wrongLeSw: exact length must be 1..256');
  return 0x6c00 | (exact & 0xff);
}

/**
 * 63Cx with `triesLeft` (0..15).
 * @throws {ArgumentError} `BAD_ARGUMENT` outside 0..15.
 */
export function pinWrongSw(triesLeft: number): number {
  assertUint(triesLeft, 'triesLeft', 15);
  return 0x63c0 | triesLeft;
}

/** Tries left encoded in a 63Cx status word; `undefined` for any other SW. */
export function pinTriesLeft(sw: number): number | undefined {
  return isPinWrong(sw) ? sw & 0x0f : undefined;
}

// ---------------------------------------------------------------- classification and text

/** True for 9000 and 61xx (processing completed, data possibly pending). */
export function isOk(sw: number): boolean {
  return sw === 0x9000 || (sw & 0xff00) === 0x6100;
}

/** Same as {@link isOk}: 9000 or 61xx. Warnings (62xx/63xx) are not success; see {@link isWarning}. */
export const isSuccess = isOk;

/** True for 62xx and 63xx (warning processing; note GP uses 6300 for a failed host cryptogram). */
export function isWarning(sw: number): boolean {
  const sw1 = sw >> 8;
  return sw1 === 0x62 || sw1 === 0x63;
}

/**
 * `"6A82"`: four upper-case hex digits.
 * @throws {ArgumentError} `BAD_ARGUMENT` when `sw` is not in 0..FFFF.
 */
export function formatSw(sw: number): string {
  assertUint(sw, 'sw', 0xffff);
  return sw.toString(16).toUpperCase().padStart(4, '0');
}

/**
 * Human-readable meaning: families first (61xx "32 bytes available", 6Cxx "wrong Le, exact length is 42",
 * 63Cx "verification failed, 2 tries left"), then the {@link SW_INFO} catalogue, else `"unknown status word"`.
 */
export function describeSw(sw: number): string {
  if (isBytesAvailable(sw)) return (sw & 0xff) === 0 ? '256 or more bytes available' : `${sw & 0xff} bytes available`;
  if (isWrongLe(sw)) return `wrong Le, exact length is ${(sw & 0xff) === 0 ? 256 : sw & 0xff}`;
  if (isPinWrong(sw)) return `verification failed, ${sw & 0x0f} ${(sw & 0x0f) === 1 ? 'try' : 'tries'} left`;
  return SW_INFO[sw]?.meaning ?? 'unknown status word';
}

// ---------------------------------------------------------------- terminal-side errors

function commandLabel(command: CommandApdu | string | undefined): string {
  if (command === undefined) return 'card';
  if (typeof command === 'string') return command;
  const h = (v: number): string => (v & 0xff).toString(16).toUpperCase().padStart(2, '0');
  return `command ${h(command.cla)} ${h(command.ins)} ${h(command.p1)} ${h(command.p2)}`;
}

/** Code of a {@link StatusWordError}: `SW_` + the status word in upper-case hex (`SW_6A82`). */
export type StatusWordErrorCode = `SW_${string}`;

/**
 * The status-word codes that have their own {@link StatusWordError} subclass (every other non-9000 SW is a plain
 * `StatusWordError` with code `SW_xxxx`; the SWs and their meanings are in {@link SW_INFO}).
 */
export const STATUS_WORD_ERRORS = defineErrors({
  SW_9401: {
    class: 'InsufficientBalanceError',
    when: 'INITIALIZE FOR PURCHASE: amount above balance (+ overdraft)',
    fix: 'ask for another card or a top-up',
  },
  SW_6982: {
    class: 'SecurityStatusError',
    when: 'security status not satisfied (PIN, secure channel, access rule)',
    fix: 'authenticate first; with GP, reopen the secure channel',
  },
  SW_6988: {
    class: 'SecurityStatusError',
    when: 'incorrect secure-messaging data objects',
    fix: 'reopen the secure channel',
  },
  SW_6300: {
    class: 'SecurityStatusError',
    when: 'GP EXTERNAL AUTHENTICATE: host cryptogram rejected',
    fix: 'wrong keys or key version: stop, do not retry with the same keys',
  },
  SW_9302: {
    class: 'SecurityStatusError; MacError in machines',
    when: "a MAC was refused; `MacError.origin` says by the card (MAC1/MAC2) or the PSAM (card's MAC2)",
    fix: "`'card'`: wrong PSAM/issuer keys, stop; `'psam'`: the card is not genuine, keep `record` (it may be debited)",
  },
  SW_9303: {
    class: 'ApplicationLockedError; CardLockedError in machines',
    when: 'the e-purse application is permanently locked',
    fix: 'refuse the card; send the holder to the issuer',
  },
  SW_6283: {
    class: 'ApplicationLockedError; CardLockedError in machines',
    when: 'the selected application is blocked (invalidated)',
    fix: 'as `SW_9303`',
  },
  SW_6985: {
    class: 'ConditionsNotSatisfiedError',
    when: 'conditions of use not satisfied (e.g. CREDIT without INITIALIZE)',
    fix: 'restart the transaction from SELECT',
  },
} satisfies { readonly [code: StatusWordErrorCode]: unknown });

/**
 * The card answered a non-success status word. `code` is `SW_` + the SW in hex (`SW_6A82`); `command` is the
 * command (or its label, e.g. `'DEBIT'`) when known.
 */
export class StatusWordError extends SimtapError<StatusWordErrorCode> {
  readonly sw: number;
  readonly command: CommandApdu | string | undefined;
  constructor(sw: number, command?: CommandApdu | string, options?: { cause?: unknown }) {
    const text = formatSw(sw);
    super(`SW_${text}`, `${commandLabel(command)} returned ${text}: ${describeSw(sw)}`, options);
    this.sw = sw;
    this.command = command;
  }
}

/** 9401: the purse balance does not cover the debit. */
export class InsufficientBalanceError extends StatusWordError {}
/** 6982 / 6988 / 9302 / 6300: security status, MAC or cryptogram check failed. */
export class SecurityStatusError extends StatusWordError {}
/** 9303 / 6283: the application is locked or invalidated. */
export class ApplicationLockedError extends StatusWordError {}
/** 6985: conditions of use not satisfied (e.g. CREDIT without INITIALIZE). */
export class ConditionsNotSatisfiedError extends StatusWordError {}

/**
 * Builds the most specific {@link StatusWordError} subclass for `sw`.
 * @throws {ArgumentError} `BAD_ARGUMENT` when `sw` is not in 0..FFFF.
 */
export function statusWordError(sw: number, command?: CommandApdu | string): StatusWordError {
  switch (sw) {
    case SW.INSUFFICIENT_BALANCE:
      return new InsufficientBalanceError(sw, command);
    case SW.SECURITY_STATUS_NOT_SATISFIED:
    case SW.SM_DATA_OBJECTS_INCORRECT:
    case SW.MAC_INVALID:
    case SW.AUTHENTICATION_FAILED:
      return new SecurityStatusError(sw, command);
    case SW.APPLICATION_LOCKED:
    case SW.SELECTED_FILE_INVALIDATED:
      return new ApplicationLockedError(sw, command);
    case SW.CONDITIONS_NOT_SATISFIED:
      return new ConditionsNotSatisfiedError(sw, command);
    default:
      return new StatusWordError(sw, command);
  }
}

/**
 * Returns `resp` when its SW is 9000, otherwise throws.
 * @throws {StatusWordError} (or a subclass, see {@link statusWordError}) with code `SW_xxxx`.
 */
export function checkSw(resp: ResponseApdu, command?: CommandApdu | string): ResponseApdu {
  if (resp.sw !== 0x9000) throw statusWordError(resp.sw, command);
  return resp;
}

// ---------------------------------------------------------------- card side

/**
 * Card side: an applet throws `IsoException` and the runtime turns it into the trailing SW (JavaCard
 * `ISOException` style).
 * @throws {ArgumentError} `BAD_ARGUMENT` (from the constructor) when `sw` is not in 0..FFFF.
 */
export class IsoException extends Error {
  readonly sw: number;
  constructor(sw: number, message?: string) {
    const text = formatSw(sw);
    super(message ?? `${text}: ${describeSw(sw)}`);
    this.name = 'IsoException';
    this.sw = sw;
  }

  /** Throws an `IsoException` carrying `sw`. */
  static throwIt(sw: number): never {
    throw new IsoException(sw);
  }
}
