import { createCipheriv } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import scp02 from '../../../test/vectors/gp-scp02.json';
import vectors from '../../../test/vectors/iso9797-1-mac.json';
import { concat, fromHex, hex, toHex, xor } from '../bytes';
import { ArgumentError } from '../errors';
import { desCbcEncrypt, desEcbEncrypt } from './des';
import { DesCbcMac, macAlg1, macAlg3, RetailMac } from './iso9797';
import { padIso9797 } from './padding';

type MacCase = {
  id: string;
  alg: number;
  key: string;
  data: string;
  padding: number;
  mac?: string;
  mac_left4?: string;
};
const macCases = vectors.cases.filter((c): c is typeof c & MacCase => 'alg' in c);

describe('ISO/IEC 9797-1 vectors (iso9797-1-mac.json)', () => {
  it('covers every MAC case of the file (the remaining one is a 3DES-CBC case, tested in des.test.ts)', () => {
    expect(macCases).toHaveLength(14);
    expect(vectors.cases.filter((c) => !('alg' in c)).map((c) => c.id)).toEqual(['icao-bac-eifd-3des-cbc']);
  });

  it.each(macCases.filter((c) => c.alg === 1))('$id: algorithm 1, padding $padding', (c) => {
    const key = fromHex(c.key);
    const data = fromHex(c.data);
    const p = c.padding as 1 | 2 | 3;
    const mac = macAlg1(key, data, { padding: p });
    expect(mac).toHaveLength(8);
    expect(toHex(mac.subarray(0, 4))).toBe(c.mac_left4);
    expect(new DesCbcMac(key, { padding: p }).mac(data)).toEqual(mac);
  });

  it.each(macCases.filter((c) => c.alg === 3))('$id: algorithm 3, padding $padding', (c) => {
    const key = fromHex(c.key);
    const data = fromHex(c.data);
    const p = c.padding as 1 | 2 | 3;
    expect(toHex(macAlg3(key, data, { padding: p }))).toBe(c.mac);
    expect(toHex(new RetailMac(key, { padding: p }).mac(data))).toBe(c.mac);
  });
});

describe('SCP02 MACs (gp-scp02.json)', () => {
  const session = scp02.cases.find((c) => c.id === 'pysim-scp02-session')!;
  const keys = session.keys!;
  const f = session.rsp_fields!;
  const derived = session.helper_derived!;
  const seq = fromHex(f.seq_counter);
  const sessionKey = (k: string, constant: string) =>
    desCbcEncrypt(fromHex(k), concat(hex`${constant}`, seq, new Uint8Array(12)));
  const sEnc = sessionKey(keys.enc, '0182');
  const sMac = sessionKey(keys.mac, '0101');
  const host = fromHex(session.host_challenge!);
  const card = fromHex(f.card_challenge);

  it('pysim session: session keys, card and host cryptograms (alg 1, full 3DES, padding 2)', () => {
    expect(toHex(sEnc)).toBe(derived['S-ENC'].toUpperCase());
    expect(toHex(sMac)).toBe(derived['S-MAC'].toUpperCase());
    const mac = new DesCbcMac(sEnc);
    expect(toHex(mac.mac(concat(host, seq, card)))).toBe(f.card_cryptogram);
    expect(toHex(mac.mac(concat(seq, card, host)))).toBe(derived.host_cryptogram.toUpperCase());
  });

  it('pysim session: EXTERNAL AUTHENTICATE and four chained C-MACs (alg 3, ICV = DES(S-MAC[0:8], prev))', () => {
    const cmac = new RetailMac(sMac);
    const extAuth = fromHex(session.external_authenticate_cmd!);
    let prev = cmac.mac(extAuth.subarray(0, 13));
    expect(toHex(prev)).toBe(toHex(extAuth.subarray(13)));
    for (const w of session.wrapped_commands_in_order!) {
      const plain = fromHex(w.plain);
      const wrapped = fromHex(w.wrapped);
      const lc = plain.length > 5 ? plain[4]! : 0;
      const data = plain.subarray(5, 5 + lc);
      const header = hex`${(plain[0]! | 0x04).toString(16)} ${toHex(plain.subarray(1, 4))} ${(lc + 8).toString(16).padStart(2, '0')}`;
      const icv = desEcbEncrypt(sMac.subarray(0, 8), prev);
      const out = new Uint8Array(8);
      cmac.macInto(concat(header, data), out, 0, icv);
      expect(toHex(out)).toBe(toHex(wrapped.subarray(5 + lc, 13 + lc)));
      expect(macAlg3(sMac, concat(header, data), { iv: icv })).toEqual(out);
      prev = out;
    }
  });

  it('real card INITIALIZE UPDATE: card cryptogram with the default keys', () => {
    const real = scp02.cases.find((c) => c.id === 'csdn-real-card-init-update')!;
    const rf = real.rsp_fields!;
    const enc = desCbcEncrypt(fromHex(real.keys!.enc), concat(hex`0182`, fromHex(rf.seq_counter), new Uint8Array(12)));
    const cc = macAlg1(enc, concat(fromHex(real.host_challenge!), fromHex(rf.seq_counter), fromHex(rf.card_challenge)));
    expect(toHex(cc)).toBe(rf.card_cryptogram);
  });
});

