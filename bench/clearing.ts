/**
 * Clearing throughput (issue 10): durable cleared records per second through the platform's
 * `wallets.submitBatch` — every record's TAC verified with the issuer's key, its linked transfer posted (card
 * float → merchant payable, and the points award), the batch's claim and outcome stored, all committed on disk —
 * beside the raw insert rate of the same database, measured in the same run on the same file system.
 *
 * **SQLite.** The embedded store (`openSqliteLedger`: WAL, `synchronous=FULL`, group commit) on a file in a temp
 * folder; the raw row is better-sqlite3 inserting rows about as wide as a transfer row (a UUID key, account ids,
 * amount, memo, ref, a JSON text of ~170 characters) into a table with its primary key only, 100 rows per
 * transaction, on a file of its own with the same pragmas.
 *
 * **PostgreSQL.** The `pg` store (`openPostgresLedger`, a fresh schema per run) on `SIMTAP_TEST_DATABASE_URL` when
 * set, else on a throwaway cluster of the bench's own (`scripts/throwaway-postgres.sh`, restarted with fsync,
 * synchronous_commit and full_page_writes on: the script starts it with them off, for tests); the note says which and
 * the server's settings. The raw row is `pg` on one connection inserting the same rows, 100 per transaction as one
 * multi-row `INSERT … VALUES` (the note gives 100 single-row INSERTs too). Without a server or its binaries the
 * suite prints one skip line naming the package (`postgresql`); under `CI=true` that is a failure.
 *
 * **Records.** Valid purchase records made beforehand with the issuer's TAC key (`IssuerTacVerifier.purchaseTac`,
 * what a card makes), amounts 1.00–49.99 yuan, each card's offline counters 1, 2, 3… in order; every card's float
 * is funded from the client's cash account first (direct ledger transfers, untimed). The rows of the profile's three
 * cards clear 10,000 records (3,334 per card) on a fresh database each: batches of 100 one at a time, 4 batches in
 * flight (their transfers share group commits), and batches of 500. The fleet row clears 10 records on each of 1,000
 * cards issued beforehand, so that a batch of 100 names 100 cards, as a merchant's day of taps does.
 *
 * After each run the bench checks, and fails loudly otherwise: every record accepted, `verify()` ok (chain, zero
 * sum, stored balances), the merchant payable equal to the sum of the records and the points to their award, no
 * counter gap reported where none exists, and the store's pragmas WAL + `synchronous=FULL` (2).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SoftwareIssuerKeyStore } from '@simtap/host/keys';
import {
  type LedgerStore,
  openPostgresLedger,
  openSqliteLedger,
  PostgresLedgerStore,
  SqliteLedgerStore,
} from '@simtap/host/ledger';
import { ACCOUNT, openPlatform, platformConfigFromProfile } from '@simtap/host/platform';
import { freshSchema, POSTGRES_SKIP_REASON, postgresBinariesInstalled, type TestSchema } from '@simtap/host/testing';
import type { BatchOutcome, PurchaseRecord } from '@simtap/host/wallets';
import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import { IssuerTacVerifier, TTI } from '@simtap/sdk/core/pboc';
import { referenceProfile } from '@simtap/sdk/core/profile';
import Database from 'better-sqlite3';
import pg from 'pg';
import { type BenchRow, type Measurement, row } from './lib';

const SQLITE_GROUP = 'Clearing, SQLite (WAL, synchronous=FULL): durable cleared records/s';
const POSTGRES_GROUP = 'Clearing, PostgreSQL (fsync, synchronous_commit on): durable cleared records/s';
/** Issue 10's target for the SQLite store on the 2-core reference machine. */
const TARGET = { minOpsPerSec: 5_000, minRateRatio: 0.25 };
/** The client whose machines submit the batches (it settles to M-MART-1, 1 point per yuan). */
const CLIENT = 'mart-1';
const RECORDS = 10_000;
const FLEET_CARDS = 1_000;
const FLEET_PER_CARD = 10;
const RAW_TXNS = 100;
const RAW_ROUNDS = 3;
const TERMINAL = '440100001000';
const DATE = '20260301';
/** The share of a run whose rate the note gives at its start and at its end. */
const WINDOW = 0.2;

const nowUs = (): number => Number(process.hrtime.bigint()) / 1000;
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
const fmtRate = (n: number): string => Math.round(n).toLocaleString('en-US');

