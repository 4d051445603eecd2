import { fromHex } from '@simtap/sdk/core/bytes';
import { describe, expect, it } from 'vitest';
import { Card } from './card';
import { DirectoryDdf } from './directory';
import { SampleApplet } from './sample-applet';

/** APDUs per second for `apdu`, best of 3 rounds of `n` (after a warm-up). */
function rate(card: Card, apdu: Uint8Array, n: number): number {
  for (let i = 0; i < 5_000; i++) card.transmit('contactless', apdu);
  let best = 0;
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) card.transmit('contactless', apdu);
    best = Math.max(best, n / ((performance.now() - t0) / 1000));
  }
  return best;
}

describe('dispatcher throughput (in-process)', () => {
  it('sustains well over 50,000 plain APDUs per second', () => {
    const card = new Card({ logger: { error: () => undefined } });
    card.registry.install(new DirectoryDdf(DirectoryDdf.PPSE));
    card.registry.install(new SampleApplet(), { default: true });
    card.powerOn('contactless');
    const select = rate(card, fromHex(`00 A4 04 00 08 ${SampleApplet.DEFAULT_AID_HEX} 00`), 50_000);
    const getData = rate(card, fromHex('80 CA 00 00 04'), 50_000);
    console.log(`SELECT by AID: ${Math.round(select)} APDU/s; GET DATA: ${Math.round(getData)} APDU/s`);
    // Measured ~1.5–2 M/s on a shared laptop core: the 50,000/s target has a wide margin even on a loaded CI.
    expect(select).toBeGreaterThan(50_000);
    expect(getData).toBeGreaterThan(50_000);
  });
});
