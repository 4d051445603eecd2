import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import scp03 from '../../../test/vectors/gp-scp03.json';
import vectors from '../../../test/vectors/nist-sp800-108-kdf-ctr-cmac.json';
import { concat, fromHex, hex, toHex } from '../bytes';
import { ArgumentError } from '../errors';
import { aesCmac } from './cmac';
import { kdfCounterCmac, SCP03_DERIVATION, scp03Derive } from './kdf';

describe('SP 800-108 counter mode, PRF AES-CMAC (nist-sp800-108-kdf-ctr-cmac.json)', () => {
  it('covers all 120 CAVP cases', () => {
    expect(vectors.cases).toHaveLength(120);
  });

  it.each(vectors.cases)('$prf COUNT=$count L=$L_bits', (c) => {
    const ko = kdfCounterCmac(fromHex(c.KI), fromHex(c.FixedInputData), c.L_bits);
    expect(toHex(ko)).toBe(c.KO.toUpperCase());
  });
});

describe('kdfCounterCmac options and limits', () => {
  const ki = hex`000102030405060708090A0B0C0D0E0F`;
  const fixed = hex`AABBCC`;

  it('wider counters are big-endian and placed before the fixed input', () => {
    for (const r of [1, 2, 4] as const) {
      const out = kdfCounterCmac(ki, fixed, 384, { counterBytes: r, counterLocation: 'before' });
      const expected = concat(
        ...[1, 2, 3].map((i) => {
          const ctr = new Uint8Array(r);
          ctr[r - 1] = i;
          return aesCmac(ki, concat(ctr, fixed));
        }),
      );
      expect(out).toEqual(expected);
    }
  });

  it('keeps the leftmost L bits when L is not a multiple of 8 or 128', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), (l) => {
        const full = kdfCounterCmac(ki, fixed, 384);
        const out = kdfCounterCmac(ki, fixed, l);
        expect(out).toHaveLength(Math.ceil(l / 8));
        const spare = out.length * 8 - l;
        expect(toHex(out.subarray(0, out.length - 1))).toBe(toHex(full.subarray(0, out.length - 1)));
        expect(out[out.length - 1]).toBe(full[out.length - 1]! & ((0xff << spare) & 0xff));
      }),
    );
  });

  it('rejects bad L, counter widths, locations, keys and counter overflow', () => {
    expect(() => kdfCounterCmac(ki, fixed, 0)).toThrow(ArgumentError);
    expect(() => kdfCounterCmac(ki, fixed, 1.5)).toThrow(ArgumentError);
    expect(() => kdfCounterCmac(ki, fixed, 128, { counterBytes: 3 as 1 })).toThrow(ArgumentError);
    expect(() => kdfCounterCmac(ki, fixed, 128, { counterLocation: 'after' as 'before' })).toThrow(ArgumentError);
    expect(() => kdfCounterCmac(new Uint8Array(8), fixed, 128)).toThrow(ArgumentError);
    expect(() => kdfCounterCmac(ki, fixed, 256 * 128)).toThrow(/counter/);
    expect(kdfCounterCmac(ki, fixed, 256 * 128, { counterBytes: 2 })).toHaveLength(4096);
  });
});

type Session = (typeof scp03.cases)[number] & {
  keys: { enc: string; mac: string };
  initialize_update_cmd: string;
  rsp_fields: { card_challenge: string; card_cryptogram: string };
  external_authenticate_cmd: string;
  helper_derived: { 'S-ENC': string; 'S-MAC': string; 'S-RMAC': string };
};
const sessions = scp03.cases.filter((c): c is Session => 'helper_derived' in c);

describe('SCP03 derivation (gp-scp03.json)', () => {
  it('covers the nine pySim sessions', () => {
    expect(sessions).toHaveLength(9);
  });

  it.each(sessions)('$id: session keys, card and host cryptograms', (s) => {
    const enc = fromHex(s.keys.enc);
    const mac = fromHex(s.keys.mac);
    const host = fromHex(s.initialize_update_cmd).subarray(5, 13);
    const ctx = concat(host, fromHex(s.rsp_fields.card_challenge));
    const bits = enc.length * 8;
    const sEnc = scp03Derive(enc, SCP03_DERIVATION.S_ENC, ctx, bits);
    const sMac = scp03Derive(mac, SCP03_DERIVATION.S_MAC, ctx, bits);
    const sRmac = scp03Derive(mac, SCP03_DERIVATION.S_RMAC, ctx, bits);
    expect(toHex(sEnc)).toBe(s.helper_derived['S-ENC'].toUpperCase());
    expect(toHex(sMac)).toBe(s.helper_derived['S-MAC'].toUpperCase());
    expect(toHex(sRmac)).toBe(s.helper_derived['S-RMAC'].toUpperCase());
    expect(toHex(scp03Derive(sMac, SCP03_DERIVATION.CARD_CRYPTOGRAM, ctx, 64))).toBe(
      s.rsp_fields.card_cryptogram.toUpperCase(),
    );
    const extAuth = fromHex(s.external_authenticate_cmd);
    expect(toHex(scp03Derive(sMac, SCP03_DERIVATION.HOST_CRYPTOGRAM, ctx, 64))).toBe(toHex(extAuth.subarray(5, 13)));
  });

  it('is kdfCounterCmac with the GP fixed-input layout split around the counter', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(16, 24, 32).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
        fc.integer({ min: 0, max: 255 }),
        fc.uint8Array({ maxLength: 40 }),
        fc.constantFrom(64, 128, 192, 256),
        (key, constant, ctx, l) => {
          const label = new Uint8Array(16);
          label[11] = constant;
          label[13] = l >> 8;
          label[14] = l & 0xff;
          const blocks = Math.ceil(l / 128);
          const ref = concat(
            ...Array.from({ length: blocks }, (_, i) =>
              aesCmac(key, concat(label.subarray(0, 15), hex`0${i + 1}`, ctx)),
            ),
          ).subarray(0, l / 8);
          expect(scp03Derive(key, constant, ctx, l)).toEqual(ref);
        },
      ),
    );
  });

  it('rejects a bad constant, L and key', () => {
    const k = new Uint8Array(16);
    expect(() => scp03Derive(k, 256, new Uint8Array(0), 64)).toThrow(ArgumentError);
    expect(() => scp03Derive(k, 0, new Uint8Array(0), 60)).toThrow(ArgumentError);
    expect(() => scp03Derive(k, 0, new Uint8Array(0), 0)).toThrow(ArgumentError);
    expect(() => scp03Derive(new Uint8Array(15), 0, new Uint8Array(0), 64)).toThrow(ArgumentError);
  });
});
