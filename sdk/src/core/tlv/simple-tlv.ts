/**
 * SIMPLE-TLV data objects (ISO/IEC 7816-4 §5.2.1): tag one byte `01`–`FE`; length one byte `00`–`FE`,
 * or `FF` followed by two bytes (0–65535). No nesting, no padding.
 *
 * Memory: as for BER-TLV, the decoders copy their input once (small inputs into a shared slab, see `ber-tlv.ts`)
 * and values are views into that copy; `{ copy: false }` makes them views into the input.
 *
 * Error offsets are absolute in the input: the tag byte (`SIMPLE_TLV_BAD_TAG`, `SIMPLE_TLV_TRAILING_BYTES`), the
 * first length byte (`SIMPLE_TLV_TRUNCATED_LENGTH`, `SIMPLE_TLV_NON_MINIMAL_LENGTH`), the first value byte
 * (`SIMPLE_TLV_TRUNCATED_VALUE`) or the input end (`SIMPLE_TLV_TRUNCATED_TAG`).
 *
 * @module
 */
import { fromHex } from '../bytes';
import { ArgumentError } from '../errors';
import { copyInput, TlvError } from './ber-tlv';

/** A SIMPLE-TLV data object. */
export interface SimpleTlv {
  /** Tag byte, 0x01..0xFE. */
  tag: number;
  /** Value bytes (0..65535). */
  value: Uint8Array;
}

/** Options of {@link decodeSimpleTlv} and {@link decodeSimpleTlvOne}. */
export interface SimpleTlvDecodeOptions {
  /** Accept `FF xx xx` lengths below 255 (default false: `SIMPLE_TLV_NON_MINIMAL_LENGTH`). */
  lenient?: boolean;
  /** Copy the input once so values never alias it (default true). */
  copy?: boolean;
}

/** Decodes one object at `pos`, pushes it, returns the position after it. */
function parseOne(b: Uint8Array, pos: number, lenient: boolean, out: SimpleTlv[]): number {
  const end = b.length;
  const tag = b[pos]!;
  if (tag === 0x00 || tag === 0xff)
    throw new TlvError('SIMPLE_TLV_BAD_TAG', `SIMPLE-TLV: invalid tag ${tag === 0 ? '00' : 'FF'}`, pos);
  pos++;
  if (pos >= end) throw new TlvError('SIMPLE_TLV_TRUNCATED_LENGTH', 'SIMPLE-TLV: input ends before a length', pos);
  const lenStart = pos;
  let len = b[pos++]!;
  if (len === 0xff) {
    if (end - pos < 2)
      throw new TlvError('SIMPLE_TLV_TRUNCATED_LENGTH', 'SIMPLE-TLV: input ends inside a length', lenStart);
    len = (b[pos]! << 8) | b[pos + 1]!;
    pos += 2;
    if (!lenient && len < 0xff)
      throw new TlvError('SIMPLE_TLV_NON_MINIMAL_LENGTH', `SIMPLE-TLV: length ${len} in 3 bytes`, lenStart);
  }
  if (len > end - pos)
    throw new TlvError('SIMPLE_TLV_TRUNCATED_VALUE', `SIMPLE-TLV: value of ${len} bytes, ${end - pos} available`, pos);
  out.push({ tag, value: b.subarray(pos, pos + len) });
  return pos + len;
}

function prepare(bytes: Uint8Array, opts: SimpleTlvDecodeOptions | undefined, fn: string): Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new ArgumentError(`${fn}: expected Uint8Array`);
  return opts?.copy === false ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length) : copyInput(bytes);
}

/**
 * Decodes a sequence of SIMPLE-TLV objects (the empty input gives `[]`).
 * @throws {TlvError} `SIMPLE_TLV_BAD_TAG`, `SIMPLE_TLV_TRUNCATED_LENGTH`, `SIMPLE_TLV_NON_MINIMAL_LENGTH`
 *   (unless `lenient`), `SIMPLE_TLV_TRUNCATED_VALUE`.
 * @example decodeSimpleTlv(hex`01 02 AA BB`) // [{ tag: 1, value: [0xAA, 0xBB] }]
 */