// ---------------------------------------------------------------- properties against node:crypto

function nodeLastCbcBlock(key: Uint8Array, data: Uint8Array, iv: Uint8Array): Uint8Array {
  const k = key.length === 8 ? concat(key, key, key) : key;
  const c = createCipheriv(k.length === 16 ? 'des-ede-cbc' : 'des-ede3-cbc', k, iv);
  c.setAutoPadding(false);
  const ct = Buffer.concat([c.update(data), c.final()]);
  return new Uint8Array(ct.subarray(ct.length - 8));
}

function nodeRetailMac(key: Uint8Array, data: Uint8Array, iv: Uint8Array): Uint8Array {
  // Single-DES CBC under K over all blocks but the last, then 3DES-EDE(K, K', K) on the last chained block.
  const chain = data.length > 8 ? nodeLastCbcBlock(key.subarray(0, 8), data.subarray(0, -8), iv) : iv;
  const e = createCipheriv('des-ede', key, null);
  e.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([e.update(xor(chain, data.subarray(-8))), e.final()]));
}

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const padding = fc.constantFrom(1 as const, 2 as const, 3 as const);
const message = fc.uint8Array({ maxLength: 50 });

describe('MACs agree with node:crypto 3DES-CBC', () => {
  for (const [name, len] of [
    ['2-key 3DES (des-ede-cbc)', 16],
    ['3-key 3DES (des-ede3-cbc)', 24],
    ['single DES (des-ede3-cbc with K K K)', 8],
  ] as const) {
    it(`algorithm 1, ${name}: last CBC block of the padded message`, () => {
      fc.assert(
        fc.property(bytes(len), message, padding, fc.option(bytes(8), { nil: undefined }), (k, m, p, iv) => {
          const ref = nodeLastCbcBlock(k, padIso9797(m, p), iv ?? new Uint8Array(8));
          expect(macAlg1(k, m, { padding: p, iv })).toEqual(ref);
          expect(new DesCbcMac(k, { padding: p }).mac(m, iv)).toEqual(ref);
        }),
      );
    });
  }

  it('algorithm 3 (retail MAC): single-DES chain, 3DES on the last block', () => {
    fc.assert(
      fc.property(bytes(16), message, padding, fc.option(bytes(8), { nil: undefined }), (k, m, p, iv) => {
        const ref = nodeRetailMac(k, padIso9797(m, p), iv ?? new Uint8Array(8));
        expect(macAlg3(k, m, { padding: p, iv })).toEqual(ref);
        expect(new RetailMac(k, { padding: p }).mac(m, iv)).toEqual(ref);
      }),
    );
  });

  it('a reused MAC object gives the same answers as fresh ones', () => {
    fc.assert(
      fc.property(bytes(16), fc.array(message, { maxLength: 5 }), (k, msgs) => {
        const r = new RetailMac(k);
        const d = new DesCbcMac(k);
        for (const m of msgs) {
          expect(r.mac(m)).toEqual(macAlg3(k, m));
          expect(d.mac(m)).toEqual(macAlg1(k, m));
        }
      }),
    );
  });
});

describe('MAC argument checks', () => {
  it('rejects bad keys, padding methods, IVs and output ranges with BAD_ARGUMENT', () => {
    const d = new Uint8Array(3);
    expect(() => macAlg1(new Uint8Array(12), d)).toThrow(ArgumentError);
    expect(() => macAlg3(new Uint8Array(8), d)).toThrow(ArgumentError);
    expect(() => macAlg3(new Uint8Array(24), d)).toThrow(ArgumentError);
    expect(() => new RetailMac(new Uint8Array(24))).toThrow(ArgumentError);
    expect(() => macAlg1(new Uint8Array(8), d, { padding: 4 as 1 })).toThrow(ArgumentError);
    expect(() => new DesCbcMac(new Uint8Array(8), { padding: 0 as 1 })).toThrow(ArgumentError);
    expect(() => macAlg3(new Uint8Array(16), d, { iv: new Uint8Array(16) })).toThrow(ArgumentError);
    expect(() => new DesCbcMac(new Uint8Array(8)).macInto(d, new Uint8Array(8), 1)).toThrow(ArgumentError);
    expect(() => macAlg1(new Uint8Array(8), 'abc' as unknown as Uint8Array)).toThrow(ArgumentError);
  });

  it('destroy() makes the objects unusable and toJSON redacts', () => {
    const r = new RetailMac(hex`0123456789ABCDEFFEDCBA9876543210`);
    const d = new DesCbcMac(hex`0123456789ABCDEF`);
    expect(JSON.stringify([r, d])).not.toMatch(/0123456789/i);
    r.destroy();
    d.destroy();
    expect(() => r.mac(new Uint8Array(1))).toThrow(ArgumentError);
    expect(() => d.mac(new Uint8Array(1))).toThrow(ArgumentError);
  });
});
