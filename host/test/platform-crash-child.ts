/**
 * The child of the platform crash test: opens the platform (reference profile, seeded at every start) on the store
 * its argument names, prints `ready`, then answers the JSON request lines of stdin, all concurrently (requests that
 * arrive together share the store's group commits), one answer line each, written only once the platform call has
 * settled. When stdin ends it waits for what is in flight, closes the platform and exits 0.
 * Usage: node --conditions=source --import tsx host/test/platform-crash-child.ts '<StoreSpec JSON>' (SQLite file or
 * PostgreSQL URL and schema)
 */
import { createInterface } from 'node:readline';
import { SoftwareIssuerKeyStore } from '@simtap/host/keys';
import { type LedgerStore, openPostgresLedger, openSqliteLedger } from '@simtap/host/ledger';
import { openPlatform, platformConfigFromProfile } from '@simtap/host/platform';
import { SimtapError } from '@simtap/sdk/core/errors';
import { referenceProfile } from '@simtap/sdk/core/profile';
import { type Answer, perform, type RequestLine, type StoreSpec } from './platform-crash-ops';

const spec = JSON.parse(process.argv[2]!) as StoreSpec;

async function openStore(s: StoreSpec): Promise<LedgerStore> {
  if (s.kind === 'sqlite') return openSqliteLedger({ path: s.path });
  return openPostgresLedger({ connectionString: s.connectionString, schema: s.schema });
}

const profile = referenceProfile();
const platform = await openPlatform({
  ledger: await openStore(spec),
  keys: SoftwareIssuerKeyStore.fromProfile(profile),
  config: platformConfigFromProfile(profile),
});
process.stdout.write('ready\n');

const inFlight = new Set<Promise<void>>();

async function answer(line: RequestLine): Promise<void> {
  let a: Answer;
  try {
    a = { id: line.id, ok: true, result: await perform(platform, line) };
  } catch (e) {
    a =
      e instanceof SimtapError
        ? { id: line.id, ok: false, code: e.code, message: e.message }
        : {
            id: line.id,
            ok: false,
            code: 'UNEXPECTED',
            message: e instanceof Error ? (e.stack ?? e.message) : String(e),
          };
  }
  // A pipe write is synchronous on Linux: once written, the answer outlives a SIGKILL.
  process.stdout.write(`${JSON.stringify(a)}\n`);
}

const input = createInterface({ input: process.stdin });
input.on('line', (text) => {
  const p = answer(JSON.parse(text) as RequestLine).finally(() => inFlight.delete(p));
  inFlight.add(p);
});
await new Promise<void>((resolve) => input.once('close', resolve));
while (inFlight.size > 0) await Promise.all(inFlight);
await platform.close();
