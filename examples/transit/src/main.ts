/**
 * `npm start -w examples/transit`: starts an in-process simtap platform (unless `SIMTAP_URL` names one whose
 * ledger knows the riders' cards), runs the transit system's day, prints the report, exits 0 when every fen is
 * accounted for (1 otherwise). `TIDES_OUT=file.csv` writes the TIDES export.
 *
 * @module
 */
import { SoftwareIssuerKeyStore } from '@simtap/host/keys';
import { openSqliteLedger } from '@simtap/host/ledger';
import { openPlatform, type Platform, platformConfigFromProfile } from '@simtap/host/platform';
import { createPlatformServer, type PlatformServer } from '@simtap/host/server';
import { referenceProfile } from '@simtap/sdk/core/profile';
import { formatReport, issueTransitCards, runTransit } from './transit';

let platform: Platform | undefined;
let server: PlatformServer | undefined;
try {
  let url = process.env.SIMTAP_URL;
  if (url === undefined || url === '') {
    const profile = referenceProfile();
    platform = await openPlatform({
      ledger: openSqliteLedger({ path: ':memory:' }),
      keys: SoftwareIssuerKeyStore.fromProfile(profile),
      config: platformConfigFromProfile(profile),
    });
    await issueTransitCards(platform);
    server = createPlatformServer({ platform, clients: profile.platform.clients, port: 0 });
    url = (await server.listen()).url;
  }
  const p = platform;
  const report = await runTransit({
    url,
    ...(process.env.TIDES_OUT ? { tidesPath: process.env.TIDES_OUT } : {}),
    ...(p ? { verifyLedger: async () => (await p.verify()).ok } : {}),
  });
  console.log(formatReport(report));
  process.exitCode = report.ok ? 0 : 1;
} catch (e) {
  console.error(`transit failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
} finally {
  await server?.close();
  await platform?.close();
}
