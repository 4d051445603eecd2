/**
 * The issuer key store's error codes. `BAD_MAC1` is the name `simtap.v1` fixes for a load whose MAC1 does not
 * verify (`../shared/PROTOCOL.md`); the server passes it through unchanged. Match them with the core's
 * `hasErrorCode(err, KEYS_ERRORS, 'BAD_MAC1')`. No message of these errors carries key bytes.
 * @module
 */
import { defineErrors, SimtapError } from '@simtap/sdk/core/errors';

/** The codes of {@link IssuerKeyError}. */
export const KEYS_ERRORS = defineErrors({
  BAD_MAC1: {
    class: 'IssuerKeyError',
    when:
      "`authorizeLoad`: the load's MAC1 is not the one the card's DLK makes for these fields (another card's, a " +
      'changed amount, terminal or counter, a corrupted frame)',
    fix: 'refuse the load (no MAC2 was made); the card has not moved money, a new INITIALIZE FOR LOAD starts again',
  },
  KEY_STORE_DESTROYED: {
    class: 'IssuerKeyError',
    when: 'a call on an issuer key store after `destroy()` wiped its keys',
    fix: 'a programming error: build a new store from the master keys',
  },
});

/** Code of an {@link IssuerKeyError}. */
export type KeysErrorCode = keyof typeof KEYS_ERRORS;

/** The issuer key store refused a request (`BAD_MAC1`) or was destroyed (`KEY_STORE_DESTROYED`). */
export class IssuerKeyError extends SimtapError<KeysErrorCode> {}
