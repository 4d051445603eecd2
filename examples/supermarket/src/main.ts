/**
 * `npm start -w examples/supermarket`: runs the supermarket's day against the platform at SIMTAP_URL, or against
 * an in-process simtap-host (reference profile, in-memory ledger) when it is not set, and prints the report.
 * Exit 0 when every check passes, 1 otherwise.
 * @module
 */
import { SoftwareIssuerKeyStore } from '@simtap/host/keys';
import { openSqliteLedger } from '@simtap/host/ledger';
import { openPlatform, platformConfigFromProfile } from '@simtap/host/platform';
import { createPlatformServer } from '@simtap/host/server';
import { PlatformClient } from '@simtap/sdk/clients';
import { toHex } from '@simtap/sdk/core/bytes';
import { referenceProfile } from '@simtap/sdk/core/profile';
import { formatReport, runSupermarket, type SupermarketReport } from './supermarket';

async function main(): Promise<number> {
  const profile = referenceProfile();
  const external = process.env.SIMTAP_URL;
  let report: SupermarketReport;
  if (external) {
    report = await runSupermarket({ url: external });
    // ledger.verify is an operator's call: asked with the reference profile's operator-1 when it is accepted
    const operator = profile.platform.clients.find((c) => c.id === 'operator-1')!;
    const console_ = new PlatformClient({
      url: external,
      clientId: operator.id,
      secret: toHex(operator.secret),
      endpoint: 'console',
      reconnect: { maxAttempts: 1 },
    });
    try {
      report = { ...report, ledgerVerified: (await console_.call('ledger.verify')).ok };
    } catch {
      // another profile's platform: no verify
    } finally {
      await console_.close();
    }
  } else {
    const platform = await openPlatform({
      ledger: openSqliteLedger({ path: ':memory:' }),
      keys: SoftwareIssuerKeyStore.fromProfile(profile),
      config: platformConfigFromProfile(profile),
    });
    const server = createPlatformServer({ platform, clients: profile.platform.clients, port: 0 });
    try {
      const { url } = await server.listen();
      console.log(`in-process simtap-host at ${url} (set SIMTAP_URL to use another)`);
      report = await runSupermarket({ url });
      report = { ...report, ledgerVerified: (await platform.ledger.verify()).ok };
    } finally {
      await server.close();
      await platform.close();
    }
  }
  console.log(formatReport(report));
  return report.checks.every((c) => c.ok) && report.ledgerVerified !== false ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? `${e.name}: ${e.message}` : e);
    process.exit(1);
  },
);
