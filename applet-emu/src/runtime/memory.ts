/**
 * Card memory: persistent memory (EEPROM/flash: balances, counters, keys, logs, files, the registry) with atomic
 * transactions and tear injection, and transient memory (RAM: session state).
 *
 * **Model.** Persistent memory is one key → value map. Writes land immediately and are recorded in an undo log
 * (as a card with an undo-log transaction buffer does); `atomically(fn)` commits when the outermost call
 * returns and rolls back to its start when `fn` throws. Nested calls join the outer transaction; a nested call
 * that throws rolls back its own writes (a savepoint) and the outer transaction goes on if the exception is
 * caught. A write outside any transaction is refused (`NOT_IN_TRANSACTION`): every change of persistent memory
 * goes through `atomically`.
 *
 * **Persistent writes and tears.** The writes that count — for `tearAt(n)` and for the tear-point enumerator —
 * are each `put`/`delete` that changes a key, and the commit of an outermost transaction (the commit record).
 * A tear *before* write n means write n never lands; *after* write n means it landed. Either way an uncommitted
 * transaction is rolled back (the emulator rolls back at once rather than at the next power-up; nothing can
 * observe the difference), so a tear before or after any data write leaves the old state, and a tear after
 * the commit record leaves the new state although the terminal never receives the response.
 *
 * @module
 */
import { CardTornError, StoreError } from './errors';

/** A JSON-safe value: what {@link PersistentMemory} stores besides bytes. Numbers must be finite. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** A value in persistent memory: bytes, or a JSON-safe value (stored deep-frozen). */
export type StoredValue = Uint8Array | JsonValue;

/** When an injected tear strikes relative to the chosen persistent write. */
export type TearWhen = 'before' | 'after';

/** A hook run (newest first) when the transaction it was registered in rolls back. */
export type RollbackHook = () => void;

const HOOK = Symbol('hook');

function invalid(message: string): never {
  throw new StoreError('STORE_VALUE_INVALID', message);
}

/** Validates a JSON-safe value and returns a deep-frozen copy of it. */
function freezeJson(v: unknown, depth: number): JsonValue {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) invalid(`store: number ${String(v)} is not JSON-safe`);
    return v;
  }
  if (depth > 64) invalid('store: value nested deeper than 64 levels');
  if (Array.isArray(v)) {
    const out: JsonValue[] = new Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = freezeJson(v[i], depth + 1);
    return Object.freeze(out);
  }
  if (typeof v === 'object') {
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null)
      invalid(`store: ${(v as object).constructor?.name ?? 'object'} is not a plain JSON object`);
    const out: { [key: string]: JsonValue } = {};
    for (const k of Object.keys(v)) out[k] = freezeJson((v as Record<string, unknown>)[k], depth + 1);
    return Object.freeze(out);
  }
  return invalid(`store: ${typeof v} is not storable (bytes or JSON-safe values only)`);
}

/** Copy of a stored value as callers may keep it: bytes are copied, JSON values are frozen and shared. */
function normalize(value: unknown): StoredValue {
  if (value instanceof Uint8Array) return Uint8Array.prototype.slice.call(value);
  return freezeJson(value, 0);
}

function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0)
    throw new StoreError('STORE_KEY_INVALID', 'store: a key is a non-empty string');
}

/**
 * The card's persistent memory. Used through {@link PersistentStore}s (one namespace per applet, one for the file
 * system, one for the registry); a {@link Card} owns exactly one.
 */
export class PersistentMemory {
  readonly #map = new Map<string, StoredValue>();
  // Undo log: parallel arrays; a key of HOOK means the value slot holds a rollback hook.
  readonly #undoKeys: (string | typeof HOOK)[] = [];
  readonly #undoVals: (StoredValue | RollbackHook | undefined)[] = [];
  #depth = 0;
  #writes = 0;
  #commits = 0;
  #tearTarget = 0; // 0 = no tear armed
  #tearWhen: TearWhen = 'before';
  #torn = false;
  #tears = 0;
  /** Called once when a tear strikes, before the `CardTornError` is thrown (the card powers off). */
  onTear: (() => void) | undefined;

  /** True inside `atomically`. */
  get inTransaction(): boolean {
    return this.#depth > 0;
  }

  /** Persistent writes performed so far (data writes and commit records), for tear planning. */
  get writeCount(): number {
    return this.#writes;
  }

