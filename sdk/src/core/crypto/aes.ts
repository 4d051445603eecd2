/**
 * AES-128/192/256 block cipher with ECB and CBC modes (no padding) on top of @noble/ciphers' round functions.
 * An {@link AesCipher} expands its key once; the decryption schedule is built on first use.
 *
 * @module
 */
import { unsafe } from '@noble/ciphers/aes.js';
import { assertBytes, copyBytes } from '../bytes';
import { ArgumentError } from '../errors';

const ZERO_IV16 = new Uint8Array(16);

/** Reads 4 bytes as the little-endian word noble's round functions work on. @internal */
export function readLe32(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24);
}

/** Writes a little-endian word back as 4 bytes. @internal */
export function writeLe32(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
  b[o + 2] = v >>> 16;
  b[o + 3] = v >>> 24;
}

function checkData(data: Uint8Array, what: string): void {
  assertBytes(data, 'data');
  if (data.length % 16 !== 0) throw new ArgumentError(`${what}: data length ${data.length} is not a multiple of 16`);
}

function checkBlockRange(b: Uint8Array, off: number, name: string): void {
  if (!(b instanceof Uint8Array) || !Number.isInteger(off) || off < 0 || off + 16 > b.length)
    throw new ArgumentError(`${name}: no 16-byte block at offset ${off}`);
}

/** One of noble's AES round functions (`unsafe.encrypt` / `unsafe.decrypt`) on little-endian words. */
type AesRounds = typeof unsafe.encrypt;

/** Runs `rounds` under schedule `xk` over the block at `src[srcOff]` into `dst[dstOff]` (exact overlap allowed). */
function cryptBlock(
  rounds: AesRounds,
  xk: Uint32Array,
  src: Uint8Array,
  srcOff: number,
  dst: Uint8Array,
  dstOff: number,
): void {
  const r = rounds(
    xk,
    readLe32(src, srcOff),
    readLe32(src, srcOff + 4),
    readLe32(src, srcOff + 8),
    readLe32(src, srcOff + 12),
  );
  writeLe32(dst, dstOff, r.s0);
  writeLe32(dst, dstOff + 4, r.s1);
  writeLe32(dst, dstOff + 8, r.s2);
  writeLe32(dst, dstOff + 12, r.s3);
}

/** ECB over whole 16-byte blocks (length already checked) into a new array. */
function ecb(rounds: AesRounds, xk: Uint32Array, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let o = 0; o < data.length; o += 16) cryptBlock(rounds, xk, data, o, out, o);
  return out;
}

/**
 * An AES key (16, 24 or 32 bytes) with its schedule expanded once.
 * @example new AesCipher(key).cbcEncrypt(padded, iv)
 */
export class AesCipher {
  /** Key length in bytes (16, 24 or 32). */
  readonly keyLength: number;
  #xk: Uint32Array;
  #xkDec: Uint32Array | undefined;
  #key: Uint8Array | undefined;

  /** @throws {ArgumentError} `BAD_ARGUMENT` unless the key is a `Uint8Array` of 16, 24 or 32 bytes. */
  constructor(key: Uint8Array) {
    assertBytes(key, 'key', 16, 24, 32);
    this.keyLength = key.length;
    this.#key = copyBytes(key);
    this.#xk = unsafe.expandKeyLE(this.#key);
  }

  #encKey(): Uint32Array {
    if (this.#xk.length === 0) throw new ArgumentError('AesCipher: used after destroy()');
    return this.#xk;
  }

  #decKey(): Uint32Array {
    if (this.#xkDec === undefined) {
      if (this.#key === undefined) throw new ArgumentError('AesCipher: used after destroy()');
      this.#xkDec = unsafe.expandKeyDecLE(this.#key);
      this.#key.fill(0);
      this.#key = undefined;
    }
    return this.#xkDec;
  }

