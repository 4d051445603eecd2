/**
 * ISO/IEC 9797-1 MAC algorithms on DES:
 * - algorithm 1: CBC-MAC with one cipher for every block (single DES for PBOC, full 3DES for the SCP02
 *   cryptograms and the ETSI 3DES checksum);
 * - algorithm 3 ("retail MAC"): single-DES CBC with K, then the output transformation D(K′) / E(K)
 *   (SCP02 C-MAC, ICAO BAC, PBOC line protection).
 * Padding methods 1, 2 (default) and 3 are applied on the fly, without copying the message.
 *
 * @module
 */
import { assertBytes } from '../bytes';
import { ArgumentError } from '../errors';
import { DesCipher } from './des';
import type { PaddingMethod } from './padding';

/** Options of the MAC function forms. */
export interface MacOptions {
  /** ISO/IEC 9797-1 padding method (default 2: `80 00…`). */
  padding?: PaddingMethod;
  /** Initial chaining value, 8 bytes (default 00×8). */
  iv?: Uint8Array;
}

function checkPadding(p: unknown): asserts p is PaddingMethod {
  if (p !== 1 && p !== 2 && p !== 3) throw new ArgumentError(`padding: expected 1, 2 or 3, got ${String(p)}`);
}

function checkOut(out: Uint8Array, outOff: number): void {
  if (!(out instanceof Uint8Array) || !Number.isInteger(outOff) || outOff < 0 || outOff + 8 > out.length)
    throw new ArgumentError(`out: no room for 8 bytes at offset ${outOff}`);
}

function loadIv(w: Int32Array, iv: Uint8Array | undefined): void {
  if (iv === undefined) {
    w[0] = 0;
    w[1] = 0;
    return;
  }
  assertBytes(iv, 'iv', 8);
  w[0] = (iv[0]! << 24) | (iv[1]! << 16) | (iv[2]! << 8) | iv[3]!;
  w[1] = (iv[4]! << 24) | (iv[5]! << 16) | (iv[6]! << 8) | iv[7]!;
}

function storeWords(w: Int32Array, out: Uint8Array, o: number): void {
  const a = w[0]!;
  const b = w[1]!;
  out[o] = a >>> 24;
  out[o + 1] = a >>> 16;
  out[o + 2] = a >>> 8;
  out[o + 3] = a;
  out[o + 4] = b >>> 24;
  out[o + 5] = b >>> 16;
  out[o + 6] = b >>> 8;
  out[o + 7] = b;
}

/**
 * CBC chain of `cipher` over `data` padded by `padding`, starting from (and leaving the result in) `w`.
 * Padding is done on the fly: full blocks are read from `data`, the last block is assembled in registers.
 */
function cbcChain(cipher: DesCipher, data: Uint8Array, padding: PaddingMethod, w: Int32Array): void {
  const len = data.length;
  if (padding === 3) {
    const bits = len * 8;
    w[0] = w[0]! ^ Math.floor(bits / 0x1_0000_0000);
    w[1] = w[1]! ^ (bits >>> 0);
    cipher.encryptWords(w);
  }
  const rem = len & 7;
  const full = len - rem;
  for (let o = 0; o < full; o += 8) {
    w[0] = w[0]! ^ ((data[o]! << 24) | (data[o + 1]! << 16) | (data[o + 2]! << 8) | data[o + 3]!);
    w[1] = w[1]! ^ ((data[o + 4]! << 24) | (data[o + 5]! << 16) | (data[o + 6]! << 8) | data[o + 7]!);
    cipher.encryptWords(w);
  }
  // Method 2 always adds a block holding the marker; method 1 adds a zero block only for empty data;
  // method 3 adds nothing more to empty or aligned data.
  if (rem === 0 && !(padding === 2 || (padding === 1 && len === 0))) return;
  let x0 = 0;
  let x1 = 0;
  for (let i = 0; i < rem; i++) {
    const v = data[full + i]!;
    if (i < 4) x0 |= v << (24 - 8 * i);
    else x1 |= v << (56 - 8 * i);
  }
  if (padding === 2) {
    if (rem < 4) x0 |= 0x80 << (24 - 8 * rem);
    else x1 |= 0x80 << (56 - 8 * rem);
  }
  w[0] = w[0]! ^ x0;
  w[1] = w[1]! ^ x1;
  cipher.encryptWords(w);
}

/**
 * ISO/IEC 9797-1 MAC algorithm 1 (CBC-MAC) with a fixed DES (8-byte) or 3DES (16/24-byte) key and padding
 * method; the key schedule is expanded once.
 * @example new DesCbcMac(sessionKey8).mac(data).subarray(0, 4) // PBOC MAC1/MAC2
 */
export class DesCbcMac {
  /** The padding method applied to every message. */
  readonly padding: PaddingMethod;
  readonly #cipher: DesCipher;
  readonly #w = new Int32Array(2);

  /** @throws {ArgumentError} `BAD_ARGUMENT` on a key that is not 8, 16 or 24 bytes, or an unknown padding method. */
  constructor(key: Uint8Array, opts: { padding?: PaddingMethod } = {}) {
    const padding = opts.padding ?? 2;
    checkPadding(padding);
    this.padding = padding;
    this.#cipher = new DesCipher(key);
  }

