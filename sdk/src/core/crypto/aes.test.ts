import { createCipheriv, createDecipheriv } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hex, toHex } from '../bytes';
import { ArgumentError } from '../errors';
import { AesCipher, aesCbcDecrypt, aesCbcEncrypt, aesEcbDecrypt, aesEcbEncrypt } from './aes';

function nodeAes(encrypt: boolean, key: Uint8Array, data: Uint8Array, iv?: Uint8Array): Uint8Array {
  const name = `aes-${key.length * 8}-${iv ? 'cbc' : 'ecb'}`;
  const c = encrypt ? createCipheriv(name, key, iv ?? null) : createDecipheriv(name, key, iv ?? null);
  c.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(data), c.final()]));
}

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const blocks = fc.integer({ min: 0, max: 5 }).chain((n) => bytes(16 * n));
const anyKey = fc.constantFrom(16, 24, 32).chain(bytes);

describe('AesCipher known answers (FIPS 197 appendix C)', () => {
  const pt = hex`00112233445566778899AABBCCDDEEFF`;
  it.each([
    ['AES-128', '000102030405060708090A0B0C0D0E0F', '69C4E0D86A7B0430D8CDB78070B4C55A'],
    ['AES-192', '000102030405060708090A0B0C0D0E0F1011121314151617', 'DDA97CA4864CDFE06EAF70A0EC0D7191'],
    ['AES-256', '000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F', '8EA2B7CA516745BFEAFC49904B496089'],
  ])('%s', (_name, k, ct) => {
    const c = new AesCipher(hex`${k}`);
    expect(toHex(c.ecbEncrypt(pt))).toBe(ct);
    expect(toHex(c.ecbDecrypt(hex`${ct}`))).toBe(toHex(pt));
    const buf = new Uint8Array(18);
    c.encryptBlock(pt, 0, buf, 1);
    expect(toHex(buf.subarray(1, 17))).toBe(ct);
    c.decryptBlock(buf, 1, buf, 1);
    expect(toHex(buf.subarray(1, 17))).toBe(toHex(pt));
  });
});

describe('AesCipher agrees with node:crypto', () => {
  it('ECB encrypt/decrypt (128/192/256)', () => {
    fc.assert(
      fc.property(anyKey, blocks, (k, d) => {
        const c = new AesCipher(k);
        const ct = c.ecbEncrypt(d);
        expect(ct).toEqual(nodeAes(true, k, d));
        expect(c.ecbDecrypt(ct)).toEqual(d);
        expect(aesEcbEncrypt(k, d)).toEqual(ct);
        expect(aesEcbDecrypt(k, ct)).toEqual(d);
      }),
    );
  });

  it('CBC encrypt/decrypt with random IV (128/192/256)', () => {
    fc.assert(
      fc.property(anyKey, blocks, bytes(16), (k, d, iv) => {
        const c = new AesCipher(k);
        const ct = c.cbcEncrypt(d, iv);
        expect(ct).toEqual(nodeAes(true, k, d, iv));
        expect(c.cbcDecrypt(ct, iv)).toEqual(d);
        expect(nodeAes(false, k, ct, iv)).toEqual(d);
        expect(aesCbcEncrypt(k, d, iv)).toEqual(ct);
        expect(aesCbcDecrypt(k, ct, iv)).toEqual(d);
      }),
    );
  });

  it('CBC default IV is 00×16', () => {
    fc.assert(
      fc.property(anyKey, blocks, (k, d) => {
        expect(new AesCipher(k).cbcEncrypt(d)).toEqual(nodeAes(true, k, d, new Uint8Array(16)));
      }),
    );
  });

  it('reads unaligned subarray inputs correctly', () => {
    const k = hex`2B7E151628AED2A6ABF7158809CF4F3C`;
    const backing = new Uint8Array(37);
    backing.set(hex`6BC1BEE22E409F96E93D7E117393172A AE2D8A571E03AC9C9EB76FAC45AF8E51`, 3);
    const view = backing.subarray(3, 35);
    expect(new AesCipher(k).ecbEncrypt(view)).toEqual(nodeAes(true, k, view));
  });
});

describe('AesCipher argument checks', () => {
  it.each([0, 8, 15, 17, 20, 31, 33])('rejects a %i-byte key with BAD_ARGUMENT', (n) => {
    expect(() => new AesCipher(new Uint8Array(n))).toThrow(ArgumentError);
    expect(() => aesEcbEncrypt(new Uint8Array(n), new Uint8Array(16))).toThrow(ArgumentError);
  });

  it.each([1, 8, 15, 17, 31])('rejects %i data bytes (not a multiple of 16) in every mode', (n) => {
    const c = new AesCipher(new Uint8Array(16));
    const d = new Uint8Array(n);
    for (const f of [() => c.ecbEncrypt(d), () => c.ecbDecrypt(d), () => c.cbcEncrypt(d), () => c.cbcDecrypt(d)])
      expect(f).toThrow(/multiple of 16/);
  });

  it('rejects an IV that is not 16 bytes and out-of-range blocks', () => {
    const c = new AesCipher(new Uint8Array(16));
    expect(() => c.cbcEncrypt(new Uint8Array(16), new Uint8Array(8))).toThrow(ArgumentError);
    expect(() => c.encryptBlock(new Uint8Array(16), 1, new Uint8Array(16), 0)).toThrow(ArgumentError);
    expect(() => c.decryptBlock(new Uint8Array(16), 0, new Uint8Array(15), 0)).toThrow(ArgumentError);
  });

  it('throws BAD_ARGUMENT when used after destroy(), for both directions', () => {
    const c = new AesCipher(new Uint8Array(16));
    c.destroy();
    expect(() => c.ecbEncrypt(new Uint8Array(16))).toThrow(ArgumentError);
    expect(() => c.ecbDecrypt(new Uint8Array(16))).toThrow(ArgumentError);
    const d = new AesCipher(new Uint8Array(16));
    d.ecbDecrypt(new Uint8Array(16));
    d.destroy();
    expect(() => d.cbcDecrypt(new Uint8Array(16))).toThrow(ArgumentError);
  });

  it('redacts the key in JSON and strings', () => {
    const c = new AesCipher(hex`2B7E151628AED2A6ABF7158809CF4F3C`);
    expect(JSON.stringify(c)).toContain('redacted');
    expect(String(c).toUpperCase()).not.toContain('2B7E15');
  });
});
