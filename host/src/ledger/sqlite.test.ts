import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeLedgerStore, rejectsWith } from './conformance.test-support';
import { DEFAULT_DATABASE_PATH, openSqliteLedger, SQLITE_SCHEMA_VERSION, type SqliteLedgerStore } from './sqlite';

describeLedgerStore('sqlite (file)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'simtap-ledger-'));
  const path = join(dir, 'ledger.db');
  return {
    open: async (options) => openSqliteLedger({ ...options, path }),
    dispose: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

describe('SQLite ledger store', () => {
  let dir: string;
  let path: string;
  let ledger: SqliteLedgerStore;
  const tx = (key: string, amount = 1) => ({ client: 'c', idempotencyKey: key, from: 'cash', to: 'phone', amount });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'simtap-ledger-'));
    path = join(dir, 'sub', 'ledger.db');
    ledger = openSqliteLedger({ path });
    await ledger.openAccount('cash', 'CASH');
    await ledger.openAccount('phone', 'PHONE');
  });
  afterEach(async () => {
    await ledger.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('defaults to ./data/simtap.db, creating the folder', async () => {
    expect(DEFAULT_DATABASE_PATH).toBe('./data/simtap.db');
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const store = openSqliteLedger();
      await store.close();
      expect(existsSync(join(dir, 'data', 'simtap.db'))).toBe(true);
    } finally {
      process.chdir(cwd);
    }
  });

  it('refuses a negative suspendAfterMs', () => {
    expect(() => openSqliteLedger({ path: ':memory:', suspendAfterMs: -1 })).toThrow(/suspendAfterMs/);
  });

  it('runs in WAL mode with synchronous=FULL', () => {
    expect(ledger.pragmas()).toEqual({ journalMode: 'wal', synchronous: 2 });
  });

  it('commits the operations of one event-loop turn together, and each alone when turns differ', async () => {
    const before = ledger.commits;
    const results = await Promise.allSettled([
      ...Array.from({ length: 50 }, (_, i) => ledger.transfer(tx(`k${i}`))),
      ledger.transfer({ ...tx('bad'), from: 'phone', to: 'cash', amount: 1_000_000 }), // fails alone
    ]);
    expect(ledger.commits - before).toBe(1);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(50);
    expect((await ledger.getAccount('phone'))?.balance).toBe(50);
    await ledger.transfer(tx('a'));
    await ledger.transfer(tx('b'));
    expect(ledger.commits - before).toBe(3); // + a, b (reads run at once, outside the groups)
  });

  it('resolves nothing before its commit: a second connection sees the transfer when the promise resolves', async () => {
    const other = new Database(path, { readonly: true });
    try {
      const p = ledger.transfer(tx('seen', 42));
      expect(other.prepare("SELECT balance FROM accounts WHERE id = 'phone'").get()).toEqual({ balance: 0 });
      await p;
      expect(other.prepare("SELECT balance FROM accounts WHERE id = 'phone'").get()).toEqual({ balance: 42 });
    } finally {
      other.close();
    }
  });

  it('fails the whole group with STORE_COMMIT_FAILED when it cannot commit; a retry under the same keys applies once', async () => {
    await ledger.close();
    ledger = openSqliteLedger({ path, busyTimeoutMs: 20 });
    await ledger.openAccount('cash', 'CASH');
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE'); // another writer holds the lock
    const group = await Promise.allSettled([ledger.transfer(tx('g1', 5)), ledger.transfer(tx('g2', 7))]);
    for (const r of group) {
      expect(r.status).toBe('rejected');
      if (r.status === 'rejected') await rejectsWith(Promise.reject(r.reason), 'STORE_COMMIT_FAILED');
    }
    other.exec('ROLLBACK');
    other.close();
    expect((await ledger.getAccount('phone'))?.balance).toBe(0);
    await Promise.all([ledger.transfer(tx('g1', 5)), ledger.transfer(tx('g2', 7))]);
    await ledger.transfer(tx('g1', 5));
    expect((await ledger.getAccount('phone'))?.balance).toBe(12);
    expect((await ledger.verify()).ok).toBe(true);
  });

  it('refuses a database whose schema is newer than the code (STORE_SCHEMA_NEWER)', async () => {
    await ledger.close();
    const raw = new Database(path);
    expect(raw.pragma('user_version', { simple: true })).toBe(SQLITE_SCHEMA_VERSION);
    raw.pragma(`user_version = ${SQLITE_SCHEMA_VERSION + 1}`);
    raw.close();
    let error: unknown;
    try {
      openSqliteLedger({ path });
    } catch (e) {
      error = e;
    }
    await rejectsWith(Promise.reject(error), 'STORE_SCHEMA_NEWER');
    const raw2 = new Database(path);
    raw2.pragma(`user_version = ${SQLITE_SCHEMA_VERSION}`);
    raw2.close();
    ledger = openSqliteLedger({ path });
  });

  it('keeps the journal append-only: the database refuses updates and deletes', async () => {
    await ledger.transfer(tx('k'));
    const raw = new Database(path);
    try {
      expect(() => raw.prepare('UPDATE journal SET amount = 2 WHERE seq = 4').run()).toThrow(/append-only/);
      expect(() => raw.prepare('DELETE FROM journal').run()).toThrow(/append-only/);
    } finally {
      raw.close();
    }
  });

  describe('catches tampering', () => {
    /** Closes the store, runs `sql` on the file with the journal's guards off, reopens, verifies. */
    async function tamper(sql: string) {
      await ledger.transfer(tx('k1', 500));
      await ledger.transfer(tx('k2', 300));
      expect((await ledger.verify()).ok).toBe(true);
      await ledger.close();
      const raw = new Database(path);
      raw.exec('DROP TRIGGER journal_no_update; DROP TRIGGER journal_no_delete;');
      raw.exec(sql);
      raw.close();
      ledger = openSqliteLedger({ path });
      return ledger.verify();
    }

    it('an amount changed in a journal row (its hash no longer matches)', async () => {
      const v = await tamper("UPDATE journal SET amount = 5000 WHERE type = 'transfer' AND amount = 500");
      expect(v.ok).toBe(false);
      expect(v.problems.join('\n')).toMatch(/does not match its hash/);
    });

    it('a row rewritten with a fresh hash of its own (the next entry no longer chains to it)', async () => {
      const v = await tamper("UPDATE journal SET hash = '" + 'ab'.repeat(32) + "' WHERE seq = 4");
      expect(v.ok).toBe(false);
      expect(v.problems.join('\n')).toMatch(/previous entry's hash/);
    });

    it('a deleted row', async () => {
      const v = await tamper('DELETE FROM journal WHERE seq = 4');
      expect(v.ok).toBe(false);
    });

    it('a stored balance that disagrees with the journal', async () => {
      const v = await tamper("UPDATE accounts SET balance = balance + 1 WHERE id = 'phone'");
      expect(v.ok).toBe(false);
      expect(v.problems.join('\n')).toMatch(/stored balance 801, journal 800/);
    });
  });
});
