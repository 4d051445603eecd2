/**
 * The personalization contract between the issuer security domain and the applications it personalizes
 * (GlobalPlatform GPC 2.3 §11.11 STORE DATA, EMV CPS DGIs).
 *
 * The ISD receives `INSTALL [for personalization]` naming an application's AID, then routes every following
 * `STORE DATA` block to that application's {@link PersonalizableApplet.storeData}, one DGI at a time
 * (`DGI(2) ‖ length(1, or FF xx xx) ‖ data`; a DGI may not span blocks in this implementation). The ISD has
 * already unwrapped the secure channel: `data` is plaintext. DGIs ≥ 0x8000 carry secret keys and are accepted
 * only when the STORE DATA command arrived with C-DECRYPTION (`encrypted` is then true) — the ISD refuses them
 * with 6982 otherwise, before the applet is called.
 *
 * @module
 */
import type { ApduContext, Applet } from '../runtime/applet';

/** One data grouping of a STORE DATA command, as routed by the ISD. */
export interface StoreDataItem {
  /** Data grouping identifier (EMV CPS), e.g. 0x0101; ≥ 0x8000 = secret (keys, PIN). */
  readonly dgi: number;
  /** Plaintext DGI value. */
  readonly data: Uint8Array;
  /** True when the command was protected with C-DECRYPTION (security level 03/13/33). */
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
