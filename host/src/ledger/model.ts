/**
 * The ledger's model, shared by every store: account kinds and their floors, the shapes of requests and results,
 * argument checks, the canonical request hash of idempotency, and the journal's hash chain.
 *
 * Sign convention: a transfer of `amount` from `from` to `to` subtracts it from `from`'s balance and adds it to
 * `to`'s, so the sum of all balances is 0 at every commit. An account that holds money owed to someone (a phone
 * account, a card float, a merchant payable, the points liability) has a positive balance; an account that stands
 * for money the platform received (cash at a service point or kiosk) goes negative as money comes in.
 * @module
 */
import { createHash } from 'node:crypto';
import { ArgumentError } from '@simtap/sdk/core/errors';
import { LedgerError } from './errors';

/**
 * Account kinds with their floor (the lowest balance the ledger allows, in fen; `null` = none).
 *
 * - Accounts that hold what the platform owes (customer phone accounts, card floats, pending loads, merchant
 *   payables, the points liability, suspense) never go below 0.
 * - Accounts where money enters or leaves the platform (cash at service points and kiosks, bank settlement, the
 *   points funding that backs awarded points) have no floor: their balance is minus what came in, so it goes negative
 *   as money is paid in. A floor there would refuse cash that was physically received.
 */
export const ACCOUNT_KINDS = {
  /** (21) A customer's phone account, by MSISDN. */
  PHONE: { floor: 0 },
  /** (23) The platform's mirror of one card's e-purse (one per card). */
  CARD_FLOAT: { floor: 0 },
  /** (23) Funds held for a load in flight (debited before the card is credited). */
  PENDING_LOAD: { floor: 0 },
  /** (23) What the platform owes a merchant for cleared purchases. */
  MERCHANT_PAYABLE: { floor: 0 },
  /** (22) Points awarded and not yet redeemed or expired, in points. */
  POINTS_LIABILITY: { floor: 0 },
  /** Pending transfers unresolved past the configured time, for the back office (see `suspendStale`). */
  SUSPENSE: { floor: 0 },
  /** Cash received at a service point or a recharge kiosk: negative as cash comes in. */
  CASH: { floor: null },
  /** Bank settlement (merchant payouts, bank-funded loads): negative as money comes in. */
  SETTLEMENT: { floor: null },
  /** The issuer's funding of awarded points: negative as points are awarded. */
  POINTS_FUNDING: { floor: null },
} as const satisfies Record<string, { floor: number | null }>;

/** One line of {@link LedgerStore.summary}: the accounts of one kind together. */
export interface KindTotal {
  readonly kind: AccountKind;
  readonly accounts: number;
  /** Σ balances, fen (points for the points kinds). */
  readonly balance: number;
  /** Σ reservations (pending holds), fen. */
  readonly reserved: number;
}

/** Every kind in `ACCOUNT_KINDS` order, from grouped rows (numbers or numeric strings); kinds without a row are 0. */
export function kindTotals(
  rows: readonly { kind: string; accounts: number | string; balance: number | string; reserved: number | string }[],
): KindTotal[] {
  const by = new Map(rows.map((r) => [r.kind, r]));
  return (Object.keys(ACCOUNT_KINDS) as AccountKind[]).map((kind) => {
    const r = by.get(kind);
    return {
      kind,
      accounts: Number(r?.accounts ?? 0),
      balance: Number(r?.balance ?? 0),
      reserved: Number(r?.reserved ?? 0),
    };
  });
}

/** The kind of an account (`PHONE`, `CARD_FLOAT`, …). */
export type AccountKind = keyof typeof ACCOUNT_KINDS;

/** The suspense account every store creates with its schema. */
export const SUSPENSE_ACCOUNT = 'suspense';

/** An account as stored. `available` = `balance - reserved` (what the account may still spend above its floor). */
export interface Account {
  readonly id: string;
  readonly kind: AccountKind;
  readonly floor: number | null;
  readonly balance: number;
  /** Fen held by pending transfers out of this account. */
  readonly reserved: number;
  readonly available: number;
}

