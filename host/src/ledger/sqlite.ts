/**
 * The embedded ledger store: SQLite through better-sqlite3, WAL journal, `synchronous=FULL`, group commit.
 *
 * - **Group commit.** Every call is queued; the operations queued during one event-loop turn run together in one
 *   `BEGIN IMMEDIATE … COMMIT` at the end of the turn (`setImmediate`), each inside its own savepoint (a failing
 *   operation rolls back alone). With WAL and `synchronous=FULL`, `COMMIT` returns after the WAL is fsync'd, and no
 *   promise of the group settles before that: nothing is acknowledged before it is on disk.
 * - **Idempotency** rows are written in the same transaction as the transfer they answer for, with the outcome
 *   (result or `LedgerError`): a retry after a crash finds either both or neither.
 * - **Migrations** are numbered; `PRAGMA user_version` is the schema's number. A database of a higher number than
 *   this code knows is refused with `STORE_SCHEMA_NEWER`.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ArgumentError } from '@simtap/sdk/core/errors';
import Database from 'better-sqlite3';
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

/** Where the embedded store lives unless configured. */
export const DEFAULT_DATABASE_PATH = './data/simtap.db';

/** Options of {@link openSqliteLedger}. */
export interface SqliteLedgerOptions extends LedgerStoreOptions {
  /** The database file (created with its folder), or `:memory:`. Default {@link DEFAULT_DATABASE_PATH}. */
  readonly path?: string;
  /**
   * How long (ms) a commit waits for another connection's write lock before the group fails with
   * `STORE_COMMIT_FAILED`. Default 5000.
   */
  readonly busyTimeoutMs?: number;
}

type Db = Database.Database;

/** The schema, one function per version: `MIGRATIONS[n - 1]` takes a database from version n-1 to n. */
const MIGRATIONS: ReadonlyArray<(db: Db, store: SqliteLedgerStore) => void> = [
  (db, store) => {
    db.exec(`
      CREATE TABLE accounts (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        floor INTEGER,
        balance INTEGER NOT NULL DEFAULT 0,
        reserved INTEGER NOT NULL DEFAULT 0
      ) STRICT;
      CREATE TABLE transfers (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL CHECK (type IN ('direct', 'pending')),
        from_account TEXT NOT NULL REFERENCES accounts(id),
        to_account TEXT NOT NULL REFERENCES accounts(id),
        amount INTEGER NOT NULL CHECK (amount > 0),
        memo TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('posted', 'pending', 'suspended', 'voided')),
        created_at INTEGER NOT NULL,
        reason TEXT,
        suspended_at INTEGER,
        settled_at INTEGER,
        last_seq INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX transfers_state ON transfers(state, created_at);
      CREATE TABLE journal (
        seq INTEGER PRIMARY KEY,
        type TEXT NOT NULL,
        at INTEGER NOT NULL,
        transfer_id TEXT,
        debit TEXT NOT NULL,
        credit TEXT NOT NULL,
        amount INTEGER NOT NULL,
        held INTEGER NOT NULL,
        reason TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      ) STRICT;
      CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
      CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
      CREATE TABLE idempotency (
        client TEXT NOT NULL,
        key TEXT NOT NULL,
        op TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        outcome TEXT NOT NULL,
        at INTEGER NOT NULL,
        PRIMARY KEY (client, key)
      ) STRICT, WITHOUT ROWID;
    `);
    store.openAccountSync(SUSPENSE_ACCOUNT, 'SUSPENSE');
  },
  // 2: the sub-platforms' references and details on transfers, and their records beside the money.
  (db) => {
    db.exec(`
      ALTER TABLE transfers ADD COLUMN ref TEXT;
      ALTER TABLE transfers ADD COLUMN meta TEXT NOT NULL DEFAULT '{}';
      ALTER TABLE transfers ADD COLUMN balances TEXT NOT NULL DEFAULT '{}';
      CREATE INDEX transfers_ref ON transfers(ref, created_at) WHERE ref IS NOT NULL;
      DROP INDEX transfers_state;
      CREATE INDEX transfers_open ON transfers(state, created_at) WHERE state IN ('pending', 'suspended');
      CREATE INDEX transfers_from ON transfers(from_account, created_at);
      CREATE INDEX transfers_to ON transfers(to_account, created_at);
      CREATE TABLE records (
        collection TEXT NOT NULL,
        id TEXT NOT NULL,
        value TEXT NOT NULL,
        version INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (collection, id)
      ) STRICT, WITHOUT ROWID;
    `);
  },
];

