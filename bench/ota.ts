/**
 * Air top-ups over the mobile network: `wallet.airTopUp` end to end — the funds held from the phone account, then
 * the card loaded through its phone (SELECT, READ BINARY EF 0x15, INITIALIZE FOR LOAD, MAC1 verified and the card
 * session recorded durably, CREDIT FOR LOAD, TAC verified, posted) — with 1,000 phones connected, beside the raw
 * primitive measured in the same run: the same load of one card in process (SELECT e-purse, INITIALIZE FOR LOAD,
 * CREDIT FOR LOAD straight on an emulated `Card`, MAC2 from the issuer key store in process, no ledger, no network).
 *
 * **Processes.** The server runs in a child process of its own (this file, forked with the bench's Node options), as
 * `simtap-host` runs it: `createPlatformServer` over `openPlatform` with the reference profile on the embedded
 * default store (`openSqliteLedger`: WAL, `synchronous=FULL`, group commit) on a file in a temp folder, the OTA
 * service's default timings, pino at `info` (written to /dev/null). The 1,000 phones (`VirtualPhone`, each holding a
 * SIM made by `createSim`, heartbeat off, no reconnection: a dropped link fails the run) and the application clients
 * (`PlatformClient`, mart-1) run in the bench process, so that the phones' card work and the platform's each have a
 * core (of the reference machine's two) and the server's RSS is its own.
 *
 * **Setup.** 1,000 fleet cards (`fleetCard(n)`, n = 0…999) issued blank to customers registered with
 * {@link OPENING} fen in their phone account, as the OTA tests issue them; then the 1,000 phones connect,
 * {@link PERSO_WINDOW} at a time, and the bench waits for each phone's `ready` notice: the SIM authenticated over
 * SCP03 and its blank e-purse personalized over the air (INSTALL [for personalization], STORE DATA with the key
 * store's encrypted secrets). That row gives connect → `ready` per phone, the rate and the total time; the memory row
 * the server's RSS after a forced GC with the 1,000 phones connected (and before they connected).
 *
 * **Rows.** Every top-up is for a card that has no other in flight: a round names every card once, in a shuffled
 * order, and the next round starts after it. One at a time (cards in turn; the ≤ 10 ms p50 target), then
 * {@link WINDOWS} in flight — 64 through one client (the server works on 64 calls of a connection at once), 256
 * through 4, 1,000 through 16 (every phone busy at once) — each row holding the ≥ 500 top-ups/s target. p50/p99 are
 * per top-up at the client, ops/s the aggregate rate; the ratio is p50 to the raw load's p50, and the note gives the
 * rates' ratio. Warm-up top-ups precede the rows. A row's note gives the server's CPU time and ledger commits per
 * top-up and the machine's load average at its start (the reference machine has two cores: other work shows).
 *
 * **Where the time goes.** After the wire rows, the wallets' durable part alone in the server process on the same
 * SQLite file: `holdAirLoad`, `beginAirSession` (MAC1 verified by the key store, the session recorded) and
 * `confirmLoad` (TAC verified, posted) for {@link DURABLE_CARDS} more cards (personalized SIMs held in the server
 * process, issued active), the card's APDUs made in process between the calls: one at a time, then
 * {@link DURABLE_WINDOW} in flight. p50/p99 count the three calls only, the rates count everything.
 *
 * After the run the bench checks, and fails loudly otherwise: every top-up answered `posted`; `verify()` ok with a
 * zero sum, the store WAL + `synchronous=FULL` (2); every phone's SIM, read from the emulated card, holds its own
 * serial and a purse equal to both the sum of its top-ups and the platform's float; the purses and phone accounts of
 * the customers together hold what their accounts were opened with; the durable pass's cards likewise; the raw
 * cards' purses the sum of their loads. `SIMTAP_BENCH_OTA_CPU_PROF=DIR` runs the server child with `--cpu-prof`
 * into DIR.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VirtualPhone } from '@simtap/applet-emu/ota';
import type { Card } from '@simtap/applet-emu/runtime';
import { createSim } from '@simtap/applet-emu/sim';
import { SoftwareIssuerKeyStore } from '@simtap/host/keys';
import { openSqliteLedger } from '@simtap/host/ledger';
import { openPlatform, type Platform, platformConfigFromProfile } from '@simtap/host/platform';
import { createPlatformServer, type PlatformServer } from '@simtap/host/server';
import { PlatformClient } from '@simtap/sdk/clients';
import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import { creditForLoadResponse, initForLoadResponse, TTI } from '@simtap/sdk/core/pboc';
import { type CardProfile, fleetCard, referenceProfile } from '@simtap/sdk/core/profile';
import {
  creditForLoadApdu,
  getBalanceApdu,
  INITIALIZE_P1,
  initializeApdu,
  readBinarySfiApdu,
  selectByNameApdu,
  systemClock,
  txnDateTime,
} from '@simtap/sdk/machines';
import pino from 'pino';
import { type BenchRow, type Measurement, quantityRow, row } from './lib';

const GROUP =
  'OTA air top-ups over loopback, 1,000 phones connected (server in a child process; SQLite WAL, synchronous=FULL)';
const SETUP_GROUP = 'OTA setup: 1,000 blank SIMs personalized over the air';
/** The application system that asks for the top-ups. */
const CLIENT = 'mart-1';
const PHONES = 1_000;
/** Fleet numbers: the phones' cards, the durable pass's, the raw primitive's. */
const PHONE_BASE = 0;
const DURABLE_BASE = 10_000;
const RAW_BASE = 20_000;
/** What every fleet customer's phone account is opened with (fen). */
const OPENING = 100_000;
/** Phones connecting and being personalized at once. */
const PERSO_WINDOW = 100;
/** Top-ups in flight for the throughput rows, and the clients they go through (64 calls each at most). */
const WINDOWS: readonly { window: number; clients: number }[] = [
  { window: 64, clients: 1 },
  { window: 256, clients: 4 },
  { window: 1_000, clients: 16 },
];
/** Rounds (each card once) per throughput row. */
const ROUNDS = 3;
const WARMUP_ONE = 100;
const SINGLE = 1_000;
const WARMUP_WINDOW = 500;
/** The durable pass: cards, then one load each one at a time, then {@link DURABLE_ROUNDS} rounds 256 in flight. */
const DURABLE_CARDS = 500;
const DURABLE_WINDOW = 256;
const DURABLE_ROUNDS = 2;
/** The raw primitive: loads of 1 fen round-robin over this many personalized SIMs. */
const RAW_CARDS = 50;
const RAW_WARMUP = 1_000;
const RAW_LOADS = 10_000;
/** The targets: air top-ups/s with 1,000 phones connected; single top-up p50 on 127.0.0.1 (µs). */
const TARGET_RATE = 500;
const TARGET_P50_US = 10_000;
const CHILD_ENV = 'SIMTAP_BENCH_OTA_CHILD';
const PROF_ENV = 'SIMTAP_BENCH_OTA_CPU_PROF';
/** The terminal ID of the raw and durable loads: the OTA service's (its default). */
const TERMINAL = '000000000A1E';

