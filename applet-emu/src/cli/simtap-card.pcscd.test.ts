// simtap-card as a child process in a real pcscd's vpcd reader: opensc-tool and a full SCP03 session through PC/SC.
import { execFile } from 'node:child_process';
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
import { type CliChild, listedReader, spawnCli, stopCli, until } from './simtap-card.test-support';

const run = promisify(execFile);
const SELECT_ISD = hex`00 A4 04 00 08 A0 00 00 01 51 00 00 00`;

const isd = referenceProfile().card.isd;
const DEFAULT_KEYS: StaticKeys = isd.scp03.staticKeysForDefaultCard;
const diversifiedKeys = (label: string): StaticKeys =>
  diversifyKdf3(isd.scp03.diversified.masterKey, cardProfile(label).isd.kdd);

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
