/**
 * The walkthrough `npm start` runs (examples/demo): in-process with captured output, and once as the built
 * `examples/demo/dist/main.js` the way `npm start` runs it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  DemoError,
  type DemoResult,
  KIOSK_TERMINAL_ID,
  LOAD_AMOUNT,
  METRO_ENTRY,
  METRO_EXIT,
  metroFare,
  runDemo,
  SHOP_AMOUNT,
} from '@simtap/example-demo';
import { toHex } from '@simtap/sdk/core/bytes';
import { TTI } from '@simtap/sdk/core/pboc';
import { fixedClock } from '@simtap/sdk/machines';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const REPO = path.resolve(import.meta.dirname, '../..');
const MAIN = path.join(REPO, 'examples/demo/dist/main.js');

/** A deterministic random source (reproducible card challenges and host challenges). */
function seeded(seed = 7): (n: number) => Uint8Array {
  let x = seed;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      out[i] = x >>> 24;
    }
    return out;
  };
}

const STEP_TITLES = [
  'Issue',
  'Personalize (SCP03)',
  'Recharge ¥50.00',
  'Shop ¥12.50 (torn)',
  'Shop, next tap',
  'Metro in',
  'Metro out',
  'Door (issuer key)',
  'Door (wrong key)',
  'Read back',
];

/** The fare of the demo's ride: 11 stations = ¥2 + ¥1 × 2. */
const FARE = 400;

function expectWalkthrough(lines: readonly string[]): void {
  const text = lines.join('\n');
  STEP_TITLES.forEach((title, i) => {
    expect(text).toMatch(
      new RegExp(
        `^${String(i + 1).padStart(2)} ${title.replace(/[()¥.]/g, '\\$&')} +\\d+ +(–|\\d+\\.\\d ms) {3}\\S`,
        'm',
      ),
    );
  });
  expect(text).toContain('SCP03 SL 33');
  expect(text).toContain(
    'INSTALL [for personalization], STORE DATA × 3: DGI 0101 0201 0202 8001 8010 (C-DEC; 8001, 8010 DEK-encrypted)',
  );
  expect(text).toContain('e-purse life cycle 0F PERSONALIZED');
  expect(text).toContain('the card left the field after DEBIT FOR PURCHASE, before its answer');
  expect(text).toMatch(
    /recovery: GET TRANSACTION PROVE \(TTI 06, counter 0\) → MAC2 ‖ TAC, MAC2 accepted by PSAM pos-1/,
  );
  expect(text).toContain('found: charged once (¥50.00 → ¥37.50)');
  expect(text).toContain('11 stations = ¥2.00 + ¥1.00 × 2 = ¥4.00; ¥37.50 → ¥33.50');
  expect(text).toMatch(/Door \(issuer key\) .* opens: /);
  expect(text).toMatch(/Door \(wrong key\) .* stays shut: .*EXTERNAL AUTHENTICATE → 63C2/);
  expect(text).toMatch(/^ {2}balance {10}¥33\.50 {4}\(5000 − 1250 − 400 = 3350 fen\)$/m);
  expect(text).toMatch(/^ {2}online counter {3}1 /m);
  expect(text).toMatch(/^ {2}offline counter {2}3 /m);
  // The log as read back with READ RECORD, newest first: exit, entry, the purchase once, the load.
  const log = lines.filter((l) => /^ {2,4}\d +\d+ {2}0[269] /.test(l));
  expect(log).toHaveLength(4);
  expect(log[0]).toMatch(
    /^ {4}1 {8}2 {2}09 composite purchase {6}¥4\.00 {2}440100000002 {2}\d{4}-\d\d-\d\d {2}\d\d:\d\d:\d\d$/,
  );
  expect(log[1]).toMatch(/^ {4}2 {8}1 {2}09 composite purchase {6}¥0\.00 {2}440100000002 /);
  expect(log[2]).toMatch(/^ {4}3 {8}0 {2}06 purchase {15}¥12\.50 {2}440100000001 /);
  expect(log[3]).toMatch(/^ {4}4 {8}0 {2}02 load {19}¥50\.00 {2}440100000009 /);
}

