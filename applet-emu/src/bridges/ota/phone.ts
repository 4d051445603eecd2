/**
 * The phone of the mobile network: holds a SIM (an emulated {@link Card}) and relays it to the platform over
 * `/v1/ota`, as a handset's baseband relays a SIM's over-the-air traffic. The phone holds no key: the platform
 * authenticates the SIM's issuer security domain over SCP03 end to end, through the phone's `card.transmit` relay.
 *
 * The protocol is `@simtap/sdk/wire`'s `OTA_MESSAGES` (JSON-RPC 2.0 text frames, subprotocol `simtap.v1`):
 * the phone says `phone.hello { msisdn, iccid }` and answers every `card.transmit { apdu }` with the SIM's
 * `{ response }` on the contact interface (or `CARD_ABSENT` when the SIM does not answer) while the hello is in
 * flight and afterwards; the platform tells the user what it did with `phone.notice`; the user tops up with
 * `phone.topUp`.
 *
 * @module
 */
import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import { ArgumentError, CARD_GONE_ERRORS, hasErrorCode } from '@simtap/sdk/core/errors';
import {
  applicationError,
  CLOSE_CODES,
  checkOtaParams,
  errorFrame,
  JSONRPC_ERRORS,
  OTA_MESSAGES,
  type OtaNoticeKind,
  type OtaParamsOf,
  type OtaResultOf,
  parseFrame,
  type RequestId,
  type RpcError,
  requestFrame,
  resultFrame,
  summarize,
  type WireErrorCode,
} from '@simtap/sdk/wire';
import WebSocket, { type ClientOptions } from 'ws';
import type { Card } from '../../runtime/card';
import { hasPhoneCallCode, PhoneCallError, PhoneConnectionError, type PhoneError, PhoneProtocolError } from './errors';

/** The platform's endpoint for phones; {@link VirtualPhone} appends it to a URL without a path. */
export const OTA_PATH = '/v1/ota';
/** The WebSocket subprotocol of `/v1/ota`. */
export const OTA_SUBPROTOCOL = 'simtap.v1';
/** Largest frame the phone accepts (a `card.transmit` request is well under 1 KiB). */
const MAX_PAYLOAD = 64 * 1024;

/** What `phone.hello` answers: the card's serial and status. */
export type PhoneHello = OtaResultOf<'phone.hello'>;
/** What `phone.topUp` answers: the load and its status. */
export type PhoneTopUpResult = OtaResultOf<'phone.topUp'>;
/** The params of `phone.topUp`. */
export type PhoneTopUpParams = OtaParamsOf<'phone.topUp'>;
/** A `phone.notice`: what the platform did with the SIM. */
export type PhoneNotice = OtaParamsOf<'phone.notice'>;
/** The kind of a {@link PhoneNotice}. */
export type PhoneNoticeKind = OtaNoticeKind;

/**
 * What happens to one `card.transmit` ({@link VirtualPhoneOptions.faults}): `deliver` (the SIM processes it and
 * the answer is sent), `drop-before` (the link is cut before the SIM sees it), `drop-after` (the SIM processes it,
 * then the link is cut before the answer goes out).
 */
export type PhoneFault = 'deliver' | 'drop-before' | 'drop-after';

/**
 * The phone's state.
 * - `idle`: not connected yet.
 * - `connecting`: opening `/v1/ota`.
 * - `open`: the link is up and `phone.hello` is in flight (the platform authenticates the SIM).
 * - `authenticated`: the hello was answered ({@link PhoneStateEvent.hello}); the phone answers commands and may
 *   top up.
 * - `reconnecting`: the link dropped (or an attempt failed); the next attempt starts in `delayMs`.
 * - `closed`: `close()`, a refusal, or a lost link without `reconnect` (`error` says which); final.
 */
export type PhoneState = 'idle' | 'connecting' | 'open' | 'authenticated' | 'reconnecting' | 'closed';

/** A change of the phone's state. */
export interface PhoneStateEvent {
  readonly state: PhoneState;
  /** Failed attempts in a row so far (0 once authenticated). */
  readonly attempt: number;
  /** `reconnecting`: the wait before the next attempt, in ms. */
  readonly delayMs?: number;
  /** The close code of the link that dropped, when known. */
  readonly closeCode?: number;
  /** What made the link drop, an attempt fail, or the phone close. */
  readonly error?: Error;
  /** `authenticated`: the hello's answer. */
  readonly hello?: PhoneHello;
}

