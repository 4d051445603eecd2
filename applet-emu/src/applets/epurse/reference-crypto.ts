/**
 * An independent reference of the PBOC e-purse cryptography for tests, built on `node:crypto` only (no SDK
 * crypto): 2-key 3DES as `des-ede3-ecb` with K1 ‖ K2 ‖ K1, single DES as `des-ede3-cbc` with K ‖ K ‖ K (OpenSSL 3
 * keeps plain DES in the legacy provider). Tests compare the applets' MAC1 / MAC2 / TAC / cryptograms with it.
 *
 * @module
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';

function u8(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

function ede3(key16: Uint8Array): Buffer {
  return Buffer.concat([key16, key16.subarray(0, 8)]);
}

function single(key8: Uint8Array): Buffer {
  return Buffer.concat([key8, key8, key8]);
}

/** 2-key 3DES-ECB encryption of whole blocks. */
export function refTdesEcb(key16: Uint8Array, data: Uint8Array): Uint8Array {
  const c = createCipheriv('des-ede3-ecb', ede3(key16), null);
  c.setAutoPadding(false);
  return u8(Buffer.concat([c.update(data), c.final()]));
}

/** ISO 9797-1 padding method 2. */
export function refPad(data: Uint8Array): Uint8Array {
  const n = (Math.floor(data.length / 8) + 1) * 8;
  const out = new Uint8Array(n);
  out.set(data);
  out[data.length] = 0x80;
  return out;
}

/** Single-DES CBC-MAC (ISO 9797-1 alg 1, padding 2), leftmost 4 bytes: the PBOC MAC1/MAC2/TAC. */
export function refDesMac(key8: Uint8Array, data: Uint8Array, iv: Uint8Array = new Uint8Array(8)): Uint8Array {
  const c = createCipheriv('des-ede3-cbc', single(key8), iv);
  c.setAutoPadding(false);
  const enc = Buffer.concat([c.update(refPad(data)), c.final()]);
  return u8(enc.subarray(enc.length - 8, enc.length - 4));
}

/** ISO 9797-1 alg 3 (retail MAC) with a 16-byte key, padding 2, leftmost 4 bytes. */
export function refRetailMac(key16: Uint8Array, data: Uint8Array, iv: Uint8Array = new Uint8Array(8)): Uint8Array {
  const c = createCipheriv('des-ede3-cbc', single(key16.subarray(0, 8)), iv);
  c.setAutoPadding(false);
  const enc = Buffer.concat([c.update(refPad(data)), c.final()]);
  const last = enc.subarray(enc.length - 8);
  const d = createDecipheriv('des-ede3-ecb', single(key16.subarray(8, 16)), null);
  d.setAutoPadding(false);
  const mid = Buffer.concat([d.update(last), d.final()]);
  const e = createCipheriv('des-ede3-ecb', single(key16.subarray(0, 8)), null);
  e.setAutoPadding(false);
  return u8(Buffer.concat([e.update(mid), e.final()]).subarray(0, 4));
}

/** PBOC diversification: 3DES(MK, D) ‖ 3DES(MK, NOT D). */
export function refDiversify(master: Uint8Array, d: Uint8Array): Uint8Array {
  const not = d.map((x) => ~x & 0xff);
  return new Uint8Array([...refTdesEcb(master, d), ...refTdesEcb(master, not)]);
}

/** TAC key: DTK left ⊕ right. */
export function refTacKey(dtk: Uint8Array): Uint8Array {
  return dtk.subarray(0, 8).map((x, i) => x ^ dtk[8 + i]!);
}

function be(value: number, length: number): number[] {
  const out: number[] = [];
  for (let i = length - 1; i >= 0; i--) out.push(Math.floor(value / 256 ** i) % 256);
  return out;
}

/** Big-endian bytes of a number. */
export function refBe(value: number, length: number): Uint8Array {
  return Uint8Array.from(be(value >>> 0, length));
}

/** SESPK = 3DES(DPK, random ‖ offline counter ‖ low 2 bytes of the terminal transaction sequence). */
export function refSespk(dpk: Uint8Array, random: Uint8Array, counter: number, seq: number): Uint8Array {
  return refTdesEcb(dpk, Uint8Array.from([...random, ...be(counter, 2), ...be(seq & 0xffff, 2)]));
}

/** SESLK = 3DES(DLK, random ‖ online counter ‖ 8000). */
export function refSeslk(dlk: Uint8Array, random: Uint8Array, counter: number): Uint8Array {
  return refTdesEcb(dlk, Uint8Array.from([...random, ...be(counter, 2), 0x80, 0x00]));
}

/** Concatenation helper for MAC inputs: numbers are `[value, length]` pairs. */
export function refJoin(...parts: Array<Uint8Array | readonly [number, number]>): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (p instanceof Uint8Array) out.push(...p);
    else out.push(...be(p[0] >>> 0, p[1]));
  }
  return Uint8Array.from(out);
}
