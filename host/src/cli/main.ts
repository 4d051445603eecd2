/**
 * `simtap-host` as a function: {@link main} takes the arguments and the process's streams, and resolves with the
 * exit status once the server has stopped (its `signal` aborted) — or at once for `--help`, `--version`, `cert` and
 * a bad command line. The executable (`simtap-host.ts`) wires it to the process.
 *
 * A run: the data directory is checked (created if missing; unusable → exit 2), the ledger opened (SQLite
 * `DIR/simtap.db`, or PostgreSQL), the platform opened on the reference profile (seeded at the first start), the
 * server started; one line says where it listens. On abort: the server closes gracefully, then the platform.
 * @module
 */
import { accessSync, constants, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import { referenceProfile } from '@simtap/sdk/core/profile';
import pino from 'pino';
import { SoftwareIssuerKeyStore } from '../keys';
import { type LedgerStore, openPostgresLedger, openSqliteLedger } from '../ledger';
import { type OtaBus, openPostgresOtaBus } from '../ota';
import { openPlatform, type Platform, platformConfigFromProfile } from '../platform';
import { CONSOLE_PATH, createPlatformServer, type PlatformServer } from '../server';
import { CERT_FILES, writeDevCertificates } from './cert';
import {
  CLI_NAME,
  CLI_VERSION,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  helpText,
  parseCommandLine,
  type RunOptions,
} from './options';

/** Where `main` writes, and what it reads of its process. */
export interface CliIo {
  /** The listening line and the command's answers. */
  readonly stdout: { write(text: string): unknown };
  /** Errors (one line each) and the JSON log lines. */
  readonly stderr: { write(text: string): unknown };
  readonly env: NodeJS.ProcessEnv;
  /** What relative paths are relative to. */
  readonly cwd: string;
  /** Aborting it stops the server gracefully. */
  readonly signal?: AbortSignal;
}

/** The database file in the data directory. */
export const DATABASE_FILE = 'simtap.db';

/** Runs `simtap-host` with `argv` (the arguments after the command); resolves with the exit status. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const say = (line: string) => io.stdout.write(`${line}\n`);
  const fail = (line: string, status: number) => {
    io.stderr.write(`${CLI_NAME}: ${line}\n`);
    return status;
  };
  const cmd = parseCommandLine(argv, io.env);
  switch (cmd.kind) {
    case 'help':
      say(helpText());
      return EXIT_OK;
    case 'version':
      say(`${CLI_NAME} ${CLI_VERSION}`);
      return EXIT_OK;
    case 'usage':
      return fail(`${cmd.message} (see ${CLI_NAME} --help)`, EXIT_USAGE);
    case 'cert': {
      const dir = resolve(io.cwd, cmd.out);
      let r: ReturnType<typeof writeDevCertificates>;
      try {
        r = writeDevCertificates(dir, { force: cmd.force });
      } catch (e) {
        return fail(`cannot write the certificates to ${dir}: ${oneLine(e)}`, EXIT_FAILURE);
      }
      if ('exists' in r) return fail(`${r.exists} exists; --force replaces it`, EXIT_FAILURE);
      say(`${CLI_NAME}: wrote a development CA and a localhost certificate to ${dir}`);
      say(`  serve wss://:  ${CLI_NAME} --tls-key ${r.written.key} --tls-cert ${r.written.cert}`);
      say(
        `  clients trust: ${r.written.caCert} (e.g. NODE_EXTRA_CA_CERTS=${r.written.caCert}); keep ${CERT_FILES.caKey} private`,
      );
      return EXIT_OK;
    }
    case 'run':
      return run(cmd.options, io, fail, say);
  }
}

async function run(
  o: RunOptions,
  io: CliIo,
  fail: (line: string, status: number) => number,
  say: (line: string) => void,
): Promise<number> {
  let tls: { key: Buffer; cert: Buffer } | undefined;
  if (o.tlsKey !== undefined && o.tlsCert !== undefined) {
    const read = (file: string, option: string): Buffer | string => {
      try {
        return readFileSync(resolve(io.cwd, file));
      } catch (e) {
        return `cannot read ${option} ${file}: ${oneLine(e)}`;
      }
    };
    const key = read(o.tlsKey, '--tls-key');
    if (typeof key === 'string') return fail(key, EXIT_USAGE);
    const cert = read(o.tlsCert, '--tls-cert');
    if (typeof cert === 'string') return fail(cert, EXIT_USAGE);
    try {
      createSecureContext({ key, cert }); // checked before anything is opened
    } catch (e) {
      return fail(`--tls-key / --tls-cert are not a usable key and certificate: ${oneLine(e)}`, EXIT_USAGE);
    }
    tls = { key, cert };
  }

  let data: string;
  let ledger: LedgerStore;
  let otaBus: OtaBus | undefined;
  if (o.databaseUrl === undefined) {
    const dir = resolve(io.cwd, o.dataDir);
    const problem = dataDirProblem(dir);
    if (problem !== undefined) return fail(`unusable data directory ${dir}: ${problem}`, EXIT_USAGE);
    data = dir;
    try {
      ledger = openSqliteLedger({ path: join(dir, DATABASE_FILE) });
    } catch (e) {
      return fail(`cannot open the database ${join(dir, DATABASE_FILE)}: ${oneLine(e)}`, EXIT_FAILURE);
    }
  } else {
    data = redactUrl(o.databaseUrl);
    try {
      ledger = await openPostgresLedger({ connectionString: o.databaseUrl });
    } catch (e) {
      return fail(`cannot open the PostgreSQL database ${data}: ${oneLine(e)}`, EXIT_FAILURE);
    }
    try {
      // Instances on one database reach each other's phones through it (LISTEN/NOTIFY).
      otaBus = await openPostgresOtaBus({ connectionString: o.databaseUrl });
    } catch (e) {
      await ledger.close().catch(() => {});
      return fail(`cannot listen for other instances on ${data}: ${oneLine(e)}`, EXIT_FAILURE);
    }
  }

  const logger = pino({ name: CLI_NAME, level: o.logLevel }, io.stderr as pino.DestinationStream);
  const profile = referenceProfile();
  let platform: Platform;
  try {
    platform = await openPlatform({
      ledger,
      keys: SoftwareIssuerKeyStore.fromProfile(profile),
      config: { ...platformConfigFromProfile(profile), lostCardHoldMs: o.lostCardHoldMs },
      logger: logger.child({ area: 'platform' }),
    });
  } catch (e) {
    await ledger.close().catch(() => {});
    await otaBus?.close();
    return fail(`cannot open the platform on ${data}: ${oneLine(e)}`, EXIT_FAILURE);
  }

  let server: PlatformServer;
  let url: string;
  try {
    server = createPlatformServer({
      platform,
      clients: profile.platform.clients,
      host: o.host,
      port: o.port,
      logger: logger.child({ area: 'server' }),
      ...(tls ? { tls } : {}),
      ...(otaBus ? { otaBus } : {}),
    });
    ({ url } = await server.listen());
  } catch (e) {
    await platform.close().catch(() => {});
    await otaBus?.close();
    const code = (e as { code?: string }).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
      return fail(`cannot listen on ${o.host}:${o.port}: ${oneLine(e)}`, EXIT_FAILURE);
    if (tls !== undefined)
      return fail(`--tls-key / --tls-cert are not a usable key and certificate: ${oneLine(e)}`, EXIT_USAGE);
    return fail(`cannot start the server: ${oneLine(e)}`, EXIT_FAILURE);
  }
  say(`${CLI_NAME} listening on ${url} (data: ${data}, store: ${o.databaseUrl === undefined ? 'sqlite' : 'postgres'})`);
  say(
    server.console.ok
      ? `${CLI_NAME} operator console: ${url.replace(/^ws/, 'http')}${CONSOLE_PATH} (sign in as an operator of the profile)`
      : `${CLI_NAME} operator console not served: ${server.console.reason}`,
  );

  // Lost cards whose hold has ended: their floats go back to the customers' phone accounts (once, whichever
  // instance gets there first), at the start and every hour.
  let releasing: Promise<void> = Promise.resolve();
  const release = (): void => {
    releasing = platform.contactless
      .releaseEndedHolds()
      .then((released) => {
        for (const r of released)
          logger.info({ area: 'cards', card: r.cardSerial, moved: r.moved }, 'lost card float released after its hold');
      })
      .catch((e: unknown) => logger.warn({ area: 'cards', err: oneLine(e) }, 'releasing lost cards’ floats failed'));
  };
  release();
  const releaser = setInterval(release, RELEASE_INTERVAL_MS);
  releaser.unref();

  await new Promise<void>((done) => {
    if (io.signal === undefined) return; // runs until the process ends
    if (io.signal.aborted) done();
    else io.signal.addEventListener('abort', () => done(), { once: true });
  });
  clearInterval(releaser);
  await releasing; // never rejects: its failure is logged
  let status = EXIT_OK;
  try {
    await server.close();
  } catch (e) {
    status = fail(`the server did not close cleanly: ${oneLine(e)}`, EXIT_FAILURE);
  }
  await otaBus?.close();
  try {
    await platform.close();
  } catch (e) {
    status = fail(`the platform did not close cleanly: ${oneLine(e)}`, EXIT_FAILURE);
  }
  logger.flush();
  say(`${CLI_NAME} stopped`);
  return status;
}

/** How often `simtap-host` releases the floats of lost cards whose hold has ended. */
const RELEASE_INTERVAL_MS = 3_600_000;

/** What makes `dir` unusable as the data directory (creating it if missing), or `undefined`. */
export function dataDirProblem(dir: string): string | undefined {
  try {
    if (!statSync(dir).isDirectory()) return 'it is not a directory';
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOTDIR') return 'a part of its path is a file';
    if (code !== 'ENOENT') return oneLine(e);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e2) {
      return `it cannot be created (${oneLine(e2)})`;
    }
  }
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    return 'it is not writable';
  }
  return undefined;
}

/** The URL without its password and query (what the listening line and errors may show). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    u.search = '';
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 300);
}