/** The events `phone.on(…)` takes. */
export interface VirtualPhoneEventMap {
  /** The platform's `phone.notice`. */
  notice: PhoneNotice;
  /** The phone's state changed. */
  state: PhoneStateEvent;
}

/** A listener of event `K`. */
export type PhoneListener<K extends keyof VirtualPhoneEventMap> = (event: VirtualPhoneEventMap[K]) => void;

/**
 * The phone's log sink. `info`: the link and the hello; `warn`: what went wrong; `debug`: one line per command
 * (INS and SW only: command data carry MACs and are never logged).
 */
export interface PhoneLogger {
  info(message: string): void;
  warn(message: string): void;
  debug?(message: string): void;
}

/** Reconnection: full jitter, each wait uniform in `[0, min(maxMs, minMs·2ⁿ)]` after `n` failed attempts. */
export interface PhoneReconnectOptions {
  /** The cap of the first wait, in ms (default 250). */
  readonly minMs?: number;
  /** The largest wait, in ms (default 10,000). */
  readonly maxMs?: number;
}

/** The options of {@link VirtualPhone}. */
export interface VirtualPhoneOptions {
  /** The SIM. The phone powers its contact interface on at every connection. */
  readonly card: Card;
  /** The platform: `ws://host:port` (the phone appends {@link OTA_PATH}), or a URL with a path (kept as given). */
  readonly url: string;
  /** The MSISDN the phone claims (the card's, or another to see the platform refuse it). */
  readonly msisdn: string;
  /** The ICCID the phone claims. */
  readonly iccid: string;
  /** Where the phone logs (default: nowhere). */
  readonly logger?: PhoneLogger;
  /**
   * After a lost link the phone reconnects and says hello again (default `{ minMs: 250, maxMs: 10000 }`);
   * `false`: a lost link closes the phone.
   */
  readonly reconnect?: false | PhoneReconnectOptions;
  /**
   * Test seam for torn links: called for every `card.transmit` with a running index (0, 1, … over the phone's
   * life); see {@link PhoneFault}. Default: every command is delivered.
   */
  readonly faults?: (apdu: Uint8Array, index: number) => PhoneFault;
  /**
   * Called after each command the SIM processed, before its answer is sent (so an image saved here never lags the
   * platform). Failures are logged, the answer still goes out.
   */
  readonly afterCommand?: (card: Card) => void | Promise<void>;
  /** Options of the `ws` client (TLS, headers, `handshakeTimeout`, …). */
  readonly wsOptions?: ClientOptions;
  /** Ping interval, in ms (default 15,000; 0: off): a link that answers nothing for two intervals is dropped. */
  readonly heartbeatMs?: number;
  /** How long the phone waits for the hello's answer before it drops the link and tries again (default 60,000). */
  readonly helloTimeoutMs?: number;
}

/** Options of {@link VirtualPhone.topUp}. */
export interface PhoneTopUpOptions {
  /** The time the top-up may take in all, reconnects and resends included, in ms (default 30,000). */
  readonly timeoutMs?: number;
}

/** One connection to the platform. */
interface Link {
  readonly ws: WebSocket;
  opened: boolean;
  down: boolean;
  /** The id of this link's `phone.hello`. */
  helloId: number | undefined;
  /** The commands of this link, one after the other. */
  chain: Promise<void>;
  lastError: unknown;
  heartbeat: ReturnType<typeof setInterval> | undefined;
  helloTimer: ReturnType<typeof setTimeout> | undefined;
}

interface PendingTopUp {
  readonly params: PhoneTopUpParams;
  readonly resolve: (r: PhoneTopUpResult) => void;
  readonly reject: (e: Error) => void;
  /** The link the request was last sent on, and its id there. */
  link: Link | undefined;
  id: number | undefined;
  /** A request reached the wire at least once. */
  sent: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

interface NoticeWaiter {
  readonly kind: PhoneNoticeKind;
  readonly resolve: (n: PhoneNotice) => void;
  readonly reject: (e: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

const silent: PhoneLogger = { info: () => {}, warn: () => {} };

function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  return typeof e === 'string' && e ? e : 'connection error';
}

function positive(value: number | undefined, fallback: number, name: string, zeroOk = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!zeroOk && value === 0))
    throw new ArgumentError(`${name}: ${zeroOk ? 'a number ≥ 0' : 'a positive number'}`);
  return value;
}

