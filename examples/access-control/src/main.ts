/**
 * `npm start -w examples/access-control`: runs the system against the platform at `SIMTAP_URL`, or against an
 * in-process platform server (reference profile, in-memory ledger) with the holders' cards issued on it; prints the
 * report, exits 0 when it is ok.
 *
 * Against `SIMTAP_URL` the holders' cards (`fleet-4401` … `fleet-4405`) must be issued active on that platform, and a
 * card reported lost stays lost: a second run shows it refused from the start.
 *
 * @module
 */
import { SoftwareIssuerKeyStore } from '@simtap/host/keys';
import { openSqliteLedger } from '@simtap/host/ledger';
import { openPlatform, platformConfigFromProfile } from '@simtap/host/platform';
import { createPlatformServer } from '@simtap/host/server';
import { referenceProfile } from '@simtap/sdk/core/profile';
import { issueAccessCards } from './cards';
import { formatReport, runAccessControl } from './system';

const profile = referenceProfile();
const operator = profile.platform.clients.find((c) => c.id === 'operator-1');
const quiet = { info() {}, warn() {}, error() {}, debug() {} };

let url = process.env.SIMTAP_URL;
let stop = async () => {};
if (!url) {
  const platform = await openPlatform({
    ledger: openSqliteLedger({ path: ':memory:' }),
    keys: SoftwareIssuerKeyStore.fromProfile(profile),
    config: platformConfigFromProfile(profile),
  });
  await issueAccessCards(platform);
  const server = createPlatformServer({ platform, clients: profile.platform.clients, port: 0, logger: quiet });
  url = (await server.listen()).url;
  stop = async () => {
    await server.close();
    await platform.close();
  };
}
try {
  const report = await runAccessControl({
    url,
    ...(operator ? { console: { id: operator.id, secret: operator.secret } } : {}),
  });
  console.log(formatReport(report));
  process.exitCode = report.ok ? 0 : 1;
} catch (e) {
  console.error(`access-control failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
} finally {
  await stop();
}