function fail(message: string): never {
  throw new Error(`clearing bench: ${message}`);
}

/** A deterministic pseudo-random source (reproducible amounts). */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x * 1103515245 + 12345) >>> 0;
    return x >>> 8;
  };
}

/** HHMMSS of second `s` of the day. */
function timeOf(s: number): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(Math.floor(s / 3600) % 24)}${two(Math.floor(s / 60) % 60)}${two(s % 60)}`;
}

/** The bench fleet's card `n`: application serial 0000 4401 2026 9nnn nnnn, a holder of the profile. */
function fleetCard(n: number, msisdn: string) {
  const cardSerial = `0000440120269${n.toString(16).toUpperCase().padStart(7, '0')}`;
  return {
    cardSerial,
    iccid: `8986004401202690${n.toString(16).toUpperCase().padStart(4, '0')}`,
    msisdn,
    kdd: cardSerial,
  };
}

/**
 * `count` valid records, round-robin over `serials` (each card's offline counters 1, 2, 3…), with the TAC each card
 * makes (the issuer's TAC key diversified with the card's serial).
 */
function makeRecords(serials: readonly string[], count: number): PurchaseRecord[] {
  const issuer = new IssuerTacVerifier(referenceProfile().issuer.masterKeys.tacMasterKey);
  const random = lcg(20260301);
  const counters = new Map<string, number>();
  const terminalId = fromHex(TERMINAL);
  const date = fromHex(DATE);
  const records: PurchaseRecord[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const cardSerial = serials[i % serials.length]!;
      const offlineCounter = (counters.get(cardSerial) ?? 0) + 1;
      counters.set(cardSerial, offlineCounter);
      const amount = 100 + (random() % 4_900);
      const terminalSeq = i + 1;
      const time = timeOf(28_800 + (i % 50_000));
      const fields = {
        amount,
        tti: TTI.EP_PURCHASE,
        terminalId,
        terminalTxnSeq: terminalSeq,
        date,
        time: fromHex(time),
      };
      const tac = toHex(issuer.purchaseTac(fields, fromHex(cardSerial)));
      records.push({
        cardSerial,
        offlineCounter,
        amount,
        tti: TTI.EP_PURCHASE,
        terminalId: TERMINAL,
        terminalSeq,
        date: DATE,
        time,
        tac,
      });
    }
  } finally {
    issuer.destroy();
  }
  return records;
}

/**
 * The raw primitive: better-sqlite3 inserting transfer-wide rows in transactions of 100 (WAL, `synchronous=FULL`,
 * one `COMMIT` = one fsync of the WAL per 100 rows); {@link RAW_ROUNDS} rounds of {@link RAW_TXNS} transactions,
 * the median round.
 */
function rawSqlite(dir: string): Measurement {
  const db = new Database(join(dir, 'raw.db'));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    if (db.pragma('synchronous', { simple: true }) !== 2) fail('raw: synchronous=FULL did not take');
    db.exec(
      'CREATE TABLE t (id TEXT PRIMARY KEY, from_account TEXT NOT NULL, to_account TEXT NOT NULL, amount INTEGER NOT NULL, ' +
        'memo TEXT NOT NULL, ref TEXT, meta TEXT NOT NULL, created_at INTEGER NOT NULL) STRICT',
    );
    const insert = db.prepare('INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    const txn = db.transaction((ids: readonly string[], metas: readonly string[]) => {
      for (let i = 0; i < ids.length; i++)
        insert.run(
          ids[i],
          'float:00004401202600000001',
          'merchant:M-MART-1',
          1_234 + i,
          'purchase, card 00004401202600000001',
          'purchase:00004401202600000001',
          metas[i],
          Date.now(),
        );
    });
    const rounds: number[] = [];
    for (let r = 0; r < RAW_ROUNDS; r++) {
      const batches = Array.from({ length: RAW_TXNS }, (_, b) => {
        const ids = Array.from({ length: 100 }, () => randomUUID());
        const metas = ids.map((_, i) =>
          JSON.stringify({
            offlineCounter: b * 100 + i,
            tti: 6,
            terminalId: TERMINAL,
            terminalSeq: b * 100 + i,
            date: DATE,
            time: '100304',
            tac: '0A1B2C3D',
            batch: `6:mart-1/raw-${r}-${b}`,
            index: i,
          }),
        );
        return { ids, metas };
      });
      gc();
      const t0 = nowUs();
      for (const { ids, metas } of batches) txn(ids, metas);
      rounds.push((nowUs() - t0) / (RAW_TXNS * 100));
    }
    rounds.sort((a, b) => a - b);
    const us = rounds[Math.floor(rounds.length / 2)]!;
    return { name: 'better-sqlite3 INSERT, 100-row transactions', usPerOp: us, opsPerSec: 1e6 / us };
  } finally {
    db.close();
  }
}

interface RunOptions {
  /** Opens a fresh, empty ledger. */
  readonly open: () => Promise<LedgerStore>;
  readonly name: string;
  readonly records: readonly PurchaseRecord[];
  readonly batch: number;
  readonly inFlight: number;
  /** Cards to issue (active) before the run, besides the profile's. */
  readonly fleet?: ReadonlyArray<ReturnType<typeof fleetCard>>;
}

interface RunResult {
  readonly measurement: Measurement;
  /** Records/s over the first and the last {@link WINDOW} of the run. */
  readonly early: number;
  readonly late: number;
  /** Commits the store made during the timed part (the SQLite store's include its reads'), when it counts them. */
  readonly commits?: number;
  readonly batches: number;
}

/** Clears `records` through a fresh platform in batches of `batch`, `inFlight` at a time; checks the books after. */
async function clearingRun(o: RunOptions): Promise<RunResult> {
  const profile = referenceProfile();
  const ledger = await o.open();
  const platform = await openPlatform({
    ledger,
    keys: SoftwareIssuerKeyStore.fromProfile(profile),
    config: platformConfigFromProfile(profile),
  });
  try {
    if (ledger instanceof SqliteLedgerStore) {
      const p = ledger.pragmas();
      if (p.journalMode !== 'wal' || p.synchronous !== 2)
        fail(`the store runs with journal_mode=${p.journalMode}, synchronous=${p.synchronous}, not WAL + FULL (2)`);
    }
    // Untimed: the fleet's cards, and every card's float funded with what its records spend.
    await Promise.all((o.fleet ?? []).map((c) => platform.contactless.issue({ ...c, status: 'active' })));
    const perCard = new Map<string, number>();
    for (const r of o.records) perCard.set(r.cardSerial, (perCard.get(r.cardSerial) ?? 0) + r.amount);
    await Promise.all(
      [...perCard].map(([cardSerial, amount]) =>
        ledger.transfer({
          client: CLIENT,
          idempotencyKey: `fund:${cardSerial}`,
          from: ACCOUNT.cash(CLIENT),
          to: ACCOUNT.float(cardSerial),
          amount,
          memo: 'bench: float funded',
        }),
      ),
    );
    const batches: PurchaseRecord[][] = [];
    for (let i = 0; i < o.records.length; i += o.batch) batches.push(o.records.slice(i, i + o.batch));
    const outcomes: BatchOutcome[] = new Array(batches.length);
    const done: Array<{ at: number; records: number }> = [];
    let next = 0;
    gc();
    const counted = ledger instanceof SqliteLedgerStore || ledger instanceof PostgresLedgerStore ? ledger : undefined;
    const commits0 = counted?.commits ?? 0;
    const t0 = nowUs();
    const worker = async (): Promise<void> => {
      for (let i = next++; i < batches.length; i = next++) {
        outcomes[i] = await platform.wallets.submitBatch({
          client: CLIENT,
          idempotencyKey: `${o.name}-${i}`,
          records: batches[i]!,
        });
        done.push({ at: nowUs() - t0, records: batches[i]!.length });
      }
    };
    await Promise.all(Array.from({ length: o.inFlight }, worker));
    const elapsed = nowUs() - t0;
    const commits = counted ? counted.commits - commits0 : undefined;

    // The books, checked.
    const n = o.records.length;
    const fen = o.records.reduce((a, r) => a + r.amount, 0);
    const points = o.records.reduce((a, r) => a + Math.floor(r.amount / 100), 0);
    outcomes.forEach((out, i) => {
      if (out.accepted !== batches[i]!.length || out.rejected.length > 0)
        fail(
          `${o.name}: batch ${i} accepted ${out.accepted} of ${batches[i]!.length}: ${JSON.stringify(out.rejected.slice(0, 3))}`,
        );
      if (o.inFlight === 1 && out.gaps.length > 0)
        fail(`${o.name}: batch ${i} reports gaps where there are none: ${JSON.stringify(out.gaps.slice(0, 2))}`);
    });
    const settled = outcomes.reduce((a, out) => a + out.settled, 0);
    const awarded = outcomes.reduce((a, out) => a + out.points, 0);
    if (settled !== fen) fail(`${o.name}: the outcomes settled ${settled} fen, the records hold ${fen}`);
    if (awarded !== points) fail(`${o.name}: the outcomes awarded ${awarded} points, not ${points}`);
    const verified = await platform.verify();
    if (!verified.ok) fail(`${o.name}: verify() failed: ${JSON.stringify(verified).slice(0, 300)}`);
    const { payable } = await platform.merchantBalance({ client: CLIENT });
    if (payable !== fen) fail(`${o.name}: merchant payable ${payable} fen ≠ ${fen} fen of the records`);
    let liability = 0;
    for (const c of profile.platform.customers)
      liability += (await ledger.getAccount(ACCOUNT.points(c.msisdn)))?.balance ?? 0;
    if (liability !== points) fail(`${o.name}: points liability ${liability} ≠ ${points} awarded`);

    // Rates over the first and the last WINDOW of the records (by completion time).
    const edge = Math.ceil(n * WINDOW);
    let seen = 0;
    let earlyAt = elapsed;
    let lateFrom = 0;
    for (const d of done) {
      if (seen < n - edge) lateFrom = d.at;
      seen += d.records;
      if (seen >= edge && earlyAt === elapsed) earlyAt = d.at;
    }
    const us = elapsed / n;
    return {
      measurement: { name: o.name, usPerOp: us, opsPerSec: 1e6 / us },
      early: (edge * 1e6) / earlyAt,
      late: (edge * 1e6) / (elapsed - lateFrom),
      ...(commits === undefined ? {} : { commits }),
      batches: batches.length,
    };
  } finally {
    await platform.close();
  }
}

/** The note of a clearing row: what ran, the rate ratio, the drift from start to end, the commits. */
function note(r: RunResult, raw: Measurement, what: string, commits: string): string {
  const parts = [
    what,
    `${(r.measurement.opsPerSec / raw.opsPerSec).toFixed(3)}× the raw rate`,
    `first ${WINDOW * 100}% ${fmtRate(r.early)}/s, last ${WINDOW * 100}% ${fmtRate(r.late)}/s`,
  ];
  if (r.commits !== undefined) parts.push(`${r.commits} ${commits} for ${r.batches} batches`);
  return parts.join('; ');
}

type Config = Omit<RunOptions, 'open'> & { readonly what: string };

/** The runs of each store: the profile's three cards in three batch shapes, then the fleet. */
function configs(): Config[] {
  const profile = referenceProfile();
  const cards = profile.cards.map((c) => toHex(c.applicationSerial));
  const records = makeRecords(cards, RECORDS);
  const customers = profile.platform.customers;
  const fleet = Array.from({ length: FLEET_CARDS }, (_, i) => fleetCard(i, customers[i % customers.length]!.msisdn));
  const fleetRecords = makeRecords(
    fleet.map((c) => c.cardSerial),
    FLEET_CARDS * FLEET_PER_CARD,
  );
  const perCard = Math.ceil(RECORDS / cards.length).toLocaleString('en-US');
  const fleetSize = FLEET_CARDS.toLocaleString('en-US');
  return [
    {
      name: 'submitBatch, 100 records, 1 batch in flight',
      records,
      batch: 100,
      inFlight: 1,
      what: `${RECORDS.toLocaleString('en-US')} records of the profile's 3 cards (≤ ${perCard} each)`,
    },
    {
      name: 'submitBatch, 100 records, 4 batches in flight',
      records,
      batch: 100,
      inFlight: 4,
      what: "the same records; the batches' transfers share group commits",
    },
    { name: 'submitBatch, 500 records, 1 batch in flight', records, batch: 500, inFlight: 1, what: 'the same records' },
    {
      name: `submitBatch, 100 records, 4 in flight, ${fleetSize} cards`,
      records: fleetRecords,
      batch: 100,
      inFlight: 4,
      fleet,
      what: `${FLEET_PER_CARD} records on each of ${fleetSize} cards (100 cards a batch)`,
    },
  ];
}

