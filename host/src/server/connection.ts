/**
 * One WebSocket connection of the `simtap.v1` server: the session (challenge, proof, role), the per-connection
 * limits (rate, requests in flight, send-buffer backpressure, request timeouts, heartbeats) and the dispatch of
 * checked requests to the platform.
 *
 * Frame handling, in order: a binary frame is answered -32600 (the connection stays open); a text frame is parsed
 * (`parseFrame`: -32700 / -32600); the rate limit (`RATE_LIMITED`, and close 4429 for a connection that keeps going);
 * on `/v1/app` and `/v1/console` before authentication every request but `session.authenticate` is
 * `UNAUTHENTICATED`; then `checkParams` (-32601 / -32602) and the handler, at most `maxInFlight` at once.
 * Notifications and responses from the peer are ignored (the server sends no requests on these endpoints).
 * @module
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import {
  applicationError,
  CLOSE_CODES,
  checkParams,
  ENDPOINT_PATHS,
  type Endpoint,
  errorFrame,
  JSONRPC_ERRORS,
  type MethodName,
  notificationFrame,
  parseFrame,
  type RequestId,
  type RpcError,
  resultFrame,
  sessionProof,
} from '@simtap/sdk/wire';
import WebSocket from 'ws';
import type { OtaService } from '../ota/service';
import type { Platform } from '../platform';
import type { ConsoleFeed, ServerView } from './console-feed';
import { type CallContext, EVENTS, HANDLERS, type ParamsOut } from './dispatch';
import { toRpcError } from './errors';
import type { EventHub, EventName, EventSubscriber, EventTopic } from './events';
import { DrainingCount, type ServerLimits, TokenBucket } from './limits';

/** A client allowed to connect: the profile's `platform.clients` fit. */
export interface ServerClient {
  readonly id: string;
  readonly role: 'application' | 'operator';
  /** The 32-byte HMAC secret of the session proof. */
  readonly secret: Uint8Array;
}

/** Where the server logs (a pino logger fits). Params, results, secrets and keys are never logged. */
export interface ServerLogger {
  info(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  /** pino's: lets the server skip building debug lines nobody reads. */
  isLevelEnabled?(level: string): boolean;
}

/** A connection as `PlatformServer.connections` lists it. */
export interface ConnectionInfo {
  /** The server's id of the connection (`c1`, `c2`, …), as in its log lines. */
  readonly id: string;
  readonly endpoint: Endpoint;
  /** The authenticated client, or `undefined` before authentication. */
  readonly clientId: string | undefined;
  /** `address:port` of the peer. */
  readonly remote: string;
  /** Requests the platform is working on. */
  readonly inFlight: number;
  /** Requests read and waiting for a free slot. */
  readonly queued: number;
  /** Whether the server has stopped reading the socket (too many requests in flight, or the peer does not read). */
  readonly paused: boolean;
  /** Bytes waiting to be sent to the peer. */
  readonly bufferedAmount: number;
  /** Event topics subscribed to. */
  readonly topics: readonly EventTopic[];
}

/** What a connection needs of its server. */
export interface ConnectionHost {
  /** Counts a message sent on `endpoint` (the server's `traffic`). */
  sent(endpoint: Endpoint): void;
  readonly platform: Platform;
  readonly clients: ReadonlyMap<string, ServerClient>;
  readonly limits: ServerLimits;
  readonly logger: ServerLogger;
  readonly debug: boolean;
  readonly hub: EventHub;
  /** The over-the-air service (air top-ups, cards' status changes reaching their phones). */
  readonly ota: OtaService;
  /** The operator console's live view (`console.snapshot`). */
  readonly feed: ConsoleFeed;
  /** What the snapshot reads of the server: connections and traffic. */
  readonly view: ServerView;
  /** True once `close()` has begun: new requests get `UNAVAILABLE`. */
  closing(): boolean;
  /** Keeps the work of a request until it settles (shutdown waits for it). */
  track(work: Promise<unknown>): void;
  /** The connection has closed. */
  closed(c: Connection): void;
}

const ROLE_OF = { app: 'application', console: 'operator' } as const;
/** The proof of an unknown client is checked against this, so that the answer takes the same time. */
const NO_SECRET = new Uint8Array(32);

interface Pending {
  readonly id: RequestId;
  readonly method: MethodName;
  readonly params: unknown;
  readonly at: number;
}

/** The close code ws sends for its frame errors. */
const WS_ERROR_CLOSE_CODES: Readonly<Record<string, number>> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: CLOSE_CODES.MESSAGE_TOO_BIG,
  WS_ERR_INVALID_UTF8: 1007,
};

