/**
 * `simtap-host` on PostgreSQL (`SIMTAP_DATABASE_URL`): it starts on the database (a schema of its own here, through
 * the URL's `options`), says `store: postgres` without the URL's password, answers, and keeps the money across a
 * restart. The server: `SIMTAP_TEST_DATABASE_URL`, else a throwaway cluster when PostgreSQL is installed, else one
 * skip line (a failure under `CI=true`): `host/test/postgres-server.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freshSchema, postgresForTests } from '../../test/postgres-server';
import { APP, RawClient } from '../server/server.test-support';
import { main } from './main';

const url = await postgresForTests('simtap-host on PostgreSQL');
const tmp = mkdtempSync(join(tmpdir(), 'simtap-host-pg-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs `simtap-host` in-process until `stop` is aborted; resolves the listening URL and the exit status. */
function start(env: NodeJS.ProcessEnv) {
  const stop = new AbortController();
  let out = '';
  let err = '';
  let listening: (line: string) => void = () => {};
  const line = new Promise<string>((r) => {
    listening = r;
  });
  const status = main(['--listen', '127.0.0.1:0', '--log-level', 'silent'], {
    stdout: {
      write: (s: string) => {
        out += s;
        if (s.includes('listening on')) listening(s);
      },
    },
    stderr: { write: (s: string) => (err += s) },
    env,
    cwd: tmp,
    signal: stop.signal,
  });
  void status.then(() => listening(`exited: ${out} ${err}`));
  return { stop, line, status };
}

describe.skipIf(url === undefined)('simtap-host on PostgreSQL', () => {
  it('starts on SIMTAP_DATABASE_URL, answers, hides the password, and keeps the money across a restart', async () => {
    const schema = await freshSchema(url!);
    try {
      const u = new URL(url!);
      if (!u.password) u.password = 'not-shown';
      u.searchParams.set('options', `-c search_path=${schema.name}`);
      const env = { SIMTAP_DATABASE_URL: u.toString() };
      const first = start(env);
      const line = await first.line;
      expect(line).toMatch(
        /^simtap-host listening on ws:\/\/127\.0\.0\.1:\d+ \(data: postgres:\/\/.*, store: postgres\)\n/,
      );
      expect(line).not.toContain(u.password);
      expect(line).not.toContain('search_path');
      const base = /(ws:\/\/[^ ]+)/.exec(line)![1]!;
      const app = await RawClient.session(base, '/v1/app', APP);
      const top = { idempotencyKey: 'pg-1', msisdn: '13800138001', amount: 700 };
      expect((await app.call('customers.topUpPhoneAccount', top)).result).toEqual({ balance: 700 });
      first.stop.abort();
      expect(await first.status).toBe(0);

      const second = start(env);
      const base2 = /(ws:\/\/[^ ]+)/.exec(await second.line)![1]!;
      const again = await RawClient.session(base2, '/v1/app', APP);
      expect((await again.call('customers.topUpPhoneAccount', top)).result).toEqual({ balance: 700 });
      expect((await again.call('customers.phoneAccount', { msisdn: '13800138001' })).result).toMatchObject({
        balance: 700,
      });
      second.stop.abort();
      expect(await second.status).toBe(0);
    } finally {
      await schema.drop();
    }
  }, 60_000);
});
