/**
 * The e-purse's personalization layout — the one home of the data groupings (DGIs) that STORE DATA carries to
 * the PBOC / JR/T 0025 e-purse application through the issuer security domain (EMV CPS): the DGI numbers
 * ({@link EPURSE_DGI}), the key types of DGI 8001 ({@link EPURSE_KEY_TYPE}), the interface rule bits of DGI 0201
 * ({@link INTERFACE_RULE}), the codecs of every value, and {@link epursePersonalizationItems}, the ordered DGIs of
 * one card of a profile. The card (`applet-emu`) decodes these values in its `storeData`; personalization tools,
 * the platform and tests encode them.
 *
 * Decoders throw `IsoException` 6A80 on a malformed value (what STORE DATA answers); encoders throw
 * `ArgumentError` on out-of-range input. Secret DGIs (≥ 8000: keys, PIN) travel DEK-encrypted
 * (`storeDataCommands` / `encryptSecretDgi` in `@simtap/sdk/core/gp`).
 *
 * @module
 */
import { assertBytes, assertUint, readUint, writeUint } from '../bytes';
import { ArgumentError } from '../errors';
import { SECRET_DGI_MIN } from '../gp';
import { IsoException, SW } from '../iso7816';
import {
  CARD_KEY_NAMES,
  type CardKeys,
  type CardProfile,
  cardEf15,
  referenceProfile,
  type SimtapProfile,
} from '../profile';
import { encodeEf15, encodePinBlock } from './formats';

/**
 * Personalization data groupings of the e-purse (STORE DATA through the ISD). `RECORD_FILE` is a family: DGI
 * `03ss` defines the record file with SFI `ss`.
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

/** Largest maximum balance: balances are 4-byte two's complement on the wire. */
export const MAX_BALANCE_LIMIT = 0x7fffffff;

function bad(): never {
  throw new IsoException(SW.WRONG_DATA);
}

/** Purse parameters (DGI 0201). */
export interface PurseParameters {
  /** Largest balance a load may reach, fen (≤ 0x7FFFFFFF). */
  readonly maxBalance: number;
  /** How far a purchase may take the balance below zero, fen (3 bytes). */
  readonly overdraftLimit: number;
  /** Capacity of the transaction detail file EF 0x18 (1..254). */
  readonly logRecords: number;
  /** MAC failures (9302) after which the application locks; 0 = never lock. */
  readonly macFailureLimit: number;
  /** PIN tries (1..15). */
  readonly pinTryLimit: number;
  /** {@link INTERFACE_RULE} bits. */
  readonly rules: number;
}

/** Balance and counters of one purse (DGI 0202 EP / 0203 ED). */
export interface PurseState {
  /** Balance in fen; negative while overdrawn. */
  readonly balance: number;
  /** Online (load) transaction counter: the value the next load uses. */
  readonly online: number;
  /** Offline (purchase) transaction counter: the value the next purchase uses. */
  readonly offline: number;
}

/** One key of DGI 8001. */
export interface PurseKeyEntry {
  readonly type: EpurseKeyName;
  /** Key index (INITIALIZE key index byte, EXTERNAL AUTHENTICATE P2). */
  readonly index: number;
  /** Key version returned by INITIALIZE. */
  readonly version: number;
  /** Algorithm identifier returned by INITIALIZE. */
  readonly algorithm: number;
  /** 16-byte 2-key 3DES key. */
  readonly key: Uint8Array;
}

/** A record file of DGI `03ss`. */
export interface RecordFileSpec {
  readonly sfi: number;
  readonly structure: 'linear-fixed' | 'cyclic';
  readonly recordSize: number;
  readonly maxRecords: number;
  /** Initial records, record 1 first (cyclic: record 1 is the newest). */
  readonly records: readonly Uint8Array[];
}

const PARAMETERS_LENGTH = 11;
const STATE_LENGTH = 8;
/** Length of one DGI 8001 key entry: type, index, version, algorithm, key(16). */
export const KEY_ENTRY_LENGTH = 20;
const KEY_NAMES = Object.keys(EPURSE_KEY_TYPE) as EpurseKeyName[];
/** ISO 7816-4 file descriptor bytes used as the DGI 03ss structure byte. */
const FDB_LINEAR_FIXED = 0x02;
const FDB_CYCLIC = 0x06;

