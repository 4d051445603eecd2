/**
 * The reference profile (`sdk/profile/reference-profile.json`): the one set of identities and keys every test,
 * example and demo uses — the cards and their keys, the PSAMs, the issuer's master keys, and the `platform` section
 * (the account operation platform's clients with their secrets, its merchants and customers).
 * {@link parseProfile} validates any profile-shaped value into typed, frozen objects (hex becomes `Uint8Array`,
 * numbers stay numbers); {@link referenceProfile} parses the bundled file once.
 *
 * Key material never leaves through `JSON.stringify` or Node's `console.log`: every object of a parsed profile
 * has a `toJSON` (and an inspect hook) that prints byte fields as hex and secrets as `"[redacted]"`.
 *
 * {@link fleetCard} makes synthetic cards beyond the profile's own (`fleet-0`, `fleet-1`, …: own identities, keys
 * diversified from the issuer's master keys as the profile's cards are), and {@link withFleet} a profile that
 * lists them, for load tests and fleets of emulated SIMs.
 *
 * @module
 */
import raw from '../../../profile/reference-profile.json';
import { decodeBcdDate, fromHex, toHex } from '../bytes';
import { kcvDes } from '../crypto';
import { ArgumentError, defineErrors, ParseError } from '../errors';
import type { StaticKeys } from '../gp';
import type { Ef15 } from '../pboc';
import { diversifyPbocKey } from '../pboc/keys';
import { tacKey } from '../pboc/mac';

/** The codes of {@link ProfileError}. */
export const PROFILE_ERRORS = defineErrors({
  PROFILE_INVALID: {
    class: 'ProfileError',
    when: 'a card profile fails validation; `path` names the field (`cards[1].keys.DPK.key`)',
    fix: 'fix the profile JSON at `path`',
  },
});

/** Code of a {@link ProfileError}. */
export type ProfileErrorCode = keyof typeof PROFILE_ERRORS;

/** A profile failed validation; `path` names the field, e.g. `cards[1].keys.DPK.key`. Code `PROFILE_INVALID`. */
export class ProfileError extends ParseError<ProfileErrorCode> {
  /** Where in the profile the problem is (`""` for the root). */
  readonly path: string;
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super('PROFILE_INVALID', `${path || '(root)'}: ${message}`, undefined, options);
    this.path = path;
  }
}

/** Issuer master keys, in the profile's order. */
export const MASTER_KEY_NAMES = [
  'loadMasterKey',
  'purchaseMasterKey',
  'tacMasterKey',
  'externalAuthMasterKey',
  'lineProtectMasterKey',
  'pinUnblockMasterKey',
] as const;
/** Name of an issuer master key. */
export type MasterKeyName = (typeof MASTER_KEY_NAMES)[number];

/** Card (application) keys: load, purchase, TAC, external authentication, line protection, PIN unblock. */
export const CARD_KEY_NAMES = ['DLK', 'DPK', 'DTK', 'DEAK', 'DLPK', 'DPUK'] as const;
/** Name of a card key. */
export type CardKeyName = (typeof CARD_KEY_NAMES)[number];

/** The issuer master key each card key is diversified from. */
export const CARD_KEY_MASTER: Readonly<Record<CardKeyName, MasterKeyName>> = Object.freeze({
  DLK: 'loadMasterKey',
  DPK: 'purchaseMasterKey',
  DTK: 'tacMasterKey',
  DEAK: 'externalAuthMasterKey',
  DLPK: 'lineProtectMasterKey',
  DPUK: 'pinUnblockMasterKey',
});

/** A 16-byte 3DES key with its check value (first 3 bytes of 3DES-ECB(key, 00×8)). Redacted in JSON. */
export interface KeyWithKcv {
  readonly key: Uint8Array;
  readonly kcv: Uint8Array;
}

/** The card's application keys. */
export type CardKeys = Readonly<Record<CardKeyName, KeyWithKcv>>;

/** Issuer master keys (16 bytes each). Redacted in JSON. */
export type IssuerMasterKeys = Readonly<Record<MasterKeyName, Uint8Array>>;

/** The card's GlobalPlatform issuer security domain. */
export interface IsdProfile {
  readonly aid: Uint8Array;
  readonly scp03: {
    /** SCP03 `i` parameter. */
    readonly i: number;
    /** Key version number of the SCP03 key set. */
    readonly kvn: number;
    /** Static keys of a card created with the "default keys" option. */
    readonly staticKeysForDefaultCard: Readonly<StaticKeys>;
    /** AES KCV (first 3 bytes of AES-ECB(key, 01×16)) of the default key. */
    readonly kcvOfDefaultKey: Uint8Array;
    /** How per-card ISD keys are derived: KDF3 of `masterKey` with the card's KDD. */
    readonly diversified: { readonly method: string; readonly masterKey: Uint8Array };
  };
  readonly scp02: {
    readonly i: number;
    readonly kvn: number;
    readonly staticKeys: Readonly<StaticKeys>;
    /** 3DES KCV of the default key. */
    readonly kcvOfDefaultKey: Uint8Array;
  };
}