/** The SQLite rows, each on a fresh database file in `dir`. */
async function sqliteRows(dir: string, runs: readonly Config[]): Promise<BenchRow[]> {
  const raw = rawSqlite(dir);
  let n = 0;
  const open = async (): Promise<LedgerStore> => openSqliteLedger({ path: join(dir, `clearing-${n++}.db`) });
  const rows: BenchRow[] = [];
  for (const { what, ...c } of runs) {
    const r = await clearingRun({ ...c, open });
    rows.push(row(SQLITE_GROUP, r.measurement, raw, TARGET, note(r, raw, what, 'group commits (its reads included)')));
  }
  return rows;
}

// ---------------------------------------------------------------- PostgreSQL

/** The server settings that decide durability, as `SHOW` gives them. */
async function durability(url: string): Promise<Record<string, string>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ name: string; setting: string }>(
      "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method') ORDER BY name",
    );
    return Object.fromEntries(rows.map((r) => [r.name, r.setting]));
  } finally {
    await c.end();
  }
}

const THROWAWAY = fileURLToPath(new URL('../scripts/throwaway-postgres.sh', import.meta.url));

/**
 * A throwaway cluster of the bench's own, durable: `scripts/throwaway-postgres.sh` starts one for tests with fsync,
 * synchronous_commit and full_page_writes off on the server's command line (which no `ALTER SYSTEM` overrides), so
 * the bench restarts it with the same listen options and PostgreSQL's defaults for the rest (all three on).
 * `stop()` removes it; so does the script's watcher should this process die first.
 */