/** The URL of `/v1/ota` at `url` (the path added when `url` has none). */
function otaUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ArgumentError(`url: not a URL: "${url}"`);
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new ArgumentError(`url: ws:// or wss://, got "${url}"`);
  if (u.pathname === '' || u.pathname === '/') u.pathname = OTA_PATH;
  return u.toString();
}

/** The error a JSON-RPC error answer stands for. */
function errorOfAnswer(error: RpcError, method: string, idempotencyKey?: string): PhoneError {
  const code = error.data?.code;
  if (error.code === JSONRPC_ERRORS.APPLICATION && typeof code === 'string') {
    const { code: _code, ...data } = error.data ?? {};
    return new PhoneCallError(code as WireErrorCode, `${method}: ${error.message}`, data, {
      method,
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    });
  }
  return new PhoneProtocolError(`${method}: the platform answered ${error.code} (${error.message})`, {
    method,
    rpcCode: error.code,
  });
}

/**
 * A phone holding a SIM, connected to the platform's `/v1/ota`.
 *
 * `connect()` opens the link, powers the SIM's contact interface on and says `phone.hello`; meanwhile (and
 * afterwards) it answers the platform's `card.transmit` requests with the SIM's responses. When the link drops
 * after it was once up, the phone reconnects with full-jitter backoff and says hello again by itself (unless
 * `reconnect: false`). A refused SIM (`IDENTITY_REFUSED`, or a close 4403) is final.
 *
 * @example
 * import { VirtualPhone } from '@simtap/applet-emu/ota';
 * import { createSim } from '@simtap/applet-emu/sim';
 * const phone = new VirtualPhone({
 *   card: createSim({ card: 'card-1', epurse: true }),
 *   url: 'ws://127.0.0.1:7800',
 *   msisdn: '13800138001',
 *   iccid: '8986004401202600010F',
 * });
 * phone.on('notice', (n) => console.log(n.kind, n.message));
 * const ready = phone.waitForNotice('ready', 30_000);
 * const { cardSerial, status } = await phone.connect();
 * await ready;
 * await phone.topUp({ idempotencyKey: 'top-1', amount: 2000 });
 * await phone.close();
 */
export class VirtualPhone {
  /** The SIM. */
  readonly card: Card;
  /** The URL of `/v1/ota` the phone connects to. */
  readonly url: string;
  /** The MSISDN the phone claims. */
  readonly msisdn: string;
  /** The ICCID the phone claims. */
  readonly iccid: string;

  readonly #logger: PhoneLogger;
  readonly #reconnect: { minMs: number; maxMs: number } | undefined;
  readonly #faults: ((apdu: Uint8Array, index: number) => PhoneFault) | undefined;
  readonly #afterCommand: ((card: Card) => void | Promise<void>) | undefined;
  readonly #wsOptions: ClientOptions;
  readonly #heartbeatMs: number;
  readonly #helloTimeoutMs: number;
  readonly #listeners = new Map<keyof VirtualPhoneEventMap, Set<(e: never) => void>>();
  readonly #calls = new Set<PendingTopUp>();
  readonly #callsById = new Map<number, PendingTopUp>();
  readonly #noticeWaiters = new Set<NoticeWaiter>();
  readonly #connectWaiters: { resolve: (h: PhoneHello) => void; reject: (e: Error) => void }[] = [];
  readonly #notices: PhoneNotice[] = [];

  #state: PhoneState = 'idle';
  #link: Link | undefined;
  #everOpened = false;
  #attempt = 0;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #fatal: Error | undefined;
  #hello: PhoneHello | undefined;
  #nextId = 1;
  #commands = 0;

  /**
   * @throws {ArgumentError} `BAD_ARGUMENT` for a URL that is not `ws://` / `wss://`, an MSISDN or ICCID the
   *   protocol does not accept, or a bad number option.
   */
  constructor(options: VirtualPhoneOptions) {
    this.card = options.card;
    this.url = otaUrl(options.url);
    const identity = checkOtaParams('phone.hello', { msisdn: options.msisdn, iccid: options.iccid });
    if (!identity.ok) throw new ArgumentError(`phone identity: ${identity.reason}`);
    this.msisdn = identity.params.msisdn;
    this.iccid = identity.params.iccid;
    this.#logger = options.logger ?? silent;
    const r = options.reconnect;
    this.#reconnect =
      r === false
        ? undefined
        : {
            minMs: positive(r?.minMs, 250, 'reconnect.minMs'),
            maxMs: positive(r?.maxMs, 10_000, 'reconnect.maxMs'),
          };
    this.#faults = options.faults;
    this.#afterCommand = options.afterCommand;
    this.#wsOptions = options.wsOptions ?? {};
    this.#heartbeatMs = positive(options.heartbeatMs, 15_000, 'heartbeatMs', true);
    this.#helloTimeoutMs = positive(options.helloTimeoutMs, 60_000, 'helloTimeoutMs');
  }

