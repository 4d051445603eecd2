import { describe, expect, it } from 'vitest';
import scp02 from '../../../test/vectors/gp-scp02.json';
import scp03 from '../../../test/vectors/gp-scp03.json';
import { concat, fromHex, hex, toHex } from '../bytes';
import { ArgumentError } from '../errors';
import { aesCmac } from './cmac';
import { desCbcEncrypt, desEcbEncrypt } from './des';
import { kcv, kcvAes, kcvDes } from './kcv';
import { scp03Derive } from './kdf';

const find = <T extends { id: string }>(cases: readonly T[], id: string): T => {
  const c = cases.find((x) => x.id === id);
  if (!c) throw new Error(`vector ${id} missing`);
  return c;
};

describe('3DES KCVs of SCP02/SCP01 session keys (gp-scp02.json)', () => {
  const c02 = find(scp02.cases, 'gppro-scp02-session-key-kcv');
  const statics = hex`404142434445464748494A4B4C4D4E4F`;
  const seq = fromHex(c02.seq_counter!);
  const sessionKeys = Object.entries(c02.session_key_kcv!).map(([name, expected]) => ({
    name,
    constant: name.match(/\((\w{4})\)/)![1]!,
    expected,
  }));

  it('lists the four SCP02 session keys', () => {
    expect(sessionKeys.map((k) => k.name)).toEqual(['S-ENC(0182)', 'S-MAC(0101)', 'S-DEK(0181)', 'S-RMAC(0102)']);
  });

  it.each(sessionKeys)('SCP02 $name KCV = $expected', ({ constant, expected }) => {
    const key = desCbcEncrypt(statics, concat(fromHex(constant), seq, new Uint8Array(12)));
    expect(toHex(kcvDes(key))).toBe(expected);
    expect(toHex(kcv(key, 'des'))).toBe(expected);
  });

  it('SCP02 PUT KEY encryption under S-DEK', () => {
    const dek = desCbcEncrypt(statics, concat(hex`0181`, seq, new Uint8Array(12)));
    expect(toHex(desEcbEncrypt(dek, fromHex(c02.put_key_encrypt!.key_to_encrypt!)))).toBe(
      c02.put_key_encrypt!.expected,
    );
  });

  const c01 = find(scp02.cases, 'gppro-scp01-session-key-kcv');
  it.each(Object.entries(c01.session_key_kcv!))('SCP01 %s KCV = %s', (name, expected) => {
    // Zero challenges make the SCP01 derivation data 00×16; the static DEK is used as is.
    const key = name.includes('static') ? statics : desEcbEncrypt(statics, new Uint8Array(16));
    expect(toHex(kcvDes(key))).toBe(expected);
  });

  it('KCV of the GP default key with a single-DES and a 3-key key', () => {
    // 3DES with K1 = K2 = K3 is single DES, so the KCVs agree.
    const k = hex`0123456789ABCDEF`;
    expect(kcvDes(concat(k, k, k))).toEqual(kcvDes(k));
    expect(kcvDes(k)).toHaveLength(3);
  });
});

describe('AES KCVs (gp-scp03.json)', () => {
  const pysim = find(scp03.cases, 'pysim-aes-kcv');
  it.each(pysim.cases!)('pySim key $key → $kcv', ({ key, kcv: expected }) => {
    expect(toHex(kcvAes(fromHex(key)))).toBe(expected);
    expect(toHex(kcv(fromHex(key), 'aes'))).toBe(expected);
  });

  const gppro = find(scp03.cases, 'gppro-scp03-session-key-kcv');
  const statics = hex`404142434445464748494A4B4C4D4E4F`;
  const context = hex`00010203040506070809`;
  it.each(Object.entries(gppro.session_key_kcv!))('GPPro %s KCV = %s', (name, expected) => {
    const constant = name.match(/\((\w{2})\)/)?.[1];
    const key = constant ? scp03Derive(statics, Number.parseInt(constant, 16), context, 128) : statics;
    expect(toHex(kcvAes(key))).toBe(expected);
  });

  it('GPPro raw KDF block: AES-CMAC(key, blockA ‖ 01 ‖ blockB)', () => {
    const raw = find(scp03.cases, 'gppro-scp03-raw-kdf');
    const out = aesCmac(fromHex(raw.key!), concat(fromHex(raw.blockA!), hex`01`, fromHex(raw.blockB!)));
    expect(out.subarray(0, raw.out_len!)).toHaveLength(16);
    expect(toHex(kcvAes(out))).toBe(raw.expected_kcv);
  });
});

describe('kcv argument checks', () => {
  it('rejects wrong key lengths and unknown types', () => {
    expect(() => kcvDes(new Uint8Array(32))).toThrow(ArgumentError);
    expect(() => kcvAes(new Uint8Array(8))).toThrow(ArgumentError);
    expect(() => kcv(new Uint8Array(16), 'sm4' as 'aes')).toThrow(ArgumentError);
  });
});
