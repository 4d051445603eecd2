/**
 * `PlatformClient`: the account operation platform's `simtap.v1` protocol from an application system (endpoint
 * `/v1/app`, or `/v1/console` for operators), over one WebSocket.
 * @module
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { fromHex } from '../core/bytes';
import { ArgumentError } from '../core/errors';
import {
  CLOSE_CODES,
  ClientId,
  ENDPOINT_PATHS,
  GUARANTEED_FRAME_BYTES,
  MAX_FRAME_BYTES,
  METHODS,
  type MethodName,
  NOTIFICATIONS,
  type ParamsOf,
  parseFrame,
  type RequestId,
  type ResultOf,
  requestFrame,
  SUBPROTOCOL,
  sessionProof,
  summarize,
} from '../wire';
import {
  AbortError,
  AuthenticationError,
  ClientClosedError,
  ConnectionError,
  errorFromRpc,
  type PlatformClientError,
  ProtocolError,
  TimeoutError,
} from './errors';
import {
  type ConnectionEvent,
  type ConnectionState,
  Emitter,
  EVENT_SCHEMAS,
  EventQueue,
  type EventTopic,
  type Listener,
  type PlatformClientEventMap,
  type PlatformEvent,
  type PlatformEventName,
  TOPIC_EVENTS,
} from './events';

/** A method a client may call: every method of the catalogue but `session.authenticate` (the client's own). */
export type ClientMethod = Exclude<MethodName, 'session.authenticate'>;

/** The methods that move money: they take an `idempotencyKey`. */
export type MoneyMethod = {
  [M in MethodName]: (typeof METHODS)[M]['moneyMoving'] extends true ? M : never;
}[MethodName];

/**
 * The params of a call of `M`: the catalogue's, with `idempotencyKey` optional for money-moving methods (the client
 * fills a random UUID when it is missing, and keeps it across retries).
 */
export type CallParams<M extends MethodName> = M extends MoneyMethod
  ? Omit<ParamsOf<M>, 'idempotencyKey'> & { idempotencyKey?: string }
  : ParamsOf<M>;

/** The arguments of a call of `M` after the method: params (optional when every field is) and options. */
export type CallArgs<M extends MethodName> =
  Record<never, never> extends CallParams<M>
    ? [params?: CallParams<M>, options?: CallOptions]
    : [params: CallParams<M>, options?: CallOptions];

/** Options of one call. */
export interface CallOptions {
  /** Aborts the call: it rejects with {@link AbortError} (the request may have reached the platform). */
  readonly signal?: AbortSignal;
  /**
   * The time the call may take in all, queueing, reconnects and retries included, in ms (default the client's
   * `timeoutMs`); then it rejects with {@link TimeoutError}.
   */
  readonly timeoutMs?: number;
}

/** Reconnection: exponential backoff with full jitter (each wait is uniform in `[0, min(max, initial·2ⁿ)]`). */
export interface ReconnectOptions {
  /** The cap of the first wait, in ms (default 100). */
  readonly initialDelayMs?: number;
  /** The largest cap, in ms (default 10,000). */
  readonly maxDelayMs?: number;
  /**
   * Failed attempts in a row before the client gives up (default: no limit — calls are bounded by their own
   * timeouts). Giving up rejects the calls waiting with `CONNECTION_LOST`; the next call starts again.
   */
  readonly maxAttempts?: number;
}

/** TLS options of a `wss://` connection (passed to Node's `tls.connect`). */
export interface TlsOptions {
  /** The CA certificate(s) to trust, PEM (e.g. the development CA of `simtap-host cert`). */
  readonly ca?: string | Buffer | ReadonlyArray<string | Buffer>;
  /** A client certificate, PEM, when the platform asks for one. */
  readonly cert?: string | Buffer;
  /** The client certificate's key, PEM. */
  readonly key?: string | Buffer;
  /** `false` accepts any certificate (development only; default `true`). */
  readonly rejectUnauthorized?: boolean;
  /** The server name to check the certificate against (default the URL's host). */
  readonly servername?: string;
}

/**
 * A WebSocket event handler. Declared as a method's type so that a handler of a richer event (`ws`'s `MessageEvent`,
 * the DOM's) fits.
 */
export type SocketHandler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/** What the client needs of a WebSocket: the `ws` package's `WebSocket` (the default) or a compatible one. */
export interface WebSocketLike {
  /** 1 when open. */
  readonly readyState: number;
  /** The subprotocol the server selected. */
  readonly protocol: string;
  /** Sends a text frame. */
  send(data: string): void;
  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void;
  /** Drops the connection at once (`ws`). */
  terminate?(): void;
  /** Sends a ping (`ws`): the client's heartbeat uses it when present. */
  ping?(): void;
  /** Node-style listeners (`ws`): the heartbeat listens for `pong`. */
  on?(event: 'pong', listener: () => void): unknown;
  /** Message handler. */
  onmessage: SocketHandler<{ readonly data: unknown }> | null;
  /** Close handler. */
  onclose: SocketHandler<{ readonly code: number; readonly reason: unknown }> | null;
  /** Error handler. */
  onerror: SocketHandler<{ readonly message?: string; readonly error?: unknown }> | null;
}

/** A WebSocket constructor: `new WebSocket(url, protocols, options)`. */
export type WebSocketConstructor = new (
  url: string,
  protocols: string | string[],
  options?: Record<string, unknown>,
) => WebSocketLike;

/** The options of {@link PlatformClient}. */
export interface PlatformClientOptions {
  /**
   * The platform: `ws://host:port` or `wss://host:port` (the endpoint's path is added), or a full URL with a path
   * (kept as given, e.g. behind a proxy).
   */
  readonly url: string;
  /** The client id (the profile's `platform.clients[].id`). */
  readonly clientId: string;
  /** The client's secret: bytes, or hex. It proves the session and is never sent nor logged. */
  readonly secret: Uint8Array | string;
  /** `app` (default: application systems, `/v1/app`) or `console` (operators, `/v1/console`). */
  readonly endpoint?: 'app' | 'console';
  /** The default time a call may take, in ms (default 30,000). */
  readonly timeoutMs?: number;
  /** The time one connection attempt (upgrade and authentication) may take, in ms (default 10,000). */
  readonly connectTimeoutMs?: number;
  /**
   * The interval of the client's pings, in ms (default 15,000; 0 turns them off): a connection that answers
   * nothing for two intervals is dropped and reconnected.
   */
  readonly heartbeatMs?: number;
  /** Reconnection (see {@link ReconnectOptions}); `false`: a dropped connection fails the calls in flight. */
  readonly reconnect?: ReconnectOptions | false;
  /** The WebSocket implementation (default the `ws` package's). */
  readonly WebSocket?: WebSocketConstructor;
  /** TLS options for `wss://`. */
  readonly tls?: TlsOptions;
  /** Events an iterator keeps while its reader is behind; the oldest are dropped past it (default 1,000). */
  readonly eventBufferSize?: number;
}