/** The highest schema version this code knows. */
export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length;

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
  balances: string;
  state: TransferState;
  created_at: number;
  reason: string | null;
  suspended_at: number | null;
  settled_at: number | null;
  last_seq: number;
}
interface RecordRow {
  collection: string;
  id: string;
  value: string;
  version: number;
  updated_at: number;
}
const toRecord = <T>(r: RecordRow): StoredRecord<T> => ({
  collection: r.collection,
  id: r.id,
  value: JSON.parse(r.value) as T,
  version: r.version,
  updatedAt: r.updated_at,
});
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

/** What a queued operation gives back: a value, or an error that is committed (an idempotent failure). */
type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };
interface Job {
  run: () => Outcome;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/** A stored idempotent outcome. */
type StoredOutcome = { result: unknown } | { error: { code: string; message: string } };

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

/**
 * Opens (creating and migrating as needed) the SQLite ledger at `options.path`.
 * @throws LedgerStoreError `STORE_SCHEMA_NEWER` when the file's schema is newer than this code
 */
export function openSqliteLedger(options: SqliteLedgerOptions = {}): SqliteLedgerStore {
  return new SqliteLedgerStore(options);
}

/** The SQLite {@link LedgerStore}. Open it with {@link openSqliteLedger}. */
export class SqliteLedgerStore implements LedgerStore {
  readonly path: string;
  readonly #db: Db;
  readonly #now: () => number;
  readonly #suspendAfterMs: number;
  #queue: Job[] = [];
  #scheduled = false;
  #closed = false;
  #commits = 0;

  constructor(options: SqliteLedgerOptions = {}) {
    this.path = options.path ?? DEFAULT_DATABASE_PATH;
    this.#now = options.now ?? Date.now;
    this.#suspendAfterMs = options.suspendAfterMs ?? DEFAULT_SUSPEND_AFTER_MS;
    if (!Number.isSafeInteger(this.#suspendAfterMs) || this.#suspendAfterMs < 0)
      throw new ArgumentError('suspendAfterMs must be a non-negative integer');
    if (this.path !== ':memory:') mkdirSync(dirname(this.path), { recursive: true });
    const timeout = options.busyTimeoutMs ?? 5000;
    if (!Number.isSafeInteger(timeout) || timeout < 0)
      throw new ArgumentError('busyTimeoutMs must be a non-negative integer');
    this.#db = new Database(this.path, { timeout });
    try {
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = FULL');
      this.#db.pragma('foreign_keys = ON');
      this.#migrate();
    } catch (e) {
      this.#db.close();
      throw e;
    }
  }

  readonly #statements = new Map<string, Database.Statement>();

  /** The prepared statement of `sql`, prepared once per connection. */
  #stmt<P extends unknown[] = unknown[], R = unknown>(sql: string): Database.Statement<P, R> {
    let st = this.#statements.get(sql);
    if (!st) {
      st = this.#db.prepare(sql);
      this.#statements.set(sql, st);
    }
    return st as unknown as Database.Statement<P, R>;
  }

  /** How many group commits ran (a test sees operations of one turn share one). */
  get commits(): number {
    return this.#commits;
  }

  /** The durability settings in force on the connection (WAL, `synchronous=FULL` = 2). */
  pragmas(): { journalMode: string; synchronous: number } {
    return {
      journalMode: this.#db.pragma('journal_mode', { simple: true }) as string,
      synchronous: this.#db.pragma('synchronous', { simple: true }) as number,
    };
  }

  #migrate(): void {
    const version = this.#db.pragma('user_version', { simple: true }) as number;
    if (version > MIGRATIONS.length) {
      throw new LedgerStoreError(
        'STORE_SCHEMA_NEWER',
        `${this.path} has ledger schema version ${version}; this simtap knows versions up to ${MIGRATIONS.length}`,
      );
    }
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.#db
        .transaction(() => {
          MIGRATIONS[v]!(this.#db, this);
          this.#db.pragma(`user_version = ${v + 1}`);
        })
        .immediate();
    }
  }

  // ---------------------------------------------------------------- group commit

  #enqueue<T>(run: () => Outcome): Promise<T> {
    if (this.#closed) return Promise.reject(new LedgerStoreError('STORE_CLOSED', 'the ledger store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ run, resolve: resolve as (v: unknown) => void, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  /** Runs `fn`; a thrown error rolls its work back, a returned one is committed. */
  #op<T>(fn: () => T): Promise<T> {
    return this.#enqueue<T>(() => ({ ok: true, value: fn() }));
  }

