/**
 * {@link MachineAgent}: a machine's end of `/v1/machine` (see `machine-protocol.ts` for the protocol) — records
 * kept on the machine's disk until its application system has stored them, and the config (fares, door rules, the
 * platform's signed blacklist) the application system pushes, verified before it is used.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import WebSocket from 'ws';
import { z } from 'zod';
import { fromHex } from '../core/bytes';
import { ArgumentError } from '../core/errors';
import {
  errorFrame,
  hasWireCode,
  JSONRPC_ERRORS,
  notificationFrame,
  parseFrame,
  type RequestId,
  type RpcError,
  requestFrame,
  SUBPROTOCOL,
  sessionProof,
} from '../wire';
import { applyBlacklistDelta, type BlacklistState, blacklistPublicKey, normalizeSerial } from './blacklist';
import { errorFromRpc } from './errors';
import { MachineLinkError } from './machine-errors';
import {
  type ConfigRefusal,
  checkMachineParams,
  DoorRuleSchema,
  FareTableSchema,
  MACHINE_CLOSE_CODES,
  MACHINE_MAX_BATCH,
  MACHINE_MAX_FRAME_BYTES,
  MACHINE_MESSAGES,
  MACHINE_PATH,
  type MachineConfig,
  MachineConfigSchema,
  MachineId,
  type MachineKind,
  type MachineLogger,
  type MachineRecord,
  type MachineRecordEntry,
  type MachineResultOf,
  type MachineStatus,
  positiveOption,
  SILENT_LOGGER,
  secretOf,
  TypedEmitter,
} from './machine-protocol';
import { backoffDelay, type TlsOptions } from './platform-client';
import { RecordBuffer, writeFileAtomic } from './record-buffer';

const CONFIG_FILE = 'config.json';
/** The errno of a file that does not exist (no config stored yet). */
const FILE_MISSING = new Set(['ENOENT']);

const StoredConfigSchema = z.strictObject({
  format: z.literal(1),
  version: z.number().int().min(1),
  fares: FareTableSchema.optional(),
  doors: z.array(DoorRuleSchema).optional(),
  blacklist: z.strictObject({
    version: z.number().int().min(0),
    serials: z.array(z.string().regex(/^[0-9A-F]{20}$/)),
  }),
});

/** The config a machine runs: what the hub pushed, verified; the blacklist as its version and size. */
export interface MachineAgentConfig {
  readonly version: number;
  readonly fares: MachineConfig['fares'];
  readonly doors: MachineConfig['doors'];
  /** The blacklist's version (the platform's). */
  readonly blacklistVersion: number;
  /** Cards on the blacklist. */
  readonly blacklistSize: number;
}

/** Reconnection: exponential backoff with full jitter (each wait uniform in `[0, min(max, initial·2ⁿ)]`), forever. */
export interface MachineReconnectOptions {
  /** The cap of the first wait, in ms (default 250). */
  readonly initialDelayMs?: number;
  /** The largest cap, in ms (default 10,000). */
  readonly maxDelayMs?: number;
}

/** The options of {@link MachineAgent}. */
export interface MachineAgentOptions {
  /** The hub: `ws://host:port` (`/v1/machine` is added) or a full URL with a path (kept as given). */
  readonly url: string;
  /** The machine's id, as the hub knows it. */
  readonly machineId: string;
  /** The machine's secret: bytes, or hex. It proves the session and is never sent nor logged. */
  readonly secret: Uint8Array | string;
  /**
   * The platform's Ed25519 key for blacklist deltas (`cards.blacklistKey`), raw 32 bytes or hex, set up with the
   * machine: a config whose blacklist does not verify under it is refused.
   */
  readonly blacklistPublicKey: Uint8Array | string;
  /** The directory of the machine's record buffer and config (created when missing; one agent at a time). */
  readonly bufferDir: string;
  /** Reconnection (see {@link MachineReconnectOptions}). */
  readonly reconnect?: MachineReconnectOptions;
  /** Records per `machine.records` batch (default 100, at most 500). */
  readonly batchSize?: number;
  /** The time an attempt (upgrade and authentication) may take, in ms (default 10,000). */
  readonly connectTimeoutMs?: number;
  /** The time the hub may take to answer a batch before the link is dropped and opened again (default 30,000). */
  readonly requestTimeoutMs?: number;
  /** Ping interval, in ms (default 15,000; 0 turns pings off): a hub silent for one interval is dropped. */
  readonly heartbeatMs?: number;
  /** TLS options for `wss://`. */
  readonly tls?: TlsOptions;
  /** Where the agent logs (a pino logger fits); silent by default. */
  readonly logger?: MachineLogger;
}