/** The e-purse application as issued on every card. */
export interface EpurseProfile {
  readonly aid: Uint8Array;
  readonly fid: Uint8Array;
  /** EF 0x15 fields common to all cards (the application serial is per card). */
  readonly ef15: Readonly<Omit<Ef15, 'applicationSerial'>>;
  readonly transactionLogRecords: number;
  readonly pinTryLimit: number;
  readonly macFailureLimit: number;
  /** Overdraft limit in fen. */
  readonly overdraftLimit: number;
  /** Maximum balance in fen. */
  readonly maxBalance: number;
}

/** Properties shared by every card of the profile. */
export interface CardPlatformProfile {
  readonly atr: Uint8Array;
  readonly interfaces: readonly string[];
  readonly isd: IsdProfile;
  readonly pse: string;
  readonly ppse: string;
  readonly epurse: EpurseProfile;
  /** The USIM beside the payment applets (the UICC file system; made-up values, see the profile's note). */
  readonly usim: UsimProfile;
}

/** The USIM application and the UICC files every card of the profile carries (ETSI TS 102 221, 3GPP TS 31.102). */
export interface UsimProfile {
  /** AID of the USIM ADF (16 bytes; RID A000000087, application code 1002). */
  readonly aid: Uint8Array;
  /** EF.SPN's service provider name. */
  readonly serviceProviderName: string;
  /** EF.PL's languages (ISO 639 two-letter codes), most preferred first. */
  readonly languages: readonly string[];
  /** EF.AD's length of the MNC in the IMSI (2 or 3). */
  readonly mncLength: number;
}

/** The issuer: master keys and their check values. */
export interface IssuerProfile {
  readonly masterKeys: IssuerMasterKeys;
  readonly diversification: string;
  readonly kcv: Readonly<Record<MasterKeyName, Uint8Array>>;
}

/** A PSAM (secure access module) of a consumption machine. */
export interface PsamProfile {
  readonly label: string;
  readonly terminalId: Uint8Array;
  readonly aid: Uint8Array;
  readonly fid: Uint8Array;
  readonly initialTerminalTxnSeq: number;
  readonly holds: readonly MasterKeyName[];
}

/** One issued card: identities, PIN and diversified keys. */
export interface CardProfile {
  readonly label: string;
  readonly iccid: string;
  readonly msisdn: string;
  /** The USIM's IMSI (15 digits: MCC 460, MNC 00, MSIN), made up (EF.IMSI). */
  readonly imsi: string;
  /** 10-byte application serial (EF 0x15 bytes 10..19). */
  readonly applicationSerial: Uint8Array;
  /** 8-byte PBOC diversification data (rightmost 8 bytes of the serial). */
  readonly diversificationData: Uint8Array;
  /** PIN digits. Redacted in JSON. */
  readonly pin: string;
  /** Initial balance in fen. */
  readonly initialBalance: number;
  readonly keyIndex: number;
  readonly keyVersion: number;
  readonly algorithmId: number;
  readonly keys: CardKeys;
  /** TAC key = DTK left ⊕ right. Redacted in JSON. */
  readonly tacSingleDesKey: Uint8Array;
  /** The card's GP key diversification data. */
  readonly isd: { readonly kdd: Uint8Array };
}

/** Roles of the platform's clients: an `application` system connects on `endpoints.app`, an `operator` on `endpoints.console`. */
export const PLATFORM_CLIENT_ROLES = ['application', 'operator'] as const;
/** Role of a platform client. */
export type PlatformClientRole = (typeof PLATFORM_CLIENT_ROLES)[number];

/** The WebSocket endpoint paths of the platform (`/v1/app`, `/v1/ota`, `/v1/console`). */
export interface PlatformEndpoints {
  /** Application systems (role `application`). */
  readonly app: string;
  /** Phones relaying card commands over the air. */
  readonly ota: string;
  /** Operators (role `operator`). */
  readonly console: string;
}

/** A client allowed to connect to the platform: an application system or an operator. */
export interface PlatformClient {
  /** The `clientId` of `session.authenticate`; unique in the profile. */
  readonly id: string;
  readonly role: PlatformClientRole;
  /** What kind of system it is (`transit`, `campus`, …), when the profile says. */
  readonly system?: string;
  /** The merchant the client settles to (an id of `platform.merchants`), or `null` for none. */
  readonly merchantId: string | null;
  /** The client's 32-byte HMAC secret (authentication at upgrade). Redacted in JSON. */
  readonly secret: Uint8Array;
}

/** A merchant the platform settles cleared purchases to. */
export interface PlatformMerchant {
  /** Unique in the profile. */
  readonly id: string;
  readonly name: string;
  /** Loyalty points the customer earns per yuan spent with the merchant (0: none). */
  readonly pointsPerYuan: number;
}

