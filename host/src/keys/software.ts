/**
 * {@link SoftwareIssuerKeyStore}: the {@link IssuerKeyStore} that holds the issuer's master keys in process memory,
 * built on the SDK's primitives (PBOC diversification, session keys and MACs, the issuer's TAC verifier, GP KDF3,
 * the e-purse's DGI 8001 layout, EMV CPS secret-DGI encryption, ISO 9797-1 MAC algorithm 3) and Node's Ed25519 and
 * HKDF. Also {@link verifyBlacklistSignature}, what a machine checks the blacklist with.
 * @module
 */
import { createPrivateKey, createPublicKey, hkdfSync, type KeyObject, sign, verify } from 'node:crypto';
import { assertBytes, assertUint, concat, equalCt, fromHex, wipe } from '@simtap/sdk/core/bytes';
import { DesCipher, macAlg3 } from '@simtap/sdk/core/crypto';
import { ArgumentError } from '@simtap/sdk/core/errors';
import { diversifyKdf3, encryptSecretDgi, type StaticKeys, scp03DgiCipher } from '@simtap/sdk/core/gp';
import {
  diversificationDataOf,
  diversifyPbocKey,
  encodeKeys,
  encodePinBlock,
  IssuerTacVerifier,
  type LoadTacFields,
  loadMac1,
  loadMac2,
  loadSessionKey,
  PBOC_COMMANDS,
  PbocKeyDiversifier,
  PbocMac,
  type PurchaseTacFields,
  type PurseKeyEntry,
  type WithTac,
} from '@simtap/sdk/core/pboc';
import { CARD_KEY_NAMES, type CardKeyName, type SimtapProfile } from '@simtap/sdk/core/profile';
import { IssuerKeyError } from './errors';
import type {
  InternalAuthenticateCheck,
  IssuerKeyStore,
  LineProtectionMacRequest,
  LoadAuthorizationFields,
  LoadMac2Fields,
  PersonalizationSecrets,
  PersonalizationSecretsRequest,
} from './index';

/**
 * The HKDF `info` with which {@link SoftwareIssuerKeyStore.fromProfile} derives the blacklist signing seed from the
 * profile's master keys.
 */
export const BLACKLIST_SIGNING_INFO = 'simtap blacklist signing v1';

/**
 * The master keys of a {@link SoftwareIssuerKeyStore}. Each 3DES master key (16 bytes) gives a card's key as its
 * PBOC diversification with the card's diversification data (the rightmost 8 bytes of its serial).
 */
export interface SoftwareIssuerKeys {
  /** The load master key (16 bytes): a card's DLK. */
  readonly loadMasterKey: Uint8Array;
  /** The purchase master key (16 bytes): a card's DPK (exported only encrypted, for personalization). */
  readonly purchaseMasterKey: Uint8Array;
  /** The TAC master key (16 bytes): a card's DTK, whose halves XORed make the TAC key. */
  readonly tacMasterKey: Uint8Array;
  /**
   * The external-authentication master key (16 bytes): a card's DEAK, from which the card derives its internal
   * authentication key.
   */
  readonly externalAuthMasterKey: Uint8Array;
  /** The line-protection master key (16 bytes): a card's DLPK, the MAC key of APPLICATION BLOCK / UNBLOCK. */
  readonly lineProtectMasterKey: Uint8Array;
  /** The PIN-unblock master key (16 bytes): a card's DPUK (exported only encrypted, for personalization). */
  readonly pinUnblockMasterKey: Uint8Array;
  /** The master key of the cards' ISD SCP03 keys (AES, 16, 24 or 32 bytes; KDF3 with each card's KDD). */
  readonly isdMasterKey: Uint8Array;
  /** The Ed25519 private key seed (32 bytes) of the blacklist signatures. */
  readonly blacklistSigningSeed: Uint8Array;
}

/** PKCS #8 `PrivateKeyInfo` of an Ed25519 key up to its 32-byte seed (RFC 8410 §7). */
const PKCS8_ED25519_PREFIX = fromHex('302E020100300506032B657004220420');
/** `SubjectPublicKeyInfo` of an Ed25519 key up to its 32-byte public key (RFC 8410 §4). */
const SPKI_ED25519_PREFIX = fromHex('302A300506032B6570032100');

