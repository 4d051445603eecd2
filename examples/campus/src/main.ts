/**
 * `npm start -w examples/campus`: runs the campus for a day and prints its report. Against the platform at
 * `SIMTAP_URL` when set (a fresh `npx simtap-host`: the emulated cards start empty), else against an in-process
 * platform (reference profile, in-memory ledger) on a free port, whose ledger it verifies at the end.
 *
 * @module
 */
import { SoftwareIssuerKeyStore } from '@simtap/host/keys';
import { openSqliteLedger } from '@simtap/host/ledger';
import { openPlatform, platformConfigFromProfile } from '@simtap/host/platform';
import { createPlatformServer } from '@simtap/host/server';
import { referenceProfile } from '@simtap/sdk/core/profile';
import { formatReport, runCampus } from './campus';

async function main(): Promise<number> {
  const external = process.env.SIMTAP_URL;
  if (external) {
    const report = await runCampus({ url: external });
    console.log(formatReport(report));
    return report.checks.pursesMatchFloats && report.checks.payableMatchesCleared ? 0 : 1;
  }
  const profile = referenceProfile();
  const platform = await openPlatform({
    ledger: openSqliteLedger({ path: ':memory:' }),
    keys: SoftwareIssuerKeyStore.fromProfile(profile),
    config: platformConfigFromProfile(profile),
  });
  const server = createPlatformServer({ platform, clients: profile.platform.clients, port: 0 });
  try {
    const { url } = await server.listen();
    const report = await runCampus({ url, verifyLedger: () => platform.verify() });
    console.log(formatReport(report));
    const { pursesMatchFloats, payableMatchesCleared, ledgerOk } = report.checks;
    return pursesMatchFloats && payableMatchesCleared && ledgerOk === true ? 0 : 1;
  } finally {
    await server.close();
    await platform.close();
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`campus: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
