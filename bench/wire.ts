/**
 * The platform on the network (issue 11): `wallet.authorizeLoad` and `clearing.submitBatch` (100 records) round
 * trips through `PlatformClient` over loopback, p50/p99 and calls/s, with 1 and with 1,000 connected clients, beside a
 * raw `ws` echo of the same frame sizes measured in the same run; and what 1,000 idle authenticated connections cost
 * the server in memory.
 *
 * **Processes.** The server runs in a child process of its own (this file, forked with the bench's Node options), so
 * that client and server have an event loop, a core (of the reference machine's two) and a file-descriptor budget
 * each, and the server's RSS is its own (a worker thread would share the bench's). The child serves what
 * `simtap-host` serves: `createPlatformServer` over `openPlatform` with the reference profile on the embedded default
 * (`openSqliteLedger`: WAL, `synchronous=FULL`, group commit) on a file in a temp folder, default limits, pino at
 * `info` (written to /dev/null) as the command's logger — but for the server's per-request debug lines, which only
 * count the calls answered `TIMEOUT` or `RATE_LIMITED` (the client resends those unseen; a row's note names any). The
 * echo server runs in a child process the same way: `ws`
 * (no compression, the same `maxPayload` and subprotocol) answering every text frame at once with a text frame of
 * the size the client asks for, so that each echo round trip moves the bytes of the method's request one way and of
 * its response the other (the sizes of the frames the platform rows sent and got, measured from them).
 *
 * **Calls.** Every `wallet.authorizeLoad` is a new load with a valid MAC1 (the card's DLK — the issuer's load master
 * key diversified with the card's serial, as an issuer does — its SESLK from the random and the online counter),
 * funded from the holder's phone account (topped up before), under a key of its own, on a card of its own: a fleet of
 * cards (serials 0000 4401 2026 8nnn nnnn, held by the profile's three customers) issued `active` before the run, so
 * that every load is its card's first and finds no earlier load to settle. Every `clearing.submitBatch` carries 100
 * valid records of 100 different cards (TACs made with the issuer's TAC key diversified per card, as a card makes
 * them; each card's offline counters 1, 2, 3… in order), every float funded before. Warm-up calls precede each row.
 *
 * **Rows.** One client calling one call at a time; then, with 1,000 clients connected and authenticated, the same
 * calls one at a time from the next client in turn (what holding 1,000 connections costs a call), and the 1,000
 * clients calling together (loads: all at once, each client one call at a time; batches: one from each client,
 * {@link BATCHES_IN_FLIGHT} in flight); calls/s is then the aggregate rate and p50/p99 include the queueing. The echo
 * rows run with the same arrangement: 1 socket, then 1,000. Each row's note gives the server's and the client's CPU
 * time per call and the ledger's commits per call.
 *
 * **Where the time goes.** After the 1-client rows, a pass through a second server over the same platform whose
 * logger keeps the server's own timing of each request (frame read → answer sent), each wire call followed by the
 * same call made in the server process without the wire and, for loads, by a read (`wallet.float`) over the wire and
 * one ledger transfer alone (a durable group commit), all interleaved so that the disk's good and bad moments fall
 * on each alike; the 1-client rows' notes give the medians.
 *
 * **Memory.** On a server child of its own (the profile's data only, so that no earlier work left freed memory for
 * the connections to reuse), the server's RSS and V8 heap after a forced GC before and after 1,000 clients connect
 * and authenticate, then sit idle for a second: the difference is the cost of 1,000 idle connections.
 *
 * After the run the bench checks, and fails loudly otherwise: every load answered with a load id and a MAC2, every
 * batch accepted whole, `verify()` ok, the merchant payable equal to the sum of the records, and the pending loads
 * those the bench made. `SIMTAP_BENCH_WIRE_CPU_PROF=DIR` runs the server child with `--cpu-prof` into DIR.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SoftwareIssuerKeyStore } from '@simtap/host/keys';
import { openSqliteLedger } from '@simtap/host/ledger';
import { ACCOUNT, openPlatform, type Platform, platformConfigFromProfile } from '@simtap/host/platform';
import { createPlatformServer, type PlatformServer } from '@simtap/host/server';
import { PlatformClient } from '@simtap/sdk/clients';
import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import {
  diversificationDataOf,
  diversifyPbocKey,
  IssuerTacVerifier,
  loadMac1,
  loadSessionKey,
  TTI,
} from '@simtap/sdk/core/pboc';
import { referenceProfile } from '@simtap/sdk/core/profile';
import { MAX_FRAME_BYTES, requestFrame, resultFrame, SUBPROTOCOL, type WireErrorCode } from '@simtap/sdk/wire';
import pino from 'pino';
import WebSocket, { WebSocketServer } from 'ws';
import { type BenchRow, type Measurement, quantityRow, row } from './lib';

/** The answers a client resends unseen: counted from the server's per-request log lines. */
const RESENT: ReadonlySet<string> = new Set<WireErrorCode>(['TIMEOUT', 'RATE_LIMITED']);

