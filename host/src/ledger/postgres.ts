/**
 * The PostgreSQL ledger store (`pg`): the same rules as the SQLite store, for several processes writing at once.
 *
 * - **Group commit, in call order.** Like the SQLite store, the writes a store receives in one event-loop turn run
 *   together in one transaction, in the order they were called, each as if in its own savepoint (a refused one
 *   leaves nothing behind); batches of one store run one after another, and the next batch takes what arrived
 *   meanwhile. Nothing is acknowledged before `COMMIT` returned. Reads run on the pool once the writes called
 *   before them have settled.
 * - **Locks in one fixed order.** A batch reads its idempotency rows, then locks (`SELECT … FOR UPDATE`) the
 *   transfers it settles sorted by id, then every account it touches sorted by id, then the single row of
 *   `journal_head`, then the records it writes sorted by key; it computes every balance from the locked rows, and
 *   writes the accounts, transfers, journal entries, head, idempotency rows and records in one statement sent with
 *   `COMMIT` (READ COMMITTED: a row lock returns the latest committed row). The reads and locks go as one
 *   multi-statement query (statements run in order), so a batch takes two round trips, three when it settles
 *   transfers (their accounts are known once they are read). Every writer takes its locks in that
 *   order, so writers wait for each other but never deadlock; a serialization failure or deadlock (40001, 40P01)
 *   all the same, or a unique violation (23505: another process stored the same idempotency key, account or record
 *   first), rolls the batch back and runs it again (bounded), and the retry finds the other's row.
 * - **One chain.** The journal is one SHA-256 chain, so appending needs its head: `journal_head` is locked by every
 *   writing batch from its head read to its `COMMIT`. That serializes the commits of all processes — the price of
 *   one tamper-evident chain; group commit pays it once per batch, not once per transfer.
 * - **Migrations** are numbered in `schema_migrations` and applied at open inside one transaction under an advisory
 *   lock (several processes may open at once); a schema newer than this code is refused with `STORE_SCHEMA_NEWER`.
 *   The schema mirrors SQLite's versions 1 and 2 with BIGINT money, CHECK constraints, and a trigger that makes the
 *   journal append-only.
 * - Money is BIGINT in the database and a safe-integer number in JavaScript: the store's own `pg` type table parses
 *   int8 to numbers (pg's global parsers are left alone).
 * @module
 */
import { randomUUID } from 'node:crypto';
import { ArgumentError } from '@simtap/sdk/core/errors';
import pg from 'pg';
import { LedgerError, LedgerStoreError } from './errors';
import {
  ACCOUNT_KINDS,
  type Account,
  type AccountKind,
  type CheckedLeg,
  type CheckedRecordWrite,
  checkFilter,
  checkId,
  checkKind,
  checkLinked,
  checkRecordKey,
  checkRecordWrite,
  checkText,
  checkTransfer,
  entryHash,
  GENESIS_HASH,
  type IdempotencyUse,
  type JournalEntry,
  type KindTotal,
  kindTotals,
  type LinkedTransferRequest,
  type LinkedTransferResult,
  type RecordWrite,
  requestHash,
  type SettleRequest,
  type StoredRecord,
  SUSPENSE_ACCOUNT,
  type Transfer,
  type TransferFilter,
  type TransferMeta,
  type TransferRequest,
  type TransferResult,
  type TransferState,
  type VerifyResult,
  verifyJournal,
} from './model';
import { DEFAULT_SUSPEND_AFTER_MS, type LedgerStore, type LedgerStoreOptions } from './store';