/**
 * The agent's link state: `idle` before `start()`; `connecting` (first attempt) / `reconnecting` (after a drop or
 * a failed attempt, `delayMs` before the next); `connected`; `stopped` (after `stop()`, or final: the hub refused
 * the machine — `error` says why).
 */
export type MachineLinkState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'stopped';

/** The events of {@link MachineAgent} (`agent.on(name, listener)`). */
export interface MachineAgentEventMap {
  /** The link changed state. */
  connection: {
    readonly state: MachineLinkState;
    readonly attempt: number;
    readonly delayMs?: number;
    readonly error?: Error;
    readonly closeCode?: number;
  };
  /** A config was verified, stored and acknowledged. */
  config: { readonly version: number; readonly blacklistVersion: number };
  /** A config was refused (and not acknowledged); the agent runs the one it had. */
  configRefused: { readonly version: number; readonly reason: ConfigRefusal };
  /** The hub stored the records up to `ackedSeq`; `pending` are still held. */
  delivered: { readonly ackedSeq: number; readonly pending: number };
}

/** Options of {@link MachineAgent.delivered}. */
export interface DeliveredOptions {
  /** Gives up after this many ms with `DELIVERY_TIMEOUT` (default: waits as long as it takes). */
  readonly timeoutMs?: number;
  /** Stops waiting (rejects with the signal's reason). */
  readonly signal?: AbortSignal;
}

type Answer = { readonly ok: true; readonly result: unknown } | { readonly ok: false; readonly error: RpcError };

const AUTH_ID = 'auth';
/** What a request in flight gets when the link closes (JSON-RPC's internal error code). */
const LINK_CLOSED: RpcError = { code: -32603, message: 'the link closed before the answer' };
/** What a request given up on after its time gets, the link left up (`MachineAgent.request`). */
const TIMED_OUT: RpcError = { code: -32603, message: 'no answer in time' };

/** The error that ends the agent's attempts when the hub closed with `closeCode`, if it is final. */
function finalClose(closeCode: number | undefined, machineId: string): MachineLinkError | undefined {
  switch (closeCode) {
    case MACHINE_CLOSE_CODES.AUTHENTICATION_FAILED:
      return new MachineLinkError(
        'MACHINE_AUTH_FAILED',
        `${machineId}: the hub refused the machine (wrong secret or unknown id)`,
        { closeCode },
      );
    case MACHINE_CLOSE_CODES.SUPERSEDED:
      return new MachineLinkError(
        'MACHINE_SUPERSEDED',
        `${machineId}: another session of this machine replaced this one`,
        {
          closeCode,
        },
      );
    default:
      return undefined;
  }
}

/**
 * A machine's link to its application system over `/v1/machine`. `record()` appends a record to a crash-safe
 * buffer on the machine's disk (flushed before it resolves) and the agent delivers the buffer in order whenever the
 * link is up; the hub acknowledges what it stored, and only then does the agent drop those records. Offline, records
 * pile up on the disk — across restarts and `kill -9` — and go out exactly once when the link returns. A record is a
 * purchase record for clearing or a machine event that moves no money (`{ event: 'door.decision', at, data }`, see
 * `MachineEventSchema`): both share the machine's one sequence.
 *
 * The hub's configs are checked before they are used: the blacklist delta must carry the platform's Ed25519
 * signature under the key the machine was set up with and start at the machine's blacklist version (or be a whole
 * list); a config is stored on the disk, then acknowledged. `isBlacklisted` answers from it offline.
 * @example
 * import { clearingRecord, MachineAgent } from '@simtap/sdk/clients';
 * const agent = new MachineAgent({
 *   url: 'ws://metro-office.local:7900',
 *   machineId: 'gate-7',
 *   secret: GATE_7_SECRET,
 *   blacklistPublicKey: PLATFORM_BLACKLIST_KEY,
 *   bufferDir: '/var/lib/gate-7',
 * });
 * await agent.start();
 * // at each tap:
 * if (agent.isBlacklisted(cardSerial)) refuseEntry();
 * else await agent.record(clearingRecord(await gate.purchase({ amount: agent.config?.fares?.flat ?? 200 })));
 * // at shutdown:
 * await agent.stop();
 */
export class MachineAgent {
  /** The machine's id. */
  readonly machineId: string;
  /** The hub's URL. */
  readonly url: string;
  /** The buffer directory. */
  readonly bufferDir: string;

