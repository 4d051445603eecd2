/**
 * Tables of the PBOC / JR/T 0025 electronic purse applet: its instruction set, personalization DGIs, key types,
 * per-interface rules, file identifiers and defaults. `docs/card.md` ("Electronic purse") documents the same
 * values; a test checks that every command header below appears there.
 *
 * @module
 */
import { EPURSE_SFI, pbocCommandsOf, transactionLogRecord } from '@simtap/sdk/core/pboc';

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
 * Personalization data groupings accepted by `storeData` (STORE DATA through the ISD). `RECORD_FILE` is a
 * family: DGI `03ss` defines the record file with SFI `ss`.
 */
export const EPURSE_DGI = {
  /** EF 0x15 public application basic data, exactly 30 bytes. */
  EF15: 0x0101,
  /** EF 0x16 cardholder basic data, 1..255 bytes (the EF is sized to it). */
  EF16: 0x0102,
  /** Value of the FCI proprietary template `A5`, replacing the generated one (1..200 bytes). */
  FCI_PROPRIETARY: 0x0103,
  /** Response of `80 CA 00 00` (1..255 bytes). */
  GET_DATA: 0x0104,
  /** Purse parameters: maxBalance(4) ‖ overdraftLimit(3) ‖ logRecords(1) ‖ macFailureLimit(1) ‖ pinTryLimit(1) ‖ rules(1). */
  PARAMETERS: 0x0201,
  /** EP state: balance(4, two's complement) ‖ online counter(2) ‖ offline counter(2). */
  EP_STATE: 0x0202,
  /** ED state, same layout as `EP_STATE`. */
  ED_STATE: 0x0203,
  /** Base of the record-file family `03ss`: structure(1) ‖ recordSize(1) ‖ maxRecords(1) ‖ records. */
  RECORD_FILE: 0x0300,
  /** Keys, repeated entries: type(1) ‖ index(1) ‖ version(1) ‖ algorithm(1) ‖ key(16). Secret. */
  KEYS: 0x8001,
  /** PIN, 2..6 BCD bytes (odd digit counts padded with F). Secret. */
  PIN: 0x8010,
  /** Issuer management, accepted also after personalization: 00 unlock, 01 block, 02 block permanently. */
  STATUS: 0x0f01,
} as const;

/** Key type codes inside DGI 8001. */
export const EPURSE_KEY_TYPE = {
  /** Load key (SESLK). */
  DLK: 0x01,
  /** Purchase key (SESPK). */
  DPK: 0x02,
  /** TAC key (single DES: left ⊕ right). */
  DTK: 0x03,
  /** External / internal authentication key (key id = index). */
  DEAK: 0x04,
  /** Line-protection key (APPLICATION BLOCK / UNBLOCK MACs). */
  DLPK: 0x05,
  /** PIN unblock / reload key (RELOAD PIN MAC). */
  DPUK: 0x06,
} as const;
/** Name of an e-purse key type. */
export type EpurseKeyName = keyof typeof EPURSE_KEY_TYPE;

/** Per-interface rule bits (last byte of DGI 0201). */
export const INTERFACE_RULE = {
  /** Purchases (EP/ED/CAPP) accepted on the contact interface. */
  PURCHASE_CONTACT: 0x01,
  /** Purchases accepted on the contactless interface. */
  PURCHASE_CONTACTLESS: 0x02,
  /** Loads accepted on the contact interface. */
  LOAD_CONTACT: 0x04,
  /** Loads accepted on the contactless interface. */
  LOAD_CONTACTLESS: 0x08,
  /**
   * PIN-protected operations (ED commands, CHANGE PIN) need a verified PIN on the contact interface too
   * (without this bit the contact interface — the phone itself — is trusted; contactless always needs the PIN).
   */
  PIN_ON_CONTACT: 0x10,
} as const;

/** Default rules: purchases and loads on both interfaces; PIN-protected operations need contact or a PIN. */
export const DEFAULT_INTERFACE_RULES = 0x0f;

/** Elementary files the applet creates in its ADF (FID = 00 ‖ SFI): the core's `EPURSE_SFI`. */
export { EPURSE_SFI };

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

/** Largest maximum balance: balances are 4-byte two's complement on the wire. */
export const MAX_BALANCE_LIMIT = 0x7fffffff;

/** Cached UPDATE CAPP DATA CACHE writes per composite purchase. */
export const CAPP_CACHE_LIMIT = 8;

/** Length of a transaction detail (EF 0x18) record (the core's `transactionLogRecord`). */
export const LOG_RECORD_LENGTH = transactionLogRecord.length;
