/**
 * A writer process of the PostgreSQL hammer test (`host/src/ledger/postgres.test.ts`): opens the ledger in `schema`,
 * opens the hammer's accounts, prints `ready`, waits for a line on stdin, then runs its share of operations
 * `0 … ops-1` (`perTurn` per event-loop turn) and prints one JSON line per acknowledged outcome, then
 * `{"done":true,"ms":…,"retries":…}`.
 * Usage: node --conditions=source --import tsx host/test/postgres-hammer-child.ts <url> <schema> <writer> <writers> <ops> <perTurn>
 */
import { createInterface } from 'node:readline';
import { openPostgresLedger } from '@simtap/host/ledger';
import { openHammerAccounts, runHammerWriter } from '../src/ledger/postgres-hammer.test-support';

const [url, schema, writerArg, writersArg, opsArg, perTurnArg] = process.argv.slice(2);
const ledger = await openPostgresLedger({ connectionString: url!, schema: schema!, pool: 2 });
await openHammerAccounts(ledger);
process.stdout.write('ready\n');
await new Promise<void>((resolve) => {
  const rl = createInterface({ input: process.stdin });
  rl.once('line', () => {
    rl.close();
    process.stdin.destroy();
    resolve();
  });
});

const lines: string[] = [];
const t0 = performance.now();
await runHammerWriter(ledger, Number(writerArg), Number(writersArg), Number(opsArg), Number(perTurnArg), (o) => {
  lines.push(JSON.stringify(o));
});
const ms = performance.now() - t0;
process.stdout.write(`${lines.join('\n')}\n${JSON.stringify({ done: true, ms, retries: ledger.retries })}\n`);
await ledger.close();
