import { createCipheriv, createDecipheriv } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import iso9797 from '../../../test/vectors/iso9797-1-mac.json';
import { concat, fromHex, hex, toHex } from '../bytes';
import { ArgumentError } from '../errors';
import { adjustParity, DesCipher, desCbcDecrypt, desCbcEncrypt, desEcbDecrypt, desEcbEncrypt } from './des';

/** node:crypto reference. OpenSSL 3 has no single DES, but DES(K) = 3DES-EDE(K, K, K). */
function nodeDes(encrypt: boolean, key: Uint8Array, data: Uint8Array, iv?: Uint8Array): Uint8Array {
  const k = key.length === 8 ? concat(key, key, key) : key;
  const name = `${k.length === 16 ? 'des-ede' : 'des-ede3'}${iv ? '-cbc' : ''}`;
  const c = encrypt ? createCipheriv(name, k, iv ?? null) : createDecipheriv(name, k, iv ?? null);
  c.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(data), c.final()]));
}

const blocks = (min = 0, max = 6) =>
  fc.integer({ min, max }).chain((n) => fc.uint8Array({ minLength: 8 * n, maxLength: 8 * n }));
const key = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const iv8 = key(8);

describe('DesCipher known answers', () => {
  it('single DES: "Now is t" under 0123456789ABCDEF → 3FA40E8A984D4815 (FIPS 81 example)', () => {
    const c = new DesCipher(hex`0123456789ABCDEF`);
    expect(toHex(c.ecbEncrypt(hex`4E6F772069732074`))).toBe('3FA40E8A984D4815');
    expect(toHex(c.ecbDecrypt(hex`3FA40E8A984D4815`))).toBe('4E6F772069732074');
    expect(c.variant).toBe('DES');
  });

  const bac = iso9797.cases.find((c) => c.id === 'icao-bac-eifd-3des-cbc')!;
  it('2-key 3DES-CBC: ICAO 9303 BAC E_IFD (iso9797-1-mac.json icao-bac-eifd-3des-cbc)', () => {
    const c = new DesCipher(fromHex(bac.key));
    expect(c.variant).toBe('3DES-2KEY');
    expect(toHex(c.cbcEncrypt(fromHex(bac.data)))).toBe(bac.ciphertext);
    expect(toHex(c.cbcDecrypt(fromHex(bac.ciphertext!)))).toBe(bac.data);
    expect(toHex(desCbcEncrypt(fromHex(bac.key), fromHex(bac.data)))).toBe(bac.ciphertext);
  });

  it('a 2-key key equals the 3-key key K1 K2 K1', () => {
    const k = hex`0123456789ABCDEF FEDCBA9876543210`;
    const data = hex`00112233445566778899AABBCCDDEEFF`;
    expect(new DesCipher(concat(k, k.subarray(0, 8))).ecbEncrypt(data)).toEqual(new DesCipher(k).ecbEncrypt(data));
    expect(new DesCipher(concat(k, k.subarray(0, 8))).variant).toBe('3DES-3KEY');
  });

  it('encryptBlock/decryptBlock work at offsets and in place', () => {
    const c = new DesCipher(hex`0123456789ABCDEF`);
    const buf = hex`AA 4E6F772069732074 BB`;
    c.encryptBlock(buf, 1, buf, 1);
    expect(toHex(buf)).toBe('AA3FA40E8A984D4815BB');
    const out = new Uint8Array(10);
    c.decryptBlock(buf, 1, out, 2);
    expect(toHex(out)).toBe('00004E6F772069732074');
  });

  it('encryptWords works in place on big-endian words', () => {
    const c = new DesCipher(hex`0123456789ABCDEF`);
    const w = new Int32Array([0x4e6f7720, 0x69732074]);
    c.encryptWords(w);
    expect([w[0]! >>> 0, w[1]! >>> 0]).toEqual([0x3fa40e8a, 0x984d4815]);
    c.decryptWords(w);
    expect([w[0]! >>> 0, w[1]! >>> 0]).toEqual([0x4e6f7720, 0x69732074]);
  });

  it('does not depend on the caller mutating the key afterwards', () => {
    const k = hex`0123456789ABCDEF`;
    const c = new DesCipher(k);
    k.fill(0);
    expect(toHex(c.ecbEncrypt(hex`4E6F772069732074`))).toBe('3FA40E8A984D4815');
  });

  it('empty data gives empty output in every mode', () => {
    const c = new DesCipher(hex`0123456789ABCDEF`);
    expect(c.ecbEncrypt(new Uint8Array(0)).length).toBe(0);
    expect(c.cbcDecrypt(new Uint8Array(0)).length).toBe(0);
  });
});

