/**
 * The published PBOC purchase worked example (sdk/test/vectors/pboc-ep-mac.json, case purchase-ep-blog) replayed
 * through the PSAM applet's APDUs: INIT SAM FOR PURCHASE must return the example's terminal sequence and MAC1, and
 * CREDIT SAM FOR PURCHASE must accept the example's MAC2. The example gives the card key (DPK), not a master, so the
 * test helper puts it into the PSAM directly for the example's card serial (`directPurchaseKeys`; no APDU or DGI can).
 */
import { concat, fromHex, toHex } from '@simtap/sdk/core/bytes';
import { vector } from '@simtap/sdk/testing';
import { describe, expect, it } from 'vitest';
import type { Card } from '../../runtime/card';
import { createPsam } from './install';

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

const vectors = vector<{ cases: Array<Partial<PurchaseCase> & { id: string }> }>('pboc-ep-mac');
const c = vectors.cases.find((x) => x.id === 'purchase-ep-blog') as PurchaseCase;

function send(card: Card, apdu: Uint8Array): { data: Uint8Array; sw: number } {
  const r = card.transmit('contact', apdu);
  return { data: r.subarray(0, r.length - 2), sw: (r[r.length - 2]! << 8) | r[r.length - 1]! };
}

/** Card serial the example's INIT SAM FOR PURCHASE names; the direct key is bound to it. */
const SERIAL = fromHex('0000000000000001');

function psamWithVectorKey(serial = SERIAL): Card {
  const initCmd = fromHex(c.command_init_for_purchase);
  const psam = createPsam('pos-1', {
    terminalId: initCmd.subarray(10, 16),
    initialTerminalTxnSeq: Number.parseInt(c.terminal_txn_seq, 16),
    directPurchaseKeys: [
      {
        diversificationData: serial,
        keyVersion: Number.parseInt(c.response_fields.key_version, 16),
        key: fromHex(c.purchase_key_DPK),
      },
    ],
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
    SERIAL, // card serial: the direct key is bound to it
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

  it('uses the direct key for that card serial only: another card gets the master-derived key', () => {
    // The same example with the direct key bound to another serial: the PSAM diversifies pos-1's purchase master
    // key for serial …01 instead, so MAC1 differs from the example's.
    const psam = psamWithVectorKey(fromHex('0000000000000002'));
    const r = initSam(psam);
    expect(r.sw).toBe(0x9000);
    expect(toHex(r.data.subarray(0, 4))).toBe(c.terminal_txn_seq);
    expect(toHex(r.data.subarray(4))).not.toBe(c.MAC1);
  });

  it('refuses a MAC2 that differs from the example by one bit with 9302', () => {
    const psam = psamWithVectorKey();
    expect(initSam(psam).sw).toBe(0x9000);
    const bad = fromHex(c.MAC2);
    bad[3]! ^= 0x01;
    expect(send(psam, concat(fromHex('80 72 00 00 04'), bad)).sw).toBe(0x9302);
  });
});