/** Options of {@link EventsApi} (the events iterator). */
export interface EventIteratorOptions {
  /** Subscribes to these topics first, and yields only their events (default: every event of the client). */
  readonly topics?: readonly EventTopic[];
  /** Ends the iteration. */
  readonly signal?: AbortSignal;
  /** Events kept while the reader is behind (default the client's `eventBufferSize`). */
  readonly bufferSize?: number;
}

/** `client.customers`: phone accounts, their statement and the online charge. */
export interface CustomersApi {
  /**
   * Cash paid in at the client's service point, credited to the customer's phone account (money-moving).
   * @example
   * const { balance } = await client.customers.topUpPhoneAccount({ msisdn: '13800138001', amount: 5000 });
   */
  topUpPhoneAccount(
    params: CallParams<'customers.topUpPhoneAccount'>,
    options?: CallOptions,
  ): Promise<ResultOf<'customers.topUpPhoneAccount'>>;
  /**
   * The phone account's balance and what is available (holds of loads in flight deducted).
   * @example
   * const { balance, available } = await client.customers.phoneAccount({ msisdn: '13800138001' });
   */
  phoneAccount(
    params: CallParams<'customers.phoneAccount'>,
    options?: CallOptions,
  ): Promise<ResultOf<'customers.phoneAccount'>>;
  /**
   * The phone account's latest movements, oldest first.
   * @example
   * const { lines } = await client.customers.statement({ msisdn: '13800138001', limit: 20 });
   */
  statement(params: CallParams<'customers.statement'>, options?: CallOptions): Promise<ResultOf<'customers.statement'>>;
  /**
   * A fresh challenge for an online charge: the machine sends it to the card in INTERNAL AUTHENTICATE.
   * @example
   * const { challenge } = await client.customers.chargeChallenge({ cardSerial: '00004401202600000001' });
   */
  chargeChallenge(
    params: CallParams<'customers.chargeChallenge'>,
    options?: CallOptions,
  ): Promise<ResultOf<'customers.chargeChallenge'>>;
  /**
   * The online charge to the holder's phone account, once the card answered the challenge (money-moving).
   * @example
   * const { balance, points } = await client.customers.chargePhoneAccount({
   *   cardSerial: '00004401202600000001', amount: 1234, challenge, response: cardAnswerHex,
   * });
   */
  chargePhoneAccount(
    params: CallParams<'customers.chargePhoneAccount'>,
    options?: CallOptions,
  ): Promise<ResultOf<'customers.chargePhoneAccount'>>;
  /**
   * The online charge with the card proving itself through its phone, over the air (money-moving). Rejects with
   * `PhoneUnreachableError` when the phone is not connected.
   * @example
   * const { balance, points } = await client.customers.chargeOverTheAir({ msisdn: '13800138001', amount: 2500 });
   */
  chargeOverTheAir(
    params: CallParams<'customers.chargeOverTheAir'>,
    options?: CallOptions,
  ): Promise<ResultOf<'customers.chargeOverTheAir'>>;
}

/** `client.wallet`: loads onto the card's e-purse and the platform's mirror of it. */
export interface WalletApi {
  /**
   * Verifies the card's MAC1 (its INITIALIZE FOR LOAD answer), holds the funds and returns the MAC2 for CREDIT FOR
   * LOAD (money-moving).
   * @example
   * const { loadId, mac2 } = await client.wallet.authorizeLoad({
   *   cardSerial: '00004401202600000001', terminalId: '440100000009', amount: 5000, oldBalance: 0,
   *   onlineCounter: 0, random: '1A2B3C4D', mac1: '8F3E2C11', date: '20261203', time: '101500',
   *   funding: { source: 'phoneAccount', msisdn: '13800138001' },
   * });
   */
  authorizeLoad(
    params: CallParams<'wallet.authorizeLoad'>,
    options?: CallOptions,
  ): Promise<ResultOf<'wallet.authorizeLoad'>>;
  /**
   * Verifies the load TAC (the card's CREDIT FOR LOAD answer) and posts the load; idempotent by `loadId`.
   * @example
   * const { float } = await client.wallet.confirmLoad({ loadId, tac: 'C0FFEE42' });
   */
  confirmLoad(params: CallParams<'wallet.confirmLoad'>, options?: CallOptions): Promise<ResultOf<'wallet.confirmLoad'>>;
  /**
   * Settles a torn load from the card's next contact (its online counter, and its proof when past the load's).
   * @example
   * const { status } = await client.wallet.resolveLoad({ loadId, onlineCounter: 0 }); // 'voided'
   */
  resolveLoad(params: CallParams<'wallet.resolveLoad'>, options?: CallOptions): Promise<ResultOf<'wallet.resolveLoad'>>;
  /**
   * The platform's mirror of the card's purse.
   * @example
   * const { balance } = await client.wallet.float({ cardSerial: '00004401202600000001' });
   */
  float(params: CallParams<'wallet.float'>, options?: CallOptions): Promise<ResultOf<'wallet.float'>>;
  /**
   * Loads the customer's card over the air from the phone account (money-moving).
   * @example
   * const { loadId, status } = await client.wallet.airTopUp({ msisdn: '13800138001', amount: 2000 });
   */
  airTopUp(params: CallParams<'wallet.airTopUp'>, options?: CallOptions): Promise<ResultOf<'wallet.airTopUp'>>;
  /**
   * A load and its status.
   * @example
   * const { status, amount } = await client.wallet.load({ loadId });
   */
  load(params: CallParams<'wallet.load'>, options?: CallOptions): Promise<ResultOf<'wallet.load'>>;
  /**
   * The card's loads not yet settled: what its next contact must resolve.
   * @example
   * const { loads } = await client.wallet.pendingLoads({ cardSerial: '00004401202600000001' });
   */
  pendingLoads(
    params: CallParams<'wallet.pendingLoads'>,
    options?: CallOptions,
  ): Promise<ResultOf<'wallet.pendingLoads'>>;
}

/** `client.clearing`: offline purchase records cleared to the client's merchant. */
export interface ClearingApi {
  /**
   * Clears offline purchase records (money-moving): every TAC verified, each debit once, gaps reported.
   * @example
   * const { accepted, settled, rejected, gaps } = await client.clearing.submitBatch({ records: tillRecords });
   */
  submitBatch(
    params: CallParams<'clearing.submitBatch'>,
    options?: CallOptions,
  ): Promise<ResultOf<'clearing.submitBatch'>>;
}

/** `client.merchants`: the client's merchant. */
export interface MerchantsApi {
  /**
   * What the platform owes the client's merchant.
   * @example
   * const { payable } = await client.merchants.balance();
   */
  balance(params?: CallParams<'merchants.balance'>, options?: CallOptions): Promise<ResultOf<'merchants.balance'>>;
}

