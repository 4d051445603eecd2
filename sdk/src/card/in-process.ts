/**
 * A channel to a card living in the same process (the emulator), with no I/O in between.
 *
 * @module
 */
import { ArgumentError } from '../core/errors';
import { assertOptionsObject } from './arguments';
import { assertCommandApdu, type CardChannel, isCardGoneError, transportError } from './channel';

/** Anything that answers C-APDUs synchronously, such as the emulated card runtime. */
export interface SyncApduCard {
  /** Processes one C-APDU and returns `data ‖ SW1 SW2`. */
  transmit(capdu: Uint8Array): Uint8Array;
}

/** Options of {@link InProcessChannel}. */
export interface InProcessChannelOptions {
  /** Name for logs (default `in-process card`). */
  description?: string;
}

/**
 * Wraps a synchronous card as a {@link CardChannel}. The card's response array is handed through as is (no
 * copy), so the card must return a fresh array per call.
 *
 * A card that throws an error with code `CARD_NOT_POWERED` / `CARD_TORN` (the emulator's `CardRemovedError` /
 * `CardTornError`, see `CARD_GONE_ERRORS`) or `CARD_REMOVED` surfaces as `TransportError` `CARD_REMOVED`; any
 * other throw is a bug in the card and propagates unchanged.
 */
export class InProcessChannel implements CardChannel {
  readonly description: string;
  private card: SyncApduCard | null;

  /** @throws {ArgumentError} `BAD_ARGUMENT` when `card` has no `transmit` or an option is malformed. */
  constructor(card: SyncApduCard, options: InProcessChannelOptions = {}) {
    if (typeof card !== 'object' || card === null || typeof card.transmit !== 'function')
      throw new ArgumentError('card: expected an object with a synchronous transmit(capdu)');
    assertOptionsObject(options, 'options');
    if (options.description !== undefined && typeof options.description !== 'string')
      throw new ArgumentError('description: expected a string');
    this.card = card;
    this.description = options.description ?? 'in-process card';
  }

  /**
   * Sends one C-APDU to the card.
   * @throws {TransportError} `TRANSPORT_CLOSED` after `close()`; `CARD_REMOVED` when the card was removed or torn.
   * @throws {ArgumentError} `BAD_ARGUMENT` when `capdu` is not a 4–65544 byte array.
   */
  async transmit(capdu: Uint8Array): Promise<Uint8Array> {
    const card = this.card;
    if (card === null) throw transportError('TRANSPORT_CLOSED', `${this.description}: channel is closed`);
    assertCommandApdu(capdu);
    try {
      return card.transmit(capdu);
    } catch (e) {
      if (isCardGoneError(e)) {
        const what = e instanceof Error ? e.message : String(e);
        throw transportError('CARD_REMOVED', `${this.description}: card removed (${what})`, e);
      }
      throw e;
    }
  }

  /** Detaches the card; idempotent. */
  async close(): Promise<void> {
    this.card = null;
  }
}