  /**
   * Encrypts the 16-byte block at `src[srcOff]` into `dst[dstOff]` (exact overlap allowed).
   * @throws {ArgumentError} `BAD_ARGUMENT` when either range is not a whole block inside its array.
   */
  encryptBlock(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number): void {
    checkBlockRange(src, srcOff, 'src');
    checkBlockRange(dst, dstOff, 'dst');
    cryptBlock(unsafe.encrypt, this.#encKey(), src, srcOff, dst, dstOff);
  }

  /**
   * Decrypts the 16-byte block at `src[srcOff]` into `dst[dstOff]` (exact overlap allowed).
   * @throws {ArgumentError} `BAD_ARGUMENT` when either range is not a whole block inside its array.
   */
  decryptBlock(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number): void {
    checkBlockRange(src, srcOff, 'src');
    checkBlockRange(dst, dstOff, 'dst');
    cryptBlock(unsafe.decrypt, this.#decKey(), src, srcOff, dst, dstOff);
  }

  /**
   * ECB encryption, no padding.
   * @throws {ArgumentError} `BAD_ARGUMENT` when the length is not a multiple of 16.
   */
  ecbEncrypt(data: Uint8Array): Uint8Array {
    checkData(data, 'ecbEncrypt');
    return ecb(unsafe.encrypt, this.#encKey(), data);
  }

  /**
   * ECB decryption, no padding.
   * @throws {ArgumentError} `BAD_ARGUMENT` when the length is not a multiple of 16.
   */
  ecbDecrypt(data: Uint8Array): Uint8Array {
    checkData(data, 'ecbDecrypt');
    return ecb(unsafe.decrypt, this.#decKey(), data);
  }

  /**
   * CBC encryption, no padding, IV defaults to 00×16.
   * @throws {ArgumentError} `BAD_ARGUMENT` when the length is not a multiple of 16 or the IV is not 16 bytes.
   */
  cbcEncrypt(data: Uint8Array, iv: Uint8Array = ZERO_IV16): Uint8Array {
    checkData(data, 'cbcEncrypt');
    assertBytes(iv, 'iv', 16);
    const xk = this.#encKey();
    const out = new Uint8Array(data.length);
    let s0 = readLe32(iv, 0);
    let s1 = readLe32(iv, 4);
    let s2 = readLe32(iv, 8);
    let s3 = readLe32(iv, 12);
    for (let o = 0; o < data.length; o += 16) {
      const r = unsafe.encrypt(
        xk,
        s0 ^ readLe32(data, o),
        s1 ^ readLe32(data, o + 4),
        s2 ^ readLe32(data, o + 8),
        s3 ^ readLe32(data, o + 12),
      );
      s0 = r.s0;
      s1 = r.s1;
      s2 = r.s2;
      s3 = r.s3;
      writeLe32(out, o, s0);
      writeLe32(out, o + 4, s1);
      writeLe32(out, o + 8, s2);
      writeLe32(out, o + 12, s3);
    }
    return out;
  }

  /**
   * CBC decryption, no padding, IV defaults to 00×16.
   * @throws {ArgumentError} `BAD_ARGUMENT` when the length is not a multiple of 16 or the IV is not 16 bytes.
   */
  cbcDecrypt(data: Uint8Array, iv: Uint8Array = ZERO_IV16): Uint8Array {
    checkData(data, 'cbcDecrypt');
    assertBytes(iv, 'iv', 16);
    const xk = this.#decKey();
    const out = new Uint8Array(data.length);
    let p0 = readLe32(iv, 0);
    let p1 = readLe32(iv, 4);
    let p2 = readLe32(iv, 8);
    let p3 = readLe32(iv, 12);
    for (let o = 0; o < data.length; o += 16) {
      const c0 = readLe32(data, o);
      const c1 = readLe32(data, o + 4);
      const c2 = readLe32(data, o + 8);
      const c3 = readLe32(data, o + 12);
      const r = unsafe.decrypt(xk, c0, c1, c2, c3);
      writeLe32(out, o, r.s0 ^ p0);
      writeLe32(out, o + 4, r.s1 ^ p1);
      writeLe32(out, o + 8, r.s2 ^ p2);
      writeLe32(out, o + 12, r.s3 ^ p3);
      p0 = c0;
      p1 = c1;
      p2 = c2;
      p3 = c3;
    }
    return out;
  }

  /** Zeroes the expanded keys; the cipher is unusable afterwards. */
  destroy(): void {
    this.#xk.fill(0);
    this.#xk = new Uint32Array(0);
    this.#xkDec?.fill(0);
    this.#xkDec = undefined;
    this.#key?.fill(0);
    this.#key = undefined;
  }

  /** Never exposes key material. */
  toJSON(): string {
    return `AesCipher(AES-${this.keyLength * 8}, key [redacted])`;
  }

  /** Never exposes key material. */
  toString(): string {
    return this.toJSON();
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toJSON();
  }
}

/**
 * Runs `fn` with an {@link AesCipher} built for this call from `key`, and destroys it (zeroing its schedules)
 * whatever happens: the function forms keep no key material after they return. Hold an `AesCipher` to skip the
 * key schedule on every call.
 */
function withAes<T>(key: Uint8Array, fn: (cipher: AesCipher) => T): T {
  const cipher = new AesCipher(key);
  try {
    return fn(cipher);
  } finally {
    cipher.destroy();
  }
}

/**
 * AES-ECB encryption (key 16/24/32 bytes), no padding. The key is expanded for this call and wiped before it
 * returns; for many calls under one key, use an {@link AesCipher}.
 * @throws {ArgumentError} `BAD_ARGUMENT` on a bad key length or data not a multiple of 16.
 */
export function aesEcbEncrypt(key: Uint8Array, data: Uint8Array): Uint8Array {
  return withAes(key, (c) => c.ecbEncrypt(data));
}

/**
 * AES-ECB decryption, no padding; the key schedule lives for this call only (see {@link aesEcbEncrypt}).
 * @throws {ArgumentError} `BAD_ARGUMENT` on a bad key length or data not a multiple of 16.
 */
export function aesEcbDecrypt(key: Uint8Array, data: Uint8Array): Uint8Array {
  return withAes(key, (c) => c.ecbDecrypt(data));
}

/**
 * AES-CBC encryption, no padding, IV default 00×16; the key schedule lives for this call only.
 * @throws {ArgumentError} `BAD_ARGUMENT` on a bad key or IV length or data not a multiple of 16.
 */
export function aesCbcEncrypt(key: Uint8Array, data: Uint8Array, iv?: Uint8Array): Uint8Array {
  return withAes(key, (c) => c.cbcEncrypt(data, iv));
}

/**
 * AES-CBC decryption, no padding, IV default 00×16; the key schedule lives for this call only.
 * @throws {ArgumentError} `BAD_ARGUMENT` on a bad key or IV length or data not a multiple of 16.
 */
export function aesCbcDecrypt(key: Uint8Array, data: Uint8Array, iv?: Uint8Array): Uint8Array {
  return withAes(key, (c) => c.cbcDecrypt(data, iv));
}
