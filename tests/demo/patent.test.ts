/**
 * The whole-patent run of `npm start` (examples/demo/src/patent), in process: the report's money checks are each
 * recomputed here from the platform's own answers, and the progress display's two modes.
 */

import { formatPatentReport, runPatent, seededRandom } from '@simtap/example-demo/patent';
import { createProgress } from '@simtap/example-demo/progress';
import { describe, expect, it } from 'vitest';

describe('the whole patent', () => {
  it('loads a fleet over the air, runs the four systems and a rush hour, and accounts for every fen', async () => {
    const phases: string[] = [];
    const report = await runPatent({
      fleet: 8,
      durationS: 1,
      seed: 3,
      progress: { phase: (l) => phases.push(l), update() {}, done() {} },
    });
    expect(report.air).toMatchObject({ personalized: 8, loaded: 8, amount: 8 * 5000 });
    // the torn load: the link dropped after the SIM credited; the load ended posted, once
    expect(report.air.torn.settled).toBe(true);
    expect(report.systems.map((s) => [s.system, s.ok])).toEqual([
      ['transit', true],
      ['access-control', true],
      ['campus', true],
      ['supermarket', true],
    ]);
    expect(report.rush.sales).toBeGreaterThan(0);
    expect(report.rush.lostRefused).toBe(1);
    // the torn purchase: DEBIT landed, the answer was lost; the next tap recovered it, charged and cleared once
    expect(report.rush.torn).toEqual({ recovered: true, chargedOnce: true });
    expect(report.rush.payableDelta).toBe(report.rush.cleared + report.rush.online);
    expect(report.rush.cleared).toBe(report.rush.purse);
    // the lost card replaced: nothing moved yet, its float held for late offline records, equal to its SIM's purse
    expect(report.replaced).toMatchObject({ moved: 0, heldUntil: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    expect(report.replaced.held).toBeGreaterThan(0);
    expect(report.replaced.held).toBe(report.replaced.purse);
    // the ledger by kind sums to 0 over money, and holds what came in
    const fen = report.ledger.filter((k) => !k.kind.startsWith('POINTS'));
    expect(fen.reduce((s, k) => s + k.balance, 0)).toBe(0);
    const points = report.ledger.filter((k) => k.kind.startsWith('POINTS'));
    expect(points.reduce((s, k) => s + k.balance, 0)).toBe(0);
    expect(report.moneyIn).toBe(report.moneyOut);
    expect(report.moneyIn).toBeGreaterThan(0);
    expect(report.pursesMatchFloats).toBe(true);
    expect(report.verify.ok).toBe(true);
    // taps at every kind of machine of the four systems, each timed
    const machines = report.tapTimes.map((t) => t.machine);
    for (const m of [
      'transit metro gate',
      'transit bus validator',
      'transit recharge kiosk',
      'access-control door controller',
      'campus canteen till',
      'campus top-up kiosk',
      'campus library / dorm door',
      'supermarket till (purse)',
      'supermarket till (online charge)',
    ])
      expect(machines).toContain(m);
    for (const t of report.tapTimes) {
      expect(t.taps).toBeGreaterThan(0);
      expect(t.p50).toBeGreaterThan(0);
      expect(t.p50).toBeLessThanOrEqual(t.p95);
      expect(t.p95).toBeLessThanOrEqual(t.max);
      // the median tap's split adds up to p50; only an NFC SIM's tap has an SWP part, every tap a reader part
      const s = t.p50Split;
      expect(s.reader + s.air + s.swp + s.card).toBeCloseTo(t.p50, 6);
      expect(Math.min(s.reader, s.air, s.swp, s.card)).toBeGreaterThan(0);
    }
    // each machine kind modelled with its reader (the machines' own profiles: docs/tap-time.md)
    const readerOf = Object.fromEntries(report.tapTimes.map((t) => [t.machine, t.reader]));
    expect(readerOf).toMatchObject({
      'transit metro gate': 'gate',
      'transit bus validator': 'bus-validator',
      'transit recharge kiosk': 'till',
      'access-control door controller': 'gate',
      'campus canteen till': 'till',
      'campus top-up kiosk': 'till',
      'campus library / dorm door': 'gate',
      'supermarket till (purse)': 'till',
    });
    expect(report.apdus.air).toBeGreaterThan(8 * 10); // personalization and loads went over the air
    // the platform's socket traffic: applications, the operator (access-control's ledger.verify), the phones
    expect(report.messages.app.received).toBeGreaterThan(100);
    expect(report.messages.app.sent).toBeGreaterThanOrEqual(report.messages.app.received);
    expect(report.messages.console.received).toBeGreaterThan(0);
    expect(report.messages.ota.received).toBeGreaterThanOrEqual(report.apdus.air);
    expect(report.ok).toBe(true);
    const text = formatPatentReport(report);
    expect(text).toContain('every fen accounted for');
    // per machine kind: p50/p95/max, then the p50 tap's split, printed to 0.1 ms and adding up (to the rounding)
    for (const t of report.tapTimes) {
      const line = text.split('\n').find((l) => l.startsWith(`  ${t.machine} `));
      const m = line?.match(
        / (\d+\.\d) +(\d+\.\d) +(\d+\.\d) +(\d+\.\d) = +(\d+\.\d) \+ +(\d+\.\d) \+ +(\d+\.\d) \+ +(\d+\.\d)$/,
      );
      expect(m, t.machine).not.toBeNull();
      const [p50, p95, max, again, reader, air, swp, card] = m!.slice(1).map(Number);
      expect([p50, p95, max, again]).toEqual([t.p50, t.p95, t.max, t.p50].map((v) => Number(v.toFixed(1))));
      expect(Math.abs(reader! + air! + swp! + card! - p50!)).toBeLessThanOrEqual(0.25);
    }
    expect(text).not.toContain('✗');
    expect(phases.some((p) => /reported lost .* refused at rush-till-1/.test(p))).toBe(true);
  }, 120_000);

  it('refuses a fleet or a duration out of range before it starts anything', async () => {
    const progress = { phase() {}, update() {}, done() {} };
    await expect(runPatent({ fleet: 3, progress })).rejects.toThrow(/fleet must be an integer in 4\.\.500/);
    await expect(runPatent({ durationS: -1, progress })).rejects.toThrow(/duration must be 0\.\.600/);
  });

  it('draws the same choices for the same seed', () => {
    const a = seededRandom(9);
    const b = seededRandom(9);
    const c = seededRandom(10);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c())).not.toEqual(xs);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
  });
});

describe('the progress display', () => {
  it('redraws one status line on a terminal', () => {
    const parts: string[] = [];
    const p = createProgress({ tty: true, write: (t) => parts.push(t) });
    p.update({ personalized: 3 });
    p.phase('fleet ready');
    p.done();
    const clearLine = '\r\u001b[K';
    expect(parts).toHaveLength(3);
    expect(parts[0]!.startsWith(`${clearLine}  … personalized 3 · `)).toBe(true);
    expect(parts.slice(1)).toEqual([clearLine, 'fleet ready\n']);
  });

  it('prints plain lines elsewhere, counters at most once a period', () => {
    const lines: string[] = [];
    const p = createProgress({ tty: false, write: (t) => void lines.push(t), plainEveryMs: 60_000 });
    p.update({ taps: 1 });
    p.update({ taps: 2 });
    p.phase('done');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^ {2}… taps 1 · \d+\.\d s\n$/);
    expect(lines[1]).toBe('done\n');
    expect(lines.join('')).not.toContain('\u001b');
  });
});