  /** The phone's state. */
  get state(): PhoneState {
    return this.#state;
  }

  /** The last `phone.hello` answer, once authenticated. */
  get hello(): PhoneHello | undefined {
    return this.#hello;
  }

  /** `card.transmit` requests relayed so far (the next one gets this index in `faults`). */
  get commandCount(): number {
    return this.#commands;
  }

  /** The notices received so far, oldest first (the last 100). */
  get notices(): readonly PhoneNotice[] {
    return this.#notices.slice();
  }

  /**
   * Opens the link (if not yet) and resolves with the answer of `phone.hello` once the platform has authenticated
   * the SIM; at once when the phone is authenticated already.
   * @throws {PhoneCallError} the platform's refusal (`IDENTITY_REFUSED`, `CARD_ABSENT`); the phone is then closed.
   * @throws {PhoneConnectionError} `PHONE_CONNECT_FAILED` when `/v1/ota` cannot be opened at the first attempt;
   *   `PHONE_REFUSED` on a close 4403 without an answer; `PHONE_LINK_LOST` when the link drops before the answer
   *   and `reconnect` is `false`; `PHONE_CLOSED` after `close()`.
   * @throws {PhoneProtocolError} `PHONE_PROTOCOL` for an answer that does not fit the protocol.
   */
  connect(): Promise<PhoneHello> {
    if (this.#fatal) return Promise.reject(this.#fatal);
    if (this.#closed) return Promise.reject(new PhoneConnectionError('PHONE_CLOSED', 'the phone is closed'));
    if (this.#state === 'authenticated' && this.#hello) return Promise.resolve(this.#hello);
    const p = new Promise<PhoneHello>((resolve, reject) => this.#connectWaiters.push({ resolve, reject }));
    if (this.#state === 'idle') this.#open();
    return p;
  }

  /**
   * Asks for a top-up of the purse from the phone account (`phone.topUp`), once the phone is authenticated. When
   * the link drops before the answer, the same request (same key) is sent again after the next hello, until an
   * answer or `timeoutMs`.
   * @throws {ArgumentError} `BAD_ARGUMENT` for params that do not fit `phone.topUp`.
   * @throws {PhoneCallError} the platform's refusal (`INSUFFICIENT_FUNDS`, `BALANCE_LIMIT`, `CARD_BLOCKED`, …).
   * @throws {PhoneConnectionError} `PHONE_TIMEOUT` (with `effectUnknown` when it was sent), `PHONE_LINK_LOST`
   *   (`reconnect: false`), `PHONE_CLOSED`.
   * @throws {PhoneProtocolError} `PHONE_PROTOCOL`.
   */
  topUp(params: PhoneTopUpParams, options: PhoneTopUpOptions = {}): Promise<PhoneTopUpResult> {
    const checked = checkOtaParams('phone.topUp', params);
    if (!checked.ok) return Promise.reject(new ArgumentError(`topUp: ${checked.reason}`));
    if (this.#fatal || this.#closed)
      return Promise.reject(
        new PhoneConnectionError('PHONE_CLOSED', 'topUp: the phone is closed', {
          method: 'phone.topUp',
          idempotencyKey: checked.params.idempotencyKey,
          cause: this.#fatal,
        }),
      );
    const timeoutMs = positive(options.timeoutMs, 30_000, 'timeoutMs');
    return new Promise<PhoneTopUpResult>((resolve, reject) => {
      const call: PendingTopUp = {
        params: checked.params,
        resolve,
        reject,
        link: undefined,
        id: undefined,
        sent: false,
        timer: undefined,
      };
      call.timer = setTimeout(
        () =>
          this.#endCall(
            call,
            new PhoneConnectionError(
              'PHONE_TIMEOUT',
              `topUp: no answer within ${timeoutMs} ms${
                call.sent ? `; its effect is unknown: repeat it with idempotencyKey ${call.params.idempotencyKey}` : ''
              }`,
              this.#callContext(call),
            ),
          ),
        timeoutMs,
      );
      this.#calls.add(call);
      if (this.#state === 'idle') this.#open();
      this.#sendCall(call);
    });
  }

  /**
   * Resolves with the next `phone.notice` of `kind` (from now; {@link VirtualPhone.notices} has the earlier ones).
   * @throws {PhoneConnectionError} `PHONE_TIMEOUT` after `timeoutMs` (default 10,000); `PHONE_CLOSED` when the
   *   phone closes meanwhile.
   */
  waitForNotice(kind: PhoneNoticeKind, timeoutMs = 10_000): Promise<PhoneNotice> {
    if (this.#closed || this.#fatal)
      return Promise.reject(new PhoneConnectionError('PHONE_CLOSED', 'waitForNotice: the phone is closed'));
    return new Promise((resolve, reject) => {
      const waiter: NoticeWaiter = {
        kind,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#noticeWaiters.delete(waiter);
          reject(new PhoneConnectionError('PHONE_TIMEOUT', `no ${kind} notice within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.#noticeWaiters.add(waiter);
    });
  }

  /**
   * Adds a listener; returns the function that removes it.
   * @example
   * const off = phone.on('state', (e) => console.log(e.state));
   * phone.on('notice', (n) => console.log(n.kind, n.message));
   * off();
   */
  on<K extends keyof VirtualPhoneEventMap>(name: K, listener: PhoneListener<K>): () => void {
    const set = this.#listeners.get(name) ?? new Set();
    this.#listeners.set(name, set);
    set.add(listener as (e: never) => void);
    return () => this.off(name, listener);
  }

  /** Removes a listener added with {@link VirtualPhone.on}. */
  off<K extends keyof VirtualPhoneEventMap>(name: K, listener: PhoneListener<K>): void {
    this.#listeners.get(name)?.delete(listener as (e: never) => void);
  }

  /**
   * Drops the link abruptly (no closing handshake), as a phone losing the network does; the phone then reconnects
   * per `reconnect`. For tests; nothing happens when no link is up.
   */
  cut(): void {
    if (this.#link) this.#drop(this.#link);
  }

  /**
   * Closes the link with 1000 and stops reconnecting; the calls waiting reject with `PHONE_CLOSED`, the SIM's
   * contact interface is powered off. Resolves once the link is closed and the command in progress (and its
   * `afterCommand`) is done. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    const error = new PhoneConnectionError('PHONE_CLOSED', 'the phone was closed');
    this.#rejectAll(error);
    const link = this.#link;
    if (link) {
      link.down = true; // no command reaches the SIM any more
      await closeSocket(link.ws);
      await link.chain;
    }
    try {
      this.card.powerOff('contact');
    } catch {
      // an unknown interface cannot happen; a card that throws here is already off
    }
    if (this.#state !== 'closed') this.#setState('closed', { attempt: this.#attempt });
  }

  // ------------------------------------------------------------ the link

  #open(): void {
    if (this.#closed || this.#fatal) return;
    this.#setState('connecting', { attempt: this.#attempt });
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url, OTA_SUBPROTOCOL, {
        handshakeTimeout: 10_000,
        maxPayload: MAX_PAYLOAD,
        ...this.#wsOptions,
      });
    } catch (e) {
      this.#fail(new PhoneConnectionError('PHONE_CONNECT_FAILED', `cannot open ${this.url}: ${messageOf(e)}`));
      return;
    }
    const link: Link = {
      ws,
      opened: false,
      down: false,
      helloId: undefined,
      chain: Promise.resolve(),
      lastError: undefined,
      heartbeat: undefined,
      helloTimer: undefined,
    };
    this.#link = link;
    ws.on('open', () => this.#onOpen(link));
    ws.on('message', (data, isBinary) => {
      if (!isBinary) this.#onMessage(link, data.toString());
    });
    ws.on('error', (e) => {
      link.lastError = e;
    });
    ws.on('close', (code, reason) => this.#onClose(link, code, reason.toString()));
  }

  #onOpen(link: Link): void {
    link.opened = true;
    this.#everOpened = true;
    if (this.#closed) return;
    this.#logger.info(`connected to ${this.url}`);
    this.#setState('open', { attempt: this.#attempt });
    try {
      this.card.powerOn('contact');
    } catch (e) {
      this.#logger.warn(`the SIM did not power up: ${messageOf(e)}`);
    }
    if (this.#heartbeatMs > 0) {
      let alive = true;
      link.ws.on('pong', () => {
        alive = true;
      });
      link.heartbeat = setInterval(() => {
        if (!alive) {
          this.#logger.warn('the platform stopped answering pings; dropping the link');
          this.#drop(link);
          return;
        }
        alive = false;
        try {
          link.ws.ping();
        } catch {
          // closing
        }
      }, this.#heartbeatMs);
    }
    link.helloId = this.#nextId++;
    link.helloTimer = setTimeout(() => {
      this.#logger.warn(`no answer to phone.hello within ${this.#helloTimeoutMs} ms; dropping the link`);
      this.#drop(link);
    }, this.#helloTimeoutMs);
    this.#send(link, requestFrame(link.helloId, 'phone.hello', { msisdn: this.msisdn, iccid: this.iccid }));
  }

  #onMessage(link: Link, text: string): void {
    if (link.down) return;
    const frame = parseFrame(text);
    switch (frame.kind) {
      case 'request':
        if (frame.method === 'card.transmit') {
          const { id, params } = frame;
          link.chain = link.chain.then(() => this.#serveTransmit(link, id, params));
        } else
          this.#send(
            link,
            errorFrame(frame.id, {
              code: JSONRPC_ERRORS.METHOD_NOT_FOUND,
              message: `method not found: ${frame.method.slice(0, 64)}`,
            }),
          );
        return;
      case 'notification':
        if (frame.method === 'phone.notice') this.#onNotice(frame.params);
        else this.#logger.debug?.(`ignored notification ${frame.method.slice(0, 64)}`);
        return;
      case 'result':
      case 'error':
        if (frame.id !== null && frame.id === link.helloId) this.#onHelloAnswer(link, frame);
        else if (typeof frame.id === 'number') {
          const call = this.#callsById.get(frame.id);
          if (call) this.#onTopUpAnswer(call, frame);
        }
        return;
      case 'invalid':
        this.#logger.warn(`the platform sent a frame that is not JSON-RPC: ${frame.error.message}`);
        this.#send(link, errorFrame(frame.id, frame.error));
        return;
      default:
        return;
    }
  }

  async #serveTransmit(link: Link, id: RequestId, params: unknown): Promise<void> {
    if (link.down) return; // the link dropped while the command waited: it never reached the SIM
    const checked = checkOtaParams('card.transmit', params);
    if (!checked.ok) {
      this.#send(
        link,
        errorFrame(id, { code: JSONRPC_ERRORS.INVALID_PARAMS, message: `invalid params: ${checked.reason}` }),
      );
      return;
    }
    const apdu = fromHex(checked.params.apdu);
    const index = this.#commands++;
    let fault: PhoneFault = 'deliver';
    if (this.#faults) {
      try {
        fault = this.#faults(apdu, index);
      } catch (e) {
        this.#logger.warn(`faults threw for command ${index}: ${messageOf(e)}; delivering it`);
      }
    }
    const ins = toHex(apdu.subarray(1, 2));
    if (fault === 'drop-before') {
      this.#logger.debug?.(`card.transmit #${index} INS ${ins}: link cut before the SIM (fault drop-before)`);
      this.#drop(link);
      return;
    }
    let answer: string;
    try {
      const response = this.card.transmit('contact', apdu);
      const sw = toHex(response.subarray(response.length - 2));
      this.#logger.debug?.(`card.transmit #${index} INS ${ins} → SW ${sw} (${response.length - 2} data bytes)`);
      answer = resultFrame(id, { response: toHex(response) });
    } catch (e) {
      if (!hasErrorCode(e, CARD_GONE_ERRORS)) this.#logger.warn(`the SIM failed: ${messageOf(e)}`);
      this.#logger.debug?.(`card.transmit #${index} INS ${ins}: the SIM did not answer (${messageOf(e)})`);
      answer = errorFrame(id, applicationError('CARD_ABSENT', `the SIM did not answer: ${messageOf(e)}`));
    }
    if (this.#afterCommand) {
      try {
        await this.#afterCommand(this.card);
      } catch (e) {
        this.#logger.warn(`afterCommand failed: ${messageOf(e)}`);
      }
    }
    if (fault === 'drop-after') {
      this.#logger.debug?.(`card.transmit #${index} INS ${ins}: link cut before the answer (fault drop-after)`);
      this.#drop(link);
      return;
    }
    this.#send(link, answer);
  }

  #onNotice(params: unknown): void {
    const checked = checkOtaParams('phone.notice', params);
    if (!checked.ok) {
      this.#logger.warn(`ignored an invalid phone.notice: ${checked.reason}`);
      return;
    }
    const notice = checked.params;
    this.#notices.push(notice);
    if (this.#notices.length > 100) this.#notices.shift();
    this.#logger.info(`notice ${notice.kind}: ${notice.message}`);
    this.#emit('notice', notice);
    for (const w of [...this.#noticeWaiters]) {
      if (w.kind !== notice.kind) continue;
      this.#noticeWaiters.delete(w);
      clearTimeout(w.timer);
      w.resolve(notice);
    }
  }

  #onHelloAnswer(
    link: Link,
    frame: { kind: 'result'; result: unknown } | { kind: 'error'; error: RpcError; id: RequestId | null },
  ): void {
    clearTimeout(link.helloTimer);
    link.helloId = undefined;
    let error: PhoneError | undefined;
    if (frame.kind === 'result') {
      const r = OTA_MESSAGES['phone.hello'].result.safeParse(frame.result);
      if (r.success) {
        this.#hello = r.data;
        this.#attempt = 0;
        this.#logger.info(`phone.hello answered: card ${r.data.cardSerial} is ${r.data.status}`);
        this.#setState('authenticated', { attempt: 0, hello: r.data });
        for (const w of this.#connectWaiters.splice(0)) w.resolve(r.data);
        for (const call of [...this.#calls]) this.#sendCall(call);
        return;
      }
      error = new PhoneProtocolError(`phone.hello: invalid result: ${summarize(r.error)}`, { method: 'phone.hello' });
    } else error = errorOfAnswer(frame.error, 'phone.hello');
    this.#logger.info(`${error.message} [${error.code}]`); // the caller gets the error
    // A refused SIM is final, and so is any refusal of the first hello; a later one is tried again.
    const final = this.#hello === undefined || this.#isRefusal(error);
    if (final) this.#fail(error);
    else {
      link.lastError = error;
      link.ws.close(1000);
    }
  }

  #isRefusal(error: Error): boolean {
    return hasPhoneCallCode(error, 'IDENTITY_REFUSED');
  }

  /** Cuts `link` at once: nothing more is read from it or sent on it; its close event follows. */
  #drop(link: Link): void {
    link.down = true;
    link.ws.terminate();
  }

  #onClose(link: Link, code: number, reason: string): void {
    link.down = true;
    clearInterval(link.heartbeat);
    clearTimeout(link.helloTimer);
    if (this.#link === link) this.#link = undefined;
    for (const call of this.#calls) if (call.link === link) call.link = undefined;
    if (this.#closed || this.#fatal) return;
    const why = `${code}${reason ? ` (${reason})` : ''}`;
    if (code === CLOSE_CODES.WRONG_ENDPOINT || code === CLOSE_CODES.SUPERSEDED) {
      this.#fail(
        new PhoneConnectionError(
          'PHONE_REFUSED',
          `the platform closed the link with ${why}${link.helloId === undefined ? '' : ' before it answered phone.hello'}`,
          {
            closeCode: code,
          },
        ),
      );
      return;
    }
    if (!link.opened && !this.#everOpened) {
      this.#fail(
        new PhoneConnectionError(
          'PHONE_CONNECT_FAILED',
          `cannot connect to ${this.url}: ${messageOf(link.lastError ?? `closed with ${why}`)}`,
          { closeCode: code, cause: link.lastError },
        ),
      );
      return;
    }
    const cause = link.lastError instanceof Error ? link.lastError : undefined;
    if (!this.#reconnect) {
      this.#fail(
        new PhoneConnectionError('PHONE_LINK_LOST', `the link to ${this.url} dropped (${why}); reconnect is off`, {
          closeCode: code,
          cause,
        }),
      );
      return;
    }
    const attempt = this.#attempt++;
    const cap = Math.min(this.#reconnect.maxMs, this.#reconnect.minMs * 2 ** Math.min(attempt, 30));
    const delayMs = Math.floor(Math.random() * cap);
    this.#logger.info(
      link.opened
        ? `the link dropped (${why}); reconnecting in ${delayMs} ms`
        : `cannot connect to ${this.url} (${messageOf(link.lastError ?? why)}); retrying in ${delayMs} ms`,
    );
    this.#setState('reconnecting', {
      attempt: this.#attempt,
      delayMs,
      closeCode: code,
      ...(cause ? { error: cause } : {}),
    });
    this.#reconnectTimer = setTimeout(() => this.#open(), delayMs);
  }

  // ------------------------------------------------------------ calls

  #sendCall(call: PendingTopUp): void {
    const link = this.#link;
    if (this.#state !== 'authenticated' || !link || link.down || call.link === link) return;
    if (call.id !== undefined) this.#callsById.delete(call.id);
    call.id = this.#nextId++;
    call.link = link;
    this.#callsById.set(call.id, call);
    if (this.#send(link, requestFrame(call.id, 'phone.topUp', call.params))) call.sent = true;
  }

  #onTopUpAnswer(
    call: PendingTopUp,
    frame: { kind: 'result'; result: unknown } | { kind: 'error'; error: RpcError; id: RequestId | null },
  ): void {
    if (frame.kind === 'error') {
      this.#endCall(call, errorOfAnswer(frame.error, 'phone.topUp', call.params.idempotencyKey));
      return;
    }
    const r = OTA_MESSAGES['phone.topUp'].result.safeParse(frame.result);
    if (!r.success) {
      this.#endCall(
        call,
        new PhoneProtocolError(`phone.topUp: invalid result: ${summarize(r.error)}`, {
          method: 'phone.topUp',
          idempotencyKey: call.params.idempotencyKey,
        }),
      );
      return;
    }
    this.#endCall(call, undefined, r.data);
  }

  #endCall(call: PendingTopUp, error: Error | undefined, result?: PhoneTopUpResult): void {
    if (!this.#calls.delete(call)) return;
    clearTimeout(call.timer);
    if (call.id !== undefined) this.#callsById.delete(call.id);
    if (error) call.reject(error);
    else call.resolve(result!);
  }

  #callContext(call: PendingTopUp): { method: string; idempotencyKey: string; effectUnknown: boolean } {
    return { method: 'phone.topUp', idempotencyKey: call.params.idempotencyKey, effectUnknown: call.sent };
  }

  /** The phone cannot go on: rejects everything waiting with `error`, closes the link, state `closed`. */
  #fail(error: PhoneError): void {
    if (this.#fatal || this.#closed) return;
    this.#fatal = error;
    clearTimeout(this.#reconnectTimer);
    this.#rejectAll(error);
    const link = this.#link;
    if (link && !link.down) {
      // After an answered refusal the platform closes (4403); the phone closes itself only if it does not.
      const grace = setTimeout(() => link.ws.close(1000), error instanceof PhoneCallError ? 1000 : 0);
      link.ws.once('close', () => clearTimeout(grace));
    }
    this.#setState('closed', {
      attempt: this.#attempt,
      error,
      ...(error.closeCode ? { closeCode: error.closeCode } : {}),
    });
  }

  #rejectAll(error: PhoneError): void {
    for (const w of this.#connectWaiters.splice(0)) w.reject(error);
    for (const call of [...this.#calls]) {
      const context = this.#callContext(call);
      // The top-up's own error says whether it was sent and with which key.
      const own =
        error instanceof PhoneConnectionError
          ? new PhoneConnectionError(
              error.code,
              `topUp: ${error.message}${context.effectUnknown ? `; its effect is unknown: repeat it with idempotencyKey ${context.idempotencyKey}` : ''}`,
              { ...context, cause: error, ...(error.closeCode ? { closeCode: error.closeCode } : {}) },
            )
          : error;
      this.#endCall(call, own);
    }
    for (const w of [...this.#noticeWaiters]) {
      this.#noticeWaiters.delete(w);
      clearTimeout(w.timer);
      w.reject(new PhoneConnectionError('PHONE_CLOSED', `waitForNotice: ${error.message}`, { cause: error }));
    }
  }

  // ------------------------------------------------------------ plumbing

  #send(link: Link, frame: string): boolean {
    if (link.down || link.ws.readyState !== WebSocket.OPEN) return false;
    try {
      link.ws.send(frame);
      return true;
    } catch {
      return false; // closing: the close event follows
    }
  }

  #setState(state: PhoneState, event: Omit<PhoneStateEvent, 'state'>): void {
    this.#state = state;
    this.#emit('state', { state, ...event });
  }

  #emit<K extends keyof VirtualPhoneEventMap>(name: K, event: VirtualPhoneEventMap[K]): void {
    for (const fn of [...(this.#listeners.get(name) ?? [])]) {
      try {
        (fn as PhoneListener<K>)(event);
      } catch (e) {
        this.#logger.warn(`a ${name} listener threw: ${messageOf(e)}`);
      }
    }
  }
}

/** Closes a socket with 1000 and waits for its close event (at most 2 s, then drops it). */
function closeSocket(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      ws.terminate();
      resolve();
    }, 2000);
    ws.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    try {
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000);
    } catch {
      clearTimeout(timer);
      ws.terminate();
      resolve();
    }
  });
}