let sequence = 0;

/** One connection. */
export class Connection implements EventSubscriber {
  readonly id = `c${++sequence}`;
  readonly endpoint: Endpoint;
  readonly remote: string;
  readonly ws: WebSocket;
  readonly topics = new Set<EventTopic>();
  readonly #host: ConnectionHost;
  readonly #nonce = randomBytes(32);
  readonly #bucket: TokenBucket;
  readonly #refused: DrainingCount;
  readonly #queue: Pending[] = [];
  readonly #openedAt = performance.now();
  readonly #afterSend: (err?: Error) => void;
  #client: ServerClient | undefined;
  #inFlight = 0;
  #bufferFull = false;
  #pumping = false;
  #alive = true;
  /** The close code the server chose (the peer's comes with the close event otherwise). */
  #closeCode: number | undefined;
  #closeReason: string | undefined;
  #authTimer: NodeJS.Timeout | undefined;
  #killTimer: NodeJS.Timeout | undefined;

  constructor(host: ConnectionHost, ws: WebSocket, endpoint: Endpoint, remote: string) {
    this.#host = host;
    this.ws = ws;
    this.endpoint = endpoint;
    this.remote = remote;
    const { limits } = host;
    this.#bucket = new TokenBucket(limits.ratePerSecond, limits.rateBurst);
    this.#refused = new DrainingCount(limits.ratePerSecond);
    this.#afterSend = () => this.#updatePause();
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    ws.on('pong', () => {
      this.#alive = true;
    });
    ws.on('error', (err: Error & { code?: string }) => {
      // ws closes the connection itself: 1009 for a frame over maxPayload, 1007 for invalid UTF-8, 1002 otherwise.
      if (this.#closeCode === undefined) {
        this.#closeCode = WS_ERROR_CLOSE_CODES[err.code ?? ''] ?? 1002;
        this.#closeReason = err.code ?? err.name;
      }
      host.logger.debug({ conn: this.id, err: err.code ?? err.name }, 'connection error');
    });
    ws.on('close', (code, reason) => this.#onClose(code, reason.toString('utf8')));
    host.logger.info({ conn: this.id, endpoint, remote }, 'connection open');
    this.#authTimer = setTimeout(
      () => this.close(CLOSE_CODES.AUTHENTICATION_TIMEOUT, 'authentication timeout'),
      limits.authTimeoutMs,
    );
    this.#authTimer.unref();
    this.#send(notificationFrame('session.challenge', { nonce: this.#nonce.toString('hex').toUpperCase() }));
  }

  get clientId(): string | undefined {
    return this.#client?.id;
  }

  get role(): 'application' | 'operator' | undefined {
    return this.#client?.role;
  }

  get info(): ConnectionInfo {
    return {
      id: this.id,
      endpoint: this.endpoint,
      clientId: this.#client?.id,
      remote: this.remote,
      inFlight: this.#inFlight,
      queued: this.#queue.length,
      paused: this.ws.isPaused,
      bufferedAmount: this.ws.bufferedAmount,
      topics: [...this.topics],
    };
  }

