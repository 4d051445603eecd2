/**
 * The campus's contactless reader: one reader in front of a till, a kiosk or a door, and whichever student card is
 * held to it. `present(card)` is a tap (the card enters the field, freshly powered: no session survives from the
 * last tap); the machines then talk to the card through {@link CampusReader.transmit}.
 *
 * @module
 */
import type { Card } from '@simtap/applet-emu/runtime';
import { type CardChannel, transportError } from '@simtap/sdk/card';
import { formatSw, parseResponseApdu } from '@simtap/sdk/core/iso7816';
import { decodeEf15 } from '@simtap/sdk/core/pboc';
import { EPURSE_DEFAULT_AID, readBinarySfiApdu, selectByNameApdu } from '@simtap/sdk/machines';
import { CampusError } from './errors';

/** A contactless reader; the card in its field changes with every {@link CampusReader.present}. */
export class CampusReader implements CardChannel {
  readonly description: string;
  #card: Card | undefined;
  #closed = false;

  constructor(description: string) {
    this.description = description;
  }

  /** A card is held to the reader: it is powered afresh (the previous card, if another, leaves the field). */
  present(card: Card): void {
    if (this.#card && this.#card !== card && this.#card.isPowered('contactless')) this.#card.powerOff('contactless');
    if (card.isPowered('contactless')) card.powerOff('contactless');
    card.powerOn('contactless');
    this.#card = card;
  }

  /** The card is taken away. */
  remove(): void {
    if (this.#card?.isPowered('contactless')) this.#card.powerOff('contactless');
    this.#card = undefined;
  }

  /**
   * Sends one C-APDU to the card in the field.
   * @throws {TransportError} `CARD_REMOVED` with no card in the field, `TRANSPORT_CLOSED` after `close()`.
   */
  async transmit(capdu: Uint8Array): Promise<Uint8Array> {
    if (this.#closed) throw transportError('TRANSPORT_CLOSED', `${this.description}: closed`);
    const card = this.#card;
    if (!card?.isPowered('contactless'))
      throw transportError('CARD_REMOVED', `${this.description}: no card in the field`);
    return card.transmit('contactless', capdu);
  }

  async close(): Promise<void> {
    this.remove();
    this.#closed = true;
  }
}

/**
 * Selects the e-purse of the card in the field and reads its application serial (EF 0x15): what a till or a kiosk
 * looks up on the blacklist before it charges or loads.
 * @throws {CampusError} `NOT_A_CAMPUS_CARD` when the card has no e-purse or EF 0x15 cannot be read.
 */
export async function readCardSerial(reader: CardChannel): Promise<Uint8Array> {
  const select = parseResponseApdu(await reader.transmit(selectByNameApdu(EPURSE_DEFAULT_AID)));
  if (select.sw !== 0x9000)
    throw new CampusError('NOT_A_CAMPUS_CARD', `the card has no e-purse (SELECT answered ${formatSw(select.sw)})`);
  const ef15 = parseResponseApdu(await reader.transmit(readBinarySfiApdu(0x15, 0, 30)));
  if (ef15.sw !== 0x9000 || ef15.data.length !== 30)
    throw new CampusError('NOT_A_CAMPUS_CARD', `EF 0x15 cannot be read (${formatSw(ef15.sw)})`);
  return decodeEf15(ef15.data).applicationSerial.slice();
}
