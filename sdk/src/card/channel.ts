/**
 * The card channel abstraction: one interface over every way of reaching a card (the in-process emulator,
 * a PC/SC reader, a recorded trace, later a remote relay), so machines and conformance suites run unchanged
 * over each of them.
 *
 * A channel only moves bytes. Card-level failures are ordinary responses (their status words); link failures
 * are {@link TransportError}s carrying one of the {@link TRANSPORT_ERRORS}.
 *
 * @module
 */
import {
  ArgumentError,
  CARD_GONE_ERRORS,
  hasErrorCode,
  TRANSPORT_ERRORS,
  TransportError,
  type TransportErrorCode,
} from '../core/errors';

/** A bidirectional APDU link to one card. Calls are serialised by the channel. */
export interface CardChannel {
  /**
   * Sends one C-APDU and resolves with the R-APDU (`data ‖ SW1 SW2`), whatever the status word.
   * @throws {TransportError} with a code of {@link TRANSPORT_ERRORS} when the link fails.
   */
  transmit(capdu: Uint8Array): Promise<Uint8Array>;
  /** Releases the link (idempotent); later `transmit` calls fail with `TRANSPORT_CLOSED`. */
  close(): Promise<void>;
  /** Human-readable name of the link, for logs (`in-process card`, `PC/SC reader "…"`). */
  readonly description: string;
}

export { TRANSPORT_ERRORS, type TransportErrorCode } from '../core/errors';

/** Creates a {@link TransportError} with one of the channel codes. */
export function transportError(
  code: TransportErrorCode,
  message: string,
  cause?: unknown,
): TransportError<TransportErrorCode> {
  return new TransportError<TransportErrorCode>(code, message, cause === undefined ? undefined : { cause });
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
 * True when `e` means the card went away: an error whose `code` is `CARD_REMOVED` (a channel's) or one of the
 * {@link CARD_GONE_ERRORS} (`CARD_NOT_POWERED`, `CARD_TORN`: what the emulated card throws).
 */
export function isCardGoneError(e: unknown): boolean {
  return hasErrorCode(e, CARD_GONE_ERRORS) || hasErrorCode(e, TRANSPORT_ERRORS, 'CARD_REMOVED');
}
