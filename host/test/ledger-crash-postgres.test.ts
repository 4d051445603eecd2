/**
 * Crash safety of the PostgreSQL ledger: the approach of `ledger-crash.test.ts` on a PostgreSQL schema. A child
 * process (`ledger-crash-child.ts` with a `postgres://` URL) runs keyed transfers and holds-then-posts and is
 * SIGKILLed at random moments (at least 20 times) — its transaction in flight dies with its connection — then
 * restarted from the first operation it did not acknowledge (or, once all are, from a random one: retries of
 * acknowledged keys). Against the parent's record of acknowledged outcomes: none is lost (a final run replays every
 * key and gets the same outcome, the same transfer), none applied twice (the balances are those of the acknowledged
 * outcomes), and `verify()` passes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { crashOp, PHONES } from './ledger-crash-ops';
import { freshSchema, postgresForTests, type TestSchema } from './postgres-server';

const REPO = resolve(fileURLToPath(import.meta.url), '../../..');
const CHILD = join(REPO, 'host/test/ledger-crash-child.ts');
const COUNT = 2000;
const KILLS = 20;

const url = await postgresForTests('PostgreSQL ledger crash test');
let schema: TestSchema | undefined;
afterAll(async () => {
  await schema?.drop();
});

interface Run {
  child: ChildProcess;
  lines: string[];
  ready: Promise<void>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
}

function startChild(db: string, schemaName: string, start: number, final = false): Run {
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', CHILD, db, String(start), String(COUNT), ...(final ? ['final'] : [])],
    { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SIMTAP_LEDGER_SCHEMA: schemaName } },
  );
  const lines: string[] = [];
  let buf = '';
  let err = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((r) => {
    onReady = r;
  });
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line === 'ready') onReady();
      else lines.push(line);
      nl = buf.indexOf('\n');
    }
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => {
      onReady();
      r({ code, signal });
    }),
  );
  return { child, lines, ready, exit, stderr: () => err };
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