/** Options of {@link openPostgresLedger}. */
export interface PostgresLedgerOptions extends LedgerStoreOptions {
  /** `postgres://user:password@host:port/database` (what `SIMTAP_DATABASE_URL` holds). */
  readonly connectionString: string;
  /** Connections of the store's pool (default 4): one writes at a time, the others serve reads and `verify()`. */
  readonly pool?: number;
  /**
   * The schema the ledger's tables live in (created if missing; it becomes the connections' `search_path`):
   * lower-case letters, digits and `_`. Default: the connection's `search_path` (usually `public`).
   */
  readonly schema?: string;
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** The schema, one step per version: `MIGRATIONS[n - 1]` takes a database from version n-1 to n. */
const MIGRATIONS: ReadonlyArray<(c: pg.ClientBase, now: () => number) => Promise<void>> = [
  async (c, now) => {
    await c.query(`
      CREATE TABLE accounts (
        id TEXT COLLATE "C" PRIMARY KEY,
        kind TEXT NOT NULL,
        floor BIGINT,
        balance BIGINT NOT NULL DEFAULT 0 CHECK (balance BETWEEN -${MAX_SAFE} AND ${MAX_SAFE}),
        reserved BIGINT NOT NULL DEFAULT 0 CHECK (reserved BETWEEN 0 AND ${MAX_SAFE}),
        CHECK (floor IS NULL OR balance - reserved >= floor)
      );
      CREATE TABLE transfers (
        id TEXT COLLATE "C" PRIMARY KEY,
        type TEXT NOT NULL CHECK (type IN ('direct', 'pending')),
        from_account TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
        to_account TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
        amount BIGINT NOT NULL CHECK (amount BETWEEN 1 AND ${MAX_SAFE}),
        memo TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('posted', 'pending', 'suspended', 'voided')),
        created_at BIGINT NOT NULL,
        reason TEXT,
        suspended_at BIGINT,
        settled_at BIGINT,
        last_seq BIGINT NOT NULL,
        created_seq BIGINT NOT NULL
      );
      CREATE INDEX transfers_state ON transfers (state, created_at, created_seq);
      CREATE TABLE journal (
        seq BIGINT PRIMARY KEY CHECK (seq >= 1),
        type TEXT NOT NULL CHECK (type IN ('open', 'transfer', 'hold', 'post', 'void', 'suspend')),
        at BIGINT NOT NULL,
        transfer_id TEXT COLLATE "C",
        debit TEXT COLLATE "C" NOT NULL,
        credit TEXT COLLATE "C" NOT NULL,
        amount BIGINT NOT NULL CHECK (amount BETWEEN 0 AND ${MAX_SAFE}),
        held BIGINT NOT NULL CHECK (held BETWEEN -${MAX_SAFE} AND ${MAX_SAFE}),
        reason TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      );
      CREATE FUNCTION journal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the journal is append-only'; END
      $$;
      CREATE TRIGGER journal_no_update BEFORE UPDATE OR DELETE ON journal
        FOR EACH ROW EXECUTE FUNCTION journal_append_only();
      CREATE TRIGGER journal_no_truncate BEFORE TRUNCATE ON journal
        FOR EACH STATEMENT EXECUTE FUNCTION journal_append_only();
      CREATE TABLE journal_head (
        one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
        seq BIGINT NOT NULL,
        hash TEXT NOT NULL
      );
      CREATE TABLE idempotency (
        client TEXT COLLATE "C" NOT NULL,
        key TEXT COLLATE "C" NOT NULL,
        op TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        outcome TEXT NOT NULL,
        at BIGINT NOT NULL,
        PRIMARY KEY (client, key)
      );
    `);
    // The suspense account, opened by the schema as the first journal entry.
    const open = {
      seq: 1,
      type: 'open' as const,
      at: now(),
      transferId: null,
      debit: SUSPENSE_ACCOUNT,
      credit: 'SUSPENSE',
      amount: 0,
      held: 0,
      reason: '',
      prevHash: GENESIS_HASH,
    };
    const hash = entryHash(open);
    await c.query('INSERT INTO accounts (id, kind, floor) VALUES ($1, $2, $3)', [
      SUSPENSE_ACCOUNT,
      'SUSPENSE',
      ACCOUNT_KINDS.SUSPENSE.floor,
    ]);
    await c.query(
      'INSERT INTO journal (seq, type, at, transfer_id, debit, credit, amount, held, reason, prev_hash, hash) ' +
        'VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)',
      [1, 'open', open.at, null, open.debit, open.credit, 0, 0, '', GENESIS_HASH, hash],
    );
    await c.query('INSERT INTO journal_head (seq, hash) VALUES (1, $1)', [hash]);
  },
  // 2: the sub-platforms' references and details on transfers, and their records beside the money.
  async (c) => {
    await c.query(`
      ALTER TABLE transfers ADD COLUMN ref TEXT COLLATE "C";
      ALTER TABLE transfers ADD COLUMN meta TEXT NOT NULL DEFAULT '{}';
      ALTER TABLE transfers ADD COLUMN balances TEXT NOT NULL DEFAULT '{}';
      CREATE INDEX transfers_ref ON transfers (ref, created_at, created_seq) WHERE ref IS NOT NULL;
      CREATE INDEX transfers_from ON transfers (from_account, created_at, created_seq);
      CREATE INDEX transfers_to ON transfers (to_account, created_at, created_seq);
      CREATE TABLE records (
        collection TEXT COLLATE "C" NOT NULL,
        id TEXT COLLATE "C" NOT NULL,
        value TEXT NOT NULL,
        version BIGINT NOT NULL CHECK (version BETWEEN 1 AND ${MAX_SAFE}),
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (collection, id)
      );
    `);
  },
];

/** The highest schema version this code knows. */
export const POSTGRES_SCHEMA_VERSION = MIGRATIONS.length;

/** Advisory lock namespace of the migrations (`pg_advisory_xact_lock(MIGRATION_LOCK, hashtext(schema))`). */
const MIGRATION_LOCK = 0x51a7ed;
/** How many times a batch runs before a serialization failure, deadlock or unique violation fails it. */
const MAX_ATTEMPTS = 12;
/** Most operations in one batch. */
const MAX_BATCH = 500;
/** Journal rows per read of `verify()`. */
const VERIFY_PAGE = 10_000;

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const INT8_OID = 20;

/** The store's type table: int8 (BIGINT) as a JavaScript number; every other type as pg parses it. */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

interface AccountRow {
  id: string;
  kind: string;
  floor: number | null;
  balance: number;
  reserved: number;
}
interface TransferRow {
  id: string;
  type: 'direct' | 'pending';
  from_account: string;
  to_account: string;
  amount: number;
  memo: string;
  ref: string | null;
  meta: string;
  /** JSON: the balances right after the transfer's last change (what a replayed settlement answers). */
  balances: string;
  state: TransferState;
  created_at: number;
  reason: string | null;
  suspended_at: number | null;
  settled_at: number | null;
  last_seq: number;
  /** The seq of the journal entry that made the transfer: the order transfers were made in (SQLite's rowid). */
  created_seq: number;
}
interface IdemRow {
  client: string;
  key: string;
  op: string;
  request_hash: string;
  outcome: string;
  at: number;
}
interface RecordRow {
  collection: string;
  id: string;
  value: string;
  version: number;
  updated_at: number;
}
interface JournalRow {
  seq: number;
  type: JournalEntry['type'];
  at: number;
  transfer_id: string | null;
  debit: string;
  credit: string;
  amount: number;
  held: number;
  reason: string;
  prev_hash: string;
  hash: string;
}

const toAccount = (r: AccountRow): Account => ({
  id: r.id,
  kind: r.kind as AccountKind,
  floor: r.floor,
  balance: r.balance,
  reserved: r.reserved,
  available: r.balance - r.reserved,
});
const toTransfer = (r: TransferRow): Transfer => ({
  id: r.id,
  type: r.type,
  from: r.from_account,
  to: r.to_account,
  amount: r.amount,
  memo: r.memo,
  ref: r.ref,
  meta: JSON.parse(r.meta) as TransferMeta,
  state: r.state,
  createdAt: r.created_at,
  reason: r.reason,
  suspendedAt: r.suspended_at,
  settledAt: r.settled_at,
});
const toRecord = <T>(r: RecordRow): StoredRecord<T> => ({
  collection: r.collection,
  id: r.id,
  value: JSON.parse(r.value) as T,
  version: r.version,
  updatedAt: r.updated_at,
});
const toEntry = (r: JournalRow): JournalEntry => ({
  seq: r.seq,
  type: r.type,
  at: r.at,
  transferId: r.transfer_id,
  debit: r.debit,
  credit: r.credit,
  amount: r.amount,
  held: r.held,
  reason: r.reason,
  prevHash: r.prev_hash,
  hash: r.hash,
});

/** A map key of two strings (printable ASCII, so `\n` never occurs in either). */
const pair = (a: string, b: string) => `${a}\n${b}`;

/** What a queued operation gives back: a value, or an error that is committed (an idempotent failure). */
type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };
/** A stored idempotent outcome. */
type StoredOutcome = { result: unknown } | { error: { code: string; message: string } };

/** What a batch must read and lock before an operation can run. */
interface Needs {
  /** Idempotency keys (`[client, key]`). */
  idem?: [string, string][];
  /** Accounts to lock, unless the operation's idempotency key is already used (a replay touches nothing). */
  accounts?: string[];
  /** Transfers to lock (and their accounts, and the suspense account). */
  transfers?: string[];
  /** Pending transfers created at or before this time (epoch ms) to lock (`suspendStale`). */
  staleBefore?: number;
  /** Records to lock (`[collection, id]`). */
  records?: [string, string][];
}

/** A write operation: what it needs, then its run against the batch's rows (synchronous, in call order). */
interface Job {
  /** Called once per attempt, before `run`. */
  needs: () => Needs;
  run: (b: Batch) => Outcome;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

interface Mark {
  undo: number;
  journal: number;
  head: { seq: number; hash: string };
}

/** The rows of one table a batch read (`null`: not there), and the rows as the batch's operations left them. */
class Table<V> {
  readonly rows = new Map<string, V | null>();
  readonly #read = new Map<string, V | null>();

  /** Records a row as read (`null`: absent); changes are compared against it. */
  load(key: string, row: V | null): void {
    this.rows.set(key, row);
    this.#read.set(key, row);
  }