/** A used idempotency key, as `idempotencyOf` reports it. */
export interface IdempotencyUse {
  /** `transfer`, `hold` or `linked`. */
  readonly op: string;
  readonly requestHash: string;
  readonly outcome: 'result' | 'error';
}

/** Who asks, and under which idempotency key (1–64 printable ASCII characters, scoped to the client). */
export interface Idempotency {
  readonly client: string;
  readonly idempotencyKey: string;
}

/**
 * Structured details a sub-platform keeps with a transfer (a load's card, counters and terminal; a cleared
 * record's offline counter): a flat object of strings, finite numbers, booleans and nulls, at most
 * {@link MAX_META_CHARS} characters as JSON. Part of the idempotency body.
 */
export type TransferMeta = Readonly<Record<string, string | number | boolean | null>>;

/** Longest {@link TransferMeta} as JSON. */
export const MAX_META_CHARS = 1024;

/** One movement: `amount` fen from `from` to `to`. */
export interface TransferLeg {
  readonly from: string;
  readonly to: string;
  readonly amount: number;
  /** Free text kept with the transfer (what it is for), up to 256 characters. */
  readonly memo?: string;
  /**
   * A reference to find the transfer by (`listTransfers({ ref })`), 1–128 printable ASCII characters: the
   * sub-platforms use `load:<card>`, `purchase:<card>`, `points:<msisdn>`.
   */
  readonly ref?: string;
  /** Details kept with the transfer. */
  readonly meta?: TransferMeta;
}

/** Whether a refused request's error is kept for its idempotency key. */
export interface RememberFailure {
  /**
   * `true` (default): a refusal (`INSUFFICIENT_FUNDS`, …) is the key's outcome, replayed to every retry. `false`:
   * a refusal leaves the key unused, so the same request may succeed later (the platform's own derived keys, such
   * as a cleared record's, use it: a record refused while its card's float was short clears once it is not).
   */
  readonly rememberFailure?: boolean;
}

/** A transfer (`transfer`) or a pending transfer (`hold`) from `from` to `to`. */
export interface TransferRequest extends Idempotency, TransferLeg, RememberFailure {}

/**
 * Several direct transfers — and record writes — that commit together or not at all, under one idempotency key
 * (a clearing batch: every card's debit to the merchant, the points, each debit's record and the batch's outcome).
 */
export interface LinkedTransferRequest extends Idempotency, RememberFailure {
  /** 0–{@link MAX_LINKED_LEGS} legs, applied in order (a later leg may spend what an earlier one brought). */
  readonly legs: readonly TransferLeg[];
  /**
   * 0–{@link MAX_LINKED_RECORDS} record writes applied after the legs, as `writeRecords` would (compare-and-set):
   * a `RECORD_CONFLICT` fails the whole request, and nothing of it is applied. Part of the idempotency body.
   */
  readonly records?: readonly RecordWrite[];
}

/** Most legs of one linked transfer. */
export const MAX_LINKED_LEGS = 4096;

/** Most record writes of one linked transfer. */
export const MAX_LINKED_RECORDS = 4096;

/**
 * What `transferLinked` answers: the transfers, in the order of the legs, and the last journal entry (the journal's
 * head when there were no legs).
 */
export interface LinkedTransferResult {
  readonly transfers: readonly Transfer[];
  readonly seq: number;
  /** The balances right after the last leg of every account the legs touched. */
  readonly balances: Readonly<Record<string, number>>;
}

/** Which transfers `listTransfers` returns (every field given must match), oldest first. */
export interface TransferFilter {
  readonly state?: TransferState;
  readonly ref?: string;
  /** Transfers from or to this account (a phone account's statement). */
  readonly account?: string;
  /** At most this many (default: all). */
  readonly limit?: number;
}

/**
 * A sub-platform's record outside the money (a card in the registry, a customer, a blacklist version, a stored
 * outcome): a JSON value under `(collection, id)` with a version that every write increases by one.
 */
export interface StoredRecord<T = unknown> {
  readonly collection: string;
  readonly id: string;
  readonly value: T;
  /** 1 after the first write. */
  readonly version: number;
  /** Epoch ms of the last write. */
  readonly updatedAt: number;
}