describe('DesCipher agrees with node:crypto', () => {
  for (const [name, len] of [
    ['single DES (as 3DES K K K)', 8],
    ['2-key 3DES', 16],
    ['3-key 3DES', 24],
  ] as const) {
    it(`${name}: ECB encrypt/decrypt`, () => {
      fc.assert(
        fc.property(key(len), blocks(), (k, d) => {
          const c = new DesCipher(k);
          const ct = c.ecbEncrypt(d);
          expect(ct).toEqual(nodeDes(true, k, d));
          expect(c.ecbDecrypt(ct)).toEqual(d);
          expect(desEcbEncrypt(k, d)).toEqual(ct);
          expect(desEcbDecrypt(k, ct)).toEqual(d);
        }),
      );
    });

    it(`${name}: CBC encrypt/decrypt with random IV`, () => {
      fc.assert(
        fc.property(key(len), blocks(), iv8, (k, d, iv) => {
          const c = new DesCipher(k);
          const ct = c.cbcEncrypt(d, iv);
          expect(ct).toEqual(nodeDes(true, k, d, iv));
          expect(c.cbcDecrypt(ct, iv)).toEqual(d);
          expect(nodeDes(false, k, ct, iv)).toEqual(d);
          expect(desCbcEncrypt(k, d, iv)).toEqual(ct);
          expect(desCbcDecrypt(k, ct, iv)).toEqual(d);
        }),
      );
    });
  }

  it('CBC default IV is 00×8', () => {
    fc.assert(
      fc.property(key(16), blocks(1), (k, d) => {
        expect(new DesCipher(k).cbcEncrypt(d)).toEqual(nodeDes(true, k, d, new Uint8Array(8)));
      }),
    );
  });
});

describe('DesCipher argument checks', () => {
  it.each([0, 7, 9, 15, 17, 23, 25, 32])('rejects a %i-byte key with BAD_ARGUMENT', (n) => {
    expect(() => new DesCipher(new Uint8Array(n))).toThrow(ArgumentError);
    expect(() => desEcbEncrypt(new Uint8Array(n), new Uint8Array(8))).toThrow(ArgumentError);
  });

  it('rejects a non-Uint8Array key', () => {
    expect(() => new DesCipher('0123456789ABCDEF' as unknown as Uint8Array)).toThrow(ArgumentError);
  });

  it.each([1, 7, 9, 15])('rejects %i data bytes (not a multiple of 8) in every mode', (n) => {
    const c = new DesCipher(new Uint8Array(8));
    const d = new Uint8Array(n);
    for (const f of [() => c.ecbEncrypt(d), () => c.ecbDecrypt(d), () => c.cbcEncrypt(d), () => c.cbcDecrypt(d)]) {
      expect(f).toThrow(ArgumentError);
      expect(f).toThrow(/multiple of 8/);
    }
  });

  it('rejects an IV that is not 8 bytes', () => {
    const c = new DesCipher(new Uint8Array(16));
    expect(() => c.cbcEncrypt(new Uint8Array(8), new Uint8Array(16))).toThrow(ArgumentError);
    expect(() => c.cbcDecrypt(new Uint8Array(8), new Uint8Array(7))).toThrow(ArgumentError);
  });

  it('rejects block ranges outside the arrays', () => {
    const c = new DesCipher(new Uint8Array(8));
    const b = new Uint8Array(10);
    expect(() => c.encryptBlock(b, 3, b, 0)).toThrow(ArgumentError);
    expect(() => c.decryptBlock(b, 0, b, -1)).toThrow(ArgumentError);
    expect(() => c.encryptBlock(b, 0.5, b, 0)).toThrow(ArgumentError);
  });

  it('throws BAD_ARGUMENT when used after destroy()', () => {
    const c = new DesCipher(new Uint8Array(8));
    c.destroy();
    expect(() => c.ecbEncrypt(new Uint8Array(8))).toThrow(ArgumentError);
  });
});

describe('DesCipher never exposes its key', () => {
  it('toJSON, toString and String() redact', () => {
    const c = new DesCipher(hex`0123456789ABCDEF FEDCBA9876543210`);
    for (const s of [JSON.stringify({ c }), String(c), c.toJSON()]) {
      expect(s).toContain('redacted');
      expect(s.toUpperCase()).not.toContain('0123456789ABCDEF');
    }
  });
});

describe('adjustParity', () => {
  it('sets odd parity on every byte, keeping the upper 7 bits', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 24 }), (k) => {
        const p = adjustParity(k);
        expect(p).not.toBe(k);
        for (let i = 0; i < k.length; i++) {
          expect(p[i]! & 0xfe).toBe(k[i]! & 0xfe);
          let bits = 0;
          for (let v = p[i]!; v; v >>= 1) bits += v & 1;
          expect(bits % 2).toBe(1);
        }
      }),
    );
  });

  it('maps the GP default key 404142…4F to 404043…4F', () => {
    expect(toHex(adjustParity(hex`404142434445464748494A4B4C4D4E4F`))).toBe('404043434545464649494A4A4C4C4F4F');
  });
});
