/**
 * The PostgreSQL ledger store: the conformance suite, each test in a schema of its own, then what only PostgreSQL
 * has — migrations under concurrent opens, a newer schema refused, the append-only trigger, tampering caught, and
 * concurrent writers on the same hot accounts: several pools in this process, and three processes
 * (`host/test/postgres-hammer-child.ts`). The SIGKILL test is `host/test/ledger-crash-postgres.test.ts`.
 *
 * The server: `SIMTAP_TEST_DATABASE_URL`, else a throwaway cluster when PostgreSQL is installed, else one skip line
 * (a failure under `CI=true`): `host/test/postgres-server.ts`.
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasErrorCode } from '@simtap/sdk/core/errors';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freshSchema, postgresForTests, type TestSchema } from '../../test/postgres-server';
import { describeLedgerStore, rejectsWith } from './conformance.test-support';
import { LEDGER_ERRORS } from './errors';
import { openPostgresLedger, POSTGRES_SCHEMA_VERSION, type PostgresLedgerStore } from './postgres';
import { checkHammer, type HammerOutcome, runHammer } from './postgres-hammer.test-support';

const REPO = resolve(fileURLToPath(import.meta.url), '../../../..');
const HAMMER_CHILD = join(REPO, 'host/test/postgres-hammer-child.ts');

const url = await postgresForTests('PostgreSQL ledger store');

if (url !== undefined) {
  describeLedgerStore('postgres', async () => {
    const schema = await freshSchema(url);
    return {
      open: (options) => openPostgresLedger({ ...options, connectionString: url, schema: schema.name }),
      dispose: () => schema.drop(),
    };
  });
}

describe.skipIf(url === undefined)('PostgreSQL ledger store', () => {
  const db = url ?? '';
  let schema: TestSchema;
  let ledger: PostgresLedgerStore;
  let admin: pg.Client;
  const tx = (key: string, amount = 1) => ({ client: 'c', idempotencyKey: key, from: 'cash', to: 'phone', amount });
  /** Runs SQL in the test's schema on a connection of its own. */
  const sql = (text: string, values?: unknown[]) => admin.query(text, values);

  beforeEach(async () => {
    schema = await freshSchema(db);
    ledger = await openPostgresLedger({ connectionString: db, schema: schema.name });
    await ledger.openAccount('cash', 'CASH');
    await ledger.openAccount('phone', 'PHONE');
    admin = new pg.Client({ connectionString: db, options: `-c search_path=${schema.name}` });
    await admin.connect();
  });
  afterEach(async () => {
    await admin.end();
    await ledger.close();
    await schema.drop();
  });
  afterAll(() => undefined);

  it('refuses bad options (BAD_ARGUMENT)', async () => {
    await expect(openPostgresLedger({ connectionString: '' })).rejects.toThrow(/connectionString/);
    await expect(openPostgresLedger({ connectionString: db, pool: 0 })).rejects.toThrow(/pool/);
    await expect(openPostgresLedger({ connectionString: db, schema: 'Bad; DROP' })).rejects.toThrow(/schema/);
    await expect(openPostgresLedger({ connectionString: db, suspendAfterMs: -1 })).rejects.toThrow(/suspendAfterMs/);
  });

  it('records its schema version and applies migrations once when several stores open at once', async () => {
    expect((await sql('SELECT max(version) AS v FROM schema_migrations')).rows[0].v).toBe(POSTGRES_SCHEMA_VERSION);
    const fresh = await freshSchema(db);
    try {
      const stores = await Promise.all(
        Array.from({ length: 5 }, () => openPostgresLedger({ connectionString: db, schema: fresh.name })),
      );
      const v = await stores[0]!.verify();
      expect(v).toMatchObject({ ok: true, entries: 1, accounts: 1 });
      await Promise.all(stores.map((s) => s.close()));
    } finally {
      await fresh.drop();
    }
  });

  it('creates its schema when missing', async () => {
    const name = `${schema.name}_new`;
    const store = await openPostgresLedger({ connectionString: db, schema: name });
    try {
      expect((await store.verify()).ok).toBe(true);
    } finally {
      await store.close();
      await sql(`DROP SCHEMA ${name} CASCADE`);
    }
  });

  it('refuses a database whose schema is newer than the code (STORE_SCHEMA_NEWER)', async () => {
    await ledger.close();
    await sql('INSERT INTO schema_migrations (version) VALUES ($1)', [POSTGRES_SCHEMA_VERSION + 1]);
    await rejectsWith(openPostgresLedger({ connectionString: db, schema: schema.name }), 'STORE_SCHEMA_NEWER');
    await sql('DELETE FROM schema_migrations WHERE version > $1', [POSTGRES_SCHEMA_VERSION]);
    ledger = await openPostgresLedger({ connectionString: db, schema: schema.name });
    expect((await ledger.verify()).ok).toBe(true);
  });

  it('stores money as BIGINT and reads it back as numbers, up to MAX_SAFE_INTEGER', async () => {
    const types = await sql(
      "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'accounts' ORDER BY column_name",
      [schema.name],
    );
    expect(types.rows.filter((r) => ['balance', 'reserved', 'floor'].includes(r.column_name))).toEqual([
      { column_name: 'balance', data_type: 'bigint' },
      { column_name: 'floor', data_type: 'bigint' },
      { column_name: 'reserved', data_type: 'bigint' },
    ]);
    await ledger.transfer(tx('big', Number.MAX_SAFE_INTEGER));
    expect(await ledger.getAccount('phone')).toMatchObject({ balance: Number.MAX_SAFE_INTEGER });
    expect(await ledger.getAccount('cash')).toMatchObject({ balance: -Number.MAX_SAFE_INTEGER });
    // pg's own (global) parser is untouched: int8 is still a string for everyone else.
    expect(typeof (await sql('SELECT 1::int8 AS n')).rows[0].n).toBe('string');
  });

  it('keeps the journal append-only: the database refuses updates, deletes and truncation', async () => {
    await ledger.transfer(tx('k'));
    await expect(sql('UPDATE journal SET amount = 2 WHERE seq = 4')).rejects.toThrow(/append-only/);
    await expect(sql('DELETE FROM journal')).rejects.toThrow(/append-only/);
    await expect(sql('TRUNCATE journal')).rejects.toThrow(/append-only/);
  });

  it('refuses text PostgreSQL cannot hold as given (U+0000, unpaired surrogates) before anything moves', async () => {
    await expect(ledger.transfer({ ...tx('nul'), memo: 'a\u0000b' })).rejects.toThrow(/U\+0000/);
    await expect(ledger.transfer({ ...tx('sur'), memo: 'a\ud800b' })).rejects.toThrow(/surrogate/);
    const ok = await ledger.transfer({ ...tx('emoji'), memo: 'paid 😀' });
    expect(ok.transfer.memo).toBe('paid 😀');
    expect((await ledger.verify()).ok).toBe(true);
  });

  it("keeps quotes, backslashes and SQL in ids, memos, details and records as given (the store's literals)", async () => {
    const id = "o'hara\\x;--";
    const memo = "'); DROP TABLE accounts; -- \\' \\\\ 😀";
    const [opened, t] = await Promise.all([
      ledger.openAccount(id, 'PHONE'), // opened and paid in one batch: one write statement
      ledger.transfer({ ...tx('q'), to: id, memo, ref: "r'\\", meta: { "k'": "v\\'" } }),
    ]);
    expect(opened.id).toBe(id);
    expect(t.transfer).toMatchObject({ to: id, memo, ref: "r'\\", meta: { "k'": "v\\'" } });
    expect(await ledger.getTransfer(t.transfer.id)).toEqual(t.transfer);
    expect((await ledger.listTransfers({ ref: "r'\\" })).map((x) => x.id)).toEqual([t.transfer.id]);
    const h = await ledger.hold({ ...tx('qh'), from: id, to: 'phone', memo });
    await ledger.post({ transferId: h.transfer.id, reason: memo });
    await ledger.writeRecords([{ collection: "c'", id: "a\\'%_", value: { s: memo } }]);
    expect(await ledger.getRecord("c'", "a\\'%_")).toMatchObject({ value: { s: memo }, version: 1 });
    expect((await ledger.listRecords("c'", "a\\'%")).map((r) => r.id)).toEqual(["a\\'%_"]);
    expect(await ledger.listRecords("c'", 'a%x')).toEqual([]);
    expect(await ledger.verify()).toMatchObject({ ok: true, problems: [] });
  });

  it('commits the operations of one event-loop turn in one transaction, in call order', async () => {
    const before = ledger.commits;
    const results = await Promise.allSettled([
      ...Array.from({ length: 50 }, (_, i) => ledger.transfer(tx(`k${i}`))),
      ledger.transfer({ ...tx('bad'), from: 'phone', to: 'cash', amount: 51 }), // fails alone
      ledger.transfer({ ...tx('ok'), from: 'phone', to: 'cash', amount: 50 }),
    ]);
    expect(ledger.commits - before).toBe(1);
    expect(results.map((r) => r.status)).toEqual([...Array(50).fill('fulfilled'), 'rejected', 'fulfilled']);
    expect((await ledger.getAccount('phone'))?.balance).toBe(0);
  });

  it('resolves nothing before COMMIT: another connection sees the transfer when the promise resolves', async () => {
    // (Whether another connection sees 0 before the commit depends on timing; what must hold is the converse.)
    await ledger.transfer(tx('seen', 42));
    expect((await sql("SELECT balance FROM accounts WHERE id = 'phone'")).rows[0].balance).toBe('42');
  });

  it('reads see every write called before them', async () => {
    const writes = Array.from({ length: 20 }, (_, i) => ledger.transfer(tx(`r${i}`)));
    const read = ledger.getAccount('phone');
    expect((await read)?.balance).toBe(20);
    await Promise.all(writes);
  });

  it('fails a batch with STORE_COMMIT_FAILED when its connection dies; a retry under the same keys applies once', async () => {
    // This session holds the journal head, so the batch waits for it; then its connection is terminated.
    await sql('BEGIN');
    await sql('SELECT * FROM journal_head FOR UPDATE');
    const group = Promise.allSettled([ledger.transfer(tx('g1', 5)), ledger.transfer(tx('g2', 7))]);
    for (let killed = 0; killed === 0; ) {
      await new Promise((r) => setTimeout(r, 20));
      killed = (
        await sql(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))',
        )
      ).rowCount!;
    }
    for (const r of await group) {
      expect(r.status).toBe('rejected');
      if (r.status === 'rejected') await rejectsWith(Promise.reject(r.reason), 'STORE_COMMIT_FAILED');
    }
    await sql('ROLLBACK');
    await Promise.all([ledger.transfer(tx('g1', 5)), ledger.transfer(tx('g2', 7))]);
    await ledger.transfer(tx('g1', 5));
    expect((await ledger.getAccount('phone'))?.balance).toBe(12);
    expect((await ledger.verify()).ok).toBe(true);
  });

  describe('catches tampering', () => {
    /** Runs `text` on the tables with the journal's guard off, then verifies. */
    async function tamper(text: string) {
      await ledger.transfer(tx('k1', 500));
      await ledger.transfer(tx('k2', 300));
      expect((await ledger.verify()).ok).toBe(true);
      await sql('ALTER TABLE journal DISABLE TRIGGER USER');
      await sql(text);
      await sql('ALTER TABLE journal ENABLE TRIGGER USER');
      return ledger.verify();
    }

    it('an amount changed in a journal row (its hash no longer matches)', async () => {
      const v = await tamper("UPDATE journal SET amount = 5000 WHERE type = 'transfer' AND amount = 500");
      expect(v.ok).toBe(false);
      expect(v.problems.join('\n')).toMatch(/does not match its hash/);
    });

    it('a row rewritten with a fresh hash of its own (the next entry no longer chains to it)', async () => {
      const v = await tamper(`UPDATE journal SET hash = '${'ab'.repeat(32)}' WHERE seq = 4`);
      expect(v.ok).toBe(false);
      expect(v.problems.join('\n')).toMatch(/previous entry's hash/);
    });

    it('the last row deleted (the journal head no longer matches)', async () => {
      const v = await tamper('DELETE FROM journal WHERE seq = (SELECT max(seq) FROM journal)');
      expect(v.ok).toBe(false);
      expect(v.problems.join('\n')).toMatch(/journal_head/);
    });

    it('a stored balance that disagrees with the journal', async () => {
      const v = await tamper("UPDATE accounts SET balance = balance + 1 WHERE id = 'phone'");
      expect(v.ok).toBe(false);
      expect(v.problems.join('\n')).toMatch(/stored balance 801, journal 800/);
    });
  });

  it('keeps the invariants with several pools writing to the same hot accounts', async () => {
    const stores = await Promise.all(
      Array.from({ length: 4 }, () => openPostgresLedger({ connectionString: db, schema: schema.name, pool: 2 })),
    );
    try {
      const report = await runHammer(stores, { ops: 1200, perTurn: 8 });
      expect(report.unexpected).toEqual([]);
      expect(report.verify.problems).toEqual([]);
      expect(report.balances).toEqual(report.expected);
      console.log(
        `postgres ledger, ${stores.length} pools in one process: ${report.acknowledged} acknowledged operations ` +
          `in ${report.ms} ms (${Math.round((report.acknowledged * 1000) / report.ms)}/s), ${stores.reduce((n, s) => n + s.retries, 0)} batch retries`,
      );
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('keeps the invariants with three processes writing to the same hot accounts', async () => {
    const WRITERS = 3;
    const OPS = 3000;
    const children = Array.from({ length: WRITERS }, (_, w) => {
      const child = spawn(
        process.execPath,
        [
          '--conditions=source',
          '--import',
          'tsx',
          HAMMER_CHILD,
          db,
          schema.name,
          String(w),
          String(WRITERS),
          String(OPS),
          '10',
        ],
        { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] },
      );
      let out = '';
      let err = '';
      let onReady: () => void = () => {};
      const ready = new Promise<void>((r) => {
        onReady = r;
      });
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.startsWith('ready\n')) onReady();
      });
      child.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
      });
      const exit = new Promise<number | null>((r) =>
        child.once('exit', (code) => {
          onReady();
          r(code);
        }),
      );
      return { child, ready, exit, out: () => out, err: () => err };
    });
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.child.stdin!.end('go\n');
    const codes = await Promise.all(children.map((c) => c.exit));
    const outcomes: HammerOutcome[] = [];
    let ms = 0;
    let retries = 0;
    children.forEach((c, w) => {
      expect(codes[w], c.err()).toBe(0);
      for (const line of c.out().split('\n').slice(1)) {
        if (line === '') continue;
        const o = JSON.parse(line) as HammerOutcome & { done?: boolean; ms?: number; retries?: number };
        if (o.done) {
          ms = Math.max(ms, o.ms!);
          retries += o.retries!;
        } else outcomes.push(o);
      }
    });
    const report = await checkHammer(ledger, outcomes, OPS, WRITERS, Math.round(ms));
    expect(report.unexpected).toEqual([]);
    expect(report.verify.problems).toEqual([]);
    expect(report.balances).toEqual(report.expected);
    console.log(
      `postgres ledger, ${WRITERS} processes: ${report.acknowledged} acknowledged operations (${report.expectedTransfers} ` +
        `transfers made) in ${report.ms} ms (${Math.round((report.acknowledged * 1000) / report.ms)} operations/s), ${retries} batch retries`,
    );
  }, 60_000);

  it('commits a clearing batch — 200 legs and 1,000 record writes — as one linked transfer in one batch; a record conflict leaves none of it', async () => {
    const CARDS = 200;
    const RECORDS = 1000;
    await ledger.openAccount('merchant', 'MERCHANT_PAYABLE');
    for (let i = 0; i < CARDS; i++) await ledger.openAccount(`float:${i}`, 'CARD_FLOAT');
    await ledger.transferLinked({
      client: 'c',
      idempotencyKey: 'fund',
      legs: Array.from({ length: CARDS }, (_, i) => ({ from: 'cash', to: `float:${i}`, amount: 1000 })),
    });
    // Records that exist (updated under compare-and-set) and new ones (expectVersion 0), in no particular order.
    await ledger.writeRecords(
      Array.from({ length: CARDS }, (_, i) => ({ collection: 'cards', id: `c${i}`, value: 0 })),
    );
    const batch = (key: string, cardVersion: number) => ({
      client: 'clearing',
      idempotencyKey: key,
      legs: Array.from({ length: CARDS }, (_, i) => ({
        from: `float:${i}`,
        to: 'merchant',
        amount: 10,
        ref: `purchase:${i}`,
      })),
      records: [
        ...Array.from({ length: RECORDS - CARDS }, (_, i) => ({
          collection: 'debits',
          id: `${key}-${RECORDS - i}`,
          value: { key, i, memo: "o'hara \\ 😀" },
          expectVersion: 0,
        })),
        ...Array.from({ length: CARDS }, (_, i) => ({
          collection: 'cards',
          id: `c${i}`,
          value: { cleared: key },
          expectVersion: cardVersion,
        })),
      ],
    });
    const before = ledger.commits;
    const started = performance.now();
    const first = await ledger.transferLinked(batch('b1', 1));
    const ms = performance.now() - started;
    expect(ledger.commits - before).toBe(1);
    expect(first.transfers).toHaveLength(CARDS);
    expect(first.balances).toMatchObject({ 'float:0': 990, merchant: CARDS * 10 });
    const records = (
      await sql(
        'SELECT collection, count(*)::int AS n, max(version)::int AS v FROM records GROUP BY collection ORDER BY collection',
      )
    ).rows;
    expect(records).toEqual([
      { collection: 'cards', n: CARDS, v: 2 },
      { collection: 'debits', n: RECORDS - CARDS, v: 1 },
    ]);
    expect(await ledger.getRecord('debits', 'b1-1000')).toMatchObject({
      version: 1,
      value: { key: 'b1', i: 0, memo: "o'hara \\ 😀" },
    });
    const head = (await ledger.verify()).entries;
    expect(first.seq).toBe(head);

    // The last record is stale: nothing of the batch is applied, and (rememberFailure: false) the key stays unused.
    const stale = batch('b2', 2);
    const conflicting = {
      ...stale,
      records: [...stale.records.slice(0, -1), { ...stale.records.at(-1)!, expectVersion: 1 }],
      rememberFailure: false,
    };
    await rejectsWith(ledger.transferLinked(conflicting), 'RECORD_CONFLICT');
    expect((await ledger.getAccount('merchant'))?.balance).toBe(CARDS * 10);
    expect(
      (await sql("SELECT count(*)::int AS n FROM records WHERE collection = 'debits' AND id LIKE 'b2-%'")).rows[0].n,
    ).toBe(0);
    expect((await sql("SELECT count(*)::int AS n FROM idempotency WHERE key = 'b2'")).rows[0].n).toBe(0);
    expect(await ledger.verify()).toMatchObject({ ok: true, entries: head });
    await ledger.transferLinked(stale);
    expect((await ledger.getAccount('merchant'))?.balance).toBe(CARDS * 20);
    // A replay answers the first outcome and touches nothing.
    expect(await ledger.transferLinked(batch('b1', 1))).toEqual(first);
    expect(await ledger.verify()).toMatchObject({ ok: true, entries: head + CARDS });
    console.log(
      `postgres ledger: a linked transfer of ${CARDS} legs and ${RECORDS} record writes committed in ${Math.round(ms)} ms`,
    );
  });

  it('lets one of several stores racing for the same records win: the others fail with RECORD_CONFLICT and move nothing', async () => {
    const stores = await Promise.all(
      Array.from({ length: 4 }, () => openPostgresLedger({ connectionString: db, schema: schema.name, pool: 2 })),
    );
    try {
      for (let round = 0; round < 10; round++) {
        // Rounds alternate between a record to create (no row to lock: the losers' inserts collide) and one to update.
        const expectVersion = round % 2 === 0 ? 0 : 1;
        const id = `r${Math.floor(round / 2)}`;
        const outcomes = await Promise.allSettled(
          stores.map((s, i) =>
            s.transferLinked({
              client: 'c',
              idempotencyKey: `race-${round}-${i}`,
              legs: [{ from: 'cash', to: 'phone', amount: 1 }],
              records: [
                { collection: 'race', id: `${id}-other-${i}`, value: i, expectVersion: 0 },
                { collection: 'race', id, value: { round, i }, expectVersion },
              ],
            }),
          ),
        );
        const won = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
        expect(won).toHaveLength(1);
        for (const o of outcomes)
          if (o.status === 'rejected') await rejectsWith(Promise.reject(o.reason), 'RECORD_CONFLICT');
        expect(await ledger.getRecord('race', id)).toMatchObject({
          version: expectVersion + 1,
          value: { round, i: won[0] },
        });
        expect(
          (
            await sql("SELECT count(*)::int AS n FROM records WHERE collection = 'race' AND id LIKE $1", [
              `${id}-other-%`,
            ])
          ).rows[0].n,
        ).toBe(round % 2 === 0 ? 1 : 2);
      }
      expect((await ledger.getAccount('phone'))?.balance).toBe(10);
      expect(await ledger.verify()).toMatchObject({ ok: true, problems: [] });
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('refuses calls after close (STORE_CLOSED) and closes once what is in flight has settled', async () => {
    const inflight = ledger.transfer(tx('last'));
    const closing = ledger.close();
    await rejectsWith(ledger.getAccount('phone'), 'STORE_CLOSED');
    await closing;
    expect((await inflight).transfer.amount).toBe(1);
    await rejectsWith(ledger.transfer(tx('after')), 'STORE_CLOSED');
    expect(hasErrorCode(await ledger.verify().catch((e: unknown) => e), LEDGER_ERRORS, 'STORE_CLOSED')).toBe(true);
    ledger = await openPostgresLedger({ connectionString: db, schema: schema.name });
    expect((await ledger.getAccount('phone'))?.balance).toBe(1);
  });
});
