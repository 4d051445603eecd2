/**
 * BER-TLV data objects as ISO/IEC 7816-4 §5.2 uses them (a subset of ISO/IEC 8825-1 BER):
 * tags of 1–4 bytes, definite lengths `00`–`7F` / `81`–`84`, constructed objects parsed recursively,
 * `00`/`FF` padding between objects skipped.
 *
 * Tag numbers: 2-byte tags with a number below 31 (`9F01`–`9F1E`, `DF01`, …) are accepted by default because EMV
 * and PBOC use them throughout (`9F08`, `9F0C`, `9F11` in every FCI), although ISO/IEC 8825-1 reserves 2-byte tags
 * for numbers ≥ 31; `{ strictTags: true }` enforces that rule (`TLV_BAD_TAG`).
 *
 * Memory: the decoders copy their input **once** and every decoded `value` is a `subarray` view into that copy,
 * so decoded values never alias the caller's buffer (a constructed object's `value` and its children's values do
 * share memory). Like Node's `Buffer` pool, inputs up to 1 KiB are copied into a shared 8 KiB slab (one allocation
 * per many decodes: this is what keeps a 200-byte FCI near 1 µs): never pass `value.buffer` on, because it holds
 * other decode results too; `.slice()` a value to detach it, and `wipe(value)` to clear secret bytes in place.
 * `{ copy: false }` skips the copy: values are then views into the input (`decodeTlv(bytes.slice(), { copy: false })`
 * gives a private, unshared buffer).
 *
 * Error offsets are absolute offsets into the decoder's input:
 *
 * | code | offset points at |
 * |---|---|
 * | `TLV_TRUNCATED_TAG` | first byte of the unfinished tag (or the end, when no object was found) |
 * | `TLV_BAD_TAG` | the offending subsequent tag byte |
 * | `TLV_TAG_TOO_LONG` | first byte of the tag |
 * | `TLV_INDEFINITE_LENGTH`, `TLV_BAD_LENGTH`, `TLV_NON_MINIMAL_LENGTH`, `TLV_TRUNCATED_LENGTH` | first length byte |
 * | `TLV_TRUNCATED_VALUE` | first value byte |
 * | `TLV_TRAILING_BYTES` | first non-padding byte after the single object |
 * | `TLV_TOO_DEEP` | first tag byte of the object nested too deep |
 *
 * @module
 */
import { fromHex } from '../bytes';
import { ArgumentError, defineErrors, ParseError } from '../errors';

// ---------------------------------------------------------------- errors