/** `client.points`: loyalty points. */
export interface PointsApi {
  /**
   * The customer's points.
   * @example
   * const { points } = await client.points.balance({ msisdn: '13800138001' });
   */
  balance(params: CallParams<'points.balance'>, options?: CallOptions): Promise<ResultOf<'points.balance'>>;
  /**
   * Redeems points into the phone account (money-moving).
   * @example
   * const { credited } = await client.points.redeem({ msisdn: '13800138001', points: 10 });
   */
  redeem(params: CallParams<'points.redeem'>, options?: CallOptions): Promise<ResultOf<'points.redeem'>>;
}

/** `client.cards`: the card registry and the blacklist. */
export interface CardsApi {
  /**
   * A card's identities and life-cycle status.
   * @example
   * const { status } = await client.cards.get({ cardSerial: '00004401202600000001' }); // 'active'
   */
  get(params: CallParams<'cards.get'>, options?: CallOptions): Promise<ResultOf<'cards.get'>>;
  /**
   * Reports the card lost. Not re-sent after a dropped connection (a repeat would answer `CARD_STATE`): the call
   * then rejects with `CONNECTION_LOST`; read the card back with `get`.
   * @example
   * const { blacklistVersion } = await client.cards.reportLost({ cardSerial: '00004401202600000001' });
   */
  reportLost(params: CallParams<'cards.reportLost'>, options?: CallOptions): Promise<ResultOf<'cards.reportLost'>>;
  /**
   * The signed blacklist changes since `sinceVersion` (default: the whole list).
   * @example
   * const { version, added, removed } = await client.cards.blacklist({ sinceVersion: 0 });
   */
  blacklist(params?: CallParams<'cards.blacklist'>, options?: CallOptions): Promise<ResultOf<'cards.blacklist'>>;
  /**
   * The platform's Ed25519 public key that blacklist deltas are signed with.
   * @example
   * const { publicKey } = await client.cards.blacklistKey();
   */
  blacklistKey(
    params?: CallParams<'cards.blacklistKey'>,
    options?: CallOptions,
  ): Promise<ResultOf<'cards.blacklistKey'>>;
}

/**
 * `client.events`: call it for an async iterator of the platform's events; `subscribe` starts topics.
 * Subscriptions are renewed after every reconnect (events sent while the client was disconnected are not replayed).
 * @example
 * for await (const e of client.events({ topics: ['loads'], signal })) {
 *   if (e.type === 'event.load') console.log(e.data.loadId, e.data.status);
 * }
 */
export interface EventsApi {
  /**
   * An async iterator of events. It ends at `close()` (after the events it holds), at once when `signal` aborts
   * or the loop breaks, and fails with the {@link AuthenticationError} when the platform refuses the session.
   */
  (options?: EventIteratorOptions): AsyncIterableIterator<PlatformEvent>;
  /**
   * Subscribes to `topics` (`events.subscribe`); the client keeps them across reconnects.
   * @example
   * await client.events.subscribe(['loads', 'clearing']);
   */
  subscribe(topics: readonly EventTopic[], options?: CallOptions): Promise<ResultOf<'events.subscribe'>>;
}

/** How a method may be sent again after a connection dropped with it in flight. */
type Resend =
  /** moves money: re-sent with its idempotency key, the platform answers the first outcome */
  | 'key'
  /** has an effect a repeat does not double (idempotent by id, or harmless) */
  | 'idempotent'
  /** reads only */
  | 'read'
  /** a repeat would fail or act twice: not re-sent once it may have reached the platform */
  | 'once';

/** Every method's resend class: a new method of the catalogue is a compile error here until classified. */
const RESEND: { readonly [M in MethodName]: Resend } = {
  'session.authenticate': 'once',
  'customers.topUpPhoneAccount': 'key',
  'customers.phoneAccount': 'read',
  'customers.statement': 'read',
  'customers.chargeChallenge': 'idempotent',
  'customers.chargePhoneAccount': 'key',
  'customers.chargeOverTheAir': 'key',
  'wallet.authorizeLoad': 'key',
  'wallet.confirmLoad': 'idempotent',
  'wallet.resolveLoad': 'idempotent',
  'wallet.float': 'read',
  'wallet.airTopUp': 'key',
  'wallet.load': 'read',
  'wallet.pendingLoads': 'read',
  'clearing.submitBatch': 'key',
  'merchants.balance': 'read',
  'points.balance': 'read',
  'points.redeem': 'key',
  'cards.get': 'read',
  'cards.reportLost': 'once',
  'cards.blacklist': 'read',
  'cards.blacklistKey': 'read',
  'cards.list': 'read',
  'cards.block': 'once',
  'cards.unblock': 'once',
  'cards.issue': 'idempotent',
  'cards.replace': 'idempotent',
  'ledger.verify': 'read',
  'ledger.loadReport': 'read',
  'ledger.summary': 'read',
  'console.snapshot': 'read',
  'events.subscribe': 'idempotent',
};

/** Answers after which the call is sent again after a delay (`RATE_LIMITED` for every method: it did nothing). */
const RETRY_LATER = new Set<string>(['RATE_LIMITED']);
/** … and these for the methods that may be re-sent (the platform says: retry with the same key). */
const RETRY_RESENDABLE = new Set<string>(['TIMEOUT', 'UNAVAILABLE']);
/** Answers to `session.authenticate` that end the client. */
const FATAL_AUTH = new Set<string>(['BAD_PROOF', 'FORBIDDEN']);
/** Close codes that end the client. */
const FATAL_CLOSE = new Map<number, 'BAD_PROOF' | 'FORBIDDEN'>([
  [CLOSE_CODES.AUTHENTICATION_FAILED, 'BAD_PROOF'],
  [CLOSE_CODES.WRONG_ENDPOINT, 'FORBIDDEN'],
]);
/** The id of the authentication request (calls use numbers). */
const AUTH_ID = 'auth';

/**
 * The wait before reconnect attempt `attempt` (0-based): full jitter, uniform in `[0, min(max, initial·2^attempt)]`.
 * @internal
 */
export function backoffDelay(
  attempt: number,
  o: { readonly initialDelayMs: number; readonly maxDelayMs: number },
  random: () => number = Math.random,
): number {
  const cap = Math.min(o.maxDelayMs, o.initialDelayMs * 2 ** Math.min(attempt, 52));
  return Math.floor(random() * cap);
}

