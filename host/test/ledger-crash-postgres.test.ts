import { afterAll, describe, expect, it } from 'vitest';
import { crashOp, PHONES } from './ledger-crash-ops';
import { type CrashRun, startCrashChild } from './ledger-crash-run';
import { freshSchema, postgresForTests, type TestSchema } from './postgres-server';

const COUNT = 2000;
const KILLS = 20;

const url = await postgresForTests('PostgreSQL ledger crash test');
let schema: TestSchema | undefined;
afterAll(async () => {
  await schema?.drop();
});

function startChild(db: string, schemaName: string, start: number, final = false): CrashRun {
  return startCrashChild(db, start, COUNT, final, { SIMTAP_LEDGER_SCHEMA: schemaName });
}

describe.skipIf(url === undefined)('PostgreSQL ledger under SIGKILL', () => {
  it(`loses no acknowledged operation and applies none twice across ${KILLS}+ kills`, async () => {
    schema = await freshSchema(url!);
    const start = (from: number, final = false) => startChild(url!, schema!.name, from, final);
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
    const deadline = Date.now() + 100_000;
    while (kills < KILLS || firstUnacked() < COUNT) {
      if (Date.now() > deadline) throw new Error(`out of time after ${runs} runs, ${kills} kills`);
      const next = firstUnacked();
      const run = start(next < COUNT ? next : Math.floor(Math.random() * COUNT));
      runs++;
      await run.ready;
      const timer = setTimeout(() => run.child.kill('SIGKILL'), Math.random() * 250);
      const { code, signal } = await run.exit;
      clearTimeout(timer);
      for (const line of run.lines) record(line);
      if (signal === 'SIGKILL') {
        kills++;
        if (run.lines.length > 0) killedMidway++;
      } else expect(code, run.stderr()).toBe(0);
    }

    const final = start(0, true);
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
    console.log(`postgres ledger crash test: ${runs} runs, ${kills} SIGKILLs (${killedMidway} mid-stream)`);
  }, 120_000);
});
