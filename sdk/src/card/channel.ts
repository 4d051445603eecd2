/**
 * The card channel abstraction: one interface over every way of reaching a card (the in-process emulator,
 * a PC/SC reader, a recorded trace, later a remote relay), so machines and conformance suites run unchanged
 * over each of them.
 *
 * A channel only moves bytes. Card-level failures are ordinary responses (their status words); link failures
 * are {@link TransportError}s carrying one of the {@link TRANSPORT_ERROR_CODES}.
 *
 * @module
 */
import { ArgumentError, TransportError } from '../core/errors';

/** A bidirectional APDU link to one card. Calls are serialised by the channel. */
export interface CardChannel {
  /**
   * Sends one C-APDU and resolves with the R-APDU (`data ‖ SW1 SW2`), whatever the status word.
   * @throws {TransportError} with a code of {@link TRANSPORT_ERROR_CODES} when the link fails.
   */
  transmit(capdu: Uint8Array): Promise<Uint8Array>;
  /** Releases the link (idempotent); later `transmit` calls fail with `TRANSPORT_CLOSED`. */
  close(): Promise<void>;
  /** Human-readable name of the link, for logs (`in-process card`, `PC/SC reader "…"`). */
  readonly description: string;
}

/** Codes of the {@link TransportError}s that channels throw, with their meaning. */
export const TRANSPORT_ERROR_CODES = {
  /** The channel was closed (by `close()` or because its link went away). */
  TRANSPORT_CLOSED: 'the channel is closed',
  /** The card was removed, torn (power lost mid-command) or is absent from the reader. */
  CARD_REMOVED: 'the card was removed or is not present',
  /** No reader matches the requested name. */
  READER_NOT_FOUND: 'no matching card reader',
  /** PC/SC cannot be used: the optional `smartcard` package or the PC/SC service (pcscd) is missing. */
  PCSC_UNAVAILABLE: 'PC/SC is not available',
  /** Any other PC/SC failure (sharing violation, protocol error, …); the message has PC/SC's text. */
  PCSC_ERROR: 'PC/SC reported an error',
  /** A replayed trace expected another command. */
  TRACE_MISMATCH: 'the command does not match the recorded trace',
  /** A replayed trace has no more exchanges. */
  TRACE_EXHAUSTED: 'the recorded trace has no more exchanges',
  /** The card or reader did not answer in time. */
  TIMEOUT: 'the operation timed out',
} as const;

/** A {@link TransportError} code thrown by card channels. */
export type TransportErrorCode = keyof typeof TRANSPORT_ERROR_CODES;

/** Creates a {@link TransportError} with one of the channel codes. */
export function transportError(code: TransportErrorCode, message: string, cause?: unknown): TransportError {
  return new TransportError(code, message, cause === undefined ? undefined : { cause });
}

/** Longest C-APDU: extended case 4 (4 header + 3 Lc + 65535 data + 2 Le). */
export const MAX_COMMAND_LENGTH = 4 + 3 + 0xffff + 2;

/**
 * Checks that `capdu` is a byte array of a plausible C-APDU length (4 to {@link MAX_COMMAND_LENGTH} bytes).
 * @throws {ArgumentError} `BAD_ARGUMENT` otherwise.
 */
export function assertCommandApdu(capdu: unknown): asserts capdu is Uint8Array {
  if (!(capdu instanceof Uint8Array)) throw new ArgumentError('transmit: the C-APDU must be a Uint8Array');
  if (capdu.length < 4 || capdu.length > MAX_COMMAND_LENGTH) {
    throw new ArgumentError(`transmit: a C-APDU has 4 to ${MAX_COMMAND_LENGTH} bytes, got ${capdu.length}`);
  }
}

/**
 * True when `e` means the card went away: an error named `CardRemovedError` / `CardTornError`, or whose `code`
 * is `CARD_REMOVED` / `CARD_TORN`.
 */
export function isCardGoneError(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const { name, code } = e as { name?: unknown; code?: unknown };
  return name === 'CardRemovedError' || name === 'CardTornError' || code === 'CARD_REMOVED' || code === 'CARD_TORN';
}