const MAX_U32 = 0xffffffff;
/** The commands {@link SoftwareIssuerKeyStore.lineProtectionMac} MACs (INS bytes). */
const LINE_PROTECTED_INS: readonly number[] = [
  PBOC_COMMANDS.APPLICATION_BLOCK.ins,
  PBOC_COMMANDS.APPLICATION_UNBLOCK.ins,
];
const REDACTED = 'SoftwareIssuerKeyStore(keys [redacted])';

function assertObject(value: unknown, name: string): asserts value is object {
  if (typeof value !== 'object' || value === null) throw new ArgumentError(`${name}: expected an object`);
}

/** Checks every field the load's session key and MAC2 use, before any key is touched. */
function checkLoadFields(f: LoadMac2Fields): void {
  assertBytes(f.cardSerial, 'cardSerial', 10);
  assertUint(f.amount, 'amount', MAX_U32);
  assertUint(f.tti, 'tti', 0xff);
  assertBytes(f.terminalId, 'terminalId', 6);
  assertUint(f.onlineCounter, 'onlineCounter', 0xffff);
  assertBytes(f.random, 'random', 4);
  assertBytes(f.date, 'date', 4);
  assertBytes(f.time, 'time', 3);
  if (f.oldBalance !== undefined) assertUint(f.oldBalance, 'oldBalance', MAX_U32);
}

/** Load MAC2 with the keyed session MAC. */
function mac2Of(mac: PbocMac, f: LoadMac2Fields): Uint8Array {
  return loadMac2({
    sessionKey: mac,
    amount: f.amount,
    tti: f.tti,
    terminalId: f.terminalId,
    date: f.date,
    time: f.time,
  });
}

/**
 * True when `signature` is the Ed25519 signature of `message` under the raw 32-byte `publicKey` (the issuer's
 * {@link IssuerKeyStore.blacklistPublicKey}). A signature of another length, or one that does not verify, is false.
 * @throws {ArgumentError} `BAD_ARGUMENT` unless `publicKey` is 32 bytes and `message` and `signature` are bytes.
 * @example verifyBlacklistSignature(issuerPublicKey, blacklistBytes, signature) // true when the issuer signed it
 */
export function verifyBlacklistSignature(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  assertBytes(publicKey, 'publicKey', 32);
  assertBytes(message, 'message');
  assertBytes(signature, 'signature');
  if (signature.length !== 64) return false;
  try {
    const key = createPublicKey({
      key: Buffer.from(concat(SPKI_ED25519_PREFIX, publicKey)),
      format: 'der',
      type: 'spki',
    });
    return verify(null, message, key, signature);
  } catch {
    return false; // not a point of the curve
  }
}

/**
 * The issuer's keys in process memory. The constructor builds the key schedules once and keeps no reference to the
 * caller's arrays (wipe them when done); every per-card key (the six card keys, session keys, the
 * internal-authentication key, the ISD's static keys) lives only during its call and is wiped after it; the card
 * keys and the PIN leave only DEK-encrypted ({@link SoftwareIssuerKeyStore.personalizationSecrets}).
 * {@link SoftwareIssuerKeyStore.destroy} wipes the schedules; `JSON.stringify` and `util.inspect` show
 * `SoftwareIssuerKeyStore(keys [redacted])`.
 * @example
 * const keys = new SoftwareIssuerKeyStore({ loadMasterKey, purchaseMasterKey, tacMasterKey, externalAuthMasterKey,
 *   lineProtectMasterKey, pinUnblockMasterKey, isdMasterKey, blacklistSigningSeed }); // the issuer's own keys
 * const { mac2 } = await keys.authorizeLoad(request);
 */
export class SoftwareIssuerKeyStore implements IssuerKeyStore {
  readonly #load: PbocKeyDiversifier;
  readonly #tac: IssuerTacVerifier;
  readonly #deak: PbocKeyDiversifier;
  /** Every card key's diversifier (DLK and DEAK share `#load` and `#deak`). */
  readonly #cardKeys: Readonly<Record<CardKeyName, PbocKeyDiversifier>>;
  readonly #isd: Uint8Array;
  #signing: KeyObject | undefined;
  readonly #publicKey: Uint8Array;
  #destroyed = false;

