/**
 * The function forms (`aesEcbEncrypt(key, …)`, `desCbcEncrypt`, `aesCmac`, `macAlg1`, `macAlg3`, `scp03Derive`,
 * `kdfCounterCmac`) keep no key material: each call expands its key into an object of its own and destroys it
 * before returning, also when it throws. There is no module-level key cache to wipe.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { hex } from '../bytes';
import { ArgumentError } from '../errors';
import * as crypto from './index';
import { AesCipher, AesCmac, DesCbcMac, DesCipher, RetailMac } from './index';

const K16 = hex`2B7E151628AED2A6ABF7158809CF4F3C`;
const K8 = hex`0123456789ABCDEF`;

afterEach(() => {
  vi.restoreAllMocks();
});

/** Spies on `destroy` of `cls`; the objects it was called on. */
function destroyed<T extends object>(cls: { prototype: T & { destroy(): void } }): () => T[] {
  const spy = vi.spyOn(cls.prototype, 'destroy');
  return () => spy.mock.contexts as T[];
}

describe('function forms build, use and destroy a keyed object per call', () => {
  const cases: Array<{
    name: string;
    cls: { prototype: { destroy(): void } };
    call: () => unknown;
    bad: () => unknown;
    reuse: (o: never) => unknown;
  }> = [
    {
      name: 'aesEcbEncrypt / aesCbcDecrypt',
      cls: AesCipher,
      call: () => [crypto.aesEcbEncrypt(K16, new Uint8Array(16)), crypto.aesCbcDecrypt(K16, new Uint8Array(32))],
      bad: () => crypto.aesEcbDecrypt(K16, new Uint8Array(15)),
      reuse: (c: AesCipher) => c.ecbEncrypt(new Uint8Array(16)),
    },
    {
      name: 'desEcbEncrypt / desCbcDecrypt',
      cls: DesCipher,
      call: () => [crypto.desEcbEncrypt(K16, new Uint8Array(8)), crypto.desCbcDecrypt(K8, new Uint8Array(16))],
      bad: () => crypto.desCbcEncrypt(K16, new Uint8Array(7)),
      reuse: (c: DesCipher) => c.ecbEncrypt(new Uint8Array(8)),
    },
    {
      name: 'aesCmac',
      cls: AesCmac,
      call: () => [crypto.aesCmac(K16, new Uint8Array(3)), crypto.aesCmac(K16, new Uint8Array(40))],
      bad: () => crypto.aesCmac(K16, 'not bytes' as unknown as Uint8Array),
      reuse: (m: AesCmac) => m.mac(new Uint8Array(1)),
    },
    {
      name: 'macAlg1',
      cls: DesCbcMac,
      call: () => [crypto.macAlg1(K8, new Uint8Array(5)), crypto.macAlg1(K16, new Uint8Array(9))],
      bad: () => crypto.macAlg1(K8, new Uint8Array(5), { iv: new Uint8Array(7) }),
      reuse: (m: DesCbcMac) => m.mac(new Uint8Array(1)),
    },
    {
      name: 'macAlg3',
      cls: RetailMac,
      call: () => [crypto.macAlg3(K16, new Uint8Array(5)), crypto.macAlg3(K16, new Uint8Array(17), { iv: K8 })],
      bad: () => crypto.macAlg3(K16, new Uint8Array(5), { iv: new Uint8Array(9) }),
      reuse: (m: RetailMac) => m.mac(new Uint8Array(1)),
    },
    {
      name: 'scp03Derive / kdfCounterCmac with key bytes',
      cls: AesCmac,
      call: () => [crypto.scp03Derive(K16, 0x06, new Uint8Array(16), 128), crypto.kdfCounterCmac(K16, K8, 256)],
      bad: () => crypto.kdfCounterCmac(K16, K8, 256 * 128, { counterBytes: 1 }),
      reuse: (m: AesCmac) => m.mac(new Uint8Array(1)),
    },
  ];

  for (const c of cases) {
    it(`${c.name}: one object per call, destroyed before the call returns, unusable afterwards`, () => {
      const objects = destroyed(c.cls);
      c.call();
      const seen = objects();
      expect(seen).toHaveLength(2);
      expect(seen[0]).not.toBe(seen[1]);
      for (const o of seen) expect(() => c.reuse(o as never)).toThrow(ArgumentError);
    });

    it(`${c.name}: destroyed when the call throws`, () => {
      const objects = destroyed(c.cls);
      expect(c.bad).toThrow(ArgumentError);
      expect(objects()).toHaveLength(1);
    });
  }

  it('the KDFs leave a held AesCmac to its owner', () => {
    const prf = new AesCmac(K16);
    const objects = destroyed(AesCmac);
    const a = crypto.scp03Derive(prf, 0x06, new Uint8Array(16), 128);
    const b = crypto.kdfCounterCmac(prf, K8, 128);
    expect(objects()).toHaveLength(0);
    expect(a).toEqual(crypto.scp03Derive(K16, 0x06, new Uint8Array(16), 128));
    expect(b).toEqual(crypto.kdfCounterCmac(K16, K8, 128));
    prf.destroy();
    expect(() => crypto.scp03Derive(prf, 0x06, new Uint8Array(16), 128)).toThrow(ArgumentError);
  });
});

describe('what destroy() leaves of the schedule', () => {
  it('AES: every round-key word of the expanded schedules is zeroed', () => {
    const fill = vi.spyOn(Uint32Array.prototype, 'fill');
    crypto.aesCbcDecrypt(K16, new Uint8Array(16)); // encryption and decryption schedules
    const wiped = fill.mock.contexts.filter((a): a is Uint32Array => a instanceof Uint32Array && a.length === 44);
    expect(wiped.length).toBeGreaterThanOrEqual(2);
    for (const xk of wiped) expect(xk.every((w) => w === 0)).toBe(true);
  });

  it('DES: the 16 (DES) or 48 (3DES) subkey pairs are zeroed', () => {
    const fill = vi.spyOn(Array.prototype, 'fill');
    crypto.desEcbEncrypt(K16, new Uint8Array(8));
    crypto.macAlg1(K8, new Uint8Array(8));
    const wiped = fill.mock.contexts.filter(
      (a): a is number[] => Array.isArray(a) && (a.length === 96 || a.length === 32),
    );
    expect(wiped.map((a) => a.length).sort()).toEqual([32, 96]);
    for (const keys of wiped) expect(keys.every((w) => w === 0)).toBe(true);
  });

  it('the module exports no key cache', () => {
    expect(Object.keys(crypto).filter((k) => /cache/i.test(k))).toEqual([]);
  });
});
