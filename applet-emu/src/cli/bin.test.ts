// The installed `simtap-card` bin: built by tsup, linked by `npm install`, runnable with npx from the repository root.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CLI_OPTIONS } from './options';

const run = promisify(execFile);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Whether `pid` runs (a zombie nobody reaps, as under a container's init, counts as gone). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** A port on 127.0.0.1 where nothing listens. */
async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `npx simtap-card` with an image, waiting for vpcd forever, in its own process group (as a terminal runs it). */
async function npxCard(dir: string) {
  const image = path.join(dir, 'card.img');
  const port = await deadPort();
  const npx = spawn(
    'npx',
    ['--no-install', 'simtap-card', '--image', image, '--vpcd', `127.0.0.1:${port}`, '--wait', '0'],
    {
      cwd: REPO,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  npx.stdout.on('data', (d: Buffer) => {
    output += d.toString();
  });
  npx.stderr.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    npx.once('exit', (code, signal) => resolve({ code, signal })),
  );
  /** Ends the whole group (npx, sh, the card) if a failed test left it running. */
  const cleanup = (): void => {
    try {
      process.kill(-npx.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  try {
    await until(() => existsSync(`${image}.lock`) && output.includes('waiting for'), 'the card to start under npx');
  } catch (err) {
    cleanup();
    throw err;
  }
  const cardPid = (JSON.parse(readFileSync(`${image}.lock`, 'utf8')) as { pid: number }).pid;
  return { npx, image, cardPid, output: () => output, exited, cleanup };
}
const REPO = path.resolve(import.meta.dirname, '../../..');
const BIN = path.join(REPO, 'applet-emu/dist/cli/simtap-card.js');

describe('simtap-card bin', () => {
  it('is declared in the package and built as an executable node script', async () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO, 'applet-emu/package.json'), 'utf8')) as {
      bin: Record<string, string>;
    };
    // A committed launcher, so `npm install` can link it before the build creates dist/.
    expect(pkg.bin['simtap-card']).toBe('./bin/simtap-card.js');
    expect(readFileSync(path.join(REPO, 'applet-emu/bin/simtap-card.js'), 'utf8')).toContain(
      '../dist/cli/simtap-card.js',
    );
    // `npm install` builds every workspace (root `prepare`); build here only when a developer has no dist yet,
    // never underneath other test files that may be running the built CLI.
    if (!existsSync(BIN) || !existsSync(path.join(REPO, 'sdk/dist/index.js')))
      await run('npm', ['run', 'build', '-w', 'sdk', '-w', 'applet-emu'], { cwd: REPO, maxBuffer: 1 << 24 });
    expect(readFileSync(BIN, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(statSync(BIN).mode & 0o111).not.toBe(0);
  }, 240_000);

  it('runs as `npx simtap-card --help` from the repository root', async () => {
    expect(existsSync(BIN)).toBe(true);
    const linked = existsSync(path.join(REPO, 'node_modules/.bin/simtap-card'));
    if (!linked) throw new Error('node_modules/.bin/simtap-card is missing: run `npm install` at the repository root');
    const { stdout } = await run('npx', ['--no-install', 'simtap-card', '--help'], { cwd: REPO });
    expect(stdout).toMatch(/^Usage: simtap-card \[options\]/);
    for (const def of CLI_OPTIONS) expect(stdout).toContain(`--${def.name}`);
    const version = await run('npx', ['--no-install', 'simtap-card', '--version'], { cwd: REPO });
    expect(version.stdout.trim()).toMatch(/^simtap-card \d+\.\d+\.\d+/);
    await expect(run('npx', ['--no-install', 'simtap-card', '--nope'], { cwd: REPO })).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('unknown option --nope'),
    });
  }, 60_000);

  it('under npx, SIGTERM to npx stops the card cleanly too (else it would run on, orphaned, holding its image)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'simtap-npx-'));
    let card: Awaited<ReturnType<typeof npxCard>> | undefined;
    try {
      card = await npxCard(dir);
      expect(card.cardPid).not.toBe(card.npx.pid); // npx → sh -c → node
      card.npx.kill('SIGTERM'); // npm forwards it to `sh`, which dies; the card never gets it
      await card.exited;
      const cardPid = card.cardPid;
      await until(() => !running(cardPid), 'the orphaned card to notice and stop');
      expect(card.output()).toContain('simtap-card: npx went away (its shell ended); stopping');
      expect(card.output()).toContain(`simtap-card: stopped; card image saved to ${card.image}`);
      expect(existsSync(`${card.image}.lock`)).toBe(false);
    } finally {
      card?.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('Ctrl-C through npx: the card stops cleanly, and npx exits 130 (SIGINT) where /bin/sh is dash', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'simtap-npx-'));
    let card: Awaited<ReturnType<typeof npxCard>> | undefined;
    try {
      card = await npxCard(dir);
      process.kill(-card.npx.pid!, 'SIGINT'); // what a terminal's Ctrl-C does: SIGINT to the whole foreground group
      const { code, signal } = await card.exited;
      // dash (Debian's /bin/sh) waits for the card, then dies of the SIGINT itself; npm re-raises it: 128 + 2.
      // A shell that waits and exits with its child's status (bash) lets npx exit 0.
      if (path.basename(realpathSync('/bin/sh')) === 'dash')
        expect({ code, signal }).toEqual({ code: null, signal: 'SIGINT' });
      else expect({ code, signal }).toEqual({ code: 0, signal: null });
      expect(running(card.cardPid)).toBe(false); // npx returned after the card had stopped
      expect(card.output()).toContain(`simtap-card: stopped; card image saved to ${card.image}`);
      expect(existsSync(`${card.image}.lock`)).toBe(false);
    } finally {
      card?.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