  /** Closes with `code` (once); a peer that does not complete the closing handshake in `closeTimeoutMs` is dropped. */
  close(code: number, reason: string): void {
    if (this.#closeCode !== undefined || this.ws.readyState >= WebSocket.CLOSING) return;
    this.#closeCode = code;
    this.#closeReason = reason;
    this.ws.close(code, reason);
    // Requests read but not started are dropped, and the socket is read again for the peer's close frame.
    this.#queue.length = 0;
    if (this.ws.isPaused) this.ws.resume();
    this.#killTimer = setTimeout(() => this.ws.terminate(), this.#host.limits.closeTimeoutMs);
    this.#killTimer.unref();
  }

  /** Drops the connection at once (a dead peer). */
  terminate(reason: string): void {
    if (this.#closeCode === undefined) {
      this.#closeCode = 1006;
      this.#closeReason = reason;
    }
    this.ws.terminate();
  }

  /** One heartbeat: a peer that has not answered the last ping is dropped, then a new ping goes out. */
  heartbeat(): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    // While the server itself holds the socket unread (requests in flight) a pong cannot arrive: that is not the
    // peer's fault.
    const busy = this.#inFlight >= this.#host.limits.maxInFlight;
    if (!this.#alive && !busy) {
      this.terminate('no pong: the peer is gone');
      return;
    }
    this.#alive = false;
    this.ws.ping();
  }

