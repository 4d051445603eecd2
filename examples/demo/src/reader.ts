/**
 * The demo's contactless reader: a {@link CardChannel} to the in-process SIM that counts the APDUs of each tap,
 * estimates its tap time at 106 kbit/s with the machines' model (the patent's Java Card SIM behind SWP at a till:
 * `DEFAULT_TAP_TIME_OPTIONS`, docs/tap-time.md), and can let the card leave the field before one response.
 *
 * @module
 */
import type { Card, CardInterface } from '@simtap/applet-emu/runtime';
import { type CardChannel, InProcessChannel, transportError } from '@simtap/sdk/card';
import { ISO14443_106, type TapTimeEstimate, TapTimer } from '@simtap/sdk/core/iso14443';
import { DEFAULT_TAP_TIME_OPTIONS } from '@simtap/sdk/machines';

/** A reader in front of one card: every call of {@link DemoReader.tap} is a new tap of the card. */
export class DemoReader implements CardChannel {
  readonly description: string;
  readonly #card: Card;
  readonly #iface: CardInterface;
  readonly #inner: InProcessChannel;
  readonly #timer = new TapTimer();
  #apdus = 0;
  #pullAwayIns: number | undefined;

  constructor(card: Card, iface: CardInterface = 'contactless', description = 'demo reader') {
    this.#card = card;
    this.#iface = iface;
    this.description = description;
    this.#inner = new InProcessChannel({ transmit: (c) => card.transmit(iface, c) }, { description });
  }

  /** The card enters the field (powered afresh: transient state gone) and the tap's counters restart. */
  tap(): void {
    if (this.#card.isPowered(this.#iface)) this.#card.powerOff(this.#iface);
    this.#card.powerOn(this.#iface);
    this.#timer.reset();
    this.#apdus = 0;
  }

  /**
   * Arms a tear: the next command with instruction `ins` reaches the card and is processed, then the card leaves
   * the field before its response (the reader sees `TransportError` `CARD_REMOVED`).
   */
  pullAwayAfter(ins: number): void {
    this.#pullAwayIns = ins;
  }

  /** Card APDUs sent during this tap (a command whose response was lost counts too). */
  get apdus(): number {
    return this.#apdus;
  }

  /** Estimated tap time of this tap's completed exchanges at 106 kbit/s, activation and the reader included. */
  estimate(): TapTimeEstimate {
    return this.#timer.estimate(ISO14443_106, DEFAULT_TAP_TIME_OPTIONS);
  }

  /**
   * Sends one C-APDU to the card.
   * @throws {TransportError} `CARD_REMOVED` when the card is out of the field or an armed tear fires.
   */
  async transmit(capdu: Uint8Array): Promise<Uint8Array> {
    this.#apdus++;
    const response = await this.#inner.transmit(capdu);
    if (this.#pullAwayIns !== undefined && capdu[1] === this.#pullAwayIns) {
      this.#pullAwayIns = undefined;
      this.#card.powerOff(this.#iface);
      throw transportError('CARD_REMOVED', `${this.description}: the card left the field before the response`);
    }
    this.#timer.record(capdu, response);
    return response;
  }

  async close(): Promise<void> {
    await this.#inner.close();
  }
}
