/**
 * Measures the PostgreSQL ledger's durable transfer rate with N writer processes on the same hot accounts (cash, a
 * merchant, three phone accounts): each process issues `perTurn` keyed transfers per event-loop turn (one batch),
 * awaits them, and repeats for `seconds`; the total acknowledged transfers / s is printed. The numbers in
 * `docs/architecture.md` come from it.
 * Usage: node --conditions=source --import tsx host/test/postgres-throughput.ts <url> <writers> <seconds> <perTurn>
 * (it makes a schema of its own and drops it).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { openPostgresLedger } from '@simtap/host/ledger';
import { freshSchema } from './postgres-server';

const PHONES = ['phone:0', 'phone:1', 'phone:2'];
const [url, writersArg, secondsArg, perTurnArg, role, schemaArg, writerArg] = process.argv.slice(2);

if (role === 'child') {
  const ledger = await openPostgresLedger({ connectionString: url!, schema: schemaArg!, pool: 2 });
  await ledger.openAccount('cash', 'CASH');
  await ledger.openAccount('merchant', 'MERCHANT_PAYABLE');
  for (const p of PHONES) await ledger.openAccount(p, 'PHONE');
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => {
    const rl = createInterface({ input: process.stdin });
    rl.once('line', () => {
      rl.close();
      process.stdin.destroy();
      resolve();
    });
  });
  const perTurn = Number(perTurnArg);
  const end = performance.now() + Number(secondsArg) * 1000;
  let n = 0;
  while (performance.now() < end) {
    await Promise.all(
      Array.from({ length: perTurn }, () => {
        const i = n++;
        const phone = PHONES[Math.floor(i / 2) % 3]!; // a top-up of 2, then a payment of 1 from the same account
        const pay = i % 2 === 1;
        return ledger.transfer({
          client: `writer-${writerArg}`,
          idempotencyKey: `t-${i}`,
          from: pay ? phone : 'cash',
          to: pay ? 'merchant' : phone,
          amount: pay ? 1 : 2,
        });
      }),
    );
  }
  process.stdout.write(`${JSON.stringify({ transfers: n, retries: ledger.retries, commits: ledger.commits })}\n`);
  await ledger.close();
} else {
  const writers = Number(writersArg);
  const schema = await freshSchema(url!);
  try {
    const children = Array.from({ length: writers }, (_, w) => {
      const child = spawn(
        process.execPath,
        [
          '--conditions=source',
          '--import',
          'tsx',
          fileURLToPath(import.meta.url),
          url!,
          writersArg!,
          secondsArg!,
          perTurnArg!,
          'child',
          schema.name,
          String(w),
        ],
        { stdio: ['pipe', 'pipe', 'inherit'] },
      );
      let out = '';
      const ready = new Promise<void>((r) =>
        child.stdout!.on('data', (d: Buffer) => {
          out += d;
          if (out.startsWith('ready\n')) r();
        }),
      );
      const exit = new Promise<void>((r) => child.once('exit', () => r()));
      return { child, ready, exit, out: () => out };
    });
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.child.stdin!.end('go\n');
    await Promise.all(children.map((c) => c.exit));
    const results = children.map(
      (c) => JSON.parse(c.out().split('\n')[1]!) as { transfers: number; retries: number; commits: number },
    );
    const transfers = results.reduce((s, r) => s + r.transfers, 0);
    const ledger = await openPostgresLedger({ connectionString: url!, schema: schema.name });
    const v = await ledger.verify();
    await ledger.close();
    console.log(
      JSON.stringify({
        writers,
        perTurn: Number(perTurnArg),
        seconds: Number(secondsArg),
        transfersPerSecond: Math.round(transfers / Number(secondsArg)),
        commits: results.reduce((s, r) => s + r.commits, 0),
        retries: results.reduce((s, r) => s + r.retries, 0),
        verify: v.ok,
      }),
    );
  } finally {
    await schema.drop();
  }
}
