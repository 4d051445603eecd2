/**
 * The issuer's keys (`@simtap/host/keys`): everything the platform does with the card issuer's secrets goes through
 * one {@link IssuerKeyStore} — authorizing loads (MAC1 in, MAC2 out), verifying the TACs of loads and purchases,
 * checking a card's INTERNAL AUTHENTICATE, deriving a card's ISD SCP03 keys, exporting a card's e-purse keys and PIN
 * for personalization over the air (already encrypted under the card's ISD DEK, as an HSM exports keys: no clear
 * card key leaves the store), making the line-protection MAC of APPLICATION BLOCK / UNBLOCK, and signing the
 * blacklist. The interface is asynchronous so that an HSM can stand behind it; {@link SoftwareIssuerKeyStore} holds
 * the master keys in process memory (tests, the embedded default, an issuer that accepts that).
 *
 * The key store only computes and checks; it decides nothing about money. All byte inputs are the card's fields as
 * the machines read them (`cardSerial` is the 10-byte application serial of EF 0x15, `terminalId` 6 bytes, `date`
 * 4 BCD bytes `YYYYMMDD`, `time` 3 BCD bytes `hhmmss`).
 * @example
 * const keys = SoftwareIssuerKeyStore.fromProfile(referenceProfile()); // test keys: never real money
 * const { mac2 } = await keys.authorizeLoad({ cardSerial, oldBalance, amount, tti: 0x02, terminalId,
 *   onlineCounter, random, mac1, date, time }); // IssuerKeyError BAD_MAC1 when MAC1 is not the card's
 * await keys.verifyLoadTac({ newBalance, onlineCounter, amount, tti: 0x02, terminalId, date, time, tac }, cardSerial);
 * @module
 */
import type { StaticKeys } from '@simtap/sdk/core/gp';
import type { LoadTacFields, PurchaseTacFields, WithTac } from '@simtap/sdk/core/pboc';

export { IssuerKeyError, KEYS_ERRORS, type KeysErrorCode } from './errors';
export {
  BLACKLIST_SIGNING_INFO,
  SoftwareIssuerKeyStore,
  type SoftwareIssuerKeys,
  verifyBlacklistSignature,
} from './software';

/**
 * The fields of a load that key its session and its MAC2: what the card answered to INITIALIZE FOR LOAD and what
 * the machine will send with CREDIT FOR LOAD.
 */
export interface LoadMac2Fields {
  /** The card's 10-byte application serial (EF 0x15); its rightmost 8 bytes diversify DLK. */
  readonly cardSerial: Uint8Array;
  /** Amount to load, fen (0..2³²−1). */
  readonly amount: number;
  /** Transaction type: 02 EP load (01 ED load). */
  readonly tti: number;
  /** The machine's terminal ID (6 bytes). */
  readonly terminalId: Uint8Array;
  /** The card's online counter before the load (0..65535). */
  readonly onlineCounter: number;
  /** The card's 4-byte random of INITIALIZE FOR LOAD. */
  readonly random: Uint8Array;
  /** `YYYYMMDD`, 4 BCD bytes, as the machine sends it in CREDIT FOR LOAD. */
  readonly date: Uint8Array;
  /** `hhmmss`, 3 BCD bytes. */
  readonly time: Uint8Array;
  /** The balance before the load: MAC2 does not cover it; accepted so that a stored request passes as is. */
  readonly oldBalance?: number;
}

/** A load to authorize: the fields of {@link LoadMac2Fields} with the balance and the card's MAC1. */
export interface LoadAuthorizationFields extends LoadMac2Fields {
  /** The balance before the load, fen (MAC1 covers it). */
  readonly oldBalance: number;
  /** The card's MAC1 (4 bytes) from INITIALIZE FOR LOAD. */
  readonly mac1: Uint8Array;
}

/** A card's answer to INTERNAL AUTHENTICATE, to verify. */
export interface InternalAuthenticateCheck {
  /** The card's 10-byte application serial. */
  readonly cardSerial: Uint8Array;
  /** The data the platform sent: 8 to 248 bytes, a multiple of 8. */
  readonly challenge: Uint8Array;
  /** What the card answered (without the status word). */
  readonly response: Uint8Array;
}

