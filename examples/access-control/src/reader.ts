/**
 * The door reader's card check: no money moves, the card and the reader prove to each other that they hold the
 * issuer's external-authentication key (DEAK) — the card first, so a forged card never sees the reader's cryptogram.
 *
 * 1. SELECT the e-purse, READ BINARY EF 0x15: the application serial (and the expiry date).
 * 2. The card proves itself: INTERNAL AUTHENTICATE of 8 reader-random bytes. The card answers 3DES-ECB under its
 *    DEAK diversified once more with the serial; the reader derives the same key from the issuer's master key
 *    (master → DEAK with the serial's diversification data → card-unique key) and compares in constant time.
 * 3. The reader proves itself: GET CHALLENGE (8 bytes), EXTERNAL AUTHENTICATE with 3DES-ECB(DEAK, challenge). The card
 *    answers 9000, or 63Cx for a wrong key (x tries left before the key blocks with 6983).
 *
 * @module
 */
import type { CardChannel } from '@simtap/sdk/card';
import { equalCt, toHex, wipe } from '@simtap/sdk/core/bytes';
import { desEcbEncrypt, type RandomSource, randomBytes } from '@simtap/sdk/core/crypto';
import { formatSw, parseResponseApdu } from '@simtap/sdk/core/iso7816';
import {
  decodeEf15,
  diversificationDataOf,
  diversifyPbocKey,
  pbocApdu,
  pbocExternalAuthCryptogram,
} from '@simtap/sdk/core/pboc';
import { EPURSE_DEFAULT_AID, readBinarySfiApdu, selectByNameApdu } from '@simtap/sdk/machines';

/** What the reader learnt of the card. */
export type CardCheck =
  /** Both authentications passed: the card is the issuer's and the serial is its own. */
  | { readonly kind: 'authentic'; readonly serial: string; readonly expiry: string }
  /** The card names `serial` but cannot prove the key of that serial: a clone or a card of another issuer. */
  | { readonly kind: 'forged'; readonly serial: string }
  /** The card proved itself but refused the reader's cryptogram (SW `sw`). */
  | { readonly kind: 'readerRefused'; readonly serial: string; readonly sw: number }
  /** No e-purse, no EF 0x15, or the card left the field: nothing to check. */
  | { readonly kind: 'unreadable'; readonly why: string };

/** Options of {@link checkCard}. */
export interface CheckCardOptions {
  /** DEAK key index (INTERNAL / EXTERNAL AUTHENTICATE P2); default 1. */
  readonly keyIndex?: number;
  /** The reader's random source (INTERNAL AUTHENTICATE data); default the system's. */
  readonly random?: RandomSource;
}

const EF15_SFI = 0x15;
const EF15_LENGTH = 30;

/**
 * Authenticates the card in the field with the issuer's external-authentication master key. Never throws for what
 * the card does: a card that answers badly or leaves the field is `unreadable`.
 * @example
 * const check = await checkCard(channel, issuerDeakMaster);
 * if (check.kind === 'authentic') console.log('card', check.serial);
 */
export async function checkCard(
  card: CardChannel,
  masterKey: Uint8Array,
  opts: CheckCardOptions = {},
): Promise<CardCheck> {
  const keyIndex = opts.keyIndex ?? 1;
  const random = opts.random ?? randomBytes;
  let step = 'SELECT';
  const run = async (capdu: Uint8Array) => parseResponseApdu(await card.transmit(capdu));
  try {
    const select = await run(selectByNameApdu(EPURSE_DEFAULT_AID));
    if (select.sw !== 0x9000) return { kind: 'unreadable', why: `no e-purse (SELECT ${formatSw(select.sw)})` };
    step = 'READ BINARY EF 0x15';
    const file = await run(readBinarySfiApdu(EF15_SFI, 0, EF15_LENGTH));
    if (file.sw !== 0x9000 || file.data.length !== EF15_LENGTH)
      return { kind: 'unreadable', why: `no EF 0x15 (${formatSw(file.sw)})` };
    const ef15 = decodeEf15(file.data);
    const serial = toHex(ef15.applicationSerial).toUpperCase();
    const expiry = toHex(ef15.expiryDate);

    const diversification = diversificationDataOf(ef15.applicationSerial);
    const deak = diversifyPbocKey(masterKey, diversification);
    const cardKey = diversifyPbocKey(deak, diversification);
    try {
      step = 'INTERNAL AUTHENTICATE';
      const challengeToCard = random(8);
      const ia = await run(pbocApdu('INTERNAL_AUTHENTICATE', { p2: keyIndex, data: challengeToCard, le: 8 }));
      const proven =
        ia.sw === 0x9000 && ia.data.length === 8 && equalCt(ia.data, desEcbEncrypt(cardKey, challengeToCard));
      if (!proven) return { kind: 'forged', serial };

      step = 'GET CHALLENGE';
      const challenge = await run(pbocApdu('GET_CHALLENGE', { le: 8 }));
      if (challenge.sw !== 0x9000 || challenge.data.length !== 8)
        return { kind: 'unreadable', why: `GET CHALLENGE answered ${formatSw(challenge.sw)}` };
      step = 'EXTERNAL AUTHENTICATE';
      const cryptogram = pbocExternalAuthCryptogram(deak, challenge.data);
      const ea = await run(pbocApdu('EXTERNAL_AUTHENTICATE', { p2: keyIndex, data: cryptogram }));
      if (ea.sw !== 0x9000) return { kind: 'readerRefused', serial, sw: ea.sw };
      return { kind: 'authentic', serial, expiry };
    } finally {
      wipe(deak, cardKey);
    }
  } catch (e) {
    return { kind: 'unreadable', why: `${step}: ${e instanceof Error ? e.message : String(e)}` };
  }
}
