/**
 * Typed errors of the card runtime. A command that fails on the card is answered with a status word, never
 * thrown; these errors reach the *caller* of the runtime (a terminal, a test, the image loader).
 *
 * @module
 */
import {
  type CardGoneErrorCode,
  type CodeOfClass,
  defineErrors,
  ParseError,
  SimtapError,
  TransportError,
} from '@simtap/sdk/core/errors';

/**
 * The codes of the card runtime's errors (memory, registry, file system, card images). The card-gone codes
 * `CARD_NOT_POWERED` / `CARD_TORN` are the core's `CARD_GONE_ERRORS`, shared with the terminal side.
 */
export const RUNTIME_ERRORS = defineErrors({
  NOT_IN_TRANSACTION: {
    class: 'StoreError',
    when: 'a persistent write outside `card.atomically()`',
    fix: 'wrap the write in `atomically` (an applet bug)',
  },
  TRANSACTION_ASYNC: {
    class: 'StoreError',
    when: 'the function given to `atomically` is asynchronous',
    fix: 'make it synchronous',
  },
  TRANSACTION_OPEN: {
    class: 'StoreError',
    when: '`snapshot` while a transaction is open',
    fix: 'snapshot between commands',
  },
  STORE_KEY_INVALID: {
    class: 'StoreError',
    when: 'a store key that is not a non-empty string',
    fix: "fix the applet's key",
  },
  STORE_VALUE_INVALID: {
    class: 'StoreError',
    when:
      'a value the persistent store cannot hold (not bytes or JSON-safe, nested deeper than 64 levels), or a bad ' +
      '`tearAt` count',
    fix: 'store bytes or plain JSON-safe values',
  },
  STORE_TYPE_MISMATCH: {
    class: 'StoreError',
    when: 'a typed read finds a value of another type under the key',
    fix: "fix the applet's key or type",
  },
  AID_EXISTS: {
    class: 'RegistryError',
    when: 'installing an applet under an AID already installed',
    fix: 'delete it first or pick another AID',
  },
  AID_NOT_FOUND: {
    class: 'RegistryError',
    when: 'no applet (or directory DDF / EF) with that AID on the card',
    fix: 'install it first',
  },
  AID_INVALID: { class: 'RegistryError', when: 'an AID that is not 5..16 bytes', fix: 'fix the AID' },
  LIFECYCLE_INVALID: {
    class: 'RegistryError',
    when: 'a life-cycle state that is not a byte, or privileges that are not 3 bytes',
    fix: 'fix the install parameters',
  },
  FILE_EXISTS: {
    class: 'FileSystemError',
    when: 'creating a file whose FID, SFI or DF name already exists in that DF',
    fix: 'personalize each file once',
  },
  FILE_SPEC_INVALID: {
    class: 'FileSystemError',
    when:
      'a file specification out of range (FID, DF name, SFI, structure, size, access), or a stored file node ' +
      'that is malformed',
    fix: 'fix the file spec',
  },
  FILE_NOT_IN_TREE: {
    class: 'FileSystemError',
    when: 'a file node that belongs to another card',
    fix: "use nodes of this card's file system",
  },
  IMAGE_CORRUPT: {
    class: 'CardImageError',
    when: 'bad magic or checksum, inconsistent content, a malformed registry record',
    fix: 'restore the image from a backup or start a fresh card',
  },
  IMAGE_VERSION: {
    class: 'CardImageError',
    when: 'an image format version this build does not read',
    fix: 'use the simtap version that wrote it',
  },
  IMAGE_TRUNCATED: {
    class: 'CardImageError',
    when: 'the image is shorter than its header or declared payload',
    fix: 'as `IMAGE_CORRUPT`',
  },
  IMAGE_NOT_FOUND: {
    class: 'CardImageError',
    when: 'no card image at the path',
    fix: 'the CLI creates a fresh card; elsewhere, check the path',
  },
  IMAGE_IO: {
    class: 'CardImageError',
    when: 'the image file cannot be read or written (`cause` has the OS error)',
    fix: 'check permissions and disk space',
  },
  IMAGE_APPLET_UNKNOWN: {
    class: 'CardImageError',
    when: 'the image holds an applet type with no registered factory',
    fix: 'register the applet factory before loading',
  },
  IMAGE_LOCKED: {
    class: 'ImageLockedError',
    when:
      '`lockImage` (`simtap-card --image`): a running process — or another run in this one — holds ' +
      '`<image>.lock`; `holder` has its PID and host',
    fix: 'stop that process; if the PID in the message is no simtap process (a reused PID), delete the lock file',
  },
});

