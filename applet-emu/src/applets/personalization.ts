/**
 * The personalization contract between the issuer security domain and the applications it personalizes
 * (GlobalPlatform GPC 2.3 §11.11 STORE DATA, EMV CPS DGIs).
 *
 * The ISD receives `INSTALL [for personalization]` naming an application's AID, then routes every following
 * `STORE DATA` block to that application's {@link PersonalizableApplet.storeData}, one DGI at a time
 * (`DGI(2) ‖ length(1, or FF xx xx) ‖ data`; a DGI may not span blocks in this implementation). The ISD has
 * already unwrapped the secure channel: `data` is plaintext. DGIs ≥ 0x8000 carry secret keys and PINs and are
 * accepted only DEK-encrypted (EMV CPS: STORE DATA P1 b7b6 = 11): the ISD decrypts them with the session's DEK
 * and sets `encrypted`; it refuses a secret DGI in any other command with 6982 before the applet is called.
 * A decrypted value may end in the CPS padding: applets take it off with {@link secretDgiValue}.
 *
 * @module
 */
import { IsoException, SW } from '@simtap/sdk/core/iso7816';
import type { ApduContext, Applet } from '../runtime/applet';

/** One data grouping of a STORE DATA command, as routed by the ISD. */
export interface StoreDataItem {
  /** Data grouping identifier (EMV CPS), e.g. 0x0101; ≥ 0x8000 = secret (keys, PIN). */
  readonly dgi: number;
  /** Plaintext DGI value. */
  readonly data: Uint8Array;
  /** True when the value arrived DEK-encrypted (STORE DATA P1 b7b6 = 11) and the ISD decrypted it. */
  readonly encrypted: boolean;
  /** True on the last block of the personalization sequence (STORE DATA P1 b8 = 1). */
  readonly last: boolean;
}

/** An application that can be personalized through the ISD's STORE DATA. */
export interface PersonalizableApplet extends Applet {
  /**
   * Stores one DGI. Runs inside the ISD's persistent transaction for the command (use `ctx.atomically` anyway; it
   * joins). Throw an `IsoException`: 6A80 for a malformed DGI value, 6A88 for an unknown DGI, 6985 when the
   * application is already personalized and refuses re-personalization.
   * `ctx.store` is THIS applet's store (the ISD passes a context bound to the target applet).
   */
  storeData(ctx: ApduContext, item: StoreDataItem): void;
}

/** True when `applet` accepts STORE DATA personalization. */
export function isPersonalizable(applet: Applet): applet is PersonalizableApplet {
  return typeof (applet as Partial<PersonalizableApplet>).storeData === 'function';
}

/**
 * The plaintext of a secret DGI as the ISD hands it over after DEK decryption. EMV CPS pads a secret value with
 * ISO 9797-1 method 2 only when its length is not a multiple of the cipher block, and leaves it to the application
 * to know its own lengths: a value that is `wellFormed` as it is comes back unchanged; otherwise it must end in
 * that padding (`80` then up to 14 `00`, 1 to 15 bytes in all), and what precedes it must be well formed.
 * Returns a copy.
 * @throws {IsoException} 6A80 when neither the value nor the value without padding is well formed.
 */
export function secretDgiValue(data: Uint8Array, wellFormed: (length: number) => boolean): Uint8Array {
  if (wellFormed(data.length)) return data.slice();
  let end = data.length - 1;
  while (end >= 0 && data[end] === 0x00 && data.length - end < 15) end--;
  if (end < 0 || data[end] !== 0x80 || data.length - end > 15 || !wellFormed(end)) IsoException.throwIt(SW.WRONG_DATA);
  return data.slice(0, end);
}
