/**
 * The campus example's error codes (`SimtapError` with one of these codes; test them with
 * `hasErrorCode(e, CAMPUS_ERRORS, 'CODE')`).
 *
 * @module
 */
import { defineErrors, SimtapError } from '@simtap/sdk/core/errors';

/** The codes the campus throws. */
export const CAMPUS_ERRORS = defineErrors({
  CAMPUS_CARD_UNUSABLE: {
    class: 'CampusError',
    when: "a student's card is not active on the platform, or already holds a float (the emulated cards start empty)",
    fix: 'run against a fresh platform, or give students whose cards are active with a float of 0',
  },
  NOT_A_CAMPUS_CARD: {
    class: 'CampusError',
    when: 'the card in the field has no e-purse, or its EF 0x15 cannot be read',
    fix: 'tap a card of the issuer',
  },
  CONFIG_REFUSED: {
    class: 'CampusError',
    when: "a machine refused the back office's config (a blacklist not signed by the platform, a stale version)",
    fix: 'push a whole blacklist in a newer config',
  },
  CONFIG_TIMEOUT: {
    class: 'CampusError',
    when: 'a machine did not acknowledge a config in time (not connected)',
    fix: 'check the machine; it gets the config when it connects',
  },
  CLEARING_INCOMPLETE: {
    class: 'CampusError',
    when: 'stored records could not be cleared with the platform at the end of the day',
    fix: 'flush again once the platform answers: batches are sent again under their keys',
  },
  NOT_STARTED: {
    class: 'CampusError',
    when: 'the back office is used before `start()`',
    fix: 'await `start()` first',
  },
  NO_SECRET: {
    class: 'CampusError',
    when: 'no secret is given for the platform client and the profile has none',
    fix: 'pass `secret`',
  },
});

/** A code of {@link CAMPUS_ERRORS}. */
export type CampusErrorCode = keyof typeof CAMPUS_ERRORS;

/** An error of the campus example. */
export class CampusError extends SimtapError<CampusErrorCode> {}