/** Every code a TLV decoder throws (BER-TLV `TLV_*`, SIMPLE-TLV `SIMPLE_TLV_*`), all {@link TlvError}s. */
export const TLV_ERRORS = defineErrors({
  TLV_TRUNCATED_TAG: {
    class: 'TlvError',
    when: 'the input (or enclosing object) ends inside a tag, or no object was found where one was required',
    fix: 'reject the data',
  },
  TLV_BAD_TAG: {
    class: 'TlvError',
    when: 'malformed multi-byte tag: first subsequent byte `80`, or (strict tags) a 2-byte tag numbered below 31',
    fix: 'reject the data',
  },
  TLV_TAG_TOO_LONG: { class: 'TlvError', when: 'a tag longer than 4 bytes', fix: 'reject the data' },
  TLV_INDEFINITE_LENGTH: {
    class: 'TlvError',
    when: 'indefinite length `80`, not allowed in ISO 7816 data objects',
    fix: 'reject the data',
  },
  TLV_BAD_LENGTH: { class: 'TlvError', when: 'first length byte `85`..`FF`', fix: 'reject the data' },
  TLV_NON_MINIMAL_LENGTH: {
    class: 'TlvError',
    when: 'long-form length a shorter form could encode (strict mode only)',
    fix: 'reject, or decode leniently',
  },
  TLV_TRUNCATED_LENGTH: { class: 'TlvError', when: 'the input ends inside a length field', fix: 'reject the data' },
  TLV_TRUNCATED_VALUE: {
    class: 'TlvError',
    when: 'a value runs past the end of the input or of its enclosing object',
    fix: 'reject the data',
  },
  TLV_TRAILING_BYTES: {
    class: 'TlvError',
    when: 'non-padding bytes after the single expected object',
    fix: 'reject the data',
  },
  TLV_TOO_DEEP: {
    class: 'TlvError',
    when: "constructed objects nested deeper than the decoder's depth limit",
    fix: 'reject the data (or raise the limit for a trusted source)',
  },
  SIMPLE_TLV_TRUNCATED_TAG: {
    class: 'TlvError',
    when: 'no SIMPLE-TLV object where one was expected (empty input)',
    fix: 'reject the data',
  },
  SIMPLE_TLV_BAD_TAG: { class: 'TlvError', when: 'SIMPLE-TLV tag `00` or `FF`', fix: 'reject the data' },
  SIMPLE_TLV_TRUNCATED_LENGTH: {
    class: 'TlvError',
    when: 'the input ends inside a SIMPLE-TLV length',
    fix: 'reject the data',
  },
  SIMPLE_TLV_NON_MINIMAL_LENGTH: {
    class: 'TlvError',
    when: 'length `FF xxxx` below 255 (strict mode only)',
    fix: 'reject, or decode leniently',
  },
  SIMPLE_TLV_TRUNCATED_VALUE: {
    class: 'TlvError',
    when: 'a SIMPLE-TLV value runs past the end of the input',
    fix: 'reject the data',
  },
  SIMPLE_TLV_TRAILING_BYTES: {
    class: 'TlvError',
    when: 'bytes after the single expected SIMPLE-TLV object',
    fix: 'reject the data',
  },
});

/** Code of a {@link TlvError}. */
export type TlvErrorCode = keyof typeof TLV_ERRORS;

/** Malformed BER-TLV or SIMPLE-TLV input; `offset` is absolute in the decoder's input. */
export class TlvError extends ParseError<TlvErrorCode> {
  declare readonly offset: number;
  constructor(code: TlvErrorCode, message: string, offset: number) {
    super(code, message, offset);
  }
}

// ---------------------------------------------------------------- data model

/** A BER-TLV data object. `children` is present iff the tag is constructed (bit 6 of the first tag byte). */
export interface Tlv {
  /** Tag bytes as a big-endian number: `0x84`, `0x9F0C`, `0xBF0C`, `0xDF8101`. */
  tag: number;
  /** Value bytes (for a constructed object: the encoding of its children as read). */
  value: Uint8Array;
  /** Decoded children of a constructed object. */
  children?: Tlv[];
}

/** Options of {@link decodeTlv} and {@link decodeTlvOne}. */
export interface TlvDecodeOptions {
  /** Accept non-minimal long-form lengths such as `81 05` (default false: `TLV_NON_MINIMAL_LENGTH`). */
  lenient?: boolean;
  /**
   * Enforce the ISO/IEC 8825-1 rule that 2-byte tags encode numbers ≥ 31 (second byte `1F`–`7F`), failing with
   * `TLV_BAD_TAG`. Default false, because EMV/PBOC tags such as `9F08`, `9F0C`, `9F11`, `DF01` break that rule.
   */
  strictTags?: boolean;
  /** Maximum nesting: objects inside more than `maxDepth - 1` constructed ancestors fail (default 32, at most 256). */
  maxDepth?: number;
  /** Copy the input once so values never alias it (default true); false makes values views into the input. */
  copy?: boolean;
}

/** Default {@link TlvDecodeOptions.maxDepth}. */
export const TLV_DEFAULT_MAX_DEPTH = 32;
const MAX_DEPTH_LIMIT = 256;

/** Tag class from bits 8–7 of the first tag byte. */
export type TagClass = 'universal' | 'application' | 'context' | 'private';
const TAG_CLASSES: readonly TagClass[] = ['universal', 'application', 'context', 'private'];

