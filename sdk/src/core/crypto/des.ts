/**
 * DES and Triple-DES (EDE, 2-key and 3-key) block ciphers with ECB and CBC modes, on top of node-forge's DES
 * core. A {@link DesCipher} expands its key once (16 or 48 subkeys); every block operation afterwards reuses the
 * schedule. Single DES is only here because PBOC and ISO 9797-1 MACs need it.
 *
 * @module
 */
import forge from 'node-forge';
import { assertBytes } from '../bytes';
import { ArgumentError } from '../errors';

/** One block through forge's DES core: two signed 32-bit big-endian words in, two out (may be the same array). */
type WordBlockFn = (input: Int32Array, output: Int32Array) => void;

interface ForgeDesAlgorithm {
  initialize(options: { key: forge.util.ByteStringBuffer }): void;
  mode: { cipher: { encrypt: WordBlockFn; decrypt: WordBlockFn } };
  _keys?: number[];
}

// @types/node-forge does not declare the block-level DES API (lib/des.js `forge.des.Algorithm`).
const forgeDes = forge as unknown as {
  des: { Algorithm: new (name: string, mode: unknown) => ForgeDesAlgorithm };
  cipher: { modes: { ecb: unknown } };
};

/** Which DES variant a key selects. */
export type DesVariant = 'DES' | '3DES-2KEY' | '3DES-3KEY';

const ZERO_IV8 = new Uint8Array(8);

const destroyedFn: WordBlockFn = () => {
  throw new ArgumentError('DesCipher: used after destroy()');
};

