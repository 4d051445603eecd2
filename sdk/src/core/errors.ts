/**
 * Error families shared by every simtap package.
 *
 * Every error carries a stable, documented `code` string; tests and integrators branch on `code`,
 * never on message text. See `docs/errors.md` for the catalogue.
 *
 * @module
 */

/** Base class of every error simtap throws on purpose. */
export class SimtapError extends Error {
  /** Stable machine-readable code, e.g. `TLV_TRUNCATED`, `APDU_BAD_LENGTH`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Malformed input handed to a decoder (hex, TLV, APDU, profile, …). `offset` says where, when known. */
export class ParseError extends SimtapError {
  readonly offset: number | undefined;
  constructor(code: string, message: string, offset?: number, options?: { cause?: unknown }) {
    super(code, offset === undefined ? message : `${message} (at offset ${offset})`, options);
    this.offset = offset;
  }
}

/** An argument outside its documented domain (wrong key length, amount out of range, …). */
export class ArgumentError extends SimtapError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BAD_ARGUMENT', message, options);
  }
}

/** A cryptographic check failed (MAC, cryptogram, key check value). */
export class CryptoError extends SimtapError {}

/** The link to the card (reader, socket, relay) failed; the card's state is unknown. */
export class TransportError extends SimtapError {}