/** Code of an error of the card runtime. */
export type RuntimeErrorCode = keyof typeof RUNTIME_ERRORS;

/**
 * The card is not in the field / not powered on that interface (never powered, powered off, or torn).
 * Like a reader losing the card, the terminal does not know the outcome of a command in flight.
 * Code `CARD_NOT_POWERED` (or `CARD_TORN` for {@link CardTornError}).
 */
export class CardRemovedError extends TransportError<CardGoneErrorCode> {
  constructor(code: CardGoneErrorCode = 'CARD_NOT_POWERED', message = 'card is not powered') {
    super(code, message);
  }
}

/**
 * An injected tear (power loss) happened: the card is now powered off on both interfaces, an uncommitted
 * transaction was rolled back and transient memory is gone. Code `CARD_TORN`.
 */
export class CardTornError extends CardRemovedError {
  constructor(message = 'card torn: power lost during a persistent write') {
    super('CARD_TORN', message);
  }
}

/** Codes of {@link StoreError}. */
export type StoreErrorCode = CodeOfClass<typeof RUNTIME_ERRORS, 'StoreError'>;

/**
 * Misuse of persistent memory by applet or runtime code (a programming error; inside a command the dispatcher
 * answers it with 6F00). Codes: `NOT_IN_TRANSACTION` (a write outside `atomically`), `STORE_VALUE_INVALID`
 * (not bytes or JSON-safe), `STORE_TYPE_MISMATCH` (typed getter on another type), `STORE_KEY_INVALID`,
 * `TRANSACTION_ASYNC` (`atomically` given an async function), `TRANSACTION_OPEN` (snapshot inside a transaction).
 */
export class StoreError extends SimtapError<StoreErrorCode> {
  constructor(code: StoreErrorCode, message: string) {
    super(code, message);
  }
}

/** Codes of {@link RegistryError}. */
export type RegistryErrorCode = CodeOfClass<typeof RUNTIME_ERRORS, 'RegistryError'>;

/**
 * A registry operation was refused. Codes: `AID_EXISTS`, `AID_NOT_FOUND`, `AID_INVALID` (not 5..16 bytes),
 * `LIFECYCLE_INVALID` (not a byte, or privileges not 3 bytes).
 */
export class RegistryError extends SimtapError<RegistryErrorCode> {
  constructor(code: RegistryErrorCode, message: string) {
    super(code, message);
  }
}

/** Codes of {@link FileSystemError}. */
export type FileSystemErrorCode = CodeOfClass<typeof RUNTIME_ERRORS, 'FileSystemError'>;

/**
 * A file-system structure operation was refused (creating a file with a duplicate FID/SFI/DF name, a bad
 * specification, or a node that was removed). Content operations answer with ISO status words
 * (`IsoException`) instead. Codes: `FILE_EXISTS`, `FILE_SPEC_INVALID`, `FILE_NOT_IN_TREE`.
 */
export class FileSystemError extends SimtapError<FileSystemErrorCode> {
  constructor(code: FileSystemErrorCode, message: string) {
    super(code, message);
  }
}

/** Codes of {@link CardImageError}. */
export type CardImageErrorCode = CodeOfClass<typeof RUNTIME_ERRORS, 'CardImageError'>;

/**
 * A card image could not be read or written. Codes: `IMAGE_CORRUPT` (bad magic, checksum, trailing bytes or
 * content), `IMAGE_VERSION` (unsupported format version), `IMAGE_TRUNCATED` (shorter than its header says),
 * `IMAGE_NOT_FOUND` (no file), `IMAGE_IO` (file-system failure; the previous image is untouched),
 * `IMAGE_APPLET_UNKNOWN` (no factory for an applet type recorded in the image).
 */
export class CardImageError extends ParseError<CardImageErrorCode> {
  constructor(code: CardImageErrorCode, message: string, offset?: number, options?: { cause?: unknown }) {
    super(code, message, offset, options);
  }
}