const GROUP = 'Wire, simtap.v1 over loopback (server in a child process; SQLite WAL, synchronous=FULL)';
const MEMORY_GROUP = 'Wire, server memory';
/** The application system that calls (it settles to M-MART-1). */
const CLIENT = 'mart-1';
const CLIENTS = 1_000;
const TERMINAL = '440100001000';
const DATE = '20260301';
const TIME = '101500';
const LOAD_AMOUNT = 100;
const BATCH = 100;
/** Single client: warm-up, then timed calls. */
const LOAD_WARMUP = 300;
const LOADS_ONE = 2_000;
const BATCH_WARMUP = 10;
const BATCHES_ONE = 100;
/** 1,000 clients, one call at a time from the next client in turn. */
const LOADS_TURN = 1_000;
const BATCHES_TURN = 100;
/** 1,000 clients at once: loads per client. */
const LOADS_PER_CLIENT = 5;
/**
 * Batches from the 1,000 clients (one each) with at most this many in flight. All 1,000 at once took ~27 s to clear
 * on the reference machine, and with 250 in flight the slowest took 18–28 s (the platform's per-card locks let later
 * batches overtake one that waits): near the server's 30 s request timeout, past which the server answers TIMEOUT
 * and the client resends the call under its key.
 */
const BATCHES_IN_FLIGHT = 100;
/** The breakdown pass: calls timed in the server process without the wire, and through a second server that times them. */
const BREAKDOWN_LOADS = 500;
const BREAKDOWN_BATCHES = 20;
const ECHO_WARMUP = 1_000;
const ECHOS_ONE = 5_000;
const ECHOS_TURN = 2_000;
const ECHOS_PER_CLIENT = 5;
/**
 * Cards: one per load (every load a card's first: the warm-ups, a probe, the breakdown's, one on each of the 1,000
 * clients, the rows).
 */
const FLEET = LOAD_WARMUP + LOADS_ONE + 1 + 2 * BREAKDOWN_LOADS + CLIENTS + LOADS_TURN + LOADS_PER_CLIENT * CLIENTS;
/** Batches: the warm-ups, a probe, the breakdown's, the rows. */
const BATCHES = BATCH_WARMUP + BATCHES_ONE + 1 + 2 * BREAKDOWN_BATCHES + BATCHES_TURN + CLIENTS;
/** Fen funded into every fleet card's float before the run (the records of a card spend far less). */
const FLOAT_FUND = 200_000;
/** Fen topped up into each of the three phone accounts before the run. */
const PHONE_TOP_UP = 100_000_000;
/** The child's switch: run as the server. */
const CHILD_ENV = 'SIMTAP_BENCH_WIRE_CHILD';
const PROF_ENV = 'SIMTAP_BENCH_WIRE_CPU_PROF';

const nowUs = (): number => Number(process.hrtime.bigint()) / 1000;
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const mb = (bytes: number): number => bytes / (1024 * 1024);

function fail(message: string): never {
  throw new Error(`wire bench: ${message}`);
}

/** Fleet card `n`: application serial 0000 4401 2026 8nnn nnnn, held by customer n mod 3. */
function fleetCard(n: number) {
  const customers = referenceProfile().platform.customers;
  const cardSerial = `0000440120268${n.toString(16).toUpperCase().padStart(7, '0')}`;
  return {
    cardSerial,
    iccid: `898600440120268${n.toString(16).toUpperCase().padStart(5, '0')}`,
    msisdn: customers[n % customers.length]!.msisdn,
    kdd: cardSerial,
  };
}

// ---------------------------------------------------------------- the child (server) side

type LoadParams = ReturnType<typeof loadParams>;
interface Batch {
  readonly key: string;
  readonly records: ReturnType<typeof makeBatches>[number];
}

type Request =
  | { op: 'platform'; dir: string; cards: number }
  | { op: 'echo' }
  | { op: 'stats'; gc?: boolean }
  | { op: 'direct'; load?: LoadParams; batch?: Batch; commit?: number }
  | { op: 'probe' }
  | { op: 'residence' }
  | { op: 'check' }
  | { op: 'stop' };

interface Percentiles {
  readonly p50: number;
  readonly p99: number;
}

function percentiles(samples: readonly number[]): Percentiles {
  const t = Float64Array.from(samples).sort();
  return { p50: t[Math.floor(t.length * 0.5)]!, p99: t[Math.floor(t.length * 0.99)]! };
}

/** One call made in the server process without the wire, timed there (µs). */
interface Direct {
  readonly us: number;
  readonly settled: number;
}

/** The probe server's own timing of its requests (frame read → answer sent, µs), in the order they came. */
interface Residence {
  readonly load: number[];
  readonly batch: number[];
}

interface Stats {
  readonly userUs: number;
  readonly systemUs: number;
  /** Calls the server answered TIMEOUT or RATE_LIMITED (the client sends them again): counted from its debug lines. */
  readonly refused: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly commits: number;
  readonly connections: number;
}

interface Check {
  readonly ok: boolean;
  readonly payable: number;
  readonly pendingLoads: number;
  readonly pendingFen: number;
  readonly pragmas: { journalMode: string; synchronous: number };
}

