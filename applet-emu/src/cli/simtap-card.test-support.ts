/**
 * What the tests that run `simtap-card` as a child process in a real pcscd's vpcd reader share: spawning the CLI
 * from the sources, waiting for a condition, the reader name `opensc-tool -l` lists for a slot, and stopping the CLI
 * until pcscd sees the reader empty.
 * @module
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { PcscChannel } from '@simtap/sdk/card';
import type { VpcdSlot } from '@simtap/sdk/testing';

const run = promisify(execFile);
/** The repository's root (the CLI runs from its sources there). */
export const REPO = path.resolve(import.meta.dirname, '../../..');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A running `simtap-card` child and its combined output. */
export interface CliChild {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exit: Promise<number | null>;
}

/** Starts `simtap-card argv…` from the sources (stdout and stderr collected together). */
export function spawnCli(argv: readonly string[]): CliChild {
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', 'applet-emu/src/cli/simtap-card.ts', ...argv],
    { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let text = '';
  child.stdout!.on('data', (d: Buffer) => {
    text += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    text += d.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => text, exit };
}

/** Polls `cond` every 50 ms; throws naming `what` after `timeoutMs`. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** The slot's reader name once pcscd lists it with a card (`opensc-tool -l`). */
export async function listedReader(slot: VpcdSlot): Promise<string> {
  let name = '';
  await until(async () => {
    const { stdout } = await run('opensc-tool', ['-l']);
    for (const line of stdout.split('\n')) {
      const m = /^\d+\s+(Yes|No)\s+(.+?)\s*$/.exec(line);
      if (m && m[1] === 'Yes' && slot.readerPattern.test(m[2]!)) name = m[2]!;
    }
    return name !== '';
  }, 'opensc-tool -l to list the virtual SIM');
  return name;
}

/** Sends SIGTERM and waits until pcscd shows the reader empty again; the CLI's exit status. */
export async function stopCli(cli: CliChild, slot: VpcdSlot): Promise<number | null> {
  cli.child.kill('SIGTERM');
  const code = await cli.exit;
  await until(
    async () => !(await PcscChannel.listReaders()).some((r) => slot.readerPattern.test(r.name) && r.cardPresent),
    'pcscd to notice the removal',
  );
  return code;
}
