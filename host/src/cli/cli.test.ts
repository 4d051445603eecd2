/**
 * `simtap-host`: the command line (help, version, bad options and an unusable data directory exit 2 with one
 * line), `cert` (a CA and a localhost certificate that `wss://` accepts), a run in-process over TLS, and the real
 * process started from the sources on a free port with `--data` in a temporary folder: it answers over a raw
 * WebSocket, logs JSON lines without secrets, and stops on SIGTERM (connections closed 1001, exit 0).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { toHex } from '@simtap/sdk/core/bytes';
import forge from 'node-forge';
import { afterAll, describe, expect, it } from 'vitest';
import { profile, SERIAL1 } from '../platform/platform.test-support';
import { APP, OPERATOR, RawClient } from '../server/server.test-support';
import { CERT_FILES } from './cert';
import { DATABASE_FILE, main, redactUrl } from './main';
import { CLI_OPTIONS, CLI_VERSION, parseCommandLine, parseListen } from './options';

const REPO = resolve(import.meta.dirname, '../../..');
const tmp = mkdtempSync(join(tmpdir(), 'simtap-host-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** `main` in-process with captured streams. */
async function cli(
  argv: string[],
  o: { signal?: AbortSignal; env?: NodeJS.ProcessEnv; onOut?: (s: string) => void } = {},
) {
  let stdout = '';
  let stderr = '';
  const status = await main(argv, {
    stdout: {
      write: (s: string) => {
        stdout += s;
        o.onOut?.(s);
      },
    },
    stderr: { write: (s: string) => (stderr += s) },
    env: o.env ?? {},
    cwd: tmp,
    ...(o.signal ? { signal: o.signal } : {}),
  });
  return { status, stdout, stderr };
}

