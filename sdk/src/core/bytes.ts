/**
 * Byte helpers: strict hex, concatenation, big-endian integers, BCD (PBOC dates, times, amounts),
 * constant-time comparison and key wiping. `Uint8Array` in, `Uint8Array` out (a `Buffer` is accepted,
 * never returned).
 *
 * @module
 */
import { ArgumentError, defineErrors, ParseError } from './errors';

/** The codes of the {@link ParseError}s the byte helpers throw. */
export const BYTES_ERRORS = defineErrors({
  HEX_INVALID: {
    class: 'ParseError',
    when:
      '`fromHex` / `` hex`…` `` got a non-string, a non-hex character, whitespace inside a byte or an odd number ' +
      'of digits (`offset` = the character)',
    fix: 'fix the hex text',
  },
  BYTES_TRUNCATED: {
    class: 'ParseError',
    when: '`readUint` needs more bytes than are left after `offset`',
    fix: 'the input is too short: treat it as malformed',
  },
  BCD_INVALID: {
    class: 'ParseError',
    when: 'a BCD byte has a nibble above 9 (`offset` = the byte)',
    fix: 'treat the field (card data, terminal clock) as malformed',
  },
  DATE_INVALID: {
    class: 'ParseError',
    when: 'a BCD date is not 4 bytes `YYYYMMDD` or not a calendar date',
    fix: 'treat the record as malformed; check the terminal date you passed',
  },
  TIME_INVALID: {
    class: 'ParseError',
    when: 'a BCD time is not 3 bytes `hhmmss` or not a time of day',
    fix: 'as `DATE_INVALID`',
  },
});

/** Code of a {@link ParseError} from the byte helpers. */
export type BytesErrorCode = keyof typeof BYTES_ERRORS;

const HEX_DIGITS = '0123456789ABCDEF';
const HEX_TABLE: string[] = Array.from({ length: 256 }, (_, i) => HEX_DIGITS[i >> 4]! + HEX_DIGITS[i & 15]!);

function hexNibble(c: number): number {
  if (c >= 48 && c <= 57) return c - 48; // 0-9
  if (c >= 65 && c <= 70) return c - 55; // A-F
  if (c >= 97 && c <= 102) return c - 87; // a-f
  return -1;
}

/**
 * Decodes hex text; whitespace between digits is allowed (`"80 50 00 00"`).
 * @throws {ParseError} `HEX_INVALID` on a non-hex character or an odd number of digits.
 * @example fromHex('00 A4 04 00') // Uint8Array [0x00, 0xa4, 0x04, 0x00]
 */
export function fromHex(text: string): Uint8Array {
  if (typeof text !== 'string') throw new ParseError<BytesErrorCode>('HEX_INVALID', 'fromHex: expected a string');
  const out = new Uint8Array(text.length >> 1);
  let n = 0;
  let hi = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13) {
      if (hi >= 0) throw new ParseError<BytesErrorCode>('HEX_INVALID', 'fromHex: whitespace inside a byte', i);
      continue;
    }
    const v = hexNibble(c);
    if (v < 0)
      throw new ParseError<BytesErrorCode>('HEX_INVALID', `fromHex: invalid character ${JSON.stringify(text[i])}`, i);
    if (hi < 0) hi = v;
    else {
      out[n++] = (hi << 4) | v;
      hi = -1;
    }
  }
  if (hi >= 0) throw new ParseError<BytesErrorCode>('HEX_INVALID', 'fromHex: odd number of hex digits', text.length);
  return n === out.length ? out : out.slice(0, n);
}

/** Tagged-template hex literal for tests and tables: ``hex`00 A4 04 00` ``. */
export function hex(parts: TemplateStringsArray, ...values: unknown[]): Uint8Array {
  let s = parts[0] ?? '';
  for (let i = 0; i < values.length; i++) s += String(values[i]) + (parts[i + 1] ?? '');
  return fromHex(s);
}

/** Upper-case hex without separators (`"00A40400"`); `sep` inserts a separator between bytes. */
export function toHex(bytes: Uint8Array, sep = ''): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) {
    if (i > 0 && sep) s += sep;
    s += HEX_TABLE[bytes[i]!];
  }
  return s;
}

/** Concatenates byte arrays into a new `Uint8Array`. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Copies `b` into a fresh, plain `Uint8Array` (never a `Buffer`). */
export function copyBytes(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length);
  out.set(b);
  return out;
}

/** True when both arrays have the same length and contents (not constant time; use {@link equalCt} for secrets). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Constant-time equality for MACs, cryptograms and PINs: the time depends only on the lengths.
 * Different lengths compare unequal.
 */
export function equalCt(a: Uint8Array, b: Uint8Array): boolean {
  const n = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < n; i++) diff |= (a[i % (a.length || 1)] ?? 0) ^ (b[i % (b.length || 1)] ?? 0);
  return diff === 0;
}

