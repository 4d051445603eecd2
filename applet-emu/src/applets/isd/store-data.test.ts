import { concat, fromHex, hex, toHex } from '@simtap/sdk/core/bytes';
import { encryptSecretDgi } from '@simtap/sdk/core/gp';
import type { IsoException } from '@simtap/sdk/core/iso7816';
import { describe, expect, it } from 'vitest';
import type { CardInterface } from '../../runtime/applet';
import type { Card } from '../../runtime/card';
import { enumerateTearPoints } from '../../runtime/tear';
import { createSim, simIsdKeys } from '../../sim';
import { parseDgis } from './store-data';
import { cardTransmit, openScp03Sync, type SyncScpHost, swOf, TestPersoApplet } from './test-support';

const IFACE: CardInterface = 'contactless';
const AID = fromHex(TestPersoApplet.DEFAULT_AID_HEX);
const KEYS = simIsdKeys().scp03;
const apdu = (header: string, data: Uint8Array): Uint8Array =>
  concat(fromHex(header), Uint8Array.of(data.length), data);
const INSTALL = apdu('80 E6 20 00', concat(hex`00 00`, Uint8Array.of(AID.length), AID, hex`00 00 00`));

describe('parseDgis', () => {
  it('splits DGIs with short and long lengths', () => {
    const items = parseDgis(hex`0101 02 AABB 8001 FF 0003 010203 0202 00`);
    expect(items.map((i) => [i.dgi, toHex(i.data)])).toEqual([
      [0x0101, 'AABB'],
      [0x8001, '010203'],
      [0x0202, ''],
    ]);
  });
  it('refuses truncated DGIs with 6A80', () => {
    for (const bad of [hex`01`, hex`0101`, hex`0101 03 AABB`, hex`0101 FF 00`, hex`0101 FF 0002 AA`]) {
      let sw = 0;
      try {
        parseDgis(bad);
      } catch (err) {
        sw = (err as IsoException).sw;
      }
      expect(sw, toHex(bad)).toBe(0x6a80);
    }
  });
});

function personalizationState(card: Card): { count: number; dgis: string[]; personalized: boolean } {
  const store = card.registry.storeOf(AID);
  return {
    count: store.getNumber('count') ?? 0,
    dgis: store
      .keys()
      .filter((k) => k.startsWith('dgi/'))
      .sort(),
    personalized: store.has('personalized'),
  };
}

describe('STORE DATA under tears: each command lands whole or not at all, the card answers afterwards', () => {
  it('two blocks (2 DGIs, then 1 DGI with the last-block bit): 0, 2 or 3 DGIs, never 1', () => {
    let host: SyncScpHost | undefined;
    const setup = (): Card => {
      const card = createSim({ applets: [(c) => void c.registry.install(new TestPersoApplet(AID))] });
      card.powerOn(IFACE);
      host = openScp03Sync(cardTransmit(card, IFACE), { keys: KEYS, securityLevel: 0x33 });
      expect(toHex(host.transmit(INSTALL))).toBe('009000');
      return card;
    };
    const script = (): void => {
      // Block 00: two secret DGIs, DEK-encrypted (P1 b7b6 = 11).
      const enc = (v: Uint8Array) => encryptSecretDgi(host!.dgiCipher, v);
      const block0 = concat(hex`8001 10`, enc(hex`AABB`), hex`8002 10`, enc(hex`010203`));
      expect(swOf(host!.transmit(apdu('80 E2 60 00', block0)))).toBe(0x9000);
      expect(swOf(host!.transmit(apdu('80 E2 80 01', hex`0103 01 CC`)))).toBe(0x9000);
    };
    const outcomes = enumerateTearPoints(setup, script);
    expect(outcomes.length).toBeGreaterThanOrEqual(2 * 8);
    const counts = new Set<number>();
    for (const o of outcomes) {
      const s = personalizationState(o.card);
      counts.add(s.count);
      expect([0, 2, 3], `${o.when} write ${o.write}`).toContain(s.count);
      const expected: Record<number, string[]> = {
        0: [],
        2: ['dgi/8001', 'dgi/8002'],
        3: ['dgi/0103', 'dgi/8001', 'dgi/8002'],
      };
      expect(s.dgis).toEqual(expected[s.count]);
      expect(s.personalized).toBe(s.count === 3);
      // The card answers: power on, SELECT ISD, authenticate, GET STATUS.
      if (!o.card.isPowered(IFACE)) o.card.powerOn(IFACE);
      const t = cardTransmit(o.card, IFACE);
      expect(swOf(t(hex`00 A4 04 00 08 A000000151000000 00`))).toBe(0x9000);
      const h = openScp03Sync(t, { keys: KEYS, securityLevel: 0x01 });
      expect(swOf(h.transmit(hex`80 F2 40 02 02 4F 00 00`))).toBe(0x9000);
    }
    expect([...counts].sort()).toEqual([0, 2, 3]);
  });
});