// ---------------------------------------------------------------- tags and lengths

/** Number of bytes of a well-formed tag number (1..4), or 0 when it is not a valid ISO 7816 tag. */
function tagSize(tag: number): number {
  if (typeof tag !== 'number' || !Number.isInteger(tag) || tag <= 0 || tag > 0xffffffff) return 0;
  const n = tag < 0x100 ? 1 : tag < 0x10000 ? 2 : tag < 0x1000000 ? 3 : 4;
  const first = tag >>> (8 * (n - 1));
  if (first === 0xff) return 0; // 00 and FF are padding, never a first tag byte (ISO 7816-4 §5.2.2)
  if (n === 1) return (first & 0x1f) === 0x1f ? 0 : 1;
  if ((first & 0x1f) !== 0x1f) return 0;
  const second = (tag >>> (8 * (n - 2))) & 0xff;
  if (second === 0x80) return 0; // leading zero bits in the tag number
  for (let shift = 8 * (n - 2); shift >= 8; shift -= 8) if (((tag >>> shift) & 0xff & 0x80) === 0) return 0;
  return (tag & 0x80) === 0 ? n : 0;
}

function firstTagByte(tag: number): number {
  return tag < 0x100 ? tag : tag < 0x10000 ? tag >>> 8 : tag < 0x1000000 ? tag >>> 16 : tag >>> 24;
}

function checkTag(tag: unknown, fn: string): number {
  const n = tagSize(tag as number);
  if (n === 0) throw new ArgumentError(`${fn}: ${String(tag)} is not a valid BER-TLV tag number`);
  return n;
}

/**
 * Encodes a tag number as its 1–4 tag bytes (`0x9F0C` → `9F 0C`).
 * @throws {ArgumentError} `BAD_ARGUMENT` when `tag` is not a well-formed ISO 7816 tag.
 */
export function tagToBytes(tag: number): Uint8Array {
  const n = checkTag(tag, 'tagToBytes');
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (tag >>> (8 * (n - 1 - i))) & 0xff;
  return out;
}

/**
 * True when bit 6 of the first tag byte is set (`0x6F`, `0xA5`, `0xBF0C`).
 * @throws {ArgumentError} `BAD_ARGUMENT` when `tag` is not a well-formed tag.
 */
export function tagIsConstructed(tag: number): boolean {
  checkTag(tag, 'tagIsConstructed');
  return (firstTagByte(tag) & 0x20) !== 0;
}

/**
 * Class of a tag from bits 8–7 of its first byte: `0x6F` → `'application'`, `0x9F0C`, `0xBF0C` → `'context'`, `0xDF01` → `'private'`.
 * @throws {ArgumentError} `BAD_ARGUMENT` when `tag` is not a well-formed tag.
 */
export function tagClass(tag: number): TagClass {
  checkTag(tag, 'tagClass');
  return TAG_CLASSES[firstTagByte(tag) >>> 6]!;
}

function lengthSize(len: number): number {
  return len < 0x80 ? 1 : len < 0x100 ? 2 : len < 0x10000 ? 3 : len < 0x1000000 ? 4 : 5;
}

function writeLength(out: Uint8Array, pos: number, len: number): number {
  if (len < 0x80) {
    out[pos] = len;
    return pos + 1;
  }
  const n = lengthSize(len) - 1;
  out[pos++] = 0x80 | n;
  for (let shift = 8 * (n - 1); shift >= 0; shift -= 8) out[pos++] = (len >>> shift) & 0xff;
  return pos;
}

/**
 * Minimal BER length field: `05` → `05`, `200` → `81 C8`, `0x1234` → `82 12 34` (up to `84` + 4 bytes).
 * @throws {ArgumentError} `BAD_ARGUMENT` unless `length` is an integer in 0..0xFFFFFFFF.
 */
