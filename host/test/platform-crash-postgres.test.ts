/**
 * Crash safety of the platform on the PostgreSQL store (issue 10): the scenario of `platform-crash-scenario.ts` — the
 * platform in a child process SIGKILLed at random moments (20+ kills; its transactions in flight die with its
 * connections) during 5,000 mixed operations on the reference profile's emulated cards, restarted each time — on a
 * schema of its own; none of the acknowledged results lost, none applied twice, `verify()` ok, every float equal to
 * its card's purse. The server: `SIMTAP_TEST_DATABASE_URL`, else a throwaway cluster when PostgreSQL is installed,
 * else one skip line (a failure under `CI=true`).
 */
import { afterAll, describe, it } from 'vitest';
import { KILLS, OPERATIONS, runCrashScenario } from './platform-crash-scenario';
import { freshSchema, postgresForTests, type TestSchema } from './postgres-server';

const url = await postgresForTests('PostgreSQL platform crash test');
let schema: TestSchema | undefined;
afterAll(async () => {
  await schema?.drop();
});

describe.skipIf(url === undefined)('the platform under SIGKILL (PostgreSQL)', () => {
  it(`${OPERATIONS} operations, ${KILLS}+ kills: nothing acknowledged lost or applied twice`, async () => {
    schema = await freshSchema(url!);
    await runCrashScenario({ kind: 'postgres', connectionString: url!, schema: schema.name }, 'PostgreSQL');
  }, 240_000);
});