  /**
   * The 8-byte MAC of `data`; `iv` (8 bytes) defaults to zeros.
   * @throws {ArgumentError} `BAD_ARGUMENT` on non-bytes data or a bad IV.
   */
  mac(data: Uint8Array, iv?: Uint8Array): Uint8Array {
    const out = new Uint8Array(8);
    this.macInto(data, out, 0, iv);
    return out;
  }

  /**
   * Writes the 8-byte MAC of `data` into `out[outOff..outOff+8)`; allocation-free.
   * @throws {ArgumentError} `BAD_ARGUMENT` on non-bytes data, a bad IV or no room in `out`.
   */
  macInto(data: Uint8Array, out: Uint8Array, outOff = 0, iv?: Uint8Array): void {
    assertBytes(data, 'data');
    checkOut(out, outOff);
    const w = this.#w;
    loadIv(w, iv);
    cbcChain(this.#cipher, data, this.padding, w);
    storeWords(w, out, outOff);
  }

  /** Zeroes the key schedule; the object throws `BAD_ARGUMENT` if used afterwards. */
  destroy(): void {
    this.#cipher.destroy();
  }

  /** Never exposes key material. */
  toJSON(): string {
    return `DesCbcMac(${this.#cipher.variant}, padding ${this.padding}, key [redacted])`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toJSON();
  }
}

/**
 * ISO/IEC 9797-1 MAC algorithm 3 ("retail MAC") with a fixed 16-byte key K ‖ K′ and padding method:
 * single-DES CBC under K, then D(K′) and E(K) on the last block. Both schedules are expanded once.
 * @example new RetailMac(sMac).mac(header_and_data, icv) // SCP02 C-MAC
 */
export class RetailMac {
  /** The padding method applied to every message. */
  readonly padding: PaddingMethod;
  readonly #k: DesCipher;
  readonly #k2: DesCipher;
  readonly #w = new Int32Array(2);

  /** @throws {ArgumentError} `BAD_ARGUMENT` on a key that is not 16 bytes, or an unknown padding method. */
  constructor(key: Uint8Array, opts: { padding?: PaddingMethod } = {}) {
    assertBytes(key, 'key', 16);
    const padding = opts.padding ?? 2;
    checkPadding(padding);
    this.padding = padding;
    this.#k = new DesCipher(key.subarray(0, 8));
    this.#k2 = new DesCipher(key.subarray(8, 16));
  }

  /**
   * The 8-byte MAC of `data`; `iv` (8 bytes) defaults to zeros.
   * @throws {ArgumentError} `BAD_ARGUMENT` on non-bytes data or a bad IV.
   */
  mac(data: Uint8Array, iv?: Uint8Array): Uint8Array {
    const out = new Uint8Array(8);
    this.macInto(data, out, 0, iv);
    return out;
  }

  /**
   * Writes the 8-byte MAC of `data` into `out[outOff..outOff+8)`; allocation-free.
   * @throws {ArgumentError} `BAD_ARGUMENT` on non-bytes data, a bad IV or no room in `out`.
   */
  macInto(data: Uint8Array, out: Uint8Array, outOff = 0, iv?: Uint8Array): void {
    assertBytes(data, 'data');
    checkOut(out, outOff);
    const w = this.#w;
    loadIv(w, iv);
    cbcChain(this.#k, data, this.padding, w);
    this.#k2.decryptWords(w);
    this.#k.encryptWords(w);
    storeWords(w, out, outOff);
  }

  /** Zeroes both key schedules; the object throws `BAD_ARGUMENT` if used afterwards. */
  destroy(): void {
    this.#k.destroy();
    this.#k2.destroy();
  }

  /** Never exposes key material. */
  toJSON(): string {
    return `RetailMac(padding ${this.padding}, key [redacted])`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toJSON();
  }
}

/** Runs `fn` with a MAC object built for this call and destroys it (zeroing its key schedules) whatever happens. */
function withMac<M extends { destroy(): void }, T>(mac: M, fn: (mac: M) => T): T {
  try {
    return fn(mac);
  } finally {
    mac.destroy();
  }
}

/**
 * ISO/IEC 9797-1 MAC algorithm 1: CBC-MAC under a DES (8-byte) or 3DES (16/24-byte) key, 8-byte result.
 * Padding method 2 and a zero IV by default. The key is expanded for this call and wiped before it returns; for
 * many messages under one key, use a {@link DesCbcMac}.
 * @throws {ArgumentError} `BAD_ARGUMENT` on a bad key or IV length, or an unknown padding method.
 */
export function macAlg1(key: Uint8Array, data: Uint8Array, opts: MacOptions = {}): Uint8Array {
  return withMac(new DesCbcMac(key, { padding: opts.padding ?? 2 }), (m) => m.mac(data, opts.iv));
}

/**
 * ISO/IEC 9797-1 MAC algorithm 3 (retail MAC) under a 16-byte key K ‖ K′, 8-byte result.
 * Padding method 2 and a zero IV by default. Both keys are expanded for this call and wiped before it returns;
 * for many messages under one key, use a {@link RetailMac}.
 * @throws {ArgumentError} `BAD_ARGUMENT` on a key that is not 16 bytes, a bad IV, or an unknown padding method.
 */
export function macAlg3(key: Uint8Array, data: Uint8Array, opts: MacOptions = {}): Uint8Array {
  return withMac(new RetailMac(key, { padding: opts.padding ?? 2 }), (m) => m.mac(data, opts.iv));
}