  /**
   * Runs a read at once, outside any group: no transaction is open between groups (a group runs in one synchronous
   * call), so the read sees everything committed — every write whose promise has resolved — and nothing half done.
   */
  #read<T>(fn: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(new LedgerStoreError('STORE_CLOSED', 'the ledger store is closed'));
    try {
      return Promise.resolve(fn());
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #flush(): void {
    this.#scheduled = false;
    const jobs = this.#queue;
    this.#queue = [];
    if (jobs.length === 0) return;
    const db = this.#db;
    const outcomes: Outcome[] = [];
    try {
      db.exec('BEGIN IMMEDIATE');
      this.#head = undefined;
      for (const job of jobs) {
        db.exec('SAVEPOINT op');
        try {
          outcomes.push(job.run());
          db.exec('RELEASE op');
        } catch (error) {
          this.#head = undefined;
          db.exec('ROLLBACK TO op');
          db.exec('RELEASE op');
          outcomes.push({ ok: false, error });
        }
      }
      db.exec('COMMIT');
      this.#commits++;
    } catch (cause) {
      this.#head = undefined;
      if (db.inTransaction) db.exec('ROLLBACK');
      const err = new LedgerStoreError('STORE_COMMIT_FAILED', 'the ledger could not commit', { cause });
      for (const job of jobs) job.reject(err);
      return;
    }
    jobs.forEach((job, i) => {
      const o = outcomes[i]!;
      if (o.ok) job.resolve(o.value);
      else job.reject(o.error);
    });
  }

  // ---------------------------------------------------------------- rows

  #account(id: string): AccountRow | undefined {
    return this.#stmt<[string], AccountRow>('SELECT * FROM accounts WHERE id = ?').get(id);
  }