function durableCluster(): { url: string; stop: () => void } {
  const out = execFileSync('bash', [THROWAWAY, 'start', '--watch-pid', String(process.pid)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
  const vars = Object.fromEntries(
    out
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  const { PGTMP: tmp, PGBIN: bin, DATABASE_URL: url } = vars;
  if (!tmp || !bin || !url) fail(`scripts/throwaway-postgres.sh printed no cluster: ${out}`);
  const stop = (): void => {
    spawnSync('bash', [THROWAWAY, 'stop', tmp], { stdio: 'ignore' });
  };
  process.once('exit', stop);
  // As the script does: the cluster runs as `postgres` when we are root (initdb refuses root).
  const asOwner = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
  const pgCtl = [`${bin}/pg_ctl`, '-D', `${tmp}/data`, '-l', `${tmp}/server.log`, '-w', '-t', '60'];
  const options = `-c listen_addresses=127.0.0.1 -p ${new URL(url).port} -k ${tmp} -c max_connections=200`;
  const argv = [...asOwner, ...pgCtl, '-o', options, 'restart'];
  execFileSync(argv[0]!, argv.slice(1), { stdio: 'ignore', timeout: 90_000 });
  return { url, stop };
}

/**
 * The raw primitive on PostgreSQL: `pg` (one connection, TCP to 127.0.0.1) inserting the same transfer-wide rows as
 * the SQLite raw row, 100 per transaction, as `BEGIN`, one multi-row `INSERT … VALUES (…), …` of 100 rows (800
 * parameters), `COMMIT` — and, for the note, as `BEGIN`, 100 single-row INSERTs, `COMMIT`. Median of
 * {@link RAW_ROUNDS} rounds of {@link RAW_TXNS} transactions each.
 */
async function rawPostgres(url: string, schema: string): Promise<{ multi: Measurement; single: Measurement }> {
  const c = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
  await c.connect();
  try {
    await c.query(
      'CREATE TABLE t (id TEXT PRIMARY KEY, from_account TEXT NOT NULL, to_account TEXT NOT NULL, amount BIGINT NOT NULL, ' +
        'memo TEXT NOT NULL, ref TEXT, meta TEXT NOT NULL, created_at BIGINT NOT NULL)',
    );
    const rowOf = (b: number, i: number, tag: string): unknown[] => [
      randomUUID(),
      'float:00004401202600000001',
      'merchant:M-MART-1',
      1_234 + i,
      'purchase, card 00004401202600000001',
      'purchase:00004401202600000001',
      JSON.stringify({
        offlineCounter: b * 100 + i,
        tti: 6,
        terminalId: TERMINAL,
        terminalSeq: b * 100 + i,
        date: DATE,
        time: '100304',
        tac: '0A1B2C3D',
        batch: `6:mart-1/raw-${tag}-${b}`,
        index: i,
      }),
      Date.now(),
    ];
    const multiSql = `INSERT INTO t VALUES ${Array.from({ length: 100 }, (_, i) => `(${Array.from({ length: 8 }, (_, k) => `$${i * 8 + k + 1}`).join(', ')})`).join(', ')}`;
    const singleSql = 'INSERT INTO t VALUES ($1, $2, $3, $4, $5, $6, $7, $8)';
    const measureRounds = async (name: string, multi: boolean): Promise<Measurement> => {
      const rounds: number[] = [];
      for (let r = 0; r < RAW_ROUNDS; r++) {
        const txns = Array.from({ length: RAW_TXNS }, (_, b) =>
          Array.from({ length: 100 }, (_, i) => rowOf(b, i, `${multi ? 'm' : 's'}${r}`)),
        );
        gc();
        const t0 = nowUs();
        for (const rows of txns) {
          await c.query('BEGIN');
          if (multi) await c.query({ name: 'multi', text: multiSql, values: rows.flat() });
          else for (const v of rows) await c.query({ name: 'single', text: singleSql, values: v });
          await c.query('COMMIT');
        }
        rounds.push((nowUs() - t0) / (RAW_TXNS * 100));
      }
      rounds.sort((a, b) => a - b);
      const us = rounds[Math.floor(rounds.length / 2)]!;
      return { name, usPerOp: us, opsPerSec: 1e6 / us };
    };
    return {
      multi: await measureRounds('pg, 100-row INSERT … VALUES per transaction', true),
      single: await measureRounds('pg, 100 INSERTs per transaction', false),
    };
  } finally {
    await c.end();
  }
}

/**
 * The PostgreSQL rows, each in a fresh schema: on `SIMTAP_TEST_DATABASE_URL` as it is (its durability settings in
 * the note), else on a durable throwaway cluster of the bench's own; without either, one skip line (a failure under
 * `CI=true`).
 */
async function postgresRows(runs: readonly Config[]): Promise<BenchRow[]> {
  const given = process.env.SIMTAP_TEST_DATABASE_URL;
  if (!given && !postgresBinariesInstalled()) {
    const line = `clearing on PostgreSQL ${POSTGRES_SKIP_REASON}`;
    if (process.env.CI === 'true') throw new Error(`CI=true, so this is a failure, not a skip: ${line}`);
    console.log(`  ${line}`);
    return [];
  }
  const cluster = given ? undefined : durableCluster();
  const url = given ?? cluster!.url;
  const schemas: TestSchema[] = [];
  try {
    const settings = await durability(url);
    const durable = settings.fsync === 'on' && settings.synchronous_commit === 'on';
    const server = `${given ? 'SIMTAP_TEST_DATABASE_URL' : "the bench's throwaway cluster"}: ${Object.entries(settings)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}${durable ? '' : ' — NOT DURABLE: these figures are no durable rate'}`;
    const schema = async (): Promise<string> => {
      const s = await freshSchema(url);
      schemas.push(s);
      return s.name;
    };
    const raw = await rawPostgres(url, await schema());
    const rows: BenchRow[] = [];
    for (const { what, ...c } of runs) {
      const name = await schema();
      const open = (): Promise<LedgerStore> => openPostgresLedger({ connectionString: url, schema: name });
      const r = await clearingRun({ ...c, open });
      rows.push(row(POSTGRES_GROUP, r.measurement, raw.multi, undefined, note(r, raw.multi, what, 'write commits')));
    }
    const rawNote = `${server}; raw as 100 single-row INSERTs per transaction: ${fmtRate(raw.single.opsPerSec)} rows/s`;
    rows[0] = { ...rows[0]!, note: `${rows[0]!.note}; ${rawNote}` };
    return rows;
  } finally {
    for (const s of schemas) await s.drop().catch(() => undefined);
    cluster?.stop();
  }
}

/** Runs the clearing benchmark: SQLite, then PostgreSQL. */
export async function benchClearing(): Promise<BenchRow[]> {
  const runs = configs();
  const dir = mkdtempSync(join(tmpdir(), 'simtap-bench-clearing-'));
  const rows: BenchRow[] = [];
  try {
    rows.push(...(await sqliteRows(dir, runs)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  rows.push(...(await postgresRows(runs)));
  return rows;
}
