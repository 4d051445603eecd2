/**
 * Typed errors of the card runtime. A command that fails on the card is answered with a status word, never
 * thrown; these errors reach the *caller* of the runtime (a terminal, a test, the image loader).
 *
 * @module
 */
import { ParseError, SimtapError, TransportError } from '@simtap/sdk/core/errors';

/**
 * The card is not in the field / not powered on that interface (never powered, powered off, or torn).
 * Like a reader losing the card, the terminal does not know the outcome of a command in flight.
 * Code `CARD_NOT_POWERED` (or `CARD_TORN` for {@link CardTornError}).
 */
export class CardRemovedError extends TransportError {
  constructor(code: 'CARD_NOT_POWERED' | 'CARD_TORN' = 'CARD_NOT_POWERED', message = 'card is not powered') {
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
export type StoreErrorCode =
  | 'NOT_IN_TRANSACTION'
  | 'STORE_VALUE_INVALID'
  | 'STORE_TYPE_MISMATCH'
  | 'STORE_KEY_INVALID'
  | 'TRANSACTION_ASYNC'
  | 'TRANSACTION_OPEN';

/**
 * Misuse of persistent memory by applet or runtime code (a programming error; inside a command the dispatcher
 * answers it with 6F00). Codes: `NOT_IN_TRANSACTION` (a write outside `atomically`), `STORE_VALUE_INVALID`
 * (not bytes or JSON-safe), `STORE_TYPE_MISMATCH` (typed getter on another type), `STORE_KEY_INVALID`,
 * `TRANSACTION_ASYNC` (`atomically` given an async function), `TRANSACTION_OPEN` (snapshot inside a transaction).
 */
export class StoreError extends SimtapError {
  declare readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string) {
    super(code, message);
  }
}

/** Codes of {@link RegistryError}. */
export type RegistryErrorCode = 'AID_EXISTS' | 'AID_NOT_FOUND' | 'AID_INVALID' | 'LIFECYCLE_INVALID';

/**
 * A registry operation was refused. Codes: `AID_EXISTS`, `AID_NOT_FOUND`, `AID_INVALID` (not 5..16 bytes),
 * `LIFECYCLE_INVALID` (not a byte, or privileges not 3 bytes).
 */
export class RegistryError extends SimtapError {
  declare readonly code: RegistryErrorCode;
  constructor(code: RegistryErrorCode, message: string) {
    super(code, message);
  }
}

/** Codes of {@link FileSystemError}. */
export type FileSystemErrorCode = 'FILE_EXISTS' | 'FILE_SPEC_INVALID' | 'FILE_NOT_IN_TREE';

/**
 * A file-system structure operation was refused (creating a file with a duplicate FID/SFI/DF name, a bad
 * specification, or a node that was removed). Content operations answer with ISO status words
 * (`IsoException`) instead. Codes: `FILE_EXISTS`, `FILE_SPEC_INVALID`, `FILE_NOT_IN_TREE`.
 */
export class FileSystemError extends SimtapError {
  declare readonly code: FileSystemErrorCode;
  constructor(code: FileSystemErrorCode, message: string) {
    super(code, message);
  }
}

/** Codes of {@link CardImageError}. */
export type CardImageErrorCode =
  | 'IMAGE_CORRUPT'
  | 'IMAGE_VERSION'
  | 'IMAGE_TRUNCATED'
  | 'IMAGE_NOT_FOUND'
  | 'IMAGE_IO'
  | 'IMAGE_APPLET_UNKNOWN';

/**
 * A card image could not be read or written. Codes: `IMAGE_CORRUPT` (bad magic, checksum, trailing bytes or
 * content), `IMAGE_VERSION` (unsupported format version), `IMAGE_TRUNCATED` (shorter than its header says),
 * `IMAGE_NOT_FOUND` (no file), `IMAGE_IO` (file-system failure; the previous image is untouched),
 * `IMAGE_APPLET_UNKNOWN` (no factory for an applet type recorded in the image).
 */
export class CardImageError extends ParseError {
  declare readonly code: CardImageErrorCode;
  constructor(code: CardImageErrorCode, message: string, offset?: number, options?: { cause?: unknown }) {
    super(code, message, offset, options);
  }
}