/** One write of `writeRecords`. */
export interface RecordWrite {
  readonly collection: string;
  readonly id: string;
  /** Any JSON value, at most {@link MAX_RECORD_CHARS} characters as JSON. */
  readonly value: unknown;
  /**
   * Compare-and-set: the version the record must have now (`0` = it must not exist yet). Omitted: written
   * whatever its version (last writer wins).
   */
  readonly expectVersion?: number;
}

/** Longest record value as JSON. */
export const MAX_RECORD_CHARS = 64 * 1024;

/** How a pending transfer was settled, or that it is still open. */
export type TransferState = 'posted' | 'pending' | 'suspended' | 'voided';

/** A transfer as stored: direct transfers are `posted` at once; holds are `pending` until posted or voided. */
export interface Transfer {
  readonly id: string;
  readonly type: 'direct' | 'pending';
  readonly from: string;
  readonly to: string;
  readonly amount: number;
  readonly memo: string;
  /** The leg's `ref`, or `null`. */
  readonly ref: string | null;
  /** The leg's `meta` (`{}` when none was given). */
  readonly meta: TransferMeta;
  readonly state: TransferState;
  /** Epoch ms. */
  readonly createdAt: number;
  /** The reason given to `post`, `void` (and the last `suspend`), when there was one. */
  readonly reason: string | null;
  readonly suspendedAt: number | null;
  readonly settledAt: number | null;
}

/** What `transfer`, `hold`, `post`, `void` and `suspend` answer: the transfer after the call, and the journal entry. */
export interface TransferResult {
  readonly transfer: Transfer;
  /** The journal entry's sequence number. */
  readonly seq: number;
  /**
   * The balances, right after this operation, of the accounts it moved money between (for a hold or a void: its
   * two accounts; for a suspended transfer's settlement: suspense and where the money went). A replay returns the
   * balances of the first time.
   */
  readonly balances: Readonly<Record<string, number>>;
}

/** `post` and `void`: the pending transfer and why (the card's proof decides: say which). */
export interface SettleRequest {
  readonly transferId: string;
  readonly reason: string;
}

/** What `verify()` finds. `ok` is true when every check passed; `problems` says what failed. */
export interface VerifyResult {
  readonly ok: boolean;
  /** How many accounts the journal knows. */
  readonly accounts: number;
  /** The sum of the recomputed balances: 0. */
  readonly sum: number;
  /** The last entry's hash (hex), or the genesis hash of an empty journal. */
  readonly journalHead: string;
  /** Number of journal entries. */
  readonly entries: number;
  readonly problems: readonly string[];
}

/** A journal row: one movement (`amount` from `debit` to `credit`) and/or a change of `debit`'s reservation. */
export interface JournalEntry {
  readonly seq: number;
  /** `open` (an account), `transfer`, `hold`, `post`, `void`, `suspend`. */
  readonly type: 'open' | 'transfer' | 'hold' | 'post' | 'void' | 'suspend';
  readonly at: number;
  readonly transferId: string | null;
  /** The account debited (and whose reservation `held` changes); for `open`, the account opened. */
  readonly debit: string;
  /** The account credited; for `open`, the account's kind. */
  readonly credit: string;
  /** Fen moved from `debit` to `credit` (0 for `open`, `hold` and a `void` of a pending transfer). */
  readonly amount: number;
  /** Change of `debit`'s reservation: `+amount` for a hold, `-amount` when it is posted, voided or suspended. */
  readonly held: number;
  readonly reason: string;
  readonly prevHash: string;
  readonly hash: string;
}

/** The hash before the first entry. */
export const GENESIS_HASH = '0'.repeat(64);

/** The canonical text of an entry that its hash covers (every field but `hash`, in a fixed order). */
export function entryText(e: Omit<JournalEntry, 'hash'>): string {
  return JSON.stringify([e.seq, e.type, e.at, e.transferId, e.debit, e.credit, e.amount, e.held, e.reason, e.prevHash]);
}