/** What {@link IssuerKeyStore.personalizationSecrets} exports the secrets of: the card, its ISD, its key entries. */
export interface PersonalizationSecretsRequest {
  /** The card's 10-byte application serial (EF 0x15); its rightmost 8 bytes diversify the six card keys. */
  readonly cardSerial: Uint8Array;
  /** The card ISD's key diversification data (10 bytes, the start of its INITIALIZE UPDATE answer). */
  readonly kdd: Uint8Array;
  /** Key index of every DGI 8001 entry (0..255; the INITIALIZE key index byte). */
  readonly keyIndex: number;
  /** Key version of every entry (0..255). */
  readonly keyVersion: number;
  /** Algorithm identifier of every entry (0..255). */
  readonly algorithm: number;
  /** The cardholder's PIN, 4..12 decimal digits. */
  readonly pin: string;
}

/**
 * The secret DGI values of an e-purse personalization, each already encrypted for STORE DATA over the card's SCP03
 * channel (EMV CPS: ISO 9797-1 method 2 padding to whole AES blocks, AES-CBC with a zero ICV under the ISD's static
 * DEK). Send them with `storeDataCommands` items `{ dgi, data, preEncrypted: true }`.
 */
export interface PersonalizationSecrets {
  /** DGI 8001 (`EPURSE_DGI.KEYS`): DLK DPK DTK DEAK DLPK DPUK entries (`encodeKeys`), encrypted. */
  readonly keys: Uint8Array;
  /** DGI 8010 (`EPURSE_DGI.PIN`): the PIN block (`encodePinBlock`), encrypted. */
  readonly pin: Uint8Array;
}

/** What {@link IssuerKeyStore.lineProtectionMac} MACs. */
export interface LineProtectionMacRequest {
  /** The card's 10-byte application serial; its rightmost 8 bytes diversify DLPK. */
  readonly cardSerial: Uint8Array;
  /** The card's answer to GET CHALLENGE just before (4 or 8 bytes). */
  readonly challenge: Uint8Array;
  /**
   * `CLA INS P1 P2 Lc` of the command (5 bytes): APPLICATION BLOCK (`84 1E 00 P2 04`, P2 00 temporary, 01
   * permanent) or APPLICATION UNBLOCK (`84 18 00 00 04`).
   */
  readonly header: Uint8Array;
}

/**
 * The issuer's key operations, asynchronous so that an HSM can implement them. Implementations verify in constant
 * time, never put key bytes in an error or a log, and wipe what they derive per call.
 */