/** Overwrites key material with zeros. Call on session keys when a session ends. */
export function wipe(...arrays: Uint8Array[]): void {
  for (const a of arrays) a.fill(0);
}

/** XOR of two equal-length arrays into a new array. */
export function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length !== b.length) throw new ArgumentError(`xor: lengths differ (${a.length} vs ${b.length})`);
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** Asserts that `value` is a `Uint8Array` (optionally of one of the given lengths), naming the argument. */
export function assertBytes(value: unknown, name: string, ...lengths: number[]): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new ArgumentError(`${name}: expected Uint8Array, got ${typeOf(value)}`);
  if (lengths.length > 0 && !lengths.includes(value.length))
    throw new ArgumentError(`${name}: expected ${lengths.join(' or ')} bytes, got ${value.length}`);
}

/** Asserts an integer in [0, max], naming the argument. */
export function assertUint(value: unknown, name: string, max: number): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max)
    throw new ArgumentError(`${name}: expected an integer in 0..${max}, got ${String(value)}`);
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

// ---------------------------------------------------------------- big-endian integers

/** Reads an unsigned big-endian integer of 1..6 bytes at `offset`. */
export function readUint(b: Uint8Array, offset: number, length: number): number {
  if (length < 1 || length > 6) throw new ArgumentError(`readUint: length ${length} not in 1..6`);
  if (offset < 0 || offset + length > b.length)
    throw new ParseError<BytesErrorCode>(
      'BYTES_TRUNCATED',
      `readUint: need ${length} bytes, have ${b.length - offset}`,
      offset,
    );
  let v = 0;
  for (let i = 0; i < length; i++) v = v * 256 + b[offset + i]!;
  return v;
}

/** Encodes an unsigned integer as `length` big-endian bytes (1..6). */
export function uintToBytes(value: number, length: number): Uint8Array {
  if (length < 1 || length > 6) throw new ArgumentError(`uintToBytes: length ${length} not in 1..6`);
  const out = new Uint8Array(length);
  writeUint(out, 0, value, length);
  return out;
}

/**
 * Writes an unsigned big-endian integer of `length` bytes (1..6) into `b` at `offset`, in place (no allocation:
 * the PBOC codecs write every field of every purchase with it).
 * @throws {ArgumentError} `BAD_ARGUMENT` on a length outside 1..6, a value that does not fit, or bytes past the end.
 */
export function writeUint(b: Uint8Array, offset: number, value: number, length: number): void {
  if (length < 1 || length > 6) throw new ArgumentError(`writeUint: length ${length} not in 1..6`);
  assertUint(value, 'value', 2 ** (8 * length) - 1);
  if (!Number.isInteger(offset) || offset < 0 || offset + length > b.length)
    throw new ArgumentError(`writeUint: ${length} bytes at offset ${offset} do not fit in ${b.length}`);
  for (let i = offset + length - 1, v = value; i >= offset; i--, v = Math.floor(v / 256)) b[i] = v % 256;
}

export const readU8 = (b: Uint8Array, o: number): number => readUint(b, o, 1);
export const readU16 = (b: Uint8Array, o: number): number => readUint(b, o, 2);
export const readU24 = (b: Uint8Array, o: number): number => readUint(b, o, 3);
export const readU32 = (b: Uint8Array, o: number): number => readUint(b, o, 4);
export const u8 = (v: number): Uint8Array => uintToBytes(v, 1);
export const u16 = (v: number): Uint8Array => uintToBytes(v, 2);
export const u24 = (v: number): Uint8Array => uintToBytes(v, 3);
export const u32 = (v: number): Uint8Array => uintToBytes(v, 4);

// ---------------------------------------------------------------- BCD (PBOC)

/** Encodes a non-negative integer as `length` bytes of packed BCD (`2024` → `20 24`). */
export function toBcd(value: number, length: number): Uint8Array {
  assertUint(value, 'value', 10 ** (2 * length) - 1);
  const out = new Uint8Array(length);
  let v = value;
  for (let i = length - 1; i >= 0; i--) {
    const lo = v % 10;
    v = Math.floor(v / 10);
    const hi = v % 10;
    v = Math.floor(v / 10);
    out[i] = (hi << 4) | lo;
  }
  return out;
}

/**
 * Decodes packed BCD to a number.
 * @throws {ParseError} `BCD_INVALID` on a nibble above 9.
 */
export function fromBcd(b: Uint8Array): number {
  let v = 0;
  for (let i = 0; i < b.length; i++) {
    const x = b[i]!;
    const hi = x >> 4;
    const lo = x & 15;
    if (hi > 9 || lo > 9)
      throw new ParseError<BytesErrorCode>('BCD_INVALID', `fromBcd: byte ${HEX_TABLE[x]} is not BCD`, i);
    v = v * 100 + hi * 10 + lo;
  }
  return v;
}