/** SHA-256 (hex) of an entry: `SHA-256(entryText(e))`, where the text includes the previous entry's hash. */
export function entryHash(e: Omit<JournalEntry, 'hash'>): string {
  return createHash('sha256').update(entryText(e)).digest('hex');
}

/** SHA-256 (hex) of an operation and its parameters: what an idempotency key is bound to. */
export function requestHash(op: string, params: Record<string, unknown>): string {
  const keys = Object.keys(params).sort();
  return createHash('sha256')
    .update(JSON.stringify([op, keys.map((k) => [k, params[k] ?? null])]))
    .digest('hex');
}

// ---------------------------------------------------------------- argument checks

/**
 * Checks an amount: an integer number of fen, 1 … `Number.MAX_SAFE_INTEGER`.
 * @throws LedgerError `AMOUNT_INVALID`
 */
export function checkAmount(amount: unknown, name = 'amount'): number {
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 1) {
    throw new LedgerError(
      'AMOUNT_INVALID',
      `${name} must be an integer number of fen from 1 to ${Number.MAX_SAFE_INTEGER}: ${String(amount)}`,
    );
  }
  return amount;
}

const PRINTABLE = /^[\x20-\x7e]+$/;

/** Checks an identifier (account id, client id): 1–`max` printable ASCII characters. @throws ArgumentError */
export function checkId(value: unknown, name: string, max = 128): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max || !PRINTABLE.test(value)) {
    throw new ArgumentError(`${name} must be 1–${max} printable ASCII characters`);
  }
  return value;
}

/** U+0000 and unpaired UTF-16 surrogates: no store keeps them as given, so a journal hash over them would lie. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: U+0000 is what this refuses
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Checks free text (a memo or reason): a string of at most 256 characters, non-empty when `required`, without
 * U+0000 or unpaired surrogates (which SQLite would store changed and PostgreSQL refuses).
 */
export function checkText(value: unknown, name: string, required: boolean): string {
  if (value === undefined && !required) return '';
  if (typeof value !== 'string' || value.length > 256 || (required && value.trim().length === 0)) {
    throw new ArgumentError(`${name} must be ${required ? 'a non-empty' : 'a'} string of at most 256 characters`);
  }
  if (UNSTORABLE.test(value)) throw new ArgumentError(`${name} must not contain U+0000 or unpaired surrogates`);
  return value;
}

/** Checks an account kind. @throws ArgumentError */
export function checkKind(kind: unknown): AccountKind {
  if (typeof kind !== 'string' || !Object.hasOwn(ACCOUNT_KINDS, kind)) {
    throw new ArgumentError(`kind must be one of ${Object.keys(ACCOUNT_KINDS).join(', ')}: ${String(kind)}`);
  }
  return kind as AccountKind;
}

/** A checked leg: `ref` and `meta` are present only when given (so the idempotency body of a plain transfer stays as it was). */
export interface CheckedLeg {
  from: string;
  to: string;
  amount: number;
  memo: string;
  ref?: string;
  meta?: TransferMeta;
}

/** Checks a {@link TransferMeta}; returns it with its keys sorted (its canonical form). @throws ArgumentError */
export function checkMeta(meta: unknown): TransferMeta {
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta) || ArrayBuffer.isView(meta))
    throw new ArgumentError('meta must be a plain object');
  const out: Record<string, string | number | boolean | null> = {};
  for (const k of Object.keys(meta).sort()) {
    const v = (meta as Record<string, unknown>)[k];
    if (
      !(v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)))
    )
      throw new ArgumentError(`meta.${k} must be a string, a finite number, a boolean or null`);
    out[k] = v;
  }
  if (JSON.stringify(out).length > MAX_META_CHARS)
    throw new ArgumentError(`meta must be at most ${MAX_META_CHARS} characters as JSON`);
  return out;
}