describe('the demo walkthrough (in-process)', () => {
  it('prints every step with its APDU count and tap time, and ends with the card read back', async () => {
    const lines: string[] = [];
    const result: DemoResult = await runDemo({
      out: (l) => lines.push(l),
      clock: fixedClock(new Date('2026-03-01T02:03:04Z'), 1000),
      random: seeded(),
    });
    expectWalkthrough(lines);
    expect(lines.join('\n')).not.toContain('\u001b['); // no colours unless asked

    expect(result.metroFare).toBe(FARE);
    expect(
      metroFare(
        {
          type: 'entry',
          station: METRO_ENTRY,
          terminalId: new Uint8Array(6),
          amount: 0,
          balance: 0,
          date: new Uint8Array(4),
          time: new Uint8Array(3),
        },
        METRO_EXIT,
      ),
    ).toBe(FARE);
    // The torn purchase was charged exactly once.
    expect(result.balance).toBe(LOAD_AMOUNT - SHOP_AMOUNT - FARE);
    expect(result).toMatchObject({ onlineCounter: 1, offlineCounter: 3 });
    expect(result.log.map((r) => [r.tti, r.counter, r.amount, toHex(r.terminalId)])).toEqual([
      [TTI.CAPP_PURCHASE, 2, FARE, '440100000002'],
      [TTI.CAPP_PURCHASE, 1, 0, '440100000002'],
      [TTI.EP_PURCHASE, 0, SHOP_AMOUNT, '440100000001'],
      [TTI.EP_LOAD, 0, LOAD_AMOUNT, KIOSK_TERMINAL_ID],
    ]);
    expect(toHex(result.log[0]!.date)).toBe('20260301'); // the machines' clock (China time)

    expect(result.steps.map((s) => s.title)).toEqual(STEP_TITLES);
    const apdus = Object.fromEntries(result.steps.map((s) => [s.title, s.apdus]));
    expect(apdus).toMatchObject({
      Issue: 0,
      // SELECT ISD, GET DATA CF, INITIALIZE UPDATE, EXTERNAL AUTHENTICATE, INSTALL, GET STATUS and STORE DATA × 3:
      // the public DGIs in one command, each secret DGI alone (DEK-encrypted)
      'Personalize (SCP03)': 9,
      'Recharge ¥50.00': 4, // SELECT, READ BINARY EF 0x15, INITIALIZE FOR LOAD, CREDIT FOR LOAD
      'Shop ¥12.50 (torn)': 4, // SELECT, READ BINARY, INITIALIZE FOR PURCHASE, DEBIT (answer lost)
      'Shop, next tap': 3, // SELECT, READ BINARY, GET TRANSACTION PROVE: no second DEBIT
      'Metro in': 5,
      'Metro out': 6,
    });
    const issue = result.steps[0]!;
    expect(issue.tapTimeUs).toBeUndefined();
    for (const s of result.steps.slice(1)) expect(s.tapTimeUs, s.title).toBeGreaterThan(5000);
  });

  it('colours the door outcomes only when asked', async () => {
    const lines: string[] = [];
    await runDemo({ out: (l) => lines.push(l), color: true, random: seeded(3) });
    expect(lines.join('\n')).toContain('\u001b[32mopens\u001b[39m');
    expect(lines.join('\n')).toContain('\u001b[31mstays shut\u001b[39m');
  });

  it('names the failing step (DemoError DEMO_FAILED)', async () => {
    const broken = { now: () => new Date(Number.NaN) };
    const err = await runDemo({ out: () => {}, clock: broken }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DemoError);
    expect(err).toMatchObject({ code: 'DEMO_FAILED', step: 'recharge' });
    expect((err as Error).message).toMatch(/^recharge: .+ \[[A-Z_]+\]$/);
  });
});

