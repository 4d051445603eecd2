/**
 * The sub-platforms' error codes. Most are the names `simtap.v1` fixes (`../shared/PROTOCOL.md`): the server of the
 * next issue passes them through as `error.data.code`. The ledger's `INSUFFICIENT_FUNDS` and `IDEMPOTENCY_CONFLICT`
 * and the key store's `BAD_MAC1` reach callers as those modules' errors (`LedgerError`, `IssuerKeyError`), under the same names. Match them with
 * `hasErrorCode(err, PLATFORM_ERRORS, 'UNKNOWN_CARD')`.
 * @module
 */
import { type CodeOfClass, defineErrors, SimtapError } from '@simtap/sdk/core/errors';

/** The codes of {@link PlatformError}. */
export const PLATFORM_ERRORS = defineErrors({
  UNKNOWN_CARD: {
    class: 'PlatformError',
    when: 'a card serial the contactless management registry has never issued',
    fix: 'check the serial (20 hex digits, the PBOC application serial); nothing moved',
  },
  CARD_BLOCKED: {
    class: 'PlatformError',
    when: 'a load, a charge or a record names a card that is blocked, lost, or not yet active',
    fix: 'the card is refused until the back office unblocks it; a lost card is replaced, its float moves to the new card',
  },
  CARD_STATE: {
    class: 'PlatformError',
    when: 'a life-cycle change the card cannot make (issued → active without personalization, anything after lost)',
    fix: 'follow issued → personalized → active → blocked / lost; read the card (`cards.get`) for its status',
  },
  UNKNOWN_CUSTOMER: {
    class: 'PlatformError',
    when: 'an MSISDN that has no customer (phone account) on the platform',
    fix: 'register the customer first; nothing moved',
  },
  NO_MERCHANT: {
    class: 'PlatformError',
    when: 'a client without a merchant (an access-control system) asks for something only a merchant can do',
    fix: 'clear and charge with the client of the merchant the money is for',
  },
  FUNDING_REFUSED: {
    class: 'PlatformError',
    when: "a load funded from a phone account that is not the card holder's",
    fix: "fund the load from the card holder's phone account, or with cash",
  },
  BAD_TAC: {
    class: 'PlatformError',
    when:
      "a load's TAC (confirmation) or the card's proof (resolution) does not verify under the card's TAC key; a " +
      'load stays pending',
    fix: 'send the TAC exactly as the card returned it; an unverifiable load is resolved from the card later',
  },
  BAD_CARD_PROOF: {
    class: 'PlatformError',
    when: "an online charge whose INTERNAL AUTHENTICATE answer is not the card's, or whose challenge is unknown, expired or used",
    fix: 'ask for a new challenge (`customers.chargeChallenge`) and have the card answer it; nothing moved',
  },
  PHONE_UNREACHABLE: {
    class: 'PlatformError',
    when: 'an online charge over the air for a card whose phone is connected to no instance of the platform',
    fix: 'nothing moved and the key is bound to this answer; ask again under a new key once the phone is on',
  },
  UNKNOWN_LOAD: {
    class: 'PlatformError',
    when: 'a load id that no `wallet.authorizeLoad` returned',
    fix: 'check the load id',
  },
  LOAD_STATE: {
    class: 'PlatformError',
    when: 'the load is not in a state that allows the call (already settled the other way)',
    fix: 'each load is settled exactly once; read it (`wallet.load`) to see how',
  },
  BALANCE_LIMIT: {
    class: 'PlatformError',
    when: "the load would take the purse over the card's maximum balance",
    fix: 'load less; nothing moved',
  },
});

/** Code of a {@link PlatformError}. */
export type PlatformErrorCode = keyof typeof PLATFORM_ERRORS;

/** A sub-platform refused a request; nothing moved. */
export class PlatformError extends SimtapError<CodeOfClass<typeof PLATFORM_ERRORS, 'PlatformError'>> {}
