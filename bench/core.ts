/**
 * Benchmarks of the protocol core (issues 2 and 8): MACs, TLV and APDU parsing, each beside its raw primitive.
 *
 * **Equal terms.** Every MAC is measured twice, and so is every baseline: with the key prepared once (the keyed
 * object reused: simtap's `AesCmac` / `RetailMac` / `PbocMac`, a kept node:crypto cipher context, a kept node-forge
 * cipher restarted per message, noble's expanded key) and re-keyed on every call (simtap's function forms
 * `aesCmac` / `macAlg3` / `pbocMac`, a fresh `createCipheriv`, a fresh forge cipher, noble's one-shot `cmac`). Each
 * row's name says which. A simtap row's ratio is to the fastest baseline of the same kind; where a library's API
 * cannot keep a key, its row says how it was prepared. Every baseline's output is checked against simtap's first.
 */
import { createCipheriv } from 'node:crypto';
import { unsafe as nobleAes, cmac as nobleCmac } from '@noble/ciphers/aes.js';
import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import { AesCmac, aesCmac, DesCbcMac, macAlg3, RetailMac } from '@simtap/sdk/core/crypto';
import { parseCommandApdu } from '@simtap/sdk/core/iso7816';
import { PbocMac, pbocMac } from '@simtap/sdk/core/pboc';
import { decodeTlv, encodeTlv, tlv } from '@simtap/sdk/core/tlv';
import forge from 'node-forge';
import { type BenchRow, type Measurement, measure, row } from './lib';

const ONCE = '[key once]';
const REKEY = '[re-keyed per call]';

// ---------------------------------------------------------------- shared helpers of the baselines

/** SP 800-38B doubling (the CMAC subkeys K1 = dbl(L), K2 = dbl(K1)). */
function dbl(b: Uint8Array): Uint8Array {
  const o = new Uint8Array(16);
  for (let i = 0; i < 16; i++) o[i] = ((b[i]! << 1) | ((b[i + 1] ?? 0) >> 7)) & 0xff;
  if (b[0]! & 0x80) o[15]! ^= 0x87;
  return o;
}

/** RFC 4493 steps 3–4: the message as whole blocks, its last block already XORed with K1 (complete) or K2 (padded). */
function cmacBlocks(msg: Uint8Array, k1: Uint8Array, k2: Uint8Array): Uint8Array {
  const n = Math.max(1, Math.ceil(msg.length / 16));
  const out = new Uint8Array(n * 16);
  out.set(msg);
  const complete = msg.length > 0 && msg.length % 16 === 0;
  if (!complete) out[msg.length] = 0x80;
  const k = complete ? k1 : k2;
  for (let i = 0; i < 16; i++) out[(n - 1) * 16 + i]! ^= k[i]!;
  return out;
}

/** ISO/IEC 9797-1 padding method 2 (80 00…), always adding at least one byte. */
function pad2(msg: Uint8Array): Uint8Array {
  const out = new Uint8Array((Math.floor(msg.length / 8) + 1) * 8);
  out.set(msg);
  out[msg.length] = 0x80;
  return out;
}

const raw = (b: Uint8Array): string => forge.util.binary.raw.encode(b);
const unraw = (s: string): Uint8Array => forge.util.binary.raw.decode(s);

/**
 * A node:crypto CBC context kept across messages (the key schedule built once). `update` never restarts the chain,
 * so each message's first block is XORed with the previous message's last ciphertext block, which cancels it:
 * every message is chained from a zero IV, in one native call.
 */
class NodeCbcContext {
  readonly #c;
  readonly #prev: Uint8Array;

  constructor(alg: string, key: Uint8Array, blockSize: number) {
    this.#c = createCipheriv(alg, key, new Uint8Array(blockSize));
    this.#c.setAutoPadding(false);
    this.#prev = new Uint8Array(blockSize);
  }

  /** The last block of the CBC encryption of `blocks` (whole blocks; modified in place) from a zero IV. */
  lastBlock(blocks: Uint8Array): Uint8Array {
    const prev = this.#prev;
    for (let i = 0; i < prev.length; i++) blocks[i]! ^= prev[i]!;
    const out = this.#c.update(blocks);
    const last = out.subarray(out.length - prev.length);
    prev.set(last);
    return last;
  }
}

// ---------------------------------------------------------------- AES-CMAC baselines

/** node:crypto, re-keyed: a fresh ECB cipher for the subkeys and a fresh CBC cipher per message. */
function nodeCmacRekeyed(key: Uint8Array, msg: Uint8Array): Uint8Array {
  const alg = `aes-${key.length * 8}`;
  const ecb = createCipheriv(`${alg}-ecb`, key, null);
  ecb.setAutoPadding(false);
  const k1 = dbl(ecb.update(new Uint8Array(16)));
  const k2 = dbl(k1);
  const c = createCipheriv(`${alg}-cbc`, key, new Uint8Array(16));
  c.setAutoPadding(false);
  const out = c.update(cmacBlocks(msg, k1, k2));
  return new Uint8Array(out.subarray(out.length - 16));
}