describe('npm start (the built examples/demo/dist/main.js)', () => {
  it('runs the walkthrough and exits 0', async () => {
    // `npm install` builds every workspace (root `prepare`); build here only when a developer has no dist yet.
    if (!existsSync(path.join(REPO, 'sdk/dist/index.js')) || !existsSync(path.join(REPO, 'applet-emu/dist/sim.js')))
      await run('npm', ['run', 'build', '-w', 'sdk', '-w', 'applet-emu'], { cwd: REPO, maxBuffer: 1 << 24 });
    if (!existsSync(MAIN)) await run('npm', ['run', 'build', '-w', 'examples/demo'], { cwd: REPO, maxBuffer: 1 << 24 });
    const { stdout, stderr } = await run(process.execPath, [MAIN, '--fleet', '6', '--duration', '1'], {
      cwd: REPO,
    }).catch((e: unknown) => {
      const x = e as { code?: number; stdout?: string; stderr?: string };
      throw new Error(`the demo exited ${x.code} (stale builds? npm run build):\n${x.stdout}\n${x.stderr}`);
    });
    expect(stderr).toBe('');
    const lines = stdout.split('\n');
    expectWalkthrough(lines);
    // then the whole patent on one platform (tests/demo/patent.test.ts checks its report in process)
    expect(stdout).toMatch(/^The whole patent — 6 phones, seed 1, \d+\.\d s$/m);
    expect(stdout).toMatch(/^over the air {4}6 SIMs personalized, 6 loaded/m);
    for (const system of ['transit', 'access-control', 'campus', 'supermarket'])
      expect(stdout).toMatch(new RegExp(`^${system} +✓ `, 'm'));
    expect(stdout).not.toContain('✗');
    // the tap times per machine kind: p50/p95/max and the p50 tap's split (reader + air + SWP + card), adding up
    expect(stdout).toMatch(/^tap time, ms \(model: Java Card SIM behind SWP, 106 kbit\/s, each machine its reader/m);
    const taps = lines.filter((l) => / = +\d+\.\d \+ +\d+\.\d \+ +\d+\.\d \+ +\d+\.\d$/.test(l));
    expect(taps.map((l) => l.slice(2, 40).trim())).toEqual(
      expect.arrayContaining(['transit metro gate', 'transit bus validator', 'supermarket till (purse)']),
    );
    for (const l of taps) {
      const [p50, p95, max, again, ...parts] = (l.slice(40).match(/\d+\.\d/g) ?? []).map(Number);
      expect(p50, l).toBe(again);
      expect(p50! <= p95! && p95! <= max!, l).toBe(true);
      expect(parts, l).toHaveLength(4);
      expect(Math.abs(parts.reduce((a, b) => a + b, 0) - p50!), l).toBeLessThanOrEqual(0.25);
    }
    expect(lines.at(-2)).toBe('every fen accounted for');
  }, 240_000);

  it('lists its options with --help and refuses a bad one with exit 2', async () => {
    const help = await run(process.execPath, [MAIN, '--help'], { cwd: REPO });
    for (const option of ['--fleet N', '--duration S', '--seed N', '--no-walkthrough'])
      expect(help.stdout).toContain(option);
    const bad = await run(process.execPath, [MAIN, '--fleet', 'many'], { cwd: REPO }).then(
      () => undefined,
      (e: unknown) => e as { code: number; stderr: string },
    );
    expect(bad?.code).toBe(2);
    expect(bad?.stderr).toMatch(/^simtap: --fleet expects a number, got many/);
    const small = await run(process.execPath, [MAIN, '--fleet', '2'], { cwd: REPO }).then(
      () => undefined,
      (e: unknown) => e as { code: number; stderr: string },
    );
    expect(small?.code).toBe(2);
    expect(small?.stderr).toMatch(/--fleet must be 4\.\.500, got 2/);
  }, 60_000);
});

describe('the over-the-air part of the walkthrough', () => {
  it('personalizes card-2 through its phone and loads it from the phone account: purse = float', async () => {
    const { runAirDemo } = await import('@simtap/example-demo/air');
    const lines: string[] = [];
    const r = await runAirDemo((l) => lines.push(l));
    expect(r).toMatchObject({ status: 'posted', purse: 2000, float: 2000, phoneAccount: 3000 });
    expect(r.notices.slice(0, 3)).toEqual(['authenticated', 'personalized', 'ready']);
    expect(r.notices).toContain('loaded');
    expect(lines.at(-1)).toMatch(/purse ¥20\.00 = float ¥20\.00/);
  });
});