/** A customer of the embedded default: a phone number, its card, and the opening balance of its phone account. */
export interface PlatformCustomer {
  /** Unique in the profile. */
  readonly msisdn: string;
  /** Label of the customer's card (one of the profile's `cards`). */
  readonly card: string;
  /** Opening balance of the phone account, fen. */
  readonly phoneAccountOpeningBalance: number;
}

/** The account operation platform's embedded default: where it listens, who may connect, merchants and customers. */
export interface PlatformProfile {
  /** `host:port` (an IPv6 host in brackets), e.g. `127.0.0.1:7800`. */
  readonly listen: string;
  /** The WebSocket subprotocol, e.g. `simtap.v1`. */
  readonly subprotocol: string;
  readonly endpoints: PlatformEndpoints;
  readonly clients: readonly PlatformClient[];
  readonly merchants: readonly PlatformMerchant[];
  readonly customers: readonly PlatformCustomer[];
}

/** A parsed, validated profile. */
export interface SimtapProfile {
  readonly name: string;
  readonly purpose: string;
  readonly currency: { readonly code: string; readonly minorUnit: string; readonly note: string };
  readonly card: CardPlatformProfile;
  readonly issuer: IssuerProfile;
  readonly psams: readonly PsamProfile[];
  readonly cards: readonly CardProfile[];
  /** The account operation platform's embedded default (clients, merchants, customers). */
  readonly platform: PlatformProfile;
  readonly notes: readonly string[];
}

// ---------------------------------------------------------------- validation helpers

type Obj = Record<string, unknown>;

const at = (path: string, key: string): string => (path ? `${path}.${key}` : key);

function fail(path: string, message: string, cause?: unknown): never {
  throw new ProfileError(path, message, cause === undefined ? undefined : { cause });
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (ArrayBuffer.isView(v)) return 'bytes';
  return typeof v === 'string' ? 'a string' : `${typeof v}`;
}

function asObj(v: unknown, path: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || ArrayBuffer.isView(v))
    fail(path, `expected an object, got ${kindOf(v)}`);
  return v as Obj;
}

function objAt(o: Obj, key: string, path: string): Obj {
  return asObj(o[key], at(path, key));
}

function arrAt(o: Obj, key: string, path: string): unknown[] {
  const v = o[key];
  if (!Array.isArray(v)) fail(at(path, key), `expected an array, got ${kindOf(v)}`);
  return v;
}

function strAt(o: Obj, key: string, path: string, optional = false): string {
  const v = o[key];
  if (v === undefined && optional) return '';
  if (typeof v !== 'string') fail(at(path, key), `expected a string, got ${kindOf(v)}`);
  return v;
}

function strArrAt(o: Obj, key: string, path: string, optional = false): string[] {
  if (o[key] === undefined && optional) return [];
  return arrAt(o, key, path).map((v, i) => {
    if (typeof v !== 'string') fail(`${at(path, key)}[${i}]`, `expected a string, got ${kindOf(v)}`);
    return v;
  });
}

function intAt(o: Obj, key: string, path: string, max: number): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max)
    fail(at(path, key), `expected an integer in 0..${max}, got ${typeof v === 'number' ? v : kindOf(v)}`);
  return v;
}

function digitsAt(o: Obj, key: string, path: string, min: number, max: number): string {
  const v = strAt(o, key, path);
  if (!new RegExp(`^[0-9]{${min},${max}}$`).test(v)) fail(at(path, key), `expected ${min}..${max} decimal digits`);
  return v;
}

function iccidAt(o: Obj, key: string, path: string): string {
  const v = strAt(o, key, path).toUpperCase();
  if (!/^[0-9]{18,20}$|^[0-9]{18,19}F$/.test(v))
    fail(at(path, key), 'expected an ICCID of 18..20 digits (a trailing F pads an odd length)');
  return v;
}

function hexAt(o: Obj, key: string, path: string, ...lengths: number[]): Uint8Array {
  const p = at(path, key);
  const v = strAt(o, key, path);
  let bytes: Uint8Array;
  try {
    bytes = fromHex(v);
  } catch (e) {
    fail(p, `invalid hex (${e instanceof ParseError ? e.message : 'not hex'})`, e);
  }
  if (lengths.length > 0 && !lengths.includes(bytes.length))
    fail(p, `expected ${lengths.join(' or ')} bytes, got ${bytes.length}`);
  return bytes;
}

function rangeHexAt(o: Obj, key: string, path: string, min: number, max: number): Uint8Array {
  const b = hexAt(o, key, path);
  if (b.length < min || b.length > max) fail(at(path, key), `expected ${min}..${max} bytes, got ${b.length}`);
  return b;
}

function byteAt(o: Obj, key: string, path: string): number {
  return hexAt(o, key, path, 1)[0]!;
}

function bcdDateAt(o: Obj, key: string, path: string): Uint8Array {
  const b = hexAt(o, key, path, 4);
  try {
    decodeBcdDate(b);
  } catch (e) {
    fail(at(path, key), 'expected a YYYYMMDD calendar date', e);
  }
  return b;
}