export function decodeSimpleTlv(bytes: Uint8Array, opts?: SimpleTlvDecodeOptions): SimpleTlv[] {
  const b = prepare(bytes, opts, 'decodeSimpleTlv');
  const lenient = opts?.lenient === true;
  const out: SimpleTlv[] = [];
  let pos = 0;
  while (pos < b.length) pos = parseOne(b, pos, lenient, out);
  return out;
}

/**
 * Decodes exactly one SIMPLE-TLV object.
 * @throws {TlvError} as {@link decodeSimpleTlv}, plus `SIMPLE_TLV_TRUNCATED_TAG` on empty input and
 *   `SIMPLE_TLV_TRAILING_BYTES` when bytes follow the object.
 */
export function decodeSimpleTlvOne(bytes: Uint8Array, opts?: SimpleTlvDecodeOptions): SimpleTlv {
  const b = prepare(bytes, opts, 'decodeSimpleTlvOne');
  if (b.length === 0) throw new TlvError('SIMPLE_TLV_TRUNCATED_TAG', 'SIMPLE-TLV: empty input', 0);
  const out: SimpleTlv[] = [];
  const pos = parseOne(b, 0, opts?.lenient === true, out);
  if (pos < b.length)
    throw new TlvError('SIMPLE_TLV_TRAILING_BYTES', `SIMPLE-TLV: ${b.length - pos} bytes after the object`, pos);
  return out[0]!;
}

function checkItem(t: SimpleTlv): number {
  if (t === null || typeof t !== 'object') throw new ArgumentError('encodeSimpleTlv: expected a SimpleTlv object');
  if (!Number.isInteger(t.tag) || t.tag < 0x01 || t.tag > 0xfe)
    throw new ArgumentError(`encodeSimpleTlv: tag ${String(t.tag)} not in 01..FE`);
  if (!(t.value instanceof Uint8Array)) throw new ArgumentError('encodeSimpleTlv: value must be a Uint8Array');
  const len = t.value.length;
  if (len > 0xffff) throw new ArgumentError(`encodeSimpleTlv: value of ${len} bytes exceeds 65535`);
  return (len < 0xff ? 2 : 4) + len;
}

/**
 * Encodes one or more SIMPLE-TLV objects with minimal lengths (`FF xxxx` only from 255 bytes on).
 * @throws {ArgumentError} `BAD_ARGUMENT` on a tag outside 01..FE, a non-`Uint8Array` value or a value over 65535 bytes.
 */
export function encodeSimpleTlv(items: SimpleTlv | readonly SimpleTlv[]): Uint8Array {
  const list: readonly SimpleTlv[] = Array.isArray(items) ? items : [items as SimpleTlv];
  let total = 0;
  for (let i = 0; i < list.length; i++) total += checkItem(list[i]!);
  const out = new Uint8Array(total);
  let pos = 0;
  for (let i = 0; i < list.length; i++) {
    const { tag, value } = list[i]!;
    out[pos++] = tag;
    if (value.length < 0xff) out[pos++] = value.length;
    else {
      out[pos++] = 0xff;
      out[pos++] = value.length >>> 8;
      out[pos++] = value.length & 0xff;
    }
    out.set(value, pos);
    pos += value.length;
  }
  return out;
}

/** Canonical SIMPLE-TLV codec examples `[hex, decoded]` for the generic round-trip test. */
export const examples: Array<[hex: string, decoded: SimpleTlv[]]> = [
  ['01 00', [{ tag: 0x01, value: fromHex('') }]],
  [
    '01 02 AABB FE 01 00',
    [
      { tag: 0x01, value: fromHex('AABB') },
      { tag: 0xfe, value: fromHex('00') },
    ],
  ],
  [`80 FE ${'11'.repeat(254)}`, [{ tag: 0x80, value: fromHex('11'.repeat(254)) }]],
  [`80 FF00FF ${'22'.repeat(255)}`, [{ tag: 0x80, value: fromHex('22'.repeat(255)) }]],
  [
    `42 FF0100 ${'33'.repeat(256)} 43 01 44`,
    [
      { tag: 0x42, value: fromHex('33'.repeat(256)) },
      { tag: 0x43, value: fromHex('44') },
    ],
  ],
];