export function encodeLength(length: number): Uint8Array {
  if (typeof length !== 'number' || !Number.isInteger(length) || length < 0 || length > 0xffffffff)
    throw new ArgumentError(`encodeLength: ${String(length)} is not an integer in 0..0xFFFFFFFF`);
  const out = new Uint8Array(lengthSize(length));
  writeLength(out, 0, length);
  return out;
}

// ---------------------------------------------------------------- decoding

function hex2(b: number): string {
  return (b < 16 ? '0' : '') + b.toString(16).toUpperCase();
}

/**
 * Decodes the objects in `b[pos..end)` into `out`. Hand-written loop: no closures, no per-byte allocation.
 * Every object is bounded by `end` (the parent's value end, or the input end). Stops early once `out` holds `limit`
 * objects (-1: no limit) and returns the position reached.
 */
function parseObjects(
  b: Uint8Array,
  pos: number,
  end: number,
  depth: number,
  maxDepth: number,
  flags: number,
  out: Tlv[],
  limit: number,
): number {
  while (pos < end) {
    let x = b[pos]!;
    if (x === 0x00 || x === 0xff) {
      pos++; // ISO 7816-4 §5.2.2: padding before, between or after objects
      continue;
    }
    if (out.length === limit) return pos;
    const tagStart = pos;
    if (depth > maxDepth)
      throw new TlvError('TLV_TOO_DEEP', `BER-TLV: objects nested deeper than ${maxDepth} levels`, tagStart);
    const first = x;
    let tag = x;
    pos++;
    if ((x & 0x1f) === 0x1f) {
      // multi-byte tag: subsequent bytes carry 7 bits each, b8 = "another byte follows"
      if (pos >= end) throw new TlvError('TLV_TRUNCATED_TAG', 'BER-TLV: input ends inside a tag', tagStart);
      x = b[pos]!;
      if (x === 0x80) throw new TlvError('TLV_BAD_TAG', 'BER-TLV: tag number with leading zero bits (80)', pos);
      if (x < 0x1f && (flags & STRICT_TAGS) !== 0)
        throw new TlvError('TLV_BAD_TAG', `BER-TLV: 2-byte tag encodes number ${x} < 31`, pos);
      pos++;
      tag = tag * 256 + x;
      if (x & 0x80) {
        if (pos >= end) throw new TlvError('TLV_TRUNCATED_TAG', 'BER-TLV: input ends inside a tag', tagStart);
        x = b[pos++]!;
        tag = tag * 256 + x;
        if (x & 0x80) {
          if (pos >= end) throw new TlvError('TLV_TRUNCATED_TAG', 'BER-TLV: input ends inside a tag', tagStart);
          x = b[pos++]!;
          tag = tag * 256 + x;
          if (x & 0x80) throw new TlvError('TLV_TAG_TOO_LONG', 'BER-TLV: tag longer than 4 bytes', tagStart);
        }
      }
    }
    if (pos >= end) throw new TlvError('TLV_TRUNCATED_LENGTH', 'BER-TLV: input ends before a length', pos);
    const lenStart = pos;
    x = b[pos++]!;
    let len = x;
    if (x >= 0x80) {
      if (x === 0x80)
        throw new TlvError('TLV_INDEFINITE_LENGTH', 'BER-TLV: indefinite length (80) not allowed', lenStart);
      if (x > 0x84) throw new TlvError('TLV_BAD_LENGTH', `BER-TLV: invalid length byte ${hex2(x)}`, lenStart);
      const n = x & 0x7f;
      if (end - pos < n) throw new TlvError('TLV_TRUNCATED_LENGTH', 'BER-TLV: input ends inside a length', lenStart);
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + b[pos++]!;
      if ((flags & LENIENT) === 0 && (n === 1 ? len < 0x80 : b[lenStart + 1] === 0))
        throw new TlvError('TLV_NON_MINIMAL_LENGTH', `BER-TLV: non-minimal length ${len} in ${n + 1} bytes`, lenStart);
    }
    if (len > end - pos)
      throw new TlvError('TLV_TRUNCATED_VALUE', `BER-TLV: value of ${len} bytes, ${end - pos} available`, pos);
    const valueEnd = pos + len;
    if (first & 0x20) {
      const children: Tlv[] = [];
      parseObjects(b, pos, valueEnd, depth + 1, maxDepth, flags, children, -1);
      out.push({ tag, value: b.subarray(pos, valueEnd), children });
    } else {
      out.push({ tag, value: b.subarray(pos, valueEnd) });
    }
    pos = valueEnd;
  }
  return pos;
}

