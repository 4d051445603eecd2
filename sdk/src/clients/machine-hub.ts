/**
 * {@link MachineHub}: the application system's end of `/v1/machine` (see `machine-protocol.ts` for the protocol) —
 * it authenticates its machines, takes their records exactly once and in order, and pushes them configs with the
 * platform's signed blacklist.
 * @module
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { ArgumentError } from '../core/errors';
import {
  applicationError,
  errorFrame,
  JSONRPC_ERRORS,
  notificationFrame,
  parseFrame,
  type RequestId,
  type RpcError,
  resultFrame,
  SUBPROTOCOL,
  sessionProof,
  WIRE_ERROR_CODES,
  type WireErrorCode,
} from '../wire';
import { blacklistPublicKey, verifyBlacklistDelta } from './blacklist';
import { MachineLinkError } from './machine-errors';
import {
  type ConfigRefusal,
  checkMachineParams,
  MACHINE_CLOSE_CODES,
  MACHINE_MAX_FRAME_BYTES,
  MACHINE_PATH,
  type MachineConfig,
  MachineConfigSchema,
  MachineId,
  type MachineKind,
  MachineKindSchema,
  type MachineLogger,
  type MachineRecordEntry,
  type MachineStatus,
  positiveOption,
  SILENT_LOGGER,
  secretOf,
  TypedEmitter,
} from './machine-protocol';

/** A machine the hub knows. */
export interface MachineSpec {
  /** Its id (the `clientId` of its session). */
  readonly id: string;
  /** Its secret: bytes, or hex. It proves the session and is never sent nor logged. */
  readonly secret: Uint8Array | string;
  /** What it is. */
  readonly kind: MachineKind;
}

/** The hub's limits (defaults in brackets). */
export interface MachineHubLimits {
  /** A connection that has not authenticated after this many ms is closed with 4408 [10,000]. */
  readonly authTimeoutMs: number;
  /** Ping interval; a machine that answers nothing for one interval is dropped [15,000]. */
  readonly heartbeatMs: number;
  /** Messages per second a connection may send on average [100]… */
  readonly ratePerSecond: number;
  /** … and in a burst [200]. */
  readonly rateBurst: number;
  /** Refused messages (draining at `ratePerSecond`) after which the connection is closed with 4429 [200]. */
  readonly rateCloseAfter: number;
}

const DEFAULT_LIMITS: MachineHubLimits = {
  authTimeoutMs: 10_000,
  heartbeatMs: 15_000,
  ratePerSecond: 100,
  rateBurst: 200,
  rateCloseAfter: 200,
};

/** The options of {@link MachineHub}. */
export interface MachineHubOptions {
  /** The machines that may connect. */
  readonly machines: readonly MachineSpec[];
  /**
   * The platform's Ed25519 key blacklist deltas are signed with (`cards.blacklistKey`), raw 32 bytes or hex:
   * `pushConfig` refuses a delta that does not verify.
   */
  readonly blacklistPublicKey: Uint8Array | string;
  /**
   * Stores (and clears) new records of a machine: called with the records above the stored sequence number, in
   * order, one call at a time per machine; the machine's batch is acknowledged only after the promise resolves.
   * A rejection acknowledges nothing (the machine sends the batch again later), so store a call's records in one
   * transaction, or idempotently by (machineId, seq).
   */
  readonly onRecords: (machineId: string, records: readonly MachineRecordEntry[]) => Promise<void>;
  /**
   * The highest sequence number stored for a machine (0: none), read from the application system's store when the
   * machine first connects and after a failed `onRecords`. Without it the hub counts in memory: duplicates are
   * then recognised only within the hub's life — give it for exactly-once across hub restarts.
   */
  readonly storedSeq?: (machineId: string) => number | Promise<number>;
  /**
   * Answers a machine's online request (`MachineAgent.request`): `name` and `params` are the machine's, the resolved
   * value (JSON) its answer. Throw an error whose `code` is a `simtap.v1` error code (a `PlatformCallError` of a
   * platform call, say) to refuse it with that code; any other error answers `UNAVAILABLE` without its details.
   * Without it every request answers `UNAVAILABLE`. Requests of a machine may run concurrently.
   */
  readonly onRequest?: (machineId: string, name: string, params: unknown) => Promise<unknown>;
  /** An HTTP(S) server to attach to (the hub serves `/v1/machine` on its `upgrade` events and leaves other paths). */
  readonly server?: Server | HttpsServer;
  /** Without `server`: the port to listen on (default 0: any free port). */
  readonly port?: number;
  /** Without `server`: the address to listen on (default `127.0.0.1`). */
  readonly host?: string;
  /** Where the hub logs (a pino logger fits); silent by default. */
  readonly logger?: MachineLogger;
  /** Limits (see {@link MachineHubLimits}). */
  readonly limits?: Partial<MachineHubLimits>;
}

