import { concat, fromHex, hex, toHex } from '@simtap/sdk/core/bytes';
import { kcvAes } from '@simtap/sdk/core/crypto';
import { type StaticKeys, scp03PutKeyData } from '@simtap/sdk/core/gp';
import { IsoException } from '@simtap/sdk/core/iso7816';
import { describe, expect, it } from 'vitest';
import type { CardInterface } from '../../runtime/applet';
import type { Card } from '../../runtime/card';
import { enumerateTearPoints } from '../../runtime/tear';
import { createSim, simIsdKeys } from '../../sim';
import { MAX_KEY_SETS, parsePutKey } from './key-sets';
import { cardTransmit, dataOf, HandshakeError, openScp03Sync, type SyncScpHost, swOf } from './test-support';

const IFACE: CardInterface = 'contact';
const OLD = simIsdKeys().scp03;
const NEW: StaticKeys = {
  enc: hex`A1A2A3A4A5A6A7A8A9AAABACADAEAFA0`,
  mac: hex`B1B2B3B4B5B6B7B8B9BABBBCBDBEBFB0`,
  dek: hex`C1C2C3C4C5C6C7C8C9CACBCCCDCECFC0`,
};

const apdu = (header: string, ...data: Uint8Array[]): Uint8Array => {
  const body = concat(...data);
  return concat(fromHex(header), Uint8Array.of(body.length), body);
};
const putKeySet = (p1: number, newKvn: number, dek: Uint8Array, keys: StaticKeys): Uint8Array =>
  apdu(
    `80 D8 ${toHex(Uint8Array.of(p1))} 81`,
    Uint8Array.of(newKvn),
    scp03PutKeyData(dek, keys.enc),
    scp03PutKeyData(dek, keys.mac),
    scp03PutKeyData(dek, keys.dek),
  );

const swFrom = (fn: () => unknown): number => {
  try {
    fn();
  } catch (err) {
    if (err instanceof IsoException) return err.sw;
    throw err;
  }
  return 0x9000;
};

describe('parsePutKey', () => {
  const field = scp03PutKeyData(OLD.dek, NEW.enc);
  it('reads KVN′, the key fields and the KID range', () => {
    const c = parsePutKey(0x30, 0x81, concat(hex`31`, field, field, field));
    expect(c).toMatchObject({ replaceKvn: 0x30, firstKid: 1, newKvn: 0x31 });
    expect(c.fields.map((f) => [f.type, f.keyLength, f.encrypted.length, toHex(f.kcv)])).toEqual(
      Array(3).fill([0x88, 16, 16, toHex(kcvAes(NEW.enc))]),
    );
    expect(parsePutKey(0, 0x03, concat(hex`31 80 10`, new Uint8Array(16), hex`00`)).fields[0]!.kcv.length).toBe(0);
  });
  it('refuses malformed commands with 6A86 / 6A80', () => {
    const cases: Array<[number, number, Uint8Array, number]> = [
      [0x80, 0x81, concat(hex`31`, field), 0x6a86], // P1 b8
      [0x00, 0x80, concat(hex`31`, field), 0x6a86], // KID 0
      [0x00, 0x04, concat(hex`31`, field), 0x6a86], // KID 4
      [0x00, 0x81, new Uint8Array(0), 0x6a80],
      [0x00, 0x81, hex`31`, 0x6a80], // no key
      [0x00, 0x81, concat(hex`00`, field), 0x6a80], // KVN′ 00
      [0x00, 0x81, concat(hex`80`, field), 0x6a80], // KVN′ 80
      [0x00, 0x01, concat(hex`31`, field, field), 0x6a80], // two keys without P2 b8
      [0x00, 0x82, concat(hex`31`, field, field, field), 0x6a80], // KIDs 2..4
      [0x00, 0x81, concat(hex`31`, field.subarray(0, 10)), 0x6a80], // truncated
      [0x00, 0x81, concat(hex`31 99 01 00 00`), 0x6a80], // unknown type
      [0x00, 0x81, concat(hex`31 88 11 0F`, new Uint8Array(16), hex`00`), 0x6a80], // AES length 15
      [0x00, 0x81, concat(hex`31 80 0F`, new Uint8Array(15), hex`00`), 0x6a80], // DES not 8-multiple
      [0x00, 0x81, concat(hex`31 88 11 10`, new Uint8Array(16), hex`02 0102`), 0x6a80], // KCV length 2
      [0x00, 0x81, concat(hex`31`, field, hex`80 10`, new Uint8Array(16), hex`00`), 0x6a80], // mixed types
    ];
    for (const [p1, p2, data, sw] of cases)
      expect(
        swFrom(() => parsePutKey(p1, p2, data)),
        toHex(data),
      ).toBe(sw);
  });
});