function prepare(bytes: Uint8Array, opts: { copy?: boolean } | undefined, fn: string): Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new ArgumentError(`${fn}: expected Uint8Array`);
  // a plain Uint8Array in both cases: never hand a Buffer back
  return opts?.copy === false ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length) : copyInput(bytes);
}

const POOL_SIZE = 8192;
const POOL_MAX_INPUT = 1024;
let pool = new Uint8Array(POOL_SIZE);
let poolUsed = 0;

/**
 * Copy of a decoder input: small inputs go to a shared slab (see the module notes), larger ones get their own buffer.
 * @internal Shared by the TLV decoders; not re-exported from the package.
 */
export function copyInput(bytes: Uint8Array): Uint8Array {
  const n = bytes.length;
  if (n > POOL_MAX_INPUT) return new Uint8Array(bytes);
  if (poolUsed + n > POOL_SIZE) {
    pool = new Uint8Array(POOL_SIZE);
    poolUsed = 0;
  }
  const v = pool.subarray(poolUsed, poolUsed + n);
  v.set(bytes);
  poolUsed += (n + 7) & ~7;
  return v;
}

const LENIENT = 1;
const STRICT_TAGS = 2;

function flagsOf(opts: TlvDecodeOptions | undefined): number {
  return (opts?.lenient === true ? LENIENT : 0) | (opts?.strictTags === true ? STRICT_TAGS : 0);
}

function depthOf(opts: TlvDecodeOptions | undefined): number {
  const d = opts?.maxDepth;
  if (d === undefined) return TLV_DEFAULT_MAX_DEPTH;
  if (!Number.isInteger(d) || d < 1 || d > MAX_DEPTH_LIMIT)
    throw new ArgumentError(`maxDepth: expected an integer in 1..${MAX_DEPTH_LIMIT}, got ${String(d)}`);
  return d;
}

/**
 * Decodes a sequence of BER-TLV objects (possibly empty; `00`/`FF` padding skipped), recursing into constructed ones.
 * Values are views into a copy of `bytes` (see the module notes; `{ copy: false }` to alias `bytes`).
 * @throws {TlvError} `TLV_TRUNCATED_TAG`, `TLV_BAD_TAG` (first subsequent byte 80; with `strictTags` also 2-byte
 *   tags numbered < 31), `TLV_TAG_TOO_LONG`, `TLV_INDEFINITE_LENGTH`, `TLV_BAD_LENGTH`,
 *   `TLV_NON_MINIMAL_LENGTH` (unless `lenient`), `TLV_TRUNCATED_LENGTH`, `TLV_TRUNCATED_VALUE`, `TLV_TOO_DEEP`.
 * @example decodeTlv(hex`6F 03 88 01 01`) // [{ tag: 0x6F, value: …, children: [{ tag: 0x88, value: [1] }] }]
 */
export function decodeTlv(bytes: Uint8Array, opts?: TlvDecodeOptions): Tlv[] {
  const b = prepare(bytes, opts, 'decodeTlv');
  const out: Tlv[] = [];
  parseObjects(b, 0, b.length, 1, depthOf(opts), flagsOf(opts), out, -1);
  return out;
}

/**
 * Decodes exactly one BER-TLV object; `00`/`FF` padding may surround it.
 * @throws {TlvError} as {@link decodeTlv}, plus `TLV_TRAILING_BYTES` when another object follows and
 *   `TLV_TRUNCATED_TAG` (offset = input length) when there is no object at all.
 */
