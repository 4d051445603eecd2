/**
 * `simtap-phone` against a real `simtap-host` process, both from the command line: a blank SIM image of card-1 is
 * personalized at its first contact and topped up from the phone account; the image keeps the purse across runs;
 * a phone that claims another card's MSISDN is refused (exit 1) and the platform records it.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSim } from '@simtap/applet-emu/sim';
import { PlatformClient } from '@simtap/sdk/clients';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HostProcess, REPO, startHost } from '../support/host-process';
import { APP, readPurse } from './ota-support';

let host: HostProcess;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'simtap-phone-cli-'));
  host = await startHost({ dataDir: join(dir, 'data') });
  // card-1's customer pays cash into the phone account at a service point.
  const client = new PlatformClient({ url: host.url, clientId: APP.id, secret: APP.secret, heartbeatMs: 0 });
  await client.customers.topUpPhoneAccount({ idempotencyKey: 'cash-1', msisdn: '13800138001', amount: 10_000 });
  await client.close();
});
afterAll(async () => {
  await host?.stop('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs `simtap-phone` (from the sources) to its exit. */
function phone(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', 'applet-emu/src/cli/simtap-phone.ts', ...args],
      { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

describe('simtap-phone against simtap-host', () => {
  it('personalizes a blank SIM image, tops it up over the air, and keeps the purse in the image', async () => {
    const image = join(dir, 'card-1.img');
    const first = await phone([
      '--card',
      'card-1',
      '--image',
      image,
      '--url',
      host.url,
      '--top-up',
      '500',
      '--exit-when-ready',
    ]);
    expect(first.code, first.out + first.err).toBe(0);
    expect(first.out).toMatch(/personalized/);
    expect(first.out).toMatch(/loaded 5\.00/);
    expect(existsSync(image)).toBe(true);
    expect(readPurse(await loadSim(image)).balance).toBe(500);
    const second = await phone([
      '--card',
      'card-1',
      '--image',
      image,
      '--url',
      host.url,
      '--top-up',
      '300',
      '--exit-when-ready',
    ]);
    expect(second.code, second.out + second.err).toBe(0);
    expect(second.out).not.toMatch(/personalized/);
    expect(second.out).toMatch(/loaded 3\.00/);
    expect(readPurse(await loadSim(image)).balance).toBe(800);
  });

  it('exits 1 with one line when the platform refuses the SIM (another card’s MSISDN)', async () => {
    const r = await phone(['--card', 'card-2', '--msisdn', '13800138001', '--url', host.url, '--exit-when-ready']);
    expect(r.code).toBe(1);
    expect(`${r.out}${r.err}`).toMatch(/refused/i);
  });

  it('exits 2 on a bad option', async () => {
    const r = await phone(['--card', 'card-1', '--url', 'http://nowhere']);
    expect(r.code).toBe(2);
  });
});