/**
 * DGI 0201 value.
 * @throws {ArgumentError} `BAD_ARGUMENT` on a field out of range.
 */
export function encodeParameters(p: PurseParameters): Uint8Array {
  assertUint(p.maxBalance, 'maxBalance', MAX_BALANCE_LIMIT);
  assertUint(p.overdraftLimit, 'overdraftLimit', 0xffffff);
  assertUint(p.logRecords, 'logRecords', 254);
  assertUint(p.macFailureLimit, 'macFailureLimit', 0xff);
  assertUint(p.pinTryLimit, 'pinTryLimit', 15);
  assertUint(p.rules, 'rules', 0xff);
  if (p.logRecords < 1 || p.pinTryLimit < 1) throw new ArgumentError('logRecords and pinTryLimit must be ≥ 1');
  const out = new Uint8Array(PARAMETERS_LENGTH);
  writeUint(out, 0, p.maxBalance, 4);
  writeUint(out, 4, p.overdraftLimit, 3);
  out[7] = p.logRecords;
  out[8] = p.macFailureLimit;
  out[9] = p.pinTryLimit;
  out[10] = p.rules;
  return out;
}

/**
 * Parses a DGI 0201 value.
 * @throws {IsoException} 6A80 on a wrong length or a value out of range.
 */
export function decodeParameters(b: Uint8Array): PurseParameters {
  if (b.length !== PARAMETERS_LENGTH) bad();
  const p: PurseParameters = {
    maxBalance: readUint(b, 0, 4),
    overdraftLimit: readUint(b, 4, 3),
    logRecords: b[7]!,
    macFailureLimit: b[8]!,
    pinTryLimit: b[9]!,
    rules: b[10]!,
  };
  if (p.maxBalance > MAX_BALANCE_LIMIT || p.logRecords < 1 || p.logRecords > 254) bad();
  if (p.pinTryLimit < 1 || p.pinTryLimit > 15) bad();
  return p;
}

/**
 * DGI 0202 / 0203 value (balance as 4-byte two's complement).
 * @throws {ArgumentError} `BAD_ARGUMENT` on a balance outside ±2³¹ or a counter outside 0..FFFF.
 */
export function encodePurseState(s: PurseState): Uint8Array {
  if (!Number.isInteger(s.balance) || s.balance < -0x80000000 || s.balance > MAX_BALANCE_LIMIT)
    throw new ArgumentError('balance: expected a 32-bit signed integer');
  assertUint(s.online, 'online', 0xffff);
  assertUint(s.offline, 'offline', 0xffff);
  const out = new Uint8Array(STATE_LENGTH);
  writeUint(out, 0, s.balance >>> 0, 4);
  writeUint(out, 4, s.online, 2);
  writeUint(out, 6, s.offline, 2);
  return out;
}

/**
 * Parses a DGI 0202 / 0203 value.
 * @throws {IsoException} 6A80 on a wrong length.
 */
export function decodePurseState(b: Uint8Array): PurseState {
  if (b.length !== STATE_LENGTH) bad();
  return { balance: readUint(b, 0, 4) | 0, online: readUint(b, 4, 2), offline: readUint(b, 6, 2) };
}

/**
 * DGI 8001 value: the entries concatenated.
 * @throws {ArgumentError} `BAD_ARGUMENT` on an unknown type, a byte field out of range or a key that is not 16 bytes.
 */
export function encodeKeys(entries: readonly PurseKeyEntry[]): Uint8Array {
  const out = new Uint8Array(entries.length * KEY_ENTRY_LENGTH);
  entries.forEach((e, i) => {
    const type = EPURSE_KEY_TYPE[e.type];
    if (type === undefined) throw new ArgumentError(`unknown key type ${String(e.type)}`);
    assertUint(e.index, 'index', 0xff);
    assertUint(e.version, 'version', 0xff);
    assertUint(e.algorithm, 'algorithm', 0xff);
    assertBytes(e.key, 'key', 16);
    const o = i * KEY_ENTRY_LENGTH;
    out[o] = type;
    out[o + 1] = e.index;
    out[o + 2] = e.version;
    out[o + 3] = e.algorithm;
    out.set(e.key, o + 4);
  });
  return out;
}