/** node:crypto with the key prepared once: subkeys computed once, one CBC context kept ({@link NodeCbcContext}). */
function nodeCmacKeyed(key: Uint8Array): (msg: Uint8Array) => Uint8Array {
  const ecb = createCipheriv(`aes-${key.length * 8}-ecb`, key, null);
  ecb.setAutoPadding(false);
  const k1 = dbl(ecb.update(new Uint8Array(16)));
  const k2 = dbl(k1);
  const cbc = new NodeCbcContext(`aes-${key.length * 8}-cbc`, key, 16);
  return (msg) => cbc.lastBlock(cmacBlocks(msg, k1, k2));
}

/**
 * @noble/ciphers with the key expanded once. Its `cmac.create(key)` objects are single-use (`digest()` destroys
 * them), so this is RFC 4493 written on noble's exported block API (`unsafe.expandKeyLE` / `unsafe.encryptBlock`).
 */
function nobleCmacKeyed(key: Uint8Array): (msg: Uint8Array) => Uint8Array {
  const xk = nobleAes.expandKeyLE(key);
  const k1 = dbl(nobleAes.encryptBlock(xk, new Uint8Array(16)));
  const k2 = dbl(k1);
  return (msg) => {
    const blocks = cmacBlocks(msg, k1, k2);
    const x = new Uint8Array(16);
    for (let o = 0; o < blocks.length; o += 16) {
      for (let i = 0; i < 16; i++) x[i]! ^= blocks[o + i]!;
      nobleAes.encryptBlock(xk, x);
    }
    return x;
  };
}

/** node-forge with the key prepared once: one AES-CBC cipher, restarted per message (`start()` keeps the schedule). */
function forgeCmacKeyed(key: Uint8Array): (msg: Uint8Array) => Uint8Array {
  const zero = '\0'.repeat(16);
  const c = forge.cipher.createCipher('AES-CBC', forge.util.createBuffer(raw(key)));
  c.start({ iv: zero });
  c.update(forge.util.createBuffer(zero));
  const k1 = dbl(unraw(c.output.getBytes()));
  const k2 = dbl(k1);
  return (msg) => {
    c.start({ iv: zero });
    c.update(forge.util.createBuffer(raw(cmacBlocks(msg, k1, k2))));
    return unraw(c.output.getBytes().slice(-16));
  };
}

/** node-forge re-keyed: a fresh cipher (key schedule) per message, subkeys included. */
function forgeCmacRekeyed(key: Uint8Array, msg: Uint8Array): Uint8Array {
  return forgeCmacKeyed(key)(msg);
}

// ---------------------------------------------------------------- DES MAC baselines

/**
 * ISO/IEC 9797-1 MAC algorithm 3 (retail MAC), K = K1 ‖ K2, with node:crypto. OpenSSL 3 has no single DES in its
 * default provider, so single DES is 2-key 3DES with K1 ‖ K1, and the output transformation E(K1)·D(K2) on the
 * last block is 3DES-EDE(K1 ‖ K2): MAC = 3DES(K1‖K2, H(n−1) ⊕ Mn), H = single-DES CBC under K1. Key once: both
 * contexts kept.
 */
function nodeRetailKeyed(key: Uint8Array): (msg: Uint8Array) => Uint8Array {
  const k1 = key.subarray(0, 8);
  const single = new NodeCbcContext('des-ede-cbc', new Uint8Array([...k1, ...k1]), 8);
  const ede = new NodeCbcContext('des-ede-cbc', key, 8);
  return (msg) => {
    const p = pad2(msg);
    const h = p.length > 8 ? single.lastBlock(p.subarray(0, p.length - 8)) : new Uint8Array(8);
    const last = p.subarray(p.length - 8);
    for (let i = 0; i < 8; i++) last[i]! ^= h[i]!;
    return ede.lastBlock(last);
  };
}

/** The same retail MAC with fresh node:crypto ciphers per message. */
function nodeRetailRekeyed(key: Uint8Array, msg: Uint8Array): Uint8Array {
  return nodeRetailKeyed(key)(msg);
}

