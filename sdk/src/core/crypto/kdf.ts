/**
 * Key derivation with AES-CMAC as PRF: NIST SP 800-108 counter mode (as in the CAVP KBKDF vectors) and the
 * GlobalPlatform SCP03 data derivation (GP Card Spec v2.3 Amd D §6.2.1), which is the same KDF with a fixed
 * layout of the input.
 *
 * @module
 */
import { assertBytes, assertUint } from '../bytes';
import { ArgumentError } from '../errors';
import { AesCmac } from './cmac';

/**
 * The PRF key of the KDFs: AES key bytes (16/24/32; the CMAC key schedule is computed for the call and wiped before
 * it returns), or an {@link AesCmac} the caller holds and destroys (no key schedule per call).
 */
export type CmacKeyInput = Uint8Array | AesCmac;

/** Runs `fn` with the PRF of `key`, destroying it afterwards when it was built here from key bytes. */
function withPrf<T>(key: CmacKeyInput, fn: (prf: AesCmac) => T): T {
  if (key instanceof AesCmac) return fn(key);
  const prf = new AesCmac(key);
  try {
    return fn(prf);
  } finally {
    prf.destroy();
  }
}

/** Options of {@link kdfCounterCmac}. */
export interface KdfCounterOptions {
  /** Width of the big-endian block counter i (default 1 byte, as SCP03 and the CAVP `RLEN=8_BITS` set). */
  counterBytes?: 1 | 2 | 4;
  /** Where the counter goes relative to the fixed input; only `'before'` is supported. */
  counterLocation?: 'before';
}

/** Leftmost `lBits` bits of `blocks` as a new array of ceil(lBits/8) bytes (trailing bits of the last byte zeroed). */
function truncateBits(blocks: Uint8Array, lBits: number): Uint8Array {
  const n = Math.ceil(lBits / 8);
  const out = n === blocks.length ? blocks : blocks.slice(0, n);
  const spare = n * 8 - lBits;
  if (spare > 0) out[n - 1]! &= (0xff << spare) & 0xff;
  return out;
}

/**
 * NIST SP 800-108 KDF in counter mode with PRF = AES-CMAC: K(i) = CMAC(KI, [i]ᵣ ‖ fixedInput), i = 1, 2, …,
 * output = the leftmost `lBits` bits of K(1) ‖ K(2) ‖ ….
 * @throws {ArgumentError} `BAD_ARGUMENT` on a KI that is not 16/24/32 bytes, `lBits` not a positive integer,
 *   more blocks than the counter can number, or an unsupported option.
 */
export function kdfCounterCmac(
  ki: CmacKeyInput,
  fixedInput: Uint8Array,
  lBits: number,
  opts: KdfCounterOptions = {},
): Uint8Array {
  const r = opts.counterBytes ?? 1;
  if (r !== 1 && r !== 2 && r !== 4) throw new ArgumentError(`counterBytes: expected 1, 2 or 4, got ${String(r)}`);
  if ((opts.counterLocation ?? 'before') !== 'before')
    throw new ArgumentError(`counterLocation: only 'before' is supported, got ${String(opts.counterLocation)}`);
  assertBytes(fixedInput, 'fixedInput');
  assertUint(lBits, 'lBits', 2 ** 32 - 1);
  if (lBits === 0) throw new ArgumentError('lBits: must be positive');
  const blocks = Math.ceil(lBits / 128);
  return withPrf(ki, (prf) => {
    if (blocks > 2 ** (8 * r) - 1)
      throw new ArgumentError(`lBits: ${lBits} bits need ${blocks} blocks, more than a ${r}-byte counter allows`);
    const input = new Uint8Array(r + fixedInput.length);
    input.set(fixedInput, r);
    const out = new Uint8Array(blocks * 16);
    for (let i = 1; i <= blocks; i++) {
      for (let j = 0, v = i; j < r; j++, v >>>= 8) input[r - 1 - j] = v & 0xff;
      prf.macInto(input, out, (i - 1) * 16);
    }
    return truncateBits(out, lBits);
  });
}

/** SCP03 derivation constants (GP Amd D §6.2.2, table 6-1). */
export const SCP03_DERIVATION = {
  CARD_CRYPTOGRAM: 0x00,
  HOST_CRYPTOGRAM: 0x01,
  CARD_CHALLENGE: 0x02,
  S_ENC: 0x04,
  S_MAC: 0x06,
  S_RMAC: 0x07,
} as const;

/**
 * GP SCP03 data derivation (Amd D §6.2.1): SP 800-108 counter mode with AES-CMAC over
 * `00×11 ‖ constant ‖ 00 ‖ L(2, bits) ‖ i(1) ‖ context`, truncated to `lBits` (64 for cryptograms and challenges,
 * the key length in bits for session keys).
 * @example scp03Derive(staticMac, SCP03_DERIVATION.S_MAC, concat(hostChallenge, cardChallenge), 128)
 * @throws {ArgumentError} `BAD_ARGUMENT` on a key that is not 16/24/32 bytes, a constant outside 0..255, or
 *   `lBits` not a positive multiple of 8 below 65536.
 */
export function scp03Derive(
  key: CmacKeyInput,
  derivationConstant: number,
  context: Uint8Array,
  lBits: number,
): Uint8Array {
  assertUint(derivationConstant, 'derivationConstant', 0xff);
  assertBytes(context, 'context');
  assertUint(lBits, 'lBits', 0xffff);
  if (lBits === 0 || lBits % 8 !== 0) throw new ArgumentError(`lBits: expected a positive multiple of 8, got ${lBits}`);
  const blocks = Math.ceil(lBits / 128);
  return withPrf(key, (prf) => {
    const input = new Uint8Array(16 + context.length);
    input[11] = derivationConstant;
    input[13] = lBits >>> 8;
    input[14] = lBits & 0xff;
    input.set(context, 16);
    const out = new Uint8Array(blocks * 16);
    for (let i = 1; i <= blocks; i++) {
      input[15] = i;
      prf.macInto(input, out, (i - 1) * 16);
    }
    return truncateBits(out, lBits);
  });
}