export function decodeTlvOne(bytes: Uint8Array, opts?: TlvDecodeOptions): Tlv {
  const b = prepare(bytes, opts, 'decodeTlvOne');
  const out: Tlv[] = [];
  let pos = parseObjects(b, 0, b.length, 1, depthOf(opts), flagsOf(opts), out, 1);
  const one = out[0];
  if (one === undefined) throw new TlvError('TLV_TRUNCATED_TAG', 'BER-TLV: no data object in the input', b.length);
  while (pos < b.length && (b[pos] === 0x00 || b[pos] === 0xff)) pos++;
  if (pos < b.length)
    throw new TlvError('TLV_TRAILING_BYTES', `BER-TLV: ${b.length - pos} bytes after the data object`, pos);
  return one;
}

// ---------------------------------------------------------------- encoding

const ENCODE_MAX_DEPTH = MAX_DEPTH_LIMIT;

/** Pass 1: content length of every object in pre-order into `sizes`; returns the object's encoded size. */
function measure(t: Tlv, sizes: number[], depth: number): number {
  if (depth > ENCODE_MAX_DEPTH)
    throw new ArgumentError(`encodeTlv: nesting deeper than ${ENCODE_MAX_DEPTH} (cyclic children?)`);
  if (t === null || typeof t !== 'object') throw new ArgumentError('encodeTlv: expected a Tlv object');
  const ts = checkTag(t.tag, 'encodeTlv');
  const slot = sizes.length;
  sizes.push(0);
  let content = 0;
  const kids = t.children;
  if (kids !== undefined) {
    if ((firstTagByte(t.tag) & 0x20) === 0)
      throw new ArgumentError(`encodeTlv: primitive tag ${t.tag.toString(16).toUpperCase()} has children`);
    if (!Array.isArray(kids)) throw new ArgumentError('encodeTlv: children must be an array');
    for (let i = 0; i < kids.length; i++) content += measure(kids[i]!, sizes, depth + 1);
  } else {
    if (!(t.value instanceof Uint8Array)) throw new ArgumentError('encodeTlv: value must be a Uint8Array');
    content = t.value.length;
  }
  if (content > 0xffffffff) throw new ArgumentError('encodeTlv: value longer than 0xFFFFFFFF bytes');
  sizes[slot] = content;
  return ts + lengthSize(content) + content;
}

/** Pass 2 state: the output, the write position and the next index into the pre-order sizes. */
interface EncodeState {
  out: Uint8Array;
  pos: number;
  slot: number;
  sizes: number[];
}

function emit(t: Tlv, s: EncodeState): void {
  const tag = t.tag;
  const n = tagSize(tag);
  const out = s.out;
  let pos = s.pos;
  for (let shift = 8 * (n - 1); shift >= 0; shift -= 8) out[pos++] = (tag >>> shift) & 0xff;
  const content = s.sizes[s.slot++]!;
  pos = writeLength(out, pos, content);
  const kids = t.children;
  if (kids !== undefined) {
    s.pos = pos;
    for (let i = 0; i < kids.length; i++) emit(kids[i]!, s);
  } else {
    out.set(t.value, pos);
    s.pos = pos + content;
  }
}

/**
 * Canonical DER-like encoding: minimal lengths; a constructed object is encoded from `children` when present,
 * else from `value` as is. Returns a fresh array.
 * @throws {ArgumentError} `BAD_ARGUMENT` on an invalid tag, a primitive tag with children, a non-`Uint8Array`
 *   value or nesting deeper than 256.
 */
export function encodeTlv(tlv: Tlv | readonly Tlv[]): Uint8Array {
  const list: readonly Tlv[] = Array.isArray(tlv) ? tlv : [tlv as Tlv];
  const sizes: number[] = [];
  let total = 0;
  for (let i = 0; i < list.length; i++) total += measure(list[i]!, sizes, 1);
  const s: EncodeState = { out: new Uint8Array(total), pos: 0, slot: 0, sizes };
  for (let i = 0; i < list.length; i++) emit(list[i]!, s);
  return s.out;
}

