/**
 * Crash safety of a machine's records: a machine process (`sdk/test/machine-agent-child.ts`) records purchases
 * while its hub is down and is killed with SIGKILL part-way — twice, on the same buffer directory. A new agent on
 * that directory then delivers to a hub: every record whose `record()` had resolved arrives, exactly once, in the
 * order it was recorded.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toHex } from '@simtap/sdk/core/bytes';
import { afterEach, describe, expect, it } from 'vitest';
import { blacklistSigner, freePort, GATE_SECRET } from '../../test/machine-support';
import { MachineAgent, MachineHub, type MachineRecordEntry } from './index';
import type { MachinePurchaseRecord } from './machine-protocol';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CHILD = fileURLToPath(new URL('../../test/machine-agent-child.ts', import.meta.url));
const platform = blacklistSigner();

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Runs the machine process until `killAfter` records are acknowledged, then SIGKILLs it; the acknowledged ones. */
async function recordAndKill(url: string, dir: string, first: number, killAfter: number): Promise<number[]> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', CHILD, url, dir, String(first), '1000000', toHex(platform.publicKey)],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  cleanups.push(() => child.kill('SIGKILL'));
  const acked: number[] = [];
  let stderr = '';
  let pending = '';
  child.stderr!.on('data', (chunk) => {
    stderr += String(chunk);
  });
  child.stdout!.on('data', (chunk) => {
    pending += String(chunk);
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      if (line.startsWith('ack ')) acked.push(Number(line.slice(4)));
      if (acked.length === killAfter) child.kill('SIGKILL');
    }
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on('exit', (c, s) => resolve([c, s])),
  );
  expect({ code, signal, stderr: stderr.slice(0, 2000) }).toEqual({ code: null, signal: 'SIGKILL', stderr: '' });
  return acked;
}

describe('a machine killed with SIGKILL while offline', () => {
  it('loses no acknowledged record and delivers none twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'simtap-kill-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const deadHub = `ws://127.0.0.1:${await freePort()}`; // nothing listens: the machine is offline

    const firstRun = await recordAndKill(deadHub, dir, 1, 300);
    const secondRun = await recordAndKill(deadHub, dir, 1_000_001, 300);
    expect(firstRun.length).toBeGreaterThanOrEqual(300);
    expect(secondRun.length).toBeGreaterThanOrEqual(300);

    const stored: MachineRecordEntry[] = [];
    const hub = new MachineHub({
      machines: [{ id: 'gate-1', secret: GATE_SECRET, kind: 'gate' }],
      blacklistPublicKey: platform.publicKey,
      onRecords: async (_id, entries) => {
        stored.push(...entries);
      },
      storedSeq: () => stored.at(-1)?.seq ?? 0,
    });
    cleanups.push(() => hub.close());
    const { url } = await hub.listen();
    const agent = new MachineAgent({
      url,
      machineId: 'gate-1',
      secret: GATE_SECRET,
      blacklistPublicKey: platform.publicKey,
      bufferDir: dir,
      batchSize: 500,
      reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
    });
    cleanups.push(() => agent.stop());
    await agent.start();
    const held = agent.pending;
    await agent.delivered({ timeoutMs: 10_000 });

    const got = stored.map((e) => (e.record as MachinePurchaseRecord).terminalSeq);
    expect(got.length).toBe(held);
    expect(new Set(got).size).toBe(got.length); // none twice
    expect(stored.map((e) => e.seq)).toEqual(got.map((_, i) => i + 1));
    const gotSet = new Set(got);
    expect([...firstRun, ...secondRun].filter((n) => !gotSet.has(n))).toEqual([]); // none lost
    // in the order recorded: the first run's records 1…m, then the second run's from 1,000,001 on, gapless
    const firstPart = got.filter((n) => n < 1_000_001);
    const secondPart = got.filter((n) => n >= 1_000_001);
    expect(got).toEqual([...firstPart, ...secondPart]);
    expect(firstPart).toEqual(firstPart.map((_, i) => i + 1));
    expect(secondPart).toEqual(secondPart.map((_, i) => 1_000_001 + i));
  });
});
