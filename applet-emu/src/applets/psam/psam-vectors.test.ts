/**
 * The published PBOC purchase worked example (sdk/test/vectors/pboc-ep-mac.json, case purchase-ep-blog) replayed
 * through the PSAM applet's APDUs: INIT SAM FOR PURCHASE must return the example's terminal sequence and MAC1, and
 * CREDIT SAM FOR PURCHASE must accept the example's MAC2. The example gives the card key (DPK), not a master, so the
 * PSAM holds it as a direct key (PSAM_KEY_USAGE.DIRECT_KEY_FLAG).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { concat, fromHex, toHex } from '@simtap/sdk/core/bytes';
import { psamProfile } from '@simtap/sdk/core/profile';
import { describe, expect, it } from 'vitest';
import { Card } from '../../runtime/card';
import { installPsam, psamDgis } from './install';
import { PSAM_DGI, PSAM_KEY_USAGE } from './psam';

interface PurchaseCase {
  id: string;
  purchase_key_DPK: string;
  command_init_for_purchase: string;
  response_fields: { balance: string; offline_counter: string; key_version: string; alg_id: string; random: string };
  terminal_txn_seq: string;
  mac1_input: string;
  MAC1: string;
  MAC2: string;
}

const vectors = JSON.parse(
  readFileSync(join(import.meta.dirname, '../../../../sdk/test/vectors/pboc-ep-mac.json'), 'utf8'),
) as { cases: Array<Partial<PurchaseCase> & { id: string }> };
const c = vectors.cases.find((x) => x.id === 'purchase-ep-blog') as PurchaseCase;

function send(card: Card, apdu: Uint8Array): { data: Uint8Array; sw: number } {
  const r = card.transmit('contact', apdu);
  return { data: r.subarray(0, r.length - 2), sw: (r[r.length - 2]! << 8) | r[r.length - 1]! };
}

function psamWithVectorKey(): Card {
  const initCmd = fromHex(c.command_init_for_purchase);
  const terminalId = initCmd.subarray(10, 16);
  const direct = concat(
    Uint8Array.of(
      PSAM_KEY_USAGE.PURCHASE | PSAM_KEY_USAGE.DIRECT_KEY_FLAG,
      Number.parseInt(c.response_fields.key_version, 16),
    ),
    fromHex(c.purchase_key_DPK),
  );
  // The profile's pos-1 personalization, with the example's card key added to the key DGI.
  const items = psamDgis(psamProfile('pos-1'), {
    terminalId,
    initialTerminalTxnSeq: Number.parseInt(c.terminal_txn_seq, 16),
  }).map((it) => (it.dgi === PSAM_DGI.KEYS ? { ...it, data: concat(it.data, direct) } : it));
  const psam = new Card();
  const applet = psam.atomically(() => installPsam(psam, { aid: fromHex('A000000632010106'), fid: 0xdf01 }));
  const store = psam.registry.storeOf(applet.aid);
  psam.atomically(() => {
    for (const item of items)
      applet.applyStoreData({ store, card: psam, atomically: <T>(fn: () => T): T => psam.atomically(fn) }, item);
  });
  psam.powerOn('contact');
  return psam;
}

function initSam(psam: Card): { data: Uint8Array; sw: number } {
  const f = c.response_fields;
  const initCmd = fromHex(c.command_init_for_purchase);
  const mac1In = fromHex(c.mac1_input); // amount(4) ‖ TTI(1) ‖ terminal(6) ‖ date(4) ‖ time(3)
  const data = concat(
    fromHex(f.random),
    fromHex(f.offline_counter),
    initCmd.subarray(6, 10), // amount
    mac1In.subarray(4, 5), // TTI
    mac1In.subarray(11, 15), // date
    mac1In.subarray(15, 18), // time
    fromHex(f.key_version),
    fromHex(f.alg_id),
    fromHex('0000000000000001'), // card serial: not used with a direct key
  );
  return send(psam, concat(fromHex('80 70 00 00 1C'), data, fromHex('08')));
}

describe(`PSAM replays ${c.id}`, () => {
  it('returns the terminal sequence and MAC1 of the worked example, then accepts its MAC2', () => {
    const psam = psamWithVectorKey();
    const r = initSam(psam);
    expect(r.sw).toBe(0x9000);
    expect(toHex(r.data)).toBe(c.terminal_txn_seq + c.MAC1);
    expect(send(psam, concat(fromHex('80 72 00 00 04'), fromHex(c.MAC2))).sw).toBe(0x9000);
  });

  it('refuses a MAC2 that differs from the example by one bit with 9302', () => {
    const psam = psamWithVectorKey();
    expect(initSam(psam).sw).toBe(0x9000);
    const bad = fromHex(c.MAC2);
    bad[3]! ^= 0x01;
    expect(send(psam, concat(fromHex('80 72 00 00 04'), bad)).sw).toBe(0x9302);
  });
});