function checkKcv(key: Uint8Array, kcv: Uint8Array, path: string): void {
  const actual = kcvDes(key);
  if (toHex(actual) !== toHex(kcv)) fail(path, `check value ${toHex(kcv)} does not match the key (${toHex(actual)})`);
}

function staticKeysAt(o: Obj, key: string, path: string, ...lengths: number[]): StaticKeys {
  const k = objAt(o, key, path);
  const p = at(path, key);
  return {
    enc: hexAt(k, 'enc', p, ...lengths),
    mac: hexAt(k, 'mac', p, ...lengths),
    dek: hexAt(k, 'dek', p, ...lengths),
  };
}

function uniqueLabels(items: readonly { label: string }[], path: string): void {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    if (seen.has(item.label)) fail(`${path}[${i}].label`, `duplicate label ${JSON.stringify(item.label)}`);
    seen.add(item.label);
  });
}

// ---------------------------------------------------------------- sections

function parseIsd(o: Obj, path: string): IsdProfile {
  const s3 = objAt(o, 'scp03', path);
  const p3 = at(path, 'scp03');
  const div = objAt(s3, 'diversified', p3);
  const s2 = objAt(o, 'scp02', path);
  const p2 = at(path, 'scp02');
  return {
    aid: rangeHexAt(o, 'aid', path, 5, 16),
    scp03: {
      i: byteAt(s3, 'i', p3),
      kvn: byteAt(s3, 'kvn', p3),
      staticKeysForDefaultCard: staticKeysAt(s3, 'staticKeysForDefaultCard', p3, 16, 24, 32),
      kcvOfDefaultKey: hexAt(s3, 'kcvOfDefaultKey', p3, 3),
      diversified: {
        method: strAt(div, 'method', at(p3, 'diversified')),
        masterKey: hexAt(div, 'masterKey', at(p3, 'diversified'), 16, 24, 32),
      },
    },
    scp02: {
      i: byteAt(s2, 'i', p2),
      kvn: byteAt(s2, 'kvn', p2),
      staticKeys: staticKeysAt(s2, 'staticKeys', p2, 16),
      kcvOfDefaultKey: hexAt(s2, 'kcvOfDefaultKey', p2, 3),
    },
  };
}

function parseUsim(o: Obj, path: string): UsimProfile {
  const languages = strArrAt(o, 'languages', path);
  for (const [i, l] of languages.entries())
    if (!/^[a-z]{2}$/.test(l)) fail(at(path, `languages[${i}]`), 'must be an ISO 639 two-letter code');
  const serviceProviderName = strAt(o, 'serviceProviderName', path);
  if (!/^[\x20-\x7e]{1,16}$/.test(serviceProviderName))
    fail(at(path, 'serviceProviderName'), 'must be 1–16 printable ASCII characters');
  const mncLength = intAt(o, 'mncLength', path, 3);
  if (mncLength < 2) fail(at(path, 'mncLength'), 'must be 2 or 3');
  return { aid: hexAt(o, 'aid', path, 16), serviceProviderName, languages, mncLength };
}

function parseCardPlatform(o: Obj, path: string): CardPlatformProfile {
  const ep = objAt(o, 'epurse', path);
  const pe = at(path, 'epurse');
  const ef = objAt(ep, 'ef15', pe);
  const pf = at(pe, 'ef15');
  return {
    atr: rangeHexAt(o, 'atr', path, 2, 33),
    interfaces: strArrAt(o, 'interfaces', path, true),
    isd: parseIsd(objAt(o, 'isd', path), at(path, 'isd')),
    pse: strAt(o, 'pse', path),
    ppse: strAt(o, 'ppse', path),
    epurse: {
      aid: rangeHexAt(ep, 'aid', pe, 5, 16),
      fid: hexAt(ep, 'fid', pe, 2),
      ef15: {
        issuerId: hexAt(ef, 'issuerId', pf, 8),
        applicationType: byteAt(ef, 'applicationType', pf),
        applicationVersion: byteAt(ef, 'applicationVersion', pf),
        startDate: bcdDateAt(ef, 'startDate', pf),
        expiryDate: bcdDateAt(ef, 'expiryDate', pf),
        fciCustom: hexAt(ef, 'fciCustom', pf, 2),
      },
      transactionLogRecords: intAt(ep, 'transactionLogRecords', pe, 255),
      pinTryLimit: intAt(ep, 'pinTryLimit', pe, 15),
      macFailureLimit: intAt(ep, 'macFailureLimit', pe, 255),
      overdraftLimit: intAt(ep, 'overdraftLimit', pe, 0xffffff),
      maxBalance: intAt(ep, 'maxBalance', pe, 0xffffffff),
    },
    usim: parseUsim(objAt(o, 'usim', path), at(path, 'usim')),
  };
}