  /** Rows to insert (absent when read) and to update (changed since read). */
  changes(): { inserts: V[]; updates: V[] } {
    const inserts: V[] = [];
    const updates: V[] = [];
    for (const [key, row] of this.rows) {
      const before = this.#read.get(key) ?? null;
      if (row === null || row === before) continue;
      if (before === null) inserts.push(row);
      else updates.push(row);
    }
    return { inserts, updates };
  }
}

/**
 * The rows of one batch attempt, as read and locked, then as changed by the operations in call order. An operation
 * that fails is rolled back to its mark (an in-memory savepoint); what remains is written at the end.
 */
class Batch {
  readonly accounts = new Table<AccountRow>();
  readonly transfers = new Table<TransferRow>();
  readonly idem = new Table<IdemRow>();
  readonly records = new Table<RecordRow>();
  readonly journal: JournalRow[] = [];
  readonly #undo: (() => void)[] = [];
  head: { seq: number; hash: string } = { seq: 0, hash: GENESIS_HASH };

  /** Changes a row, remembering how to undo it. */
  set<V>(table: Table<V>, key: string, row: V): void {
    const had = table.rows.has(key);
    const old = table.rows.get(key);
    this.#undo.push(() => (had ? table.rows.set(key, old as V | null) : table.rows.delete(key)));
    table.rows.set(key, row);
  }

  /** A row the batch read or wrote; one it never read is a bug of the store's planning. */
  row<V>(table: Table<V>, key: string): V | undefined {
    if (!table.rows.has(key)) throw new Error(`ledger store bug: ${key.replace('\n', '/')} was not read before use`);
    return table.rows.get(key) ?? undefined;
  }

  mark(): Mark {
    return { undo: this.#undo.length, journal: this.journal.length, head: this.head };
  }

  rollback(m: Mark): void {
    while (this.#undo.length > m.undo) this.#undo.pop()!();
    this.journal.length = m.journal;
    this.head = m.head;
  }

  append(e: Omit<JournalEntry, 'seq' | 'prevHash' | 'hash'>): number {
    const entry = { ...e, seq: this.head.seq + 1, prevHash: this.head.hash };
    const hash = entryHash(entry);
    this.journal.push({
      seq: entry.seq,
      type: entry.type,
      at: entry.at,
      transfer_id: entry.transferId,
      debit: entry.debit,
      credit: entry.credit,
      amount: entry.amount,
      held: entry.held,
      reason: entry.reason,
      prev_hash: entry.prevHash,
      hash,
    });
    this.head = { seq: entry.seq, hash };
    return entry.seq;
  }
}

/** A SQLSTATE worth running the batch again for: serialization failure, deadlock, unique violation. */
function retryable(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === '40001' || code === '40P01' || code === '23505';
}

/** A database error raised by a statement (not by the connection): the batch can run again, split. */
function statementError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return e instanceof pg.DatabaseError && typeof code === 'string' && !code.startsWith('08') && !code.startsWith('57');
}

/** Lone UTF-16 surrogates and U+0000: PostgreSQL text cannot hold them as they are (the journal hash would lie). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
function checkStorable(text: string, name: string): string {
  if (text.includes('\u0000') || LONE_SURROGATE.test(text))
    throw new ArgumentError(
      `${name} must not contain U+0000 or unpaired surrogates (PostgreSQL text cannot hold them)`,
    );
  return text;
}

/**
 * A checked record write as the batch keeps it: its key and expected version copied at call time (the caller's
 * object may change before the batch runs, or runs again), its value as the JSON already made.
 */
function keyOnly({ write: w, json }: CheckedRecordWrite): CheckedRecordWrite {
  return { write: { collection: w.collection, id: w.id, value: null, expectVersion: w.expectVersion }, json };
}

/**
 * A text literal (`'…'`, `E'…'` when it holds a backslash: what `pg.escapeLiteral` makes, without its loop over
 * every character, which costs milliseconds on the hundreds of kilobytes of a clearing batch's records); the store
 * refuses U+0000 before it gets here.
 */
function text(v: string | null): string {
  if (v === null) return 'NULL::text';
  if (v.includes('\u0000')) throw new Error('ledger store bug: U+0000 in a statement');
  if (v.includes('\\')) return ` E'${v.replace(/['\\]/g, (ch) => ch + ch)}'::text`;
  return `'${v.replaceAll("'", "''")}'::text`;
}

/** A `text[]` literal of strings (each one a {@link text} literal). */
function textArray(vs: readonly string[]): string {
  return `ARRAY[${vs.map(text).join(', ')}]::text[]`;
}

/** A BIGINT literal of a safe integer. */
function int(v: number | null): string {
  if (v === null) return 'NULL::bigint';
  if (!Number.isSafeInteger(v)) throw new Error(`ledger store bug: ${v} is not a safe integer`);
  return `${v}::bigint`;
}

/**
 * Reads and locks queued as one multi-statement query (simple protocol: the statements run in order, and the first
 * that fails stops the rest), each with what to do with its rows.
 */
class Reads {
  #sql: string[] = [];
  #then: ((rows: never[]) => void)[] = [];
  constructor(readonly client: pg.PoolClient) {}

  add<R>(sql: string, then: (rows: R[]) => void): void {
    this.#sql.push(sql);
    this.#then.push(then as (rows: never[]) => void);
  }

