import { createCipheriv } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import vectors from '../../../test/vectors/aes-cmac.json';
import { fromHex, toHex } from '../bytes';
import { ArgumentError } from '../errors';
import { AesCmac, aesCmac } from './cmac';

/** Independent CMAC (SP 800-38B) from node:crypto's AES-ECB/CBC and BigInt doubling. */
function refCmac(key: Uint8Array, msg: Uint8Array): Uint8Array {
  const aes = (mode: 'ecb' | 'cbc', data: Uint8Array) => {
    const c = createCipheriv(`aes-${key.length * 8}-${mode}`, key, mode === 'cbc' ? Buffer.alloc(16) : null);
    c.setAutoPadding(false);
    return new Uint8Array(Buffer.concat([c.update(data), c.final()]));
  };
  const mask = (1n << 128n) - 1n;
  const toBig = (b: Uint8Array) => BigInt(`0x${toHex(b) || '0'}`);
  const fromBig = (x: bigint) => fromHex(x.toString(16).padStart(32, '0'));
  const dbl = (x: bigint) => ((x << 1n) & mask) ^ (x >> 127n ? 0x87n : 0n);
  const k1 = dbl(toBig(aes('ecb', new Uint8Array(16))));
  const k2 = dbl(k1);
  const n = Math.max(1, Math.ceil(msg.length / 16));
  const complete = msg.length > 0 && msg.length % 16 === 0;
  const last = new Uint8Array(16);
  last.set(msg.subarray((n - 1) * 16));
  if (!complete) last[msg.length - (n - 1) * 16] = 0x80;
  const padded = new Uint8Array(n * 16);
  padded.set(msg.subarray(0, (n - 1) * 16));
  padded.set(fromBig(toBig(last) ^ (complete ? k1 : k2)), (n - 1) * 16);
  return aes('cbc', padded).subarray(-16);
}

const prefix = fromHex(vectors.message_prefix_hex);

describe('AES-CMAC vectors (aes-cmac.json)', () => {
  it('covers every case of the file', () => {
    expect(vectors.cases).toHaveLength(13);
    expect(vectors.subkeys).toHaveLength(3);
  });

  it.each(vectors.cases)('$id (msg_len $msg_len)', (c) => {
    const msg = prefix.subarray(0, c.msg_len);
    expect(msg.length).toBe(c.msg_len);
    expect(toHex(new AesCmac(fromHex(c.key)).mac(msg))).toBe(c.mac.toUpperCase());
    expect(toHex(aesCmac(fromHex(c.key), msg))).toBe(c.mac.toUpperCase());
    expect(toHex(refCmac(fromHex(c.key), msg))).toBe(c.mac.toUpperCase()); // the reference itself is sound
  });

  it.each(vectors.subkeys.map((s) => ({ ...s, bits: (s.key.length / 2) * 8 })))(
    'subkeys K1/K2 of AES-$bits key',
    (s) => {
      const { k1, k2 } = new AesCmac(fromHex(s.key)).subkeys();
      expect(toHex(k1)).toBe(s.K1.toUpperCase());
      expect(toHex(k2)).toBe(s.K2.toUpperCase());
    },
  );
});

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const anyKey = fc.constantFrom(16, 24, 32).chain(bytes);

describe('AesCmac agrees with a node:crypto reference', () => {
  it('random key and message (0..80 bytes)', () => {
    fc.assert(
      fc.property(anyKey, fc.uint8Array({ maxLength: 80 }), (k, m) => {
        const ref = refCmac(k, m);
        expect(new AesCmac(k).mac(m)).toEqual(ref);
        expect(aesCmac(k, m)).toEqual(ref);
      }),
    );
  });

  it('one AesCmac gives the same answers across many messages (no state leaks between calls)', () => {
    fc.assert(
      fc.property(anyKey, fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 6 }), (k, msgs) => {
        const c = new AesCmac(k);
        for (const m of msgs) expect(c.mac(m)).toEqual(refCmac(k, m));
      }),
    );
  });

  it('macParts equals mac of the concatenation', () => {
    fc.assert(
      fc.property(anyKey, fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 5 }), (k, parts) => {
        const c = new AesCmac(k);
        const whole = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let o = 0;
        for (const p of parts) {
          whole.set(p, o);
          o += p.length;
        }
        expect(c.macParts(parts)).toEqual(c.mac(whole));
      }),
    );
  });

  it('macInto writes 16 bytes at the offset and nothing else', () => {
    const k = fromHex('2b7e151628aed2a6abf7158809cf4f3c');
    const out = new Uint8Array(20).fill(0xee);
    new AesCmac(k).macInto(prefix.subarray(0, 16), out, 2);
    expect(toHex(out)).toBe(`EEEE070A16B46B4D4144F79BDD9DD04A287CEEEE`);
  });
});

describe('AesCmac argument checks', () => {
  it.each([0, 8, 15, 17, 33])('rejects a %i-byte key', (n) => {
    expect(() => new AesCmac(new Uint8Array(n))).toThrow(ArgumentError);
    expect(() => aesCmac(new Uint8Array(n), new Uint8Array(0))).toThrow(ArgumentError);
  });

  it('rejects a non-bytes message, a short output and use after destroy()', () => {
    const c = new AesCmac(new Uint8Array(16));
    expect(() => c.mac('00' as unknown as Uint8Array)).toThrow(ArgumentError);
    expect(() => c.macInto(new Uint8Array(1), new Uint8Array(16), 1)).toThrow(ArgumentError);
    c.destroy();
    expect(() => c.mac(new Uint8Array(1))).toThrow(ArgumentError);
    expect(() => c.macParts([new Uint8Array(1)])).toThrow(ArgumentError);
  });

  it('redacts the key', () => {
    const k = fromHex('2b7e151628aed2a6abf7158809cf4f3c');
    expect(JSON.stringify(new AesCmac(k))).toContain('redacted');
  });
});