interface PendingCall {
  readonly method: ClientMethod;
  readonly params: Record<string, unknown>;
  readonly idempotencyKey: string | undefined;
  readonly frameBytes: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  /** The request id of the send in flight. */
  id: number | undefined;
  /** A request of this call reached the wire. */
  sent: boolean;
  /** Sends after an answer asking to retry later. */
  retries: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  retryTimer: ReturnType<typeof setTimeout> | undefined;
  cleanup: (() => void) | undefined;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

interface Subscriber {
  readonly queue: EventQueue<PlatformEvent>;
  readonly names: ReadonlySet<PlatformEventName> | undefined;
}

/**
 * A client of the account operation platform over `simtap.v1`: one WebSocket, authenticated from the client id and
 * secret; typed methods for everything on `/v1/app` (`client.wallet.authorizeLoad`, `client.clearing.submitBatch`,
 * …) and a generic {@link PlatformClient.call}; params checked against the catalogue before sending and results on
 * arrival.
 *
 * The connection is kept: when it drops, the client reconnects with exponential backoff and full jitter,
 * authenticates again, renews event subscriptions and sends the calls in flight again — a money-moving call with the
 * same idempotency key (filled with a random UUID when the caller gives none), so a caller that got an answer got
 * exactly one effect. Every call ends by its answer, its `timeoutMs` ({@link TimeoutError}) or its `signal`
 * ({@link AbortError}); a money-moving call that ends without an answer says whether its effect is unknown and
 * carries its key. A wrong secret or the wrong endpoint is fatal ({@link AuthenticationError}); `RATE_LIMITED` is
 * retried after a delay. The platform's refusals reject as {@link PlatformCallError} subclasses by `data.code`.
 *
 * @example
 * import { PlatformClient, hasPlatformErrorCode } from '@simtap/sdk/clients';
 * const client = new PlatformClient({
 *   url: 'ws://127.0.0.1:7800',
 *   clientId: 'mart-1',
 *   secret: 'A9324805AC9A0F9CAF5D24A7AA40B1C9B1F60FEA8385DD67BC0F5DD0DCBD52DD',
 * });
 * await client.connect();
 * client.on('event.load', (e) => console.log('load', e.loadId, e.status));
 * await client.events.subscribe(['loads']);
 * try {
 *   const { balance } = await client.customers.topUpPhoneAccount({ msisdn: '13800138001', amount: 5000 });
 *   console.log(balance);
 * } catch (e) {
 *   if (hasPlatformErrorCode(e, 'UNKNOWN_CUSTOMER')) console.log('no such customer');
 *   else throw e;
 * } finally {
 *   await client.close();
 * }
 */
export class PlatformClient {
  /** Phone accounts, statement and the online charge. */
  readonly customers: CustomersApi;
  /** Loads and the purse mirror. */
  readonly wallet: WalletApi;
  /** Clearing of offline purchase records. */
  readonly clearing: ClearingApi;
  /** The client's merchant. */
  readonly merchants: MerchantsApi;
  /** Loyalty points. */
  readonly points: PointsApi;
  /** The card registry and the blacklist. */
  readonly cards: CardsApi;
  /** Platform events: an async iterator (`client.events(…)`) and `client.events.subscribe(topics)`. */
  readonly events: EventsApi;
  /** The client id. */
  readonly clientId: string;
  /** The endpoint: `app` or `console`. */
  readonly endpoint: 'app' | 'console';
  /** The WebSocket URL the client connects to. */
  readonly url: string;

  readonly #secret: Uint8Array;
  readonly #WebSocket: WebSocketConstructor;
  readonly #wsOptions: Record<string, unknown>;
  readonly #timeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #heartbeatMs: number;
  readonly #reconnect: { initialDelayMs: number; maxDelayMs: number; maxAttempts: number; enabled: boolean };
  readonly #eventBufferSize: number;
  readonly #emitter = new Emitter();