/** Retail MAC with node-forge: a DES-CBC cipher under K1 and a 3DES-ECB cipher under K1 ‖ K2 ‖ K1. */
function forgeRetailKeyed(key: Uint8Array): (msg: Uint8Array) => Uint8Array {
  const k1 = raw(key.subarray(0, 8));
  const des = forge.cipher.createCipher('DES-CBC', forge.util.createBuffer(k1));
  const ede = forge.cipher.createCipher('3DES-ECB', forge.util.createBuffer(raw(key) + k1));
  const zero = '\0'.repeat(8);
  return (msg) => {
    const p = pad2(msg);
    des.start({ iv: zero });
    des.update(forge.util.createBuffer(raw(p)));
    const chained = des.output.getBytes();
    const h = unraw(chained.slice(-16, -8) || zero);
    const last = p.subarray(p.length - 8);
    for (let i = 0; i < 8; i++) last[i]! ^= h[i]!;
    ede.start({});
    ede.update(forge.util.createBuffer(raw(last)));
    return unraw(ede.output.getBytes());
  };
}

function forgeRetailRekeyed(key: Uint8Array, msg: Uint8Array): Uint8Array {
  return forgeRetailKeyed(key)(msg);
}

/** The PBOC MAC (single-DES CBC-MAC, method 2, leftmost 4 bytes) with node:crypto (DES = 3DES with K ‖ K). */
function nodePbocKeyed(key: Uint8Array): (msg: Uint8Array) => Uint8Array {
  const ctx = new NodeCbcContext('des-ede-cbc', new Uint8Array([...key, ...key]), 8);
  return (msg) => ctx.lastBlock(pad2(msg)).slice(0, 4);
}

function nodePbocRekeyed(key: Uint8Array, msg: Uint8Array): Uint8Array {
  return nodePbocKeyed(key)(msg);
}

/** The PBOC MAC with node-forge's DES-CBC, one cipher restarted per message. */
function forgePbocKeyed(key: Uint8Array): (msg: Uint8Array) => Uint8Array {
  const c = forge.cipher.createCipher('DES-CBC', forge.util.createBuffer(raw(key)));
  const zero = '\0'.repeat(8);
  return (msg) => {
    c.start({ iv: zero });
    c.update(forge.util.createBuffer(raw(pad2(msg))));
    return unraw(c.output.getBytes().slice(-8, -4));
  };
}

function forgePbocRekeyed(key: Uint8Array, msg: Uint8Array): Uint8Array {
  return forgePbocKeyed(key)(msg);
}

// ---------------------------------------------------------------- rows

interface Contender {
  name: string;
  mac: (msg: Uint8Array) => Uint8Array;
  note?: string;
}

/**
 * One MAC at one message size, on equal terms: simtap and each baseline with the key prepared once, then each
 * re-keyed per call. Every output is checked against simtap's keyed one first. simtap's rows carry the ratio to the
 * fastest baseline of the same kind (and the target, when given, on the key-once row).
 */
