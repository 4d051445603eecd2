import { concat, equalBytes, fromHex, hex, toHex } from '@simtap/sdk/core/bytes';
import { type SecurityLevelValue, scp03PutKeyData } from '@simtap/sdk/core/gp';
import { describe, expect, it } from 'vitest';
import type { CardInterface } from '../../runtime/applet';
import { type Card, type CardSnapshot, isValidSw } from '../../runtime/card';
import { createSim, simIsdKeys } from '../../sim';
import { openScp03Sync, type SyncScpHost, TestPersoApplet } from './test-support';

/** mulberry32: a small seeded PRNG, so every run sends the same APDUs. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = 0x15d_2026;
const TOTAL = 200_000;
const KEYS = simIsdKeys().scp03;
const PERSO = fromHex(TestPersoApplet.DEFAULT_AID_HEX);
const IFACES: readonly CardInterface[] = ['contact', 'contactless'];
/** Channels opened on each interface besides 0. */
const EXTRA_CHANNELS = [1, 2, 5, 19];

const apdu = (header: string, data: Uint8Array, le?: number): Uint8Array =>
  concat(fromHex(header), Uint8Array.of(data.length), data, le === undefined ? new Uint8Array(0) : Uint8Array.of(le));

/** Valid ISD commands (plain) that the mutator starts from. */
const TEMPLATES: readonly Uint8Array[] = [
  hex`80 50 00 00 08 0102030405060708 00`,
  hex`80 50 30 00 08 0102030405060708 00`,
  hex`80 50 20 00 08 0102030405060708 00`,
  hex`84 82 33 00 10 00112233445566778899AABBCCDDEEFF`,
  hex`80 CA 9F 7F 00`,
  hex`80 CA 00 66 00`,
  hex`80 CA 00 E0 00`,
  hex`80 CA 00 C1 00`,
  hex`00 CA 00 42 00`,
  hex`80 F2 80 02 02 4F 00 00`,
  hex`80 F2 40 02 02 4F 00 00`,
  hex`80 F2 40 03 02 4F 00 00`,
  hex`80 F2 40 00 0A 4F 02 F053 5C 04 4F 9F70 C5 00`,
  apdu('80 D8 00 81', concat(hex`3A`, ...[1, 2, 3].map(() => scp03PutKeyData(KEYS.dek, KEYS.enc))), 0),
  apdu('80 D8 30 02', concat(hex`30`, scp03PutKeyData(KEYS.dek, KEYS.mac)), 0),
  apdu('80 E6 20 00', concat(hex`00 00`, Uint8Array.of(PERSO.length), PERSO, hex`00 00 00`), 0),
  hex`80 E2 00 00 08 0101 02 AABB 0102 00`,
  hex`80 E2 80 01 07 8001 04 01020304`,
  hex`80 E2 90 00 05 42 03 898600`,
  apdu('80 F0 40 80', PERSO),
  apdu('80 F0 40 00', PERSO),
  hex`80 F0 80 7F`,
  hex`80 F0 80 0F`,
  hex`00 A4 04 00 08 A000000151000000 00`,
  hex`00 70 00 00 01`,
  hex`00 70 80 01 00`,
];

/** Plain commands sent through a real secure channel (mutated in their data only). Never TERMINATED. */
const WRAPPED: readonly Uint8Array[] = TEMPLATES.filter(
  (t) => t[1] !== 0x50 && t[1] !== 0x82 && t[1] !== 0x70 && t[1] !== 0xa4,
);

function sameSnapshot(a: CardSnapshot, b: CardSnapshot): boolean {
  if (a.records.length !== b.records.length) return false;
  for (let i = 0; i < a.records.length; i++) {
    const [ka, va] = a.records[i]!;
    const [kb, vb] = b.records[i]!;
    if (ka !== kb) return false;
    if (va instanceof Uint8Array || vb instanceof Uint8Array) {
      if (!(va instanceof Uint8Array && vb instanceof Uint8Array && equalBytes(va, vb))) return false;
    } else if (JSON.stringify(va) !== JSON.stringify(vb)) return false;
  }
  return true;
}

