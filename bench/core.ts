/** Benchmarks of the protocol core (issue 2): MACs, TLV and APDU parsing, each beside its raw primitive. */
import { createCipheriv } from 'node:crypto';
import { cmac as nobleCmac } from '@noble/ciphers/aes.js';
import { fromHex } from '@simtap/sdk/core/bytes';
import { AesCmac, DesCbcMac, RetailMac } from '@simtap/sdk/core/crypto';
import { parseCommandApdu } from '@simtap/sdk/core/iso7816';
import { PbocMac } from '@simtap/sdk/core/pboc';
import { decodeTlv, encodeTlv, tlv } from '@simtap/sdk/core/tlv';
import forge from 'node-forge';
import { type BenchRow, measure, row } from './lib';

/** AES-CMAC with node:crypto only (RFC 4493 over aes-*-cbc): the raw primitive as an integrator would write it. */
function nodeCmac(key: Uint8Array, msg: Uint8Array): Uint8Array {
  const alg = `aes-${key.length * 8}`;
  const enc = (b: Uint8Array) => {
    const c = createCipheriv(`${alg}-ecb`, key, null);
    c.setAutoPadding(false);
    return new Uint8Array(c.update(b));
  };
  const dbl = (b: Uint8Array) => {
    const o = new Uint8Array(16);
    for (let i = 0; i < 16; i++) o[i] = ((b[i]! << 1) | ((b[i + 1] ?? 0) >> 7)) & 0xff;
    if (b[0]! & 0x80) o[15]! ^= 0x87;
    return o;
  };
  const k1 = dbl(enc(new Uint8Array(16)));
  const k2 = dbl(k1);
  const n = Math.max(1, Math.ceil(msg.length / 16));
  const last = new Uint8Array(16);
  const complete = msg.length > 0 && msg.length % 16 === 0;
  last.set(msg.subarray((n - 1) * 16));
  if (!complete) last[msg.length - (n - 1) * 16] = 0x80;
  const k = complete ? k1 : k2;
  for (let i = 0; i < 16; i++) last[i]! ^= k[i]!;
  const c = createCipheriv(`${alg}-cbc`, key, new Uint8Array(16));
  c.setAutoPadding(false);
  const buf = new Uint8Array(n * 16);
  buf.set(msg.subarray(0, (n - 1) * 16));
  buf.set(last, (n - 1) * 16);
  const out = c.update(buf);
  return new Uint8Array(out.subarray(out.length - 16));
}

/** Single-DES CBC-MAC with node-forge's one-shot API (key schedule per call): the raw DES primitive. */
function forgeDesCbcMac(key: Uint8Array, padded: Uint8Array): string {
  const c = forge.cipher.createCipher('DES-CBC', forge.util.binary.raw.encode(key));
  c.start({ iv: '\0\0\0\0\0\0\0\0' });
  c.update(forge.util.createBuffer(forge.util.binary.raw.encode(padded)));
  c.finish();
  return c.output.getBytes().slice(-16, -8);
}

/** 3DES-CBC-MAC with node:crypto (des-ede-cbc), the closest node:crypto primitive to the retail MAC. */
function node3desCbcMac(key: Uint8Array, padded: Uint8Array): Uint8Array {
  const c = createCipheriv('des-ede-cbc', key, new Uint8Array(8));
  c.setAutoPadding(false);
  const out = c.update(padded);
  return new Uint8Array(out.subarray(out.length - 8));
}

/** A realistic 200-byte FCI of a PBOC e-purse ADF (6F { 84, A5 { 88, 5F2D, 9F11, 9F08, 9F0C, BF0C { … } } }). */
export const FCI_200 = encodeTlv(
  tlv(0x6f, [
    tlv(0x84, fromHex('A000000632010105')),
    tlv(0xa5, [
      tlv(0x88, fromHex('01')),
      tlv(0x5f2d, fromHex('7A68')),
      tlv(0x9f11, fromHex('01')),
      tlv(0x9f08, fromHex('02')),
      tlv(0x9f0c, fromHex('4401000000000000 02 01 00004401202600000001 20260101 20361231 0000')),
      tlv(0xbf0c, [
        tlv(0x61, [
          tlv(0x4f, fromHex('A000000632010105')),
          tlv(0x50, fromHex('53494D544150205055525345')),
          tlv(0x87, fromHex('01')),
          tlv(0x9f12, fromHex('53494D544150205055525345')),
        ]),
        tlv(0x61, [
          tlv(0x4f, fromHex('A000000151000000')),
          tlv(0x50, fromHex('53494D54415020495344')),
          tlv(0x87, fromHex('02')),
        ]),
        tlv(0x9f4d, fromHex('0B0A')),
        tlv(0x9f5a, fromHex('0102030405060708090A0B0C0D0E0F1011121314')),
        tlv(0x5f50, fromHex('68747470733A2F2F73696D7461702E6578616D706C652F70757273652F7631')),
      ]),
    ]),
  ]),
);