  /**
   * @throws {ArgumentError} `BAD_ARGUMENT` unless the 3DES master keys are 16 bytes, `isdMasterKey` 16, 24 or 32
   *   and `blacklistSigningSeed` 32 (the message names the key, never its bytes).
   */
  constructor(keys: SoftwareIssuerKeys) {
    assertObject(keys, 'keys');
    assertBytes(keys.loadMasterKey, 'loadMasterKey', 16);
    assertBytes(keys.purchaseMasterKey, 'purchaseMasterKey', 16);
    assertBytes(keys.tacMasterKey, 'tacMasterKey', 16);
    assertBytes(keys.externalAuthMasterKey, 'externalAuthMasterKey', 16);
    assertBytes(keys.lineProtectMasterKey, 'lineProtectMasterKey', 16);
    assertBytes(keys.pinUnblockMasterKey, 'pinUnblockMasterKey', 16);
    assertBytes(keys.isdMasterKey, 'isdMasterKey', 16, 24, 32);
    assertBytes(keys.blacklistSigningSeed, 'blacklistSigningSeed', 32);
    const der = Buffer.from(concat(PKCS8_ED25519_PREFIX, keys.blacklistSigningSeed));
    let signing: KeyObject;
    try {
      signing = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    } finally {
      der.fill(0);
    }
    this.#signing = signing;
    const spki = createPublicKey(signing).export({ format: 'der', type: 'spki' });
    this.#publicKey = new Uint8Array(spki.subarray(spki.length - 32));
    this.#load = new PbocKeyDiversifier(keys.loadMasterKey);
    this.#tac = new IssuerTacVerifier(keys.tacMasterKey);
    this.#deak = new PbocKeyDiversifier(keys.externalAuthMasterKey);
    this.#cardKeys = Object.freeze({
      DLK: this.#load,
      DPK: new PbocKeyDiversifier(keys.purchaseMasterKey),
      DTK: new PbocKeyDiversifier(keys.tacMasterKey),
      DEAK: this.#deak,
      DLPK: new PbocKeyDiversifier(keys.lineProtectMasterKey),
      DPUK: new PbocKeyDiversifier(keys.pinUnblockMasterKey),
    });
    this.#isd = keys.isdMasterKey.slice();
  }

  /**
   * The store of `profile`'s issuer: its six master keys (`issuer.masterKeys`), the ISD master key
   * (`card.isd.scp03.diversified.masterKey`), and a blacklist signing seed derived from the master keys as
   * HKDF-SHA256(ikm = tacMasterKey ‖ loadMasterKey, salt = empty, info = {@link BLACKLIST_SIGNING_INFO}, 32 bytes).
   *
   * For tests and the platform's embedded default only (`fromProfile(referenceProfile())` holds test keys: never
   * real money). A real issuer passes its own keys, and an independent signing seed, to the constructor; there are
   * no default keys anywhere else.
   * @throws {ArgumentError} `BAD_ARGUMENT` when `profile` is not a parsed profile with these keys.
   */
  static fromProfile(profile: SimtapProfile): SoftwareIssuerKeyStore {
    const p = profile as Partial<SimtapProfile> | null | undefined;
    const mk = p?.issuer?.masterKeys;
    const isd = p?.card?.isd?.scp03?.diversified?.masterKey;
    if (typeof mk !== 'object' || mk === null || isd === undefined)
      throw new ArgumentError('profile: expected a SimtapProfile');
    assertBytes(mk.loadMasterKey, 'loadMasterKey', 16);
    assertBytes(mk.tacMasterKey, 'tacMasterKey', 16);
    const ikm = concat(mk.tacMasterKey, mk.loadMasterKey);
    const seed = new Uint8Array(hkdfSync('sha256', ikm, new Uint8Array(0), BLACKLIST_SIGNING_INFO, 32));
    wipe(ikm);
    try {
      return new SoftwareIssuerKeyStore({
        loadMasterKey: mk.loadMasterKey,
        purchaseMasterKey: mk.purchaseMasterKey,
        tacMasterKey: mk.tacMasterKey,
        externalAuthMasterKey: mk.externalAuthMasterKey,
        lineProtectMasterKey: mk.lineProtectMasterKey,
        pinUnblockMasterKey: mk.pinUnblockMasterKey,
        isdMasterKey: isd,
        blacklistSigningSeed: seed,
      });
    } finally {
      wipe(seed);
    }
  }

  /** See {@link IssuerKeyStore.authorizeLoad}: MAC1 compared in constant time, MAC2 made only when it verifies. */
  async authorizeLoad(req: LoadAuthorizationFields): Promise<{ mac2: Uint8Array }> {
    this.#live();
    assertObject(req, 'req');
    checkLoadFields(req);
    assertUint(req.oldBalance, 'oldBalance', MAX_U32);
    assertBytes(req.mac1, 'mac1', 4);
    return this.#withLoadSession(req, (mac) => {
      const mac1 = loadMac1({
        sessionKey: mac,
        oldBalance: req.oldBalance,
        amount: req.amount,
        tti: req.tti,
        terminalId: req.terminalId,
      });
      const ok = equalCt(mac1, req.mac1);
      wipe(mac1);
      if (!ok) throw new IssuerKeyError('BAD_MAC1', "load MAC1 does not verify under the card's load key");
      return { mac2: mac2Of(mac, req) };
    });
  }

  /** See {@link IssuerKeyStore.loadMac2}. */
  async loadMac2(fields: LoadMac2Fields): Promise<Uint8Array> {
    this.#live();
    assertObject(fields, 'fields');
    checkLoadFields(fields);
    return this.#withLoadSession(fields, (mac) => mac2Of(mac, fields));
  }

  /** See {@link IssuerKeyStore.verifyLoadTac}. */
  async verifyLoadTac(fields: LoadTacFields & WithTac, cardSerial: Uint8Array): Promise<boolean> {
    this.#live();
    assertObject(fields, 'fields');
    return this.#tac.verifyLoad(fields, cardSerial);
  }

  /** See {@link IssuerKeyStore.verifyPurchaseTac}. */
  async verifyPurchaseTac(fields: PurchaseTacFields & WithTac, cardSerial: Uint8Array): Promise<boolean> {
    this.#live();
    assertObject(fields, 'fields');
    return this.#tac.verifyPurchase(fields, cardSerial);
  }

  /**
   * See {@link IssuerKeyStore.verifyInternalAuthenticate}. The card answers 3DES-ECB of each 8-byte block under its
   * internal-authentication key: its DEAK (the PBOC diversification of the external-authentication master key with
   * the card's diversification data) diversified once more, PBOC method, with the same data.
   */
  async verifyInternalAuthenticate(check: InternalAuthenticateCheck): Promise<boolean> {
    this.#live();
    assertObject(check, 'check');
    const div = diversificationDataOf(check.cardSerial);
    assertBytes(check.challenge, 'challenge');
    if (check.challenge.length === 0 || check.challenge.length % 8 !== 0 || check.challenge.length > 248)
      throw new ArgumentError(`challenge: expected 8..248 bytes in 8-byte blocks, got ${check.challenge.length}`);
    assertBytes(check.response, 'response');
    const deak = this.#deak.diversify(div);
    let key: Uint8Array;
    try {
      key = diversifyPbocKey(deak, div);
    } finally {
      wipe(deak);
    }
    let cipher: DesCipher;
    try {
      cipher = new DesCipher(key);
    } finally {
      wipe(key);
    }
    let expected: Uint8Array;
    try {
      expected = cipher.ecbEncrypt(check.challenge);
    } finally {
      cipher.destroy();
    }
    try {
      return equalCt(expected, check.response);
    } finally {
      wipe(expected);
    }
  }

  /** See {@link IssuerKeyStore.isdKeys}: KDF3 (GlobalPlatformPro template) of the ISD master key with `kdd`. */
  async isdKeys(kdd: Uint8Array): Promise<StaticKeys> {
    this.#live();
    assertBytes(kdd, 'kdd', 10);
    return diversifyKdf3(this.#isd, kdd);
  }

  /**
   * See {@link IssuerKeyStore.personalizationSecrets}: the six card keys diversified here, encoded as DGI 8001
   * (`encodeKeys`), and the PIN block (`encodePinBlock`), each encrypted with `encryptSecretDgi` under
   * `scp03DgiCipher` of the DEK of KDF3(ISD master key, `kdd`); every clear intermediate is wiped before the call
   * returns or throws.
   */
  async personalizationSecrets(req: PersonalizationSecretsRequest): Promise<PersonalizationSecrets> {
    this.#live();
    assertObject(req, 'req');
    assertBytes(req.cardSerial, 'cardSerial', 10);
    assertBytes(req.kdd, 'kdd', 10);
    assertUint(req.keyIndex, 'keyIndex', 0xff);
    assertUint(req.keyVersion, 'keyVersion', 0xff);
    assertUint(req.algorithm, 'algorithm', 0xff);
    const pin = encodePinBlock(req.pin);
    const div = diversificationDataOf(req.cardSerial);
    const entries: PurseKeyEntry[] = [];
    let keys: Uint8Array | undefined;
    let isd: StaticKeys | undefined;
    let cipher: ReturnType<typeof scp03DgiCipher> | undefined;
    try {
      for (const type of CARD_KEY_NAMES)
        entries.push({
          type,
          index: req.keyIndex,
          version: req.keyVersion,
          algorithm: req.algorithm,
          key: this.#cardKeys[type].diversify(div),
        });
      keys = encodeKeys(entries);
      isd = diversifyKdf3(this.#isd, req.kdd);
      cipher = scp03DgiCipher(isd.dek);
      return { keys: encryptSecretDgi(cipher, keys), pin: encryptSecretDgi(cipher, pin) };
    } finally {
      for (const e of entries) wipe(e.key);
      wipe(pin, div);
      if (keys !== undefined) wipe(keys);
      if (isd !== undefined) wipe(isd.enc, isd.mac, isd.dek);
      cipher?.destroy();
    }
  }

  /**
   * See {@link IssuerKeyStore.lineProtectionMac}: `macAlg3` (the MAC the e-purse checks with) under the card's DLPK,
   * diversified for the call and wiped after it.
   */
  async lineProtectionMac(req: LineProtectionMacRequest): Promise<Uint8Array> {
    this.#live();
    assertObject(req, 'req');
    assertBytes(req.cardSerial, 'cardSerial', 10);
    assertBytes(req.challenge, 'challenge', 4, 8);
    assertBytes(req.header, 'header', 5);
    if (!LINE_PROTECTED_INS.includes(req.header[1]!) || req.header[4] !== 4)
      throw new ArgumentError(
        'header: expected CLA INS P1 P2 Lc of APPLICATION BLOCK (INS 1E) or APPLICATION UNBLOCK (INS 18) with Lc 04',
      );
    const icv = new Uint8Array(8);
    icv.set(req.challenge);
    const dlpk = this.#cardKeys.DLPK.diversify(diversificationDataOf(req.cardSerial));
    let mac: Uint8Array;
    try {
      mac = macAlg3(dlpk, req.header, { iv: icv });
    } finally {
      wipe(dlpk);
    }
    try {
      return mac.slice(0, 4);
    } finally {
      wipe(mac);
    }
  }

  /** See {@link IssuerKeyStore.signBlacklist}. Ed25519 (RFC 8032) is deterministic: the same message, the same signature. */
  async signBlacklist(message: Uint8Array): Promise<Uint8Array> {
    const key = this.#live();
    assertBytes(message, 'message');
    return new Uint8Array(sign(null, message, key));
  }

  /** See {@link IssuerKeyStore.blacklistPublicKey}. */
  async blacklistPublicKey(): Promise<Uint8Array> {
    this.#live();
    return this.#publicKey.slice();
  }

  /**
   * Wipes the six master key schedules and the ISD master key, and drops the Ed25519 key object (Node offers no way to
   * zero one: it goes to the garbage collector). Later calls reject with `KEY_STORE_DESTROYED`.
   */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#tac.destroy();
    for (const name of CARD_KEY_NAMES) this.#cardKeys[name].destroy();
    wipe(this.#isd);
    this.#signing = undefined;
  }

  /** Never exposes key material. */
  toJSON(): string {
    return REDACTED;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return REDACTED;
  }

  /** The signing key, or `KEY_STORE_DESTROYED`. */
  #live(): KeyObject {
    if (this.#destroyed || this.#signing === undefined)
      throw new IssuerKeyError('KEY_STORE_DESTROYED', 'SoftwareIssuerKeyStore: destroyed');
    return this.#signing;
  }

  /** Runs `fn` with a MAC keyed with the load's SESLK; DLK, SESLK and the MAC state are wiped after. */
  #withLoadSession<T>(f: LoadMac2Fields, fn: (mac: PbocMac) => T): T {
    const dlk = this.#load.diversify(diversificationDataOf(f.cardSerial));
    let seslk: Uint8Array;
    try {
      seslk = loadSessionKey(dlk, f.random, f.onlineCounter);
    } finally {
      wipe(dlk);
    }
    let mac: PbocMac;
    try {
      mac = new PbocMac(seslk);
    } finally {
      wipe(seslk);
    }
    try {
      return fn(mac);
    } finally {
      mac.destroy();
    }
  }
}
