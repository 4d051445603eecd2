import { describe, expect, it } from 'vitest';
import vectors from '../../../test/vectors/gp-key-diversification.json';
import { fromHex, hex, toHex } from '../bytes';
import { kcvAes, kcvDes, kdfCounterCmac } from '../crypto';
import { SimtapError } from '../errors';
import {
  diversifyEmvCps,
  diversifyKdf3,
  diversifyStaticKeys,
  diversifyVisa2,
  type GpDiversificationMethod,
  type StaticKeys,
} from './diversification';

type KcvCase = {
  id: string;
  method: string;
  master: string;
  kdd: string;
  kcv: { ENC: string; MAC: string; DEK: string };
};
type ExternalCase = { id: string; method: string; master: string; kdd: string; derived_ENC_key: string };

const cases = vectors.cases as Array<KcvCase | ExternalCase>;
const kcvCases = cases.filter((c): c is KcvCase => 'kcv' in c);
const externalCases = cases.filter((c): c is ExternalCase => 'derived_ENC_key' in c);

const direct: Record<GpDiversificationMethod, (m: Uint8Array, k: Uint8Array) => StaticKeys> = {
  emv: diversifyEmvCps,
  visa2: diversifyVisa2,
  kdf3: diversifyKdf3,
};

function kcvOf(method: string, key: Uint8Array): string {
  return toHex(method === 'kdf3' ? kcvAes(key) : kcvDes(key));
}

describe('GP key diversification vectors (gp-key-diversification.json)', () => {
  it('covers every case of the file', () => {
    expect(kcvCases.length + externalCases.length).toBe(vectors.cases.length);
    expect(kcvCases.map((c) => c.id)).toEqual([
      'emv-scp02',
      'visa2-scp02',
      'kdf3-aes128',
      'kdf3-aes192',
      'kdf3-aes256',
    ]);
    expect(externalCases.map((c) => c.id)).toEqual(['kdf3-external']);
  });

  for (const c of kcvCases) {
    const method = c.method as GpDiversificationMethod;
    const master = fromHex(c.master);
    const kdd = fromHex(c.kdd);
    describe(c.id, () => {
      const keys = diversifyStaticKeys(method, master, kdd);
      it('ENC key KCV', () => expect(kcvOf(method, keys.enc)).toBe(c.kcv.ENC));
      it('MAC key KCV', () => expect(kcvOf(method, keys.mac)).toBe(c.kcv.MAC));
      it('DEK key KCV', () => expect(kcvOf(method, keys.dek)).toBe(c.kcv.DEK));
      it('derived keys have the expected length', () => {
        const len = method === 'kdf3' ? master.length : 16;
        expect([keys.enc.length, keys.mac.length, keys.dek.length]).toEqual([len, len, len]);
      });
      it('the dispatcher equals the direct function', () => {
        expect(direct[method](master, kdd)).toEqual(keys);
      });
    });
  }

  for (const c of externalCases) {
    it(`${c.id}: derived ENC key`, () => {
      const keys = diversifyStaticKeys(c.method as GpDiversificationMethod, fromHex(c.master), fromHex(c.kdd));
      expect(toHex(keys.enc)).toBe(c.derived_ENC_key);
    });
  }
});

describe('diversifyKdf3', () => {
  it('agrees with the generic SP 800-108 counter KDF for every key length and type', () => {
    const kdd = hex`D9 B1 DE 5D 03 62 DE DC E4 FB`;
    for (const len of [16, 24, 32]) {
      const master = Uint8Array.from({ length: len }, (_, i) => (i * 37 + 5) & 0xff);
      const keys = diversifyKdf3(master, kdd);
      [keys.enc, keys.mac, keys.dek].forEach((key, n) => {
        const fixed = new Uint8Array(16 - 1);
        fixed[3] = n + 1;
        fixed.set(kdd, 5);
        expect(toHex(key)).toBe(toHex(kdfCounterCmac(master, fixed, len * 8)));
      });
    }
  });

  it('gives different keys for different KDDs', () => {
    const master = hex`404142434445464748494A4B4C4D4E4F`;
    const a = diversifyKdf3(master, hex`00010203040506070809`);
    const b = diversifyKdf3(master, hex`00010203040506070808`);
    expect(toHex(a.enc)).not.toBe(toHex(b.enc));
  });
});

describe('EMV CPS vs VISA2', () => {
  it('use different KDD bytes: EMV ignores KDD[0:4], VISA2 ignores KDD[2:4] and KDD[8:10]', () => {
    const master = hex`404142434445464748494A4B4C4D4E4F`;
    const kdd = hex`00010203040506070809`;
    const emv = diversifyEmvCps(master, kdd);
    expect(diversifyEmvCps(master, hex`FFFFFFFF040506070809`)).toEqual(emv);
    expect(toHex(diversifyEmvCps(master, hex`00010203040506070800`).enc)).not.toBe(toHex(emv.enc));
    const visa = diversifyVisa2(master, kdd);
    expect(diversifyVisa2(master, hex`0001FFFF04050607FFFF`)).toEqual(visa);
    expect(toHex(diversifyVisa2(master, hex`01010203040506070809`).enc)).not.toBe(toHex(visa.enc));
  });
});

describe('argument checks', () => {
  const kdd = hex`00010203040506070809`;
  const bad: Array<[string, () => unknown]> = [
    ['EMV with a 24-byte master', () => diversifyEmvCps(new Uint8Array(24), kdd)],
    ['VISA2 with an 8-byte master', () => diversifyVisa2(new Uint8Array(8), kdd)],
    ['KDF3 with a 20-byte master', () => diversifyKdf3(new Uint8Array(20), kdd)],
    ['a 9-byte KDD', () => diversifyKdf3(new Uint8Array(16), new Uint8Array(9))],
    ['a string KDD', () => diversifyEmvCps(new Uint8Array(16), '00010203040506070809' as unknown as Uint8Array)],
    [
      'an unknown method',
      () => diversifyStaticKeys('scp99' as unknown as GpDiversificationMethod, new Uint8Array(16), kdd),
    ],
  ];
  for (const [name, fn] of bad) {
    it(`rejects ${name} with BAD_ARGUMENT`, () => {
      expect(fn).toThrow(SimtapError);
      try {
        fn();
      } catch (e) {
        expect((e as SimtapError).code).toBe('BAD_ARGUMENT');
      }
    });
  }
});