/** Checks one leg. */
export function checkLeg(leg: TransferLeg, name = 'request'): CheckedLeg {
  if (typeof leg !== 'object' || leg === null) throw new ArgumentError(`${name} must be an object`);
  const from = checkId(leg.from, 'from');
  const to = checkId(leg.to, 'to');
  if (from === to) throw new ArgumentError('from and to must be different accounts');
  if (from === SUSPENSE_ACCOUNT || to === SUSPENSE_ACCOUNT)
    throw new ArgumentError(
      'the suspense account is the ledger’s own: only suspend, post and void move money through it',
    );
  const amount = checkAmount(leg.amount);
  const memo = checkText(leg.memo, 'memo', false);
  const out: CheckedLeg = { from, to, amount, memo };
  if (leg.ref !== undefined) out.ref = checkId(leg.ref, 'ref');
  if (leg.meta !== undefined) out.meta = checkMeta(leg.meta);
  return out;
}

/** Checks `rememberFailure`. */
export function checkRemember(req: RememberFailure): boolean {
  if (req.rememberFailure !== undefined && typeof req.rememberFailure !== 'boolean')
    throw new ArgumentError('rememberFailure must be a boolean');
  return req.rememberFailure !== false;
}

/** Checks a transfer request and returns its normalized parameters. */
export function checkTransfer(req: TransferRequest): CheckedLeg & {
  client: string;
  idempotencyKey: string;
  remember: boolean;
} {
  if (typeof req !== 'object' || req === null) throw new ArgumentError('request must be an object');
  const client = checkId(req.client, 'client');
  const idempotencyKey = checkId(req.idempotencyKey, 'idempotencyKey', 64);
  return { client, idempotencyKey, remember: checkRemember(req), ...checkLeg(req) };
}

/** A checked record write: the write and its value as JSON. */
export interface CheckedRecordWrite {
  readonly write: RecordWrite;
  readonly json: string;
}

/** Checks a linked transfer request. `params` is its idempotency body. */
export function checkLinked(req: LinkedTransferRequest): {
  client: string;
  idempotencyKey: string;
  remember: boolean;
  legs: CheckedLeg[];
  records: CheckedRecordWrite[];
  params: Record<string, unknown>;
} {
  if (typeof req !== 'object' || req === null) throw new ArgumentError('request must be an object');
  const client = checkId(req.client, 'client');
  const idempotencyKey = checkId(req.idempotencyKey, 'idempotencyKey', 64);
  if (!Array.isArray(req.legs) || req.legs.length > MAX_LINKED_LEGS)
    throw new ArgumentError(`legs must be an array of at most ${MAX_LINKED_LEGS} transfers`);
  const legs = req.legs.map((l, i) => checkLeg(l, `legs[${i}]`));
  if (req.records !== undefined && (!Array.isArray(req.records) || req.records.length > MAX_LINKED_RECORDS))
    throw new ArgumentError(`records must be an array of at most ${MAX_LINKED_RECORDS} writes`);
  const records = (req.records ?? []).map((w) => ({ write: w, json: checkRecordWrite(w) }));
  if (legs.length + records.length === 0) throw new ArgumentError('a linked transfer needs a leg or a record write');
  const params: Record<string, unknown> = { legs };
  if (req.records !== undefined) {
    // The writes enter the body as one SHA-256 over their canonical lines (not as nested JSON text: a batch's
    // records would be escaped and hashed twice).
    const h = createHash('sha256');
    for (const r of records)
      h.update(`${JSON.stringify([r.write.collection, r.write.id, r.write.expectVersion ?? null])}${r.json}\n`);
    params.records = h.digest('hex');
  }
  return { client, idempotencyKey, remember: checkRemember(req), legs, records, params };
}

/** Checks a transfer filter (a state alone is accepted for the filter `{ state }`). */
export function checkFilter(filter: TransferState | TransferFilter): TransferFilter {
  const f: TransferFilter = typeof filter === 'string' ? { state: filter } : filter;
  if (typeof f !== 'object' || f === null) throw new ArgumentError('filter must be a state or an object');
  if (f.state !== undefined && !['posted', 'pending', 'suspended', 'voided'].includes(f.state))
    throw new ArgumentError(`state must be posted, pending, suspended or voided: ${String(f.state)}`);
  if (f.ref !== undefined) checkId(f.ref, 'ref');
  if (f.account !== undefined) checkId(f.account, 'account');
  if (f.limit !== undefined && (!Number.isSafeInteger(f.limit) || f.limit < 1))
    throw new ArgumentError('limit must be a positive integer');
  return f;
}

