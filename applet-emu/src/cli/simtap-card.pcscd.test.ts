// simtap-card as a child process in a real pcscd's vpcd reader: opensc-tool and a full SCP03 session through PC/SC.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PcscChannel } from '@simtap/sdk/card';
import { hex, toHex } from '@simtap/sdk/core/bytes';
import { diversifyKdf3, Scp03Host, type StaticKeys } from '@simtap/sdk/core/gp';
import { cardProfile, referenceProfile } from '@simtap/sdk/core/profile';
import { claimVpcdSlot, startPcscd, VPCD_HOOK_TIMEOUT_MS, type VpcdSlot } from '@simtap/sdk/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const REPO = path.resolve(import.meta.dirname, '../../..');
const SELECT_ISD = hex`00 A4 04 00 08 A0 00 00 01 51 00 00 00`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const isd = referenceProfile().card.isd;
const DEFAULT_KEYS: StaticKeys = isd.scp03.staticKeysForDefaultCard;
const diversifiedKeys = (label: string): StaticKeys =>
  diversifyKdf3(isd.scp03.diversified.masterKey, cardProfile(label).isd.kdd);

/** A running `simtap-card` child and its combined output. */
interface CliChild {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
}

function spawnCli(argv: string[]): CliChild {
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

async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** The slot's reader name once pcscd lists it with a card (`opensc-tool -l`). */
async function listedReader(slot: VpcdSlot): Promise<string> {
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

/** SELECT ISD, SCP03 at security level 33 with `keys`, then wrapped GET DATA CPLC and key information. */
async function scp03Session(slot: VpcdSlot, keys: StaticKeys): Promise<{ cplc: Uint8Array; keyInfo: Uint8Array }> {
  const channel = await PcscChannel.open({ reader: slot.readerPattern, timeoutMs: 10_000 });
  try {
    const fci = await channel.transmit(SELECT_ISD);
    expect(toHex(fci.subarray(-2))).toBe('9000');
    const scp = await Scp03Host.open((apdu) => channel.transmit(apdu), { keys, securityLevel: 0x33 });
    try {
      expect(scp.cardInfo.kvn).toBe(isd.scp03.kvn);
      expect(scp.cardInfo.i).toBe(isd.scp03.i);
      const cplc = await scp.transmit(hex`80 CA 9F 7F 00`);
      const keyInfo = await scp.transmit(hex`80 CA 00 E0 00`);
      return { cplc, keyInfo };
    } finally {
      scp.close();
    }
  } finally {
    await channel.close();
  }
}

/** Sends SIGTERM and waits until pcscd shows the reader empty again. */
async function stopCli(cli: CliChild, slot: VpcdSlot): Promise<number | null> {
  cli.child.kill('SIGTERM');
  const code = await cli.exit;
  await until(
    async () => !(await PcscChannel.listReaders()).some((r) => slot.readerPattern.test(r.name) && r.cardPresent),
    'pcscd to notice the removal',
  );
  return code;
}

const pcscd = await startPcscd({ subject: 'simtap-card in real pcscd', needs: ['opensc-tool', 'smartcard'] });

describe.skipIf(pcscd === null)('simtap-card in real pcscd', () => {
  let slot: VpcdSlot;
  let dir: string;
  let cli: CliChild | undefined;

  beforeAll(async () => {
    slot = await claimVpcdSlot();
    dir = mkdtempSync(path.join(tmpdir(), 'simtap-card-pcscd-'));
  }, VPCD_HOOK_TIMEOUT_MS);

  afterAll(async () => {
    if (cli && cli.child.exitCode === null) {
      cli.child.kill('SIGTERM');
      await cli.exit;
    }
    await slot?.release();
    await pcscd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is listed by opensc-tool -l and answers SELECT ISD from opensc-tool with its FCI', async () => {
    cli = spawnCli(['--card', 'card-1', '--image', path.join(dir, 'card-1.img'), '--vpcd', `127.0.0.1:${slot.port}`]);
    await until(() => cli!.output().includes('card inserted'), 'the CLI to connect');
    const reader = await listedReader(slot);
    const { stdout } = await run('opensc-tool', ['-r', reader, '-s', '00A4040008A000000151000000']);
    expect(stdout).toContain('Received (SW1=0x90, SW2=0x00)');
    // FCI template 6F with the ISD AID in tag 84.
    expect(stdout.replace(/\s+/g, ' ')).toMatch(/6F [0-9A-F]{2} 84 08 A0 00 00 01 51 00 00 00/);
  });

  it('opens SCP03 at security level 33 with the KDF3-diversified keys and unwraps GET DATA', async () => {
    const { cplc, keyInfo } = await scp03Session(slot, diversifiedKeys('card-1'));
    expect(toHex(cplc.subarray(0, 3))).toBe('9F7F2A');
    expect(cplc).toHaveLength(3 + 42 + 2);
    expect(toHex(cplc.subarray(-2))).toBe('9000');
    expect(keyInfo[0]).toBe(0xe0);
    expect(toHex(keyInfo.subarray(-2))).toBe('9000');
    await expect(scp03Session(slot, DEFAULT_KEYS)).rejects.toMatchObject({ code: 'SCP_CARD_CRYPTOGRAM_INVALID' });
    expect(await stopCli(cli!, slot)).toBe(0);
    expect(cli!.output()).toContain('card image saved');
  });

  it('with --default-keys opens SCP03 at level 33 with the static keys 40..4F', async () => {
    cli = spawnCli([
      '--card',
      'card-3',
      '--default-keys',
      '--interface',
      'contact',
      '--vpcd',
      `127.0.0.1:${slot.port}`,
    ]);
    await until(() => cli!.output().includes('card inserted'), 'the CLI to connect');
    const { cplc } = await scp03Session(slot, DEFAULT_KEYS);
    expect(toHex(cplc.subarray(0, 3))).toBe('9F7F2A');
    await expect(scp03Session(slot, diversifiedKeys('card-3'))).rejects.toMatchObject({
      code: 'SCP_CARD_CRYPTOGRAM_INVALID',
    });
    expect(await stopCli(cli!, slot)).toBe(0);
  });
});