  readonly #secret: Uint8Array;
  readonly #publicKey: Uint8Array;
  readonly #reconnect: { initialDelayMs: number; maxDelayMs: number };
  readonly #batchSize: number;
  readonly #connectTimeoutMs: number;
  readonly #requestTimeoutMs: number;
  readonly #heartbeatMs: number;
  readonly #wsOptions: Record<string, unknown>;
  readonly #logger: MachineLogger;
  readonly #emitter = new TypedEmitter<MachineAgentEventMap>();

  #state: MachineLinkState = 'idle';
  #buffer: RecordBuffer | undefined;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #running: Promise<void> | undefined;
  #fatal: MachineLinkError | undefined;
  #kind: MachineKind | undefined;
  #config: Omit<MachineAgentConfig, 'blacklistVersion' | 'blacklistSize'> | undefined;
  #blacklist: BlacklistState = { version: 0, serials: new Set() };
  #configChain: Promise<unknown> = Promise.resolve();
  #detail: MachineStatus['detail'];
  /** The socket of the attempt or session under way. */
  #socket: WebSocket | undefined;
  /** The socket of the open session (authenticated, buffer synced). */
  #session: WebSocket | undefined;
  #nextId = 1;
  readonly #requests = new Map<number, (answer: Answer) => void>();
  /** The delivery loop's waits: ended by a new record, a closed session, or `stop()`. */
  readonly #workWaits = new Set<() => void>();
  /** The reconnect loop's waits: ended by `stop()`. */
  readonly #linkWaits = new Set<() => void>();

