/**
 * A tiny access-control reader (access control, docs/architecture.md): no money moves; the door opens when the card and
 * the reader authenticate each other with the card's DEAK, which the reader derives from the issuer's
 * external-authentication master key and the application serial in EF 0x15.
 *
 * - The card proves itself: INTERNAL AUTHENTICATE with a reader random; the card answers 3DES-ECB under DEAK
 *   diversified once more with the serial (a card-unique key), which the reader recomputes.
 * - The reader proves itself: GET CHALLENGE, then EXTERNAL AUTHENTICATE with 3DES-ECB(DEAK, challenge ‖ 00000000);
 *   the card answers 9000, or 63Cx for a wrong key (x = tries left before the key blocks with 6983).
 *
 * @module
 */
import type { CardChannel } from '@simtap/sdk/card';
import { concat, equalCt, wipe } from '@simtap/sdk/core/bytes';
import { desEcbEncrypt, type RandomSource, randomBytes } from '@simtap/sdk/core/crypto';
import { formatSw, parseResponseApdu } from '@simtap/sdk/core/iso7816';
import { diversificationDataOf, diversifyPbocKey, pbocExternalAuthCryptogram } from '@simtap/sdk/core/pboc';
import { EPURSE_DEFAULT_AID, readBinarySfiApdu, selectByNameApdu } from '@simtap/sdk/machines';

/** What the door decided, and why. */
export interface DoorDecision {
  /** True when both authentications passed. */
  readonly granted: boolean;
  /** The card's INTERNAL AUTHENTICATE cryptogram verified under the reader's key. */
  readonly cardAuthenticated: boolean;
  /** The card's status word for EXTERNAL AUTHENTICATE (9000: it accepted the reader). */
  readonly externalAuthSw: number;
  /** The card's application serial (EF 0x15). */
  readonly serial: Uint8Array;
}

/** Options of {@link openDoor}. */
export interface DoorOptions {
  /** DEAK key index (EXTERNAL / INTERNAL AUTHENTICATE P2); default 1. */
  readonly keyIndex?: number;
  /** Source of the reader's INTERNAL AUTHENTICATE random; default the system's. */
  readonly random?: RandomSource;
}

/**
 * Authenticates the tapped card with the issuer's external-authentication master key `masterKey`.
 * @throws {Error} when the card has no e-purse or EF 0x15 cannot be read (not a card of this issuer).
 */
export async function openDoor(
  card: CardChannel,
  masterKey: Uint8Array,
  opts: DoorOptions = {},
): Promise<DoorDecision> {
  const kk = opts.keyIndex ?? 1;
  const select = await card.transmit(selectByNameApdu(EPURSE_DEFAULT_AID));
  if (parseResponseApdu(select).sw !== 0x9000)
    throw new Error(`the card has no e-purse (SELECT answered ${formatSw(parseResponseApdu(select).sw)})`);
  const ef15 = await card.transmit(readBinarySfiApdu(0x15, 0, 30));
  if (parseResponseApdu(ef15).sw !== 0x9000 || ef15.length !== 32) throw new Error('cannot read EF 0x15');
  const serial = ef15.slice(10, 20);
  const d = diversificationDataOf(serial);
  const deak = diversifyPbocKey(masterKey, d);
  const internalKey = diversifyPbocKey(deak, d);
  try {
    const random = (opts.random ?? randomBytes)(8);
    const ia = await card.transmit(concat(Uint8Array.of(0x00, 0x88, 0x00, kk, 0x08), random, Uint8Array.of(0x08)));
    const cardAuthenticated =
      parseResponseApdu(ia).sw === 0x9000 &&
      ia.length === 10 &&
      equalCt(ia.subarray(0, 8), desEcbEncrypt(internalKey, random));
    const challenge = await card.transmit(Uint8Array.of(0x00, 0x84, 0x00, 0x00, 0x04));
    if (parseResponseApdu(challenge).sw !== 0x9000 || challenge.length !== 6) throw new Error('GET CHALLENGE failed');
    const padded = concat(challenge.subarray(0, 4), new Uint8Array(4));
    const cryptogram = pbocExternalAuthCryptogram(deak, padded);
    const ea = await card.transmit(concat(Uint8Array.of(0x00, 0x82, 0x00, kk, 0x08), cryptogram));
    const externalAuthSw = parseResponseApdu(ea).sw;
    return { granted: cardAuthenticated && externalAuthSw === 0x9000, cardAuthenticated, externalAuthSw, serial };
  } finally {
    wipe(deak, internalKey);
  }
}
