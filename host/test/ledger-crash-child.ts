/**
 * The child of the ledger crash tests: runs operations `start … count-1` against the ledger at `path` — a SQLite
 * file, or a `postgres://` URL (the PostgreSQL store, in the schema named by `SIMTAP_LEDGER_SCHEMA`) — ten per
 * event-loop turn (one group commit), and prints one JSON line per operation once its promise settled — its
 * acknowledgement. With `final` it then prints the `verify()` result and the balances.
 * Usage: node --conditions=source --import tsx host/test/ledger-crash-child.ts <path|url> <start> <count> [final]
 */

import { LEDGER_ERRORS, type LedgerStore, openPostgresLedger, openSqliteLedger } from '@simtap/host/ledger';
import { hasErrorCode } from '@simtap/sdk/core/errors';
import { crashOp, PHONES } from './ledger-crash-ops';

const [path, startArg, countArg, final] = process.argv.slice(2);
const start = Number(startArg);
const count = Number(countArg);
const ledger: LedgerStore = /^postgres(ql)?:\/\//.test(path!)
  ? await openPostgresLedger({ connectionString: path!, schema: process.env.SIMTAP_LEDGER_SCHEMA })
  : openSqliteLedger({ path: path! });
await ledger.openAccount('cash', 'CASH');
await ledger.openAccount('merchant', 'MERCHANT_PAYABLE');
for (const p of PHONES) await ledger.openAccount(p, 'PHONE');
process.stdout.write('ready\n');

async function run(i: number): Promise<string> {
  const { kind, req } = crashOp(i);
  try {
    let r = await ledger[kind === 'transfer' ? 'transfer' : 'hold'](req);
    if (kind === 'holdPost') r = await ledger.post({ transferId: r.transfer.id, reason: 'card proof' });
    return JSON.stringify({ i, ok: true, result: r });
  } catch (e) {
    if (!hasErrorCode(e, LEDGER_ERRORS)) throw e;
    return JSON.stringify({ i, ok: false, code: e.code });
  }
}

for (let i = start; i < count; i += 10) {
  const batch = [];
  for (let j = i; j < Math.min(i + 10, count); j++) batch.push(run(j));
  process.stdout.write(`${(await Promise.all(batch)).join('\n')}\n`);
}
if (final === 'final') {
  const balances: Record<string, number> = {};
  for (const id of ['cash', 'merchant', 'suspense', ...PHONES]) balances[id] = (await ledger.getAccount(id))!.balance;
  process.stdout.write(`${JSON.stringify({ verify: await ledger.verify(), balances })}\n`);
}
await ledger.close();
