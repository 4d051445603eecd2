/**
 * The scenario of the platform crash tests (`platform-crash.test.ts` on SQLite, `platform-crash-postgres.test.ts`
 * on PostgreSQL): the platform runs in a child process (`platform-crash-child.ts`) that answers JSON request lines
 * once each call has committed, and is SIGKILLed at random moments — after a random number of answers, while
 * several requests are in flight so kills land mid-group-commit, and sometimes during its start-up seeding — at
 * least 20 times during 5,000 operations, and restarted each time.
 *
 * The parent plays everything outside the platform: the reference profile's three emulated cards, the recharge
 * machine (INITIALIZE FOR LOAD, CREDIT FOR LOAD with the platform's MAC2, GET TRANSACTION PROVE), a PSAM-backed till
 * of `mart-1` whose purchases become clearing records, and the application systems: phone-account top-ups, loads
 * funded from the phone account (some torn on purpose: CREDIT skipped, its answer lost, or a TAC that does not
 * verify), the resolution of every pending load at the card's next use (`wallets.pendingLoads`; the card's online
 * counter and its proof decide) or, now and then when unambiguous, by the next load's verified MAC1, clearing batches of 1–50 records (sometimes with a record cleared before), and
 * replays of acknowledged requests under their idempotency keys (the answer must be the first one; another body
 * must be refused). After a kill, every unanswered request is sent again with the same idempotency key — except an
 * unanswered load authorization, which is sometimes abandoned as a machine would: the load it may have made is found
 * at the card's next use through `pendingLoads` and voided by the card's counter.
 *
 * {@link runCrashScenario} checks against the parent's record of acknowledged results, after a final clean run that
 * replays every acknowledged request: none lost, none applied twice (phone accounts = top-ups − posted loads, the
 * merchant = the accepted records, points by the floor rule, every load known and settled, every record cleared
 * once), `verify()` passes, and every card's float equals the purse balance read from the card.
 * The seed of the random choices is printed with the results; `SIMTAP_CRASH_SEED` sets it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPsam } from '@simtap/applet-emu/applets/psam';
import { createPurseCard, hexApdu, PurseTerminal, type Rapdu } from '@simtap/applet-emu/testing';
import type { BatchOutcome, LoadView, PurchaseRecord } from '@simtap/host/wallets';
import { fromHex, readUint, toHex, uintToBytes } from '@simtap/sdk/core/bytes';
import { TTI } from '@simtap/sdk/core/pboc';
import { expect } from 'vitest';
import { type Answer, CARDS, CLIENT, type Op, type Ops, type StoreSpec, type Summary } from './platform-crash-ops';

const REPO = resolve(fileURLToPath(import.meta.url), '../../..');
const CHILD = join(REPO, 'host/test/platform-crash-child.ts');
/** Operations (top-ups, authorizations, confirmations, resolutions, batches) acknowledged, replays not counted. */
export const OPERATIONS = 5000;
/** Kills that left requests unanswered. */
export const KILLS = 20;
const SEED = Number(process.env.SIMTAP_CRASH_SEED ?? Date.now() % 1_000_000);

/** A small seeded PRNG (mulberry32) for the scenario's choices; the kill moments also depend on timing. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ABANDONED = Symbol('abandoned');
type Reply = Answer | typeof ABANDONED;

interface Pending {
  readonly op: Op;
  readonly params: unknown;
  readonly abandonable: boolean;
  readonly resolve: (a: Reply) => void;
  readonly reject: (e: Error) => void;
}

/** What the link did. */
interface LinkStats {
  starts: number;
  kills: number;
  /** Kills after which requests were left unanswered (the output read to its end). */
  killsMidFlight: number;
  /** Kills timed from the start (seeding, or the first requests). */
  startupKills: number;
  resent: number;
  abandoned: number;
}

/**
 * The platform child and the requests to it. A request is answered across restarts: after a kill, what was not
 * answered is sent again to the next child (an abandonable one is sometimes given up instead). Kills are planned
 * per run while `kills` is on.
 */
class PlatformLink {
  readonly stats: LinkStats = { starts: 0, kills: 0, killsMidFlight: 0, startupKills: 0, resent: 0, abandoned: 0 };
  /** Whether runs are killed. */
  kills = true;
  readonly #spec: StoreSpec;
  readonly #rand: () => number;
  #child: ChildProcess | undefined;
  #ready = false;
  #nextId = 1;
  #inFlight = new Map<number, Pending>();
  #waiting: Pending[] = [];
  #acks = 0;
  #killAt = Number.POSITIVE_INFINITY;
  #killing = false;
  #closing: { resolve: () => void; reject: (e: Error) => void } | undefined;
  #stderr = '';
  #failed: Error | undefined;
  #destroyed = false;