function parseIssuer(o: Obj, path: string): IssuerProfile {
  const mk = objAt(o, 'masterKeys', path);
  const kc = objAt(o, 'kcv', path);
  const masterKeys = {} as Record<MasterKeyName, Uint8Array>;
  const kcv = {} as Record<MasterKeyName, Uint8Array>;
  for (const name of MASTER_KEY_NAMES) {
    masterKeys[name] = hexAt(mk, name, at(path, 'masterKeys'), 16);
    kcv[name] = hexAt(kc, name, at(path, 'kcv'), 3);
    checkKcv(masterKeys[name], kcv[name], at(at(path, 'kcv'), name));
  }
  return { masterKeys, diversification: strAt(o, 'diversification', path, true), kcv };
}

function parsePsam(v: unknown, path: string): PsamProfile {
  const o = asObj(v, path);
  const holds = arrAt(o, 'holds', path).map((h, i) => {
    if (typeof h !== 'string' || !(MASTER_KEY_NAMES as readonly string[]).includes(h))
      fail(`${at(path, 'holds')}[${i}]`, `expected one of ${MASTER_KEY_NAMES.join(', ')}`);
    return h as MasterKeyName;
  });
  return {
    label: strAt(o, 'label', path),
    terminalId: hexAt(o, 'terminalId', path, 6),
    aid: rangeHexAt(o, 'aid', path, 5, 16),
    fid: hexAt(o, 'fid', path, 2),
    initialTerminalTxnSeq: intAt(o, 'initialTerminalTxnSeq', path, 0xffffffff),
    holds,
  };
}

function parseCard(v: unknown, path: string, maxBalance: number): CardProfile {
  const o = asObj(v, path);
  const ks = objAt(o, 'keys', path);
  const pk = at(path, 'keys');
  const keys = {} as Record<CardKeyName, KeyWithKcv>;
  for (const name of CARD_KEY_NAMES) {
    const entry = objAt(ks, name, pk);
    const pe = at(pk, name);
    const key = hexAt(entry, 'key', pe, 16);
    const kcv = hexAt(entry, 'kcv', pe, 3);
    checkKcv(key, kcv, at(pe, 'kcv'));
    keys[name] = { key, kcv };
  }
  const initialBalance = intAt(o, 'initialBalance', path, 0xffffffff);
  if (initialBalance > maxBalance) fail(at(path, 'initialBalance'), `exceeds card.epurse.maxBalance ${maxBalance}`);
  return {
    label: strAt(o, 'label', path),
    iccid: iccidAt(o, 'iccid', path),
    msisdn: digitsAt(o, 'msisdn', path, 5, 15),
    imsi: digitsAt(o, 'imsi', path, 15, 15),
    applicationSerial: hexAt(o, 'applicationSerial', path, 10),
    diversificationData: hexAt(o, 'diversificationData', path, 8),
    pin: digitsAt(o, 'pin', path, 4, 12),
    initialBalance,
    keyIndex: intAt(o, 'keyIndex', path, 0xff),
    keyVersion: intAt(o, 'keyVersion', path, 0xff),
    algorithmId: intAt(o, 'algorithmId', path, 0xff),
    keys,
    tacSingleDesKey: hexAt(o, 'tacSingleDesKey', path, 8),
    isd: { kdd: hexAt(objAt(o, 'isd', path), 'kdd', at(path, 'isd'), 10) },
  };
}

/** Ids of clients and merchants: 1..64 of letters, digits and `. _ : -`, starting with a letter or digit. */
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
/** `host:port`: a name or IPv4 address, or an IPv6 address in brackets. */
const LISTEN_RE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/;
/** An RFC 6455 subprotocol: an HTTP token (RFC 7230 §3.2.6). */
const TOKEN_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** An absolute URL path without query or fragment. */
const PATH_RE = /^\/[^\s?#]*$/;

function matchAt(o: Obj, key: string, path: string, re: RegExp, what: string): string {
  const v = strAt(o, key, path);
  if (!re.test(v)) fail(at(path, key), `expected ${what}, got ${JSON.stringify(v)}`);
  return v;
}

function nonEmptyAt(o: Obj, key: string, path: string): string {
  const v = strAt(o, key, path);
  if (v.trim() === '') fail(at(path, key), 'expected a non-empty string');
  return v;
}

function unique<T>(items: readonly T[], keyOf: (item: T) => string, path: string, key: string, what: string): void {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    const v = keyOf(item);
    if (seen.has(v)) fail(`${path}[${i}].${key}`, `duplicate ${what} ${JSON.stringify(v)}`);
    seen.add(v);
  });
}

function parseClient(v: unknown, path: string): PlatformClient {
  const o = asObj(v, path);
  const role = strAt(o, 'role', path);
  if (!(PLATFORM_CLIENT_ROLES as readonly string[]).includes(role))
    fail(at(path, 'role'), `expected one of ${PLATFORM_CLIENT_ROLES.join(', ')}`);
  const merchantId = o.merchantId === undefined || o.merchantId === null ? null : strAt(o, 'merchantId', path);
  return {
    id: matchAt(o, 'id', path, ID_RE, 'an id of 1..64 letters, digits, ". _ : -"'),
    role: role as PlatformClientRole,
    ...(o.system === undefined ? {} : { system: nonEmptyAt(o, 'system', path) }),
    merchantId,
    secret: hexAt(o, 'secret', path, 32),
  };
}