/** A machine as {@link MachineHub.machines} lists it. */
export interface MachineInfo {
  readonly id: string;
  readonly kind: MachineKind;
  /** A session is open. */
  readonly connected: boolean;
  /** The peer address of the open session. */
  readonly remote: string | undefined;
  /** The config version the machine acknowledged (or reported) running; `undefined` before it said. */
  readonly configVersion: number | undefined;
  /** The blacklist version the machine reported. */
  readonly blacklistVersion: number | undefined;
  /** The config version the hub wants it to run (the last `pushConfig`). */
  readonly desiredConfigVersion: number | undefined;
  /** The last config the machine refused, and why. */
  readonly refusedConfig: { readonly version: number; readonly reason: ConfigRefusal } | undefined;
  /** When the machine last sent anything (epoch ms). */
  readonly lastSeenAt: number | undefined;
  /** The highest sequence number stored for it, once known. */
  readonly storedSeq: number | undefined;
  /** Records handed to `onRecords` in this hub's life. */
  readonly recordsReceived: number;
  /** Its last `machine.status`. */
  readonly status: MachineStatus | undefined;
}

/** Why the hub turned a connection away. */
export type HubRefusal = 'badProof' | 'authTimeout' | 'rateLimit';

/** The events of {@link MachineHub} (`hub.on(name, listener)`). */
export interface MachineHubEventMap {
  /** A machine's session opened (`connected`) or closed. */
  connection: {
    readonly machineId: string;
    readonly connected: boolean;
    readonly remote: string;
    readonly closeCode?: number;
  };
  /** A connection was refused or closed for misbehaving (`machineId`: the id it claimed, when known). */
  refused: { readonly remote: string; readonly reason: HubRefusal; readonly machineId?: string };
  /** `onRecords` stored `records` (possibly none: the whole batch was duplicates, counted in `duplicates`). */
  records: {
    readonly machineId: string;
    readonly records: readonly MachineRecordEntry[];
    readonly duplicates: number;
    readonly storedSeq: number;
  };
  /** A machine runs config `version`. */
  configAck: { readonly machineId: string; readonly version: number; readonly blacklistVersion: number };
  /** A machine refused config `version`. */
  configRefused: { readonly machineId: string; readonly version: number; readonly reason: ConfigRefusal };
  /** A machine reported its status. */
  status: { readonly machineId: string; readonly status: MachineStatus };
  /** A machine sent `nextSeq` after `storedSeq`: the records between are missing (the application's store lost them?). */
  gap: { readonly machineId: string; readonly storedSeq: number; readonly nextSeq: number };
}

/** A machine's state in the hub. */
interface Slot {
  readonly id: string;
  readonly kind: MachineKind;
  readonly secret: Uint8Array;
  conn: HubConnection | undefined;
  desired: MachineConfig | undefined;
  configVersion: number | undefined;
  blacklistVersion: number | undefined;
  refused: { version: number; reason: ConfigRefusal } | undefined;
  lastSeenAt: number | undefined;
  storedSeq: number | undefined;
  recordsReceived: number;
  status: MachineStatus | undefined;
  /** Record batches and sequence reads of the machine, one at a time. */
  chain: Promise<unknown>;
}

/** What a connection needs of its hub. */
interface HubHost {
  readonly limits: MachineHubLimits;
  /** `close()` was called. */
  closing(): boolean;
  readonly logger: MachineLogger;
  emit<K extends keyof MachineHubEventMap>(name: K, event: MachineHubEventMap[K]): void;
  forget(conn: HubConnection): void;
  /** Checks a proof in constant time; the machine's slot when it is right. */
  checkProof(machineId: string, nonce: Uint8Array, proof: string): Slot | undefined;
  storedSeqOf(slot: Slot): Promise<number>;
  serial<T>(slot: Slot, fn: () => Promise<T>): Promise<T>;
  storeBatch(slot: Slot, batch: readonly MachineRecordEntry[]): Promise<number>;
  opened(slot: Slot, conn: HubConnection): void;
  closed(slot: Slot, conn: HubConnection, closeCode: number): void;
  onStatus(slot: Slot, status: MachineStatus): void;
  /** The application system's answer to a machine's request; `undefined` handler: it takes none. */
  onRequest: MachineHubOptions['onRequest'];
  onConfigAck(slot: Slot, version: number, blacklistVersion: number): void;
  onConfigRefused(slot: Slot, version: number, reason: ConfigRefusal, blacklistVersion: number): void;
}

/** A proof is checked against this when the id is unknown, so both paths take the same time. */
const NO_SECRET = new Uint8Array(32);

/**
 * The application system's side of `/v1/machine`: a WebSocket endpoint its gates, validators, tills, doors and
 * kiosks ({@link MachineAgent}) connect to. It authenticates each machine from its id and secret, hands their records
 * to `onRecords` exactly once by (machineId, seq) and in order — acknowledging a batch only once it is stored — and
 * pushes configs (fares, door rules, the platform's signed blacklist delta), keeping track of which machine runs
 * which version. A machine offline at `pushConfig` gets the config when it returns.
 * @example
 * import { MachineHub, PlatformClient } from '@simtap/sdk/clients';
 * const platform = new PlatformClient({ url: 'ws://127.0.0.1:7800', clientId: 'metro-1', secret: METRO_SECRET });
 * const hub = new MachineHub({
 *   machines: [{ id: 'gate-7', secret: GATE_7_SECRET, kind: 'gate' }],
 *   blacklistPublicKey: (await platform.cards.blacklistKey()).publicKey,
 *   port: 7900,
 *   storedSeq: (id) => db.lastSeq(id),
 *   onRecords: async (id, records) => {
 *     await db.insertRecords(id, records); // one transaction, with each record's seq
 *     await platform.clearing.submitBatch({ records: records.map((r) => r.record) });
 *   },
 * });
 * const { url } = await hub.listen();
 * hub.pushConfig('all', { version: 1, fares: { flat: 200 }, blacklist: await platform.cards.blacklist() });
 * hub.on('configAck', (e) => console.log(e.machineId, 'runs config', e.version));
 */