  #state: ConnectionState | 'idle' = 'idle';
  /** The socket of the session or of the attempt under way. */
  #socket: WebSocketLike | undefined;
  /** The authenticated socket, when the session is open. */
  #session: WebSocketLike | undefined;
  #running = false;
  /** Set once a session opened: the client keeps a connection until `close()`. */
  #keepAlive = false;
  #closed = false;
  #fatal: AuthenticationError | undefined;
  #lastError: Error | undefined;
  #nextId = 1;
  readonly #calls = new Set<PendingCall>();
  readonly #queue: PendingCall[] = [];
  readonly #inflight = new Map<number, PendingCall>();
  readonly #waiters = new Set<Waiter>();
  readonly #subscribers = new Set<Subscriber>();
  readonly #topics = new Set<EventTopic>();
  #wake: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  /**
   * Checks the options; connects on `connect()` or the first call.
   * @throws {ArgumentError} `BAD_ARGUMENT` for a URL that is not `ws(s)://`, a client id outside `simtap.v1`'s, an
   * empty or non-hex secret, or an endpoint other than `app` / `console`.
   */
  constructor(options: PlatformClientOptions) {
    const endpoint = options.endpoint ?? 'app';
    if (endpoint !== 'app' && endpoint !== 'console') throw new ArgumentError(`endpoint: 'app' or 'console'`);
    this.endpoint = endpoint;
    let url: URL;
    try {
      url = new URL(options.url);
    } catch (e) {
      throw new ArgumentError(`url: not a URL: ${String(options.url)}`, { cause: e });
    }
    if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new ArgumentError('url: ws:// or wss://');
    if (url.pathname === '/' || url.pathname === '') url.pathname = ENDPOINT_PATHS[endpoint];
    this.url = url.toString();
    if (!ClientId.safeParse(options.clientId).success)
      throw new ArgumentError('clientId: 1–64 characters of A–Z a–z 0–9 . _ : -');
    this.clientId = options.clientId;
    this.#secret = secretBytes(options.secret);
    this.#WebSocket = options.WebSocket ?? WebSocket;
    this.#timeoutMs = positive(options.timeoutMs, 30_000, 'timeoutMs');
    this.#connectTimeoutMs = positive(options.connectTimeoutMs, 10_000, 'connectTimeoutMs');
    this.#heartbeatMs = options.heartbeatMs === 0 ? 0 : positive(options.heartbeatMs, 15_000, 'heartbeatMs');
    this.#eventBufferSize = positive(options.eventBufferSize, 1000, 'eventBufferSize');
    const r = options.reconnect === false ? {} : (options.reconnect ?? {});
    this.#reconnect = {
      initialDelayMs: positive(r.initialDelayMs, 100, 'reconnect.initialDelayMs'),
      maxDelayMs: positive(r.maxDelayMs, 10_000, 'reconnect.maxDelayMs'),
      maxAttempts: r.maxAttempts === undefined ? Number.POSITIVE_INFINITY : positive(r.maxAttempts, 1, 'maxAttempts'),
      enabled: options.reconnect !== false,
    };
    const tls = options.tls ?? {};
    this.#wsOptions = {
      handshakeTimeout: this.#connectTimeoutMs,
      ...Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined)),
    };

    const bind =
      (method: ClientMethod) =>
      (params?: unknown, options?: CallOptions): Promise<unknown> =>
        this.#call(method, params, options);
    this.customers = {
      topUpPhoneAccount: bind('customers.topUpPhoneAccount'),
      phoneAccount: bind('customers.phoneAccount'),
      statement: bind('customers.statement'),
      chargeChallenge: bind('customers.chargeChallenge'),
      chargePhoneAccount: bind('customers.chargePhoneAccount'),
      chargeOverTheAir: bind('customers.chargeOverTheAir'),
    } as CustomersApi;
    this.wallet = {
      authorizeLoad: bind('wallet.authorizeLoad'),
      confirmLoad: bind('wallet.confirmLoad'),
      resolveLoad: bind('wallet.resolveLoad'),
      float: bind('wallet.float'),
      airTopUp: bind('wallet.airTopUp'),
      load: bind('wallet.load'),
      pendingLoads: bind('wallet.pendingLoads'),
    } as WalletApi;
    this.clearing = { submitBatch: bind('clearing.submitBatch') } as ClearingApi;
    this.merchants = { balance: bind('merchants.balance') } as MerchantsApi;
    this.points = { balance: bind('points.balance'), redeem: bind('points.redeem') } as PointsApi;
    this.cards = {
      get: bind('cards.get'),
      reportLost: bind('cards.reportLost'),
      blacklist: bind('cards.blacklist'),
      blacklistKey: bind('cards.blacklistKey'),
    } as CardsApi;
    this.events = Object.assign((o?: EventIteratorOptions) => this.#iterate(o ?? {}), {
      subscribe: (topics: readonly EventTopic[], o?: CallOptions) => this.#subscribe(topics, o),
    });
  }

  /** The connection state (`idle` before the first connection). */
  get state(): ConnectionState | 'idle' {
    return this.#state;
  }

  /**
   * Opens and authenticates a session (`session.challenge`, then `session.authenticate`); resolves when it is
   * open, at once when it already is. Failed attempts are retried with backoff within `timeoutMs` (default the
   * client's) and `reconnect.maxAttempts`. Calls connect by themselves: `connect()` is for failing early.
   * @throws {AuthenticationError} `AUTH_FAILED`: a wrong secret, an unknown client id, or the wrong endpoint.
   * @throws {ConnectionError} `CONNECT_FAILED` when no session opened in time (`cause`: the last failure).
   * @throws {AbortError} `CALL_ABORTED` when `signal` aborts.
   * @throws {ClientClosedError} `CLIENT_CLOSED` after `close()`.
   * @example
   * await client.connect({ timeoutMs: 5000 });
   */
  connect(options: CallOptions = {}): Promise<void> {
    if (this.#fatal) return Promise.reject(this.#fatal);
    if (this.#closed) return Promise.reject(new ClientClosedError('the client is closed'));
    if (this.#session) return Promise.resolve();
    let timeoutMs: number;
    try {
      timeoutMs = positive(options.timeoutMs, this.#timeoutMs, 'timeoutMs');
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<void>((resolve, reject) => {
      const signal = options.signal;
      if (signal?.aborted) return reject(new AbortError('connect aborted', { cause: signal.reason }));
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#waiters.delete(waiter);
        this.#stopIfUnwanted();
      };
      const waiter: Waiter = {
        resolve: () => {
          done();
          resolve();
        },
        reject: (e) => {
          done();
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        const last = this.#lastError;
        waiter.reject(
          new ConnectionError(
            'CONNECT_FAILED',
            `no session with ${this.url} within ${timeoutMs} ms${last ? `: ${last.message}` : ''}`,
            { cause: last },
          ),
        );
      }, timeoutMs);
      const onAbort = () => waiter.reject(new AbortError('connect aborted', { cause: signal?.reason }));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(waiter);
      this.#start();
    });
  }

  /**
   * Calls `method` with `params` — the generic form of the typed methods, for any method of the client's endpoint.
   * Params are checked against the catalogue's schema before sending ({@link ProtocolError} `INVALID_PARAMS`, no
   * round trip) and the result on arrival (`INVALID_RESULT`).
   * @throws {PlatformCallError} the platform's refusal, by `data.code` (a subclass per code).
   * @throws {ProtocolError} bad params, a method the endpoint does not serve, a result that does not fit.
   * @throws {TimeoutError} `CALL_TIMEOUT`; {@link AbortError} `CALL_ABORTED`; {@link ConnectionError}
   * `CONNECTION_LOST`; {@link AuthenticationError} `AUTH_FAILED`; {@link ClientClosedError} `CLIENT_CLOSED`.
   * @example
   * const { balance } = await client.call('wallet.float', { cardSerial: '00004401202600000001' }, { timeoutMs: 5000 });
   */
  call<M extends ClientMethod>(method: M, ...args: CallArgs<M>): Promise<ResultOf<M>> {
    return this.#call(method, args[0], args[1]) as Promise<ResultOf<M>>;
  }

  /**
   * Adds a listener of the platform's events (`event.load`, `event.card`, `event.batch`: the params of the
   * notification; subscribe to their topics with `client.events.subscribe`) or of `connection` state changes.
   * Returns the function that removes it. A listener that throws does not stop the others.
   * @example
   * const off = client.on('connection', (e) => console.log(e.state, e.attempt));
   * client.on('event.batch', (e) => console.log(e.accepted, e.settled));
   * off();
   */
  on<K extends keyof PlatformClientEventMap>(name: K, listener: Listener<K>): () => void {
    return this.#emitter.on(name, listener);
  }

  /**
   * Removes a listener added with {@link PlatformClient.on}.
   * @example
   * client.off('event.load', onLoad);
   */
  off<K extends keyof PlatformClientEventMap>(name: K, listener: Listener<K>): void {
    this.#emitter.off(name, listener);
  }

  /**
   * Closes the client: calls waiting or in flight reject with {@link ClientClosedError} (`effectUnknown` for a
   * money-moving call that was sent: retry it on a new client with its `idempotencyKey`), event iterators end, the
   * socket closes with 1000. Resolves when the socket is closed; calling it again returns the same promise.
   * @example
   * await client.close();
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.#keepAlive = false;
    for (const p of [...this.#calls])
      this.#fail(p, new ClientClosedError(`${p.method}: the client was closed`, this.#context(p)));
    for (const w of [...this.#waiters]) w.reject(new ClientClosedError('the client was closed'));
    for (const s of [...this.#subscribers]) s.queue.end();
    this.#wakeUp();
    const socket = this.#socket;
    this.#socket = undefined;
    this.#session = undefined;
    this.#closing = closeSocket(socket).then(() => {
      if (!this.#fatal) this.#setState('closed', { attempt: 0 });
    });
    return this.#closing;
  }

  // ——— calls ———

  #call(method: ClientMethod, rawParams: unknown, options: CallOptions = {}, first = false): Promise<unknown> {
    if (this.#fatal) return Promise.reject(this.#fatal);
    if (this.#closed) return Promise.reject(new ClientClosedError(`${method}: the client is closed`, { method }));
    const spec = Object.hasOwn(METHODS, method) ? (METHODS[method] as (typeof METHODS)[MethodName]) : undefined;
    if (
      !spec ||
      method === ('session.authenticate' as string) ||
      !(spec.endpoints as readonly string[]).includes(this.endpoint)
    )
      return Promise.reject(
        new ProtocolError('METHOD_NOT_FOUND', `method not found on /v1/${this.endpoint}: ${String(method)}`, {
          method,
          rpcCode: -32601,
        }),
      );
    const params: Record<string, unknown> =
      rawParams !== null && typeof rawParams === 'object' && !Array.isArray(rawParams)
        ? { ...(rawParams as Record<string, unknown>) }
        : rawParams === undefined
          ? {}
          : (rawParams as never);
    let idempotencyKey: string | undefined;
    if (spec.moneyMoving && typeof params === 'object' && params !== null) {
      if (params.idempotencyKey === undefined) params.idempotencyKey = randomUUID();
      if (typeof params.idempotencyKey === 'string') idempotencyKey = params.idempotencyKey;
    }
    const checked = spec.params.safeParse(params);
    if (!checked.success)
      return Promise.reject(
        new ProtocolError('INVALID_PARAMS', `${method}: invalid params: ${summarize(checked.error)}`, {
          method,
          idempotencyKey,
          rpcCode: -32602,
        }),
      );
    const frameBytes = Buffer.byteLength(requestFrame(Number.MAX_SAFE_INTEGER, method, checked.data));
    if (frameBytes > MAX_FRAME_BYTES)
      return Promise.reject(
        new ProtocolError('FRAME_TOO_BIG', `${method}: the request is ${frameBytes} bytes, over ${MAX_FRAME_BYTES}`, {
          method,
          idempotencyKey,
        }),
      );
    let timeoutMs: number;
    try {
      timeoutMs = positive(options.timeoutMs, this.#timeoutMs, 'timeoutMs');
    } catch (e) {
      return Promise.reject(e);
    }
    const signal = options.signal;
    if (signal?.aborted)
      return Promise.reject(new AbortError(`${method}: aborted`, { method, idempotencyKey, cause: signal.reason }));
    return new Promise((resolve, reject) => {
      const p: PendingCall = {
        method,
        params: checked.data as Record<string, unknown>,
        idempotencyKey,
        frameBytes,
        resolve,
        reject,
        id: undefined,
        sent: false,
        retries: 0,
        timer: undefined,
        retryTimer: undefined,
        cleanup: undefined,
      };
      p.timer = setTimeout(() => {
        const unknown = this.#effectUnknown(p);
        this.#fail(
          p,
          new TimeoutError(
            `${method}: no answer within ${timeoutMs} ms${
              unknown ? `; its effect is unknown: retry with idempotencyKey ${JSON.stringify(idempotencyKey)}` : ''
            }`,
            { ...this.#context(p), cause: this.#lastError },
          ),
        );
      }, timeoutMs);
      if (signal) {
        const onAbort = () =>
          this.#fail(p, new AbortError(`${method}: aborted`, { ...this.#context(p), cause: signal.reason }));
        signal.addEventListener('abort', onAbort, { once: true });
        p.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      this.#calls.add(p);
      if (first) this.#queue.unshift(p);
      else this.#queue.push(p);
      this.#flush();
      this.#start();
    });
  }

  #effectUnknown(p: PendingCall): boolean {
    return p.sent && RESEND[p.method] !== 'read';
  }

  #context(p: PendingCall) {
    return { method: p.method, idempotencyKey: p.idempotencyKey, effectUnknown: this.#effectUnknown(p) };
  }

  /** Forgets `p` everywhere (timers, queue, in flight). */
  #settle(p: PendingCall): boolean {
    if (!this.#calls.delete(p)) return false;
    clearTimeout(p.timer);
    clearTimeout(p.retryTimer);
    p.cleanup?.();
    if (p.id !== undefined) this.#inflight.delete(p.id);
    const i = this.#queue.indexOf(p);
    if (i >= 0) this.#queue.splice(i, 1);
    if (this.#calls.size === 0) this.#stopIfUnwanted();
    return true;
  }

  #fail(p: PendingCall, error: unknown): void {
    if (this.#settle(p)) p.reject(error);
  }

  #succeed(p: PendingCall, value: unknown): void {
    if (this.#settle(p)) p.resolve(value);
  }

  /** Sends the queued calls when the session is open. */
  #flush(): void {
    const ws = this.#session;
    if (!ws) return;
    while (this.#queue.length > 0 && this.#session === ws && ws.readyState === 1) {
      const p = this.#queue.shift()!;
      const id = this.#nextId++;
      p.id = id;
      p.sent = true;
      this.#inflight.set(id, p);
      try {
        ws.send(requestFrame(id, p.method, p.params));
      } catch {
        // the socket is going away: its close event puts the call back in the queue
      }
    }
  }

  #onAnswer(id: RequestId, result: { ok: true; value: unknown } | { ok: false; error: PlatformClientError }): void {
    if (typeof id !== 'number') return;
    const p = this.#inflight.get(id);
    if (!p) return; // the answer of a call that already ended (timeout, abort)
    this.#inflight.delete(id);
    p.id = undefined;
    if (result.ok) {
      const r = METHODS[p.method].result.safeParse(result.value);
      if (r.success) this.#succeed(p, r.data);
      else
        this.#fail(
          p,
          new ProtocolError('INVALID_RESULT', `${p.method}: invalid result: ${summarize(r.error)}`, {
            method: p.method,
            idempotencyKey: p.idempotencyKey,
            data: { result: result.value },
          }),
        );
      return;
    }
    const error = result.error;
    const later = RETRY_LATER.has(error.code) || (RETRY_RESENDABLE.has(error.code) && RESEND[p.method] !== 'once');
    if (!later || this.#closed) {
      this.#fail(p, error);
      return;
    }
    const data = (error as { data?: Record<string, unknown> }).data ?? {};
    const hinted = typeof data.retryAfterMs === 'number' && data.retryAfterMs >= 0 ? data.retryAfterMs : undefined;
    const delay = hinted ?? backoffDelay(p.retries, this.#reconnect);
    p.retries++;
    this.#lastError = error;
    p.retryTimer = setTimeout(() => {
      p.retryTimer = undefined;
      if (!this.#calls.has(p)) return;
      this.#queue.push(p);
      this.#flush();
      this.#start();
    }, delay);
  }

  /** After a drop: calls in flight go back to the queue, in order, but those that must not be sent twice. */
  #requeue(closeCode: number | undefined): void {
    const inflight = [...this.#inflight.values()].sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
    this.#inflight.clear();
    // 1009: the platform refused a frame as too big — the largest in flight (it was not run)
    const tooBig =
      closeCode === CLOSE_CODES.MESSAGE_TOO_BIG
        ? inflight.reduce<PendingCall | undefined>((a, p) => (a && a.frameBytes >= p.frameBytes ? a : p), undefined)
        : undefined;
    const back: PendingCall[] = [];
    for (const p of inflight) {
      p.id = undefined;
      if (p === tooBig)
        this.#fail(
          p,
          new ProtocolError(
            'FRAME_TOO_BIG',
            `${p.method}: the platform closed with 1009 on a ${p.frameBytes}-byte request (${GUARANTEED_FRAME_BYTES} are always accepted)`,
            { method: p.method, idempotencyKey: p.idempotencyKey },
          ),
        );
      else if (RESEND[p.method] === 'once' || !this.#reconnect.enabled)
        this.#fail(
          p,
          new ConnectionError('CONNECTION_LOST', `${p.method}: the connection dropped before the answer`, {
            ...this.#context(p),
            closeCode,
          }),
        );
      else back.push(p);
    }
    this.#queue.unshift(...back);
  }

  // ——— events ———

  #iterate(options: EventIteratorOptions): AsyncIterableIterator<PlatformEvent> {
    const names = options.topics ? new Set(options.topics.map((t) => TOPIC_EVENTS[t])) : undefined;
    const signal = options.signal;
    const onAbort = () => void sub.queue.return();
    const sub: Subscriber = {
      names,
      queue: new EventQueue<PlatformEvent>(positive(options.bufferSize, this.#eventBufferSize, 'bufferSize'), () => {
        this.#subscribers.delete(sub);
        signal?.removeEventListener('abort', onAbort);
      }),
    };
    if (this.#fatal) sub.queue.end(this.#fatal);
    else if (this.#closed || signal?.aborted) sub.queue.end();
    else {
      this.#subscribers.add(sub);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (options.topics && options.topics.length > 0)
        this.#subscribe(options.topics, { signal }).catch((e) => sub.queue.end(signal?.aborted ? undefined : e));
    }
    return sub.queue;
  }

  async #subscribe(topics: readonly EventTopic[], options?: CallOptions): Promise<ResultOf<'events.subscribe'>> {
    const result = (await this.#call(
      'events.subscribe',
      { topics: [...topics] },
      options,
    )) as ResultOf<'events.subscribe'>;
    for (const t of result.topics) this.#topics.add(t);
    return result;
  }

  #onNotification(method: string, params: unknown): void {
    if (!Object.hasOwn(EVENT_SCHEMAS, method)) return;
    const name = method as PlatformEventName;
    const r = EVENT_SCHEMAS[name].safeParse(params);
    if (!r.success) return;
    this.#emitter.emit(name, r.data as never);
    const event = { type: name, data: r.data } as PlatformEvent;
    for (const s of this.#subscribers) if (!s.names || s.names.has(name)) s.queue.push(event);
  }

  #setState(state: ConnectionState, event: Omit<ConnectionEvent, 'state'>): void {
    this.#state = state;
    this.#emitter.emit('connection', { state, ...event });
  }

  // ——— the connection ———

  #wanted(): boolean {
    return !this.#closed && !this.#fatal && (this.#keepAlive || this.#calls.size > 0 || this.#waiters.size > 0);
  }

  /** Ends the wait between attempts when nothing needs a connection any more (the loop then stops). */
  #stopIfUnwanted(): void {
    if (!this.#wanted()) this.#wakeUp();
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Starts the connection loop unless it runs or nothing needs it. */
  #start(): void {
    if (this.#running || this.#session || !this.#wanted()) return;
    this.#running = true;
    void this.#run().finally(() => {
      this.#running = false;
    });
  }

  async #run(): Promise<void> {
    let failures = 0;
    let resumed = false;
    this.#setState('connecting', { attempt: 0 });
    for (;;) {
      if (!this.#wanted()) {
        if (!this.#closed && !this.#fatal) this.#state = 'idle';
        return;
      }
      let ws: WebSocketLike;
      try {
        ws = await this.#handshake();
      } catch (e) {
        if (this.#closed) return;
        if (e instanceof AuthenticationError) return this.#failFatal(e);
        failures++;
        this.#lastError = e as Error;
        if (failures >= this.#reconnect.maxAttempts || !this.#reconnect.enabled)
          return this.#giveUp(e as Error, failures);
        if (!this.#wanted()) continue;
        const delayMs = backoffDelay(failures - 1, this.#reconnect);
        this.#setState('reconnecting', {
          attempt: failures,
          delayMs,
          error: e as Error,
          closeCode: (e as ConnectionError).closeCode,
        });
        await this.#sleep(delayMs);
        continue;
      }
      failures = 0;
      this.#lastError = undefined;
      const { code, reason } = await this.#serve(ws, resumed);
      if (this.#closed) return;
      const fatal = FATAL_CLOSE.get(code);
      if (fatal) {
        this.#requeue(code);
        return this.#failFatal(
          new AuthenticationError(fatal, `the platform closed the session with ${code}`, { closeCode: code }),
        );
      }
      const error = new ConnectionError('CONNECTION_LOST', `the connection closed with ${code}${reason}`, {
        closeCode: code,
      });
      this.#lastError = error;
      this.#requeue(code);
      resumed = true;
      if (!this.#reconnect.enabled) return this.#giveUp(error, 0);
      if (!this.#wanted()) continue;
      const delayMs = backoffDelay(0, this.#reconnect);
      this.#setState('reconnecting', { attempt: 0, delayMs, error, closeCode: code });
      await this.#sleep(delayMs);
    }
  }

  /** Opens a socket and authenticates; resolves with the open session's socket. */
  #handshake(): Promise<WebSocketLike> {
    return new Promise((resolve, reject) => {
      let ws: WebSocketLike;
      try {
        ws = new this.#WebSocket(this.url, SUBPROTOCOL, this.#wsOptions);
      } catch (e) {
        return reject(new ConnectionError('CONNECT_FAILED', `cannot open ${this.url}: ${messageOf(e)}`, { cause: e }));
      }
      this.#socket = ws;
      let settled = false;
      const finish = (error: Error | undefined) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error === undefined && !this.#closed) return resolve(ws);
        ws.onmessage = null;
        ws.onclose = null;
        ws.onerror = null;
        if (this.#socket === ws) this.#socket = undefined;
        void closeSocket(ws);
        reject(error ?? new ClientClosedError('the client was closed'));
      };
      const timer = setTimeout(
        () =>
          finish(
            new ConnectionError('CONNECT_FAILED', `no session with ${this.url} within ${this.#connectTimeoutMs} ms`),
          ),
        this.#connectTimeoutMs,
      );
      ws.onmessage = (event) => {
        const text = textOf(event.data);
        if (text === undefined) return;
        const frame = parseFrame(text);
        if (frame.kind === 'notification' && frame.method === 'session.challenge') {
          const r = NOTIFICATIONS['session.challenge'].params.safeParse(frame.params);
          if (!r.success)
            return finish(new ConnectionError('CONNECT_FAILED', `invalid session.challenge: ${summarize(r.error)}`));
          const proof = sessionProof(this.#secret, fromHex(r.data.nonce), ENDPOINT_PATHS[this.endpoint]);
          try {
            ws.send(requestFrame(AUTH_ID, 'session.authenticate', { clientId: this.clientId, proof }));
          } catch (e) {
            finish(new ConnectionError('CONNECT_FAILED', `cannot send: ${messageOf(e)}`, { cause: e }));
          }
          return;
        }
        if ((frame.kind === 'result' || frame.kind === 'error') && frame.id === AUTH_ID) {
          if (frame.kind === 'result') {
            const r = METHODS['session.authenticate'].result.safeParse(frame.result);
            return finish(
              r.success
                ? undefined
                : new ConnectionError('CONNECT_FAILED', `invalid session.authenticate result: ${summarize(r.error)}`),
            );
          }
          const code = frame.error.data?.code;
          if (typeof code === 'string' && FATAL_AUTH.has(code))
            return finish(
              new AuthenticationError(
                code as 'BAD_PROOF' | 'FORBIDDEN',
                `${this.clientId} refused on ${ENDPOINT_PATHS[this.endpoint]}: ${frame.error.message}`,
              ),
            );
          const cause = errorFromRpc(frame.error, { method: 'session.authenticate' });
          return finish(
            new ConnectionError('CONNECT_FAILED', `session.authenticate failed: ${cause.message}`, { cause }),
          );
        }
      };
      ws.onclose = (event) => {
        const fatal = FATAL_CLOSE.get(event.code);
        finish(
          fatal
            ? new AuthenticationError(fatal, `${this.clientId} refused: the platform closed with ${event.code}`, {
                closeCode: event.code,
              })
            : new ConnectionError(
                'CONNECT_FAILED',
                `the connection closed with ${event.code}${reasonOf(event.reason)} before the session opened`,
                { closeCode: event.code },
              ),
        );
      };
      ws.onerror = (event) => {
        const cause = event.error ?? event.message;
        finish(new ConnectionError('CONNECT_FAILED', `cannot connect to ${this.url}: ${messageOf(cause)}`, { cause }));
      };
    });
  }

  /** Runs an open session until its socket closes; resolves with the close code and reason. */
  #serve(ws: WebSocketLike, resumed: boolean): Promise<{ code: number; reason: string }> {
    return new Promise((resolve) => {
      let alive = true;
      let heartbeat: ReturnType<typeof setInterval> | undefined;
      if (this.#heartbeatMs > 0 && typeof ws.ping === 'function') {
        ws.on?.('pong', () => {
          alive = true;
        });
        heartbeat = setInterval(() => {
          if (!alive) {
            if (typeof ws.terminate === 'function') ws.terminate();
            else ws.close();
            return;
          }
          alive = false;
          try {
            ws.ping?.();
          } catch {
            // closing
          }
        }, this.#heartbeatMs);
      }
      ws.onmessage = (event) => {
        alive = true;
        const text = textOf(event.data);
        if (text === undefined) return;
        const frame = parseFrame(text);
        switch (frame.kind) {
          case 'result':
            return this.#onAnswer(frame.id, { ok: true, value: frame.result });
          case 'error': {
            const p = typeof frame.id === 'number' ? this.#inflight.get(frame.id) : undefined;
            if (!p || frame.id === null) return;
            const context = { method: p.method, idempotencyKey: p.idempotencyKey };
            return this.#onAnswer(frame.id, { ok: false, error: errorFromRpc(frame.error, context) });
          }
          case 'notification':
            return this.#onNotification(frame.method, frame.params);
          case 'request':
            try {
              ws.send(
                JSON.stringify({
                  jsonrpc: '2.0',
                  id: frame.id,
                  error: { code: -32601, message: `method not found: ${frame.method.slice(0, 64)}` },
                }),
              );
            } catch {
              // closing
            }
            return;
          default:
            return;
        }
      };
      ws.onerror = () => {
        // the close event follows
      };
      ws.onclose = (event) => {
        clearInterval(heartbeat);
        ws.onmessage = null;
        ws.onclose = null;
        if (this.#session === ws) this.#session = undefined;
        if (this.#socket === ws) this.#socket = undefined;
        resolve({ code: event.code, reason: reasonOf(event.reason) });
      };
      this.#session = ws;
      this.#keepAlive = true;
      this.#setState('connected', { attempt: 0, resumed });
      for (const w of [...this.#waiters]) w.resolve();
      // renew the subscriptions first, so that events flow again before the calls waiting go out
      if (this.#topics.size > 0)
        this.#call('events.subscribe', { topics: [...this.#topics] }, {}, true).catch(() => undefined);
      this.#flush();
    });
  }

  #failFatal(error: AuthenticationError): void {
    this.#fatal = error;
    this.#keepAlive = false;
    for (const p of [...this.#calls]) this.#fail(p, error);
    for (const w of [...this.#waiters]) w.reject(error);
    for (const s of [...this.#subscribers]) s.queue.end(error);
    this.#setState('closed', { attempt: 0, error });
  }

  #giveUp(error: Error, attempt: number): void {
    this.#keepAlive = false;
    for (const p of [...this.#calls]) {
      const context = this.#context(p);
      this.#fail(
        p,
        new ConnectionError(
          'CONNECTION_LOST',
          `${p.method}: gave up reconnecting to ${this.url}${
            context.effectUnknown ? `; its effect is unknown: retry with idempotencyKey ${p.idempotencyKey}` : ''
          }`,
          { ...context, cause: error, closeCode: (error as ConnectionError).closeCode },
        ),
      );
    }
    for (const w of [...this.#waiters])
      w.reject(
        new ConnectionError('CONNECT_FAILED', `cannot connect to ${this.url}: ${error.message}`, { cause: error }),
      );
    this.#setState('disconnected', { attempt, error });
  }
}

function secretBytes(secret: Uint8Array | string): Uint8Array {
  if (secret instanceof Uint8Array) {
    if (secret.length === 0) throw new ArgumentError('secret: empty');
    return Uint8Array.from(secret);
  }
  if (typeof secret !== 'string' || !/^(?:[0-9A-Fa-f]{2})+$/.test(secret))
    throw new ArgumentError('secret: bytes or an even number of hex digits');
  return fromHex(secret);
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value))
    throw new ArgumentError(`${name}: a positive number`);
  return value;
}

function textOf(data: unknown): string | undefined {
  if (typeof data === 'string') return data;
  return undefined;
}

function reasonOf(reason: unknown): string {
  const text = typeof reason === 'string' ? reason : Buffer.isBuffer(reason) ? reason.toString('utf8') : '';
  return text ? ` (${text})` : '';
}

function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  return typeof e === 'string' && e ? e : 'connection error';
}

/** Closes a socket with 1000 and waits for its close event (at most 2 s, then drops it). */
function closeSocket(ws: WebSocketLike | undefined): Promise<void> {
  if (!ws || ws.readyState === 3) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      ws.terminate?.();
      resolve();
    }, 2000);
    const previous = ws.onclose;
    ws.onclose = (event) => {
      clearTimeout(timer);
      previous?.(event);
      resolve();
    };
    ws.onerror = () => {};
    ws.onmessage = null;
    try {
      ws.close(1000);
    } catch {
      clearTimeout(timer);
      ws.terminate?.();
      resolve();
    }
  });
}
