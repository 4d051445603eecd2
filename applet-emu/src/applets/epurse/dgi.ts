/**
 * Codecs of the e-purse personalization DGIs (see {@link EPURSE_DGI}): the applet decodes them in `storeData`,
 * personalization tools and tests encode them. Decoders throw `IsoException` 6A80 on a malformed value (what
 * STORE DATA answers); encoders throw `ArgumentError` on out-of-range input.
 *
 * @module
 */
import { assertBytes, assertUint, readUint, writeUint } from '@simtap/sdk/core/bytes';
import { ArgumentError } from '@simtap/sdk/core/errors';
import { IsoException, SW } from '@simtap/sdk/core/iso7816';
import { EPURSE_KEY_TYPE, type EpurseKeyName, MAX_BALANCE_LIMIT } from './constants';

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

/** PIN digits as the BCD bytes VERIFY carries, and the check of such a block: the core's PIN block codec. */
export { encodePinBlock as encodePin, isPinBlock } from '@simtap/sdk/core/pboc';

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