  /**
   * Checks the options; nothing happens before `start()`.
   * @throws {ArgumentError} `BAD_ARGUMENT` for a URL that is not `ws(s)://`, a machine id outside
   * `[A-Za-z0-9._:-]{1,64}`, an empty or non-hex secret, a key that is not 32 bytes, a batch size outside 1–500.
   */
  constructor(options: MachineAgentOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch (e) {
      throw new ArgumentError(`url: not a URL: ${String(options.url)}`, { cause: e });
    }
    if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new ArgumentError('url: ws:// or wss://');
    if (url.pathname === '/' || url.pathname === '') url.pathname = MACHINE_PATH;
    this.url = url.toString();
    if (!MachineId.safeParse(options.machineId).success)
      throw new ArgumentError('machineId: 1–64 characters of A–Z a–z 0–9 . _ : -');
    this.machineId = options.machineId;
    this.#secret = secretOf(options.secret, 'secret');
    this.#publicKey = blacklistPublicKey(options.blacklistPublicKey);
    if (typeof options.bufferDir !== 'string' || options.bufferDir.length === 0)
      throw new ArgumentError('bufferDir: a directory path');
    this.bufferDir = options.bufferDir;
    const r = options.reconnect ?? {};
    this.#reconnect = {
      initialDelayMs: positiveOption(r.initialDelayMs, 250, 'reconnect.initialDelayMs'),
      maxDelayMs: positiveOption(r.maxDelayMs, 10_000, 'reconnect.maxDelayMs'),
    };
    this.#batchSize = positiveOption(options.batchSize, 100, 'batchSize');
    if (!Number.isInteger(this.#batchSize) || this.#batchSize > MACHINE_MAX_BATCH)
      throw new ArgumentError(`batchSize: an integer 1–${MACHINE_MAX_BATCH}`);
    this.#connectTimeoutMs = positiveOption(options.connectTimeoutMs, 10_000, 'connectTimeoutMs');
    this.#requestTimeoutMs = positiveOption(options.requestTimeoutMs, 30_000, 'requestTimeoutMs');
    this.#heartbeatMs = options.heartbeatMs === 0 ? 0 : positiveOption(options.heartbeatMs, 15_000, 'heartbeatMs');
    this.#logger = options.logger ?? SILENT_LOGGER;
    const tls = options.tls ?? {};
    this.#wsOptions = {
      handshakeTimeout: this.#connectTimeoutMs,
      maxPayload: MACHINE_MAX_FRAME_BYTES,
      perMessageDeflate: false,
      ...Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined)),
    };
  }

  /** The link state. */
  get state(): MachineLinkState {
    return this.#state;
  }

  /** The machine's kind, as the hub answered it (`undefined` before the first session). */
  get kind(): MachineKind | undefined {
    return this.#kind;
  }

  /** The config the machine runs (verified, stored on its disk), or `undefined` before the first one. */
  get config(): MachineAgentConfig | undefined {
    const c = this.#config;
    return c && { ...c, blacklistVersion: this.#blacklist.version, blacklistSize: this.#blacklist.serials.size };
  }

  /** Records held on the disk and not yet stored by the application system. */
  get pending(): number {
    return this.#buffer?.pending ?? 0;
  }

  /** The last sequence number given to a record. */
  get lastSeq(): number {
    return this.#buffer?.lastSeq ?? 0;
  }

  /** The highest sequence number the hub acknowledged. */
  get ackedSeq(): number {
    return this.#buffer?.ackedSeq ?? 0;
  }

  /**
   * True when the card is on the blacklist of the config the machine runs (serial as 20 hex digits or 10 bytes).
   * @example
   * if (agent.isBlacklisted('00004401202600000003')) console.log('card blocked: refuse it');
   */
  isBlacklisted(cardSerial: string | Uint8Array): boolean {
    return this.#blacklist.serials.has(normalizeSerial(cardSerial));
  }

  /**
   * Opens the buffer (a torn last line of a crash is cut off; records not yet acknowledged wait for the link)
   * and the stored config, then connects in the background — offline is normal. Calling it again returns the same
   * promise.
   * @throws {MachineLinkError} `BUFFER_CORRUPT` / `BUFFER_IO` (the buffer or the stored config); `AGENT_STOPPED`
   * after `stop()`.
   * @example
   * await agent.start();
   */
  start(): Promise<void> {
    if (this.#stopping) return Promise.reject(new MachineLinkError('AGENT_STOPPED', 'the agent was stopped'));
    this.#starting ??= (async () => {
      const buffer = await RecordBuffer.open(this.bufferDir);
      try {
        await this.#loadConfig();
      } catch (e) {
        await buffer.close();
        throw e;
      }
      if (this.#stopping) {
        await buffer.close();
        throw new MachineLinkError('AGENT_STOPPED', 'the agent was stopped');
      }
      this.#buffer = buffer;
      this.#running = this.#run();
    })();
    return this.#starting;
  }

  /**
   * Appends a record to the buffer and flushes it to the disk; resolves once it is durable (then it will reach
   * the application system exactly once, whatever happens to the link or the process). Delivery follows when the
   * link is up.
   * @throws {ArgumentError} `BAD_ARGUMENT` for a record that is neither a purchase record nor a machine event.
   * @throws {MachineLinkError} `AGENT_STOPPED` before `start()` resolved or after `stop()`; `BUFFER_IO`.
   * @example
   * const sale = await till.purchase({ amount: 1250 });
   * await agent.record(clearingRecord(sale));
   */
  async record(record: MachineRecord): Promise<void> {
    const buffer = this.#buffer;
    if (!buffer || this.#stopping)
      throw new MachineLinkError('AGENT_STOPPED', `${this.machineId}: record() before start() or after stop()`);
    await buffer.append(record);
    this.#wake();
  }

  /**
   * An online request to the application system (`machine.request`), answered while the machine waits: a till's
   * online charge, an online authorization. `name` and `params` are the application system's (`MachineHub`'s
   * `onRequest`); resolves with its answer. Not buffered: offline, it fails at once. Put an idempotency key in
   * `params` of anything that moves money, and send it again with the same key after `REQUEST_UNANSWERED`.
   * @throws {ArgumentError} `BAD_ARGUMENT`: a name that is not dotted, params that are no JSON or over 16 KiB.
   * @throws {MachineLinkError} `NOT_CONNECTED` (no session now), `REQUEST_UNANSWERED` (the link closed or
   *   `timeoutMs`, default 10 s, passed first), `AGENT_STOPPED`.
   * @throws {PlatformCallError} the application system's refusal, with its `simtap.v1` code (`UNAVAILABLE` when it
   *   takes no requests or failed).
   * @example
   * const { challenge } = await agent.request('charge.challenge', { cardSerial });
   */
  async request(name: string, params: unknown, options: { timeoutMs?: number } = {}): Promise<unknown> {
    if (this.#stopping || !this.#buffer)
      throw new MachineLinkError('AGENT_STOPPED', `${this.machineId}: request() before start() or after stop()`);
    const checked = checkMachineParams('machine.request', { name, params });
    if (!checked.ok) throw new ArgumentError(`machine.request: ${checked.reason}`);
    const timeoutMs = positiveOption(options.timeoutMs, 10_000, 'timeoutMs');
    const ws = this.#session;
    if (!ws) throw new MachineLinkError('NOT_CONNECTED', `${this.machineId}: no session with the hub now`);
    const answer = await this.#request(ws, 'machine.request', checked.params, timeoutMs, false);
    if (!answer.ok) {
      if (answer.error === TIMED_OUT)
        throw new MachineLinkError(
          'REQUEST_UNANSWERED',
          `${this.machineId}: ${name}: no answer within ${timeoutMs} ms`,
        );
      if (answer.error === LINK_CLOSED)
        throw new MachineLinkError('REQUEST_UNANSWERED', `${this.machineId}: ${name}: the link closed first`);
      throw errorFromRpc(answer.error, { method: name, effectUnknown: false });
    }
    const r = MACHINE_MESSAGES['machine.request'].result.safeParse(answer.result);
    if (!r.success) throw new ArgumentError(`${name}: the hub's answer is not a machine.request result`);
    return r.data.result;
  }

  /**
   * Resolves when every record recorded so far has been stored by the application system.
   * @throws {MachineLinkError} `DELIVERY_TIMEOUT` after `timeoutMs`; `MACHINE_AUTH_FAILED` /
   * `MACHINE_SUPERSEDED` when the hub refused the machine; `AGENT_STOPPED`.
   * @example
   * await agent.delivered({ timeoutMs: 10_000 });
   */
  delivered(options: DeliveredOptions = {}): Promise<void> {
    const buffer = this.#buffer;
    if (!buffer || this.#stopping)
      return Promise.reject(new MachineLinkError('AGENT_STOPPED', `${this.machineId}: the agent is not running`));
    // counted, not by sequence number: a buffer meeting the hub for the first time may renumber its records
    const target = buffer.counts.taken;
    if (buffer.counts.released >= target) return Promise.resolve();
    if (this.#fatal) return Promise.reject(this.#fatal);
    let timeoutMs: number | undefined;
    try {
      timeoutMs = options.timeoutMs === undefined ? undefined : positiveOption(options.timeoutMs, 1, 'timeoutMs');
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise((resolve, reject) => {
      const offs: (() => void)[] = [];
      const done = (error?: unknown) => {
        clearTimeout(timer);
        for (const off of offs) off();
        if (error === undefined) resolve();
        else reject(error);
      };
      offs.push(this.on('delivered', () => buffer.counts.released >= target && done()));
      offs.push(
        this.on('connection', (e) => {
          if (e.state === 'stopped')
            done(this.#fatal ?? new MachineLinkError('AGENT_STOPPED', `${this.machineId}: the agent stopped`));
        }),
      );
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(
              () =>
                done(
                  new MachineLinkError(
                    'DELIVERY_TIMEOUT',
                    `${this.machineId}: records not delivered within ${timeoutMs} ms (${buffer.pending} held)`,
                  ),
                ),
              timeoutMs,
            );
      const signal = options.signal;
      if (signal) {
        if (signal.aborted) return done(signal.reason);
        const onAbort = () => done(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        offs.push(() => signal.removeEventListener('abort', onAbort));
      }
    });
  }

  /**
   * Sends a `machine.status` with `detail` (free key/values: door state, paper low, …) now when the link is up;
   * the detail is sent again with every session's status.
   * @throws {ArgumentError} `BAD_ARGUMENT` for a detail that does not fit the status schema.
   * @example
   * agent.reportStatus({ door: 'closed', tamper: false });
   */
  reportStatus(detail: NonNullable<MachineStatus['detail']>): void {
    const r = checkMachineParams('machine.status', { ...this.#status(), detail });
    if (!r.ok) throw new ArgumentError(`detail: ${r.reason}`);
    this.#detail = r.params.detail;
    if (this.#session) this.#send(this.#session, notificationFrame('machine.status', this.#status()));
  }

  /**
   * Adds a listener; returns the function that removes it. A listener that throws does not stop the others.
   * @example
   * agent.on('connection', (e) => console.log('link', e.state));
   * agent.on('config', (e) => console.log('runs config', e.version, 'blacklist', e.blacklistVersion));
   */
  on<K extends keyof MachineAgentEventMap>(name: K, listener: (event: MachineAgentEventMap[K]) => void): () => void {
    return this.#emitter.on(name, listener);
  }

  /**
   * Removes a listener added with {@link MachineAgent.on}.
   * @example
   * agent.off('delivered', onDelivered);
   */
  off<K extends keyof MachineAgentEventMap>(name: K, listener: (event: MachineAgentEventMap[K]) => void): void {
    this.#emitter.off(name, listener);
  }

  /**
   * Closes the link (1000) and the buffer; records not yet delivered stay on the disk for the next start. Calling
   * it again returns the same promise.
   * @example
   * await agent.stop();
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.#starting?.catch(() => undefined);
      this.#wake(true);
      const socket = this.#socket;
      if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000, 'machine stopping');
      await this.#running;
      await this.#configChain;
      await this.#buffer?.close();
      if (this.#state !== 'stopped') this.#setState('stopped', { attempt: 0 });
    })();
    return this.#stopping;
  }

  // ---------------------------------------------------------------- the link

  #setState(state: MachineLinkState, event: Omit<MachineAgentEventMap['connection'], 'state'>): void {
    this.#state = state;
    this.#emitter.emit('connection', { state, ...event });
  }

  /** Ends the delivery loop's wait (and, with `link`, the reconnect loop's). */
  #wake(link = false): void {
    for (const w of [...this.#workWaits]) w();
    if (link) for (const w of [...this.#linkWaits]) w();
  }

  /** Waits for `ms`, or until a wake-up of `waits`. */
  #sleep(ms: number, waits: Set<() => void>): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        waits.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      waits.add(done);
    });
  }

  async #run(): Promise<void> {
    let failures = 0;
    this.#setState('connecting', { attempt: 0 });
    while (!this.#stopping) {
      const outcome = await this.#connectOnce();
      if (this.#stopping) break;
      const fatal = finalClose(outcome.closeCode, this.machineId);
      if (fatal) {
        this.#fatal = fatal;
        this.#logger.error({ machine: this.machineId, closeCode: outcome.closeCode }, this.#fatal.message);
        this.#setState('stopped', { attempt: failures, error: this.#fatal, closeCode: outcome.closeCode });
        return;
      }
      failures = outcome.opened ? 0 : failures + 1;
      const delayMs = backoffDelay(Math.max(0, failures - 1), this.#reconnect);
      this.#logger.debug(
        { machine: this.machineId, attempt: failures, delayMs, err: outcome.error?.message },
        'link down: reconnecting',
      );
      this.#setState('reconnecting', {
        attempt: failures,
        delayMs,
        ...(outcome.error ? { error: outcome.error } : {}),
        ...(outcome.closeCode === undefined ? {} : { closeCode: outcome.closeCode }),
      });
      await this.#sleep(delayMs, this.#linkWaits);
    }
  }

  /** One connection, from the upgrade to the close. */
  #connectOnce(): Promise<{ opened: boolean; closeCode?: number; error?: Error }> {
    return new Promise((resolve) => {
      let ws: WebSocket;
      try {
        ws = new WebSocket(this.url, SUBPROTOCOL, this.#wsOptions);
      } catch (e) {
        return resolve({ opened: false, error: e as Error });
      }
      this.#socket = ws;
      let opened = false;
      let error: Error | undefined;
      let alive = true;
      let heartbeat: ReturnType<typeof setInterval> | undefined;
      const connectTimer = setTimeout(() => {
        error = new Error(`no session with ${this.url} within ${this.#connectTimeoutMs} ms`);
        ws.terminate();
      }, this.#connectTimeoutMs);

      ws.on('message', (data, isBinary) => {
        alive = true;
        if (isBinary) return;
        const frame = parseFrame(rawText(data));
        switch (frame.kind) {
          case 'notification':
            if (frame.method === 'session.challenge' && !opened) return this.#answerChallenge(ws, frame.params);
            if (frame.method === 'machine.config' && opened) return this.#onConfig(ws, frame.params);
            return;
          case 'result':
            if (frame.id === AUTH_ID && !opened) {
              const hello = MACHINE_MESSAGES['session.authenticate'].result.safeParse(frame.result);
              if (!hello.success) {
                error = new Error('invalid session.authenticate result');
                return ws.close(1002, 'invalid result');
              }
              opened = true;
              clearTimeout(connectTimer);
              if (this.#heartbeatMs > 0)
                heartbeat = setInterval(() => {
                  if (!alive) return ws.terminate();
                  alive = false;
                  ws.ping();
                }, this.#heartbeatMs);
              return void this.#open(ws, hello.data);
            }
            return this.#answer(frame.id, { ok: true, result: frame.result });
          case 'error':
            if (frame.id === AUTH_ID && !opened) {
              error = new Error(`session.authenticate refused: ${frame.error.message}`);
              if (!hasWireCode(frame.error, 'BAD_PROOF')) ws.close(1000);
              return; // BAD_PROOF: the hub closes with 4401
            }
            if (frame.id !== null) this.#answer(frame.id, { ok: false, error: frame.error });
            return;
          case 'request':
            return this.#send(
              ws,
              errorFrame(frame.id, {
                code: JSONRPC_ERRORS.METHOD_NOT_FOUND,
                message: `method not found: ${frame.method.slice(0, 64)}`,
              }),
            );
          default:
            return;
        }
      });
      ws.on('pong', () => {
        alive = true;
      });
      ws.on('error', (e) => {
        error ??= e;
      });
      ws.on('close', (code) => {
        clearTimeout(connectTimer);
        clearInterval(heartbeat);
        if (this.#session === ws) this.#session = undefined;
        if (this.#socket === ws) this.#socket = undefined;
        for (const [id, settle] of this.#requests) {
          this.#requests.delete(id);
          settle({ ok: false, error: LINK_CLOSED });
        }
        this.#wake();
        resolve({ opened, closeCode: code, ...(error ? { error } : {}) });
      });
    });
  }

  #answerChallenge(ws: WebSocket, params: unknown) {
    const r = checkMachineParams('session.challenge', params);
    if (!r.ok) return ws.close(1002, 'invalid challenge');
    const proof = sessionProof(this.#secret, fromHex(r.params.nonce), MACHINE_PATH);
    this.#send(ws, requestFrame(AUTH_ID, 'session.authenticate', { clientId: this.machineId, proof }));
  }

  /** The session is authenticated: align the buffer with the hub, report, deliver. */
  async #open(ws: WebSocket, hello: MachineResultOf<'session.authenticate'>): Promise<void> {
    const buffer = this.#buffer!;
    this.#kind = hello.kind;
    try {
      await buffer.sync(hello.storedSeq);
    } catch (e) {
      this.#logger.error({ machine: this.machineId, err: (e as Error).message }, 'cannot align the buffer');
      return ws.close(1011, 'buffer error');
    }
    if (ws.readyState !== WebSocket.OPEN || this.#stopping) return;
    this.#session = ws;
    this.#logger.info({ machine: this.machineId, storedSeq: hello.storedSeq, pending: buffer.pending }, 'connected');
    this.#setState('connected', { attempt: 0 });
    this.#send(ws, notificationFrame('machine.status', this.#status()));
    this.#emitter.emit('delivered', { ackedSeq: buffer.ackedSeq, pending: buffer.pending });
    await this.#pump(ws, buffer);
  }

  /** Sends the buffer, one batch at a time, while the session lasts. */
  async #pump(ws: WebSocket, buffer: RecordBuffer): Promise<void> {
    let retries = 0;
    while (this.#session === ws && !this.#stopping) {
      const batch = underFrame(buffer.peek(this.#batchSize));
      if (batch.length === 0) {
        await this.#sleep(60_000, this.#workWaits);
        continue;
      }
      const answer = await this.#request(ws, 'machine.records', { batch });
      if (this.#session !== ws) return;
      if (answer.ok) {
        const r = MACHINE_MESSAGES['machine.records'].result.safeParse(answer.result);
        if (r.success) {
          retries = 0;
          try {
            await buffer.ack(Math.min(r.data.storedSeq, batch.at(-1)!.seq));
          } catch (e) {
            this.#logger.error({ machine: this.machineId, err: (e as Error).message }, 'cannot persist an ack');
          }
          this.#emitter.emit('delivered', { ackedSeq: buffer.ackedSeq, pending: buffer.pending });
          continue;
        }
      }
      const why = answer.ok ? 'invalid machine.records result' : answer.error.message;
      const delayMs = backoffDelay(retries++, this.#reconnect);
      this.#logger.warn({ machine: this.machineId, why, delayMs }, 'batch not stored: sending it again later');
      await this.#sleep(delayMs, this.#linkWaits);
    }
  }

  /**
   * Sends a request and resolves with its answer. Without an answer within `timeoutMs`: `dropLink` drops the link
   * (the close answers it {@link LINK_CLOSED}); otherwise it is answered {@link TIMED_OUT} and the link stays.
   */
  #request(
    ws: WebSocket,
    method: string,
    params: unknown,
    timeoutMs = this.#requestTimeoutMs,
    dropLink = true,
  ): Promise<Answer> {
    return new Promise((resolve) => {
      const id = this.#nextId++;
      const timer = setTimeout(() => {
        if (!dropLink) {
          this.#requests.delete(id);
          return resolve({ ok: false, error: TIMED_OUT });
        }
        this.#logger.warn({ machine: this.machineId, method }, 'no answer: dropping the link');
        ws.terminate();
      }, timeoutMs);
      this.#requests.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      this.#send(ws, requestFrame(id, method, params));
    });
  }

  #answer(id: RequestId, answer: Answer): void {
    if (typeof id !== 'number') return;
    const settle = this.#requests.get(id);
    if (!settle) return;
    this.#requests.delete(id);
    settle(answer);
  }

  #send(ws: WebSocket, text: string): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(text, (err) => {
      if (err) this.#logger.debug({ machine: this.machineId, err: err.message }, 'send failed');
    });
  }

  #status(): MachineStatus {
    return {
      configVersion: this.#config?.version ?? 0,
      blacklistVersion: this.#blacklist.version,
      lastSeq: this.lastSeq,
      ackedSeq: this.ackedSeq,
      pending: this.pending,
      ...(this.#detail ? { detail: this.#detail } : {}),
    };
  }

  // ---------------------------------------------------------------- config

  #onConfig(ws: WebSocket, params: unknown): void {
    const run = this.#configChain.then(() => this.#applyConfig(ws, params));
    this.#configChain = run.catch((e) =>
      this.#logger.error({ machine: this.machineId, err: (e as Error).message }, 'cannot store the config'),
    );
  }

  async #applyConfig(ws: WebSocket, params: unknown): Promise<void> {
    const refuse = (version: number, reason: ConfigRefusal) => {
      this.#logger.warn({ machine: this.machineId, version, reason }, 'config refused');
      this.#emitter.emit('configRefused', { version, reason });
      this.#send(
        ws,
        notificationFrame('machine.configRefused', {
          version,
          reason,
          configVersion: this.#config?.version ?? 0,
          blacklistVersion: this.#blacklist.version,
        }),
      );
    };
    const parsed = MachineConfigSchema.safeParse(params);
    if (!parsed.success) {
      const v = (params as { version?: unknown } | undefined)?.version;
      return refuse(Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : 0, 'invalid');
    }
    const config = parsed.data;
    const current = this.#config?.version ?? 0;
    if (config.version < current) return refuse(config.version, 'stale');
    if (config.version > current) {
      const next = applyBlacklistDelta(this.#blacklist, config.blacklist, this.#publicKey);
      if (!next.ok) return refuse(config.version, next.reason);
      await this.#storeConfig(config, next.state);
      this.#config = { version: config.version, fares: config.fares, doors: config.doors };
      this.#blacklist = next.state;
      this.#logger.info(
        { machine: this.machineId, version: config.version, blacklistVersion: next.state.version },
        'config applied',
      );
      this.#emitter.emit('config', { version: config.version, blacklistVersion: next.state.version });
    }
    this.#send(
      ws,
      notificationFrame('machine.configAck', { version: config.version, blacklistVersion: this.#blacklist.version }),
    );
  }

  async #storeConfig(config: MachineConfig, blacklist: BlacklistState): Promise<void> {
    const stored: z.input<typeof StoredConfigSchema> = {
      format: 1,
      version: config.version,
      ...(config.fares ? { fares: config.fares } : {}),
      ...(config.doors ? { doors: config.doors } : {}),
      blacklist: { version: blacklist.version, serials: [...blacklist.serials].sort() },
    };
    try {
      await writeFileAtomic(this.bufferDir, CONFIG_FILE, JSON.stringify(stored));
    } catch (e) {
      throw new MachineLinkError('BUFFER_IO', `cannot store the config: ${(e as Error).message}`, { cause: e });
    }
  }

  async #loadConfig(): Promise<void> {
    let text: string;
    try {
      text = await readFile(join(this.bufferDir, CONFIG_FILE), 'utf8');
    } catch (e) {
      if (e instanceof Error && FILE_MISSING.has((e as NodeJS.ErrnoException).code ?? '')) return;
      throw new MachineLinkError('BUFFER_IO', `cannot read the stored config: ${(e as Error).message}`, { cause: e });
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = undefined;
    }
    const r = StoredConfigSchema.safeParse(value);
    if (!r.success)
      throw new MachineLinkError('BUFFER_CORRUPT', `${join(this.bufferDir, CONFIG_FILE)}: not a stored config`);
    this.#config = { version: r.data.version, fares: r.data.fares, doors: r.data.doors };
    this.#blacklist = { version: r.data.blacklist.version, serials: new Set(r.data.blacklist.serials) };
  }
}

function rawText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

/** Bytes of a `machine.records` frame kept free for its envelope (`jsonrpc`, `id`, `method`, `params`). */
const FRAME_ENVELOPE = 1024;

/**
 * The first entries of `batch` whose `machine.records` frame stays under the frame limit (the hub closes a bigger
 * frame with 1009, and the same batch would be sent again forever). A record is a few KiB at most: one always fits.
 */
function underFrame(batch: MachineRecordEntry[]): MachineRecordEntry[] {
  let bytes = FRAME_ENVELOPE;
  for (let n = 0; n < batch.length; n++) {
    bytes += Buffer.byteLength(JSON.stringify(batch[n])) + 1;
    if (bytes > MACHINE_MAX_FRAME_BYTES && n > 0) return batch.slice(0, n);
  }
  return batch;
}
