/**
 * AES-CMAC (NIST SP 800-38B, RFC 4493): the PRF of GlobalPlatform SCP03, of SP 800-108 KDFs and the ETSI
 * TS 102 225 AES cryptographic checksum. The CBC chain runs on 32-bit words with the key schedule and the
 * subkeys K1/K2 computed once per key.
 *
 * @module
 */
import { unsafe } from '@noble/ciphers/aes.js';
import { assertBytes, copyBytes } from '../bytes';
import { ArgumentError } from '../errors';
import { readLe32, writeLe32 } from './aes';

/** SP 800-38B §6.1: doubling in GF(2^128), big-endian bit order, R = 0x87. */
function dbl(block: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  const carry = block[0]! >>> 7;
  for (let i = 0; i < 15; i++) out[i] = (block[i]! << 1) | (block[i + 1]! >>> 7);
  out[15] = (block[15]! << 1) ^ (carry * 0x87);
  return out;
}

function checkOut(out: Uint8Array, outOff: number): void {
  if (!(out instanceof Uint8Array) || !Number.isInteger(outOff) || outOff < 0 || outOff + 16 > out.length)
    throw new ArgumentError(`out: no room for 16 bytes at offset ${outOff}`);
}

/**
 * AES-CMAC with a fixed key (16, 24 or 32 bytes): build once per key, then call {@link AesCmac.mac} per message.
 * @example new AesCmac(sMac).mac(data).subarray(0, 8) // SCP03 C-MAC
 */
export class AesCmac {
  /** Key length in bytes (16, 24 or 32). */
  readonly keyLength: number;
  #xk: Uint32Array;
  readonly #k1: Uint8Array;
  readonly #k2: Uint8Array;
  // K1 and K2 as the little-endian words the chain works on.
  readonly #k1w0: number;
  readonly #k1w1: number;
  readonly #k1w2: number;
  readonly #k1w3: number;
  readonly #k2w0: number;
  readonly #k2w1: number;
  readonly #k2w2: number;
  readonly #k2w3: number;
  readonly #buf = new Uint8Array(16);