const nowUs = (): number => Number(process.hrtime.bigint()) / 1000;
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const mb = (bytes: number): number => bytes / (1024 * 1024);

function fail(message: string): never {
  throw new Error(`ota bench: ${message}`);
}

/** Top-up amounts, 1.00–9.99 yuan, fixed by the call's sequence number. */
const amountOf = (seq: number): number => 100 + ((seq * 7_919) % 900);

interface Percentiles {
  readonly p50: number;
  readonly p99: number;
}

function percentiles(samples: ArrayLike<number>): Percentiles {
  const t = Float64Array.from(samples).sort();
  return { p50: t[Math.floor(t.length * 0.5)]!, p99: t[Math.floor(t.length * 0.99)]! };
}

function swOf(r: Uint8Array): number {
  return r.length < 2 ? -1 : (r[r.length - 2]! << 8) | r[r.length - 1]!;
}

/** A SIM of fleet card `card` whose e-purse is installed blank, or personalized from the card. */
function simOf(card: CardProfile, personalized: boolean): Card {
  const profile = referenceProfile();
  return createSim({
    profile: { ...profile, cards: [...profile.cards, card] },
    card: card.label,
    ...(personalized ? { personalized: true } : { epurse: true }),
  });
}

/** What an emulated card says over its contact interface (powered on if off, and left as it was). */
function onContact<T>(sim: Card, use: (send: (apdu: Uint8Array) => Uint8Array) => T): T {
  const wasOn = sim.isPowered('contact');
  if (!wasOn) sim.powerOn('contact');
  try {
    return use((apdu) => sim.transmit('contact', apdu));
  } finally {
    if (!wasOn) sim.powerOff('contact');
  }
}

/** The purse as the SIM holds it: EF 0x15's application serial and the EP balance. */
function readPurse(sim: Card, epurseAid: Uint8Array): { serial: string; balance: number } {
  return onContact(sim, (send) => {
    if (swOf(send(selectByNameApdu(epurseAid))) !== 0x9000) fail('SELECT of the e-purse refused on read-back');
    const ef = send(readBinarySfiApdu(0x15, 0, 30));
    const bal = send(getBalanceApdu());
    if (swOf(ef) !== 0x9000 || swOf(bal) !== 0x9000 || bal.length !== 6) fail('the purse could not be read back');
    return {
      serial: toHex(ef.subarray(10, 20)),
      balance: new DataView(bal.buffer, bal.byteOffset).getInt32(0),
    };
  });
}

/** The card and the fields of one load. */
interface CardLoadSteps {
  readonly sim: Card;
  readonly amount: number;
  readonly epurseAid: Uint8Array;
  readonly keyIndex: number;
  readonly terminalId: Uint8Array;
}