  /** Shutdown: requests read but not started get `UNAVAILABLE`. */
  refuseQueued(): void {
    for (const r of this.#queue.splice(0)) this.#answerError(r.id, r.method, r.at, unavailable());
    this.#updatePause();
  }

  /** Sends an event notification; a peer whose unsent bytes are over `maxBufferedBytes` is disconnected instead. */
  notify(name: EventName, params: unknown): void {
    if (this.ws.readyState !== WebSocket.OPEN || this.#closeCode !== undefined) return;
    if (this.ws.bufferedAmount > this.#host.limits.maxBufferedBytes) {
      this.#host.logger.warn(
        { conn: this.id, client: this.clientId, bufferedAmount: this.ws.bufferedAmount },
        'slow consumer: events not read, disconnecting',
      );
      this.close(1008, 'the client does not read its events');
      return;
    }
    this.#send(notificationFrame(name, params));
  }

  // ---------------------------------------------------------------- frames

  #onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.#closeCode !== undefined) return;
    this.#alive = true;
    const at = performance.now();
    if (!this.#bucket.take(at)) {
      this.#rateLimited(data, isBinary, at);
      return;
    }
    if (isBinary) {
      this.#answerError(null, undefined, at, {
        code: JSONRPC_ERRORS.INVALID_REQUEST,
        message: 'binary frames are not accepted: send each JSON-RPC message as a text frame',
      });
      return;
    }
    const frame = parseText(data);
    if (frame.kind === 'invalid') {
      this.#answerError(frame.id, undefined, at, frame.error);
      return;
    }
    if (frame.kind !== 'request') return;
    if (this.#client === undefined) {
      if (frame.method === 'session.authenticate') this.#authenticate(frame.id, frame.params, at);
      else
        this.#answerError(
          frame.id,
          frame.method,
          at,
          applicationError('UNAUTHENTICATED', 'authenticate first (session.authenticate)'),
        );
      return;
    }
    const checked = checkParams(this.endpoint, frame.method, frame.params);
    if (!checked.ok) {
      this.#answerError(frame.id, frame.method, at, checked.error);
      return;
    }
    const pending: Pending = { id: frame.id, method: checked.method, params: checked.params, at };
    if (this.#host.closing()) {
      this.#answerError(pending.id, pending.method, at, unavailable());
      return;
    }
    this.#queue.push(pending);
    this.#updatePause();
  }

  #rateLimited(data: WebSocket.RawData, isBinary: boolean, at: number): void {
    const refused = this.#refused.add(at);
    const frame = isBinary ? undefined : parseText(data);
    if (frame === undefined || frame.kind === 'request' || frame.kind === 'invalid')
      this.#answerError(
        frame !== undefined && 'id' in frame ? frame.id : null,
        frame?.kind === 'request' ? frame.method : undefined,
        at,
        applicationError('RATE_LIMITED', `more than ${this.#host.limits.ratePerSecond} calls per second: slow down`),
      );
    if (refused > this.#host.limits.rateCloseAfter) {
      this.#host.logger.warn({ conn: this.id, client: this.clientId }, 'rate limit: closing');
      this.close(CLOSE_CODES.RATE_LIMIT, 'rate limit exceeded');
    }
  }

  #authenticate(id: RequestId, params: unknown, at: number): void {
    const checked = checkParams(this.endpoint, 'session.authenticate', params);
    if (!checked.ok) {
      this.#answerError(id, 'session.authenticate', at, checked.error);
      return;
    }
    const { clientId, proof } = checked.params as ParamsOut<'session.authenticate'>;
    const client = this.#host.clients.get(clientId);
    const path = ENDPOINT_PATHS[this.endpoint];
    const expected = Buffer.from(sessionProof(client?.secret ?? NO_SECRET, this.#nonce, path), 'hex');
    const given = Buffer.from(proof, 'hex');
    if (!(timingSafeEqual(expected, given) && client !== undefined)) {
      this.#answerError(id, 'session.authenticate', at, applicationError('BAD_PROOF', 'authentication failed'));
      this.close(CLOSE_CODES.AUTHENTICATION_FAILED, 'authentication failed');
      return;
    }
    const role = ROLE_OF[this.endpoint as 'app' | 'console'];
    if (client.role !== role) {
      this.#answerError(
        id,
        'session.authenticate',
        at,
        applicationError(
          'FORBIDDEN',
          `client ${client.id} has role ${client.role}: it connects to ${ENDPOINT_PATHS[client.role === 'application' ? 'app' : 'console']}`,
        ),
      );
      this.close(CLOSE_CODES.WRONG_ENDPOINT, 'wrong endpoint for the role');
      return;
    }
    this.#client = client;
    clearTimeout(this.#authTimer);
    this.#authTimer = undefined;
    this.#host.logger.debug({ conn: this.id, client: client.id }, 'authenticated');
    this.#answer(id, 'session.authenticate', at, { clientId: client.id, role: client.role });
  }

  // ---------------------------------------------------------------- requests

  async #run(r: Pending): Promise<void> {
    const host = this.#host;
    const client = this.#client!;
    const ctx: CallContext = {
      clientId: client.id,
      role: client.role,
      endpoint: this.endpoint,
      ota: host.ota,
      feed: host.feed,
      server: host.view,
      subscribe: (topics) => {
        for (const t of topics) this.topics.add(t);
        host.hub.add(this);
        return [...this.topics];
      },
    };
    this.#inFlight++;
    const handler = HANDLERS[r.method] as (p: Platform, c: CallContext, params: unknown) => Promise<unknown>;
    const work = (async () => handler(host.platform, ctx, r.params))();
    host.track(work);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), host.limits.requestTimeoutMs);
    });
    const outcome = await Promise.race([
      work.then(
        (result) => ({ ok: true as const, result }),
        (error: unknown) => ({ ok: false as const, error }),
      ),
      timeout,
    ]);
    clearTimeout(timer);
    this.#inFlight--;
    if (outcome === 'timeout') {
      this.#answerError(
        r.id,
        r.method,
        r.at,
        applicationError(
          'TIMEOUT',
          `no answer within ${host.limits.requestTimeoutMs} ms; the call may still complete: retry with the same idempotency key`,
        ),
      );
    } else if (outcome.ok) {
      this.#answer(r.id, r.method, r.at, outcome.result);
      this.#events(r, ctx, outcome.result);
    } else {
      const { error, log } = toRpcError(outcome.error);
      if (log !== undefined) {
        const e = outcome.error;
        host.logger[log](
          {
            conn: this.id,
            client: client.id,
            method: r.method,
            id: r.id,
            err:
              e instanceof Error
                ? { name: e.name, message: e.message, code: (e as { code?: unknown }).code }
                : String(e),
          },
          'request failed',
        );
      }
      this.#answerError(r.id, r.method, r.at, error);
    }
    this.#updatePause();
  }

  #events(r: Pending, ctx: CallContext, result: unknown): void {
    const spec = EVENTS[r.method] as
      | {
          topics: readonly EventTopic[];
          make: (p: Platform, c: CallContext, params: unknown, result: unknown) => Promise<never[]>;
        }
      | undefined;
    if (spec === undefined || !this.#host.hub.listening(spec.topics)) return;
    const hub = this.#host.hub;
    spec.make(this.#host.platform, ctx, r.params, result).then(
      (events) => {
        for (const e of events) hub.publish(e);
      },
      (e: unknown) =>
        this.#host.logger.warn(
          { conn: this.id, method: r.method, err: e instanceof Error ? e.name : String(e) },
          'event not made',
        ),
    );
  }

  // ---------------------------------------------------------------- sending

  #answer(id: RequestId, method: string, at: number, result: unknown): void {
    this.#send(resultFrame(id, result));
    if (this.#host.debug) this.#host.logger.debug({ conn: this.id, method, id, ms: ms(at) }, 'request');
  }

  #answerError(id: RequestId | null, method: string | undefined, at: number, error: RpcError): void {
    this.#send(errorFrame(id, error));
    if (this.#host.debug)
      this.#host.logger.debug(
        { conn: this.id, method: method?.slice(0, 64), id, ms: ms(at), code: error.data?.code ?? error.code },
        'request',
      );
  }

  #send(text: string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(text, this.#afterSend);
    this.#host.sent(this.endpoint);
    if (this.ws.bufferedAmount > this.#host.limits.highWaterBytes) this.#updatePause();
  }

  /**
   * Backpressure: the socket is not read while the connection has `maxInFlight` requests in flight (or more read
   * and waiting), or while more than `highWaterBytes` wait to be sent to the peer, until they drain below
   * `lowWaterBytes`. A peer that sends without reading therefore fills its own buffers, not the server's memory.
   */
  #updatePause(): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const { limits } = this.#host;
    const buffered = this.ws.bufferedAmount;
    if (buffered > limits.highWaterBytes) this.#bufferFull = true;
    else if (buffered <= limits.lowWaterBytes) this.#bufferFull = false;
    // Requests already read start while there is room: a free slot, and answers draining.
    if (!this.#pumping) {
      this.#pumping = true;
      while (!this.#bufferFull && this.#inFlight < limits.maxInFlight && this.#queue.length > 0)
        void this.#run(this.#queue.shift()!);
      this.#pumping = false;
    }
    const pause = this.#bufferFull || this.#inFlight >= limits.maxInFlight || this.#queue.length > 0;
    if (pause && !this.ws.isPaused) this.ws.pause();
    else if (!pause && this.ws.isPaused) this.ws.resume();
  }

  #onClose(peerCode: number, peerReason: string): void {
    clearTimeout(this.#authTimer);
    clearTimeout(this.#killTimer);
    this.#host.hub.delete(this);
    this.#queue.length = 0;
    this.#host.logger.info(
      {
        conn: this.id,
        endpoint: this.endpoint,
        client: this.clientId,
        code: this.#closeCode ?? peerCode,
        reason: (this.#closeCode === undefined ? peerReason : this.#closeReason)?.slice(0, 123) || undefined,
        by: this.#closeCode === undefined ? 'peer' : 'server',
        ms: ms(this.#openedAt),
      },
      'connection closed',
    );
    this.#host.closed(this);
  }
}

function parseText(data: WebSocket.RawData) {
  const text = Buffer.isBuffer(data)
    ? data.toString('utf8')
    : Array.isArray(data)
      ? Buffer.concat(data).toString('utf8')
      : Buffer.from(data).toString('utf8');
  return parseFrame(text);
}

function unavailable(): RpcError {
  return applicationError('UNAVAILABLE', 'the platform is shutting down; retry with the same idempotency key');
}

function ms(since: number): number {
  return Math.round((performance.now() - since) * 1000) / 1000;
}