/**
 * Builds a {@link Tlv}. With children (constructed tags only) the value is their encoding; with bytes and a
 * constructed tag the children are decoded from them (strict, views into `value`). `value` is kept, not copied.
 * @throws {ArgumentError} `BAD_ARGUMENT` on an invalid tag or children under a primitive tag.
 * @throws {TlvError} when a constructed tag's value bytes are not valid BER-TLV.
 * @example tlv(0xA5, [tlv(0x88, hex`01`), tlv(0x5F2D, hex`7A 68`)])
 */
export function tlv(tag: number, value: Uint8Array | readonly Tlv[]): Tlv {
  checkTag(tag, 'tlv');
  const constructed = (firstTagByte(tag) & 0x20) !== 0;
  if (value instanceof Uint8Array) {
    if (!constructed) return { tag, value };
    return { tag, value, children: decodeTlv(value, { copy: false }) };
  }
  if (!Array.isArray(value)) throw new ArgumentError('tlv: value must be a Uint8Array or an array of Tlv');
  if (!constructed)
    throw new ArgumentError(`tlv: primitive tag ${tag.toString(16).toUpperCase()} cannot have children`);
  const children = value.slice();
  return { tag, value: encodeTlv(children), children };
}

// ---------------------------------------------------------------- paths

/** A path of tags from the top level down: `'6F/A5/9F0C'` (hex, `/`-separated) or `[0x6F, 0xA5, 0x9F0C]`. */
export type TlvPath = string | readonly number[];

function parsePath(path: TlvPath): readonly number[] {
  if (typeof path !== 'string') {
    if (!Array.isArray(path) || path.length === 0) throw new ArgumentError('TLV path: expected a non-empty path');
    return path;
  }
  const parts = path.split('/');
  const tags: number[] = [];
  for (const p of parts) {
    let v = 0;
    const ok = p.length >= 2 && p.length <= 8 && p.length % 2 === 0;
    for (let i = 0; ok && i < p.length; i++) {
      const d = Number.parseInt(p[i]!, 16);
      if (Number.isNaN(d)) {
        v = -1;
        break;
      }
      v = v * 16 + d;
    }
    if (!ok || v < 0)
      throw new ArgumentError(`TLV path: ${JSON.stringify(p)} is not a hex tag in ${JSON.stringify(path)}`);
    tags.push(v);
  }
  return tags;
}

function walk(list: readonly Tlv[], path: readonly number[], i: number, out: Tlv[], firstOnly: boolean): boolean {
  const want = path[i];
  const last = i === path.length - 1;
  for (let k = 0; k < list.length; k++) {
    const t = list[k]!;
    if (t.tag !== want) continue;
    if (last) {
      out.push(t);
      if (firstOnly) return true;
    } else if (t.children !== undefined && walk(t.children, path, i + 1, out, firstOnly)) return true;
  }
  return false;
}

/**
 * First object (depth-first, document order) reached by `path`, or `undefined`.
 * @throws {ArgumentError} `BAD_ARGUMENT` on an empty or non-hex path.
 * @example findTlv(decodeTlv(fci), '6F/A5/9F0C')?.value
 */
export function findTlv(tlvs: Tlv | readonly Tlv[], path: TlvPath): Tlv | undefined {
  const out: Tlv[] = [];
  walk(Array.isArray(tlvs) ? tlvs : [tlvs as Tlv], parsePath(path), 0, out, true);
  return out[0];
}

/**
 * Every object reached by `path`, in document order (empty when none).
 * @throws {ArgumentError} `BAD_ARGUMENT` on an empty or non-hex path.
 */
export function findAllTlv(tlvs: Tlv | readonly Tlv[], path: TlvPath): Tlv[] {
  const out: Tlv[] = [];
  walk(Array.isArray(tlvs) ? tlvs : [tlvs as Tlv], parsePath(path), 0, out, false);
  return out;
}