  async run(): Promise<void> {
    if (this.#sql.length === 0) return;
    const sql = this.#sql;
    const then = this.#then;
    this.#sql = [];
    this.#then = [];
    const res = (await this.client.query(sql.join(';\n'))) as unknown as pg.QueryResult | pg.QueryResult[];
    const results = Array.isArray(res) ? res : [res];
    for (const [i, r] of results.entries()) then[i]!(r.rows as never[]);
  }
}

/** Column name and PostgreSQL type of a row field. */
type Columns<V> = ReadonlyArray<readonly [keyof V & string, 'text' | 'bigint']>;

/**
 * The statement that writes a batch's changes: one data-modifying CTE per table and kind of change, over `VALUES`
 * of literals; `undefined` when nothing changed.
 */
function writeStatement(b: Batch): string | undefined {
  const parts: string[] = [];
  const values = <V>(rows: V[], cols: Columns<V>) =>
    `VALUES ${rows
      .map(
        (r) =>
          `(${cols.map(([k, type]) => (type === 'text' ? text(r[k] as string | null) : int(r[k] as number | null))).join(', ')})`,
      )
      .join(', ')}`;
  const names = <V>(cols: Columns<V>) => cols.map(([k]) => k).join(', ');
  const insert = <V>(table: string, rows: V[], cols: Columns<V>) => {
    if (rows.length > 0) parts.push(`INSERT INTO ${table} (${names(cols)}) ${values(rows, cols)}`);
  };
  /** Updates `set` columns of the rows matched by `key` columns. */
  const update = <V>(table: string, rows: V[], key: Columns<V>, set: Columns<V>) => {
    if (rows.length === 0) return;
    const cols = [...key, ...set];
    parts.push(
      `UPDATE ${table} AS t SET ${set.map(([k]) => `${k} = u.${k}`).join(', ')} ` +
        `FROM (${values(rows, cols)}) AS u(${names(cols)}) WHERE ${key.map(([k]) => `t.${k} = u.${k}`).join(' AND ')}`,
    );
  };

  const accountCols: Columns<AccountRow> = [
    ['id', 'text'],
    ['kind', 'text'],
    ['floor', 'bigint'],
    ['balance', 'bigint'],
    ['reserved', 'bigint'],
  ];
  const accounts = b.accounts.changes();
  insert('accounts', accounts.inserts, accountCols);
  update(
    'accounts',
    accounts.updates,
    [['id', 'text']],
    [
      ['balance', 'bigint'],
      ['reserved', 'bigint'],
    ],
  );

  const transfers = b.transfers.changes();
  insert('transfers', transfers.inserts, [
    ['id', 'text'],
    ['type', 'text'],
    ['from_account', 'text'],
    ['to_account', 'text'],
    ['amount', 'bigint'],
    ['memo', 'text'],
    ['ref', 'text'],
    ['meta', 'text'],
    ['state', 'text'],
    ['created_at', 'bigint'],
    ['reason', 'text'],
    ['suspended_at', 'bigint'],
    ['settled_at', 'bigint'],
    ['last_seq', 'bigint'],
    ['created_seq', 'bigint'],
    ['balances', 'text'],
  ]);
  update(
    'transfers',
    transfers.updates,
    [['id', 'text']],
    [
      ['state', 'text'],
      ['reason', 'text'],
      ['suspended_at', 'bigint'],
      ['settled_at', 'bigint'],
      ['last_seq', 'bigint'],
      ['balances', 'text'],
    ],
  );

  if (b.journal.length > 0) {
    insert('journal', b.journal, [
      ['seq', 'bigint'],
      ['type', 'text'],
      ['at', 'bigint'],
      ['transfer_id', 'text'],
      ['debit', 'text'],
      ['credit', 'text'],
      ['amount', 'bigint'],
      ['held', 'bigint'],
      ['reason', 'text'],
      ['prev_hash', 'text'],
      ['hash', 'text'],
    ]);
    parts.push(`UPDATE journal_head SET seq = ${int(b.head.seq)}, hash = ${text(b.head.hash)}`);
  }

  insert('idempotency', b.idem.changes().inserts, [
    ['client', 'text'],
    ['key', 'text'],
    ['op', 'text'],
    ['request_hash', 'text'],
    ['outcome', 'text'],
    ['at', 'bigint'],
  ]);

  const records = b.records.changes();
  const recordKey: Columns<RecordRow> = [
    ['collection', 'text'],
    ['id', 'text'],
  ];
  const recordSet: Columns<RecordRow> = [
    ['value', 'text'],
    ['version', 'bigint'],
    ['updated_at', 'bigint'],
  ];
  insert('records', records.inserts, [...recordKey, ...recordSet]);
  update('records', records.updates, recordKey, recordSet);

  if (parts.length === 0) return undefined;
  return `WITH ${parts.map((p, i) => `w${i} AS (${p})`).join(',\n')} SELECT 1`;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Opens the PostgreSQL ledger at `options.connectionString` (in `options.schema`), applying migrations as needed.
 * @throws LedgerStoreError `STORE_SCHEMA_NEWER` when the database's schema is newer than this code
 */
export async function openPostgresLedger(options: PostgresLedgerOptions): Promise<PostgresLedgerStore> {
  const store = new PostgresLedgerStore(options);
  try {
    await store.migrate();
  } catch (e) {
    await store.close();
    throw e;
  }
  return store;
}

/** The PostgreSQL {@link LedgerStore}. Open it with {@link openPostgresLedger}. */
export class PostgresLedgerStore implements LedgerStore {
  /** The schema of the ledger's tables, when one was given. */
  readonly schema: string | undefined;
  readonly #pool: pg.Pool;
  readonly #now: () => number;
  readonly #suspendAfterMs: number;
  #queue: Job[] = [];
  #scheduled = false;
  #running = false;
  /** Write operations ever queued, and how many of them (in queue order) have settled. */
  #enqueued = 0;
  #settled = 0;
  /** Reads waiting for the writes queued before them. */
  #waiters: { upTo: number; resolve: () => void }[] = [];
  readonly #reads = new Set<Promise<unknown>>();
  #closed = false;
  #closing: Promise<void> | undefined;
  #commits = 0;
  #retries = 0;

  /** @internal Use {@link openPostgresLedger}, which also migrates. */
  constructor(options: PostgresLedgerOptions) {
    if (typeof options !== 'object' || options === null) throw new ArgumentError('options must be an object');
    if (typeof options.connectionString !== 'string' || options.connectionString.length === 0)
      throw new ArgumentError('connectionString must be a postgres:// URL');
    const size = options.pool ?? 4;
    if (!Number.isSafeInteger(size) || size < 1 || size > 100)
      throw new ArgumentError('pool must be an integer number of connections from 1 to 100');
    if (options.schema !== undefined && (typeof options.schema !== 'string' || !SCHEMA_NAME.test(options.schema)))
      throw new ArgumentError('schema must be 1–63 lower-case letters, digits or _, not starting with a digit');
    this.schema = options.schema;
    this.#now = options.now ?? Date.now;
    this.#suspendAfterMs = options.suspendAfterMs ?? DEFAULT_SUSPEND_AFTER_MS;
    if (!Number.isSafeInteger(this.#suspendAfterMs) || this.#suspendAfterMs < 0)
      throw new ArgumentError('suspendAfterMs must be a non-negative integer');
    this.#pool = new pg.Pool({
      connectionString: options.connectionString,
      max: size,
      types: TYPES,
      application_name: 'simtap-ledger',
      ...(options.schema === undefined ? {} : { options: `-c search_path=${options.schema}` }),
    });
    // A connection that dies (a server restart, a terminated backend) also emits 'error', idle or checked out: the
    // query in flight fails with it, and a dead connection is dropped from the pool. Nothing else to do here.
    this.#pool.on('error', () => {});
    this.#pool.on('connect', (client) => client.on('error', () => {}));
  }

  /** How many batches committed (the operations of one turn share one). */
  get commits(): number {
    return this.#commits;
  }

  /** How many batch attempts were rolled back and run again (serialization failure, deadlock, unique violation). */
  get retries(): number {
    return this.#retries;
  }

  /** @internal Applies the migrations this database lacks; refuses a newer schema. */
  async migrate(): Promise<void> {
    const c = await this.#pool.connect();
    try {
      await c.query('BEGIN');
      await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [MIGRATION_LOCK, this.schema ?? '']);
      if (this.schema !== undefined) await c.query(`CREATE SCHEMA IF NOT EXISTS "${this.schema}"`);
      await c.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())',
      );
      const { rows } = await c.query<{ v: number }>(
        'SELECT coalesce(max(version), 0)::int AS v FROM schema_migrations',
      );
      const version = rows[0]!.v;
      if (version > MIGRATIONS.length) {
        throw new LedgerStoreError(
          'STORE_SCHEMA_NEWER',
          `the ledger schema${this.schema ? ` ${this.schema}` : ''} has version ${version}; this simtap knows versions up to ${MIGRATIONS.length}`,
        );
      }
      for (let v = version; v < MIGRATIONS.length; v++) {
        await MIGRATIONS[v]!(c, this.#now);
        await c.query('INSERT INTO schema_migrations (version) VALUES ($1)', [v + 1]);
      }
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }

  // ---------------------------------------------------------------- the writer

  #enqueue<T>(needs: () => Needs, run: (b: Batch) => Outcome): Promise<T> {
    if (this.#closed) return Promise.reject(new LedgerStoreError('STORE_CLOSED', 'the ledger store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ needs, run, resolve: resolve as (v: unknown) => void, reject });
      this.#enqueued++;
      if (!this.#scheduled && !this.#running) {
        this.#scheduled = true;
        setImmediate(() => {
          this.#scheduled = false;
          void this.#pump();
        });
      }
    });
  }