function parseMerchant(v: unknown, path: string): PlatformMerchant {
  const o = asObj(v, path);
  return {
    id: matchAt(o, 'id', path, ID_RE, 'an id of 1..64 letters, digits, ". _ : -"'),
    name: nonEmptyAt(o, 'name', path),
    pointsPerYuan: intAt(o, 'pointsPerYuan', path, 0xffff),
  };
}

function parseCustomer(v: unknown, path: string): PlatformCustomer {
  const o = asObj(v, path);
  return {
    msisdn: digitsAt(o, 'msisdn', path, 5, 15),
    card: strAt(o, 'card', path),
    phoneAccountOpeningBalance: intAt(o, 'phoneAccountOpeningBalance', path, Number.MAX_SAFE_INTEGER),
  };
}

function parsePlatform(o: Obj, path: string, cards: readonly CardProfile[]): PlatformProfile {
  const listen = matchAt(o, 'listen', path, LISTEN_RE, 'host:port');
  const port = Number(LISTEN_RE.exec(listen)![1]);
  if (port > 0xffff) fail(at(path, 'listen'), `port ${port} is above 65535`);
  const ep = objAt(o, 'endpoints', path);
  const pe = at(path, 'endpoints');
  const endpoints: PlatformEndpoints = {
    app: matchAt(ep, 'app', pe, PATH_RE, 'a path starting with "/"'),
    ota: matchAt(ep, 'ota', pe, PATH_RE, 'a path starting with "/"'),
    console: matchAt(ep, 'console', pe, PATH_RE, 'a path starting with "/"'),
  };
  const names = ['app', 'ota', 'console'] as const;
  for (const [i, name] of names.entries()) {
    if (names.slice(0, i).some((other) => endpoints[other] === endpoints[name]))
      fail(at(pe, name), `path ${JSON.stringify(endpoints[name])} is already another endpoint's`);
  }
  const pc = at(path, 'clients');
  const pm = at(path, 'merchants');
  const pu = at(path, 'customers');
  const clients = arrAt(o, 'clients', path).map((c, i) => parseClient(c, `${pc}[${i}]`));
  const merchants = arrAt(o, 'merchants', path).map((m, i) => parseMerchant(m, `${pm}[${i}]`));
  const customers = arrAt(o, 'customers', path).map((c, i) => parseCustomer(c, `${pu}[${i}]`));
  unique(clients, (c) => c.id, pc, 'id', 'client id');
  unique(merchants, (m) => m.id, pm, 'id', 'merchant id');
  unique(customers, (c) => c.msisdn, pu, 'msisdn', 'msisdn');
  const merchantIds = new Set(merchants.map((m) => m.id));
  clients.forEach((c, i) => {
    if (c.merchantId !== null && !merchantIds.has(c.merchantId))
      fail(`${pc}[${i}].merchantId`, `names no merchant of ${pm}: ${JSON.stringify(c.merchantId)}`);
  });
  const labels = new Set(cards.map((c) => c.label));
  customers.forEach((c, i) => {
    if (!labels.has(c.card)) fail(`${pu}[${i}].card`, `names no card of the profile: ${JSON.stringify(c.card)}`);
  });
  return {
    listen,
    subprotocol: matchAt(o, 'subprotocol', path, TOKEN_RE, 'a WebSocket subprotocol token'),
    endpoints,
    clients,
    merchants,
    customers,
  };
}

// ---------------------------------------------------------------- redaction and freezing

/** Property names whose values (and everything below them) are secret. */
const SECRET_FIELDS = new Set([
  'key',
  'masterKey',
  'masterKeys',
  'tacSingleDesKey',
  'pin',
  'secret',
  'staticKeys',
  'staticKeysForDefaultCard',
]);
const REDACTED = '[redacted]';
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

function publicJson(v: unknown, secret: boolean): unknown {
  if (v instanceof Uint8Array) return secret ? REDACTED : toHex(v);
  if (Array.isArray(v)) return v.map((x) => publicJson(x, secret));
  if (typeof v === 'object' && v !== null) {
    const out: Obj = {};
    for (const [k, x] of Object.entries(v)) out[k] = publicJson(x, secret || SECRET_FIELDS.has(k));
    return out;
  }
  return secret && typeof v === 'string' ? REDACTED : v;
}

/** Adds a redacting `toJSON` and inspect hook to every object of the tree, then freezes it (bytes stay mutable). */
function seal<T>(v: T, secret: boolean): T {
  // Frozen objects are sealed already (the parts of a parsed profile that a derived one shares).
  if (v instanceof Uint8Array || typeof v !== 'object' || v === null || Object.isFrozen(v)) return v;
  if (Array.isArray(v)) {
    for (const x of v) seal(x, secret);
    return Object.freeze(v);
  }
  for (const [k, x] of Object.entries(v)) seal(x, secret || SECRET_FIELDS.has(k));
  const toJSON = () => publicJson(v, secret);
  Object.defineProperty(v, 'toJSON', { value: toJSON, enumerable: false });
  Object.defineProperty(v, INSPECT, { value: toJSON, enumerable: false });
  return Object.freeze(v);
}

