/**
 * Crash safety of the platform on the SQLite store (issue 10): the scenario of `platform-crash-scenario.ts` — the
 * platform in a child process SIGKILLed at random moments (20+ kills) during 5,000 mixed operations on the
 * reference profile's emulated cards, restarted each time — on a database file; none of the acknowledged results
 * lost, none applied twice, `verify()` ok, every float equal to its card's purse.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { KILLS, OPERATIONS, runCrashScenario } from './platform-crash-scenario';

const dir = mkdtempSync(join(tmpdir(), 'simtap-platform-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the platform under SIGKILL (SQLite)', () => {
  it(`${OPERATIONS} operations, ${KILLS}+ kills: nothing acknowledged lost or applied twice`, async () => {
    await runCrashScenario({ kind: 'sqlite', path: join(dir, 'platform.db') }, 'SQLite');
  }, 150_000);
});