/**
 * One load straight on the SIM (contact interface, already powered): SELECT e-purse, INITIALIZE FOR LOAD, the MAC2
 * for its MAC1 from `mac2For` (the key store, or the wallets' `beginAirSession`), CREDIT FOR LOAD, and its TAC to
 * `tacTo` when given (the wallets' `confirmLoad`). Answers the purse after the load.
 */
async function loadOnCard(
  s: CardLoadSteps,
  mac2For: (init: {
    oldBalance: number;
    onlineCounter: number;
    random: Uint8Array;
    mac1: Uint8Array;
    date: Uint8Array;
    time: Uint8Array;
  }) => Promise<Uint8Array>,
  tacTo?: (tac: Uint8Array) => Promise<void>,
): Promise<number> {
  const send = (apdu: Uint8Array) => s.sim.transmit('contact', apdu);
  if (swOf(send(selectByNameApdu(s.epurseAid))) !== 0x9000) fail('SELECT of the e-purse refused');
  const init = send(initializeApdu(INITIALIZE_P1.LOAD, s.keyIndex, s.amount, s.terminalId));
  if (swOf(init) !== 0x9000 || init.length !== initForLoadResponse.length + 2)
    fail(`INITIALIZE FOR LOAD answered ${swOf(init).toString(16)}`);
  const i = initForLoadResponse.decode(init.subarray(0, init.length - 2));
  const { date, time } = txnDateTime(systemClock);
  const mac2 = await mac2For({ ...i, date, time });
  const credit = send(creditForLoadApdu(date, time, mac2));
  mac2.fill(0);
  if (swOf(credit) !== 0x9000 || credit.length !== creditForLoadResponse.length + 2)
    fail(`CREDIT FOR LOAD answered ${swOf(credit).toString(16)}`);
  if (tacTo) await tacTo(creditForLoadResponse.decode(credit.subarray(0, credit.length - 2)).tac);
  return i.oldBalance + s.amount;
}

// ---------------------------------------------------------------- the child (server) side

type Request =
  | { op: 'platform'; dir: string; phones: number }
  | { op: 'stats'; gc?: boolean }
  | { op: 'durable' }
  | { op: 'check'; cards: { cardSerial: string; msisdn: string }[] }
  | { op: 'stop' };

interface Stats {
  readonly userUs: number;
  readonly systemUs: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly commits: number;
  readonly connections: number;
}

interface DurableResult {
  /** One load at a time: the three wallet calls' time (µs), the rest of each load (the card's APDUs), the rate. */
  readonly one: { wallet: Percentiles; card: Percentiles; loads: number; elapsedUs: number; commits: number };
  /** {@link DURABLE_WINDOW} in flight: per load (the three calls), and the rate of everything. */
  readonly window: { wallet: Percentiles; loads: number; elapsedUs: number; commits: number };
  /** Every card's purse equals its float; the purses and phone accounts hold what was opened. */
  readonly ok: boolean;
  readonly problem?: string;
}

interface Check {
  readonly ok: boolean;
  readonly sum: number;
  readonly floats: number[];
  readonly phoneAccounts: number;
  readonly pragmas: { journalMode: string; synchronous: number };
}

