/**
 * Padding for block-cipher MACs and encryption: ISO/IEC 9797-1 padding methods 1, 2 and 3, and removal of
 * method-2 padding (the ISO/IEC 7816-4 `80 00…` padding used by GlobalPlatform and PBOC secure messaging).
 *
 * @module
 */
import { assertBytes } from '../bytes';
import { ArgumentError, defineErrors, ParseError } from '../errors';

/** The codes of the {@link ParseError}s of unpadding (MAC and cryptogram failures are `CryptoError`s with their area's codes). */
export const PADDING_ERRORS = defineErrors({
  PADDING_INVALID: {
    class: 'ParseError',
    when: 'ISO 9797-1 method 2 unpadding: data not whole blocks, no `80` marker, or padding longer than a block',
    fix: 'wrong key or tampered data: reject it',
  },
});

/** Code of a {@link ParseError} from unpadding. */
export type PaddingErrorCode = keyof typeof PADDING_ERRORS;

/** ISO/IEC 9797-1 padding method: 1 zeros, 2 `80 00…`, 3 length block then zeros. */
export type PaddingMethod = 1 | 2 | 3;

/**
 * Pads `data` to a multiple of `blockSize` by ISO/IEC 9797-1 padding method 1, 2 or 3; always returns a new array.
 *
 * - 1: append `00` bytes, none when already aligned; empty data becomes one block of zeros (the padded string
 *   must be a positive multiple of the block length).
 * - 2: append `80` then `00` bytes; an aligned input gains a whole block `80 00…`.
 * - 3: prefix a block holding the bit length of `data` (big-endian), then pad with zeros as method 1 except that
 *   empty data stays empty (the result is the length block alone).
 * @throws {ArgumentError} `BAD_ARGUMENT` on an unknown method, a block size outside 1..255, or non-bytes data.
 */
export function padIso9797(data: Uint8Array, method: PaddingMethod, blockSize = 8): Uint8Array {
  assertBytes(data, 'data');
  if (!Number.isInteger(blockSize) || blockSize < 1 || blockSize > 255)
    throw new ArgumentError(`padIso9797: block size ${blockSize} not in 1..255`);
  const len = data.length;
  const rem = len % blockSize;
  switch (method) {
    case 1: {
      const padded = len === 0 ? blockSize : rem === 0 ? len : len + blockSize - rem;
      const out = new Uint8Array(padded);
      out.set(data);
      return out;
    }
    case 2: {
      const out = new Uint8Array(len + blockSize - rem);
      out.set(data);
      out[len] = 0x80;
      return out;
    }
    case 3: {
      const body = rem === 0 ? len : len + blockSize - rem;
      const out = new Uint8Array(blockSize + body);
      // Bit length, big-endian, right-aligned in the first block (exact up to 2^53 bits).
      let bits = len * 8;
      for (let i = blockSize - 1; i >= 0 && bits > 0; i--) {
        out[i] = bits % 256;
        bits = Math.floor(bits / 256);
      }
      out.set(data, blockSize);
      return out;
    }
    default:
      throw new ArgumentError(`padIso9797: unknown padding method ${String(method)}`);
  }
}

/**
 * Removes ISO/IEC 7816-4 padding (`80` followed by zero or more `00`) and returns a copy of the content.
 * With `blockSize`, the input must be a whole number of blocks and the padding at most one block long.
 * @throws {ParseError} `PADDING_INVALID` when no `80` marker ends the data, or the length rules above fail.
 */
export function unpadIso7816(data: Uint8Array, blockSize?: number): Uint8Array {
  assertBytes(data, 'data');
  if (blockSize !== undefined && (data.length === 0 || data.length % blockSize !== 0))
    throw new ParseError<PaddingErrorCode>(
      'PADDING_INVALID',
      `padded data length ${data.length} is not a multiple of ${blockSize}`,
    );
  let i = data.length - 1;
  while (i >= 0 && data[i] === 0) i--;
  if (i < 0 || data[i] !== 0x80)
    throw new ParseError<PaddingErrorCode>('PADDING_INVALID', 'no 80 padding marker', Math.max(i, 0));
  if (blockSize !== undefined && data.length - i > blockSize)
    throw new ParseError<PaddingErrorCode>(
      'PADDING_INVALID',
      `padding longer than one block (${data.length - i} bytes)`,
      i,
    );
  const out = new Uint8Array(i);
  out.set(data.subarray(0, i));
  return out;
}