// ---------------------------------------------------------------- public API

/**
 * Validates a profile-shaped value (e.g. parsed JSON) into a typed, frozen {@link SimtapProfile}. Unknown fields
 * are ignored; card and master key check values must match their keys.
 * @throws {ProfileError} `PROFILE_INVALID` with `path` set to the first bad field (`cards[1].keys.DPK.key`).
 */
export function parseProfile(value: unknown): SimtapProfile {
  const o = asObj(value, '');
  const currency = objAt(o, 'currency', '');
  const card = parseCardPlatform(objAt(o, 'card', ''), 'card');
  const issuer = parseIssuer(objAt(o, 'issuer', ''), 'issuer');
  const psams = arrAt(o, 'psams', '').map((p, i) => parsePsam(p, `psams[${i}]`));
  const cards = arrAt(o, 'cards', '').map((c, i) => parseCard(c, `cards[${i}]`, card.epurse.maxBalance));
  uniqueLabels(psams, 'psams');
  uniqueLabels(cards, 'cards');
  const platform = parsePlatform(objAt(o, 'platform', ''), 'platform', cards);
  const profile: SimtapProfile = {
    name: strAt(o, 'name', ''),
    purpose: strAt(o, 'purpose', '', true),
    currency: {
      code: strAt(currency, 'code', 'currency'),
      minorUnit: strAt(currency, 'minorUnit', 'currency'),
      note: strAt(currency, 'note', 'currency', true),
    },
    card,
    issuer,
    psams,
    cards,
    platform,
    notes: strArrAt(o, 'notes', '', true),
  };
  return seal(profile, false);
}

let cached: SimtapProfile | undefined;

/**
 * The bundled reference profile, parsed once and cached. The objects are frozen; the byte arrays are shared,
 * so copy one before changing or wiping it.
 * @example referenceProfile().cards[0]!.keys.DPK.key
 */
export function referenceProfile(): SimtapProfile {
  cached ??= parseProfile(raw);
  return cached;
}

/**
 * The card with `label` (e.g. `"card-1"`) from `profile` (default: the reference profile).
 * @throws {ArgumentError} `BAD_ARGUMENT` on an unknown label.
 */
export function cardProfile(label: string, profile: SimtapProfile = referenceProfile()): CardProfile {
  const card = profile.cards.find((c) => c.label === label);
  if (!card)
    throw new ArgumentError(
      `cardProfile: unknown card ${JSON.stringify(label)} (known: ${profile.cards.map((c) => c.label).join(', ')})`,
    );
  return card;
}

/**
 * The PSAM with `label` (e.g. `"pos-1"`) from `profile` (default: the reference profile).
 * @throws {ArgumentError} `BAD_ARGUMENT` on an unknown label.
 */
export function psamProfile(label: string, profile: SimtapProfile = referenceProfile()): PsamProfile {
  const psam = profile.psams.find((p) => p.label === label);
  if (!psam)
    throw new ArgumentError(
      `psamProfile: unknown PSAM ${JSON.stringify(label)} (known: ${profile.psams.map((p) => p.label).join(', ')})`,
    );
  return psam;
}

/** The full EF 0x15 contents of `card`: the profile's common fields plus the card's application serial. */
export function cardEf15(
  card: Pick<CardProfile, 'applicationSerial'>,
  profile: SimtapProfile = referenceProfile(),
): Ef15 {
  const ef = profile.card.epurse.ef15;
  return {
    issuerId: ef.issuerId.slice(),
    applicationType: ef.applicationType,
    applicationVersion: ef.applicationVersion,
    applicationSerial: card.applicationSerial.slice(),
    startDate: ef.startDate.slice(),
    expiryDate: ef.expiryDate.slice(),
    fciCustom: ef.fciCustom.slice(),
  };
}

// ---------------------------------------------------------------- synthetic fleet cards

/** Largest fleet card number of {@link fleetCard}, and so the largest fleet of {@link withFleet} (plus one). */
export const FLEET_MAX_CARD = 999_999;

const FLEET_LABEL_RE = /^fleet-[0-9]+$/;

/**
 * The six card keys of a card with diversification data `diversificationData` (the rightmost 8 bytes of its
 * application serial): each the PBOC one-level diversification of its issuer master key ({@link CARD_KEY_MASTER}),
 * with its 3DES check value. This is how the profile's own cards' keys are made (the profile test checks it).
 * Fresh arrays: wipe them after use.
 * @throws {ArgumentError} `BAD_ARGUMENT` unless every master key is 16 bytes and `diversificationData` 8 bytes.
 * @example diversifyCardKeys(referenceProfile().issuer.masterKeys, cardProfile('card-1').diversificationData)
 * @since 0.1.0
 */
