/** The READMEs' code samples must run as written and print what their comments say (docs stay true). */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SoftwareIssuerKeyStore } from '@simtap/host/keys';
import { openSqliteLedger } from '@simtap/host/ledger';
import { openPlatform, platformConfigFromProfile } from '@simtap/host/platform';
import { createPlatformServer } from '@simtap/host/server';
import { referenceProfile } from '@simtap/sdk/core/profile';
import { expect, it, vi } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Runs every ```ts block of `readme` (a path from the repository root) in order; returns what they logged. */
async function runSamples(readme: string): Promise<string[]> {
  const text = readFileSync(join(root, readme), 'utf8');
  const blocks = [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
  expect(blocks.length, readme).toBeGreaterThan(0);
  const dir = mkdtempSync(join(root, 'sdk', 'test', '.readme-'));
  const logs: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
    logs.push(a.map(String).join(' '));
  });
  try {
    for (const [i, code] of blocks.entries()) {
      const file = join(dir, `sample-${i}.ts`);
      writeFileSync(file, code);
      await import(file);
    }
  } finally {
    spy.mockRestore();
    rmSync(dir, { recursive: true, force: true });
  }
  return logs;
}

it('runs the README samples: a load, a torn purchase charged once, the core, the platform over the network', async () => {
  // the platform sample connects to SIMTAP_URL: a simtap.v1 server on the reference profile, in memory
  const platform = await openPlatform({
    ledger: openSqliteLedger({ path: ':memory:' }),
    keys: SoftwareIssuerKeyStore.fromProfile(referenceProfile()),
    config: platformConfigFromProfile(referenceProfile()),
  });
  const server = createPlatformServer({ platform, clients: referenceProfile().platform.clients, port: 0 });
  process.env.SIMTAP_URL = (await server.listen()).url;
  try {
    const logs = await runSamples('README.md');
    expect(logs[0]).toBe('5000');
    expect(logs[1]).toBe('CARD_REMOVED completed 3750');
    expect(logs[2]).toBe('true');
    expect(logs[3]).toMatch(/^[0-9A-F]{8}$/);
    expect(logs[4]).toBe('5000 1 1250');
  } finally {
    delete process.env.SIMTAP_URL;
    await server.close();
    await platform.close();
  }
});

it("runs the sdk README sample: a till's purchase and the purse read back", async () => {
  expect(await runSamples('sdk/README.md')).toEqual(['completed 1650 1650 1']);
});

it('runs the applet-emu README samples: a SIM personalized by the issuer, selected and read; a phone over the air', async () => {
  // the phone sample connects to SIMTAP_URL: a simtap.v1 server on the reference profile, in memory
  const platform = await openPlatform({
    ledger: openSqliteLedger({ path: ':memory:' }),
    keys: SoftwareIssuerKeyStore.fromProfile(referenceProfile()),
    config: platformConfigFromProfile(referenceProfile()),
  });
  const server = createPlatformServer({ platform, clients: referenceProfile().platform.clients, port: 0 });
  process.env.SIMTAP_URL = (await server.listen()).url;
  try {
    const logs = await runSamples('applet-emu/README.md');
    expect(logs.slice(0, 2)).toEqual(['9000', '000013889000']);
    expect(logs.slice(2).sort()).toEqual(['00004401202600000001', 'authenticated', 'personalized', 'ready'].sort());
  } finally {
    delete process.env.SIMTAP_URL;
    await server.close();
    await platform.close();
  }
});