async function child(): Promise<void> {
  let platform: Platform | undefined;
  let server: PlatformServer | undefined;
  let ledger: ReturnType<typeof openSqliteLedger> | undefined;
  const profile = referenceProfile();
  const config = platformConfigFromProfile(profile);

  const issueBlank = async (p: Platform, card: CardProfile, status?: 'active') => {
    await p.customers.register({ msisdn: card.msisdn, openingBalance: OPENING });
    await p.contactless.issue({
      cardSerial: toHex(card.applicationSerial),
      iccid: card.iccid,
      msisdn: card.msisdn,
      kdd: toHex(card.isd.kdd),
      ...(status ? { status } : {}),
    });
  };

  const durable = async (p: Platform): Promise<DurableResult> => {
    // The cards: personalized SIMs held here, issued active to customers of their own (untimed).
    const cards = Array.from({ length: DURABLE_CARDS }, (_, k) => fleetCard(DURABLE_BASE + k, profile));
    for (let i = 0; i < cards.length; i += 100)
      await Promise.all(cards.slice(i, i + 100).map((c) => issueBlank(p, c, 'active')));
    const sims = cards.map((c) => simOf(c, true));
    for (const sim of sims) sim.powerOn('contact');
    const epurseAid = fromHex(config.issuance.epurseAid);
    const terminalId = fromHex(TERMINAL);
    let seq = 0;
    const expected = new Array<number>(cards.length).fill(0);
    const w = p.wallets;
    /** One load of card k; answers the time (µs) of its three wallet calls. */
    const load = async (k: number): Promise<number> => {
      const card = cards[k]!;
      const amount = amountOf(seq);
      const key = `durable-${seq++}`;
      let wallet = 0;
      const t0 = nowUs();
      const hold = await w.holdAirLoad({
        client: CLIENT,
        idempotencyKey: key,
        method: 'wallet.airTopUp',
        msisdn: card.msisdn,
        amount,
      });
      wallet += nowUs() - t0;
      if (hold.status !== 'pending') fail(`durable hold ${key} is ${hold.status}`);
      await loadOnCard(
        {
          sim: sims[k]!,
          amount,
          epurseAid,
          keyIndex: config.issuance.keyIndex,
          terminalId,
        },
        async (i) => {
          const b = nowUs();
          const start = await w.beginAirSession({
            loadId: hold.loadId,
            terminalId: TERMINAL,
            oldBalance: i.oldBalance,
            onlineCounter: i.onlineCounter,
            random: toHex(i.random),
            mac1: toHex(i.mac1),
            date: toHex(i.date),
            time: toHex(i.time),
          });
          wallet += nowUs() - b;
          if (start.kind !== 'mac2') fail(`durable session of ${key}: ${start.kind}`);
          return fromHex(start.mac2);
        },
        async (tac) => {
          const b = nowUs();
          const r = await w.confirmLoad({ loadId: hold.loadId, tac: toHex(tac) });
          wallet += nowUs() - b;
          if (r.status !== 'posted') fail(`durable confirm of ${key}: ${r.status}`);
        },
      );
      expected[k]! += amount;
      return wallet;
    };
    // One at a time, each card once.
    const c0 = ledger!.commits;
    const oneWallet: number[] = [];
    const oneCard: number[] = [];
    const o0 = nowUs();
    for (let k = 0; k < cards.length; k++) {
      const t = nowUs();
      const wallet = await load(k);
      oneWallet.push(wallet);
      oneCard.push(nowUs() - t - wallet);
    }
    const oneUs = nowUs() - o0;
    const c1 = ledger!.commits;
    // DURABLE_WINDOW in flight, each card once per round.
    const winWallet: number[] = [];
    const t0 = nowUs();
    for (let round = 0; round < DURABLE_ROUNDS; round++) {
      let next = 0;
      await Promise.all(
        Array.from({ length: DURABLE_WINDOW }, async () => {
          for (let k = next++; k < cards.length; k = next++) winWallet.push(await load(k));
        }),
      );
    }
    const elapsedUs = nowUs() - t0;
    const c2 = ledger!.commits;
    // The books of these cards.
    let problem: string | undefined;
    let held = 0;
    for (const [k, card] of cards.entries()) {
      const purse = readPurse(sims[k]!, epurseAid);
      const { balance: float } = await w.float({ cardSerial: toHex(card.applicationSerial) });
      if (purse.balance !== expected[k] || float !== purse.balance)
        problem ??= `durable card ${card.label}: purse ${purse.balance}, float ${float}, loads ${expected[k]}`;
      held += purse.balance + (await p.customers.phoneAccount({ msisdn: card.msisdn })).balance;
    }
    if (held !== cards.length * OPENING)
      problem ??= `durable cards: purses + accounts ${held} ≠ ${cards.length * OPENING}`;
    return {
      one: {
        wallet: percentiles(oneWallet),
        card: percentiles(oneCard),
        loads: cards.length,
        elapsedUs: oneUs,
        commits: c1 - c0,
      },
      window: { wallet: percentiles(winWallet), loads: winWallet.length, elapsedUs, commits: c2 - c1 },
      ok: problem === undefined,
      ...(problem ? { problem } : {}),
    };
  };

  const serve = async (req: Request): Promise<unknown> => {
    switch (req.op) {
      case 'platform': {
        const t0 = nowUs();
        const logger = pino({ name: 'simtap-host', level: 'info' }, pino.destination('/dev/null'));
        ledger = openSqliteLedger({ path: join(req.dir, 'simtap.db') });
        platform = await openPlatform({
          ledger,
          keys: SoftwareIssuerKeyStore.fromProfile(profile),
          config,
          logger: logger.child({ area: 'platform' }),
        });
        const p = platform;
        for (let i = 0; i < req.phones; i += 100)
          await Promise.all(
            Array.from({ length: Math.min(100, req.phones - i) }, (_, k) =>
              issueBlank(p, fleetCard(PHONE_BASE + i + k, profile)),
            ),
          );
        server = createPlatformServer({
          platform: p,
          clients: profile.platform.clients,
          host: '127.0.0.1',
          port: 0,
          logger: logger.child({ area: 'server' }),
          // The OTA service's defaults, as simtap-host runs it.
          ota: { airTopUpWaitMs: 10_000, cardTimeoutMs: 10_000, acceptWaitMs: 500 },
        });
        const { url } = await server.listen();
        return { url, setupMs: (nowUs() - t0) / 1000 };
      }
      case 'stats': {
        if (req.gc) {
          gc();
          await new Promise((r) => setTimeout(r, 50));
          gc();
        }
        const m = process.memoryUsage();
        const cpu = process.cpuUsage();
        const s: Stats = {
          userUs: cpu.user,
          systemUs: cpu.system,
          rss: m.rss,
          heapUsed: m.heapUsed,
          commits: ledger?.commits ?? 0,
          connections: server?.connections.length ?? 0,
        };
        return s;
      }
      case 'durable':
        return durable(platform ?? fail('durable before platform'));
      case 'check': {
        const p = platform ?? fail('check before platform');
        const v = await p.verify();
        const floats: number[] = [];
        let phoneAccounts = 0;
        for (const c of req.cards) {
          floats.push((await p.wallets.float({ cardSerial: c.cardSerial })).balance);
          phoneAccounts += (await p.customers.phoneAccount({ msisdn: c.msisdn })).balance;
        }
        const r: Check = { ok: v.ok, sum: v.sum, floats, phoneAccounts, pragmas: ledger!.pragmas() };
        return r;
      }
      case 'stop': {
        await server?.close();
        await platform?.close();
        return {};
      }
    }
  };
  process.on('message', (m: { id: number; req: Request }) => {
    serve(m.req).then(
      (value) => process.send!({ id: m.id, ok: true, value }),
      (e: unknown) => process.send!({ id: m.id, ok: false, error: e instanceof Error ? e.stack : String(e) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}

// ---------------------------------------------------------------- the parent (phones and clients) side

/** The server child: requests over IPC, one answer each. */
class ServerProcess {
  readonly #child: ChildProcess;
  readonly #waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #next = 1;
  #exited: Error | undefined;

  constructor() {
    const prof = process.env[PROF_ENV];
    this.#child = fork(fileURLToPath(import.meta.url), ['server'], {
      execArgv: [...process.execArgv, ...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [])],
      env: { ...process.env, [CHILD_ENV]: '1' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#child.on('message', (m: { id: number; ok: boolean; value?: unknown; error?: string }) => {
      const w = this.#waiting.get(m.id);
      if (!w) return;
      this.#waiting.delete(m.id);
      if (m.ok) w.resolve(m.value);
      else w.reject(new Error(`ota bench: the server child failed: ${m.error}`));
    });
    this.#child.on('exit', (code, signal) => {
      this.#exited = new Error(`ota bench: the server child exited (${signal ?? code})`);
      for (const w of this.#waiting.values()) w.reject(this.#exited);
      this.#waiting.clear();
    });
  }

  call<T>(req: Request): Promise<T> {
    if (this.#exited) return Promise.reject(this.#exited);
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#child.send({ id, req });
    });
  }

  /** Stops the child (gracefully, else killed after 30 s). */
  async stop(): Promise<void> {
    if (this.#exited) return;
    const gone = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 30_000);
    await this.call({ op: 'stop' }).catch(() => undefined);
    this.#child.disconnect();
    await gone;
    clearTimeout(timer);
  }
}

/** A phone of the fleet: its card, its SIM, and the top-ups the bench made on it. */
interface Handset {
  readonly card: CardProfile;
  readonly sim: Card;
  readonly phone: VirtualPhone;
  loaded: number;
}

interface Timing {
  readonly lat: Percentiles;
  readonly perSec: number;
  readonly calls: number;
  readonly elapsedUs: number;
  readonly serverUserUs: number;
  readonly serverSystemUs: number;
  readonly commits: number;
  readonly benchCpuUs: number;
  /** The machine's 1-minute load average when the row started (other work on the machine shows here). */
  readonly load: number;
}

/** The raw primitive: loads of 1 fen straight on personalized SIMs, the MAC2 from the key store in process. */
async function rawLoads(): Promise<{ m: Measurement & { p50Us: number }; loads: number; ok: boolean }> {
  const profile = referenceProfile();
  const config = platformConfigFromProfile(profile);
  const keys = SoftwareIssuerKeyStore.fromProfile(profile);
  const cards = Array.from({ length: RAW_CARDS }, (_, k) => fleetCard(RAW_BASE + k, profile));
  const sims = cards.map((c) => simOf(c, true));
  for (const sim of sims) sim.powerOn('contact');
  const epurseAid = fromHex(config.issuance.epurseAid);
  const terminalId = fromHex(TERMINAL);
  const one = (k: number) => {
    const card = cards[k % RAW_CARDS]!;
    return loadOnCard(
      {
        sim: sims[k % RAW_CARDS]!,
        amount: 1,
        epurseAid,
        keyIndex: config.issuance.keyIndex,
        terminalId,
      },
      async (i) =>
        (
          await keys.authorizeLoad({
            cardSerial: card.applicationSerial,
            amount: 1,
            tti: TTI.EP_LOAD,
            terminalId,
            onlineCounter: i.onlineCounter,
            random: i.random,
            date: i.date,
            time: i.time,
            oldBalance: i.oldBalance,
            mac1: i.mac1,
          })
        ).mac2,
    );
  };
  try {
    for (let k = 0; k < RAW_WARMUP; k++) await one(k);
    gc();
    const t = new Float64Array(RAW_LOADS);
    const t0 = nowUs();
    for (let k = 0; k < RAW_LOADS; k++) {
      const a = nowUs();
      await one(RAW_WARMUP + k);
      t[k] = nowUs() - a;
    }
    const elapsed = nowUs() - t0;
    const { p50, p99 } = percentiles(t);
    const total = RAW_WARMUP + RAW_LOADS;
    const ok = sims.every(
      (sim, k) => readPurse(sim, epurseAid).balance === Math.floor(total / RAW_CARDS) + (k < total % RAW_CARDS ? 1 : 0),
    );
    return {
      m: {
        name: 'in-process card load (SELECT, INIT FOR LOAD, key store MAC2, CREDIT)',
        usPerOp: p50,
        opsPerSec: (RAW_LOADS * 1e6) / elapsed,
        p99Us: p99,
        p50Us: p50,
      },
      loads: RAW_LOADS,
      ok,
    };
  } finally {
    await keys.destroy();
  }
}

/** One top-up job: the card (index into the fleet) and the call's sequence number. */
interface Job {
  readonly k: number;
  readonly seq: number;
}

function newClient(url: string): PlatformClient {
  const c = referenceProfile().platform.clients.find((x) => x.id === CLIENT)!;
  return new PlatformClient({ url, clientId: c.id, secret: c.secret, heartbeatMs: 0, timeoutMs: 60_000 });
}

/** A deterministic shuffle (the rounds' card orders). */
function shuffled(n: number, seed: number): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  let x = seed >>> 0;
  for (let i = n - 1; i > 0; i--) {
    x = (x * 1_103_515_245 + 12_345) >>> 0;
    const j = (x >>> 8) % (i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** Runs `rounds` of top-ups, `window` in flight (worker w calls through `clients[w mod n]`), each timed. */
async function topUps(
  server: ServerProcess,
  handsets: Handset[],
  clients: PlatformClient[],
  rounds: Job[][],
  window: number,
): Promise<Timing> {
  const calls = rounds.reduce((n, r) => n + r.length, 0);
  const load = loadavg()[0]!;
  const t = new Float64Array(calls);
  let done = 0;
  gc();
  const s0 = await server.call<Stats>({ op: 'stats' });
  const c0 = process.cpuUsage();
  const t0 = nowUs();
  for (const jobs of rounds) {
    let next = 0;
    const worker = async (w: number): Promise<void> => {
      const client = clients[w % clients.length]!;
      for (let i = next++; i < jobs.length; i = next++) {
        const { k, seq } = jobs[i]!;
        const h = handsets[k]!;
        const amount = amountOf(seq);
        const a = nowUs();
        const r = await client.call('wallet.airTopUp', {
          idempotencyKey: `ota-bench-${seq}`,
          msisdn: h.card.msisdn,
          amount,
        });
        t[done++] = nowUs() - a;
        if (r.status !== 'posted') fail(`top-up ${seq} of ${h.card.label} answered ${r.status}`);
        h.loaded += amount;
      }
    };
    await Promise.all(Array.from({ length: Math.min(window, jobs.length) }, (_, w) => worker(w)));
  }
  const elapsedUs = nowUs() - t0;
  const c1 = process.cpuUsage(c0);
  const s1 = await server.call<Stats>({ op: 'stats' });
  return {
    lat: percentiles(t),
    perSec: (calls * 1e6) / elapsedUs,
    calls,
    elapsedUs,
    serverUserUs: s1.userUs - s0.userUs,
    serverSystemUs: s1.systemUs - s0.systemUs,
    commits: s1.commits - s0.commits,
    benchCpuUs: c1.user + c1.system,
    load,
  };
}

function measurement(name: string, t: Timing): Measurement {
  return { name, usPerOp: t.lat.p50, opsPerSec: t.perSec, p99Us: t.lat.p99 };
}

function cpuNote(t: Timing): string {
  return (
    `${fmt(t.calls)} top-ups in ${(t.elapsedUs / 1e6).toFixed(2)} s; ` +
    `CPU server ${fmt(t.serverUserUs / t.calls)} µs user + ${fmt(t.serverSystemUs / t.calls)} µs system a top-up, ` +
    `bench process (phones, SIMs, clients) ${fmt(t.benchCpuUs / t.calls)} µs; ` +
    `${(t.commits / t.calls).toFixed(2)} ledger commits a top-up; load average ${t.load.toFixed(2)} at the row's start`
  );
}

interface Personalization {
  readonly lat: Percentiles;
  readonly elapsedUs: number;
}

/** Connects every phone, {@link PERSO_WINDOW} at a time, each until its `ready` notice (personalized on the way). */
async function personalizeAll(handsets: Handset[]): Promise<Personalization> {
  const t = new Float64Array(handsets.length);
  let next = 0;
  const t0 = nowUs();
  await Promise.all(
    Array.from({ length: PERSO_WINDOW }, async () => {
      for (let i = next++; i < handsets.length; i = next++) {
        const { phone, card } = handsets[i]!;
        const a = nowUs();
        const ready = phone.waitForNotice('ready', 120_000);
        await phone.connect();
        await ready;
        t[i] = nowUs() - a;
        if (!phone.notices.some((n) => n.kind === 'personalized')) fail(`${card.label} was not personalized`);
      }
    }),
  );
  return { lat: percentiles(t), elapsedUs: nowUs() - t0 };
}

const us = (n: number): string => `${fmt(n)} µs`;

/** Runs the OTA benchmark: raw card loads, then the server, the 1,000 phones, the top-up rows and the durable pass. */
export async function benchOta(): Promise<BenchRow[]> {
  const busy = loadavg()[0]!;
  const raw = await rawLoads();
  if (!raw.ok) fail('a raw card does not hold the sum of its loads');

  const profile = referenceProfile();
  const epurseAid = fromHex(platformConfigFromProfile(profile).issuance.epurseAid);
  const dir = mkdtempSync(join(tmpdir(), 'simtap-bench-ota-'));
  const server = new ServerProcess();
  const handsets: Handset[] = [];
  const clients: PlatformClient[] = [];
  try {
    const { url, setupMs } = await server.call<{ url: string; setupMs: number }>({
      op: 'platform',
      dir,
      phones: PHONES,
    });
    const bare = await server.call<Stats>({ op: 'stats', gc: true });
    for (let k = 0; k < PHONES; k++) {
      const card = fleetCard(PHONE_BASE + k, profile);
      const sim = simOf(card, false);
      const phone = new VirtualPhone({
        card: sim,
        url,
        msisdn: card.msisdn,
        iccid: card.iccid,
        heartbeatMs: 0,
        reconnect: false,
      });
      handsets.push({ card, sim, phone, loaded: 0 });
    }
    const perso = await personalizeAll(handsets);
    const connected = await server.call<Stats>({ op: 'stats', gc: true });
    if (connected.connections !== PHONES) fail(`the server holds ${connected.connections} connections, not ${PHONES}`);

    for (let i = 0; i < Math.max(...WINDOWS.map((w) => w.clients)); i++) {
      const c = newClient(url);
      await c.connect();
      clients.push(c);
    }
    let seq = 0;
    let turn = 0;
    /** The next `n` cards in turn, as one round (n ≤ the fleet: no card twice). */
    const inTurn = (n: number): Job[] => Array.from({ length: n }, () => ({ k: turn++ % PHONES, seq: seq++ }));
    const round = (salt: number): Job[] => shuffled(PHONES, 20_260_301 + salt).map((k) => ({ k, seq: seq++ }));

    // One at a time, cards in turn.
    await topUps(server, handsets, clients, [inTurn(WARMUP_ONE)], 1);
    const single = await topUps(server, handsets, clients, [inTurn(SINGLE)], 1);
    // Windows.
    await topUps(server, handsets, clients, [inTurn(WARMUP_WINDOW)], 64);
    const windows: { window: number; clients: number; t: Timing }[] = [];
    for (const [i, w] of WINDOWS.entries()) {
      const rounds = Array.from({ length: ROUNDS }, (_, r) => round(100 * i + r));
      windows.push({ ...w, t: await topUps(server, handsets, clients.slice(0, w.clients), rounds, w.window) });
    }
    const after = await server.call<Stats>({ op: 'stats', gc: true });

    // The wallets' durable part alone, in the server process.
    const d = await server.call<DurableResult>({ op: 'durable' });
    if (!d.ok) fail(d.problem ?? 'the durable pass does not add up');

    // The books: the ledger, and every SIM against its float and its top-ups.
    const check = await server.call<Check>({
      op: 'check',
      cards: handsets.map((h) => ({ cardSerial: toHex(h.card.applicationSerial), msisdn: h.card.msisdn })),
    });
    if (!check.ok || check.sum !== 0) fail(`verify() failed (ok ${check.ok}, sum ${check.sum})`);
    if (check.pragmas.journalMode !== 'wal' || check.pragmas.synchronous !== 2)
      fail(`the store runs with ${JSON.stringify(check.pragmas)}, not WAL + FULL (2)`);
    let purses = 0;
    for (const [k, h] of handsets.entries()) {
      const purse = readPurse(h.sim, epurseAid);
      if (purse.serial !== toHex(h.card.applicationSerial)) fail(`${h.card.label}'s SIM holds card ${purse.serial}`);
      if (purse.balance !== h.loaded || check.floats[k] !== purse.balance)
        fail(`${h.card.label}: purse ${purse.balance} fen, float ${check.floats[k]}, top-ups ${h.loaded}`);
      purses += purse.balance;
    }
    if (purses + check.phoneAccounts !== PHONES * OPENING)
      fail(`purses ${purses} + phone accounts ${check.phoneAccounts} ≠ ${PHONES * OPENING} fen opened`);

    // The rows.
    const rows: BenchRow[] = [];
    const rate = (t: Timing) =>
      `the raw card's in-process rate is ×${(raw.m.opsPerSec / t.perSec).toFixed(0)} this rate`;
    const rest = single.lat.p50 - d.one.wallet.p50 - raw.m.usPerOp;
    const where =
      `where the time goes, of the p50 ${us(single.lat.p50)} (differences of medians, so roughly): the wallets' ` +
      `durable part alone ${us(d.one.wallet.p50)} (next rows), the card's own work in process ${us(raw.m.usPerOp)}, ` +
      `and ${us(rest)} for the rest — the phone's three round trips (SELECT, INITIALIZE FOR LOAD, CREDIT FOR ` +
      `LOAD relayed through /v1/ota; the purse was checked at the phone's contact), the platform's reads of the card and its loads, the ` +
      `client's call and answer`;
    rows.push(
      row(
        GROUP,
        measurement('airTopUp end to end, one at a time', single),
        raw.m,
        { maxUsPerOp: TARGET_P50_US },
        `nothing else in flight, cards in turn; ${cpuNote(single)}; ${where}; load average ${busy.toFixed(2)} when the suite started`,
      ),
    );
    for (const { window, clients: n, t } of windows)
      rows.push(
        row(
          GROUP,
          measurement(`airTopUp end to end, ${fmt(window)} in flight, ${n} client${n > 1 ? 's' : ''}`, t),
          raw.m,
          { minOpsPerSec: TARGET_RATE },
          `${ROUNDS} rounds, each card once a round (shuffled), through ${n} client${n > 1 ? 's' : ''} ` +
            `(at most 64 calls of a connection at once in the server); ${cpuNote(t)}; ${rate(t)}`,
        ),
      );
    const durableNote = `on ${fmt(d.one.loads)} more cards (personalized SIMs in the server process, issued active), the three calls timed, the card's APDUs in process between them not`;
    rows.push(
      row(
        GROUP,
        {
          name: 'wallets durable part alone, one at a time',
          usPerOp: d.one.wallet.p50,
          opsPerSec: (d.one.loads * 1e6) / d.one.elapsedUs,
          p99Us: d.one.wallet.p99,
        },
        raw.m,
        undefined,
        `holdAirLoad + beginAirSession + confirmLoad in the server process on the same SQLite file, ${durableNote} ` +
          `(they and the awaits between took p50 ${us(d.one.card.p50)} more; the rate counts them); ` +
          `${(d.one.commits / d.one.loads).toFixed(2)} commits a load`,
      ),
    );
    rows.push(
      row(
        GROUP,
        {
          name: `wallets durable part alone, ${DURABLE_WINDOW} in flight`,
          usPerOp: d.window.wallet.p50,
          opsPerSec: (d.window.loads * 1e6) / d.window.elapsedUs,
          p99Us: d.window.wallet.p99,
        },
        raw.m,
        undefined,
        `the same calls, ${DURABLE_ROUNDS} rounds of each card once, ${durableNote} (the rate counts them); ` +
          `${(d.window.commits / d.window.loads).toFixed(2)} commits a load (group commit)`,
      ),
    );
    rows.push(
      row(
        SETUP_GROUP,
        {
          name: `personalization over the air, ${PERSO_WINDOW} phones at once`,
          usPerOp: perso.lat.p50,
          opsPerSec: (PHONES * 1e6) / perso.elapsedUs,
          p99Us: perso.lat.p99,
        },
        undefined,
        undefined,
        `${fmt(PHONES)} blank SIMs, connect → ready notice per phone (SCP03 at SL 33, INSTALL for personalization, ` +
          `STORE DATA, card activated); all ${fmt(PHONES)} in ${(perso.elapsedUs / 1e6).toFixed(1)} s; ` +
          `${fmt(PHONES)} cards issued blank and their customers registered in ${fmt(setupMs)} ms before`,
      ),
    );
    rows.push(
      quantityRow(
        SETUP_GROUP,
        `server RSS, ${fmt(PHONES)} phones connected`,
        { value: mb(connected.rss), unit: 'MB' },
        undefined,
        `after a forced GC; ${mb(bare.rss).toFixed(1)} MB before the phones connected (${fmt(PHONES)} cards issued), ` +
          `${mb(after.rss).toFixed(1)} MB after the top-up rows; V8 heap used ${mb(bare.heapUsed).toFixed(1)} → ` +
          `${mb(connected.heapUsed).toFixed(1)} → ${mb(after.heapUsed).toFixed(1)} MB`,
      ),
    );
    return rows;
  } finally {
    await Promise.allSettled(clients.map((c) => c.close()));
    await Promise.allSettled(handsets.map((h) => h.phone.close()));
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.env[CHILD_ENV] === '1' && process.send) await child();
