import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import vectors from '../../../test/vectors/pboc-ep-mac.json';
import { concat, fromHex, hex, readU16, readU32, toHex } from '../bytes';
import { DesCipher, desEcbEncrypt } from '../crypto';
import { SimtapError } from '../errors';
import {
  diversifyPbocKey,
  diversifyPbocKeyTwoLevel,
  loadSessionKey,
  PbocKeyDiversifier,
  pbocExternalAuthCryptogram,
  purchaseSessionKey,
} from './keys';

type Case = Record<string, unknown>;
const byId = (id: string): Case => {
  const c = (vectors.cases as Case[]).find((x) => x.id === id);
  if (!c) throw new Error(`vector ${id} missing`);
  return c;
};
const b = (c: Case, key: string): Uint8Array => fromHex(c[key] as string);
const f = (c: Case, key: string): Uint8Array => fromHex((c.response_fields as Record<string, string>)[key]!);

function expectBadArgument(fn: () => unknown): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SimtapError);
  expect((err as SimtapError).code).toBe('BAD_ARGUMENT');
}

describe('session keys (pboc-ep-mac.json)', () => {
  describe('load-ed-blog', () => {
    const c = byId('load-ed-blog');
    it('session key input is random ‖ online counter ‖ 8000', () => {
      expect(toHex(concat(f(c, 'random'), f(c, 'online_counter'), hex`8000`))).toBe(c.session_key_input);
    });
    it('SESLK', () => {
      const key = loadSessionKey(b(c, 'load_key_DLK'), f(c, 'random'), readU16(f(c, 'online_counter'), 0));
      expect(toHex(key)).toBe(c.SESLK);
    });
  });

  describe('purchase-ep-blog', () => {
    const c = byId('purchase-ep-blog');
    const seq = readU32(b(c, 'terminal_txn_seq'), 0);
    it('session key input is random ‖ offline counter ‖ seq[2..3]', () => {
      expect(toHex(concat(f(c, 'random'), f(c, 'offline_counter'), b(c, 'terminal_txn_seq').subarray(2)))).toBe(
        c.session_key_input,
      );
    });
    it('SESPK', () => {
      const key = purchaseSessionKey(
        b(c, 'purchase_key_DPK'),
        f(c, 'random'),
        readU16(f(c, 'offline_counter'), 0),
        seq,
      );
      expect(toHex(key)).toBe(c.SESPK);
    });
    it('SESPK with a pre-keyed DesCipher', () => {
      const dpk = new DesCipher(b(c, 'purchase_key_DPK'));
      expect(toHex(purchaseSessionKey(dpk, f(c, 'random'), 0, seq))).toBe(c.SESPK);
    });
    it('only the two low bytes of the terminal sequence count', () => {
      const key = purchaseSessionKey(b(c, 'purchase_key_DPK'), f(c, 'random'), 0, 0xabcd0000 + seq);
      expect(toHex(key)).toBe(c.SESPK);
    });
  });

  describe('load-ep-dpj365-real-card', () => {
    const c = byId('load-ep-dpj365-real-card');
    it('session key input is random ‖ online counter ‖ 8000', () => {
      expect(toHex(concat(f(c, 'random'), f(c, 'online_counter'), hex`8000`))).toBe(c.session_key_input);
    });
    it('SESLK', () => {
      const key = loadSessionKey(b(c, 'load_key_DLK'), f(c, 'random'), readU16(f(c, 'online_counter'), 0));
      expect(toHex(key)).toBe(c.SESLK);
    });
    it('external authenticate cryptogram = 3DES-ECB(key, challenge)', () => {
      const crypt = pbocExternalAuthCryptogram(b(c, 'ext_auth_key'), b(c, 'get_challenge_response'));
      expect(toHex(crypt)).toBe(c.ext_auth_cryptogram);
      expect(toHex(desEcbEncrypt(b(c, 'ext_auth_key'), b(c, 'get_challenge_response')))).toBe(c.ext_auth_cryptogram);
    });
  });

  it('covers every case of the file', () => {
    expect((vectors.cases as Case[]).map((c) => c.id)).toEqual([
      'load-ed-blog',
      'purchase-ep-blog',
      'load-ep-dpj365-real-card',
    ]);
  });
});

