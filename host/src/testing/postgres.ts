/**
 * Test helper: where the PostgreSQL tests find a server.
 *
 * - `SIMTAP_TEST_DATABASE_URL` set: that database (CI exports the one `.ci/run` starts).
 * - Otherwise, when the PostgreSQL server binaries are installed (`/usr/lib/postgresql/<version>/bin`): a throwaway
 *   cluster started by `scripts/throwaway-postgres.sh` once per test process (vitest runs each file in a process
 *   of its own), stopped when the process exits — and, should the process be killed, by the script's watcher.
 * - Otherwise `undefined`: {@link postgresForTests} prints one skip line, or fails under `CI=true`.
 *   `SIMTAP_POSTGRES_ASSUME_MISSING=1` takes this branch whatever is installed (to see the skip and the CI rule).
 *
 * Each test then works in a schema of its own ({@link freshSchema}), so files and tests never see each other's rows.
 */
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const REPO = resolve(fileURLToPath(import.meta.url), '../../../..');
const SCRIPT = join(REPO, 'scripts/throwaway-postgres.sh');

/** What the skip line says after its subject. */
export const POSTGRES_SKIP_REASON =
  'skipped: PostgreSQL not available; set SIMTAP_TEST_DATABASE_URL=postgres://… or install it: sudo apt-get install postgresql';

/** Whether PostgreSQL server binaries are installed where Debian puts them. */
export function postgresBinariesInstalled(): boolean {
  try {
    return readdirSync('/usr/lib/postgresql').some((v) => {
      try {
        return readdirSync(join('/usr/lib/postgresql', v, 'bin')).includes('initdb');
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

let started: Promise<string | undefined> | undefined;

/** Starts the throwaway cluster of this process; resolves with its URL. */
function startCluster(): Promise<string> {
  return new Promise((resolveUrl, reject) => {
    execFile(
      'bash',
      [SCRIPT, 'start', '--watch-pid', String(process.pid)],
      { cwd: REPO, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`scripts/throwaway-postgres.sh start failed: ${stderr || error.message}`));
          return;
        }
        const vars = Object.fromEntries(
          stdout
            .split('\n')
            .filter((l) => l.includes('='))
            .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
        );
        const tmp = vars.PGTMP;
        const url = vars.DATABASE_URL;
        if (!tmp || !url) {
          reject(new Error(`scripts/throwaway-postgres.sh printed no DATABASE_URL: ${stdout}`));
          return;
        }
        process.once('exit', () => {
          spawnSync('bash', [SCRIPT, 'stop', tmp], { stdio: 'ignore' });
        });
        resolveUrl(url);
      },
    );
  });
}

/**
 * The database the PostgreSQL tests use: `SIMTAP_TEST_DATABASE_URL`, else a throwaway cluster of this process
 * (started once, when the server binaries are installed), else `undefined`.
 */
export function testDatabaseUrl(): Promise<string | undefined> {
  started ??= (async () => {
    if (process.env.SIMTAP_POSTGRES_ASSUME_MISSING === '1') return undefined;
    const env = process.env.SIMTAP_TEST_DATABASE_URL;
    if (env) return env;
    if (!postgresBinariesInstalled()) return undefined;
    return startCluster();
  })();
  return started;
}

/**
 * {@link testDatabaseUrl} for a test file: when there is no server it prints one line (`<subject> skipped: …`) and
 * resolves `undefined` — or, under `CI=true`, throws (CI must run these tests).
 */
export async function postgresForTests(subject: string): Promise<string | undefined> {
  const url = await testDatabaseUrl();
  if (url !== undefined) return url;
  const line = `${subject} ${POSTGRES_SKIP_REASON}`;
  if (process.env.CI === 'true') throw new Error(`CI=true, so this is a failure, not a skip: ${line}`);
  console.warn(line);
  return undefined;
}

/** A schema of its own for one test (or one store fixture), dropped by `drop()`. */
export interface TestSchema {
  readonly name: string;
  drop(): Promise<void>;
}

/** Creates an empty schema `t_<random>` in the database at `url`. */
export async function freshSchema(url: string): Promise<TestSchema> {
  const name = `t_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA ${name}`);
  } finally {
    await client.end();
  }
  return {
    name,
    drop: async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
      } finally {
        await c.end();
      }
    },
  };
}