/** 9000, 61xx, 62xx, 63xx: the answers after which persistent memory may have changed. */
const isSuccess = (sw: number): boolean => sw === 0x9000 || (sw >> 8 >= 0x61 && sw >> 8 <= 0x63);

describe('fuzz: random and mutated APDUs against a createSim card', () => {
  it(`${TOTAL} APDUs on both interfaces and ${EXTRA_CHANNELS.length + 1} channels each: valid SW, no exception, refused commands change nothing`, () => {
    const rnd = prng(SEED);
    const int = (n: number): number => Math.floor(rnd() * n);
    const bytes = (n: number): Uint8Array => {
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) b[i] = int(256);
      return b;
    };
    const logged: string[] = [];
    let rebuilds = 0;
    const okByIns = new Map<string, number>();
    let card!: Card;
    let snap!: CardSnapshot;
    let commits = 0;
    const hosts = new Map<string, SyncScpHost>();
    const build = (): void => {
      rebuilds++;
      card = createSim({
        random: (n) => bytes(n),
        logger: { error: (m, c) => void logged.push(`${m} ${JSON.stringify(c)}`) },
        applets: [(c) => void c.registry.install(new TestPersoApplet(PERSO))],
      });
      for (const iface of IFACES) {
        card.powerOn(iface);
        for (const ch of EXTRA_CHANNELS) card.transmit(iface, Uint8Array.of(0x00, 0x70, 0x00, ch));
      }
      hosts.clear();
      snap = card.snapshot();
      commits = card.commitCount;
    };
    build();
    const cla = (channel: number, base: number): number =>
      channel < 4
        ? (base & 0xf0) | (base & 0x0c) | channel
        : (base & 0x80) | 0x40 | ((base & 0x0c) !== 0 ? 0x20 : 0) | (channel - 4);

    const mutate = (src: Uint8Array): Uint8Array => {
      const b = src.slice();
      switch (int(7)) {
        case 0: // flip a byte
          b[int(b.length)] = int(256);
          return b;
        case 1: // truncate
          return b.subarray(0, int(b.length + 1));
        case 2: // oversize
          return concat(b, bytes(1 + int(40)));
        case 3: // wrong Lc
          if (b.length > 4) b[4] = int(256);
          return b;
        case 4: // random P1 P2
          b[2] = int(256);
          b[3] = int(256);
          return b;
        case 5: // another channel / SM bit
          b[0] = cla(int(20), b[0]! ^ (int(2) ? 0x04 : 0));
          return b;
        default:
          return b;
      }
    };
    const randomApdu = (): Uint8Array => {
      const kind = int(4);
      if (kind === 0) return bytes(int(24)); // anything, including < 4 bytes
      const header = Uint8Array.of(
        cla(int(20), [0x00, 0x80, 0x84, 0x04, int(256)][int(5)]!),
        int(256),
        int(256),
        int(256),
      );
      if (kind === 1) return concat(header, bytes(int(3)));
      const n = int(kind === 2 ? 40 : 300);
      const extended = n > 255 || int(8) === 0;
      const lc = extended ? Uint8Array.of(0, n >> 8, n & 0xff) : Uint8Array.of(n);
      const le =
        int(3) === 0 ? new Uint8Array(0) : extended ? Uint8Array.of(int(256), int(256)) : Uint8Array.of(int(256));
      return concat(header, n === 0 ? new Uint8Array(0) : lc, bytes(n), le);
    };

    let refused = 0;
    let succeeded = 0;
    let wrapped = 0;
    for (let n = 0; n < TOTAL; n++) {
      const iface = IFACES[int(2)]!;
      const channel = int(3) === 0 ? 0 : EXTRA_CHANNELS[int(EXTRA_CHANNELS.length)]!;
      const key = `${iface}/${channel}`;
      let command: Uint8Array;
      let host: SyncScpHost | undefined;
      const pick = int(10);
      if (pick < 2) {
        host = hosts.get(key);
        if (host === undefined) {
          try {
            const level = ([0x01, 0x03, 0x11, 0x13, 0x33] as SecurityLevelValue[])[int(5)]!;
            host = openScp03Sync((a) => card.transmit(iface, a), { keys: KEYS, securityLevel: level, channel });
            hosts.set(key, host);
            if (card.commitCount !== commits) {
              snap = card.snapshot();
              commits = card.commitCount;
            }
          } catch {
            build(); // key set 30 replaced, channel closed, card locked… start over on a fresh card
            continue;
          }
        }
        const plain = WRAPPED[int(WRAPPED.length)]!.slice();
        if (int(2) === 0 && plain.length > 5) plain[5 + int(plain.length - 5)] = int(256);
        plain[0] = plain[0]! & 0x80;
        try {
          command = host.session.wrapCommand(plain);
        } catch {
          continue; // the mutation made the plain command unencodable
        }
        wrapped++;
      } else if (pick < 6) command = mutate(TEMPLATES[int(TEMPLATES.length)]!);
      else command = randomApdu();

      let rsp: Uint8Array;
      try {
        rsp = card.transmit(iface, command);
      } catch (err) {
        throw new Error(`#${n} ${iface} ${toHex(command)}: transmit threw ${String(err)}`);
      }
      expect(rsp.length, `#${n} ${toHex(command)}`).toBeGreaterThanOrEqual(2);
      const sw = (rsp[rsp.length - 2]! << 8) | rsp[rsp.length - 1]!;
      if (!isValidSw(sw)) throw new Error(`#${n} ${iface} ${toHex(command)}: invalid SW ${toHex(rsp)}`);
      if (host !== undefined) {
        try {
          host.session.unwrapResponse(rsp); // the card's R-MAC / R-ENC must verify
        } catch (err) {
          throw new Error(`#${n} ${key} ${toHex(command)} → ${toHex(rsp)}: ${String(err)}`);
        }
        if (sw === 0x6982 || sw === 0x6881 || !host.session.isOpen) hosts.delete(key);
      }
      if (isSuccess(sw)) {
        succeeded++;
        const k = `${host ? 'w' : 'p'}${toHex(command.subarray(1, 2))}`;
        okByIns.set(k, (okByIns.get(k) ?? 0) + 1);
        if (card.commitCount !== commits) {
          snap = card.snapshot();
          commits = card.commitCount;
        }
      } else {
        refused++;
        if (card.commitCount !== commits || (refused % 64 === 0 && !sameSnapshot(snap, card.snapshot())))
          throw new Error(`#${n} ${key} ${toHex(command)} → ${toHex(rsp)}: refused but persistent memory changed`);
      }
      if (card.registry.cardLifecycle === 0xff) build();
      // Channels closed by MANAGE CHANNEL come back now and then.
      if (n % 997 === 0)
        for (const i of IFACES)
          for (const ch of EXTRA_CHANNELS)
            if (!card.openChannels(i).includes(ch)) card.transmit(i, Uint8Array.of(0, 0x70, 0, ch));
    }
    expect(logged).toEqual([]);
    // Deep paths were reached: every management command succeeded through a real secure channel many times.
    for (const k of ['wCA', 'wD8', 'wE2', 'wE6', 'wF0', 'wF2', 'p50', 'pCA'])
      expect(okByIns.get(k) ?? 0, k).toBeGreaterThan(100);
    expect(rebuilds).toBeLessThan(TOTAL / 100);
    expect(wrapped).toBeGreaterThan(TOTAL / 10);
    expect(succeeded).toBeGreaterThan(TOTAL / 20);
    expect(refused).toBeGreaterThan(TOTAL / 2);
  });
});
