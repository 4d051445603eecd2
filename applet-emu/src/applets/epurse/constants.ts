/**
 * Tables of the PBOC / JR/T 0025 electronic purse applet: its instruction set, personalization DGIs, key types,
 * per-interface rules, file identifiers and defaults. `docs/card.md` ("Electronic purse") documents the same
 * values; a test checks that every command header below appears there.
 *
 * @module
 */

/** Factory type of the e-purse applet in card images. */
export const EPURSE_TYPE = 'simtap.epurse';

/** Default AID: China T-Union transit e-purse (reference profile `card.epurse.aid`). */
export const EPURSE_DEFAULT_AID_HEX = 'A000000632010105';

/** Default ADF file identifier (reference profile `card.epurse.fid`). */
export const EPURSE_DEFAULT_FID = 0x3f01;

/**
 * The purse's commands (spec digest a.2). `header` is the APDU header as documented (lower-case letters are
 * parameters); `cla` is the class byte on the basic channel.
 */
export const EPURSE_COMMANDS = {
  /** ISO 7816-4 §11.5.6: PIN check (P2 00); empty data asks for the tries left. */
  VERIFY: { cla: 0x00, ins: 0x20, header: '00 20 00 00', label: 'VERIFY' },
  /** ISO 7816-4 §11.5.3: terminal authenticates to the card (key id in P2). */
  EXTERNAL_AUTHENTICATE: { cla: 0x00, ins: 0x82, header: '00 82 00 kk', label: 'EXTERNAL AUTHENTICATE' },
  /** ISO 7816-4 §11.5.5: 4 or 8 random bytes for EXTERNAL AUTHENTICATE / line protection. */
  GET_CHALLENGE: { cla: 0x00, ins: 0x84, header: '00 84 00 00', label: 'GET CHALLENGE' },
  /** ISO 7816-4 §11.5.2: card authenticates to the terminal. */
  INTERNAL_AUTHENTICATE: { cla: 0x00, ins: 0x88, header: '00 88 00 kk', label: 'INTERNAL AUTHENTICATE' },
  /** PBOC: application unblock, line-protected (issuer). */
  APPLICATION_UNBLOCK: { cla: 0x84, ins: 0x18, header: '84 18 00 00', label: 'APPLICATION UNBLOCK' },
  /** PBOC: application block (P2 00 temporary, 01 permanent), line-protected (issuer). */
  APPLICATION_BLOCK: { cla: 0x84, ins: 0x1e, header: '84 1E 00 pp', label: 'APPLICATION BLOCK' },
  /** PBOC: INITIALIZE FOR LOAD (P1 00), PURCHASE (P1 01), CAPP PURCHASE (P1 03); P2 01 ED, 02 EP. */
  INITIALIZE: { cla: 0x80, ins: 0x50, header: '80 50 pp pp', label: 'INITIALIZE' },
  /** PBOC: CREDIT FOR LOAD. */
  CREDIT_FOR_LOAD: { cla: 0x80, ins: 0x52, header: '80 52 00 00', label: 'CREDIT FOR LOAD' },
  /** PBOC: DEBIT FOR PURCHASE / DEBIT FOR CAPP PURCHASE. */
  DEBIT: { cla: 0x80, ins: 0x54, header: '80 54 01 00', label: 'DEBIT FOR PURCHASE' },
  /** PBOC: MAC2 ‖ TAC of the last committed transaction (DESIGN §7). */
  GET_TRANSACTION_PROVE: { cla: 0x80, ins: 0x5a, header: '80 5A 00 tt', label: 'GET TRANSACTION PROVE' },
  /** PBOC: balance of the ED (P2 01) or EP (P2 02). */
  GET_BALANCE: { cla: 0x80, ins: 0x5c, header: '80 5C 00 pp', label: 'GET BALANCE' },
  /** PBOC: RELOAD PIN (P1 00, DPUK MAC) and CHANGE PIN (P1 01). */
  PIN_CHANGE_RELOAD: { cla: 0x80, ins: 0x5e, header: '80 5E pp 00', label: 'CHANGE / RELOAD PIN' },
  /** Proprietary GET DATA (P1P2 0000: the issuer's card data object, 9 bytes on the recorded card). */
  GET_DATA: { cla: 0x80, ins: 0xca, header: '80 CA 00 00', label: 'GET DATA' },
  /** PBOC/JT/T 978: UPDATE CAPP DATA CACHE inside a composite purchase. */
  UPDATE_CAPP_DATA_CACHE: { cla: 0x80, ins: 0xdc, header: '80 DC pp pp', label: 'UPDATE CAPP DATA CACHE' },
} as const;
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

/** Elementary files the applet creates in its ADF (FID = 00 ‖ SFI). */
export const EPURSE_SFI = {
  /** Public application basic data, transparent 30 bytes. */
  EF15: 0x15,
  /** Cardholder basic data, transparent (55 bytes until personalized otherwise). */
  EF16: 0x16,
  /** Composite-application data, linear fixed 48 × 4 (records 01..04 by identifier). */
  CAPP17: 0x17,
  /** Transaction detail, cyclic 23-byte records (newest = 1). */
  EF18: 0x18,
  /** Composite-application process data, linear fixed 128 × 2 (records 01..02 by identifier). */
  CAPP1A: 0x1a,
  /** Transit travel records, cyclic 48 × 10 (written by composite purchases). */
  TRAVEL1E: 0x1e,
} as const;

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

/** Length of a transaction detail (EF 0x18) record. */
export const LOG_RECORD_LENGTH = 23;