/** Checks a record's collection and id. */
export function checkRecordKey(collection: unknown, id: unknown): void {
  checkId(collection, 'collection', 64);
  checkId(id, 'id', 256);
}

/** Checks a write of `writeRecords` and returns its value as JSON. */
export function checkRecordWrite(w: RecordWrite): string {
  if (typeof w !== 'object' || w === null) throw new ArgumentError('a record write must be an object');
  checkRecordKey(w.collection, w.id);
  if (w.expectVersion !== undefined && (!Number.isSafeInteger(w.expectVersion) || w.expectVersion < 0))
    throw new ArgumentError('expectVersion must be a non-negative integer');
  let json: string | undefined;
  try {
    json = JSON.stringify(w.value);
  } catch (cause) {
    throw new ArgumentError('a record value must be JSON', { cause });
  }
  if (json === undefined) throw new ArgumentError('a record value must be JSON');
  if (json.length > MAX_RECORD_CHARS)
    throw new ArgumentError(`a record value must be at most ${MAX_RECORD_CHARS} characters as JSON`);
  return json;
}

/**
 * Recomputes every balance and reservation from the journal, checks the hash chain, the zero sum, the floors and
 * that the stored accounts agree: what every store's `verify()` runs over its rows.
 */
export function verifyJournal(entries: Iterable<JournalEntry>, stored: Iterable<Account>): VerifyResult {
  const problems: string[] = [];
  const balance = new Map<string, number>();
  const reserved = new Map<string, number>();
  const kinds = new Map<string, string>();
  let prev = GENESIS_HASH;
  let count = 0;
  let expectedSeq: number | undefined;
  const add = (m: Map<string, number>, k: string, d: number) => m.set(k, (m.get(k) ?? 0) + d);
  for (const e of entries) {
    count++;
    if (expectedSeq !== undefined && e.seq !== expectedSeq)
      problems.push(`journal: entry ${e.seq} follows ${expectedSeq - 1}`);
    expectedSeq = e.seq + 1;
    if (e.prevHash !== prev) problems.push(`journal: entry ${e.seq} does not carry the previous entry's hash`);
    const { hash, ...rest } = e;
    if (entryHash(rest) !== hash) problems.push(`journal: entry ${e.seq} does not match its hash`);
    prev = hash;
    if (e.type === 'open') {
      kinds.set(e.debit, e.credit);
      balance.set(e.debit, balance.get(e.debit) ?? 0);
      continue;
    }
    for (const a of [e.debit, e.credit])
      if (!kinds.has(a)) problems.push(`journal: entry ${e.seq} names unopened ${a}`);
    add(balance, e.debit, -e.amount);
    add(balance, e.credit, e.amount);
    add(reserved, e.debit, e.held);
  }
  let sum = 0;
  for (const v of balance.values()) sum += v;
  if (sum !== 0) problems.push(`sum of balances is ${sum}, not 0`);
  const seen = new Set<string>();
  for (const a of stored) {
    seen.add(a.id);
    const b = balance.get(a.id);
    if (b === undefined) {
      problems.push(`account ${a.id}: not opened in the journal`);
      continue;
    }
    if (kinds.get(a.id) !== a.kind) problems.push(`account ${a.id}: kind ${a.kind}, journal says ${kinds.get(a.id)}`);
    if (a.balance !== b) problems.push(`account ${a.id}: stored balance ${a.balance}, journal ${b}`);
    const r = reserved.get(a.id) ?? 0;
    if (a.reserved !== r) problems.push(`account ${a.id}: stored reserved ${a.reserved}, journal ${r}`);
    if (r < 0) problems.push(`account ${a.id}: negative reservation ${r}`);
    if (a.floor !== null && b - r < a.floor)
      problems.push(`account ${a.id}: available ${b - r} below floor ${a.floor}`);
  }
  for (const id of balance.keys()) if (!seen.has(id)) problems.push(`account ${id}: in the journal, not stored`);
  return { ok: problems.length === 0, accounts: balance.size, sum, journalHead: prev, entries: count, problems };
}