export class MachineHub {
  readonly #slots = new Map<string, Slot>();
  readonly #onRecords: MachineHubOptions['onRecords'];
  readonly #storedSeq: MachineHubOptions['storedSeq'];
  readonly #publicKey: Uint8Array;
  readonly #limits: MachineHubLimits;
  readonly #logger: MachineLogger;
  readonly #emitter = new TypedEmitter<MachineHubEventMap>();
  readonly #attached: Server | HttpsServer | undefined;
  readonly #port: number;
  readonly #listenHost: string;
  readonly #connections = new Set<HubConnection>();
  readonly #wss: WebSocketServer;
  readonly #onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  readonly #host: HubHost;
  #server: Server | HttpsServer | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #listening: Promise<{ url: string; port: number }> | undefined;
  #closing: Promise<void> | undefined;

  /**
   * Checks the options; serves on `listen()`.
   * @throws {ArgumentError} `BAD_ARGUMENT` for a machine id outside `[A-Za-z0-9._:-]{1,64}`, a duplicate id, an
   * unknown kind, an empty or non-hex secret, a key that is not 32 bytes, or a missing `onRecords`.
   */
  constructor(options: MachineHubOptions) {
    if (!Array.isArray(options.machines)) throw new ArgumentError('machines: an array of { id, secret, kind }');
    for (const [i, m] of options.machines.entries()) {
      if (!MachineId.safeParse(m?.id).success)
        throw new ArgumentError(`machines[${i}].id: 1–64 characters of A–Z a–z 0–9 . _ : -`);
      if (this.#slots.has(m.id)) throw new ArgumentError(`machines[${i}].id: ${m.id} appears twice`);
      if (!MachineKindSchema.safeParse(m.kind).success)
        throw new ArgumentError(`machines[${i}].kind: one of ${MachineKindSchema.options.join(', ')}`);
      this.#slots.set(m.id, {
        id: m.id,
        kind: m.kind,
        secret: secretOf(m.secret, `machines[${i}].secret`),
        conn: undefined,
        desired: undefined,
        configVersion: undefined,
        blacklistVersion: undefined,
        refused: undefined,
        lastSeenAt: undefined,
        storedSeq: undefined,
        recordsReceived: 0,
        status: undefined,
        chain: Promise.resolve(),
      });
    }
    if (typeof options.onRecords !== 'function') throw new ArgumentError('onRecords: a function');
    if (options.storedSeq !== undefined && typeof options.storedSeq !== 'function')
      throw new ArgumentError('storedSeq: a function');
    this.#onRecords = options.onRecords;
    this.#storedSeq = options.storedSeq;
    this.#publicKey = blacklistPublicKey(options.blacklistPublicKey);
    const limits = options.limits ?? {};
    this.#limits = {
      authTimeoutMs: positiveOption(limits.authTimeoutMs, DEFAULT_LIMITS.authTimeoutMs, 'limits.authTimeoutMs'),
      heartbeatMs: positiveOption(limits.heartbeatMs, DEFAULT_LIMITS.heartbeatMs, 'limits.heartbeatMs'),
      ratePerSecond: positiveOption(limits.ratePerSecond, DEFAULT_LIMITS.ratePerSecond, 'limits.ratePerSecond'),
      rateBurst: positiveOption(limits.rateBurst, DEFAULT_LIMITS.rateBurst, 'limits.rateBurst'),
      rateCloseAfter: positiveOption(limits.rateCloseAfter, DEFAULT_LIMITS.rateCloseAfter, 'limits.rateCloseAfter'),
    };
    this.#logger = options.logger ?? SILENT_LOGGER;
    this.#attached = options.server;
    if (options.port !== undefined && !(Number.isInteger(options.port) && options.port >= 0 && options.port < 65536))
      throw new ArgumentError('port: an integer 0–65535');
    this.#port = options.port ?? 0;
    this.#listenHost = options.host ?? '127.0.0.1';
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: MACHINE_MAX_FRAME_BYTES,
      perMessageDeflate: false,
      clientTracking: false,
      handleProtocols: () => SUBPROTOCOL,
    });
    this.#onUpgrade = (req, socket, head) => this.#upgrade(req, socket, head);
    this.#host = {
      limits: this.#limits,
      logger: this.#logger,
      closing: () => this.#closing !== undefined,
      emit: (name, event) => this.#emitter.emit(name, event),
      forget: (conn) => this.#connections.delete(conn),
      checkProof: (id, nonce, proof) => this.#checkProof(id, nonce, proof),
      storedSeqOf: (slot) => this.#storedSeqOf(slot),
      serial: (slot, fn) => this.#serial(slot, fn),
      storeBatch: (slot, batch) => this.#storeBatch(slot, batch),
      opened: (slot, conn) => this.#opened(slot, conn),
      closed: (slot, conn, code) => this.#closed(slot, conn, code),
      onStatus: (slot, status) => this.#onStatus(slot, status),
      onRequest: options.onRequest,
      onConfigAck: (slot, version, bl) => this.#onConfigAck(slot, version, bl),
      onConfigRefused: (slot, version, reason, bl) => this.#onConfigRefused(slot, version, reason, bl),
    };
  }

  /**
   * Starts serving `/v1/machine`: on its own HTTP server (`port`, `host`), or on the `upgrade` events of the
   * `server` it was given. Resolves with the endpoint's URL and port; calling it again returns the same promise.
   * @throws {MachineLinkError} `HUB_CLOSED` after `close()`.
   * @example
   * const { url } = await hub.listen(); // 'ws://127.0.0.1:7900/v1/machine'
   */
  listen(): Promise<{ url: string; port: number }> {
    if (this.#closing) return Promise.reject(new MachineLinkError('HUB_CLOSED', 'the hub is closed'));
    if (this.#listening) return this.#listening;
    this.#heartbeat = setInterval(() => {
      for (const c of this.#connections) c.heartbeat();
    }, this.#limits.heartbeatMs);
    this.#heartbeat.unref();
    if (this.#attached) {
      const server = this.#attached;
      server.on('upgrade', this.#onUpgrade);
      this.#server = server;
      this.#listening = Promise.resolve(this.#address());
      return this.#listening;
    }
    const server = createServer({ headersTimeout: 10_000, requestTimeout: 15_000 }, (req, res) =>
      this.#plainRequest(req, res),
    );
    server.on('upgrade', this.#onUpgrade);
    this.#server = server;
    this.#listening = new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, this.#listenHost, () => {
        server.off('error', reject);
        resolve(this.#address());
      });
    });
    return this.#listening;
  }

  /** The endpoint's URL once listening (`ws://127.0.0.1:7900/v1/machine`), else `undefined`. */
  get url(): string | undefined {
    return this.#server?.listening ? this.#address().url : undefined;
  }

  /**
   * The machines, connected or not, with what the hub knows of them.
   * @example
   * for (const m of hub.machines) console.log(m.id, m.connected, m.configVersion, m.recordsReceived);
   */
  get machines(): MachineInfo[] {
    return [...this.#slots.values()].map((s) => this.#info(s));
  }

  /**
   * One machine, or `undefined` for an id the hub does not know.
   * @example
   * const gate = hub.machine('gate-7');
   * if (gate?.configVersion !== gate?.desiredConfigVersion) console.log('gate-7 is behind');
   */
  machine(id: string): MachineInfo | undefined {
    const s = this.#slots.get(id);
    return s && this.#info(s);
  }

  /**
   * Sets the config machine `target` (or `'all'`) should run, and sends it to those connected; the others get it
   * when they connect. The blacklist delta is checked here against the platform's key (each machine checks it
   * again). Follow the machines' answers with the `configAck` / `configRefused` events or `machines`. The hub keeps
   * the config in memory: push it again after the hub restarts (machines that run it already are not sent it twice).
   * @throws {ArgumentError} `BAD_ARGUMENT` for a config that does not fit its schema.
   * @throws {MachineLinkError} `BLACKLIST_SIGNATURE_INVALID`, `UNKNOWN_MACHINE`, `HUB_CLOSED`.
   * @example
   * const blacklist = await platform.cards.blacklist(); // the whole list: any machine can apply it
   * hub.pushConfig('all', { version: 5, fares: { flat: 200 }, blacklist });
   * hub.pushConfig('door-2', { version: 6, doors: [{ door: 'lab', from: '0800', to: '2000' }], blacklist });
   */
  pushConfig(target: string, config: MachineConfig): void {
    if (this.#closing) throw new MachineLinkError('HUB_CLOSED', 'the hub is closed');
    const r = MachineConfigSchema.safeParse(config);
    if (!r.success)
      throw new ArgumentError(
        `config: ${r.error.issues
          .slice(0, 5)
          .map((i) => `${i.path.join('.') || 'config'}: ${i.message}`)
          .join('; ')}`,
      );
    if (!verifyBlacklistDelta(this.#publicKey, r.data.blacklist))
      throw new MachineLinkError(
        'BLACKLIST_SIGNATURE_INVALID',
        `config ${r.data.version}: the blacklist delta ${r.data.blacklist.since}→${r.data.blacklist.version} is not signed by the platform's key`,
      );
    let slots: Slot[];
    if (target === 'all') slots = [...this.#slots.values()];
    else {
      const slot = this.#slots.get(target);
      if (!slot) throw new MachineLinkError('UNKNOWN_MACHINE', `no machine ${String(target).slice(0, 64)}`);
      slots = [slot];
    }
    for (const slot of slots) {
      slot.desired = r.data;
      slot.refused = undefined;
      if (slot.conn?.authenticated && slot.configVersion !== r.data.version) slot.conn.sendConfig(r.data);
    }
  }

  /**
   * Adds a listener; returns the function that removes it. A listener that throws does not stop the others.
   * @example
   * const off = hub.on('records', (e) => console.log(e.machineId, e.records.length, 'stored up to', e.storedSeq));
   * off();
   */
  on<K extends keyof MachineHubEventMap>(name: K, listener: (event: MachineHubEventMap[K]) => void): () => void {
    return this.#emitter.on(name, listener);
  }

  /**
   * Removes a listener added with {@link MachineHub.on}.
   * @example
   * hub.off('status', onStatus);
   */
  off<K extends keyof MachineHubEventMap>(name: K, listener: (event: MachineHubEventMap[K]) => void): void {
    this.#emitter.off(name, listener);
  }

  /**
   * Stops: no new connections; the `onRecords` calls under way finish and their batches are answered (new batches
   * are answered `UNAVAILABLE`); then the sessions close with 1001 (machines reconnect to the next hub) and the own
   * HTTP server closes (an attached one is left running). Calling it again
   * returns the same promise.
   * @example
   * await hub.close();
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closing = (async () => {
      clearInterval(this.#heartbeat);
      const server = this.#server;
      server?.off('upgrade', this.#onUpgrade);
      // Batches under way are stored and answered; new ones are answered UNAVAILABLE (the machines send them again).
      await Promise.all([...this.#slots.values()].map((s) => s.chain.catch(() => undefined)));
      await Promise.all(
        [...this.#connections].map((c) => c.closeAndWait(MACHINE_CLOSE_CODES.GOING_AWAY, 'hub shutting down')),
      );
      this.#wss.close();
      await this.#listening?.catch(() => undefined);
      if (server && !this.#attached) {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections?.();
        });
      }
    })();
    return this.#closing;
  }

  // ---------------------------------------------------------------- internals (HubConnection's host)

  /**
   * Checks a proof in constant time; the machine's slot when it is right.
   *
   */
  #checkProof(machineId: string, nonce: Uint8Array, proof: string): Slot | undefined {
    const slot = this.#slots.get(machineId);
    const expected = Buffer.from(sessionProof(slot?.secret ?? NO_SECRET, nonce, MACHINE_PATH), 'hex');
    const given = Buffer.from(proof, 'hex');
    const equal = given.length === expected.length && timingSafeEqual(expected, given);
    return equal && slot !== undefined ? slot : undefined;
  }

  /**
   * The slot's stored sequence number (read from the application once).
   *
   */
  async #storedSeqOf(slot: Slot): Promise<number> {
    if (slot.storedSeq !== undefined) return slot.storedSeq;
    const value = this.#storedSeq ? await this.#storedSeq(slot.id) : 0;
    if (!Number.isSafeInteger(value) || value < 0)
      throw new ArgumentError(`storedSeq(${slot.id}): a non-negative integer, got ${String(value)}`);
    slot.storedSeq = Math.max(value, slot.storedSeq ?? 0);
    return slot.storedSeq;
  }

  /**
   * Runs `fn` after the machine's earlier batches.
   *
   */
  #serial<T>(slot: Slot, fn: () => Promise<T>): Promise<T> {
    const run = slot.chain.then(fn, fn);
    slot.chain = run.catch(() => undefined);
    return run;
  }

  /**
   * Stores a batch: the records above the stored sequence go to `onRecords`; the new stored sequence.
   *
   */
  async #storeBatch(slot: Slot, batch: readonly MachineRecordEntry[]): Promise<number> {
    const stored = await this.#storedSeqOf(slot);
    const fresh = batch.filter((e) => e.seq > stored);
    const first = fresh[0];
    // Without `storedSeq` a hub that just started does not know what was stored before it: no gap to tell then.
    const known = this.#storedSeq !== undefined || slot.recordsReceived > 0;
    if (first && first.seq > stored + 1 && known) {
      this.#logger.warn({ machine: slot.id, storedSeq: stored, nextSeq: first.seq }, 'records missing before a batch');
      this.#emitter.emit('gap', { machineId: slot.id, storedSeq: stored, nextSeq: first.seq });
    }
    if (fresh.length > 0) {
      try {
        await this.#onRecords(slot.id, fresh);
      } catch (e) {
        slot.storedSeq = undefined; // read it again: the store may hold part of the batch
        throw e;
      }
      slot.storedSeq = fresh.at(-1)!.seq;
      slot.recordsReceived += fresh.length;
    }
    const storedSeq = slot.storedSeq ?? stored;
    this.#emitter.emit('records', {
      machineId: slot.id,
      records: fresh,
      duplicates: batch.length - fresh.length,
      storedSeq,
    });
    return storedSeq;
  }

  /** A machine's session opened: the older one of the same machine is closed with 4409. */
  #opened(slot: Slot, conn: HubConnection): void {
    const old = slot.conn;
    slot.conn = conn;
    slot.lastSeenAt = Date.now();
    if (old && old !== conn) old.close(MACHINE_CLOSE_CODES.SUPERSEDED, 'superseded by a newer session');
    this.#emitter.emit('connection', { machineId: slot.id, connected: true, remote: conn.remote });
  }

  /** */
  #closed(slot: Slot, conn: HubConnection, closeCode: number): void {
    if (slot.conn !== conn) return;
    slot.conn = undefined;
    this.#emitter.emit('connection', { machineId: slot.id, connected: false, remote: conn.remote, closeCode });
  }

  /** */
  #onStatus(slot: Slot, status: MachineStatus): void {
    slot.status = status;
    slot.configVersion = status.configVersion === 0 ? undefined : status.configVersion;
    slot.blacklistVersion = status.blacklistVersion;
    this.#emitter.emit('status', { machineId: slot.id, status });
    const desired = slot.desired;
    if (
      desired &&
      desired.version !== status.configVersion &&
      slot.refused?.version !== desired.version &&
      slot.conn?.authenticated
    )
      slot.conn.sendConfig(desired);
  }

  /** */
  #onConfigAck(slot: Slot, version: number, blacklistVersion: number): void {
    slot.configVersion = version;
    slot.blacklistVersion = blacklistVersion;
    if (slot.refused?.version === version) slot.refused = undefined;
    this.#logger.info({ machine: slot.id, version, blacklistVersion }, 'config acknowledged');
    this.#emitter.emit('configAck', { machineId: slot.id, version, blacklistVersion });
  }

  /** */
  #onConfigRefused(slot: Slot, version: number, reason: ConfigRefusal, blacklistVersion: number): void {
    slot.refused = { version, reason };
    slot.blacklistVersion = blacklistVersion;
    this.#logger.warn({ machine: slot.id, version, reason }, 'config refused');
    this.#emitter.emit('configRefused', { machineId: slot.id, version, reason });
  }

  #info(s: Slot): MachineInfo {
    return {
      id: s.id,
      kind: s.kind,
      connected: s.conn?.authenticated === true,
      remote: s.conn?.remote,
      configVersion: s.configVersion,
      blacklistVersion: s.blacklistVersion,
      desiredConfigVersion: s.desired?.version,
      refusedConfig: s.refused && { ...s.refused },
      lastSeenAt: s.lastSeenAt,
      storedSeq: s.storedSeq,
      recordsReceived: s.recordsReceived,
      status: s.status,
    };
  }

  #address(): { url: string; port: number } {
    const a = this.#server?.address() as AddressInfo | null | undefined;
    if (!a || typeof a !== 'object') return { url: '', port: 0 };
    const scheme = isTls(this.#server) ? 'wss' : 'ws';
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return { url: `${scheme}://${host}:${a.port}${MACHINE_PATH}`, port: a.port };
  }

  #plainRequest(req: IncomingMessage, res: ServerResponse): void {
    const ours = pathOf(req.url) === MACHINE_PATH;
    res.writeHead(ours ? 426 : 404, {
      'content-type': 'text/plain; charset=utf-8',
      ...(ours ? { upgrade: 'websocket' } : {}),
    });
    res.end(
      ours ? `open a WebSocket with the subprotocol ${SUBPROTOCOL}\n` : `not found; the endpoint is ${MACHINE_PATH}\n`,
    );
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    if (pathOf(req.url) !== MACHINE_PATH) {
      if (!this.#attached) refuse(socket, 404, `no endpoint ${pathOf(req.url).slice(0, 100)}`);
      return; // an attached server's other endpoints are someone else's
    }
    socket.on('error', () => socket.destroy());
    if (this.#closing) return refuse(socket, 503, 'the hub is shutting down');
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((s) => s.trim());
    if (!offered.includes(SUBPROTOCOL)) return refuse(socket, 400, `the subprotocol ${SUBPROTOCOL} is required`);
    const s = req.socket as Socket;
    const remote = `${s.remoteAddress ?? '?'}:${s.remotePort ?? '?'}`;
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      if (this.#closing) return ws.close(MACHINE_CLOSE_CODES.GOING_AWAY, 'hub shutting down');
      this.#connections.add(new HubConnection(this.#host, ws, remote));
    });
  }
}

