/**
 * Tables of the PBOC / JR/T 0025 electronic purse applet: its instruction set, personalization DGIs, key types,
 * per-interface rules, file identifiers and defaults. `docs/card.md` ("Electronic purse") documents the same
 * values; a test checks that every command header below appears there.
 *
 * @module
 */
import {
  DEFAULT_INTERFACE_RULES,
  EPURSE_DGI,
  EPURSE_KEY_TYPE,
  EPURSE_SFI,
  type EpurseKeyName,
  INTERFACE_RULE,
  MAX_BALANCE_LIMIT,
  pbocCommandsOf,
  transactionLogRecord,
} from '@simtap/sdk/core/pboc';

/** Factory type of the e-purse applet in card images. */
export const EPURSE_TYPE = 'simtap.epurse';

/** Default AID: China T-Union transit e-purse (reference profile `card.epurse.aid`). */
export const EPURSE_DEFAULT_AID_HEX = 'A000000632010105';

/** Default ADF file identifier (reference profile `card.epurse.fid`). */
export const EPURSE_DEFAULT_FID = 0x3f01;

/**
 * The purse's commands: the rows of the core's instruction table (`PBOC_COMMANDS` in `@simtap/sdk/core/pboc`) that
 * the e-purse application answers. `header` is the APDU header as documented (lower-case letters are parameters);
 * `cla` is the class byte on the basic channel.
 */
export const EPURSE_COMMANDS = /* @__PURE__ */ pbocCommandsOf('card', 'applet');
/** Name of an e-purse command. */
export type EpurseCommandName = keyof typeof EPURSE_COMMANDS;

/**
 * The personalization layout of the purse (STORE DATA through the ISD): its DGIs, the key types of DGI 8001, the
 * interface rule bits of DGI 0201 and the largest maximum balance — the core's (`@simtap/sdk/core/pboc`).
 */
/** Elementary files the applet creates in its ADF (FID = 00 ‖ SFI): the core's `EPURSE_SFI`. */
export {
  DEFAULT_INTERFACE_RULES,
  EPURSE_DGI,
  EPURSE_KEY_TYPE,
  EPURSE_SFI,
  type EpurseKeyName,
  INTERFACE_RULE,
  MAX_BALANCE_LIMIT,
};

/** Default purse parameters (the reference profile's values). */
export const DEFAULT_PURSE_PARAMETERS = Object.freeze({
  maxBalance: 100_000,
  overdraftLimit: 0,
  logRecords: 10,
  macFailureLimit: 3,
  pinTryLimit: 3,
  rules: DEFAULT_INTERFACE_RULES,
});

/**
 * Try limits of the purse's secrets that have no DGI 0201 parameter. They are fixed so that no personalization can
 * switch the count off; `docs/card.md` ("Counters and locks") lists them with every other counter of the purse.
 */
export const EPURSE_TRY_LIMIT = {
  /**
   * Consecutive wrong EXTERNAL AUTHENTICATE cryptograms per DEAK key id (ISO 7816-4 §11.5.3: 63Cx, x tries left);
   * at the limit that key id answers 6983 until the issuer's DGI 0F01 `00`.
   */
  EXTERNAL_AUTHENTICATE: 3,
  /**
   * Consecutive wrong line-protection MACs (DLPK: APPLICATION BLOCK / UNBLOCK, 6988 each); at the limit the line
   * key answers 6983 and the application locks (9303) until the issuer's DGI 0F01 `00` through the ISD.
   */
  LINE_MAC: 3,
} as const;

/** Cached UPDATE CAPP DATA CACHE writes per composite purchase. */
export const CAPP_CACHE_LIMIT = 8;

/** Length of a transaction detail (EF 0x18) record (the core's `transactionLogRecord`). */
export const LOG_RECORD_LENGTH = transactionLogRecord.length;