function readBe32(b: Uint8Array, o: number): number {
  return (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!;
}

function writeBe32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

function checkData(data: Uint8Array, what: string): void {
  assertBytes(data, 'data');
  if (data.length % 8 !== 0) throw new ArgumentError(`${what}: data length ${data.length} is not a multiple of 8`);
}

function checkBlockRange(b: Uint8Array, off: number, name: string): void {
  if (!(b instanceof Uint8Array) || !Number.isInteger(off) || off < 0 || off + 8 > b.length)
    throw new ArgumentError(`${name}: no 8-byte block at offset ${off}`);
}

/**
 * A DES / Triple-DES key with its schedule expanded once.
 * Key length selects the variant: 8 = DES, 16 = 2-key 3DES (K1 K2 K1), 24 = 3-key 3DES (EDE).
 * @example new DesCipher(key16).cbcEncrypt(data) // 3DES-CBC, zero IV
 */
export class DesCipher {
  /** Key length in bytes (8, 16 or 24). */
  readonly keyLength: number;
  /** The variant selected by the key length. */
  readonly variant: DesVariant;
  #alg: ForgeDesAlgorithm;
  #enc: WordBlockFn;
  #dec: WordBlockFn;
  readonly #w = new Int32Array(2);

  /** @throws {ArgumentError} `BAD_ARGUMENT` unless the key is a `Uint8Array` of 8, 16 or 24 bytes. */
  constructor(key: Uint8Array) {
    assertBytes(key, 'key', 8, 16, 24);
    this.keyLength = key.length;
    this.variant = key.length === 8 ? 'DES' : key.length === 16 ? '3DES-2KEY' : '3DES-3KEY';
    // forge wants a 24-byte key for 3DES; a 2-key key is K1 K2 K1.
    let s = String.fromCharCode.apply(null, key as unknown as number[]);
    if (key.length === 16) s += s.slice(0, 8);
    const alg = new forgeDes.des.Algorithm(key.length === 8 ? 'DES-ECB' : '3DES-ECB', forgeDes.cipher.modes.ecb);
    alg.initialize({ key: forge.util.createBuffer(s, 'raw') });
    this.#alg = alg;
    this.#enc = alg.mode.cipher.encrypt;
    this.#dec = alg.mode.cipher.decrypt;
  }

  /**
   * Encrypts one block in place, given as two signed 32-bit big-endian words (`words[0]` = bytes 0..3).
   * The allocation-free primitive the MAC code chains on.
   */
  encryptWords(words: Int32Array): void {
    this.#enc(words, words);
  }

  /** Decrypts one block in place, given as two 32-bit big-endian words (see {@link DesCipher.encryptWords}). */
  decryptWords(words: Int32Array): void {
    this.#dec(words, words);
  }

  /**
   * Encrypts the 8-byte block at `src[srcOff]` into `dst[dstOff]` (`src` and `dst` may overlap exactly).
   * @throws {ArgumentError} `BAD_ARGUMENT` when either range is not a whole block inside its array.
   */
  encryptBlock(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number): void {
    checkBlockRange(src, srcOff, 'src');
    checkBlockRange(dst, dstOff, 'dst');
    this.#block(this.#enc, src, srcOff, dst, dstOff);
  }

  /**
   * Decrypts the 8-byte block at `src[srcOff]` into `dst[dstOff]`.
   * @throws {ArgumentError} `BAD_ARGUMENT` when either range is not a whole block inside its array.
   */
  decryptBlock(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number): void {
    checkBlockRange(src, srcOff, 'src');
    checkBlockRange(dst, dstOff, 'dst');
    this.#block(this.#dec, src, srcOff, dst, dstOff);
  }

  #block(fn: WordBlockFn, src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number): void {
    const w = this.#w;
    w[0] = readBe32(src, srcOff);
    w[1] = readBe32(src, srcOff + 4);
    fn(w, w);
    writeBe32(dst, dstOff, w[0]!);
    writeBe32(dst, dstOff + 4, w[1]!);
  }

  /**
   * ECB encryption, no padding.
   * @throws {ArgumentError} `BAD_ARGUMENT` when the length is not a multiple of 8.
   */
  ecbEncrypt(data: Uint8Array): Uint8Array {
    return this.#ecb(this.#enc, data, 'ecbEncrypt');
  }

  /**
   * ECB decryption, no padding.
   * @throws {ArgumentError} `BAD_ARGUMENT` when the length is not a multiple of 8.
   */
  ecbDecrypt(data: Uint8Array): Uint8Array {
    return this.#ecb(this.#dec, data, 'ecbDecrypt');
  }

  #ecb(fn: WordBlockFn, data: Uint8Array, what: string): Uint8Array {
    checkData(data, what);
    const out = new Uint8Array(data.length);
    for (let o = 0; o < data.length; o += 8) this.#block(fn, data, o, out, o);
    return out;
  }

  /**
   * CBC encryption, no padding, IV defaults to 00×8.
   * @throws {ArgumentError} `BAD_ARGUMENT` when the length is not a multiple of 8 or the IV is not 8 bytes.
   */
  cbcEncrypt(data: Uint8Array, iv: Uint8Array = ZERO_IV8): Uint8Array {
    checkData(data, 'cbcEncrypt');
    assertBytes(iv, 'iv', 8);
    const out = new Uint8Array(data.length);
    const w = this.#w;
    const enc = this.#enc;
    w[0] = readBe32(iv, 0);
    w[1] = readBe32(iv, 4);
    for (let o = 0; o < data.length; o += 8) {
      w[0] ^= readBe32(data, o);
      w[1] ^= readBe32(data, o + 4);
      enc(w, w);
      writeBe32(out, o, w[0]!);
      writeBe32(out, o + 4, w[1]!);
    }
    return out;
  }

  /**
   * CBC decryption, no padding, IV defaults to 00×8.
   * @throws {ArgumentError} `BAD_ARGUMENT` when the length is not a multiple of 8 or the IV is not 8 bytes.
   */
  cbcDecrypt(data: Uint8Array, iv: Uint8Array = ZERO_IV8): Uint8Array {
    checkData(data, 'cbcDecrypt');
    assertBytes(iv, 'iv', 8);
    const out = new Uint8Array(data.length);
    const w = this.#w;
    const dec = this.#dec;
    let p0 = readBe32(iv, 0);
    let p1 = readBe32(iv, 4);
    for (let o = 0; o < data.length; o += 8) {
      const c0 = readBe32(data, o);
      const c1 = readBe32(data, o + 4);
      w[0] = c0;
      w[1] = c1;
      dec(w, w);
      writeBe32(out, o, w[0]! ^ p0);
      writeBe32(out, o + 4, w[1]! ^ p1);
      p0 = c0;
      p1 = c1;
    }
    return out;
  }

  /** Zeroes the expanded key; the cipher throws `BAD_ARGUMENT` if used afterwards. */
  destroy(): void {
    this.#alg._keys?.fill(0);
    this.#enc = destroyedFn;
    this.#dec = destroyedFn;
  }

  /** Never exposes key material. */
  toJSON(): string {
    return `DesCipher(${this.variant}, key [redacted])`;
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
 * Runs `fn` with a {@link DesCipher} built for this call from `key`, and destroys it (zeroing its subkeys) whatever
 * happens: the function forms keep no key material after they return. Hold a `DesCipher` to skip the key schedule
 * on every call.
 */
function withDes<T>(key: Uint8Array, fn: (cipher: DesCipher) => T): T {
  const cipher = new DesCipher(key);
  try {
    return fn(cipher);
  } finally {
    cipher.destroy();
  }
}

/**
 * DES / 3DES ECB encryption (key 8/16/24 bytes), no padding. The key is expanded for this call and wiped before it
 * returns; for many calls under one key, use a {@link DesCipher}.
 * @throws {ArgumentError} `BAD_ARGUMENT` on a bad key length or data not a multiple of 8.
 */
export function desEcbEncrypt(key: Uint8Array, data: Uint8Array): Uint8Array {
  return withDes(key, (c) => c.ecbEncrypt(data));
}

/**
 * DES / 3DES ECB decryption, no padding; the key schedule lives for this call only (see {@link desEcbEncrypt}).
 * @throws {ArgumentError} `BAD_ARGUMENT` on a bad key length or data not a multiple of 8.
 */
export function desEcbDecrypt(key: Uint8Array, data: Uint8Array): Uint8Array {
  return withDes(key, (c) => c.ecbDecrypt(data));
}

/**
 * DES / 3DES CBC encryption, no padding, IV default 00×8; the key schedule lives for this call only.
 * @throws {ArgumentError} `BAD_ARGUMENT` on a bad key or IV length or data not a multiple of 8.
 */
export function desCbcEncrypt(key: Uint8Array, data: Uint8Array, iv?: Uint8Array): Uint8Array {
  return withDes(key, (c) => c.cbcEncrypt(data, iv));
}

/**
 * DES / 3DES CBC decryption, no padding, IV default 00×8; the key schedule lives for this call only.
 * @throws {ArgumentError} `BAD_ARGUMENT` on a bad key or IV length or data not a multiple of 8.
 */
export function desCbcDecrypt(key: Uint8Array, data: Uint8Array, iv?: Uint8Array): Uint8Array {
  return withDes(key, (c) => c.cbcDecrypt(data, iv));
}

/**
 * A copy of `key` with every byte's least significant bit set so the byte has odd parity (DES key convention).
 * @throws {ArgumentError} `BAD_ARGUMENT` when `key` is not a `Uint8Array`.
 */
export function adjustParity(key: Uint8Array): Uint8Array {
  assertBytes(key, 'key');
  const out = new Uint8Array(key.length);
  for (let i = 0; i < key.length; i++) {
    let v = key[i]! & 0xfe;
    let p = v;
    p ^= p >> 4;
    p ^= p >> 2;
    p ^= p >> 1;
    // p & 1 is the parity of the upper 7 bits: set the low bit when it is even.
    if ((p & 1) === 0) v |= 1;
    out[i] = v;
  }
  return out;
}
