// The UICC tree through a real pcscd: simtap-card (card-1, contact interface) in a vpcd reader, read with opensc-tool,
// the answers decoded with the independent TS 102 221 / TS 31.102 decoders of ./ts102221.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import { cardProfile, referenceProfile } from '@simtap/sdk/core/profile';
import { claimVpcdSlot, startPcscd, VPCD_HOOK_TIMEOUT_MS, type VpcdSlot } from '@simtap/sdk/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliChild, listedReader, spawnCli, stopCli, until } from '../../src/cli/simtap-card.test-support';
import { DEFAULT_ATR_HEX } from '../../src/runtime/card';
import { decodeIccid, decodeImsi, decodeUiccFcp } from './ts102221';

const run = promisify(execFile);
const CARD = cardProfile('card-1');
const USIM_AID_HEX = toHex(referenceProfile().card.usim.aid);

/**
 * The responses in `opensc-tool -s … -s …` output, in order: each `Received (SW1=0x.., SW2=0x..)` line and the hex
 * dump lines after it (`00 11 22 … ASCII`), as data and SW.
 */
function responses(stdout: string): { data: Uint8Array; sw: string }[] {
  const out: { data: Uint8Array; sw: string }[] = [];
  let cur: { hex: string; sw: string } | undefined;
  const flush = (): void => {
    if (cur) out.push({ data: fromHex(cur.hex), sw: cur.sw });
    cur = undefined;
  };
  for (const line of stdout.split('\n')) {
    const head = /Received \(SW1=0x([0-9A-Fa-f]{2}), SW2=0x([0-9A-Fa-f]{2})\)/.exec(line);
    if (head) {
      flush();
      cur = { hex: '', sw: `${head[1]}${head[2]}`.toUpperCase() };
      continue;
    }
    if (/^Sending:/.test(line)) {
      flush();
      continue;
    }
    // A hex dump line: up to 16 bytes as "XX " groups, then the ASCII column.
    const dump = /^((?:[0-9A-F]{2} ){1,16})/.exec(line);
    if (cur && dump) cur.hex += dump[1]!;
  }
  flush();
  return out;
}

const pcscd = await startPcscd({ subject: 'the UICC tree in real pcscd', needs: ['opensc-tool', 'smartcard'] });

describe.skipIf(pcscd === null)('the UICC tree in real pcscd (card-1, contact, opensc-tool)', () => {
  let slot: VpcdSlot;
  let cli: CliChild | undefined;
  let reader: string;

  beforeAll(async () => {
    slot = await claimVpcdSlot();
    // The UICC tree is contact-only: plug the contact interface into the reader.
    cli = spawnCli(['--card', 'card-1', '--interface', 'contact', '--vpcd', `127.0.0.1:${slot.port}`]);
    await until(() => cli!.output().includes('card inserted'), 'the CLI to connect');
    reader = await listedReader(slot);
  }, VPCD_HOOK_TIMEOUT_MS);

  afterAll(async () => {
    if (cli && cli.child.exitCode === null) {
      cli.child.kill('SIGTERM');
      await cli.exit;
    }
    await slot?.release();
    await pcscd?.stop();
  });

  it('opensc-tool --atr prints the card’s ATR', async () => {
    const { stdout } = await run('opensc-tool', ['-r', reader, '--atr']);
    expect(stdout.trim().toUpperCase().replace(/:/g, ' ')).toBe(DEFAULT_ATR_HEX);
  });

  it('SELECT EF.ICCID by path from the MF, READ BINARY: the FCP decodes, the ICCID is the card’s', async () => {
    const { stdout } = await run('opensc-tool', ['-r', reader, '-s', '00 A4 08 04 02 2F E2', '-s', '00 B0 00 00 0A']);
    const [select, read] = responses(stdout);
    expect(select?.sw, stdout).toBe('9000');
    const fcp = decodeUiccFcp(select!.data);
    expect(fcp).toMatchObject({ kind: 'EF', structure: 'transparent', fid: 0x2fe2, fileSize: 10, sfi: 2 });
    expect(read?.sw, stdout).toBe('9000');
    expect(decodeIccid(read!.data)).toBe(CARD.iccid);
  });

  it('SELECT the USIM by AID, READ BINARY by SFI 07: the IMSI', async () => {
    const { stdout } = await run('opensc-tool', [
      '-r',
      reader,
      '-s',
      `00 A4 04 04 10 ${USIM_AID_HEX}`,
      '-s',
      '00 B0 87 00 09',
    ]);
    const [select, read] = responses(stdout);
    expect(select?.sw, stdout).toBe('9000');
    expect(toHex(decodeUiccFcp(select!.data).aid!)).toBe(USIM_AID_HEX);
    expect(read?.sw, stdout).toBe('9000');
    expect(decodeImsi(read!.data)).toBe(CARD.imsi);
    expect(await stopCli(cli!, slot)).toBe(0);
  });
});
