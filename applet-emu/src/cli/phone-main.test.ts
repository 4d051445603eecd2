// simtap-phone run in-process against a stub /v1/ota endpoint, and once as a child process for SIGTERM.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { toHex } from '@simtap/sdk/core/bytes';
import { fleetCard, referenceProfile } from '@simtap/sdk/core/profile';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { authenticateHello, StubPlatform } from '../bridges/ota/stub-platform.test-support';
import { LIFECYCLE } from '../runtime/applet';
import { loadSim } from '../sim';
import { type PhoneMainOptions, phoneMain } from './phone-main';
import { PHONE_CLI_OPTIONS, parsePhoneArgs } from './phone-options';

const REPO = path.resolve(import.meta.dirname, '../../..');
const CARD = referenceProfile().cards[0]!;
const SERIAL = toHex(CARD.applicationSerial);

let platform: StubPlatform | undefined;
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'simtap-phone-'));
});
afterEach(async () => {
  await platform?.close();
  platform = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** Runs phoneMain in-process; `out` / `err` collect its lines. */
function start(argv: string[], opts: Omit<PhoneMainOptions, 'io'> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const done = phoneMain(argv, {
    io: { out: (l) => out.push(l), err: (l) => err.push(l) },
    reconnect: { minMs: 5, maxMs: 20 },
    ...opts,
  });
  return { out, err, done };
}

async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('simtap-phone: the command line', () => {
  it('--help lists every option; --version', async () => {
    const help = start(['--help']);
    expect(await help.done).toBe(0);
    expect(help.out[0]).toMatch(/^Usage: simtap-phone \[options\]/);
    for (const def of PHONE_CLI_OPTIONS) expect(help.out[0]).toContain(`--${def.name}`);
    const version = start(['--version']);
    expect(await version.done).toBe(0);
    expect(version.out).toEqual([expect.stringMatching(/^simtap-phone \d+\.\d+\.\d+/)]);
  });

  it('parses its options, with defaults', () => {
    expect(parsePhoneArgs([])).toEqual({
      kind: 'run',
      options: {
        card: 'card-1',
        image: undefined,
        url: 'ws://127.0.0.1:7800',
        msisdn: undefined,
        iccid: undefined,
        topUp: undefined,
        exitWhenReady: false,
        logLevel: 'warn',
      },
    });
    const argv = ['--card', 'card-2', '--image', 'x.img', '--url', 'wss://h:1', '--msisdn', '13900000000'];
    argv.push('--iccid', '8986004401202600099f', '--top-up', '2000', '--exit-when-ready', '--log-level', 'debug');
    expect(parsePhoneArgs(argv)).toEqual({
      kind: 'run',
      options: {
        card: 'card-2',
        image: 'x.img',
        url: 'wss://h:1',
        msisdn: '13900000000',
        iccid: '8986004401202600099F',
        topUp: 2000,
        exitWhenReady: true,
        logLevel: 'debug',
      },
    });
  });

  it('exits 2 with one line on a bad command line', async () => {
    for (const [argv, line] of [
      [['--nope'], 'unknown option --nope'],
      [['stray'], "unexpected argument 'stray'"],
      [['--card', 'card-9'], '--card must be one of'],
      [['--card', 'fleet-1000000'], '--card must be one of'],
      [['--card', 'fleet-07'], '--card must be one of'],
      [['--url', 'http://127.0.0.1:7800'], '--url expects ws://HOST:PORT'],
      [['--url'], 'option --url needs a value'],
      [['--top-up', '0'], '--top-up expects whole fen'],
      [['--top-up', '1.5'], '--top-up expects whole fen'],
      [['--msisdn', '+86138'], '--msisdn expects 5–15 digits'],
      [['--iccid', 'XYZ'], '--iccid expects 18–20 hex digits'],
      [['--log-level', 'loud'], '--log-level must be one of'],
      [['--exit-when-ready=1'], 'option --exit-when-ready does not take a value'],
      [['--card', 'card-1', '--card', 'card-2'], '--card given more than once'],
    ] as const) {
      const run = start([...argv]);
      expect(await run.done, argv.join(' ')).toBe(2);
      expect(run.err, argv.join(' ')).toEqual([expect.stringContaining(line)]);
      expect(run.err[0]).toMatch(/^simtap-phone: .*\(see simtap-phone --help\)$/);
    }
  });

  it('exits 2 with one line when --image cannot be used', async () => {
    const missingDir = start(['--image', path.join(dir, 'no', 'such', 'dir', 'sim.img')]);
    expect(await missingDir.done).toBe(2);
    expect(missingDir.err).toEqual([expect.stringMatching(/^simtap-phone: cannot use --image .*sim\.img/)]);

    const garbage = path.join(dir, 'garbage.img');
    writeFileSync(garbage, 'not a card image');
    const corrupt = start(['--image', garbage]);
    expect(await corrupt.done).toBe(2);
    expect(corrupt.err).toEqual([expect.stringMatching(/^simtap-phone: cannot load --image .*IMAGE_/)]);
    expect(readFileSync(garbage, 'utf8')).toBe('not a card image');
  });
});

describe('simtap-phone against a platform', () => {
  it('creates the image blank on first use, saves it after commands, reuses it on the next run', async () => {
    const image = path.join(dir, 'sim.img');
    let atHello: Buffer | undefined;
    platform = await StubPlatform.start({
      hello: (conn, params) => {
        atHello ??= readFileSync(image);
        return authenticateHello(conn, params);
      },
    });
    const first = start(['--image', image, '--url', platform.url, '--exit-when-ready']);
    expect(await first.done).toBe(0);
    expect(first.err).toEqual([]);
    expect(first.out[0]).toContain(`SIM image ${image} (created blank)`);
    expect(first.out).toContain(`simtap-phone: connected to ${platform.url}/v1/ota: card ${SERIAL} is issued`);
    expect(first.out).toContain('ready: nothing to do');
    expect(first.out.at(-1)).toBe(`simtap-phone: stopped; SIM image saved to ${image}`);
    expect(existsSync(`${image}.lock`)).toBe(false);
    // Blank: the e-purse is installed, not personalized.
    const sim = await loadSim(image);
    expect(sim.registry.get(referenceProfile().card.epurse.aid)?.lifecycle).not.toBe(LIFECYCLE.PERSONALIZED);
    // INITIALIZE UPDATE moved the ISD's sequence counter: the image changed after the command.
    expect(atHello).toBeDefined();
    expect(readFileSync(image).equals(atHello!)).toBe(false);

    const second = start(['--image', image, '--url', platform.url, '--exit-when-ready']);
    expect(await second.done).toBe(0);
    expect(second.out[0]).toContain(`SIM image ${image} (loaded)`);
    expect(platform.connections.map((c) => c.scpCounters)).toEqual([[1], [2]]); // the counter persisted
  });

  it('prints one line per notice, tops up once ready, exits 0 with --exit-when-ready', async () => {
    platform = await StubPlatform.start({
      afterHello: (conn) => {
        conn.notice({ kind: 'personalized', message: 'personalized', cardSerial: SERIAL });
        conn.notice({ kind: 'loaded', message: 'x', cardSerial: SERIAL, amount: 2000, balance: 7000 });
        conn.notice({ kind: 'refused', message: 'a line\nwith\u0007controls' });
        conn.notice({ kind: 'ready', message: 'done for now' });
      },
    });
    const run = start(['--url', platform.url, '--top-up', '2000', '--exit-when-ready']);
    expect(await run.done).toBe(0);
    expect(run.out).toEqual([
      expect.stringMatching(/^simtap-phone \d+\.\d+\.\d+: card-1, a blank SIM in memory; platform ws:/),
      `simtap-phone: connected to ${platform.url}/v1/ota: card ${SERIAL} is issued`,
      `personalized: card ${SERIAL} is active`,
      'loaded 20.00 yuan over the air, purse 70.00',
      'refused: a line with controls',
      'ready: done for now',
      expect.stringMatching(
        /^simtap-phone: top-up of 20\.00 yuan from the phone account: load load-simtap-phone-.* posted$/,
      ),
      'simtap-phone: stopped',
    ]);
    expect(platform.topUps).toEqual([{ idempotencyKey: expect.stringMatching(/^simtap-phone-/), amount: 2000 }]);
  });

  it('holds a fleet card (fleet-<n>): its own identity and ISD keys', async () => {
    const fleet7 = fleetCard(7);
    const reference = referenceProfile();
    platform = await StubPlatform.start({ profile: { ...reference, cards: [...reference.cards, fleet7] } });
    const run = start(['--card', 'fleet-7', '--url', platform.url, '--exit-when-ready']);
    expect(await run.done).toBe(0);
    expect(platform.hellos).toEqual([{ msisdn: fleet7.msisdn, iccid: fleet7.iccid }]);
    expect(run.out).toContain(
      `simtap-phone: connected to ${platform.url}/v1/ota: card ${toHex(fleet7.applicationSerial)} is issued`,
    );
  });

  it('exits 1 with one line when the platform refuses the SIM (IDENTITY_REFUSED)', async () => {
    platform = await StubPlatform.start();
    const run = start(['--url', platform.url, '--msisdn', '13800138009']);
    expect(await run.done).toBe(1);
    expect(run.err).toEqual([expect.stringMatching(/^simtap-phone: the platform refused the SIM: .*IDENTITY_REFUSED/)]);
    expect(run.out[0]).toContain('claiming MSISDN 13800138009');
  });

  it('exits 1 with one line when the platform cannot be reached at start', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const { port } = server.address() as net.AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const run = start(['--url', `ws://127.0.0.1:${port}`]);
    expect(await run.done).toBe(1);
    expect(run.err).toEqual([
      expect.stringMatching(/^simtap-phone: cannot reach the platform: .*PHONE_CONNECT_FAILED/),
    ]);
  });

  it('reconnects when the link drops, then stops cleanly (0, link closed 1000) when told to', async () => {
    platform = await StubPlatform.start();
    const image = path.join(dir, 'sim.img');
    const stop = new AbortController();
    let phone: import('../bridges/ota').VirtualPhone | undefined;
    const run = start(['--image', image, '--url', platform.url], {
      signal: stop.signal,
      onPhone: (p) => {
        phone = p;
      },
    });
    await until(() => run.out.some((l) => l.includes('ready:')), 'ready');
    phone!.cut();
    await until(() => run.out.some((l) => l.startsWith('simtap-phone: reconnected')), 'the reconnect');
    expect(run.out).toContainEqual(expect.stringMatching(/^simtap-phone: link lost \(close 1006\); reconnecting in/));
    stop.abort();
    expect(await run.done).toBe(0);
    expect(await platform.connections[1]!.closed).toBe(1000);
    expect(run.out.at(-1)).toBe(`simtap-phone: stopped; SIM image saved to ${image}`);
    expect(run.err).toEqual([]);
  });
});

describe('simtap-phone as a process', () => {
  it('is declared as a bin with a committed launcher', () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO, 'applet-emu/package.json'), 'utf8')) as {
      bin: Record<string, string>;
    };
    expect(pkg.bin['simtap-phone']).toBe('./bin/simtap-phone.js');
    expect(readFileSync(path.join(REPO, 'applet-emu/bin/simtap-phone.js'), 'utf8')).toContain(
      "import '../dist/cli/simtap-phone.js';",
    );
  });

  it('stops cleanly on SIGTERM: link closed with 1000, image saved, exit status 0', async () => {
    platform = await StubPlatform.start();
    const image = path.join(dir, 'sim.img');
    const proc = spawn(
      process.execPath,
      [
        '--conditions=source',
        '--import',
        'tsx',
        'applet-emu/src/cli/simtap-phone.ts',
        '--image',
        image,
        '--url',
        platform.url,
      ],
      { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    proc.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    proc.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    try {
      await until(() => output.includes('ready:'), 'the child to be ready', 20_000);
      proc.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(output).toContain(`simtap-phone: stopped; SIM image saved to ${image}`);
      expect(await platform.connections[0]!.closed).toBe(1000);
    } finally {
      proc.kill('SIGKILL');
    }
  }, 30_000);
});