export interface IssuerKeyStore {
  /**
   * Verifies the card's load MAC1 under its session key (SESLK from DLK, the card's random and online counter)
   * and returns the MAC2 for CREDIT FOR LOAD.
   * @throws {IssuerKeyError} `BAD_MAC1` when MAC1 is not the card's; `KEY_STORE_DESTROYED`.
   * @throws {ArgumentError} `BAD_ARGUMENT` on a malformed field.
   */
  authorizeLoad(req: LoadAuthorizationFields): Promise<{ mac2: Uint8Array }>;
  /**
   * The MAC2 the platform gives for this load (4 bytes), without a MAC1 check: to recognise a load in the card's
   * GET TRANSACTION PROVE (MAC2 ‖ TAC of its last transaction) when it is resolved after a tear.
   * @throws {IssuerKeyError} `KEY_STORE_DESTROYED`.
   * @throws {ArgumentError} `BAD_ARGUMENT` on a malformed field.
   */
  loadMac2(fields: LoadMac2Fields): Promise<Uint8Array>;
  /**
   * True when `fields.tac` is the load TAC card `cardSerial` makes (docs/spec.md §15 D1).
   * @throws {IssuerKeyError} `KEY_STORE_DESTROYED`.
   * @throws {ArgumentError} `BAD_ARGUMENT` on a malformed field.
   */
  verifyLoadTac(fields: LoadTacFields & WithTac, cardSerial: Uint8Array): Promise<boolean>;
  /**
   * True when `fields.tac` is the purchase TAC card `cardSerial` makes (a machine's purchase record passes as is).
   * @throws {IssuerKeyError} `KEY_STORE_DESTROYED`.
   * @throws {ArgumentError} `BAD_ARGUMENT` on a malformed field.
   */
  verifyPurchaseTac(fields: PurchaseTacFields & WithTac, cardSerial: Uint8Array): Promise<boolean>;
  /**
   * True when `check.response` is what card `cardSerial` answers to INTERNAL AUTHENTICATE of `check.challenge`
   * (the card proving itself, e.g. before an online charge to the phone account). A response of another length is
   * false.
   * @throws {IssuerKeyError} `KEY_STORE_DESTROYED`.
   * @throws {ArgumentError} `BAD_ARGUMENT` on a malformed serial or challenge.
   */
  verifyInternalAuthenticate(check: InternalAuthenticateCheck): Promise<boolean>;
  /**
   * The static SCP03 keys (ENC/MAC/DEK) of the ISD of the card with key diversification data `kdd` (10 bytes, the
   * start of its INITIALIZE UPDATE answer). Fresh arrays: wipe them after use.
   * @throws {IssuerKeyError} `KEY_STORE_DESTROYED`.
   * @throws {ArgumentError} `BAD_ARGUMENT` unless `kdd` is 10 bytes.
   */
  isdKeys(kdd: Uint8Array): Promise<StaticKeys>;
  /**
   * The secret DGIs that personalize the e-purse of card `req.cardSerial` through its ISD over SCP03: DGI 8001 (the
   * six card keys, each the PBOC diversification of its issuer master key with the serial's rightmost 8 bytes, with
   * `keyIndex`, `keyVersion` and `algorithm`) and DGI 8010 (the PIN block), each already encrypted under the static
   * DEK of the card's ISD ({@link IssuerKeyStore.isdKeys} of `req.kdd`), as STORE DATA carries a secret DGI. No clear
   * card key or PIN block leaves the store; the intermediates are wiped.
   * @throws {IssuerKeyError} `KEY_STORE_DESTROYED`.
   * @throws {ArgumentError} `BAD_ARGUMENT` on a malformed serial or KDD (10 bytes), a byte field out of 0..255 or a
   *   PIN that is not 4..12 digits (the message never shows the PIN).
   */
  personalizationSecrets(req: PersonalizationSecretsRequest): Promise<PersonalizationSecrets>;
  /**
   * The line-protection MAC (4 bytes) of APPLICATION BLOCK / UNBLOCK for card `req.cardSerial`: ISO 9797-1 MAC
   * algorithm 3 under the card's DLPK (the line-protection master key diversified with the serial's rightmost 8
   * bytes) over `req.header`, padding method 2, ICV = the card's GET CHALLENGE answer (4 bytes ‖ 00000000, or 8).
   * The command to send is `header ‖ MAC`.
   * @throws {IssuerKeyError} `KEY_STORE_DESTROYED`.
   * @throws {ArgumentError} `BAD_ARGUMENT` on a malformed serial, a challenge of other than 4 or 8 bytes, or a header
   *   that is not 5 bytes of APPLICATION BLOCK (INS 1E) or UNBLOCK (INS 18) with Lc 04 (the store MACs nothing else).
   */
  lineProtectionMac(req: LineProtectionMacRequest): Promise<Uint8Array>;
  /**
   * The Ed25519 signature (64 bytes) of `message` under the blacklist signing key.
   * @throws {IssuerKeyError} `KEY_STORE_DESTROYED`.
   * @throws {ArgumentError} `BAD_ARGUMENT` unless `message` is bytes.
   */
  signBlacklist(message: Uint8Array): Promise<Uint8Array>;
  /**
   * The raw 32-byte Ed25519 public key machines check blacklist signatures with ({@link verifyBlacklistSignature}).
   * @throws {IssuerKeyError} `KEY_STORE_DESTROYED`.
   */
  blacklistPublicKey(): Promise<Uint8Array>;
  /** Wipes the keys; every later call rejects with `KEY_STORE_DESTROYED`. Repeating it does nothing. */
  destroy(): Promise<void>;
}
