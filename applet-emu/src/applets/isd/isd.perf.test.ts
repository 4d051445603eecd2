import { hex } from '@simtap/sdk/core/bytes';
import { describe, expect, it } from 'vitest';
import type { Card } from '../../runtime/card';
import { createSim, simIsdKeys } from '../../sim';
import { cardTransmit, openScp03Sync } from './test-support';

/** Operations per second of `op`, best of 3 rounds of `n` (after a warm-up). */
function rate(op: () => void, n: number): number {
  for (let i = 0; i < Math.min(n, 5_000); i++) op();
  let best = 0;
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) op();
    best = Math.max(best, n / ((performance.now() - t0) / 1000));
  }
  return best;
}

function powered(): Card {
  const card = createSim({ logger: { error: () => undefined } });
  card.powerOn('contactless');
  return card;
}

describe('ISD throughput (in-process)', () => {
  it('SELECT ISD and GET DATA 9F7F round trips', () => {
    const card = powered();
    const select = hex`00 A4 04 00 08 A0 00 00 01 51 00 00 00 00`;
    const cplc = hex`80 CA 9F 7F 00`;
    const s = rate(() => card.transmit('contactless', select), 50_000);
    const g = rate(() => card.transmit('contactless', cplc), 50_000);
    console.log(`SELECT ISD: ${Math.round(s)} APDU/s; GET DATA 9F7F: ${Math.round(g)} APDU/s`);
    expect(s).toBeGreaterThan(50_000);
    expect(g).toBeGreaterThan(50_000);
  });

  it('SCP03 SL 33 wrapped GET DATA: host wrap + card unwrap/wrap + host unwrap per APDU', () => {
    const card = powered();
    const host = openScp03Sync(cardTransmit(card, 'contactless'), { keys: simIsdKeys().scp03, securityLevel: 0x33 });
    const cmd = hex`80 CA 9F 7F 00`;
    const r = rate(() => host.transmit(cmd), 20_000);
    console.log(
      `SCP03 SL33 GET DATA 9F7F: ${Math.round(r)} APDU/s (${(1e6 / r).toFixed(1)} µs per protected round trip)`,
    );
    expect(r).toBeGreaterThan(5_000);
  });
});