  /** Committed transactions so far: a cheap "has persistent state changed" probe. */
  get commitCount(): number {
    return this.#commits;
  }

  /** True from a tear until {@link PersistentMemory.revive} (the next power-up). */
  get torn(): boolean {
    return this.#torn;
  }

  /** Tears that struck so far. */
  get tearCount(): number {
    return this.#tears;
  }

  /** Number of stored keys. */
  get size(): number {
    return this.#map.size;
  }

  /** The stored value (bytes are a fresh copy; JSON values are frozen), or `undefined`. */
  get(key: string): StoredValue | undefined {
    const v = this.#map.get(key);
    return v instanceof Uint8Array ? v.slice() : v;
  }

  /** The stored value without copying: runtime-internal readers that never mutate or leak it. @internal */
  peek(key: string): StoredValue | undefined {
    return this.#map.get(key);
  }

  /** True when `key` holds a value. */
  has(key: string): boolean {
    return this.#map.has(key);
  }

  /** Keys starting with `prefix`, in insertion order. */
  keys(prefix = ''): string[] {
    const out: string[] = [];
    for (const k of this.#map.keys()) if (k.startsWith(prefix)) out.push(k);
    return out;
  }

  /**
   * Stores `value` under `key` (bytes are copied, JSON values deep-frozen copies).
   * @throws {StoreError} `NOT_IN_TRANSACTION`, `STORE_KEY_INVALID`, `STORE_VALUE_INVALID`.
   * @throws {CardTornError} `CARD_TORN` when an injected tear strikes at this write or the card is torn.
   */
  put(key: string, value: StoredValue): void {
    checkKey(key);
    this.#requireTransaction();
    const v = normalize(value);
    this.#write(key, v);
  }

  /**
   * Removes `key` (no write is counted when it is absent).
   * @throws {StoreError} `NOT_IN_TRANSACTION`.
   * @throws {CardTornError} `CARD_TORN` when an injected tear strikes at this write.
   */
  delete(key: string): void {
    this.#requireTransaction();
    if (!this.#map.has(key)) return;
    this.#write(key, undefined);
  }

  /**
   * Registers `hook` to run if the current transaction (or the savepoint it is in) rolls back: in-memory
   * mirrors of persistent data (the registry, the file tree) use it to undo themselves.
   * @throws {StoreError} `NOT_IN_TRANSACTION`.
   */
  onRollback(hook: RollbackHook): void {
    this.#requireTransaction();
    this.#undoKeys.push(HOOK);
    this.#undoVals.push(hook);
  }

  /**
   * Runs `fn` as one transaction: all its writes land or none. Nested calls join the outer transaction;
   * `fn` must be synchronous.
   * @throws whatever `fn` throws, after rolling back its writes.
   * @throws {CardTornError} `CARD_TORN` when a tear strikes (state rolled back unless the commit landed).
   * @throws {StoreError} `TRANSACTION_ASYNC` when `fn` returns a promise.
   */
  atomically<T>(fn: () => T): T {
    if (this.#torn) throw new CardTornError();
    const mark = this.#undoKeys.length;
    this.#depth++;
    let result: T;
    try {
      result = fn();
    } catch (err) {
      this.#depth--;
      this.#rollbackTo(mark);
      throw err;
    }
    this.#depth--;
    if (this.#torn) {
      // The tear was swallowed by `fn`: power is gone all the same.
      this.#rollbackTo(mark);
      throw new CardTornError();
    }
    if (typeof (result as { then?: unknown } | null | undefined)?.then === 'function') {
      this.#rollbackTo(mark);
      throw new StoreError('TRANSACTION_ASYNC', 'atomically: the function must be synchronous');
    }
    if (this.#depth === 0 && this.#undoKeys.length > 0) this.#commit();
    return result;
  }

  /**
   * Arms a tear at the `n`-th persistent write from now (1-based), `before` or `after` it lands.
   * @throws {StoreError} `STORE_VALUE_INVALID` when `n` is not a positive integer.
   */
  armTear(n: number, when: TearWhen = 'before'): void {
    if (!Number.isInteger(n) || n < 1) invalid(`tearAt: expected a positive integer, got ${String(n)}`);
    this.#tearTarget = this.#writes + n;
    this.#tearWhen = when === 'after' ? 'after' : 'before';
  }

  /** Cancels an armed tear. */
  disarmTear(): void {
    this.#tearTarget = 0;
  }

  /** Power is back after a tear (the rollback has already happened). */
  revive(): void {
    this.#torn = false;
  }

  /**
   * All records (bytes copied), for snapshots.
   * @throws {StoreError} `TRANSACTION_OPEN` inside a transaction.
   */
  entries(): Array<[string, StoredValue]> {
    if (this.#depth > 0) throw new StoreError('TRANSACTION_OPEN', 'snapshot: a transaction is open');
    const out: Array<[string, StoredValue]> = [];
    for (const [k, v] of this.#map) out.push([k, v instanceof Uint8Array ? v.slice() : v]);
    return out;
  }

  /**
   * Loads records into an empty memory (restoring an image); not a transaction, no writes counted.
   * @throws {StoreError} `STORE_KEY_INVALID` / `STORE_VALUE_INVALID` on a bad record.
   */
  load(records: Iterable<readonly [string, StoredValue]>): void {
    for (const [k, v] of records) {
      checkKey(k);
      this.#map.set(k, normalize(v));
    }
  }

  #requireTransaction(): void {
    if (this.#torn) throw new CardTornError();
    if (this.#depth === 0) throw new StoreError('NOT_IN_TRANSACTION', 'persistent write outside card.atomically()');
  }

  #write(key: string, v: StoredValue | undefined): void {
    const n = ++this.#writes;
    const strikes = n === this.#tearTarget;
    if (strikes && this.#tearWhen === 'before') this.#tearNow();
    this.#undoKeys.push(key);
    this.#undoVals.push(this.#map.get(key));
    if (v === undefined) this.#map.delete(key);
    else this.#map.set(key, v);
    if (strikes) this.#tearNow();
  }

  #commit(): void {
    const n = ++this.#writes;
    const strikes = n === this.#tearTarget;
    if (strikes && this.#tearWhen === 'before') {
      this.#rollbackTo(0);
      this.#tearNow();
    }
    this.#undoKeys.length = 0;
    this.#undoVals.length = 0;
    this.#commits++;
    if (strikes) this.#tearNow();
  }

  #rollbackTo(mark: number): void {
    const keys = this.#undoKeys;
    const vals = this.#undoVals;
    for (let i = keys.length - 1; i >= mark; i--) {
      const k = keys[i]!;
      const v = vals[i];
      if (k === HOOK) (v as RollbackHook)();
      else if (v === undefined) this.#map.delete(k);
      else this.#map.set(k, v as StoredValue);
    }
    keys.length = mark;
    vals.length = mark;
  }

  #tearNow(): never {
    this.#tearTarget = 0;
    this.#torn = true;
    this.#tears++;
    this.onTear?.();
    throw new CardTornError();
  }
}

function mismatch(key: string, want: string, v: StoredValue): never {
  const got = v instanceof Uint8Array ? 'bytes' : v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
  throw new StoreError('STORE_TYPE_MISMATCH', `store: "${key}" holds ${got}, not ${want}`);
}

/**
 * A namespace of persistent memory: what an applet sees as `ctx.store`. Keys are free-form strings within the
 * namespace. Every write must happen inside `atomically` (the card's transaction; nesting joins it).
 */
export class PersistentStore {
  readonly #mem: PersistentMemory;
  readonly #prefix: string;

  /** A view of `mem` under `prefix` (e.g. `app/A000000151000000/`). */
  constructor(mem: PersistentMemory, prefix: string) {
    this.#mem = mem;
    this.#prefix = prefix;
  }

  /** The namespace prefix of this view. */
  get prefix(): string {
    return this.#prefix;
  }

  /** The value under `key` (bytes copied), or `undefined`. */
  get(key: string): StoredValue | undefined {
    return this.#mem.get(this.#prefix + key);
  }

  /**
   * The bytes under `key` (a fresh copy), or `undefined`.
   * @throws {StoreError} `STORE_TYPE_MISMATCH` when the value is not bytes.
   */
  getBytes(key: string): Uint8Array | undefined {
    const v = this.#mem.get(this.#prefix + key);
    if (v === undefined || v instanceof Uint8Array) return v;
    return mismatch(key, 'bytes', v);
  }

  /**
   * The number under `key`, or `undefined`.
   * @throws {StoreError} `STORE_TYPE_MISMATCH` when the value is not a number.
   */
  getNumber(key: string): number | undefined {
    const v = this.#mem.peek(this.#prefix + key);
    if (v === undefined || typeof v === 'number') return v;
    return mismatch(key, 'number', v);
  }

  /**
   * The string under `key`, or `undefined`.
   * @throws {StoreError} `STORE_TYPE_MISMATCH` when the value is not a string.
   */
  getString(key: string): string | undefined {
    const v = this.#mem.peek(this.#prefix + key);
    if (v === undefined || typeof v === 'string') return v;
    return mismatch(key, 'string', v);
  }

  /**
   * The JSON value under `key` (deep-frozen), or `undefined`; the type parameter is not checked.
   * @throws {StoreError} `STORE_TYPE_MISMATCH` when the value is bytes.
   */
  getJson<T extends JsonValue = JsonValue>(key: string): T | undefined {
    const v = this.#mem.peek(this.#prefix + key);
    if (v instanceof Uint8Array) return mismatch(key, 'JSON', v);
    return v as T | undefined;
  }

  /** True when `key` holds a value. */
  has(key: string): boolean {
    return this.#mem.has(this.#prefix + key);
  }

  /** The keys of this namespace (without the prefix). */
  keys(): string[] {
    const n = this.#prefix.length;
    return this.#mem.keys(this.#prefix).map((k) => k.slice(n));
  }

  /**
   * Stores `value` under `key` (inside `atomically`).
   * @throws {StoreError} `NOT_IN_TRANSACTION`, `STORE_KEY_INVALID`, `STORE_VALUE_INVALID`.
   * @throws {CardTornError} `CARD_TORN` on an injected tear.
   */
  put(key: string, value: StoredValue): void {
    checkKey(key);
    this.#mem.put(this.#prefix + key, value);
  }

  /**
   * Removes `key` (inside `atomically`).
   * @throws {StoreError} `NOT_IN_TRANSACTION`.
   * @throws {CardTornError} `CARD_TORN` on an injected tear.
   */
  delete(key: string): void {
    this.#mem.delete(this.#prefix + key);
  }

  /**
   * Removes every key of this namespace (inside `atomically`).
   * @throws {StoreError} `NOT_IN_TRANSACTION`.
   */
  clear(): void {
    for (const k of this.#mem.keys(this.#prefix)) this.#mem.delete(k);
  }

  /** Runs `fn` as (part of) a card transaction; see {@link PersistentMemory.atomically}. */
  atomically<T>(fn: () => T): T {
    return this.#mem.atomically(fn);
  }
}

/**
 * Transient memory (RAM): a typed key → value map the runtime clears on reset, power off or deselection,
 * depending on which store it is (see `ApduContext.transient` / `ApduContext.resetTransient`). Writes are not
 * transactional and never count as persistent writes.
 */
export class TransientStore {
  readonly #map = new Map<string, unknown>();
  readonly #disposers = new Map<string, () => void>();

  /** The value under `key` (the type parameter is not checked), or `undefined`. */
  get<T = unknown>(key: string): T | undefined {
    return this.#map.get(key) as T | undefined;
  }

  /**
   * Stores `value` under `key`. `onClear` runs when the runtime clears the store (deselect, channel close,
   * reset, power off, tear) while `value` is still held — the place to wipe session keys. It does not run on
   * {@link delete} or when `key` is overwritten: the applet then owns the old value.
   */
  set(key: string, value: unknown, onClear?: () => void): void {
    this.#map.set(key, value);
    if (onClear) this.#disposers.set(key, onClear);
    else this.#disposers.delete(key);
  }

  /** True when `key` holds a value. */
  has(key: string): boolean {
    return this.#map.has(key);
  }

  /** Removes `key`. */
  delete(key: string): void {
    this.#map.delete(key);
    this.#disposers.delete(key);
  }

  /** Removes everything (called by the runtime). */
  clear(): void {
    if (this.#disposers.size > 0) {
      for (const dispose of this.#disposers.values()) {
        try {
          dispose();
        } catch {
          // a failing wipe must not stop the reset
        }
      }
      this.#disposers.clear();
    }
    if (this.#map.size > 0) this.#map.clear();
  }

  /** Number of keys held. */
  get size(): number {
    return this.#map.size;
  }
}
