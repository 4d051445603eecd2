/**
 * {@link RecordBuffer}: a machine's records on its own disk until the application system has stored them — the
 * part of {@link MachineAgent} that makes "no record lost, none delivered twice" survive `kill -9` and power loss.
 *
 * A directory holds two files:
 * - `records.jsonl`: one line `{"seq":n,"record":{…}}` per record, appended and flushed to the disk
 *   (`fdatasync`) before `append` resolves. Concurrent appends share one write and one sync (group commit). A
 *   crash can leave only the last line torn (it was never acknowledged): on opening, the bytes after the last
 *   newline are cut off. Any other line that is not a record is corruption, not a crash, and opening refuses it.
 * - `state.json`: the highest sequence number the hub acknowledged (`ackedSeq`), and whether this buffer has met
 *   the hub yet (`synced`). Replaced atomically (write, sync, rename, sync the directory).
 *
 * Records up to `ackedSeq` are dropped from memory at once; the file keeps their lines until enough pile up (or the
 * buffer closes), then `ackedSeq` is written durably and the file emptied or rewritten (atomically). An
 * acknowledgement lost in a crash is harmless: the lines are still there and the hub's `storedSeq` acknowledges them
 * again at the next session start. `ackedSeq` is written before the file shrinks, and a rewritten file before a new
 * `ackedSeq` that depends on it, so a crash between the two steps never forgets an unacknowledged record.
 * @module
 */
import { constants } from 'node:fs';
import { type FileHandle, mkdir, open, readFile, rename, rm, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ArgumentError } from '../core/errors';
import { MachineLinkError } from './machine-errors';
import {
  type MachineRecord,
  type MachineRecordEntry,
  MachineRecordEntrySchema,
  MachineRecordSchema,
} from './machine-protocol';

const RECORDS = 'records.jsonl';
const STATE = 'state.json';
/** Acknowledged lines kept in the file before it is rewritten without them. */
const COMPACT_AFTER = 1024;

const StateSchema = z.strictObject({
  format: z.literal(1),
  ackedSeq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  synced: z.boolean(),
});
type State = z.output<typeof StateSchema>;

interface QueuedAppend {
  readonly record: MachineRecord;
  readonly resolve: (seq: number) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * A machine's crash-safe record buffer (see the module's description). {@link MachineAgent} owns one per
 * `bufferDir`; open it directly to look into a buffer (one process at a time).
 * @example
 * import { RecordBuffer } from '@simtap/sdk/clients';
 * const buffer = await RecordBuffer.open('/var/lib/gate-7/records');
 * console.log(buffer.pending, buffer.lastSeq, buffer.ackedSeq);
 * await buffer.close();
 */
export class RecordBuffer {
  /** The directory. */
  readonly dir: string;
  #fh: FileHandle | undefined;
  #state: State;
  /** Records above `ackedSeq`, oldest first. */
  #pending: MachineRecordEntry[];
  #lastSeq: number;
  /** Lines in the records file (acknowledged ones included). */
  #fileLines: number;
  #queue: QueuedAppend[] = [];
  #flushScheduled = false;
  #chain: Promise<unknown> = Promise.resolve();
  #broken: Error | undefined;
  #closed = false;
  /** Records taken since opening (those found pending on opening included), and acknowledged since opening. */
  #taken: number;
  #released = 0;

  private constructor(dir: string, fh: FileHandle, state: State, entries: MachineRecordEntry[]) {
    this.dir = dir;
    this.#fh = fh;
    this.#state = state;
    this.#pending = entries.filter((e) => e.seq > state.ackedSeq);
    this.#fileLines = entries.length;
    this.#lastSeq = Math.max(state.ackedSeq, entries.at(-1)?.seq ?? 0);
    this.#taken = this.#pending.length;
  }