describe('command line', () => {
  it('prints the help with every option, and the version', async () => {
    const help = await cli(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: simtap-host \[options\]/);
    for (const o of CLI_OPTIONS) expect(help.stdout).toContain(`--${o.name}`);
    expect((await cli(['-h'])).stdout).toBe(help.stdout);
    expect(await cli(['--version'])).toEqual({ status: 0, stdout: `simtap-host ${CLI_VERSION}\n`, stderr: '' });
    expect(CLI_VERSION).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('exits 2 with one line on a bad option', async () => {
    writeFileSync(join(tmp, 'garbage.pem'), 'not a PEM\n');
    for (const [argv, says] of [
      [['--nope'], 'unknown option --nope'],
      [['--listen'], '--listen needs a value'],
      [['--listen', 'localhost'], '--listen must be HOST:PORT'],
      [['--listen', '127.0.0.1:70000'], 'above 65535'],
      [['--log-level', 'loud'], '--log-level must be one of'],
      [['--tls-key', 'k.pem'], '--tls-key and --tls-cert go together'],
      [['--database-url', 'mysql://x'], 'must be a postgres://'],
      [['--lost-card-hold=-1'], '--lost-card-hold must be a number of days from 0 to 3650, not "-1"'],
      [['--lost-card-hold', 'a week'], '--lost-card-hold must be a number of days'],
      [['--lost-card-hold', '4000'], '--lost-card-hold must be a number of days from 0 to 3650'],
      [['--out', 'x'], '--out is an option of simtap-host cert'],
      [['stray'], 'unexpected argument "stray"'],
      [['cert', '--listen', '1.2.3.4:5'], '--listen is an option of simtap-host'],
      [['--tls-key', 'missing.pem', '--tls-cert', 'missing.pem'], 'cannot read --tls-key missing.pem'],
      [['--tls-key', 'garbage.pem', '--tls-cert', 'garbage.pem'], 'not a usable key and certificate'],
    ] as const) {
      const r = await cli([...argv]);
      expect(r.status, argv.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(says);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^simtap-host: .*\(see simtap-host --help\)\n$|^simtap-host: (cannot read|--tls-key)/);
    }
    expect(parseCommandLine([], { SIMTAP_DATABASE_URL: 'file:x' })).toMatchObject({ kind: 'usage' });
    expect(parseCommandLine([], { SIMTAP_DATABASE_URL: 'postgres://u:p@h/db' })).toMatchObject({
      kind: 'run',
      options: { databaseUrl: 'postgres://u:p@h/db', host: '127.0.0.1', port: 7800, dataDir: './data' },
    });
    expect(parseCommandLine([])).toMatchObject({ options: { lostCardHoldMs: 7 * 24 * 3600 * 1000 } });
    expect(parseCommandLine(['--lost-card-hold', '0'])).toMatchObject({ options: { lostCardHoldMs: 0 } });
    expect(parseCommandLine(['--lost-card-hold', '0.5'])).toMatchObject({ options: { lostCardHoldMs: 43_200_000 } });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListen('localhost:7800')).toEqual({ host: 'localhost', port: 7800 });
    expect(redactUrl('postgres://simtap:s3cret@db:5432/simtap?password=x')).toBe(
      'postgres://simtap:***@db:5432/simtap',
    );
  });

  it('exits 2 with one line when the data directory is unusable (a file)', async () => {
    const file = join(tmp, 'not-a-dir');
    writeFileSync(file, 'x');
    const r = await cli(['--data', file, '--listen', '127.0.0.1:0']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`simtap-host: unusable data directory ${file}: it is not a directory\n`);
    const below = await cli(['--data', join(file, 'sub'), '--listen', '127.0.0.1:0']);
    expect(below.status).toBe(2);
    expect(below.stderr).toBe(
      `simtap-host: unusable data directory ${join(file, 'sub')}: a part of its path is a file\n`,
    );
  });

  it('exits 1 with one line when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const { port } = blocker.address() as { port: number };
    const r = await cli(['--data', join(tmp, 'busy'), '--listen', `127.0.0.1:${port}`]);
    blocker.close();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^simtap-host: cannot listen on 127.0.0.1:${port}: .*EADDRINUSE.*\\n$`));
  });
});

describe('cert', () => {
  it('writes a CA and a localhost certificate it signs; refuses to replace them without --force', async () => {
    const out = join(tmp, 'tls');
    const r = await cli(['cert', '--out', out]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`--tls-key ${join(out, CERT_FILES.key)} --tls-cert ${join(out, CERT_FILES.cert)}`);
    const ca = forge.pki.certificateFromPem(readFileSync(join(out, CERT_FILES.caCert), 'utf8'));
    const cert = forge.pki.certificateFromPem(readFileSync(join(out, CERT_FILES.cert), 'utf8'));
    expect(ca.verify(cert)).toBe(true);
    expect(ca.getExtension('basicConstraints')).toMatchObject({ cA: true });
    expect(cert.subject.getField('CN').value).toBe('localhost');
    expect(
      (cert.getExtension('subjectAltName') as { altNames: Array<{ value?: string; ip?: string }> }).altNames,
    ).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ value: 'localhost' }),
        expect.objectContaining({ ip: '127.0.0.1' }),
      ]),
    );
    expect(statSync(join(out, CERT_FILES.key)).mode & 0o077).toBe(0);
    expect(statSync(join(out, CERT_FILES.caKey)).mode & 0o077).toBe(0);
    const again = await cli(['cert', '--out', out]);
    expect(again).toMatchObject({ status: 1, stderr: expect.stringContaining('exists; --force replaces it') });
    expect((await cli(['cert', '--out', out, '--force'])).status).toBe(0);
  });

  it('serves wss:// with them: a client trusting the CA connects, one that does not is refused', async () => {
    const out = join(tmp, 'tls');
    const stop = new AbortController();
    let listening: (line: string) => void = () => {};
    const line = new Promise<string>((r) => {
      listening = r;
    });
    const running = cli(
      [
        '--data',
        join(tmp, 'tls-data'),
        '--listen',
        '127.0.0.1:0',
        '--log-level',
        'silent',
        '--tls-key',
        join(out, CERT_FILES.key),
        '--tls-cert',
        join(out, CERT_FILES.cert),
      ],
      { signal: stop.signal, onOut: (s) => listening(s) },
    );
    const url = /listening on (wss:\/\/127\.0\.0\.1:\d+) /.exec(await line)?.[1];
    expect(url).toBeDefined();
    const ca = readFileSync(join(out, CERT_FILES.caCert));
    const c = await RawClient.session(url!, '/v1/app', APP, { ca });
    expect((await c.call('wallet.float', { cardSerial: SERIAL1 })).result).toEqual({ balance: 0 });
    await expect(RawClient.open(url!, '/v1/app')).rejects.toThrow(/certificate/);
    stop.abort();
    expect((await c.closed).code).toBe(1001);
    expect((await running).status).toBe(0);
  });
});

describe('the simtap-host process', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    child?.kill('SIGKILL');
  });

  it('starts on a free port with --data, answers, logs without secrets, and stops on SIGTERM (1001, exit 0)', async () => {
    const data = join(tmp, 'proc-data');
    child = spawn(
      process.execPath,
      [
        '--conditions=source',
        '--import',
        'tsx',
        'host/src/cli/simtap-host.ts',
        '--listen',
        '127.0.0.1:0',
        '--data',
        data,
        '--log-level',
        'debug',
      ],
      { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d));
    child.stderr!.on('data', (d: Buffer) => (stderr += d));
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    const deadline = Date.now() + 20_000;
    while (!/listening on ws:\/\/127\.0\.0\.1:\d+ /.test(stdout)) {
      if (Date.now() > deadline) throw new Error(`no listening line: ${stdout} ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    while (!stdout.includes('operator console')) {
      if (Date.now() > deadline) throw new Error(`no console line: ${stdout} ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(stdout).toMatch(
      new RegExp(
        `^simtap-host listening on ws://127\\.0\\.0\\.1:\\d+ \\(data: ${data}, store: sqlite\\)\\n` +
          'simtap-host operator console: http://127\\.0\\.0\\.1:\\d+/console/ \\(sign in as an operator of the profile\\)\\n$',
      ),
    );
    const url = /(ws:\/\/127\.0\.0\.1:\d+)/.exec(stdout)![1]!;
    expect(existsSync(join(data, DATABASE_FILE))).toBe(true);
    const app = await RawClient.session(url, '/v1/app', APP);
    expect(
      (await app.call('customers.topUpPhoneAccount', { idempotencyKey: 'p-1', msisdn: '13800138001', amount: 300 }))
        .result,
    ).toEqual({ balance: 300 });
    const con = await RawClient.session(url, '/v1/console', OPERATOR);
    expect((await con.call('ledger.verify', {})).result).toMatchObject({ ok: true, sum: 0 });
    expect((await con.call('cards.list', {})).result?.cards).toHaveLength(profile.cards.length);
    child.kill('SIGTERM');
    expect((await app.closed).code).toBe(1001);
    expect((await con.closed).code).toBe(1001);
    expect(await exited).toBe(0);
    expect(stdout).toMatch(/simtap-host stopped\n$/);
    // Logs: JSON lines, one per connection at info and per request at debug; no secret, no params.
    const lines = stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.msg === 'connection open')).toHaveLength(2);
    expect(lines.filter((l) => l.msg === 'connection closed').map((l) => [l.client, l.code])).toEqual(
      expect.arrayContaining([
        [APP, 1001],
        [OPERATOR, 1001],
      ]),
    );
    expect(lines.find((l) => l.msg === 'request' && l.method === 'customers.topUpPhoneAccount')).toMatchObject({
      level: 20,
      id: 2,
      ms: expect.any(Number),
    });
    const upper = stderr.toUpperCase();
    for (const c of profile.platform.clients) expect(upper).not.toContain(toHex(c.secret).slice(0, 16));
    expect(stderr).not.toContain('13800138001');
    child = undefined;
  }, 30_000);
});