function isTls(server: unknown): boolean {
  return typeof (server as { setSecureContext?: unknown })?.setSecureContext === 'function';
}

function pathOf(url: string | undefined): string {
  try {
    return new URL(url ?? '/', 'http://localhost').pathname;
  } catch {
    return '/';
  }
}

function refuse(socket: Duplex, status: number, message: string): void {
  const text = { 400: 'Bad Request', 404: 'Not Found', 503: 'Service Unavailable' }[status] ?? 'Error';
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(message) + 1}\r\n\r\n${message}\n`,
  );
  socket.destroy();
}

/** A token bucket: `take()` is true while the rate is kept. */
class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  #tokens: number;
  #at = performance.now();
  constructor(ratePerSecond: number, burst: number) {
    this.#rate = ratePerSecond / 1000;
    this.#burst = burst;
    this.#tokens = burst;
  }
  take(now: number): boolean {
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#at) * this.#rate);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/** One machine connection: the handshake, the rate limit, the machine's messages. */
class HubConnection {
  readonly remote: string;
  readonly #hub: HubHost;
  readonly #ws: WebSocket;
  readonly #nonce = randomBytes(32);
  readonly #bucket: TokenBucket;
  #refusedCount = 0;
  #refusedAt = performance.now();
  #slot: Slot | undefined;
  #authenticating = false;
  #alive = true;
  #closeCode: number | undefined;
  #authTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #done: Promise<void>;

  constructor(hub: HubHost, ws: WebSocket, remote: string) {
    this.#hub = hub;
    this.#ws = ws;
    this.remote = remote;
    this.#bucket = new TokenBucket(hub.limits.ratePerSecond, hub.limits.rateBurst);
    this.#done = new Promise((resolve) => ws.once('close', () => resolve()));
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    ws.on('pong', () => {
      this.#alive = true;
    });
    ws.on('error', (err) => hub.logger.debug({ remote, err: err.name }, 'machine connection error'));
    ws.on('close', (code) => this.#onClose(code));
    this.#authTimer = setTimeout(() => {
      hub.emit('refused', { remote, reason: 'authTimeout' });
      this.close(MACHINE_CLOSE_CODES.AUTHENTICATION_TIMEOUT, 'authentication timeout');
    }, hub.limits.authTimeoutMs);
    this.#authTimer.unref();
    this.#send(notificationFrame('session.challenge', { nonce: this.#nonce.toString('hex').toUpperCase() }));
  }

  /** The session is authenticated and open. */
  get authenticated(): boolean {
    return this.#slot !== undefined && this.#closeCode === undefined && this.#ws.readyState === WebSocket.OPEN;
  }

  sendConfig(config: MachineConfig): void {
    this.#send(notificationFrame('machine.config', config));
  }

  close(code: number, reason: string): void {
    if (this.#closeCode !== undefined || this.#ws.readyState >= WebSocket.CLOSING) return;
    this.#closeCode = code;
    this.#ws.close(code, reason);
    setTimeout(() => this.#ws.terminate(), 2000).unref();
  }

  closeAndWait(code: number, reason: string): Promise<void> {
    this.close(code, reason);
    return this.#done;
  }

  heartbeat(): void {
    if (this.#ws.readyState !== WebSocket.OPEN) return;
    if (!this.#alive) {
      this.#hub.logger.info({ remote: this.remote, machine: this.#slot?.id }, 'no pong: dropping the machine');
      this.#ws.terminate();
      return;
    }
    this.#alive = false;
    this.#ws.ping();
  }

  #send(text: string): void {
    if (this.#ws.readyState !== WebSocket.OPEN) return;
    this.#ws.send(text, (err) => {
      if (err) this.#hub.logger.debug({ remote: this.remote, err: err.name }, 'send failed');
    });
  }

  #answerError(id: RequestId | null, error: RpcError): void {
    this.#send(errorFrame(id, error));
  }

  #onClose(code: number): void {
    clearTimeout(this.#authTimer);
    this.#hub.forget(this);
    if (this.#slot) this.#hub.closed(this.#slot, this, code);
  }

  #onMessage(data: WebSocket.RawData, isBinary: boolean) {
    if (this.#closeCode !== undefined) return;
    this.#alive = true;
    const now = performance.now();
    const slot = this.#slot;
    if (slot) slot.lastSeenAt = Date.now();
    const text = isBinary ? undefined : rawText(data);
    if (!this.#bucket.take(now)) return this.#rateLimited(text, now);
    if (text === undefined)
      return this.#answerError(null, {
        code: JSONRPC_ERRORS.INVALID_REQUEST,
        message: 'binary frames are not accepted: send each JSON-RPC message as a text frame',
      });
    const frame = parseFrame(text);
    switch (frame.kind) {
      case 'invalid':
        return this.#answerError(frame.id, frame.error);
      case 'result':
      case 'error':
        return; // the hub sends no requests
      case 'request':
        if (!slot) {
          if (frame.method === 'session.authenticate' && !this.#authenticating)
            return void this.#authenticate(frame.id, frame.params);
          return this.#answerError(
            frame.id,
            applicationError('UNAUTHENTICATED', 'authenticate first (session.authenticate)'),
          );
        }
        if (frame.method === 'machine.records') return void this.#records(slot, frame.id, frame.params);
        if (frame.method === 'machine.request') return void this.#request(slot, frame.id, frame.params);
        return this.#answerError(frame.id, {
          code: JSONRPC_ERRORS.METHOD_NOT_FOUND,
          message: `method not found: ${frame.method.slice(0, 64)}`,
        });
      case 'notification':
        if (slot) this.#notification(slot, frame.method, frame.params);
        return;
    }
  }

  #rateLimited(text: string | undefined, now: number): void {
    const rate = this.#hub.limits.ratePerSecond / 1000;
    this.#refusedCount = Math.max(0, this.#refusedCount - (now - this.#refusedAt) * rate) + 1;
    this.#refusedAt = now;
    const frame = text === undefined ? undefined : parseFrame(text);
    if (frame === undefined || frame.kind === 'request' || frame.kind === 'invalid')
      this.#answerError(
        frame && 'id' in frame ? frame.id : null,
        applicationError('RATE_LIMITED', `more than ${this.#hub.limits.ratePerSecond} messages per second: slow down`),
      );
    if (this.#refusedCount > this.#hub.limits.rateCloseAfter) {
      this.#hub.logger.warn({ remote: this.remote, machine: this.#slot?.id }, 'rate limit: closing');
      this.#hub.emit('refused', { remote: this.remote, reason: 'rateLimit', machineId: this.#slot?.id });
      this.close(MACHINE_CLOSE_CODES.RATE_LIMIT, 'rate limit exceeded');
    }
  }

  async #authenticate(id: RequestId, params: unknown): Promise<void> {
    const checked = checkMachineParams('session.authenticate', params);
    if (!checked.ok)
      return this.#answerError(id, {
        code: JSONRPC_ERRORS.INVALID_PARAMS,
        message: `invalid params: ${checked.reason}`,
      });
    const { clientId, proof } = checked.params;
    const slot = this.#hub.checkProof(clientId, this.#nonce, proof);
    if (!slot) {
      this.#hub.logger.warn({ remote: this.remote, machine: clientId }, 'machine refused: bad proof');
      this.#hub.emit('refused', { remote: this.remote, reason: 'badProof', machineId: clientId });
      this.#answerError(id, applicationError('BAD_PROOF', 'authentication failed'));
      return this.close(MACHINE_CLOSE_CODES.AUTHENTICATION_FAILED, 'authentication failed');
    }
    this.#authenticating = true;
    let storedSeq: number;
    try {
      storedSeq = await this.#hub.serial(slot, () => this.#hub.storedSeqOf(slot));
    } catch (e) {
      this.#hub.logger.error({ machine: slot.id, err: (e as Error).message }, 'storedSeq failed');
      this.#answerError(id, applicationError('UNAVAILABLE', 'the application system cannot read its records'));
      return this.close(1011, 'storedSeq failed');
    }
    if (this.#closeCode !== undefined || this.#ws.readyState !== WebSocket.OPEN) return;
    if (this.#hub.closing()) return this.close(MACHINE_CLOSE_CODES.GOING_AWAY, 'hub shutting down');
    clearTimeout(this.#authTimer);
    this.#slot = slot;
    this.#hub.opened(slot, this);
    this.#hub.logger.info({ remote: this.remote, machine: slot.id, storedSeq }, 'machine connected');
    this.#send(resultFrame(id, { machineId: slot.id, kind: slot.kind, storedSeq }));
  }

  async #records(slot: Slot, id: RequestId, params: unknown): Promise<void> {
    const checked = checkMachineParams('machine.records', params);
    if (!checked.ok)
      return this.#answerError(id, {
        code: JSONRPC_ERRORS.INVALID_PARAMS,
        message: `invalid params: ${checked.reason}`,
      });
    try {
      const storedSeq = await this.#hub.serial(slot, () => this.#hub.storeBatch(slot, checked.params.batch));
      this.#send(resultFrame(id, { storedSeq }));
    } catch (e) {
      this.#hub.logger.error({ machine: slot.id, err: (e as Error).message }, 'onRecords failed');
      this.#answerError(id, applicationError('UNAVAILABLE', 'the records could not be stored; send them again later'));
    }
  }

  async #request(slot: Slot, id: RequestId, params: unknown): Promise<void> {
    const checked = checkMachineParams('machine.request', params);
    if (!checked.ok)
      return this.#answerError(id, {
        code: JSONRPC_ERRORS.INVALID_PARAMS,
        message: `invalid params: ${checked.reason}`,
      });
    const handler = this.#hub.onRequest;
    if (handler === undefined)
      return this.#answerError(id, applicationError('UNAVAILABLE', 'the application system takes no requests'));
    const { name } = checked.params;
    let result: unknown;
    try {
      result = await handler(slot.id, name, checked.params.params);
    } catch (e) {
      const code = (e as { code?: unknown } | null)?.code;
      if (typeof code === 'string' && Object.hasOwn(WIRE_ERROR_CODES, code))
        return this.#answerError(
          id,
          applicationError(code as WireErrorCode, String((e as Error).message ?? code).slice(0, 500)),
        );
      this.#hub.logger.error({ machine: slot.id, request: name, err: (e as Error)?.message }, 'onRequest failed');
      return this.#answerError(id, applicationError('UNAVAILABLE', `the request ${name} failed`));
    }
    const text = JSON.stringify({ result: result ?? null });
    if (text === undefined || text.length > MACHINE_MAX_FRAME_BYTES - 1024) {
      this.#hub.logger.error({ machine: slot.id, request: name }, 'onRequest answered no JSON, or too much');
      return this.#answerError(id, applicationError('UNAVAILABLE', `the request ${name} failed`));
    }
    this.#send(resultFrame(id, { result: result ?? null }));
  }

  #notification(slot: Slot, method: string, params: unknown): void {
    switch (method) {
      case 'machine.status': {
        const r = checkMachineParams('machine.status', params);
        if (r.ok) this.#hub.onStatus(slot, r.params);
        else this.#hub.logger.debug({ machine: slot.id, reason: r.reason }, 'invalid machine.status');
        return;
      }
      case 'machine.configAck': {
        const r = checkMachineParams('machine.configAck', params);
        if (r.ok) this.#hub.onConfigAck(slot, r.params.version, r.params.blacklistVersion);
        else this.#hub.logger.debug({ machine: slot.id, reason: r.reason }, 'invalid machine.configAck');
        return;
      }
      case 'machine.configRefused': {
        const r = checkMachineParams('machine.configRefused', params);
        if (r.ok) this.#hub.onConfigRefused(slot, r.params.version, r.params.reason, r.params.blacklistVersion);
        else this.#hub.logger.debug({ machine: slot.id, reason: r.reason }, 'invalid machine.configRefused');
        return;
      }
      default:
        this.#hub.logger.debug({ machine: slot.id, method: method.slice(0, 64) }, 'unknown notification');
    }
  }
}

function rawText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