/**
 * Parses a DGI 8001 value.
 * @throws {IsoException} 6A80 on a length that is not a positive multiple of 20 or an unknown key type.
 */
export function decodeKeys(b: Uint8Array): PurseKeyEntry[] {
  if (b.length === 0 || b.length % KEY_ENTRY_LENGTH !== 0) bad();
  const out: PurseKeyEntry[] = [];
  for (let o = 0; o < b.length; o += KEY_ENTRY_LENGTH) {
    const type = KEY_NAMES.find((n) => EPURSE_KEY_TYPE[n] === b[o]);
    if (type === undefined) bad();
    out.push({ type, index: b[o + 1]!, version: b[o + 2]!, algorithm: b[o + 3]!, key: b.slice(o + 4, o + 20) });
  }
  return out;
}

/**
 * DGI `03ss` value: structure(1: 02 linear fixed, 06 cyclic) ‖ recordSize(1) ‖ maxRecords(1) ‖ records.
 * @throws {ArgumentError} `BAD_ARGUMENT` on sizes out of range or records of the wrong length.
 */
export function encodeRecordFile(spec: RecordFileSpec): Uint8Array {
  assertUint(spec.sfi, 'sfi', 30);
  assertUint(spec.recordSize, 'recordSize', 255);
  assertUint(spec.maxRecords, 'maxRecords', 254);
  if (spec.recordSize < 1 || spec.maxRecords < 1 || spec.records.length > spec.maxRecords)
    throw new ArgumentError('record file: sizes out of range');
  const out = new Uint8Array(3 + spec.records.length * spec.recordSize);
  out[0] = spec.structure === 'cyclic' ? FDB_CYCLIC : FDB_LINEAR_FIXED;
  out[1] = spec.recordSize;
  out[2] = spec.maxRecords;
  spec.records.forEach((r, i) => {
    assertBytes(r, `records[${i}]`, spec.recordSize);
    out.set(r, 3 + i * spec.recordSize);
  });
  return out;
}

/**
 * Parses a DGI `03ss` value for SFI `sfi`.
 * @throws {IsoException} 6A80 on an unknown structure, sizes out of range or a partial record.
 */
export function decodeRecordFile(sfi: number, b: Uint8Array): RecordFileSpec {
  if (b.length < 3) bad();
  const fdb = b[0];
  const recordSize = b[1]!;
  const maxRecords = b[2]!;
  if ((fdb !== FDB_LINEAR_FIXED && fdb !== FDB_CYCLIC) || recordSize < 1 || maxRecords < 1 || maxRecords > 254) bad();
  const body = b.length - 3;
  if (body % recordSize !== 0 || body / recordSize > maxRecords) bad();
  const records: Uint8Array[] = [];
  for (let o = 3; o < b.length; o += recordSize) records.push(b.slice(o, o + recordSize));
  return { sfi, structure: fdb === FDB_CYCLIC ? 'cyclic' : 'linear-fixed', recordSize, maxRecords, records };
}

// ---------------------------------------------------------------- one card's DGIs

/** One DGI of {@link epursePersonalizationItems}: `secret` for DGIs ≥ 8000 (keys, PIN), which travel DEK-encrypted. */
export interface EpursePersonalizationItem {
  readonly dgi: number;
  /** The plaintext value. */
  readonly data: Uint8Array;
  readonly secret: boolean;
}

/**
 * What {@link epursePersonalizationItems} needs of the card: a {@link CardProfile} has it all. `keys` and `pin`
 * are optional so that a platform that holds no clear card key can build the public DGIs (and add the secret ones
 * its key store exports already encrypted).
 */
export type EpursePersonalizationCard = Pick<
  CardProfile,
  'applicationSerial' | 'keyIndex' | 'keyVersion' | 'algorithmId'
> & {
  /** EP balance unless `balance` overrides it; default 0. */
  readonly initialBalance?: number;
  /** The six card keys (DGI 8001 with the card's key index, version and algorithm); none: no DGI 8001. */
  readonly keys?: CardKeys;
  /** PIN digits (DGI 8010); none: no DGI 8010. */
  readonly pin?: string;
};