describe('PBOC key diversification', () => {
  const mk = hex`0102030405060708090A0B0C0D0E0F10`;
  const d = hex`4401202600000001`;

  it('is 3DES-ECB(MK, D) ‖ 3DES-ECB(MK, NOT D)', () => {
    const notD = d.map((x) => ~x & 0xff);
    expect(toHex(diversifyPbocKey(mk, d))).toBe(toHex(desEcbEncrypt(mk, concat(d, notD))));
  });

  it('reproduces the reference profile DLK of card-1', () => {
    expect(toHex(diversifyPbocKey(mk, d))).toBe('46A9FF671B413373D70E52ECD62CD211');
  });

  it('the reusable diversifier equals the function form and leaves the input untouched', () => {
    const div = new PbocKeyDiversifier(mk);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 8, maxLength: 8 }), (data) => {
        const copy = data.slice();
        expect(toHex(div.diversify(data))).toBe(toHex(diversifyPbocKey(mk, data)));
        expect(data).toEqual(copy);
      }),
      { numRuns: 50 },
    );
  });

  it('two levels = diversify(diversify(MK, level1), level2)', () => {
    const city = hex`4401000000000000`;
    const expected = diversifyPbocKey(diversifyPbocKey(mk, city), d);
    expect(toHex(diversifyPbocKeyTwoLevel(mk, city, d))).toBe(toHex(expected));
    expect(toHex(expected)).not.toBe(toHex(diversifyPbocKey(mk, d)));
  });

  it('rejects bad lengths with BAD_ARGUMENT', () => {
    expectBadArgument(() => diversifyPbocKey(new Uint8Array(8), d));
    expectBadArgument(() => diversifyPbocKey(new Uint8Array(24), d));
    expectBadArgument(() => diversifyPbocKey(mk, new Uint8Array(10)));
    expectBadArgument(() => diversifyPbocKey(new DesCipher(new Uint8Array(8)), d));
    expectBadArgument(() => diversifyPbocKeyTwoLevel(mk, d, new Uint8Array(7)));
    expectBadArgument(() => new PbocKeyDiversifier('00' as unknown as Uint8Array));
  });
});

describe('session key argument checks', () => {
  const k = new Uint8Array(16);
  const r = new Uint8Array(4);
  it('rejects bad keys, randoms, counters and sequences', () => {
    expectBadArgument(() => loadSessionKey(new Uint8Array(8), r, 0));
    expectBadArgument(() => loadSessionKey(k, new Uint8Array(8), 0));
    expectBadArgument(() => loadSessionKey(k, r, 0x10000));
    expectBadArgument(() => loadSessionKey(k, r, -1));
    expectBadArgument(() => loadSessionKey(k, r, 1.5));
    expectBadArgument(() => purchaseSessionKey(k, r, 0, 2 ** 32));
    expectBadArgument(() => purchaseSessionKey(k, r, Number.NaN, 0));
    expectBadArgument(() => pbocExternalAuthCryptogram(k, new Uint8Array(4)));
  });
  it('accepts the counter bounds', () => {
    expect(loadSessionKey(k, r, 0xffff)).toHaveLength(8);
    expect(purchaseSessionKey(k, r, 0xffff, 0xffffffff)).toHaveLength(8);
  });
});

describe('PbocKeyDiversifier hygiene', () => {
  it('never shows the key; destroy() stops it but leaves a caller-owned DesCipher usable', () => {
    const mk = hex`0102030405060708090A0B0C0D0E0F10`;
    const own = new PbocKeyDiversifier(mk);
    expect(JSON.stringify(own)).toContain('redacted');
    own.destroy();
    expectBadArgument(() => own.diversify(new Uint8Array(8)));
    const cipher = new DesCipher(mk);
    const shared = new PbocKeyDiversifier(cipher);
    shared.destroy();
    expect(toHex(cipher.ecbEncrypt(new Uint8Array(8)))).toBe(toHex(desEcbEncrypt(mk, new Uint8Array(8))));
  });
});