  constructor(spec: StoreSpec, rand: () => number, kills: boolean) {
    this.#spec = spec;
    this.#rand = rand;
    this.kills = kills;
    this.#spawn();
  }

  /** Sends `op`; resolves with its answer, or {@link ABANDONED} when an abandonable request was given up. */
  request<K extends Op>(op: K, params: Ops[K], abandonable = false): Promise<Reply> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise<Reply>((resolve, reject) => this.#send({ op, params, abandonable, resolve, reject }));
  }

  /** Ends stdin (no kills from now): the child finishes what is in flight, closes the platform and exits 0. */
  close(): Promise<void> {
    this.kills = false;
    this.#killAt = Number.POSITIVE_INFINITY;
    return new Promise<void>((resolve, reject) => {
      this.#closing = { resolve, reject };
      const end = () => {
        if (this.#failed) reject(this.#failed);
        else if (this.#ready) this.#child!.stdin!.end();
        else setTimeout(end, 5);
      };
      end();
    });
  }

  #send(p: Pending): void {
    if (!this.#ready) {
      this.#waiting.push(p);
      return;
    }
    const id = this.#nextId++;
    this.#inFlight.set(id, p);
    this.#child!.stdin!.write(`${JSON.stringify({ id, op: p.op, params: p.params })}\n`);
  }

  #spawn(): void {
    this.stats.starts++;
    this.#acks = 0;
    this.#killAt = Number.POSITIVE_INFINITY;
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', CHILD, JSON.stringify(this.#spec)],
      { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.#child = child;
    child.stdin!.on('error', () => undefined); // EPIPE once killed
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.#line(line);
        nl = buf.indexOf('\n');
      }
    });
    child.stderr!.on('data', (d: Buffer) => {
      this.#stderr = (this.#stderr + d.toString()).slice(-8000);
    });
    if (this.kills) {
      if (this.#rand() < 0.12) {
        this.stats.startupKills++;
        const timer = setTimeout(() => this.#kill(), this.#rand() * 900);
        child.once('exit', () => clearTimeout(timer));
      } else this.#killAt = 60 + Math.floor(this.#rand() * 400);
    }
    child.once('close', (code, signal) => this.#closed(child, code, signal));
  }

  #line(line: string): void {
    if (line === 'ready') {
      if (this.#killing) return;
      this.#ready = true;
      const waiting = this.#waiting;
      this.#waiting = [];
      for (const p of waiting) this.#send(p);
      return;
    }
    const a = JSON.parse(line) as Answer;
    const p = this.#inFlight.get(a.id);
    if (!p) {
      this.#fail(new Error(`an answer to no request: ${line}`));
      return;
    }
    this.#inFlight.delete(a.id);
    p.resolve(a);
    if (this.kills && ++this.#acks >= this.#killAt) {
      this.#killAt = Number.POSITIVE_INFINITY;
      const how = this.#rand();
      if (how < 0.4) this.#kill();
      else if (how < 0.7) setImmediate(() => this.#kill());
      else setTimeout(() => this.#kill(), this.#rand() * 4);
    }
  }

  #kill(): void {
    const child = this.#child;
    if (this.#killing || !this.kills || !child || child.exitCode !== null) return;
    this.#killing = true;
    this.#ready = false;
    child.kill('SIGKILL');
  }

  #closed(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.#child || this.#destroyed) return;
    this.#ready = false;
    const unanswered = [...this.#inFlight.values()];
    this.#inFlight = new Map();
    if (this.#killing && signal === 'SIGKILL') {
      this.#killing = false;
      this.stats.kills++;
      if (unanswered.length > 0) this.stats.killsMidFlight++;
      const again: Pending[] = [];
      for (const p of unanswered) {
        if (p.abandonable && this.#rand() < 0.5) {
          this.stats.abandoned++;
          p.resolve(ABANDONED);
        } else {
          this.stats.resent++;
          again.push(p);
        }
      }
      this.#waiting = [...again, ...this.#waiting];
      this.#spawn();
      return;
    }
    if (this.#closing && code === 0 && unanswered.length === 0 && this.#waiting.length === 0) {
      this.#closing.resolve();
      return;
    }
    this.#fail(
      new Error(`the platform child exited (code ${code}, signal ${signal}) unasked; stderr:\n${this.#stderr}`),
      unanswered,
    );
  }

  #fail(e: Error, unanswered: Pending[] = []): void {
    this.#failed ??= e;
    for (const p of [...unanswered, ...this.#inFlight.values(), ...this.#waiting]) p.reject(e);
    this.#inFlight.clear();
    this.#waiting = [];
    this.#closing?.reject(e);
    this.destroy();
  }

  /** Kills the child for good (a failed test leaves no process behind). */
  destroy(): void {
    this.kills = false;
    this.#destroyed = true;
    if (this.#child?.exitCode === null) this.#child.kill('SIGKILL');
  }
}

// ------------------------------------------------------------------------------------------- the outside world

const LOAD_TERMINAL = fromHex('440100000009');
const DATE = '20260301';
const SW_OK = 0x9000;

/** A card as the parent keeps it: the emulated card, its machine, and what is owed a resolution. */
interface CardState {
  readonly label: string;
  readonly cardSerial: string;
  readonly msisdn: string;
  readonly term: PurseTerminal;
  /** The purse balance, as the card last said. */
  balance: number;
  /** Torn loads the parent knows of, with how the card's next use must settle each. */
  readonly torn: Map<string, 'posted' | 'voided'>;
  /** Authorizations given up unanswered since the last resolution: each may have made a load. */
  abandoned: number;
  /** Whether the next use must resolve pending loads first. */
  check: boolean;
  /** Torn loads a later load's MAC1 (an authorization that may have reached the platform) may have settled. */
  readonly maybeSettled: Set<string>;
}

interface LoadInfo {
  readonly cardSerial: string;
  readonly msisdn: string;
  readonly amount: number;
  readonly onlineCounter: number;
  state: 'pending' | 'posted' | 'voided';
}

interface RecordInfo {
  readonly record: PurchaseRecord;
  readonly msisdn: string;
  cleared: boolean;
}

/** An acknowledged request and its first answer (id left out), for replays. */
interface Acked {
  readonly op: Op;
  readonly params: unknown;
  readonly first: string;
}

const canon = (a: Answer): string =>
  JSON.stringify(a.ok ? { ok: true, result: a.result } : { ok: false, code: a.code });

/** One run of the scenario against the store `spec`. */
class Scenario {
  readonly rand: () => number;
  readonly problems: string[] = [];
  readonly counts: Record<string, number> = {};
  readonly cards: CardState[];
  readonly loads = new Map<string, LoadInfo>();
  readonly records = new Map<string, RecordInfo>();
  readonly topUps = new Map<string, number>();
  readonly history: Acked[] = [];
  pool: PurchaseRecord[] = [];
  operations = 0;
  replays = 0;
  link: PlatformLink;
  /** Seconds spent in each phase. */
  readonly phases: Record<string, number> = {};
  #seq = 0;
  #time = 0;

  constructor(
    readonly spec: StoreSpec,
    seed: number,
  ) {
    this.rand = prng(seed);
    this.link = new PlatformLink(spec, prng(seed ^ 0x5bd1e995), true);
    const psam = createPsam('pos-1');
    this.cards = CARDS.map((c) => {
      const { card } = createPurseCard({ card: c.label });
      const term = new PurseTerminal(card, psam);
      if (term.select().sw !== SW_OK) throw new Error(`${c.label}: SELECT failed`);
      return {
        ...c,
        term,
        balance: term.balance(),
        torn: new Map(),
        abandoned: 0,
        check: false,
        maybeSettled: new Set(),
      };
    });
    for (const c of this.cards) this.topUps.set(c.msisdn, 0);
  }

  int(lo: number, hi: number): number {
    return lo + Math.floor(this.rand() * (hi - lo + 1));
  }

  count(what: string, n = 1): void {
    this.counts[what] = (this.counts[what] ?? 0) + n;
  }

  problem(text: string): void {
    if (this.problems.length < 100) this.problems.push(text);
  }

  /** A fresh HHMMSS for a machine's transaction. */
  time(): string {
    const s = this.#time++ % 86400;
    const p = (n: number) => String(n).padStart(2, '0');
    return `${p(Math.floor(s / 3600))}${p(Math.floor(s / 60) % 60)}${p(s % 60)}`;
  }

  key(prefix: string): string {
    return `${prefix}-${this.#seq++}`;
  }

  /** Sends a request; an operation (mutating) is counted and kept for replays once answered. */
  async call<K extends Op>(op: K, params: Ops[K], o: { abandonable?: boolean; operation?: boolean } = {}) {
    const a = await this.link.request(op, params, o.abandonable);
    if (a === ABANDONED) return a;
    if (!a.ok && a.code === 'UNEXPECTED') throw new Error(`${op} failed unexpectedly in the child: ${a.message}`);
    if (o.operation !== false && op !== 'pendingLoads' && op !== 'summary') {
      this.operations++;
      this.count(op);
      // Replayed later: what an idempotency key answers (a result or a remembered refusal), and settled loads. A
      // refused confirmation or resolution moved nothing and is no result to repeat.
      if (a.ok || (op !== 'confirmLoad' && op !== 'resolveLoad')) this.history.push({ op, params, first: canon(a) });
    }
    return a;
  }

  // ----------------------------------------------------------------------------------------- the card side

  send(c: CardState, apdu: Uint8Array): Rapdu {
    return c.term.send(apdu);
  }

  /** INITIALIZE FOR LOAD of 1 fen, abandoned: the card's online counter and balance. */
  readCounters(c: CardState): { online: number; balance: number } {
    const r = this.send(c, hexApdu(0x80, 0x50, 0x00, 0x02, [Uint8Array.of(1), uintToBytes(1, 4), LOAD_TERMINAL], 0x10));
    if (r.sw !== SW_OK) throw new Error(`${c.label}: INITIALIZE FOR LOAD answered ${r.sw.toString(16)}`);
    return { balance: readUint(r.data, 0, 4), online: readUint(r.data, 4, 2) };
  }

  /** Resolves every pending load of the card from what the card says. */
  async resolvePending(c: CardState): Promise<void> {
    const a = await this.call('pendingLoads', { cardSerial: c.cardSerial });
    if (a === ABANDONED || !a.ok) throw new Error(`pendingLoads of ${c.label}: ${JSON.stringify(a)}`);
    const pending = a.result as LoadView[];
    const listed = new Set(pending.map((l) => l.loadId));
    for (const id of c.torn.keys()) {
      if (listed.has(id)) continue;
      if (c.maybeSettled.has(id)) {
        this.loads.get(id)!.state = 'posted'; // credited, and the only load at its counter
        this.count('settled by a later MAC1');
      } else this.problem(`${c.label}: torn load ${id} is not among the card's pending loads`);
    }
    const unknown = pending.filter((l) => !c.torn.has(l.loadId));
    for (const l of unknown) {
      const known = this.loads.get(l.loadId);
      if (known) this.problem(`${c.label}: load ${l.loadId}, ${known.state} when acknowledged, is pending`);
    }
    if (unknown.length > c.abandoned)
      this.problem(
        `${c.label}: ${unknown.length} pending loads nobody knows of, ${c.abandoned} authorizations given up: ${JSON.stringify(unknown)}`,
      );
    for (const l of pending) {
      if (l.onlineCounter === null) {
        this.problem(`${c.label}: load ${l.loadId} has no counter (this scenario makes no air loads)`);
        continue;
      }
      const { online } = this.readCounters(c);
      let params: Ops['resolveLoad'] = { loadId: l.loadId, onlineCounter: online };
      if (online !== l.onlineCounter) {
        const proof = this.send(c, hexApdu(0x80, 0x5a, 0x00, TTI.EP_LOAD, [uintToBytes(l.onlineCounter, 2)], 0x08));
        if (proof.sw !== SW_OK) {
          this.problem(`${c.label}: no proof for load ${l.loadId} (counter ${l.onlineCounter}, card at ${online})`);
          continue;
        }
        params = { ...params, mac2: toHex(proof.data.subarray(0, 4)), tac: toHex(proof.data.subarray(4, 8)) };
      }
      const r = await this.call('resolveLoad', params);
      if (r === ABANDONED || !r.ok) {
        this.problem(`${c.label}: resolveLoad ${JSON.stringify(params)} → ${JSON.stringify(r)}`);
        continue;
      }
      const status = (r.result as { status: 'posted' | 'voided' }).status;
      const expected = c.torn.get(l.loadId) ?? 'voided'; // a load nobody knew of never reached the card
      if (status !== expected)
        this.problem(`${c.label}: load ${l.loadId} resolved ${status}, the card says ${expected}`);
      this.count(`resolved ${status}${c.torn.has(l.loadId) ? '' : ' (found)'}`);
      const info = this.loads.get(l.loadId);
      if (info) info.state = status;
      else
        this.loads.set(l.loadId, {
          cardSerial: c.cardSerial,
          msisdn: c.msisdn,
          amount: l.amount,
          onlineCounter: l.onlineCounter,
          state: status,
        });
    }
    c.torn.clear();
    c.maybeSettled.clear();
    c.abandoned = 0;
    c.check = false;
    c.balance = c.term.balance();
  }

  /**
   * A torn load the card credited that the next load's verified MAC1 settles (the card's online counter moved past
   * it and no other load used its counter), instead of a resolution: chosen now and then when unambiguous.
   */
  leaveToNextMac1(c: CardState): string | undefined {
    if (c.abandoned > 0 || c.torn.size !== 1 || this.rand() >= 0.3) return undefined;
    const [id, expected] = [...c.torn][0]!;
    const load = this.loads.get(id)!;
    if (expected !== 'posted') return undefined;
    for (const [other, l] of this.loads)
      if (other !== id && l.cardSerial === c.cardSerial && l.onlineCounter === load.onlineCounter) return undefined;
    return id;
  }

  /**
   * A load funded from the holder's phone account, torn now and then. With `torn`, a torn load left unresolved that
   * this load's MAC1 settles: posted once the authorization is answered (the platform settles before it holds).
   */
  async load(c: CardState, torn?: string): Promise<void> {
    const amount = this.int(1000, 8000);
    const init = this.send(
      c,
      hexApdu(0x80, 0x50, 0x00, 0x02, [Uint8Array.of(1), uintToBytes(amount, 4), LOAD_TERMINAL], 0x10),
    );
    if (init.sw !== SW_OK) throw new Error(`${c.label}: INITIALIZE FOR LOAD answered ${init.sw.toString(16)}`);
    const d = init.data;
    const date = DATE;
    const time = this.time();
    const onlineCounter = readUint(d, 4, 2);
    const a = await this.call(
      'authorizeLoad',
      {
        client: CLIENT,
        idempotencyKey: this.key('load'),
        cardSerial: c.cardSerial,
        terminalId: toHex(LOAD_TERMINAL),
        amount,
        oldBalance: readUint(d, 0, 4),
        onlineCounter,
        random: toHex(d.subarray(8, 12)),
        mac1: toHex(d.subarray(12, 16)),
        date,
        time,
        funding: { source: 'phoneAccount', msisdn: c.msisdn },
      },
      { abandonable: true },
    );
    if (torn !== undefined) {
      if (a === ABANDONED) c.maybeSettled.add(torn);
      else {
        c.torn.delete(torn);
        this.loads.get(torn)!.state = 'posted';
        this.count('settled by a later MAC1');
        if (c.torn.size === 0 && c.abandoned === 0) c.check = false;
      }
    }
    if (a === ABANDONED) {
      // The machine gave up: the load may exist; the card's next use finds it.
      c.abandoned++;
      c.check = true;
      this.count('authorizations given up');
      return;
    }
    if (!a.ok) {
      if (a.code === 'INSUFFICIENT_FUNDS') this.count('authorizations refused (funds)');
      else this.problem(`${c.label}: authorizeLoad → ${a.code}: ${a.message}`);
      return;
    }
    const { loadId, mac2 } = a.result as { loadId: string; mac2: string };
    if (this.loads.has(loadId)) this.problem(`authorizeLoad answered load ${loadId} a second time`);
    this.loads.set(loadId, { cardSerial: c.cardSerial, msisdn: c.msisdn, amount, onlineCounter, state: 'pending' });
    const tear = this.rand();
    if (tear < 0.05) {
      c.torn.set(loadId, 'voided'); // CREDIT never sent
      c.check = true;
      this.count('torn: no CREDIT');
      return;
    }
    const credit = this.send(c, hexApdu(0x80, 0x52, 0x00, 0x00, [fromHex(date), fromHex(time), fromHex(mac2)], 0x04));
    if (credit.sw !== SW_OK) throw new Error(`${c.label}: CREDIT FOR LOAD answered ${credit.sw.toString(16)}`);
    c.balance += amount;
    if (tear < 0.1) {
      c.torn.set(loadId, 'posted'); // credited, the answer lost
      c.check = true;
      this.count('torn: CREDIT answer lost');
      return;
    }
    const tac = toHex(credit.data.subarray(0, 4));
    if (tear < 0.12) {
      const bad = (Number.parseInt(tac.slice(0, 2), 16) ^ 0x01).toString(16).padStart(2, '0').toUpperCase();
      const r = await this.call('confirmLoad', { loadId, tac: bad + tac.slice(2) });
      if (r === ABANDONED || r.ok || r.code !== 'BAD_TAC')
        this.problem(`${c.label}: confirmLoad with a flipped TAC → ${JSON.stringify(r)}`);
      c.torn.set(loadId, 'posted');
      c.check = true;
      this.count('torn: TAC flipped');
      return;
    }
    const r = await this.call('confirmLoad', { loadId, tac });
    if (r === ABANDONED || !r.ok || (r.result as { status: string }).status !== 'posted') {
      this.problem(`${c.label}: confirmLoad ${loadId} → ${JSON.stringify(r)}`);
      return;
    }
    this.loads.get(loadId)!.state = 'posted';
  }

  /** Purchases at the PSAM till: each one a record for clearing. */
  purchase(c: CardState, n: number): void {
    for (let i = 0; i < n && c.balance >= 20; i++) {
      const amount = this.int(20, Math.min(1200, c.balance));
      const time = this.time();
      const r = c.term.purchase(amount, { date: fromHex(DATE), time: fromHex(time) });
      if (r.sw !== SW_OK || r.psamSw !== SW_OK)
        throw new Error(`${c.label}: purchase answered ${r.sw.toString(16)} / PSAM ${r.psamSw?.toString(16)}`);
      c.balance -= amount;
      const record: PurchaseRecord = {
        cardSerial: c.cardSerial,
        offlineCounter: r.counter!,
        amount,
        tti: r.tti,
        terminalId: toHex(c.term.terminalId),
        terminalSeq: r.terminalTxnSeq!,
        date: DATE,
        time,
        tac: toHex(r.tac!),
      };
      const id = `${c.cardSerial}:${record.offlineCounter}`;
      if (this.records.has(id)) throw new Error(`the card used offline counter ${id} twice`);
      this.records.set(id, { record, msisdn: c.msisdn, cleared: false });
      this.pool.push(record);
      this.count('purchases');
    }
  }

  async cardStep(c: CardState): Promise<void> {
    const torn = c.balance < 50_000 ? this.leaveToNextMac1(c) : undefined;
    if (torn !== undefined) await this.load(c, torn);
    else if (c.check || this.rand() < 0.15) await this.resolvePending(c);
    if (torn !== undefined) return;
    if (c.balance < 2000 || (c.balance < 30_000 && this.rand() < 0.35)) await this.load(c);
    else {
      this.purchase(c, this.int(1, 8));
      await new Promise((r) => setImmediate(r));
    }
  }

  // ----------------------------------------------------------------------------------- the application systems

  async topUp(): Promise<void> {
    const c = this.cards[this.int(0, this.cards.length - 1)]!;
    const amount = this.int(200, 4000);
    const a = await this.call('topUp', { client: CLIENT, idempotencyKey: this.key('topup'), msisdn: c.msisdn, amount });
    if (a === ABANDONED || !a.ok) this.problem(`topUp → ${JSON.stringify(a)}`);
    else this.topUps.set(c.msisdn, this.topUps.get(c.msisdn)! + amount);
  }

  /** A clearing batch of `records` (taken from the pool); with `duplicate`, a record cleared before is slipped in. */
  async clear(records: PurchaseRecord[], duplicate: boolean): Promise<void> {
    let dupAt = -1;
    if (duplicate) {
      const cleared = [...this.records.values()].filter((r) => r.cleared);
      if (cleared.length > 0) {
        dupAt = this.int(0, records.length);
        records = [
          ...records.slice(0, dupAt),
          cleared[this.int(0, cleared.length - 1)]!.record,
          ...records.slice(dupAt),
        ];
      }
    }
    const a = await this.call('submitBatch', { client: CLIENT, idempotencyKey: this.key('batch'), records });
    if (a === ABANDONED || !a.ok) {
      this.problem(`submitBatch → ${JSON.stringify(a)}`);
      this.pool.push(...records.filter((_, i) => i !== dupAt));
      return;
    }
    const o = a.result as BatchOutcome;
    const codes = new Map(o.rejected.map((r) => [r.index, r.code]));
    let accepted = 0;
    let settled = 0;
    let points = 0;
    records.forEach((rec, i) => {
      const id = `${rec.cardSerial}:${rec.offlineCounter}`;
      const code = codes.get(i);
      if (i === dupAt) {
        if (code !== 'DUPLICATE') this.problem(`record ${id} cleared before was answered ${code ?? 'accepted'}`);
        else this.count('duplicates refused');
        return;
      }
      if (code === undefined) {
        const info = this.records.get(id)!;
        if (info.cleared) this.problem(`record ${id} cleared twice`);
        info.cleared = true;
        accepted++;
        settled += rec.amount;
        points += Math.floor(rec.amount / 100);
        return;
      }
      // The float can never be short here: a card buys only once its loads are settled.
      this.problem(`record ${id} refused with ${code} in batch ${JSON.stringify(o)}`);
      this.pool.push(rec);
    });
    if (o.accepted !== accepted || o.settled !== settled || o.points !== points)
      this.problem(
        `batch outcome ${JSON.stringify(o)}: the parent counts ${accepted} records, ${settled} fen, ${points} points`,
      );
    this.count('records cleared', accepted);
  }

  async clearStep(): Promise<void> {
    const size = this.int(1, 50);
    for (let waited = 0; this.pool.length < size && waited < 40 && this.running(); waited++)
      await new Promise((r) => setTimeout(r, 1));
    if (this.pool.length === 0) return;
    const records = this.pool.splice(0, Math.min(size, this.pool.length));
    await this.clear(records, this.rand() < 0.05);
  }

  /** Re-sends an acknowledged request: the first answer again; with another body under its key, a refusal. */
  async replay(h: Acked, conflict: boolean): Promise<void> {
    if (conflict && h.op === 'topUp') {
      const p = h.params as Ops['topUp'];
      const a = await this.call('topUp', { ...p, amount: p.amount + 1 }, { operation: false });
      if (a === ABANDONED || a.ok || a.code !== 'IDEMPOTENCY_CONFLICT')
        this.problem(`topUp under ${p.idempotencyKey} with another amount → ${JSON.stringify(a)}`);
      this.count('conflicts refused');
      return;
    }
    if (conflict && h.op === 'submitBatch') {
      const p = h.params as Ops['submitBatch'];
      const records = p.records.map((r, i) =>
        i === 0 ? { ...r, time: r.time === '000000' ? '000001' : '000000' } : r,
      );
      const a = await this.call('submitBatch', { ...p, records }, { operation: false });
      if (a === ABANDONED || a.ok || a.code !== 'IDEMPOTENCY_CONFLICT')
        this.problem(`batch under ${p.idempotencyKey} with other records → ${JSON.stringify(a)}`);
      this.count('conflicts refused');
      return;
    }
    const a = await this.call(h.op, h.params as never, { operation: false });
    this.replays++;
    if (a === ABANDONED || canon(a) !== h.first)
      this.problem(`${h.op} replayed answered ${a === ABANDONED ? 'nothing' : canon(a)}, first ${h.first}`);
  }

  async replayStep(): Promise<void> {
    if (this.history.length === 0) {
      await new Promise((r) => setTimeout(r, 2));
      return;
    }
    await this.replay(this.history[this.int(0, this.history.length - 1)]!, this.rand() < 0.1);
  }

  running(): boolean {
    return this.operations < OPERATIONS || this.link.stats.killsMidFlight < KILLS;
  }

  /** The run with kills, then the settling of everything, then a clean run that replays and reports. */
  async run(): Promise<{ summary: Summary; cardBalances: Map<string, number> }> {
    try {
      return await this.#run();
    } catch (e) {
      this.link.destroy();
      throw e;
    }
  }

  async #run(): Promise<{ summary: Summary; cardBalances: Map<string, number> }> {
    let t = performance.now();
    const lap = (phase: string) => {
      const now = performance.now();
      this.phases[phase] = Math.round(now - t) / 1000;
      t = now;
    };
    const loop = async (step: () => Promise<void>) => {
      while (this.running()) await step();
    };
    await Promise.all([
      ...this.cards.map((c) => loop(() => this.cardStep(c))),
      loop(() => this.topUp()),
      loop(() => Promise.all([this.topUp(), this.topUp()]).then(() => undefined)),
      loop(() => this.clearStep()),
      loop(() => this.replayStep()),
    ]);
    lap('kills');
    // No more kills: every torn load is resolved at the card, every record cleared.
    this.link.kills = false;
    for (const c of this.cards) await this.resolvePending(c);
    while (this.pool.length > 0) await this.clear(this.pool.splice(0, 50), false);
    await this.link.close();
    lap('settle');

    // The final clean run: every acknowledged request answers as it first did, then the summary.
    this.link = new PlatformLink(this.spec, this.rand, false);
    const all = [...this.history];
    for (let i = 0; i < all.length; i += 100)
      await Promise.all(all.slice(i, i + 100).map((h) => this.replay(h, false)));
    lap('final start + replays');
    const s = await this.call('summary', {});
    if (s === ABANDONED || !s.ok) throw new Error(`summary: ${JSON.stringify(s)}`);
    await this.link.close();
    lap('summary');
    const cardBalances = new Map(this.cards.map((c) => [c.cardSerial, c.term.balance()]));
    return { summary: s.result as Summary, cardBalances };
  }
}

/** Runs the scenario against the store `spec` and checks everything; `label` names the store in the log line. */
export async function runCrashScenario(spec: StoreSpec, label: string): Promise<void> {
  const t0 = performance.now();
  const sc = new Scenario(spec, SEED);
  const killRun = sc.link;
  const { summary, cardBalances } = await sc.run();
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(
    `platform crash (${label}, seed ${SEED}): ${sc.operations} operations, ${sc.replays} replays, ` +
      `${JSON.stringify(killRun.stats)}, ${JSON.stringify(sc.counts)}, ${seconds} s ${JSON.stringify(sc.phases)}`,
  );

  expect(sc.problems).toEqual([]);
  expect(summary.verify.problems).toEqual([]);
  expect(summary.verify).toMatchObject({ ok: true, sum: 0 });
  expect(summary.suspense).toBe(0);

  // Every load the platform has is one the parent knows, settled as the card said: none made twice.
  const ledgerLoads = Object.fromEntries(
    summary.loads.map((l) => [l.loadId, `${l.cardSerial} ${l.amount} ${l.state}`]),
  );
  const parentLoads = Object.fromEntries(
    [...sc.loads].map(([id, l]) => [id, `${l.cardSerial} ${l.amount} ${l.state}`]),
  );
  expect(ledgerLoads).toEqual(parentLoads);

  // Every record cleared exactly once.
  for (const c of sc.cards) {
    const cleared = summary.purchases[c.cardSerial]!;
    const counters = cleared.map((p) => p.offlineCounter);
    expect(new Set(counters).size, `${c.label}: an offline counter cleared twice`).toBe(counters.length);
    const made = [...sc.records.values()].filter((r) => r.record.cardSerial === c.cardSerial);
    expect(made.every((r) => r.cleared)).toBe(true);
    expect(cleared.map((p) => `${p.offlineCounter}:${p.amount}`).sort()).toEqual(
      made.map((r) => `${r.record.offlineCounter}:${r.record.amount}`).sort(),
    );
  }

  const totalTopUps = [...sc.topUps.values()].reduce((a, b) => a + b, 0);
  const recordAmounts = [...sc.records.values()].reduce((a, r) => a + r.record.amount, 0);
  expect(summary.payable).toBe(recordAmounts);
  expect(summary.cash).toBe(-totalTopUps);
  for (const c of sc.cards) {
    const posted = [...sc.loads.values()]
      .filter((l) => l.cardSerial === c.cardSerial && l.state === 'posted')
      .reduce((a, l) => a + l.amount, 0);
    const spent = [...sc.records.values()]
      .filter((r) => r.record.cardSerial === c.cardSerial)
      .reduce((a, r) => a + r.record.amount, 0);
    const points = [...sc.records.values()]
      .filter((r) => r.record.cardSerial === c.cardSerial)
      .reduce((a, r) => a + Math.floor(r.record.amount / 100), 0);
    const phone = sc.topUps.get(c.msisdn)! - posted;
    expect(summary.phones[c.msisdn], `${c.label}: phone account`).toEqual({ balance: phone, available: phone });
    expect(summary.points[c.msisdn], `${c.label}: points`).toBe(points);
    expect(summary.floats[c.cardSerial], `${c.label}: float against the card`).toBe(cardBalances.get(c.cardSerial));
    expect(summary.floats[c.cardSerial], `${c.label}: float`).toBe(posted - spent);
  }

  expect(sc.operations).toBeGreaterThanOrEqual(OPERATIONS);
  expect(killRun.stats.kills).toBeGreaterThanOrEqual(KILLS);
  expect(killRun.stats.killsMidFlight).toBeGreaterThanOrEqual(KILLS);
  expect(sc.replays).toBeGreaterThan(OPERATIONS);
  for (const what of ['topUp', 'authorizeLoad', 'confirmLoad', 'resolveLoad', 'submitBatch'])
    expect(sc.counts[what] ?? 0, what).toBeGreaterThan(50);
  for (const what of ['torn: no CREDIT', 'torn: CREDIT answer lost', 'resolved posted', 'resolved voided'])
    expect(sc.counts[what] ?? 0, what).toBeGreaterThan(0);
  expect(killRun.stats.abandoned + killRun.stats.resent).toBeGreaterThan(KILLS);
}
