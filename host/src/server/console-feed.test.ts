/**
 * The console's live view on its own clock: per-second counts slide out of the 60-s window, the rows stay bounded
 * (newest first, one row per load), the histogram buckets and percentiles, a hostile stream of machine kinds folds
 * into `other`, and a card's last balance comes only from cleared taps and from loads the card answered.
 */
import { describe, expect, it } from 'vitest';
import { ConsoleFeed, TAP_TIME_BUCKETS_MS } from './console-feed';

const SERIAL = '00004401202600000001';
const server = {
  connections: () => ({ app: 0, console: 0, ota: 0 }),
  traffic: () => ({
    app: { received: 0, sent: 0 },
    console: { received: 0, sent: 0 },
    ota: { received: 0, sent: 0 },
  }),
};

function tap(at: number, o: Partial<Record<string, unknown>> = {}) {
  return {
    at,
    clientId: 'mart-1',
    terminalId: '440100000901',
    machine: 'till',
    cardSerial: SERIAL,
    amount: 100,
    offlineCounter: 1,
    tapUs: 40_000,
    balance: 900,
    date: '20261204',
    time: '100000',
    status: 'cleared',
    code: null,
    ...o,
  };
}

describe('ConsoleFeed', () => {
  it('counts per second over the last 60 s, and forgets what slid out', () => {
    const clock = { now: 1_000_000_000_000 };
    const feed = new ConsoleFeed(() => clock.now);
    feed.notify('event.tap', tap(clock.now));
    feed.notify('event.tap', tap(clock.now, { status: 'rejected', code: 'DUPLICATE' }));
    clock.now += 30_000;
    feed.notify('event.tap', tap(clock.now, { amount: 250 }));
    let s = feed.snapshot(server);
    expect(s.rates).toEqual({ taps: 3, loads: 0, cleared: 2, fen: 350 });
    expect(s.series.taps).toHaveLength(60);
    expect(s.series.taps[59]).toBe(1);
    expect(s.series.taps[29]).toBe(2);
    expect(s.series.start).toBe((Math.floor(clock.now / 1000) - 59) * 1000);
    clock.now += 31_000; // the first second is out of the window
    s = feed.snapshot(server);
    expect(s.rates).toEqual({ taps: 1, loads: 0, cleared: 1, fen: 250 });
    clock.now += 120_000; // a minute and more of silence: the ring's old seconds are not counted again
    expect(feed.snapshot(server).rates).toEqual({ taps: 0, loads: 0, cleared: 0, fen: 0 });
    expect(feed.snapshot(server).taps).toHaveLength(3); // the rows stay
  });

  it('keeps bounded rows, one per load, and a histogram with percentiles; hostile machine kinds fold into other', () => {
    const feed = new ConsoleFeed();
    for (let i = 0; i < 250; i++) feed.notify('event.tap', tap(Date.now(), { tapUs: (i + 1) * 1000 }));
    for (let i = 0; i < 40; i++) feed.notify('event.tap', tap(Date.now(), { machine: `kind-${i}` }));
    feed.notify('event.load', { loadId: 'L1', cardSerial: SERIAL, status: 'pending', amount: 500 });
    feed.notify('event.load', { loadId: 'L1', cardSerial: SERIAL, status: 'posted', amount: 500 });
    const s = feed.snapshot(server);
    expect(s.taps).toHaveLength(100);
    expect(s.loads).toEqual([expect.objectContaining({ loadId: 'L1', status: 'posted' })]);
    expect(s.rates.loads).toBe(1); // posted loads
    const till = s.tapTimes.machines.find((m) => m.machine === 'till')!;
    expect(till.count).toBe(250);
    expect(till.counts).toHaveLength(TAP_TIME_BUCKETS_MS.length + 1);
    expect(till.counts.reduce((a, b) => a + b, 0)).toBe(250);
    expect(till.counts[0]).toBe(25); // 1…25 ms
    expect(till.counts.at(-1)).toBe(0); // nothing above 1 s
    expect(till).toMatchObject({ p50Ms: 126, maxMs: 250 });
    expect(s.tapTimes.machines.length).toBeLessThanOrEqual(33);
    expect(s.tapTimes.machines.find((m) => m.machine === 'other')?.count).toBeGreaterThan(0);
  });

  it("remembers a card's last balance from cleared taps and answered loads only", () => {
    const feed = new ConsoleFeed();
    expect(feed.lastSeen(SERIAL)).toBeNull();
    feed.notify('event.tap', tap(1, { balance: 111, status: 'rejected', code: 'BAD_TAC' }));
    expect(feed.lastSeen(SERIAL)).toBeNull(); // a refused record says nothing the card proved
    feed.notify('event.tap', tap(2, { balance: 900 }));
    expect(feed.lastSeen(SERIAL)).toMatchObject({ balance: 900, source: 'tap' });
    feed.sawLoad('L2', SERIAL.toLowerCase(), 900, 1_000); // INITIALIZE FOR LOAD's balance, under MAC1
    expect(feed.lastSeen(SERIAL)).toMatchObject({ balance: 900, source: 'load' });
    feed.notify('event.load', { loadId: 'L2', cardSerial: SERIAL, status: 'posted', amount: 1_000 });
    expect(feed.lastSeen(SERIAL)).toMatchObject({ balance: 1_900, source: 'load' });
    feed.sawLoad('L3', SERIAL, 1_900, 50);
    feed.notify('event.load', { loadId: 'L3', cardSerial: SERIAL, status: 'voided', amount: 50 });
    expect(feed.lastSeen(SERIAL)).toMatchObject({ balance: 1_900 }); // voided: the card never credited it
  });
});