  /** Runs `fn` in a batch; a thrown error rolls its work back, a returned one is committed. */
  #op<T>(needs: () => Needs, fn: (b: Batch) => T): Promise<T> {
    return this.#enqueue<T>(needs, (b) => ({ ok: true, value: fn(b) }));
  }

  /** Runs the queued batches one after another; what arrives meanwhile forms the next batch. */
  async #pump(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      while (this.#queue.length > 0) {
        const jobs = this.#queue.splice(0, MAX_BATCH);
        await this.#runBatch(jobs);
        this.#settled += jobs.length;
        this.#waiters = this.#waiters.filter((w) => {
          if (w.upTo > this.#settled) return true;
          w.resolve();
          return false;
        });
      }
    } finally {
      this.#running = false;
    }
  }

  /** Resolves once every write queued so far has settled. */
  #afterWrites(): Promise<void> {
    const upTo = this.#enqueued;
    if (this.#settled >= upTo) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ upTo, resolve }));
  }

  /** Runs a batch, again on a serialization failure, deadlock or unique violation; settles every job. */
  async #runBatch(jobs: Job[]): Promise<void> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.#pool.connect();
      } catch (cause) {
        lastError = cause;
        break;
      }
      const state = { committing: false };
      let outcomes: Outcome[];
      try {
        outcomes = await this.#attempt(client, jobs, state);
      } catch (e) {
        lastError = e;
        const usable = await client.query('ROLLBACK').then(
          () => true,
          () => false,
        );
        client.release(usable ? undefined : true);
        // The writes and COMMIT go together: a statement's error (the write's) means nothing committed, but a lost
        // connection there may have committed: only the caller's retry under its idempotency key can tell.
        if (state.committing && !statementError(e)) break;
        if (retryable(e) && attempt < MAX_ATTEMPTS) {
          this.#retries++;
          await sleep(Math.random() * 2 * attempt);
          continue;
        }
        // Another statement error (a CHECK that the rules should have kept): run the operations one by one, so
        // only the one that causes it fails.
        if (statementError(e) && !retryable(e) && jobs.length > 1) {
          for (const job of jobs) await this.#runBatch([job]);
          return;
        }
        break;
      }
      client.release();
      this.#commits++;
      jobs.forEach((job, i) => {
        const o = outcomes[i]!;
        if (o.ok) job.resolve(o.value);
        else job.reject(o.error);
      });
      return;
    }
    const err = new LedgerStoreError('STORE_COMMIT_FAILED', 'the ledger could not commit', { cause: lastError });
    for (const job of jobs) job.reject(err);
  }

  /**
   * One attempt of a batch on `c`: read and lock in the fixed order, run the operations, write, commit — in two
   * round trips (three when the batch settles transfers, whose accounts are known once they are read): the reads and
   * locks go as one multi-statement query, the writes and `COMMIT` as another. The statements of one query run in
   * order, so the locks are taken in the order they are listed.
   */
  async #attempt(c: pg.PoolClient, jobs: Job[], state: { committing: boolean }): Promise<Outcome[]> {
    const b = new Batch();
    const needs = jobs.map((j) => j.needs());
    const reads = new Reads(c);
    reads.add('BEGIN', () => {});

    // 1. Idempotency rows (not locked: a concurrent first use shows as a unique violation at the insert).
    const idem = new Map<string, [string, string]>();
    for (const n of needs) for (const [client, key] of n.idem ?? []) idem.set(pair(client, key), [client, key]);
    if (idem.size > 0) {
      reads.add(
        `SELECT * FROM idempotency WHERE (client, key) IN (VALUES ${[...idem.values()].map(([cl, k]) => `(${text(cl)}, ${text(k)})`).join(', ')})`,
        (rows: IdemRow[]) => {
          for (const k of idem.keys()) b.idem.load(k, null);
          for (const r of rows) b.idem.load(pair(r.client, r.key), r);
        },
      );
    }

    // 2. The transfers to settle, locked in id order, and the accounts they name.
    const transferIds = new Set<string>();
    let staleBefore: number | undefined;
    for (const n of needs) {
      for (const id of n.transfers ?? []) transferIds.add(id);
      if (n.staleBefore !== undefined) staleBefore = Math.max(staleBefore ?? n.staleBefore, n.staleBefore);
    }
    const accountIds = new Set<string>();
    if (transferIds.size > 0 || staleBefore !== undefined) {
      const byId = transferIds.size > 0 ? `id IN (${[...transferIds].map(text).join(', ')})` : 'FALSE';
      const stale = staleBefore === undefined ? '' : ` OR (state = 'pending' AND created_at <= ${int(staleBefore)})`;
      reads.add(`SELECT * FROM transfers WHERE ${byId}${stale} ORDER BY id FOR UPDATE`, (rows: TransferRow[]) => {
        for (const id of transferIds) b.transfers.load(id, null);
        for (const r of rows) {
          b.transfers.load(r.id, r);
          accountIds.add(r.from_account).add(r.to_account);
        }
      });
      accountIds.add(SUSPENSE_ACCOUNT);
      await reads.run(); // the accounts to lock next depend on these rows
    }

    // 3. The accounts, locked in id order (an operation whose idempotency key is known used touches none).
    for (const n of needs) {
      const replay = (n.idem ?? []).some(([client, key]) => b.idem.rows.get(pair(client, key)));
      if (!replay) for (const id of n.accounts ?? []) accountIds.add(id);
    }
    if (accountIds.size > 0) {
      reads.add(
        `SELECT * FROM accounts WHERE id IN (${[...accountIds].map(text).join(', ')}) ORDER BY id FOR UPDATE`,
        (rows: AccountRow[]) => {
          for (const id of accountIds) b.accounts.load(id, null);
          for (const r of rows) b.accounts.load(r.id, r);
        },
      );
    }

    // 4. The journal head: from here to COMMIT this batch is the only writer.
    reads.add('SELECT seq, hash FROM journal_head FOR UPDATE', (rows: { seq: number; hash: string }[]) => {
      if (!rows[0]) throw new Error('the ledger schema has no journal head');
      b.head = { seq: rows[0].seq, hash: rows[0].hash };
    });

    // 5. The records written, locked in key order: one statement over two arrays of keys, however many there are.
    const recordKeys = new Map<string, [string, string]>();
    for (const n of needs) for (const [col, id] of n.records ?? []) recordKeys.set(pair(col, id), [col, id]);
    if (recordKeys.size > 0) {
      const keys = [...recordKeys.values()];
      reads.add(
        `SELECT r.* FROM records AS r JOIN unnest(${textArray(keys.map(([col]) => col))}, ${textArray(keys.map(([, id]) => id))}) ` +
          'AS k(collection, id) ON r.collection = k.collection AND r.id = k.id ORDER BY r.collection, r.id FOR UPDATE OF r',
        (rows: RecordRow[]) => {
          for (const k of recordKeys.keys()) b.records.load(k, null);
          for (const r of rows) b.records.load(pair(r.collection, r.id), r);
        },
      );
    }
    await reads.run();

    // 6. The operations, in call order, each rolled back alone when it throws.
    const outcomes: Outcome[] = [];
    for (const job of jobs) {
      const m = b.mark();
      try {
        outcomes.push(job.run(b));
      } catch (error) {
        b.rollback(m);
        outcomes.push({ ok: false, error });
      }
    }

    // 7. Everything they changed in one statement, and COMMIT.
    const write = writeStatement(b);
    state.committing = true;
    await c.query(write === undefined ? 'COMMIT' : `${write};\nCOMMIT`);
    return outcomes;
  }

  // ---------------------------------------------------------------- reads

  /** Runs a read once every write called before it has settled (reads see what was called before them). */
  #read<T>(fn: (c: pg.Pool) => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new LedgerStoreError('STORE_CLOSED', 'the ledger store is closed'));
    const p = this.#afterWrites().then(() => fn(this.#pool));
    this.#reads.add(p);
    const forget = () => this.#reads.delete(p);
    p.then(forget, forget);
    return p;
  }

  // ---------------------------------------------------------------- the rules (inside a batch)

  #mustAccount(b: Batch, id: string): AccountRow {
    const a = b.row(b.accounts, id);
    if (!a) throw new LedgerError('ACCOUNT_UNKNOWN', `no account ${id}`);
    return a;
  }

  /**
   * Moves `amount` from `debit` to `credit` and changes `debit`'s reservation by `held`; checks overflow. Returns
   * both balances after.
   */
  static #apply(b: Batch, debitId: string, creditId: string, amount: number, held: number): Record<string, number> {
    const debit = b.row(b.accounts, debitId)!;
    const debitBalance = debit.balance - amount;
    const reserved = debit.reserved + held;
    const credit = b.row(b.accounts, creditId)!;
    const creditBalance = (creditId === debitId ? debitBalance : credit.balance) + amount;
    if (!Number.isSafeInteger(debitBalance) || !Number.isSafeInteger(creditBalance) || !Number.isSafeInteger(reserved))
      throw new LedgerError('BALANCE_OVERFLOW', `a balance of ${debitId} or ${creditId} would overflow`);
    b.set(b.accounts, debitId, { ...debit, balance: debitBalance, reserved });
    if (amount !== 0) {
      const now = b.row(b.accounts, creditId)!;
      b.set(b.accounts, creditId, { ...now, balance: creditBalance });
    }
    return { [debitId]: debitBalance, [creditId]: creditBalance };
  }

  /** Throws `INSUFFICIENT_FUNDS` when spending `amount` more would take `a` below its floor. */
  static #checkFloor(a: AccountRow, amount: number): void {
    if (a.floor !== null && a.balance - a.reserved - amount < a.floor) {
      throw new LedgerError(
        'INSUFFICIENT_FUNDS',
        `${a.id} has ${a.balance - a.reserved} fen available above its floor ${a.floor}; ${amount} asked`,
      );
    }
  }

  /** Runs `body` under `(client, key)`: replays a stored outcome, refuses a conflicting one, stores a new one. */
  #idempotent(
    b: Batch,
    op: string,
    client: string,
    key: string,
    params: Record<string, unknown>,
    body: () => unknown,
    remember: boolean,
  ): Outcome {
    const hash = requestHash(op, params);
    const k = pair(client, key);
    const row = b.row(b.idem, k);
    let stored: StoredOutcome;
    if (row) {
      if (row.op !== op || row.request_hash !== hash)
        throw new LedgerError(
          'IDEMPOTENCY_CONFLICT',
          `idempotency key ${JSON.stringify(key)} of ${client} was used for another ${row.op === op ? 'request' : row.op}`,
        );
      stored = JSON.parse(row.outcome) as StoredOutcome;
    } else {
      const m = b.mark();
      try {
        stored = { result: body() };
      } catch (e) {
        b.rollback(m);
        if (!(e instanceof LedgerError)) throw e;
        if (!remember) return { ok: false, error: e };
        stored = { error: { code: e.code, message: e.message } };
      }
      b.set(b.idem, k, {
        client,
        key,
        op,
        request_hash: hash,
        outcome: JSON.stringify(stored),
        at: this.#now(),
      });
    }
    if ('result' in stored) return { ok: true, value: stored.result };
    const { code, message } = stored.error;
    return { ok: false, error: new LedgerError(code as LedgerError['code'], message) };
  }

  /** Applies one leg: a direct transfer, or a hold. */
  #leg(b: Batch, op: 'transfer' | 'hold', p: CheckedLeg): TransferResult {
    const from = this.#mustAccount(b, p.from);
    this.#mustAccount(b, p.to);
    PostgresLedgerStore.#checkFloor(from, p.amount);
    const id = randomUUID();
    const at = this.#now();
    const balances =
      op === 'transfer'
        ? PostgresLedgerStore.#apply(b, p.from, p.to, p.amount, 0)
        : PostgresLedgerStore.#apply(b, p.from, p.to, 0, p.amount);
    const seq = b.append({
      type: op,
      at,
      transferId: id,
      debit: p.from,
      credit: p.to,
      amount: op === 'transfer' ? p.amount : 0,
      held: op === 'hold' ? p.amount : 0,
      reason: p.memo,
    });
    const row: TransferRow = {
      id,
      type: op === 'transfer' ? 'direct' : 'pending',
      from_account: p.from,
      to_account: p.to,
      amount: p.amount,
      memo: p.memo,
      ref: p.ref ?? null,
      meta: JSON.stringify(p.meta ?? {}),
      balances: JSON.stringify(balances),
      state: op === 'transfer' ? 'posted' : 'pending',
      created_at: at,
      reason: null,
      suspended_at: null,
      settled_at: op === 'transfer' ? at : null,
      last_seq: seq,
      created_seq: seq,
    };
    b.set(b.transfers, id, row);
    return { transfer: toTransfer(row), seq, balances };
  }

  /** Settles a pending or suspended transfer. */
  #settleIn(b: Batch, op: 'post' | 'void' | 'suspend', transferId: string, reason: string): TransferResult {
    const t = b.row(b.transfers, transferId);
    if (!t) throw new LedgerError('TRANSFER_UNKNOWN', `no transfer ${transferId}`);
    if (t.type !== 'pending') throw new LedgerError('TRANSFER_STATE', `transfer ${transferId} is a direct transfer`);
    const done = op === 'post' ? 'posted' : op === 'void' ? 'voided' : 'suspended';
    if (t.state === done && (op === 'suspend' || t.reason === reason))
      return { transfer: toTransfer(t), seq: t.last_seq, balances: JSON.parse(t.balances) as Record<string, number> };
    if (t.state !== 'pending' && !(t.state === 'suspended' && op !== 'suspend')) {
      throw new LedgerError(
        'TRANSFER_STATE',
        `transfer ${transferId} is ${t.state}${t.reason === null ? '' : ` (${t.reason})`}; it cannot be ${done}`,
      );
    }
    const at = this.#now();
    let debit: string;
    let credit: string;
    let amount = t.amount;
    let held = 0;
    if (t.state === 'pending') {
      debit = t.from_account;
      credit = op === 'suspend' ? SUSPENSE_ACCOUNT : t.to_account;
      held = -t.amount;
      if (op === 'void') amount = 0;
    } else {
      debit = SUSPENSE_ACCOUNT;
      credit = op === 'post' ? t.to_account : t.from_account;
    }
    this.#mustAccount(b, debit);
    this.#mustAccount(b, credit);
    const balances = PostgresLedgerStore.#apply(b, debit, credit, amount, held);
    const seq = b.append({ type: op, at, transferId, debit, credit, amount, held, reason });
    const json = JSON.stringify(balances);
    const row: TransferRow =
      op === 'suspend'
        ? { ...t, state: 'suspended', reason, suspended_at: at, last_seq: seq, balances: json }
        : { ...t, state: done, reason, settled_at: at, last_seq: seq, balances: json };
    b.set(b.transfers, transferId, row);
    return { transfer: toTransfer(row), seq, balances };
  }

  // ---------------------------------------------------------------- accounts

  openAccount(id: string, kind: AccountKind): Promise<Account> {
    try {
      checkId(id, 'id');
      checkKind(kind);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#op(
      () => ({ accounts: [id] }),
      (b) => {
        const existing = b.row(b.accounts, id);
        if (existing) {
          if (existing.kind !== kind)
            throw new LedgerError('ACCOUNT_KIND_MISMATCH', `account ${id} exists with kind ${existing.kind}`);
          return toAccount(existing);
        }
        const row: AccountRow = { id, kind, floor: ACCOUNT_KINDS[kind].floor, balance: 0, reserved: 0 };
        b.set(b.accounts, id, row);
        b.append({
          type: 'open',
          at: this.#now(),
          transferId: null,
          debit: id,
          credit: kind,
          amount: 0,
          held: 0,
          reason: '',
        });
        return toAccount(row);
      },
    );
  }

  getAccount(id: string): Promise<Account | undefined> {
    return this.#read(async (db) => {
      const { rows } = await db.query<AccountRow>('SELECT * FROM accounts WHERE id = $1', [id]);
      return rows[0] && toAccount(rows[0]);
    });
  }

  // ---------------------------------------------------------------- transfers

  #move(op: 'transfer' | 'hold', req: TransferRequest): Promise<TransferResult> {
    let p: ReturnType<typeof checkTransfer>;
    try {
      p = checkTransfer(req);
      checkStorable(p.memo, 'memo');
    } catch (e) {
      return Promise.reject(e);
    }
    const { client, idempotencyKey, remember, ...params } = p;
    return this.#enqueue(
      () => ({ idem: [[client, idempotencyKey]], accounts: [params.from, params.to] }),
      (b) => this.#idempotent(b, op, client, idempotencyKey, params, () => this.#leg(b, op, params), remember),
    );
  }

  transfer(req: TransferRequest): Promise<TransferResult> {
    return this.#move('transfer', req);
  }

  hold(req: TransferRequest): Promise<TransferResult> {
    return this.#move('hold', req);
  }

  transferLinked(req: LinkedTransferRequest): Promise<LinkedTransferResult> {
    let p: ReturnType<typeof checkLinked>;
    try {
      p = checkLinked(req);
      for (const [i, l] of p.legs.entries()) checkStorable(l.memo, `legs[${i}].memo`);
    } catch (e) {
      return Promise.reject(e);
    }
    const accounts = p.legs.flatMap((l) => [l.from, l.to]);
    const writes = p.records.map(keyOnly);
    const records = writes.map(({ write: w }) => [w.collection, w.id] as [string, string]);
    return this.#enqueue(
      () => ({ idem: [[p.client, p.idempotencyKey]], accounts, records }),
      (b) =>
        this.#idempotent(
          b,
          'linked',
          p.client,
          p.idempotencyKey,
          p.params,
          () => {
            const transfers: Transfer[] = [];
            const balances: Record<string, number> = {};
            for (const leg of p.legs) {
              const r = this.#leg(b, 'transfer', leg);
              transfers.push(r.transfer);
              Object.assign(balances, r.balances);
            }
            // After the legs, as writeRecords would: a RECORD_CONFLICT throws, and #idempotent rolls the legs back.
            if (writes.length > 0) this.#writeRecordsIn(b, writes);
            // The last leg's entry, or (no legs) the journal's head as this batch has it.
            const seq = b.head.seq;
            return { transfers, seq, balances } satisfies LinkedTransferResult;
          },
          p.remember,
        ),
    );
  }

  #settle(op: 'post' | 'void' | 'suspend', req: SettleRequest): Promise<TransferResult> {
    let id: string;
    let reason: string;
    try {
      if (typeof req !== 'object' || req === null) throw new ArgumentError('request must be an object');
      id = checkId(req.transferId, 'transferId');
      reason = checkStorable(checkText(req.reason, 'reason', true), 'reason');
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#op(
      () => ({ transfers: [id] }),
      (b) => this.#settleIn(b, op, id, reason),
    );
  }

  post(req: SettleRequest): Promise<TransferResult> {
    return this.#settle('post', req);
  }

  void(req: SettleRequest): Promise<TransferResult> {
    return this.#settle('void', req);
  }

  suspend(req: SettleRequest): Promise<TransferResult> {
    return this.#settle('suspend', req);
  }

  suspendStale(reason: string): Promise<TransferResult[]> {
    try {
      checkStorable(checkText(reason, 'reason', true), 'reason');
    } catch (e) {
      return Promise.reject(e);
    }
    let before = 0;
    return this.#op(
      () => {
        before = this.#now() - this.#suspendAfterMs;
        return { staleBefore: before };
      },
      (b) => {
        // Every transfer pending and old enough now was read: the locked query's, or created in this batch.
        const stale = [...b.transfers.rows.values()]
          .filter((t): t is TransferRow => t !== null && t.state === 'pending' && t.created_at <= before)
          .sort((x, y) => x.created_at - y.created_at || x.created_seq - y.created_seq);
        return stale.map((t) => this.#settleIn(b, 'suspend', t.id, reason));
      },
    );
  }

  getTransfer(id: string): Promise<Transfer | undefined> {
    return this.#read(async (db) => {
      const { rows } = await db.query<TransferRow>('SELECT * FROM transfers WHERE id = $1', [id]);
      return rows[0] && toTransfer(rows[0]);
    });
  }

  listTransfers(filter: TransferState | TransferFilter): Promise<Transfer[]> {
    let f: TransferFilter;
    try {
      f = checkFilter(filter);
    } catch (e) {
      return Promise.reject(e);
    }
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.state !== undefined) {
      args.push(f.state);
      where.push(`state = $${args.length}`);
    }
    if (f.ref !== undefined) {
      args.push(f.ref);
      where.push(`ref = $${args.length}`);
    }
    if (f.account !== undefined) {
      args.push(f.account);
      where.push(`(from_account = $${args.length} OR to_account = $${args.length})`);
    }
    let sql =
      `SELECT * FROM transfers${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ` +
      'ORDER BY created_at, created_seq';
    if (f.limit !== undefined) {
      args.push(f.limit);
      sql += ` LIMIT $${args.length}`;
    }
    return this.#read(async (db) => (await db.query<TransferRow>(sql, args)).rows.map(toTransfer));
  }

  // ---------------------------------------------------------------- records

  idempotencyOf(client: string, idempotencyKey: string): Promise<IdempotencyUse | undefined> {
    return this.#read(async (db) => {
      const { rows } = await db.query<{ op: string; request_hash: string; outcome: string }>(
        'SELECT op, request_hash, outcome FROM idempotency WHERE client = $1 AND key = $2',
        [String(client), String(idempotencyKey)],
      );
      const row = rows[0];
      if (!row) return undefined;
      return {
        op: row.op,
        requestHash: row.request_hash,
        outcome: row.outcome.startsWith('{"result"') ? 'result' : 'error',
      };
    });
  }

  getRecord<T = unknown>(collection: string, id: string): Promise<StoredRecord<T> | undefined> {
    try {
      checkRecordKey(collection, id);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#read(async (db) => {
      const { rows } = await db.query<RecordRow>('SELECT * FROM records WHERE collection = $1 AND id = $2', [
        collection,
        id,
      ]);
      return rows[0] && toRecord<T>(rows[0]);
    });
  }

  listRecords<T = unknown>(collection: string, prefix = ''): Promise<StoredRecord<T>[]> {
    try {
      checkId(collection, 'collection', 64);
      if (typeof prefix !== 'string') throw new ArgumentError('prefix must be a string');
    } catch (e) {
      return Promise.reject(e);
    }
    const pattern = `${prefix.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
    return this.#read(async (db) =>
      (
        await db.query<RecordRow>(
          "SELECT * FROM records WHERE collection = $1 AND id LIKE $2 ESCAPE '\\' ORDER BY id",
          [collection, pattern],
        )
      ).rows.map((r) => toRecord<T>(r)),
    );
  }

  writeRecords(writes: readonly RecordWrite[]): Promise<StoredRecord[]> {
    let checked: CheckedRecordWrite[];
    try {
      if (!Array.isArray(writes) || writes.length === 0) throw new ArgumentError('writes must be a non-empty array');
      checked = writes.map((w) => keyOnly({ write: w, json: checkRecordWrite(w) }));
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#op(
      () => ({ records: checked.map(({ write: w }) => [w.collection, w.id] as [string, string]) }),
      (b) => this.#writeRecordsIn(b, checked).map((r) => toRecord(r) as StoredRecord),
    );
  }

  /**
   * Applies record writes in order inside a batch (compare-and-set against the locked rows, or against an earlier
   * write of the same batch); throws `RECORD_CONFLICT` on a version mismatch. Returns the rows written.
   */
  #writeRecordsIn(b: Batch, checked: readonly CheckedRecordWrite[]): RecordRow[] {
    const at = this.#now();
    return checked.map(({ write: w, json }) => {
      const k = pair(w.collection, w.id);
      const version = b.row(b.records, k)?.version ?? 0;
      if (w.expectVersion !== undefined && w.expectVersion !== version)
        throw new LedgerError(
          'RECORD_CONFLICT',
          `record ${w.collection}/${w.id} is at version ${version}, not ${w.expectVersion}`,
        );
      const row: RecordRow = { collection: w.collection, id: w.id, value: json, version: version + 1, updated_at: at };
      b.set(b.records, k, row);
      return row;
    });
  }

  // ---------------------------------------------------------------- verify, close

  summary(): Promise<KindTotal[]> {
    return this.#read(async (db) => {
      const { rows } = await db.query<{ kind: string; accounts: string; balance: string; reserved: string }>(
        'SELECT kind, COUNT(*) AS accounts, SUM(balance) AS balance, SUM(reserved) AS reserved FROM accounts GROUP BY kind',
      );
      return kindTotals(rows);
    });
  }

  verify(): Promise<VerifyResult> {
    return this.#read(async (db) => {
      const c = await db.connect();
      try {
        // One snapshot: the journal and the accounts as of the same commit.
        await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const accounts = (await c.query<AccountRow>('SELECT * FROM accounts ORDER BY id')).rows.map(toAccount);
        const head = (await c.query<{ seq: number; hash: string }>('SELECT seq, hash FROM journal_head')).rows[0];
        const entries: JournalEntry[] = [];
        for (let after = 0; ; ) {
          const { rows } = await c.query<JournalRow>('SELECT * FROM journal WHERE seq > $1 ORDER BY seq LIMIT $2', [
            after,
            VERIFY_PAGE,
          ]);
          for (const r of rows) entries.push(toEntry(r));
          if (rows.length < VERIFY_PAGE) break;
          after = rows[rows.length - 1]!.seq;
        }
        await c.query('COMMIT');
        const result = verifyJournal(entries, accounts);
        const last = entries[entries.length - 1];
        if (head && (head.seq !== (last?.seq ?? 0) || head.hash !== result.journalHead)) {
          return {
            ...result,
            ok: false,
            problems: [
              ...result.problems,
              `journal_head says entry ${head.seq}, the journal ends at ${last?.seq ?? 0} with another hash`,
            ],
          };
        }
        return result;
      } catch (e) {
        await c.query('ROLLBACK').catch(() => {});
        throw e;
      } finally {
        c.release();
      }
    });
  }

  /** Waits for the operations in flight, then ends the pool; later calls fail with `STORE_CLOSED`. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      await this.#afterWrites();
      await Promise.allSettled([...this.#reads]);
      await this.#pool.end();
    })();
    return this.#closing;
  }
}