  /** @throws {ArgumentError} `BAD_ARGUMENT` unless the key is a `Uint8Array` of 16, 24 or 32 bytes. */
  constructor(key: Uint8Array) {
    assertBytes(key, 'key', 16, 24, 32);
    this.keyLength = key.length;
    const k = copyBytes(key);
    this.#xk = unsafe.expandKeyLE(k);
    k.fill(0);
    const r = unsafe.encrypt(this.#xk, 0, 0, 0, 0);
    const l = new Uint8Array(16);
    writeLe32(l, 0, r.s0);
    writeLe32(l, 4, r.s1);
    writeLe32(l, 8, r.s2);
    writeLe32(l, 12, r.s3);
    this.#k1 = dbl(l);
    this.#k2 = dbl(this.#k1);
    l.fill(0);
    this.#k1w0 = readLe32(this.#k1, 0);
    this.#k1w1 = readLe32(this.#k1, 4);
    this.#k1w2 = readLe32(this.#k1, 8);
    this.#k1w3 = readLe32(this.#k1, 12);
    this.#k2w0 = readLe32(this.#k2, 0);
    this.#k2w1 = readLe32(this.#k2, 4);
    this.#k2w2 = readLe32(this.#k2, 8);
    this.#k2w3 = readLe32(this.#k2, 12);
  }

  /** Copies of the subkeys K1 and K2 (SP 800-38B §6.1), e.g. to check them against published vectors. */
  subkeys(): { k1: Uint8Array; k2: Uint8Array } {
    return { k1: copyBytes(this.#k1), k2: copyBytes(this.#k2) };
  }

  /**
   * The 16-byte CMAC of `msg`.
   * @throws {ArgumentError} `BAD_ARGUMENT` when `msg` is not a `Uint8Array` or the object was destroyed.
   */
  mac(msg: Uint8Array): Uint8Array {
    const out = new Uint8Array(16);
    this.macInto(msg, out, 0);
    return out;
  }

  /**
   * Writes the 16-byte CMAC of `msg` into `out[outOff..outOff+16)`; allocation-free.
   * @throws {ArgumentError} `BAD_ARGUMENT` when `out` has no room, `msg` is not bytes, or the object was destroyed.
   */
  macInto(msg: Uint8Array, out: Uint8Array, outOff = 0): void {
    assertBytes(msg, 'msg');
    checkOut(out, outOff);
    const xk = this.#liveKey();
    const len = msg.length;
    // All blocks but the last go straight through the chain.
    const leading = len === 0 ? 0 : (len - 1) >>> 4;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let o = 0;
    for (let b = 0; b < leading; b++, o += 16) {
      const r = unsafe.encrypt(
        xk,
        s0 ^ readLe32(msg, o),
        s1 ^ readLe32(msg, o + 4),
        s2 ^ readLe32(msg, o + 8),
        s3 ^ readLe32(msg, o + 12),
      );
      s0 = r.s0;
      s1 = r.s1;
      s2 = r.s2;
      s3 = r.s3;
    }
    const rem = len - o;
    if (rem === 16) {
      s0 ^= readLe32(msg, o) ^ this.#k1w0;
      s1 ^= readLe32(msg, o + 4) ^ this.#k1w1;
      s2 ^= readLe32(msg, o + 8) ^ this.#k1w2;
      s3 ^= readLe32(msg, o + 12) ^ this.#k1w3;
    } else {
      const buf = this.#buf;
      buf.fill(0);
      for (let i = 0; i < rem; i++) buf[i] = msg[o + i]!;
      buf[rem] = 0x80;
      s0 ^= readLe32(buf, 0) ^ this.#k2w0;
      s1 ^= readLe32(buf, 4) ^ this.#k2w1;
      s2 ^= readLe32(buf, 8) ^ this.#k2w2;
      s3 ^= readLe32(buf, 12) ^ this.#k2w3;
    }
    const r = unsafe.encrypt(xk, s0, s1, s2, s3);
    writeLe32(out, outOff, r.s0);
    writeLe32(out, outOff + 4, r.s1);
    writeLe32(out, outOff + 8, r.s2);
    writeLe32(out, outOff + 12, r.s3);
  }

  /**
   * The CMAC of the concatenation of `parts`, without building it (e.g. SCP03 `chain ‖ header ‖ data`).
   * @throws {ArgumentError} `BAD_ARGUMENT` when a part is not a `Uint8Array` or the object was destroyed.
   */
  macParts(parts: readonly Uint8Array[]): Uint8Array {
    for (let i = 0; i < parts.length; i++) assertBytes(parts[i], `parts[${i}]`);
    const xk = this.#liveKey();
    const buf = this.#buf;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let fill = 0; // bytes pending in buf
    for (const p of parts) {
      for (let j = 0; j < p.length; j++) {
        if (fill === 16) {
          // buf is full and more data follows: it is not the last block.
          const r = unsafe.encrypt(
            xk,
            s0 ^ readLe32(buf, 0),
            s1 ^ readLe32(buf, 4),
            s2 ^ readLe32(buf, 8),
            s3 ^ readLe32(buf, 12),
          );
          s0 = r.s0;
          s1 = r.s1;
          s2 = r.s2;
          s3 = r.s3;
          fill = 0;
        }
        buf[fill++] = p[j]!;
      }
    }
    if (fill === 16) {
      s0 ^= readLe32(buf, 0) ^ this.#k1w0;
      s1 ^= readLe32(buf, 4) ^ this.#k1w1;
      s2 ^= readLe32(buf, 8) ^ this.#k1w2;
      s3 ^= readLe32(buf, 12) ^ this.#k1w3;
    } else {
      buf.fill(0, fill);
      buf[fill] = 0x80;
      s0 ^= readLe32(buf, 0) ^ this.#k2w0;
      s1 ^= readLe32(buf, 4) ^ this.#k2w1;
      s2 ^= readLe32(buf, 8) ^ this.#k2w2;
      s3 ^= readLe32(buf, 12) ^ this.#k2w3;
    }
    const r = unsafe.encrypt(xk, s0, s1, s2, s3);
    const out = new Uint8Array(16);
    writeLe32(out, 0, r.s0);
    writeLe32(out, 4, r.s1);
    writeLe32(out, 8, r.s2);
    writeLe32(out, 12, r.s3);
    return out;
  }

  #liveKey(): Uint32Array {
    if (this.#xk.length === 0) throw new ArgumentError('AesCmac: used after destroy()');
    return this.#xk;
  }

  /** Zeroes the key schedule and subkeys; the object throws `BAD_ARGUMENT` if used afterwards. */
  destroy(): void {
    this.#xk.fill(0);
    this.#xk = new Uint32Array(0);
    this.#k1.fill(0);
    this.#k2.fill(0);
    this.#buf.fill(0);
  }

  /** Never exposes key material. */
  toJSON(): string {
    return `AesCmac(AES-${this.keyLength * 8}, key [redacted])`;
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
 * The 16-byte AES-CMAC of `msg` under `key` (16/24/32 bytes). The key schedule and subkeys are computed for this
 * call and wiped before it returns; for many messages under one key, use an {@link AesCmac}.
 * @throws {ArgumentError} `BAD_ARGUMENT` on a bad key length or a non-`Uint8Array` message.
 */
export function aesCmac(key: Uint8Array, msg: Uint8Array): Uint8Array {
  const prf = new AesCmac(key);
  try {
    return prf.mac(msg);
  } finally {
    prf.destroy();
  }
}