  #mustAccount(id: string): AccountRow {
    const a = this.#account(id);
    if (!a) throw new LedgerError('ACCOUNT_UNKNOWN', `no account ${id}`);
    return a;
  }

  #transferRow(id: string): TransferRow | undefined {
    return this.#stmt<[string], TransferRow>('SELECT * FROM transfers WHERE id = ?').get(id);
  }

  /** The journal's head, read once per group and kept while the group appends (forgotten on any rollback). */
  #head: { seq: number; hash: string } | undefined;

  #append(e: Omit<JournalEntry, 'seq' | 'prevHash' | 'hash'>): number {
    const head =
      this.#head ??
      this.#stmt<[], { seq: number; hash: string }>('SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1').get();
    const entry = { ...e, seq: (head?.seq ?? 0) + 1, prevHash: head?.hash ?? GENESIS_HASH };
    const hash = entryHash(entry);
    this.#stmt(
      'INSERT INTO journal (seq, type, at, transfer_id, debit, credit, amount, held, reason, prev_hash, hash) ' +
        'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ).run(
      entry.seq,
      entry.type,
      entry.at,
      entry.transferId,
      entry.debit,
      entry.credit,
      entry.amount,
      entry.held,
      entry.reason,
      entry.prevHash,
      hash,
    );
    this.#head = { seq: entry.seq, hash };
    return entry.seq;
  }

  /**
   * Moves `amount` from `debit` to `credit` and changes `debit`'s reservation by `held`; checks overflow. Returns
   * both balances after.
   */
  #apply(debit: AccountRow, credit: AccountRow, amount: number, held: number): Record<string, number> {
    const debitBalance = debit.balance - amount;
    const creditBalance = credit.balance + amount;
    const reserved = debit.reserved + held;
    if (!Number.isSafeInteger(debitBalance) || !Number.isSafeInteger(creditBalance) || !Number.isSafeInteger(reserved))
      throw new LedgerError('BALANCE_OVERFLOW', `a balance of ${debit.id} or ${credit.id} would overflow`);
    const set = this.#stmt('UPDATE accounts SET balance = ?, reserved = ? WHERE id = ?');
    set.run(debitBalance, reserved, debit.id);
    if (amount !== 0) set.run(creditBalance, credit.reserved, credit.id);
    return { [debit.id]: debitBalance, [credit.id]: creditBalance };
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
    op: string,
    client: string,
    key: string,
    params: Record<string, unknown>,
    body: () => unknown,
    remember = true,
  ): Outcome {
    const hash = requestHash(op, params);
    const row = this.#stmt<[string, string], { op: string; request_hash: string; outcome: string }>(
      'SELECT op, request_hash, outcome FROM idempotency WHERE client = ? AND key = ?',
    ).get(client, key);
    let stored: StoredOutcome;
    if (row) {
      if (row.op !== op || row.request_hash !== hash)
        throw new LedgerError(
          'IDEMPOTENCY_CONFLICT',
          `idempotency key ${JSON.stringify(key)} of ${client} was used for another ${row.op === op ? 'request' : row.op}`,
        );
      stored = JSON.parse(row.outcome) as StoredOutcome;
    } else {
      this.#db.exec('SAVEPOINT body');
      try {
        stored = { result: body() };
        this.#db.exec('RELEASE body');
      } catch (e) {
        this.#head = undefined;
        this.#db.exec('ROLLBACK TO body');
        this.#db.exec('RELEASE body');
        if (!(e instanceof LedgerError)) throw e;
        if (!remember) return { ok: false, error: e };
        stored = { error: { code: e.code, message: e.message } };
      }
      this.#stmt('INSERT INTO idempotency (client, key, op, request_hash, outcome, at) VALUES (?, ?, ?, ?, ?, ?)').run(
        client,
        key,
        op,
        hash,
        JSON.stringify(stored),
        this.#now(),
      );
    }
    if ('result' in stored) return { ok: true, value: stored.result };
    const { code, message } = stored.error;
    return { ok: false, error: new LedgerError(code as LedgerError['code'], message) };
  }

  // ---------------------------------------------------------------- accounts

  /** @internal Opens an account inside the current transaction (migrations and {@link openAccount}). */
  openAccountSync(id: string, kind: AccountKind): Account {
    const existing = this.#account(id);
    if (existing) {
      if (existing.kind !== kind)
        throw new LedgerError('ACCOUNT_KIND_MISMATCH', `account ${id} exists with kind ${existing.kind}`);
      return toAccount(existing);
    }
    const floor = ACCOUNT_KINDS[kind].floor;
    this.#stmt('INSERT INTO accounts (id, kind, floor) VALUES (?, ?, ?)').run(id, kind, floor);
    this.#append({
      type: 'open',
      at: this.#now(),
      transferId: null,
      debit: id,
      credit: kind,
      amount: 0,
      held: 0,
      reason: '',
    });
    return toAccount(this.#account(id)!);
  }

  openAccount(id: string, kind: AccountKind): Promise<Account> {
    try {
      checkId(id, 'id');
      checkKind(kind);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#op(() => this.openAccountSync(id, kind));
  }

  getAccount(id: string): Promise<Account | undefined> {
    return this.#read(() => {
      const a = this.#account(id);
      return a && toAccount(a);
    });
  }

  // ---------------------------------------------------------------- transfers

  /** Applies one leg inside the current transaction: a direct transfer, or a hold. */
  #leg(op: 'transfer' | 'hold', p: CheckedLeg): TransferResult {
    const from = this.#mustAccount(p.from);
    const to = this.#mustAccount(p.to);
    SqliteLedgerStore.#checkFloor(from, p.amount);
    const id = randomUUID();
    const at = this.#now();
    const balances = op === 'transfer' ? this.#apply(from, to, p.amount, 0) : this.#apply(from, to, 0, p.amount);
    const seq = this.#append({
      type: op,
      at,
      transferId: id,
      debit: p.from,
      credit: p.to,
      amount: op === 'transfer' ? p.amount : 0,
      held: op === 'hold' ? p.amount : 0,
      reason: p.memo,
    });
    this.#stmt(
      'INSERT INTO transfers (id, type, from_account, to_account, amount, memo, ref, meta, balances, state, created_at, settled_at, last_seq) ' +
        'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ).run(
      id,
      op === 'transfer' ? 'direct' : 'pending',
      p.from,
      p.to,
      p.amount,
      p.memo,
      p.ref ?? null,
      JSON.stringify(p.meta ?? {}),
      JSON.stringify(balances),
      op === 'transfer' ? 'posted' : 'pending',
      at,
      op === 'transfer' ? at : null,
      seq,
    );
    const transfer: Transfer = {
      id,
      type: op === 'transfer' ? 'direct' : 'pending',
      from: p.from,
      to: p.to,
      amount: p.amount,
      memo: p.memo,
      ref: p.ref ?? null,
      meta: p.meta ?? {},
      state: op === 'transfer' ? 'posted' : 'pending',
      createdAt: at,
      reason: null,
      suspendedAt: null,
      settledAt: op === 'transfer' ? at : null,
    };
    return { transfer, seq, balances };
  }

  #move(op: 'transfer' | 'hold', req: TransferRequest): Promise<TransferResult> {
    let p: ReturnType<typeof checkTransfer>;
    try {
      p = checkTransfer(req);
    } catch (e) {
      return Promise.reject(e);
    }
    const { client, idempotencyKey, remember, ...params } = p;
    return this.#enqueue(() =>
      this.#idempotent(op, client, idempotencyKey, params, () => this.#leg(op, params), remember),
    );
  }

  transferLinked(req: LinkedTransferRequest): Promise<LinkedTransferResult> {
    let p: ReturnType<typeof checkLinked>;
    try {
      p = checkLinked(req);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#enqueue(() =>
      this.#idempotent(
        'linked',
        p.client,
        p.idempotencyKey,
        p.params,
        () => {
          const results = p.legs.map((leg) => this.#leg('transfer', leg));
          if (p.records.length > 0) this.#writeRecordsSync(p.records, false);
          const seq =
            results.length > 0
              ? results[results.length - 1]!.seq
              : (this.#stmt<[], { seq: number }>('SELECT seq FROM journal ORDER BY seq DESC LIMIT 1').get()?.seq ?? 0);
          return {
            transfers: results.map((r) => r.transfer),
            seq,
            balances: Object.assign({}, ...results.map((r) => r.balances)) as Record<string, number>,
          } satisfies LinkedTransferResult;
        },
        p.remember,
      ),
    );
  }

  transfer(req: TransferRequest): Promise<TransferResult> {
    return this.#move('transfer', req);
  }

  hold(req: TransferRequest): Promise<TransferResult> {
    return this.#move('hold', req);
  }

  /** The settling of a pending or suspended transfer, inside the group's transaction. */
  #settleSync(op: 'post' | 'void' | 'suspend', transferId: string, reason: string): TransferResult {
    const t = this.#transferRow(transferId);
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
    // From pending: the reservation on `from` is released; the money moves from `from` (post → to, suspend →
    // suspense). From suspended: the money is in suspense and goes to `to` (post) or back to `from` (void).
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
    const balances = this.#apply(this.#mustAccount(debit), this.#mustAccount(credit), amount, held);
    const seq = this.#append({ type: op, at, transferId, debit, credit, amount, held, reason });
    if (op === 'suspend') {
      this.#stmt(
        "UPDATE transfers SET state = 'suspended', reason = ?, suspended_at = ?, last_seq = ?, balances = ? WHERE id = ?",
      ).run(reason, at, seq, JSON.stringify(balances), transferId);
    } else {
      this.#stmt(
        'UPDATE transfers SET state = ?, reason = ?, settled_at = ?, last_seq = ?, balances = ? WHERE id = ?',
      ).run(done, reason, at, seq, JSON.stringify(balances), transferId);
    }
    return { transfer: toTransfer(this.#transferRow(transferId)!), seq, balances };
  }

  #settle(op: 'post' | 'void' | 'suspend', req: SettleRequest): Promise<TransferResult> {
    let id: string;
    let reason: string;
    try {
      if (typeof req !== 'object' || req === null) throw new ArgumentError('request must be an object');
      id = checkId(req.transferId, 'transferId');
      reason = checkText(req.reason, 'reason', true);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#op(() => this.#settleSync(op, id, reason));
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
      checkText(reason, 'reason', true);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#op(() => {
      const before = this.#now() - this.#suspendAfterMs;
      const ids = this.#stmt<[number], { id: string }>(
        "SELECT id FROM transfers WHERE state = 'pending' AND created_at <= ? ORDER BY created_at, rowid",
      ).all(before);
      return ids.map(({ id }) => this.#settleSync('suspend', id, reason));
    });
  }

  getTransfer(id: string): Promise<Transfer | undefined> {
    return this.#read(() => {
      const t = this.#transferRow(id);
      return t && toTransfer(t);
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
      where.push('state = ?');
      args.push(f.state);
    }
    if (f.ref !== undefined) {
      where.push('ref = ?');
      args.push(f.ref);
    }
    if (f.account !== undefined) {
      where.push('(from_account = ? OR to_account = ?)');
      args.push(f.account, f.account);
    }
    const sql =
      `SELECT * FROM transfers${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, rowid` +
      (f.limit === undefined ? '' : ` LIMIT ${f.limit}`);
    return this.#read(() =>
      this.#stmt<unknown[], TransferRow>(sql)
        .all(...args)
        .map(toTransfer),
    );
  }

  idempotencyOf(client: string, idempotencyKey: string): Promise<IdempotencyUse | undefined> {
    return this.#read(() => {
      const row = this.#stmt<[string, string], { op: string; request_hash: string; outcome: string }>(
        'SELECT op, request_hash, outcome FROM idempotency WHERE client = ? AND key = ?',
      ).get(String(client), String(idempotencyKey));
      if (!row) return undefined;
      return {
        op: row.op,
        requestHash: row.request_hash,
        outcome: row.outcome.startsWith('{"result"') ? 'result' : 'error',
      };
    });
  }

  // ---------------------------------------------------------------- records

  getRecord<T = unknown>(collection: string, id: string): Promise<StoredRecord<T> | undefined> {
    try {
      checkRecordKey(collection, id);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#read(() => {
      const r = this.#stmt<[string, string], RecordRow>('SELECT * FROM records WHERE collection = ? AND id = ?').get(
        collection,
        id,
      );
      return r && toRecord<T>(r);
    });
  }

  listRecords<T = unknown>(collection: string, prefix = ''): Promise<StoredRecord<T>[]> {
    try {
      checkId(collection, 'collection', 64);
      if (typeof prefix !== 'string') throw new ArgumentError('prefix must be a string');
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#read(() =>
      this.#stmt<[string, number, string], RecordRow>(
        'SELECT * FROM records WHERE collection = ? AND substr(id, 1, ?) = ? ORDER BY id',
      )
        .all(collection, prefix.length, prefix)
        .map((r) => toRecord<T>(r)),
    );
  }

  writeRecords(writes: readonly RecordWrite[]): Promise<StoredRecord[]> {
    let checked: CheckedRecordWrite[];
    try {
      if (!Array.isArray(writes) || writes.length === 0) throw new ArgumentError('writes must be a non-empty array');
      checked = writes.map((w) => ({ write: w, json: checkRecordWrite(w) }));
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#op(() => this.#writeRecordsSync(checked));
  }

  /** Applies record writes inside the current transaction; throws `RECORD_CONFLICT` on a version mismatch. */
  #writeRecordsSync(checked: readonly CheckedRecordWrite[], answer = true): StoredRecord[] {
    const at = this.#now();
    const values = checked.map((c) => c.json);
    return checked.map(({ write: w }, i) => {
      const cur = this.#stmt<[string, string], { version: number }>(
        'SELECT version FROM records WHERE collection = ? AND id = ?',
      ).get(w.collection, w.id);
      const version = cur?.version ?? 0;
      if (w.expectVersion !== undefined && w.expectVersion !== version)
        throw new LedgerError(
          'RECORD_CONFLICT',
          `record ${w.collection}/${w.id} is at version ${version}, not ${w.expectVersion}`,
        );
      this.#stmt(
        'INSERT INTO records (collection, id, value, version, updated_at) VALUES (?, ?, ?, ?, ?) ' +
          'ON CONFLICT (collection, id) DO UPDATE SET value = excluded.value, version = excluded.version, updated_at = excluded.updated_at',
      ).run(w.collection, w.id, values[i]!, version + 1, at);
      return {
        collection: w.collection,
        id: w.id,
        value: answer ? (JSON.parse(values[i]!) as unknown) : undefined,
        version: version + 1,
        updatedAt: at,
      };
    });
  }

  summary(): Promise<KindTotal[]> {
    return this.#read(() =>
      kindTotals(
        this.#stmt<[], { kind: string; accounts: number; balance: number; reserved: number }>(
          'SELECT kind, COUNT(*) AS accounts, SUM(balance) AS balance, SUM(reserved) AS reserved FROM accounts GROUP BY kind',
        ).all(),
      ),
    );
  }

  verify(): Promise<VerifyResult> {
    return this.#op(() =>
      verifyJournal(
        (function* (rows: Iterable<JournalRow>) {
          for (const r of rows) yield toEntry(r);
        })(this.#stmt<[], JournalRow>('SELECT * FROM journal ORDER BY seq').iterate()),
        this.#stmt<[], AccountRow>('SELECT * FROM accounts ORDER BY id').all().map(toAccount),
      ),
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#queue.length > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    this.#flush();
    this.#db.close();
  }
}