/** Decodes packed BCD to its digit string, keeping leading zeros (`00 12` → `"0012"`). */
export function bcdToString(b: Uint8Array): string {
  fromBcdDigitsCheck(b);
  return toHex(b);
}

function fromBcdDigitsCheck(b: Uint8Array): void {
  for (let i = 0; i < b.length; i++) {
    const x = b[i]!;
    if (x >> 4 > 9 || (x & 15) > 9)
      throw new ParseError<BytesErrorCode>('BCD_INVALID', `BCD: byte ${HEX_TABLE[x]} is not BCD`, i);
  }
}

/** Encodes a digit string as packed BCD; odd lengths are left-padded with 0. */
export function stringToBcd(digits: string): Uint8Array {
  if (!/^[0-9]*$/.test(digits)) throw new ArgumentError(`stringToBcd: not a digit string: ${JSON.stringify(digits)}`);
  return fromHex(digits.length % 2 ? `0${digits}` : digits);
}

/** A calendar date and wall-clock time as PBOC terminals send them (local time of the terminal). */
export interface PbocDateTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** `YYYYMMDD` as 4 BCD bytes (the PBOC transaction date). */
export function encodeBcdDate(d: Pick<PbocDateTime, 'year' | 'month' | 'day'>): Uint8Array {
  if (!validDate(d.year, d.month, d.day))
    throw new ArgumentError(`date ${d.year}-${d.month}-${d.day} is not a calendar date`);
  return toBcd(d.year * 10000 + d.month * 100 + d.day, 4);
}

/** `hhmmss` as 3 BCD bytes (the PBOC transaction time). */
export function encodeBcdTime(t: Pick<PbocDateTime, 'hour' | 'minute' | 'second'>): Uint8Array {
  if (!(t.hour >= 0 && t.hour < 24 && t.minute >= 0 && t.minute < 60 && t.second >= 0 && t.second < 60))
    throw new ArgumentError(`time ${t.hour}:${t.minute}:${t.second} is not a wall-clock time`);
  return toBcd(t.hour * 10000 + t.minute * 100 + t.second, 3);
}

/**
 * Decodes a 4-byte BCD `YYYYMMDD`.
 * @throws {ParseError} `BCD_INVALID` / `DATE_INVALID`.
 */
export function decodeBcdDate(b: Uint8Array): { year: number; month: number; day: number } {
  if (b.length !== 4) throw new ParseError<BytesErrorCode>('DATE_INVALID', `BCD date must be 4 bytes, got ${b.length}`);
  const v = fromBcd(b);
  const year = Math.floor(v / 10000);
  const month = Math.floor(v / 100) % 100;
  const day = v % 100;
  if (!validDate(year, month, day))
    throw new ParseError<BytesErrorCode>('DATE_INVALID', `not a calendar date: ${toHex(b)}`);
  return { year, month, day };
}

/**
 * Decodes a 3-byte BCD `hhmmss`.
 * @throws {ParseError} `BCD_INVALID` / `TIME_INVALID`.
 */
export function decodeBcdTime(b: Uint8Array): { hour: number; minute: number; second: number } {
  if (b.length !== 3) throw new ParseError<BytesErrorCode>('TIME_INVALID', `BCD time must be 3 bytes, got ${b.length}`);
  const v = fromBcd(b);
  const hour = Math.floor(v / 10000);
  const minute = Math.floor(v / 100) % 100;
  const second = v % 100;
  if (hour > 23 || minute > 59 || second > 59)
    throw new ParseError<BytesErrorCode>('TIME_INVALID', `not a time: ${toHex(b)}`);
  return { hour, minute, second };
}

/** The 7 bytes date(4) ‖ time(3) of a `Date`, in the local calendar of `timeZoneOffsetMinutes` (default UTC+8, China). */
export function bcdDateTime(date: Date, timeZoneOffsetMinutes = 480): Uint8Array {
  const t = new Date(date.getTime() + timeZoneOffsetMinutes * 60_000);
  return concat(
    encodeBcdDate({ year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() }),
    encodeBcdTime({ hour: t.getUTCHours(), minute: t.getUTCMinutes(), second: t.getUTCSeconds() }),
  );
}

function validDate(y: number, m: number, d: number): boolean {
  if (!Number.isInteger(y) || !Number.isInteger(m) || !Number.isInteger(d)) return false;
  if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1) return false;
  const days = [31, (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  return d <= days[m - 1]!;
}

/**
 * An amount in fen as BCD of `length` bytes (some PBOC/EMV fields, e.g. 9F02 `n12`, carry BCD amounts).
 * PBOC e-purse balances and amounts on the card are binary ({@link u32}); this is for the BCD ones.
 */
export function encodeBcdAmount(fen: number, length = 6): Uint8Array {
  return toBcd(fen, length);
}

/** Decodes a BCD amount in fen. */
export function decodeBcdAmount(b: Uint8Array): number {
  return fromBcd(b);
}