export function diversifyCardKeys(masterKeys: IssuerMasterKeys, diversificationData: Uint8Array): CardKeys {
  const keys = {} as Record<CardKeyName, KeyWithKcv>;
  for (const name of CARD_KEY_NAMES) {
    const key = diversifyPbocKey(masterKeys[CARD_KEY_MASTER[name]], diversificationData);
    keys[name] = { key, kcv: kcvDes(key) };
  }
  return keys;
}

/**
 * Synthetic card `n` (0..{@link FLEET_MAX_CARD}) of `profile`'s issuer, labelled `fleet-<n>`: the profile's first
 * card (card-1 of the reference profile) as the template for the PIN, key index, version, algorithm and initial
 * balance, with identities of its own —
 *
 * - application serial: the template's with bytes 6..9 = `90 0n nn nn` (card-1: `0000 4401 2026 9000 0007` for
 *   n = 7), and the same 10 bytes as the ISD's KDD;
 * - ICCID: the first 14 digits of the template's followed by n in 6 digits (20 digits);
 * - MSISDN: `139` followed by n in 8 digits;
 * - keys: {@link diversifyCardKeys} of the issuer's master keys with the serial's rightmost 8 bytes, the TAC key
 *   from its DTK.
 *
 * Each identity differs from card to card, and from every card of the profile other than a `fleet-<m>` one.
 * The result is frozen and redacted in JSON like the profile's own cards.
 * @throws {ArgumentError} `BAD_ARGUMENT` when `n` is not an integer in range, the profile has no card, or an identity
 *   of the card would repeat one of the profile's own cards (a profile whose cards use the fleet's numbers).
 * @example fleetCard(7).applicationSerial // 0000 4401 2026 9000 0007
 * @since 0.1.0
 */
export function fleetCard(n: number, profile: SimtapProfile = referenceProfile()): CardProfile {
  if (!Number.isInteger(n) || n < 0 || n > FLEET_MAX_CARD)
    throw new ArgumentError(`fleetCard: n must be an integer in 0..${FLEET_MAX_CARD}, got ${String(n)}`);
  const template = profile.cards[0];
  if (template === undefined) throw new ArgumentError('fleetCard: the profile has no card to take the template of');
  const applicationSerial = template.applicationSerial.slice();
  applicationSerial.set([0x90 | (n >>> 24), (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff], 6);
  const diversificationData = applicationSerial.slice(2);
  const iccid = `${template.iccid.slice(0, 14)}${String(n).padStart(6, '0')}`;
  const msisdn = `139${String(n).padStart(8, '0')}`;
  const imsi = `460009${String(n).padStart(9, '0')}`;
  const serialHex = toHex(applicationSerial);
  for (const c of profile.cards) {
    if (FLEET_LABEL_RE.test(c.label)) continue;
    if (
      toHex(c.applicationSerial) === serialHex ||
      toHex(c.isd.kdd) === serialHex ||
      c.iccid === iccid ||
      c.msisdn === msisdn
    )
      throw new ArgumentError(`fleetCard: fleet-${n} would repeat an identity of the profile's ${c.label}`);
  }
  const keys = diversifyCardKeys(profile.issuer.masterKeys, diversificationData);
  const card: CardProfile = {
    label: `fleet-${n}`,
    iccid,
    msisdn,
    imsi,
    applicationSerial,
    diversificationData,
    pin: template.pin,
    initialBalance: template.initialBalance,
    keyIndex: template.keyIndex,
    keyVersion: template.keyVersion,
    algorithmId: template.algorithmId,
    keys,
    tacSingleDesKey: tacKey(keys.DTK.key),
    isd: { kdd: applicationSerial.slice() },
  };
  return seal(card, false);
}

/**
 * `profile` with the cards `fleet-0` … `fleet-<count − 1>` ({@link fleetCard}) appended to its `cards`, so that
 * `cardProfile('fleet-7', p)` and `createSim({ profile: p, card: 'fleet-7' })` find them. Frozen and redacted like
 * a parsed profile; the rest of the profile is shared, not copied.
 * @throws {ArgumentError} `BAD_ARGUMENT` when `count` is not an integer in 0..{@link FLEET_MAX_CARD} + 1, the
 *   profile already has a `fleet-<n>` card, or {@link fleetCard} refuses a card.
 * @example cardProfile('fleet-7', withFleet(10)).msisdn // "13900000007"
 * @since 0.1.0
 */
export function withFleet(count: number, profile: SimtapProfile = referenceProfile()): SimtapProfile {
  if (!Number.isInteger(count) || count < 0 || count > FLEET_MAX_CARD + 1)
    throw new ArgumentError(`withFleet: count must be an integer in 0..${FLEET_MAX_CARD + 1}, got ${String(count)}`);
  const existing = profile.cards.find((c) => FLEET_LABEL_RE.test(c.label));
  if (existing !== undefined) throw new ArgumentError(`withFleet: the profile already has ${existing.label}`);
  const fleet = Array.from({ length: count }, (_, n) => fleetCard(n, profile));
  return seal({ ...profile, cards: [...profile.cards, ...fleet] }, false);
}