describe('PUT KEY on the card', () => {
  const open = () => {
    const card = createSim();
    card.powerOn(IFACE);
    return { card, host: openScp03Sync(cardTransmit(card, IFACE), { keys: OLD, securityLevel: 0x03 }) };
  };
  it('KCV mismatch 6A80, unknown key set 6A88, KVN′ taken 6A80, incomplete new set 6A80, table full 6A84', () => {
    const { card, host } = open();
    const commits = card.commitCount;
    const bad = putKeySet(0, 0x31, OLD.dek, NEW);
    bad[bad.length - 1]! ^= 1; // last KCV byte
    expect(toHex(host.transmit(bad))).toBe('6A80');
    expect(toHex(host.transmit(putKeySet(0, 0x31, NEW.dek, NEW)))).toBe('6A80'); // encrypted under the wrong DEK
    expect(toHex(host.transmit(putKeySet(0x35, 0x36, OLD.dek, NEW)))).toBe('6A88');
    expect(toHex(host.transmit(putKeySet(0, 0x20, OLD.dek, NEW)))).toBe('6A80');
    expect(toHex(host.transmit(apdu('80 D8 00 01', hex`31`, scp03PutKeyData(OLD.dek, NEW.enc))))).toBe('6A80');
    expect(toHex(host.transmit(apdu('80 D8 20 81', hex`21`, scp03PutKeyData(OLD.dek, NEW.enc))))).toBe('6A80'); // AES into SCP02
    expect(card.commitCount).toBe(commits);
    for (let kvn = 0x31; kvn < 0x31 + MAX_KEY_SETS - 2; kvn++)
      expect(swOf(host.transmit(putKeySet(0, kvn, OLD.dek, NEW)))).toBe(0x9000);
    expect(toHex(host.transmit(putKeySet(0, 0x50, OLD.dek, NEW)))).toBe('6A84');
  });
});

/** What key sets a card has and whether each authenticates with the expected keys. */
function keyState(card: Card): string[] {
  if (!card.isPowered(IFACE)) card.powerOn(IFACE);
  const t = cardTransmit(card, IFACE);
  const info = dataOf(t(hex`80 CA 00 E0 00`));
  const kvns = new Set<number>();
  for (let i = 2; i + 6 <= info.length; i += 6) kvns.add(info[i + 3]!);
  const out: string[] = [];
  for (const kvn of [...kvns].sort()) {
    if (kvn === 0x20) {
      out.push('20');
      continue;
    }
    const keys = kvn === 0x30 ? OLD : NEW;
    let host: SyncScpHost;
    try {
      host = openScp03Sync(t, { keys, securityLevel: 0x33, kvn });
    } catch (err) {
      out.push(`${kvn.toString(16)}:broken(${err instanceof HandshakeError ? err.sw.toString(16) : String(err)})`);
      continue;
    }
    expect(swOf(host.transmit(hex`80 F2 80 02 02 4F 00 00`))).toBe(0x9000);
    out.push(kvn.toString(16));
  }
  return out;
}

describe('PUT KEY under tears: every tear point leaves the old or the new key sets, never a mix', () => {
  for (const [name, p1, newKvn, before, after] of [
    ['add KVN 31', 0, 0x31, ['20', '30'], ['20', '30', '31']],
    ['replace KVN 30 by 32', 0x30, 0x32, ['20', '30'], ['20', '32']],
  ] as const) {
    it(name, () => {
      let host: SyncScpHost | undefined;
      const setup = (): Card => {
        const card = createSim({ random: (n) => new Uint8Array(n).fill(7) });
        card.powerOn(IFACE);
        host = openScp03Sync(cardTransmit(card, IFACE), { keys: OLD, securityLevel: 0x03 });
        return card;
      };
      const cmd = putKeySet(p1, newKvn, OLD.dek, NEW);
      const outcomes = enumerateTearPoints(setup, () => {
        host!.transmit(cmd);
      });
      expect(outcomes.length).toBeGreaterThanOrEqual(8);
      const seen = new Set<string>();
      for (const o of outcomes) {
        const state = keyState(o.card).join(',');
        expect([before.join(','), after.join(',')], `${o.when} write ${o.write}`).toContain(state);
        seen.add(state);
        if (!o.torn) expect(state).toBe(after.join(','));
      }
      expect(seen.size).toBe(2); // both outcomes occur: before the commit record and after it
    });
  }
});