async function child(): Promise<void> {
  let platform: Platform | undefined;
  let server: PlatformServer | undefined;
  let ledger: ReturnType<typeof openSqliteLedger> | undefined;
  let echo: WebSocketServer | undefined;
  let probe: PlatformServer | undefined;
  const resident = new Map<string, number[]>();
  let refused = 0;
  const serve = async (req: Request): Promise<unknown> => {
    switch (req.op) {
      case 'platform': {
        const t0 = nowUs();
        const profile = referenceProfile();
        const logger = pino({ name: 'simtap-host', level: 'info' }, pino.destination('/dev/null'));
        const serverLog = logger.child({ area: 'server' });
        ledger = openSqliteLedger({ path: join(req.dir, 'simtap.db') });
        platform = await openPlatform({
          ledger,
          keys: SoftwareIssuerKeyStore.fromProfile(profile),
          config: platformConfigFromProfile(profile),
          logger: logger.child({ area: 'platform' }),
        });
        const p = platform;
        const l = ledger;
        for (let i = 0; i < req.cards; i += 1_000) {
          const n = Math.min(1_000, req.cards - i);
          await Promise.all(
            Array.from({ length: n }, (_, k) => p.contactless.issue({ ...fleetCard(i + k), status: 'active' })),
          );
          await Promise.all(
            Array.from({ length: n }, (_, k) =>
              l.transfer({
                client: CLIENT,
                idempotencyKey: `fund:${i + k}`,
                from: ACCOUNT.cash(CLIENT),
                to: ACCOUNT.float(fleetCard(i + k).cardSerial),
                amount: FLOAT_FUND,
                memo: 'bench: float funded',
              }),
            ),
          );
        }
        for (const c of profile.platform.customers)
          await p.customers.topUpPhoneAccount({
            client: CLIENT,
            idempotencyKey: `top-up:${c.msisdn}`,
            msisdn: c.msisdn,
            amount: PHONE_TOP_UP,
          });
        server = createPlatformServer({
          platform: p,
          clients: profile.platform.clients,
          host: '127.0.0.1',
          port: 0,
          // simtap-host's logger, but for the per-request debug lines: they only count the TIMEOUT and RATE_LIMITED
          // answers, which the client would otherwise resend unseen.
          logger: {
            info: (o, m) => serverLog.info(o, m),
            warn: (o, m) => serverLog.warn(o, m),
            error: (o, m) => serverLog.error(o, m),
            debug: (o) => {
              const code = (o as { code?: unknown }).code;
              if (typeof code === 'string' && RESENT.has(code)) refused++;
            },
            isLevelEnabled: () => true,
          },
        });
        const { url } = await server.listen();
        return { url, setupMs: (nowUs() - t0) / 1000 };
      }
      case 'echo': {
        const replies = new Map<number, string>();
        echo = new WebSocketServer({
          host: '127.0.0.1',
          port: 0,
          perMessageDeflate: false,
          maxPayload: MAX_FRAME_BYTES,
          clientTracking: false,
          handleProtocols: () => SUBPROTOCOL,
        });
        echo.on('connection', (ws) => {
          ws.on('message', (data: Buffer, isBinary) => {
            // The frame's first 7 characters give the size of the answer.
            const size = Number(data.toString('latin1', 0, 7));
            let reply = replies.get(size);
            if (reply === undefined) {
              reply = 'x'.repeat(size);
              replies.set(size, reply);
            }
            ws.send(reply, { binary: isBinary });
          });
        });
        await new Promise<void>((resolve) => echo!.once('listening', () => resolve()));
        const a = echo.address() as { port: number };
        return { url: `ws://127.0.0.1:${a.port}`, setupMs: 0 };
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
          refused,
          rss: m.rss,
          heapUsed: m.heapUsed,
          external: m.external,
          commits: ledger?.commits ?? 0,
          connections: server?.connections.length ?? 0,
        };
        return s;
      }
      case 'direct': {
        // A call as the server's handlers make it (through the platform's logging wrapper), without the wire; or one
        // ledger transfer (cash → phone account, 1 fen) alone: a durable group commit.
        const p = platform ?? fail('direct before platform');
        const a = nowUs();
        let settled = 0;
        if (req.load) await p.wallets.authorizeLoad({ ...req.load, client: CLIENT });
        else if (req.batch) {
          const b = req.batch;
          const r = await p.wallets.submitBatch({ client: CLIENT, idempotencyKey: b.key, records: b.records });
          if (r.accepted !== b.records.length) fail(`direct batch ${b.key} accepted ${r.accepted}`);
          settled = r.settled;
        } else if (req.commit !== undefined)
          await p.ledger.transfer({
            client: CLIENT,
            idempotencyKey: `commit:${req.commit}`,
            from: ACCOUNT.cash(CLIENT),
            to: ACCOUNT.phone(referenceProfile().platform.customers[0]!.msisdn),
            amount: 1,
            memo: 'bench: one commit',
          });
        const d: Direct = { us: nowUs() - a, settled };
        return d;
      }
      case 'probe': {
        // A second server over the same platform whose logger keeps the server's own timing of every request.
        const p = platform ?? fail('probe before platform');
        const keep = (obj: object, msg?: string) => {
          const o = obj as { method?: string; ms?: number };
          if (msg !== 'request' || o.method === undefined || o.ms === undefined) return;
          const list = resident.get(o.method) ?? [];
          list.push(o.ms * 1000);
          resident.set(o.method, list);
        };
        probe = createPlatformServer({
          platform: p,
          clients: referenceProfile().platform.clients,
          host: '127.0.0.1',
          port: 0,
          logger: { info() {}, debug: keep, warn() {}, error() {}, isLevelEnabled: () => true },
        });
        const { url } = await probe.listen();
        return { url };
      }
      case 'residence': {
        const r: Residence = {
          load: resident.get('wallet.authorizeLoad') ?? [],
          batch: resident.get('clearing.submitBatch') ?? [],
        };
        resident.clear();
        await probe?.close();
        probe = undefined;
        return r;
      }
      case 'check': {
        const p = platform ?? fail('check before platform');
        const verified = await p.verify();
        const { payable } = await p.merchantBalance({ client: CLIENT });
        const { pending } = await p.wallets.loadReport();
        const c: Check = {
          ok: verified.ok,
          payable,
          pendingLoads: pending.length,
          pendingFen: pending.reduce((a, x) => a + x.amount, 0),
          pragmas: ledger!.pragmas(),
        };
        return c;
      }
      case 'stop': {
        await probe?.close();
        await server?.close();
        await platform?.close();
        await new Promise<void>((resolve) => (echo ? echo.close(() => resolve()) : resolve()));
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

// ---------------------------------------------------------------- the parent (client) side

/** A server child: requests over IPC, one answer each. */
class ServerChild {
  readonly #child: ChildProcess;
  readonly #waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #next = 1;
  #exited: Error | undefined;

  constructor(label: string) {
    const prof = process.env[PROF_ENV];
    this.#child = fork(fileURLToPath(import.meta.url), [label], {
      execArgv: [...process.execArgv, ...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [])],
      env: { ...process.env, [CHILD_ENV]: '1' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#child.on('message', (m: { id: number; ok: boolean; value?: unknown; error?: string }) => {
      const w = this.#waiting.get(m.id);
      if (!w) return;
      this.#waiting.delete(m.id);
      if (m.ok) w.resolve(m.value);
      else w.reject(new Error(`wire bench: the ${label} child failed: ${m.error}`));
    });
    this.#child.on('exit', (code, signal) => {
      this.#exited = new Error(`wire bench: the ${label} child exited (${signal ?? code})`);
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

interface Timing {
  readonly p50: number;
  readonly p99: number;
  readonly perSec: number;
  readonly calls: number;
  readonly elapsedUs: number;
  readonly clientCpuUs: number;
  readonly serverUserUs: number;
  readonly serverSystemUs: number;
  readonly refused: number;
  readonly commits: number;
}

/**
 * Runs `calls` calls, `concurrency` at a time (worker w makes its calls one after the other), each timed on its own;
 * the server's CPU time and commits over the run from its stats.
 */
async function timed(
  server: ServerChild,
  calls: number,
  concurrency: number,
  call: (i: number, worker: number) => Promise<unknown>,
): Promise<Timing> {
  const t = new Float64Array(calls);
  let next = 0;
  gc();
  const s0 = await server.call<Stats>({ op: 'stats' });
  const c0 = process.cpuUsage();
  const t0 = nowUs();
  const worker = async (w: number): Promise<void> => {
    for (let i = next++; i < calls; i = next++) {
      const a = nowUs();
      await call(i, w);
      t[i] = nowUs() - a;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const elapsedUs = nowUs() - t0;
  const c1 = process.cpuUsage(c0);
  const s1 = await server.call<Stats>({ op: 'stats' });
  t.sort();
  return {
    p50: t[Math.floor(calls * 0.5)]!,
    p99: t[Math.floor(calls * 0.99)]!,
    perSec: (calls * 1e6) / elapsedUs,
    calls,
    elapsedUs,
    clientCpuUs: c1.user + c1.system,
    serverUserUs: s1.userUs - s0.userUs,
    serverSystemUs: s1.systemUs - s0.systemUs,
    refused: s1.refused - s0.refused,
    commits: s1.commits - s0.commits,
  };
}

function measurement(name: string, t: Timing): Measurement {
  return { name, usPerOp: t.p50, opsPerSec: t.perSec, p99Us: t.p99 };
}

function cpuNote(t: Timing, commits: boolean): string {
  const parts = [
    `${fmt(t.calls)} calls in ${(t.elapsedUs / 1e6).toFixed(2)} s`,
    `CPU server ${fmt(t.serverUserUs / t.calls)} µs user + ${fmt(t.serverSystemUs / t.calls)} µs system a call, client ${fmt(t.clientCpuUs / t.calls)} µs`,
  ];
  if (t.refused > 0)
    parts.push(`${fmt(t.refused)} calls answered TIMEOUT or RATE_LIMITED and sent again by the client`);
  if (commits)
    parts.push(
      t.commits >= t.calls
        ? `${(t.commits / t.calls).toFixed(2)} ledger commits/call`
        : `${fmt(t.commits)} ledger commits (${(t.calls / t.commits).toFixed(1)} calls a group commit)`,
    );
  return parts.join('; ');
}

/** The `wallet.authorizeLoad` params of load `i` (on fleet card `i`, its first load: online counter 0). */
function loadParams(i: number, loadMasterKey: Uint8Array) {
  const card = fleetCard(i);
  const serial = fromHex(card.cardSerial);
  const dlk = diversifyPbocKey(loadMasterKey, diversificationDataOf(serial));
  const random = (0x1a2b3c4d ^ i) >>> 0;
  const randomHex = random.toString(16).toUpperCase().padStart(8, '0');
  const seslk = loadSessionKey(dlk, fromHex(randomHex), 0);
  const mac1 = loadMac1({
    sessionKey: seslk,
    oldBalance: 0,
    amount: LOAD_AMOUNT,
    tti: TTI.EP_LOAD,
    terminalId: fromHex(TERMINAL),
  });
  dlk.fill(0);
  seslk.fill(0);
  return {
    idempotencyKey: `wire-load-${i}`,
    cardSerial: card.cardSerial,
    terminalId: TERMINAL,
    amount: LOAD_AMOUNT,
    oldBalance: 0,
    onlineCounter: 0,
    random: randomHex,
    mac1: toHex(mac1),
    date: DATE,
    time: TIME,
    funding: { source: 'phoneAccount' as const, msisdn: card.msisdn },
  };
}

/** `count` batches of 100 records, batch b on fleet cards 100·b … 100·b + 99 (mod the fleet), counters in order. */
function makeBatches(count: number) {
  const issuer = new IssuerTacVerifier(referenceProfile().issuer.masterKeys.tacMasterKey);
  const counters = new Map<string, number>();
  let x = 20260301;
  const random = (): number => {
    x = (x * 1103515245 + 12345) >>> 0;
    return x >>> 8;
  };
  const terminalId = fromHex(TERMINAL);
  try {
    return Array.from({ length: count }, (_, b) =>
      Array.from({ length: BATCH }, (_, j) => {
        const cardSerial = fleetCard((b * BATCH + j) % FLEET).cardSerial;
        const offlineCounter = (counters.get(cardSerial) ?? 0) + 1;
        counters.set(cardSerial, offlineCounter);
        const amount = 100 + (random() % 4_900);
        const terminalSeq = b * BATCH + j + 1;
        const tac = issuer.purchaseTac(
          {
            amount,
            tti: TTI.EP_PURCHASE,
            terminalId,
            terminalTxnSeq: terminalSeq,
            date: fromHex(DATE),
            time: fromHex(TIME),
          },
          fromHex(cardSerial),
        );
        return {
          cardSerial,
          offlineCounter,
          amount,
          tti: TTI.EP_PURCHASE,
          terminalId: TERMINAL,
          terminalSeq,
          date: DATE,
          time: TIME,
          tac: toHex(tac),
        };
      }),
    );
  } finally {
    issuer.destroy();
  }
}

function newClient(url: string): PlatformClient {
  const c = referenceProfile().platform.clients.find((x) => x.id === CLIENT)!;
  return new PlatformClient({ url, clientId: c.id, secret: c.secret, timeoutMs: 300_000 });
}

/** Opens `n` clients (`chunk` connecting at a time), each authenticated. */
async function connectAll<T>(n: number, open: () => Promise<T>, chunk = 100): Promise<T[]> {
  const all: T[] = [];
  for (let i = 0; i < n; i += chunk)
    all.push(...(await Promise.all(Array.from({ length: Math.min(chunk, n - i) }, open))));
  return all;
}

interface Sizes {
  load: { request: number; response: number };
  batch: { request: number; response: number };
}

interface PlatformResult {
  rows: { loadOne: Timing; batchOne: Timing; loadTurn: Timing; batchTurn: Timing; loadAll: Timing; batchAll: Timing };
  sizes: Sizes;
  breakdown: { load: Breakdown; batch: Breakdown };
  setupMs: number;
}

async function platformRun(): Promise<PlatformResult> {
  const dir = mkdtempSync(join(tmpdir(), 'simtap-bench-wire-'));
  const server = new ServerChild('platform');
  const clients: PlatformClient[] = [];
  try {
    const { url, setupMs } = await server.call<{ url: string; setupMs: number }>({
      op: 'platform',
      dir,
      cards: FLEET,
    });
    const loadMasterKey = referenceProfile().issuer.masterKeys.loadMasterKey;
    let nextLoad = 0;
    const loads = (n: number): LoadParams[] => {
      if (nextLoad + n > FLEET) fail('more loads than fleet cards');
      return Array.from({ length: n }, () => loadParams(nextLoad++, loadMasterKey));
    };
    const batches = makeBatches(BATCHES);
    let nextBatch = 0;
    const takeBatches = (n: number): Batch[] => {
      const from = nextBatch;
      if (from + n > batches.length) fail('more batches taken than made');
      nextBatch += n;
      return batches.slice(from, nextBatch).map((records, k) => ({ key: `wire-batch-${from + k}`, records }));
    };
    let settled = 0;
    const authorize = async (c: PlatformClient, p: LoadParams) => {
      const r = await c.wallet.authorizeLoad(p);
      if (!r.loadId || r.mac2.length !== 8) fail(`authorizeLoad answered ${JSON.stringify(r)}`);
      return r;
    };
    const submit = async (c: PlatformClient, b: Batch) => {
      const r = await c.clearing.submitBatch({ idempotencyKey: b.key, records: b.records });
      if (r.accepted !== b.records.length || r.rejected.length > 0)
        fail(`batch ${b.key} accepted ${r.accepted} of ${b.records.length}: ${JSON.stringify(r.rejected.slice(0, 3))}`);
      settled += r.settled;
      return r;
    };

    // One client.
    const one = newClient(url);
    clients.push(one);
    await one.connect();
    for (const p of loads(LOAD_WARMUP)) await authorize(one, p);
    const l1 = loads(LOADS_ONE);
    const loadOne = await timed(server, l1.length, 1, (i) => authorize(one, l1[i]!));
    const probe = loads(1)[0]!;
    const probeAnswer = await authorize(one, probe);
    for (const b of takeBatches(BATCH_WARMUP)) await submit(one, b);
    const b1 = takeBatches(BATCHES_ONE);
    const batchOne = await timed(server, b1.length, 1, (i) => submit(one, b1[i]!));
    const batchProbe = takeBatches(1)[0]!;
    const batchAnswer = await submit(one, batchProbe);
    // The frames as they went: the request the client sends (its ids run to 4 digits here) and the answer.
    const sizes: Sizes = {
      load: {
        request: Buffer.byteLength(requestFrame(1000, 'wallet.authorizeLoad', probe)),
        response: Buffer.byteLength(resultFrame(1000, probeAnswer)),
      },
      batch: {
        request: Buffer.byteLength(
          requestFrame(1000, 'clearing.submitBatch', { idempotencyKey: batchProbe.key, records: batchProbe.records }),
        ),
        response: Buffer.byteLength(resultFrame(1000, batchAnswer)),
      },
    };
    await one.close();
    clients.length = 0;

    // Where the time goes: calls through a second server that times each request, each followed by the same call
    // made in the server process without the wire (and, for loads, by one ledger transfer alone), interleaved so
    // that the disk's good and bad moments fall on all of them alike.
    const { url: probeUrl } = await server.call<{ url: string }>({ op: 'probe' });
    const timedClient = newClient(probeUrl);
    await timedClient.connect();
    const bl = { client: [] as number[], direct: [] as number[], commit: [] as number[], read: [] as number[] };
    for (const [k, p] of loads(BREAKDOWN_LOADS).entries()) {
      const a = nowUs();
      await authorize(timedClient, p);
      bl.client.push(nowUs() - a);
      const b = nowUs();
      await timedClient.wallet.float({ cardSerial: p.cardSerial });
      bl.read.push(nowUs() - b);
      bl.direct.push((await server.call<Direct>({ op: 'direct', load: loads(1)[0]! })).us);
      bl.commit.push((await server.call<Direct>({ op: 'direct', commit: k })).us);
    }
    const bb = { client: [] as number[], direct: [] as number[] };
    for (const b of takeBatches(BREAKDOWN_BATCHES)) {
      const a = nowUs();
      await submit(timedClient, b);
      bb.client.push(nowUs() - a);
      const d = await server.call<Direct>({ op: 'direct', batch: takeBatches(1)[0]! });
      bb.direct.push(d.us);
      settled += d.settled;
    }
    await timedClient.close();
    const residence = await server.call<Residence>({ op: 'residence' });
    const breakdown = {
      load: { ...breakdownOf(bl.client, residence.load, bl.direct, bl.commit), read: median(bl.read) },
      batch: breakdownOf(bb.client, residence.batch, bb.direct),
    };

    // 1,000 clients: a warm-up call on each, then one call at a time from the next client in turn.
    clients.push(
      ...(await connectAll(CLIENTS, async () => {
        const c = newClient(url);
        await c.connect();
        return c;
      })),
    );
    const warm = loads(CLIENTS);
    await Promise.all(clients.map((c, i) => authorize(c, warm[i]!)));
    const lt = loads(LOADS_TURN);
    const loadTurn = await timed(server, lt.length, 1, (i) => authorize(clients[i % CLIENTS]!, lt[i]!));
    const bt = takeBatches(BATCHES_TURN);
    const batchTurn = await timed(server, bt.length, 1, (i) => submit(clients[(i * 7) % CLIENTS]!, bt[i]!));

    // 1,000 clients at once, each one call at a time (the batches: one per client, BATCHES_IN_FLIGHT at once).
    const la = loads(LOADS_PER_CLIENT * CLIENTS);
    const loadAll = await timed(server, la.length, CLIENTS, (i, w) => authorize(clients[w]!, la[i]!));
    const ba = takeBatches(CLIENTS);
    const batchAll = await timed(server, ba.length, BATCHES_IN_FLIGHT, (i) => submit(clients[i]!, ba[i]!));

    // The books.
    const check = await server.call<Check>({ op: 'check' });
    if (!check.ok) fail('verify() failed');
    if (check.pragmas.journalMode !== 'wal' || check.pragmas.synchronous !== 2)
      fail(`the store runs with ${JSON.stringify(check.pragmas)}, not WAL + FULL (2)`);
    if (check.payable !== settled) fail(`merchant payable ${check.payable} fen ≠ ${settled} fen the batches settled`);
    const sent = batches.slice(0, nextBatch).reduce((a, b) => a + b.reduce((s, r) => s + r.amount, 0), 0);
    if (settled !== sent) fail(`the batches settled ${settled} fen, their records hold ${sent}`);
    if (check.pendingLoads !== nextLoad || check.pendingFen !== nextLoad * LOAD_AMOUNT)
      fail(`${check.pendingLoads} loads pending (${check.pendingFen} fen), the bench made ${nextLoad}`);

    return {
      rows: { loadOne, batchOne, loadTurn, batchTurn, loadAll, batchAll },
      sizes,
      breakdown,
      setupMs,
    };
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface MemoryResult {
  readonly before: Stats;
  readonly after: Stats;
  readonly connectMs: number;
}

/**
 * The cost of 1,000 idle connections, on a server child of its own (the platform with the profile only, so that no
 * earlier work has left freed memory for the connections to reuse): one client connects, calls and leaves (every
 * code path loaded), then the server's memory after a forced GC; 1,000 clients connect and authenticate, stay idle
 * for a second, and the server's memory again.
 */
async function memoryRun(): Promise<MemoryResult> {
  const dir = mkdtempSync(join(tmpdir(), 'simtap-bench-wire-memory-'));
  const server = new ServerChild('memory');
  const clients: PlatformClient[] = [];
  try {
    const { url } = await server.call<{ url: string }>({ op: 'platform', dir, cards: 0 });
    const first = newClient(url);
    await first.merchants.balance();
    await first.close();
    await new Promise((r) => setTimeout(r, 500));
    const before = await server.call<Stats>({ op: 'stats', gc: true });
    const t0 = nowUs();
    clients.push(
      ...(await connectAll(CLIENTS, async () => {
        const c = newClient(url);
        await c.connect();
        return c;
      })),
    );
    const connectMs = (nowUs() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 1_000));
    const after = await server.call<Stats>({ op: 'stats', gc: true });
    if (after.connections !== CLIENTS) fail(`the server holds ${after.connections} connections, not ${CLIENTS}`);
    return { before, after, connectMs };
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A raw `ws` client of the echo child: `roundTrip(frame)` resolves on the answer. */
async function echoSocket(url: string): Promise<{ ws: WebSocket; roundTrip: (frame: string) => Promise<void> }> {
  const ws = new WebSocket(url, SUBPROTOCOL);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.on('error', () => undefined);
  let waiting: (() => void) | undefined;
  ws.on('message', () => {
    const w = waiting;
    waiting = undefined;
    w?.();
  });
  return {
    ws,
    roundTrip: (frame) =>
      new Promise<void>((resolve) => {
        waiting = resolve;
        ws.send(frame);
      }),
  };
}

/** A text frame of `size` bytes asking the echo for `reply` bytes back. */
function echoFrame(size: number, reply: number): string {
  const head = String(reply).padStart(7, '0');
  return head + 'x'.repeat(Math.max(0, size - head.length));
}

interface EchoResult {
  one: { load: Timing; batch: Timing };
  turn: { load: Timing; batch: Timing };
  all: { load: Timing; batch: Timing };
}

async function echoRun(sizes: Sizes): Promise<EchoResult> {
  const server = new ServerChild('echo');
  const sockets: WebSocket[] = [];
  try {
    const { url } = await server.call<{ url: string }>({ op: 'echo' });
    const load = echoFrame(sizes.load.request, sizes.load.response);
    const batch = echoFrame(sizes.batch.request, sizes.batch.response);
    const one = await echoSocket(url);
    sockets.push(one.ws);
    for (let i = 0; i < ECHO_WARMUP; i++) await one.roundTrip(i % 2 ? load : batch);
    const oneLoad = await timed(server, ECHOS_ONE, 1, () => one.roundTrip(load));
    const oneBatch = await timed(server, ECHOS_ONE, 1, () => one.roundTrip(batch));
    one.ws.close();
    const many = await connectAll(CLIENTS, () => echoSocket(url));
    sockets.push(...many.map((s) => s.ws));
    await Promise.all(many.map((s) => s.roundTrip(load)));
    await Promise.all(many.map((s) => s.roundTrip(batch)));
    const turnLoad = await timed(server, ECHOS_TURN, 1, (i) => many[i % CLIENTS]!.roundTrip(load));
    const turnBatch = await timed(server, ECHOS_TURN, 1, (i) => many[(i * 7) % CLIENTS]!.roundTrip(batch));
    const allLoad = await timed(server, ECHOS_PER_CLIENT * CLIENTS, CLIENTS, (_, w) => many[w]!.roundTrip(load));
    const allBatch = await timed(server, CLIENTS, BATCHES_IN_FLIGHT, (i) => many[i]!.roundTrip(batch));
    return {
      one: { load: oneLoad, batch: oneBatch },
      turn: { load: turnLoad, batch: turnBatch },
      all: { load: allLoad, batch: allBatch },
    };
  } finally {
    for (const ws of sockets) ws.terminate();
    await server.stop();
  }
}

/** The breakdown of one method's calls: medians (µs) of the series and of the per-call differences. */
interface Breakdown {
  readonly calls: number;
  /** At the client. */
  readonly client: number;
  /** In the server, frame read → answer sent. */
  readonly resident: number;
  /** The same call in the server process without the wire. */
  readonly direct: number;
  /** One ledger transfer alone. */
  readonly commit?: number;
  /** A read (`wallet.float`, no commit) through the same client and server. */
  readonly read?: number;
  /** Medians of client − resident (the client, ws and loopback) and resident − direct (parsing, checks, dispatch). */
  readonly outside: number;
  readonly dispatch: number;
}

function median(xs: readonly number[]): number {
  return percentiles(xs).p50;
}

function breakdownOf(client: number[], resident: number[], direct: number[], commit?: number[]): Breakdown {
  if (resident.length !== client.length) fail(`the probe server timed ${resident.length} calls of ${client.length}`);
  return {
    calls: client.length,
    client: median(client),
    resident: median(resident),
    direct: median(direct),
    ...(commit ? { commit: median(commit) } : {}),
    outside: median(client.map((c, i) => c - resident[i]!)),
    dispatch: median(resident.map((r, i) => r - direct[i]!)),
  };
}

const us = (n: number): string => `${Math.round(n).toLocaleString('en-US')} µs`;

/** Where a 1-client call's time goes, from the breakdown pass. */
function breakdownNote(b: Breakdown, echo: Timing): string {
  const parts = [
    `where the time goes (medians of ${fmt(b.calls)} more calls through a server that times each request, each followed by the same call without the wire): ${us(b.client)} at the client`,
    `${us(b.resident)} in the server from the frame read to the answer sent (the client, ws and loopback: ${us(b.outside)}; the echo's whole round trip ${us(echo.p50)})`,
    `the platform call alone in the server process: ${us(b.direct)} (parsing, checks and dispatch: ${us(b.dispatch)})`,
  ];
  if (b.commit !== undefined)
    parts.push(`one ledger transfer alone, i.e. a durable group commit (WAL write + fsync): ${us(b.commit)}`);
  if (b.read !== undefined)
    parts.push(
      `a read without a commit (wallet.float of the same card) through the same client and server: ${us(b.read)} (×${(b.read / echo.p50).toFixed(2)} the echo)`,
    );
  return parts.join('; ');
}

/** Runs the wire benchmark: the platform rows, the memory of idle connections, then the echo of the same frame sizes. */
export async function benchWire(): Promise<BenchRow[]> {
  const busy = loadavg()[0]!;
  const p = await platformRun();
  const m = await memoryRun();
  const e = await echoRun(p.sizes);
  const { load, batch } = p.sizes;
  const loadFrames = `${load.request} B request, ${load.response} B response`;
  const batchFrames = `${batch.request} B request, ${batch.response} B response`;
  const echoName = (what: string, f: { request: number; response: number }) =>
    `ws echo ${f.request} B → ${f.response} B, ${what}`;
  const rows: BenchRow[] = [];
  const add = (
    name: string,
    t: Timing,
    raw: Timing,
    rawName: string,
    note: string,
    target?: Parameters<typeof row>[3],
    records = false,
  ) => {
    const extra = records ? `; ${fmt(t.perSec * BATCH)} records/s` : '';
    rows.push(
      row(
        GROUP,
        measurement(name, t),
        measurement(rawName, raw),
        target,
        `${note}${extra}; ${cpuNote(t, true)}; echo: p99 ${raw.p99.toFixed(1)} µs, ${fmt(raw.perSec)} round trips/s, ${cpuNote(raw, false)}`,
      ),
    );
  };
  add(
    'authorizeLoad, 1 client',
    p.rows.loadOne,
    e.one.load,
    echoName('1 socket', load),
    `${loadFrames}; one call at a time; load average ${busy.toFixed(2)} when the suite started; ${breakdownNote(p.breakdown.load, e.one.load)}`,
    { maxRatio: 3 },
  );
  add(
    'submitBatch (100 records), 1 client',
    p.rows.batchOne,
    e.one.batch,
    echoName('1 socket', batch),
    `${batchFrames}; one call at a time; ${breakdownNote(p.breakdown.batch, e.one.batch)}`,
    undefined,
    true,
  );
  add(
    `authorizeLoad, ${fmt(CLIENTS)} clients, in turn`,
    p.rows.loadTurn,
    e.turn.load,
    echoName(`${fmt(CLIENTS)} sockets in turn`, load),
    `one call at a time, each from the next of ${fmt(CLIENTS)} connected clients`,
  );
  add(
    `submitBatch (100 records), ${fmt(CLIENTS)} clients, in turn`,
    p.rows.batchTurn,
    e.turn.batch,
    echoName(`${fmt(CLIENTS)} sockets in turn`, batch),
    `one call at a time, each from another of ${fmt(CLIENTS)} connected clients`,
    undefined,
    true,
  );
  add(
    `authorizeLoad, ${fmt(CLIENTS)} clients at once`,
    p.rows.loadAll,
    e.all.load,
    echoName(`${fmt(CLIENTS)} sockets at once`, load),
    `${fmt(CLIENTS)} clients calling together, each ${LOADS_PER_CLIENT} calls one after the other`,
  );
  add(
    `submitBatch (100 records), ${fmt(CLIENTS)} clients, ${BATCHES_IN_FLIGHT} at once`,
    p.rows.batchAll,
    e.all.batch,
    echoName(`${fmt(CLIENTS)} sockets, ${BATCHES_IN_FLIGHT} at once`, batch),
    `one batch from each of the ${fmt(CLIENTS)} connected clients, ${BATCHES_IN_FLIGHT} in flight (more in flight take the slowest near the server's 30 s request timeout)`,
    undefined,
    true,
  );
  const { before, after, connectMs } = m;
  const perThousand = (mb(after.rss - before.rss) * 1_000) / CLIENTS;
  const kib = (n: number) => `${(n / CLIENTS / 1024).toFixed(1)} KiB`;
  rows.push(
    quantityRow(
      MEMORY_GROUP,
      `RSS of ${fmt(CLIENTS)} idle authenticated connections`,
      { value: perThousand, unit: 'MB' },
      { maxQuantity: 100 },
      `server RSS ${mb(before.rss).toFixed(1)} → ${mb(after.rss).toFixed(1)} MB (${kib(after.rss - before.rss)} a connection), ` +
        `V8 heap used ${mb(before.heapUsed).toFixed(1)} → ${mb(after.heapUsed).toFixed(1)} MB (${kib(after.heapUsed - before.heapUsed)} a connection), ` +
        `external ${mb(before.external).toFixed(1)} → ${mb(after.external).toFixed(1)} MB, each after a forced GC, on a fresh server ` +
        `(the profile's data only); ${fmt(CLIENTS)} connects + authentications in ${fmt(connectMs)} ms, then 1 s idle. ` +
        `The platform rows' server: ${fmt(FLEET)} cards issued and funded in ${fmt(p.setupMs)} ms before them`,
    ),
  );
  return rows;
}

if (process.env[CHILD_ENV] === '1' && process.send) await child();