export function benchCore(): BenchRow[] {
  const rows: BenchRow[] = [];
  const key = fromHex('2B7E151628AED2A6ABF7158809CF4F3C');
  const ours = new AesCmac(key);
  for (const size of [16, 64, 256]) {
    const msg = new Uint8Array(size).map((_, i) => i);
    const m = measure(`AES-CMAC ${size} B (simtap AesCmac)`, () => ours.mac(msg));
    const noble = measure(`AES-CMAC ${size} B (@noble/ciphers cmac, one-shot)`, () => nobleCmac(msg, key));
    const node = measure(`AES-CMAC ${size} B (node:crypto)`, () => nodeCmac(key, msg));
    const fastest = [m, noble, node].reduce((a, b) => (b.usPerOp < a.usPerOp ? b : a));
    rows.push(
      row('AES-CMAC', m, fastest === m ? node : fastest, size === 16 ? { maxUsPerOp: 1.5, maxRatio: 1.5 } : undefined),
      row('AES-CMAC', noble, node),
      row('AES-CMAC', node),
    );
  }

  const k16 = fromHex('0123456789ABCDEFFEDCBA9876543210');
  const retail = new RetailMac(k16);
  for (const size of [16, 64]) {
    const msg = new Uint8Array(size).map((_, i) => i * 7);
    const padded = new Uint8Array(Math.floor(size / 8) * 8 + 8);
    padded.set(msg);
    padded[size] = 0x80;
    const m = measure(`retail MAC ${size} B (simtap RetailMac)`, () => retail.mac(msg));
    const n = measure(`3DES-CBC-MAC ${size} B (node:crypto des-ede-cbc)`, () => node3desCbcMac(k16, padded));
    const f = measure(`DES-CBC-MAC ${size} B (node-forge one-shot)`, () => forgeDesCbcMac(k16.subarray(0, 8), padded));
    rows.push(row('ISO 9797-1 MAC', m, n), row('ISO 9797-1 MAC', f, n));
  }

  const sessionKey = fromHex('003238ABC57659DD');
  const pboc = new PbocMac(sessionKey);
  const msg16 = fromHex('000010000600112233445520120229135100').subarray(0, 16);
  const padded16 = new Uint8Array(24);
  padded16.set(msg16);
  padded16[16] = 0x80;
  const desMac = new DesCbcMac(sessionKey);
  rows.push(
    row(
      'PBOC MAC',
      measure('PBOC MAC 16 B (simtap PbocMac)', () => pboc.mac(msg16)),
      measure('DES-CBC-MAC 16 B (node-forge one-shot)', () => forgeDesCbcMac(sessionKey, padded16)),
    ),
    row(
      'PBOC MAC',
      measure('DES CBC-MAC 16 B (simtap DesCbcMac, 8-byte MAC)', () => desMac.mac(msg16)),
    ),
  );

  const fci = FCI_200;
  const walk = measure(`byte walk of the ${fci.length}-byte FCI (raw floor)`, () => {
    let s = 0;
    for (let i = 0; i < fci.length; i++) s += fci[i]!;
    return s;
  });
  rows.push(
    row(
      'BER-TLV',
      measure(`decode ${fci.length}-byte FCI (6F/A5/BF0C tree)`, () => decodeTlv(fci)),
      walk,
      {
        maxUsPerOp: 5,
      },
    ),
  );

  const apdu = fromHex('805401000F0000000120120229135100F15CAB7508');
  const rawApdu = measure('header reads + subarray (raw floor)', () => ({
    cla: apdu[0],
    ins: apdu[1],
    p1: apdu[2],
    p2: apdu[3],
    data: apdu.subarray(5, 5 + apdu[4]!),
  }));
  rows.push(
    row(
      'ISO 7816-4 APDU',
      measure('parse case-4 short APDU (21 B)', () => parseCommandApdu(apdu)),
      rawApdu,
    ),
  );
  return rows;
}
