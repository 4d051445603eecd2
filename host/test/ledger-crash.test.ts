/**
 * Crash safety of the SQLite ledger: a child process runs transfers and holds-then-posts with idempotency keys on
 * a file database and is SIGKILLed at random moments (at least 20 times), then restarted from the first operation
 * it did not acknowledge (or, once all are, from a random one: retries of acknowledged keys). Against the parent's
 * record of acknowledged outcomes: none is lost (a final run replays every key and gets the same outcome, the same
 * transfer), none applied twice (the balances are those of the acknowledged outcomes), and `verify()` passes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { crashOp, PHONES } from './ledger-crash-ops';
import { type CrashRun, startCrashChild } from './ledger-crash-run';

const COUNT = 2000;
const KILLS = 20;

const dir = mkdtempSync(join(tmpdir(), 'simtap-ledger-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function startChild(path: string, start: number, final = false): CrashRun {
  return startCrashChild(path, start, COUNT, final);
}

describe('SQLite ledger under SIGKILL', () => {
  it(`loses no acknowledged operation and applies none twice across ${KILLS}+ kills`, async () => {
    const path = join(dir, 'crash.db');
    const acked = new Map<number, string>(); // i → the outcome JSON first acknowledged
    const record = (line: string) => {
      const o = JSON.parse(line) as { i: number };
      const text = JSON.stringify(o);
      const first = acked.get(o.i);
      if (first === undefined) acked.set(o.i, text);
      else expect(text, `operation ${o.i} answered differently after a restart`).toBe(first);
    };
    const firstUnacked = () => {
      for (let i = 0; i < COUNT; i++) if (!acked.has(i)) return i;
      return COUNT;
    };
    let kills = 0;
    let runs = 0;
    let killedMidway = 0; // kills after the child acknowledged something: mid-stream, not at start-up
    const deadline = Date.now() + 45_000;
    while (kills < KILLS || firstUnacked() < COUNT) {
      if (Date.now() > deadline) throw new Error(`out of time after ${runs} runs, ${kills} kills`);
      const next = firstUnacked();
      const run = startChild(path, next < COUNT ? next : Math.floor(Math.random() * COUNT));
      runs++;
      await run.ready;
      const timer = setTimeout(() => run.child.kill('SIGKILL'), Math.random() * 150);
      const { code, signal } = await run.exit;
      clearTimeout(timer);
      for (const line of run.lines) record(line);
      if (signal === 'SIGKILL') {
        kills++;
        if (run.lines.length > 0) killedMidway++;
      } else expect(code, run.stderr()).toBe(0);
    }

    const final = startChild(path, 0, true);
    const { code } = await final.exit;
    expect(code, final.stderr()).toBe(0);
    const summary = JSON.parse(final.lines.pop()!) as {
      verify: { ok: boolean; sum: number; problems: string[] };
      balances: Record<string, number>;
    };
    expect(final.lines).toHaveLength(COUNT);
    for (const line of final.lines) record(line); // every acknowledged outcome replays identically: none lost

    expect(summary.verify.problems).toEqual([]);
    expect(summary.verify).toMatchObject({ ok: true, sum: 0 });
    const expected: Record<string, number> = { cash: 0, merchant: 0, suspense: 0 };
    for (const p of PHONES) expected[p] = 0;
    let succeeded = 0;
    for (let i = 0; i < COUNT; i++) {
      const outcome = JSON.parse(acked.get(i)!) as { ok: boolean };
      if (!outcome.ok) continue;
      succeeded++;
      const { req } = crashOp(i);
      expected[req.from]! -= req.amount;
      expected[req.to]! += req.amount;
    }
    expect(summary.balances).toEqual(expected); // none applied twice
    expect(kills).toBeGreaterThanOrEqual(KILLS);
    expect(killedMidway).toBeGreaterThanOrEqual(KILLS / 2);
    expect(succeeded).toBeGreaterThan(COUNT / 2);
  }, 60_000);
});