// ---------------------------------------------------------------- examples

const h = fromHex;

const EF15 = '0000000000000000 02 01 31000000000000012345 20240101 20341231 0000';

/**
 * Canonical codec examples `[hex, decoded]` driving the generic round-trip test: decode(hex) equals decoded and
 * encode(decoded) equals hex. FCIs are from real SELECT responses (recorded-apdu-traces.json) or modelled on them.
 */
export const examples: Array<[hex: string, decoded: Tlv[]]> = [
  ['88 01 01', [tlv(0x88, h('01'))]],
  ['5F2D 02 7A68 9F11 01 01', [tlv(0x5f2d, h('7A68')), tlv(0x9f11, h('01'))]],
  ['84 00', [tlv(0x84, h(''))]],
  ['A5 00', [tlv(0xa5, [])]],
  ['DF8101 01 05 DF818101 00', [tlv(0xdf8101, h('05')), tlv(0xdf818101, h(''))]],
  [`C1 81 80 ${'AB'.repeat(128)}`, [tlv(0xc1, h('AB'.repeat(128)))]],
  [`C2 82 0100 ${'CD'.repeat(256)}`, [tlv(0xc2, h('CD'.repeat(256)))]],
  // PBOC EP application FCI after SELECT 3F01 (dpj365 trace; 9F0C content zeroed in the record)
  [
    `6F54 8409 A00000000386980701 A547 9F0801 02 9F0C40 ${'00'.repeat(64)}`,
    [
      tlv(0x6f, [
        tlv(0x84, h('A00000000386980701')),
        tlv(0xa5, [tlv(0x9f08, h('02')), tlv(0x9f0c, h('00'.repeat(64)))]),
      ]),
    ],
  ],
  // PSE "1PAY.SYS.DDF01" FCI (recorded trace)
  [
    '6F1E 840E 315041592E5359532E4444463031 A50C 880101 5F2D027A68 9F110101',
    [
      tlv(0x6f, [
        tlv(0x84, h('315041592E5359532E4444463031')),
        tlv(0xa5, [tlv(0x88, h('01')), tlv(0x5f2d, h('7A68')), tlv(0x9f11, h('01'))]),
      ]),
    ],
  ],
  // PBOC debit application FCI with PDOL and BF0C (recorded trace, value-altered)
  [
    '6F4A 8408 A000000333010101 A53E 500A 50424F43204445424954 870101 9F3809 9F7A019F02065F2A02' +
      ' 5F2D027A68 9F110101 9F120A 50424F43204445424954 BF0C0A 9F4D020B0A DF4D020C0A',
    [
      tlv(0x6f, [
        tlv(0x84, h('A000000333010101')),
        tlv(0xa5, [
          tlv(0x50, h('50424F43204445424954')),
          tlv(0x87, h('01')),
          tlv(0x9f38, h('9F7A019F02065F2A02')),
          tlv(0x5f2d, h('7A68')),
          tlv(0x9f11, h('01')),
          tlv(0x9f12, h('50424F43204445424954')),
          tlv(0xbf0c, [tlv(0x9f4d, h('0B0A')), tlv(0xdf4d, h('0C0A'))]),
        ]),
      ]),
    ],
  ],
  // T-Union style EP FCI: 9F0C carries a copy of EF15 (30 bytes)
  [
    `6F40 8408 A000000632010105 A534 880101 5F2D027A68 9F110101 9F080102 9F0C1E ${EF15} BF0C00`,
    [
      tlv(0x6f, [
        tlv(0x84, h('A000000632010105')),
        tlv(0xa5, [
          tlv(0x88, h('01')),
          tlv(0x5f2d, h('7A68')),
          tlv(0x9f11, h('01')),
          tlv(0x9f08, h('02')),
          tlv(0x9f0c, h(EF15)),
          tlv(0xbf0c, []),
        ]),
      ]),
    ],
  ],
];