  /**
   * Opens (creating it when missing) the buffer in `dir`: a torn last line is cut off, the acknowledged records
   * are skipped.
   * @throws {MachineLinkError} `BUFFER_CORRUPT` when a complete line or the state file is not what the buffer
   * writes; `BUFFER_IO` when the directory cannot be read or written.
   * @example
   * const buffer = await RecordBuffer.open('./data/till-3');
   */
  static async open(dir: string): Promise<RecordBuffer> {
    if (typeof dir !== 'string' || dir.length === 0) throw new ArgumentError('bufferDir: a directory path');
    return io(`cannot open the record buffer in ${dir}`, async () => {
      await mkdir(dir, { recursive: true });
      await rm(join(dir, `${RECORDS}.tmp`), { force: true });
      await rm(join(dir, `${STATE}.tmp`), { force: true });
      const stateText = await readIfExists(join(dir, STATE));
      let state: State = { format: 1, ackedSeq: 0, synced: false };
      if (stateText !== undefined) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(stateText.toString('utf8'));
        } catch {
          parsed = undefined;
        }
        const r = StateSchema.safeParse(parsed);
        if (!r.success) throw new MachineLinkError('BUFFER_CORRUPT', `${join(dir, STATE)}: not a buffer state`);
        state = r.data;
      }
      const path = join(dir, RECORDS);
      const bytes = (await readIfExists(path)) ?? Buffer.alloc(0);
      const end = bytes.lastIndexOf(0x0a) + 1;
      if (end < bytes.length) await truncate(path, end); // the torn last line of a crash: never acknowledged
      const entries: MachineRecordEntry[] = [];
      const text = bytes.subarray(0, end).toString('utf8');
      const lines = text.length === 0 ? [] : text.slice(0, -1).split('\n');
      for (const [i, line] of lines.entries()) {
        let value: unknown;
        try {
          value = JSON.parse(line);
        } catch {
          value = undefined;
        }
        const r = MachineRecordEntrySchema.safeParse(value);
        const previous = entries.at(-1)?.seq ?? 0;
        if (!r.success || r.data.seq <= previous)
          throw new MachineLinkError('BUFFER_CORRUPT', `${path}: line ${i + 1} is not a record in sequence`);
        entries.push(r.data);
      }
      const fh = await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
      try {
        if (end < bytes.length) await fh.datasync();
        if (stateText === undefined) await writeFileAtomic(dir, STATE, JSON.stringify(state));
        else await syncDir(dir);
      } catch (e) {
        await fh.close();
        throw e;
      }
      return new RecordBuffer(dir, fh, state, entries);
    });
  }

  /** The last sequence number given to a record (0: none yet). */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** The highest sequence number the hub acknowledged. */
  get ackedSeq(): number {
    return this.#state.ackedSeq;
  }

  /** Records held and not yet acknowledged. */
  get pending(): number {
    return this.#pending.length;
  }

  /**
   * Counts since opening that renumbering does not change: records taken (those found pending included) and
   * records acknowledged. Every record taken so far is delivered once `released` reaches this `taken`.
   */
  get counts(): { readonly taken: number; readonly released: number } {
    return { taken: this.#taken, released: this.#released };
  }

  /** `true` once the buffer has met the hub (its sequence numbers are the hub's). */
  get synced(): boolean {
    return this.#state.synced;
  }

  /**
   * Appends `record` and flushes it to the disk; resolves with its sequence number once it is durable.
   * @throws {ArgumentError} `BAD_ARGUMENT` for a record that does not fit the record schema.
   * @throws {MachineLinkError} `AGENT_STOPPED` after `close()`; `BUFFER_IO` when the write failed (then every
   * later append fails too: reopen the buffer).
   * @example
   * const seq = await buffer.append(clearingRecord(sale));
   */
  append(record: MachineRecord): Promise<number> {
    if (this.#closed) return Promise.reject(new MachineLinkError('AGENT_STOPPED', 'the record buffer is closed'));
    if (this.#broken) return Promise.reject(this.#brokenError());
    const r = MachineRecordSchema.safeParse(record);
    if (!r.success)
      return Promise.reject(
        new ArgumentError(
          `record: not a purchase record: ${r.error.issues
            .slice(0, 3)
            .map((i) => `${i.path.join('.') || 'record'}: ${i.message}`)
            .join('; ')}`,
        ),
      );
    return new Promise((resolve, reject) => {
      this.#queue.push({ record: r.data, resolve, reject });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        void this.#exclusive(() => this.#flush()).catch(() => undefined);
      }
    });
  }

  /**
   * Up to `max` records not yet acknowledged, oldest first, starting after `afterSeq` (default `ackedSeq`).
   * @example
   * const batch = buffer.peek(100);
   */
  peek(max: number, afterSeq = this.#state.ackedSeq): MachineRecordEntry[] {
    const out: MachineRecordEntry[] = [];
    for (const e of this.#pending) {
      if (out.length >= max) break;
      if (e.seq > afterSeq) out.push(e);
    }
    return out;
  }

  /**
   * The hub stored every record up to `seq`: persists it, forgets them, and shrinks the file when worthwhile.
   * @throws {MachineLinkError} `BUFFER_IO`.
   * @example
   * await buffer.ack(storedSeq);
   */
  ack(seq: number): Promise<void> {
    return this.#exclusive(() => this.#ack(seq));
  }

  /**
   * Aligns the buffer with the hub at the start of a session (`storedSeq`: the highest sequence number the
   * application system has stored for this machine). A buffer that never met the hub, or one the hub is ahead of
   * (it holds another disk's records), gives its pending records the numbers after `storedSeq`; otherwise the
   * records up to `storedSeq` are acknowledged (an answer lost with a dropped link).
   * @throws {MachineLinkError} `BUFFER_IO`.
   * @example
   * await buffer.sync(hello.storedSeq);
   */
  sync(storedSeq: number): Promise<void> {
    return this.#exclusive(async () => {
      if (!this.#state.synced || storedSeq > this.#lastSeq) await this.#renumber(storedSeq);
      else if (storedSeq > this.#state.ackedSeq) await this.#ack(storedSeq);
    });
  }

  /**
   * Waits for the appends under way, then closes the file.
   * @example
   * await buffer.close();
   */
  close(): Promise<void> {
    if (this.#closed) return this.#chain.then(() => undefined);
    this.#closed = true;
    return this.#exclusive(async () => {
      if (this.#fileLines > this.#pending.length) await this.#compact();
      const fh = this.#fh;
      this.#fh = undefined;
      await fh?.close();
    }).catch(() => undefined);
  }

  // ---------------------------------------------------------------- internals

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn, fn);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  #brokenError(): MachineLinkError {
    return new MachineLinkError('BUFFER_IO', `the record buffer in ${this.dir} failed a write; start again`, {
      cause: this.#broken,
    });
  }

  async #flush(): Promise<void> {
    this.#flushScheduled = false;
    const items = this.#queue;
    this.#queue = [];
    if (items.length === 0) return;
    const fh = this.#fh;
    if (this.#broken || !fh) {
      const error = this.#broken
        ? this.#brokenError()
        : new MachineLinkError('AGENT_STOPPED', 'the record buffer is closed');
      for (const item of items) item.reject(error);
      return;
    }
    let seq = this.#lastSeq;
    const entries = items.map((item) => ({ seq: ++seq, record: item.record }));
    try {
      await fh.write(entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
      await fh.datasync();
    } catch (e) {
      // Part of the write may be on the disk: its sequence numbers cannot be given again. Refuse from now on.
      this.#broken = e as Error;
      for (const item of items) item.reject(this.#brokenError());
      return;
    }
    this.#lastSeq = seq;
    this.#taken += entries.length;
    this.#fileLines += entries.length;
    this.#pending.push(...entries);
    for (const [i, item] of items.entries()) item.resolve(entries[i]!.seq);
  }

  async #ack(seq: number): Promise<void> {
    const upTo = Math.min(seq, this.#lastSeq);
    if (upTo <= this.#state.ackedSeq) return;
    // The acknowledgement is kept in memory; the disk learns it (durably) only before the file shrinks. One lost in
    // a crash costs nothing: the lines are still in the file, and the hub's storedSeq acknowledges them again at the
    // next session start (`sync`) before anything is resent. This keeps the syncs off the path of every tap.
    this.#state = { ...this.#state, ackedSeq: upTo, synced: true };
    let drop = 0;
    while (drop < this.#pending.length && this.#pending[drop]!.seq <= upTo) drop++;
    this.#pending.splice(0, drop);
    this.#released += drop;
    if (this.#fileLines - this.#pending.length >= COMPACT_AFTER) await this.#compact();
  }

  /** Persists `ackedSeq` (durably), then drops the acknowledged lines: the file emptied, or rewritten. */
  async #compact(): Promise<void> {
    const fh = this.#fh;
    if (!fh || this.#broken) return;
    await io('cannot persist the acknowledged sequence', () => this.#writeState(this.#state));
    await io('cannot compact the record buffer', async () => {
      if (this.#pending.length === 0) {
        await fh.truncate(0);
        await fh.datasync();
        this.#fileLines = 0;
      } else await this.#rewrite(this.#pending);
    });
  }

  async #renumber(storedSeq: number): Promise<void> {
    const base = Math.max(storedSeq, 0);
    await io('cannot renumber the record buffer', async () => {
      if (this.#pending.length > 0 && this.#pending[0]!.seq !== base + 1) {
        const renumbered = this.#pending.map((e, i) => ({ seq: base + 1 + i, record: e.record }));
        await this.#rewrite(renumbered); // first: the file, then the state that refers to it
        this.#pending = renumbered;
      }
      await this.#writeState({ format: 1, ackedSeq: base, synced: true });
      this.#lastSeq = base + this.#pending.length;
    });
  }

  /** Replaces the records file with `entries` (atomically), and reopens it for appending. */
  async #rewrite(entries: readonly MachineRecordEntry[]): Promise<void> {
    const path = join(this.dir, RECORDS);
    await writeFileAtomic(this.dir, RECORDS, entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
    const old = this.#fh;
    this.#fh = await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
    this.#fileLines = entries.length;
    await old?.close();
  }

  async #writeState(state: State): Promise<void> {
    await writeFileAtomic(this.dir, STATE, JSON.stringify(state));
    this.#state = state;
  }
}

/** Runs `fn`; a file system error becomes `BUFFER_IO` (a `MachineLinkError` passes unchanged). */
async function io<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof MachineLinkError || e instanceof ArgumentError) throw e;
    throw new MachineLinkError('BUFFER_IO', `${what}: ${(e as Error).message}`, { cause: e });
  }
}

async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * Replaces `dir/name` with `data` atomically and durably: a temporary file written and synced, renamed over, and
 * the directory synced.
 * @internal
 */
export async function writeFileAtomic(dir: string, name: string, data: string): Promise<void> {
  const tmp = join(dir, `${name}.tmp`);
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, name));
  await syncDir(dir);
}

/** The errno names of a directory that cannot be synced on this platform. */
const DIR_SYNC_UNSUPPORTED = new Set(['EISDIR', 'EPERM', 'EINVAL', 'EBADF']);

/** The errno name of a file system error (`ENOENT`, …). */
function errnoOf(e: unknown): string | undefined {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string'
    ? (e as NodeJS.ErrnoException).code
    : undefined;
}

/** Syncs a directory (its entries: a created or renamed file); a platform that cannot (Windows) is skipped. */
async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (e) {
    if (!DIR_SYNC_UNSUPPORTED.has(errnoOf(e) ?? '')) throw e;
  } finally {
    await fh?.close();
  }
}