function macRows(
  group: string,
  msg: Uint8Array,
  ours: { once: Contender; rekeyed: Contender },
  baselines: { once: Contender[]; rekeyed: Contender[] },
  target?: { maxUsPerOp?: number; maxRatio?: number },
): BenchRow[] {
  const expected = toHex(ours.once.mac(msg));
  for (const c of [ours.rekeyed, ...baselines.once, ...baselines.rekeyed]) {
    const got = toHex(c.mac(msg));
    if (got !== expected) throw new Error(`${c.name}: MAC ${got}, simtap ${expected}`);
  }
  const rows: BenchRow[] = [];
  for (const [kind, mine, others, t] of [
    [ONCE, ours.once, baselines.once, target],
    [REKEY, ours.rekeyed, baselines.rekeyed, undefined],
  ] as const) {
    const m = measure(`${mine.name} ${kind}`, () => mine.mac(msg));
    const theirs = others.map((c) => ({ c, m: measure(`${c.name} ${kind}`, () => c.mac(msg)) }));
    const fastest = theirs.reduce<Measurement | undefined>(
      (a, b) => (a === undefined || b.m.usPerOp < a.usPerOp ? b.m : a),
      undefined,
    );
    rows.push(row(group, m, fastest, t, mine.note));
    for (const { c, m: bm } of theirs) rows.push(row(group, bm, undefined, undefined, c.note));
  }
  return rows;
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
  const nodeKeyed = nodeCmacKeyed(key);
  const nobleKeyed = nobleCmacKeyed(key);
  const forgeKeyed = forgeCmacKeyed(key);
  for (const size of [16, 64, 256]) {
    const msg = new Uint8Array(size).map((_, i) => i);
    rows.push(
      ...macRows(
        'AES-CMAC',
        msg,
        {
          once: { name: `AES-CMAC ${size} B (simtap AesCmac)`, mac: (m) => ours.mac(m) },
          rekeyed: {
            name: `AES-CMAC ${size} B (simtap aesCmac(key, msg))`,
            mac: (m) => aesCmac(key, m),
            note: 'function form: key schedule and subkeys built for the call and wiped before it returns',
          },
        },
        {
          once: [
            {
              name: `AES-CMAC ${size} B (@noble/ciphers block API)`,
              mac: nobleKeyed,
              note: "noble's cmac.create() objects are single-use: RFC 4493 on unsafe.expandKeyLE/encryptBlock",
            },
            {
              name: `AES-CMAC ${size} B (node:crypto)`,
              mac: nodeKeyed,
              note: 'one aes-cbc context kept, chained from zero by XOR with its last block; subkeys once',
            },
            {
              name: `AES-CMAC ${size} B (node-forge)`,
              mac: forgeKeyed,
              note: 'one AES-CBC cipher, start() per message; subkeys once',
            },
          ],
          rekeyed: [
            { name: `AES-CMAC ${size} B (@noble/ciphers cmac(msg, key))`, mac: (m) => nobleCmac(m, key) },
            {
              name: `AES-CMAC ${size} B (node:crypto)`,
              mac: (m) => nodeCmacRekeyed(key, m),
              note: 'createCipheriv per message (ECB for the subkeys, CBC for the chain)',
            },
            { name: `AES-CMAC ${size} B (node-forge)`, mac: (m) => forgeCmacRekeyed(key, m) },
          ],
        },
        size === 16 ? { maxUsPerOp: 1.5, maxRatio: 1.5 } : undefined,
      ),
    );
  }

  const k16 = fromHex('0123456789ABCDEFFEDCBA9876543210');
  const retail = new RetailMac(k16);
  const nodeRetail = nodeRetailKeyed(k16);
  const forgeRetail = forgeRetailKeyed(k16);
  for (const size of [16, 64]) {
    const msg = new Uint8Array(size).map((_, i) => i * 7);
    rows.push(
      ...macRows(
        'ISO 9797-1 MAC algorithm 3 (retail MAC)',
        msg,
        {
          once: { name: `retail MAC ${size} B (simtap RetailMac)`, mac: (m) => retail.mac(m) },
          rekeyed: { name: `retail MAC ${size} B (simtap macAlg3(key, msg))`, mac: (m) => macAlg3(k16, m) },
        },
        {
          once: [
            {
              name: `retail MAC ${size} B (node:crypto)`,
              mac: nodeRetail,
              note: 'des-ede-cbc K1‖K1 (single DES; OpenSSL 3 has no des-cbc) + des-ede K1‖K2 on the last block, both kept',
            },
            {
              name: `retail MAC ${size} B (node-forge)`,
              mac: forgeRetail,
              note: 'DES-CBC K1 + 3DES-ECB K1‖K2‖K1, both kept, start() per message',
            },
          ],
          rekeyed: [
            { name: `retail MAC ${size} B (node:crypto)`, mac: (m) => nodeRetailRekeyed(k16, m) },
            { name: `retail MAC ${size} B (node-forge)`, mac: (m) => forgeRetailRekeyed(k16, m) },
          ],
        },
      ),
    );
  }

  const sessionKey = fromHex('003238ABC57659DD');
  const pboc = new PbocMac(sessionKey);
  const msg16 = fromHex('000010000600112233445520120229135100').subarray(0, 16);
  rows.push(
    ...macRows(
      'PBOC MAC (single-DES CBC-MAC, 4 bytes)',
      msg16,
      {
        once: { name: 'PBOC MAC 16 B (simtap PbocMac)', mac: (m) => pboc.mac(m) },
        rekeyed: { name: 'PBOC MAC 16 B (simtap pbocMac(key, msg))', mac: (m) => pbocMac(sessionKey, m) },
      },
      {
        once: [
          {
            name: 'PBOC MAC 16 B (node:crypto)',
            mac: nodePbocKeyed(sessionKey),
            note: 'des-ede-cbc with K‖K (single DES) kept',
          },
          {
            name: 'PBOC MAC 16 B (node-forge)',
            mac: forgePbocKeyed(sessionKey),
            note: 'DES-CBC kept, start() per message',
          },
        ],
        rekeyed: [
          { name: 'PBOC MAC 16 B (node:crypto)', mac: (m) => nodePbocRekeyed(sessionKey, m) },
          { name: 'PBOC MAC 16 B (node-forge)', mac: (m) => forgePbocRekeyed(sessionKey, m) },
        ],
      },
    ),
  );
  const desMac = new DesCbcMac(sessionKey);
  rows.push(
    row(
      'PBOC MAC (single-DES CBC-MAC, 4 bytes)',
      measure(`DES CBC-MAC 16 B (simtap DesCbcMac, 8-byte MAC) ${ONCE}`, () => desMac.mac(msg16)),
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
