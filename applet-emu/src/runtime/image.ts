/**
 * Card image format: the bytes a {@link CardSnapshot} is saved as.
 *
 * ```
 * offset  size  field
 * 0       8     magic "SIMTAPCI" (53 49 4D 54 41 50 43 49)
 * 8       2     format version, big-endian (1)
 * 10      2     flags (0)
 * 12      4     payload length n, big-endian
 * 16      4     CRC-32 (IEEE 802.3, as zlib) of bytes 8..15 ‖ payload
 * 20      n     payload: UTF-8 JSON {"format":"simtap-card-image","records":[[key,"b",hex] | [key,"j",json], …]}
 * ```
 *
 * The checksum detects torn or corrupted files; it is not a security measure (an image holds the card's keys in
 * clear, like the chip's EEPROM: protect the file).
 *
 * @module
 */
import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import type { CardSnapshot } from './card';
import { CardImageError } from './errors';
import type { JsonValue, StoredValue } from './memory';

/** The magic at the start of every card image: ASCII `SIMTAPCI`. */
export const CARD_IMAGE_MAGIC_HEX = '53 49 4D 54 41 50 43 49';
const CARD_IMAGE_MAGIC = fromHex(CARD_IMAGE_MAGIC_HEX);
/** The format version this code writes and reads. */
export const CARD_IMAGE_VERSION = 1;
const HEADER = 20;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE, reflected, as zlib/PNG) of the concatenation of `parts`. */
export function crc32(...parts: Uint8Array[]): number {
  let c = 0xffffffff;
  for (const p of parts) for (let i = 0; i < p.length; i++) c = CRC_TABLE[(c ^ p[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Encodes a snapshot as card-image bytes. */
export function encodeCardImage(snapshot: CardSnapshot): Uint8Array {
  const records: JsonValue[] = snapshot.records.map(([k, v]) =>
    v instanceof Uint8Array ? [k, 'b', toHex(v)] : [k, 'j', v as JsonValue],
  );
  const payload = new TextEncoder().encode(JSON.stringify({ format: 'simtap-card-image', records }));
  const out = new Uint8Array(HEADER + payload.length);
  const dv = new DataView(out.buffer);
  out.set(CARD_IMAGE_MAGIC, 0);
  dv.setUint16(8, CARD_IMAGE_VERSION);
  dv.setUint16(10, 0);
  dv.setUint32(12, payload.length);
  out.set(payload, HEADER);
  dv.setUint32(16, crc32(out.subarray(8, 16), payload));
  return out;
}

function corrupt(message: string, offset?: number, cause?: unknown): never {
  throw new CardImageError('IMAGE_CORRUPT', message, offset, cause === undefined ? undefined : { cause });
}

/**
 * Decodes card-image bytes into a snapshot.
 * @throws {CardImageError} `IMAGE_TRUNCATED` (shorter than the header or its declared length),
 *   `IMAGE_CORRUPT` (bad magic, checksum, trailing bytes, malformed content), `IMAGE_VERSION` (other version).
 */
export function decodeCardImage(bytes: Uint8Array): CardSnapshot {
  if (!(bytes instanceof Uint8Array)) corrupt('card image: expected bytes');
  const n = bytes.length;
  const magicLen = Math.min(n, CARD_IMAGE_MAGIC.length);
  for (let i = 0; i < magicLen; i++) if (bytes[i] !== CARD_IMAGE_MAGIC[i]) corrupt('not a simtap card image', i);
  if (n < HEADER) throw new CardImageError('IMAGE_TRUNCATED', `card image header needs ${HEADER} bytes, got ${n}`, n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint16(8);
  if (version !== CARD_IMAGE_VERSION)
    throw new CardImageError('IMAGE_VERSION', `card image version ${version} is not supported`, 8);
  const len = dv.getUint32(12);
  if (n < HEADER + len)
    throw new CardImageError('IMAGE_TRUNCATED', `card image declares ${len} payload bytes, has ${n - HEADER}`, n);
  if (n > HEADER + len) corrupt('bytes after the card image payload', HEADER + len);
  const payload = bytes.subarray(HEADER);
  if (crc32(bytes.subarray(8, 16), payload) !== dv.getUint32(16)) corrupt('card image checksum mismatch', 16);
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch (err) {
    corrupt('card image payload is not JSON', HEADER, err);
  }
  const d = doc as { format?: unknown; records?: unknown };
  if (d === null || typeof d !== 'object' || d.format !== 'simtap-card-image' || !Array.isArray(d.records))
    corrupt('card image payload has the wrong shape', HEADER);
  const records: Array<[string, StoredValue]> = [];
  for (const r of d.records as unknown[]) {
    if (!Array.isArray(r) || r.length !== 3 || typeof r[0] !== 'string' || r[0].length === 0)
      corrupt('card image record has the wrong shape', HEADER);
    const [key, kind, value] = r as [string, unknown, unknown];
    if (kind === 'b') {
      if (typeof value !== 'string') corrupt(`card image record ${key}: bytes must be hex`, HEADER);
      try {
        records.push([key, fromHex(value)]);
      } catch (err) {
        corrupt(`card image record ${key}: bad hex`, HEADER, err);
      }
    } else if (kind === 'j') records.push([key, value as JsonValue]);
    else corrupt(`card image record ${key}: unknown kind`, HEADER);
  }
  return { version: 1, records };
}