/** Overrides of {@link epursePersonalizationItems} (everything else comes from the card and the profile). */
export interface EpursePersonalizationOverrides {
  /** Purse parameters; default the profile's (`card.epurse`) with all interface rules on. */
  readonly parameters?: Partial<PurseParameters>;
  /** EP balance; default the card's `initialBalance`. */
  readonly balance?: number;
  /** EP online / offline counters; default 0. */
  readonly onlineCounter?: number;
  readonly offlineCounter?: number;
  /** EF 0x16 cardholder data; default 55 zero bytes (not sent). */
  readonly cardholder?: Uint8Array;
  /** Value of the FCI `A5` template (DGI 0103). */
  readonly fciProprietary?: Uint8Array;
  /** GET DATA `80 CA 00 00` value (DGI 0104). */
  readonly getData?: Uint8Array;
  /** Record files (DGI 03ss). */
  readonly recordFiles?: readonly RecordFileSpec[];
  /** Key entries replacing the card's (DGI 8001). */
  readonly keys?: readonly PurseKeyEntry[];
}

/**
 * The personalization DGIs of a card of `profile`, in the order STORE DATA sends them: EF 0x15 (0101, the
 * profile's common fields and the card's serial), parameters (0201), EP state (0202), then the overrides' EF 0x16
 * (0102), FCI `A5` (0103), GET DATA (0104) and record files (03ss), then keys (8001: the six card keys with the
 * card's key index, version and algorithm, or `overrides.keys`) and PIN (8010). The key and PIN items appear only
 * when the card (or the overrides) carries them. Values are plaintext; encrypt the `secret` ones under the
 * channel's DEK (`storeDataCommands`), or replace them with a key store's already encrypted values.
 * @throws {ArgumentError} `BAD_ARGUMENT` on a field or override out of range.
 * @example
 * const items = epursePersonalizationItems(cardProfile('card-1'));
 * items.map((i) => i.dgi); // [0x0101, 0x0201, 0x0202, 0x8001, 0x8010]
 * @since 0.1.0
 */
export function epursePersonalizationItems(
  card: EpursePersonalizationCard,
  overrides: EpursePersonalizationOverrides = {},
  profile: SimtapProfile = referenceProfile(),
): EpursePersonalizationItem[] {
  const ep = profile.card.epurse;
  const params: PurseParameters = {
    maxBalance: ep.maxBalance,
    overdraftLimit: ep.overdraftLimit,
    logRecords: ep.transactionLogRecords,
    macFailureLimit: ep.macFailureLimit,
    pinTryLimit: ep.pinTryLimit,
    rules: DEFAULT_INTERFACE_RULES,
    ...overrides.parameters,
  };
  const items: Array<{ dgi: number; data: Uint8Array }> = [
    { dgi: EPURSE_DGI.EF15, data: encodeEf15(cardEf15(card, profile)) },
    { dgi: EPURSE_DGI.PARAMETERS, data: encodeParameters(params) },
    {
      dgi: EPURSE_DGI.EP_STATE,
      data: encodePurseState({
        balance: overrides.balance ?? card.initialBalance ?? 0,
        online: overrides.onlineCounter ?? 0,
        offline: overrides.offlineCounter ?? 0,
      }),
    },
  ];
  if (overrides.cardholder !== undefined) items.push({ dgi: EPURSE_DGI.EF16, data: overrides.cardholder });
  if (overrides.fciProprietary !== undefined)
    items.push({ dgi: EPURSE_DGI.FCI_PROPRIETARY, data: overrides.fciProprietary });
  if (overrides.getData !== undefined) items.push({ dgi: EPURSE_DGI.GET_DATA, data: overrides.getData });
  for (const f of overrides.recordFiles ?? [])
    items.push({ dgi: EPURSE_DGI.RECORD_FILE | f.sfi, data: encodeRecordFile(f) });
  const cardKeys = card.keys;
  const keys =
    overrides.keys ??
    (cardKeys === undefined
      ? undefined
      : CARD_KEY_NAMES.map((type) => ({
          type,
          index: card.keyIndex,
          version: card.keyVersion,
          algorithm: card.algorithmId,
          key: cardKeys[type].key,
        })));
  if (keys !== undefined) items.push({ dgi: EPURSE_DGI.KEYS, data: encodeKeys(keys) });
  if (card.pin !== undefined) items.push({ dgi: EPURSE_DGI.PIN, data: encodePinBlock(card.pin) });
  return items.map((it) => ({ ...it, secret: it.dgi >= SECRET_DGI_MIN }));
}
