/**
 * One phone on `/v1/ota`: the socket side of the mobile network. The phone is a relay: its `phone.hello` names a
 * SIM, which the {@link OtaService} authenticates end to end; the platform then sends `card.transmit` requests that
 * the phone answers with the SIM's responses. Frames are handled like the other endpoints' (rate limit with close
 * 4429, -32700 / -32600 / -32601 / -32602, heartbeats, a hello within the authentication timeout or close 4408); a
 * phone may have at most one request of its own in flight at a time besides its hello.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import {
  applicationError,
  CLOSE_CODES,
  checkCardResponse,
  checkOtaParams,
  errorFrame,
  hasWireCode,
  JSONRPC_ERRORS,
  notificationFrame,
  type OtaParamsOf,
  parseFrame,
  type RequestId,
  type RpcError,
  requestFrame,
  resultFrame,
} from '@simtap/sdk/wire';
import WebSocket from 'ws';
import type { ConnectionInfo, ServerLogger } from '../server/connection';
import { toRpcError } from '../server/errors';
import { DrainingCount, type ServerLimits, TokenBucket } from '../server/limits';
import { OtaError } from './errors';

/** What the service needs of a phone's link. */
export interface PhoneLink {
  /** The connection's id (`p1`, …), as in the log lines. */
  readonly id: string;
  readonly remote: string;
  /** Sends a command to the SIM; resolves with its response (data ‖ SW). @throws {OtaError} `CARD_ABSENT`, `LINK_LOST`, `BAD_CARD_RESPONSE` */
  transmit(apdu: Uint8Array): Promise<Uint8Array>;
  /** Tells the phone's user what happened (`phone.notice`). */
  notice(params: OtaParamsOf<'phone.notice'>): void;
  /** Closes the connection with `code`. */
  close(code: number, reason: string): void;
  /** True until the connection closes. */
  readonly open: boolean;
  /** Resolves when the connection has closed. */
  readonly closed: Promise<void>;
}

/** What a phone connection needs of its server and the OTA service. */
export interface PhoneConnectionHost {
  /** Counts a message sent to a phone (the server's `traffic`). */
  sent(): void;
  readonly limits: ServerLimits;
  readonly logger: ServerLogger;
  /** How long a phone may take to answer a card command before the link counts as lost. */
  readonly cardTimeoutMs: number;
  closing(): boolean;
  track(work: Promise<unknown>): void;
  closed(c: PhoneConnection): void;
  /** `phone.hello`: resolves with the result once the SIM has authenticated. */
  hello(link: PhoneLink, params: OtaParamsOf<'phone.hello'>): Promise<unknown>;
  /** `phone.topUp` after a hello. */
  topUp(link: PhoneLink, params: OtaParamsOf<'phone.topUp'>): Promise<unknown>;
  /** The connection closed (the service forgets the session). */
  gone(link: PhoneLink): void;
}

let sequence = 0;

/** A phone's connection. */
export class PhoneConnection implements PhoneLink {
  readonly id = `p${++sequence}`;
  readonly endpoint = 'ota' as const;
  readonly remote: string;
  readonly ws: WebSocket;
  readonly closed: Promise<void>;
  readonly #host: PhoneConnectionHost;
  readonly #bucket: TokenBucket;
  readonly #refused: DrainingCount;
  readonly #pending = new Map<
    string,
    { resolve(r: Uint8Array): void; reject(e: Error): void; timer: NodeJS.Timeout }
  >();
  readonly #openedAt = performance.now();
  #helloState: 'none' | 'running' | 'done' = 'none';
  #cardSerial: string | undefined;
  #busy = 0;
  #alive = true;
  #closeCode: number | undefined;
  #closeReason: string | undefined;
  #authTimer: NodeJS.Timeout | undefined;
  #killTimer: NodeJS.Timeout | undefined;
  #markClosed!: () => void;

  constructor(host: PhoneConnectionHost, ws: WebSocket, remote: string) {
    this.#host = host;
    this.ws = ws;
    this.remote = remote;
    this.closed = new Promise((resolve) => {
      this.#markClosed = resolve;
    });
    const { limits } = host;
    this.#bucket = new TokenBucket(limits.ratePerSecond, limits.rateBurst);
    this.#refused = new DrainingCount(limits.ratePerSecond);
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    ws.on('pong', () => {
      this.#alive = true;
    });
    ws.on('error', (err: Error & { code?: string }) => {
      if (this.#closeCode === undefined) {
        this.#closeCode = err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? CLOSE_CODES.MESSAGE_TOO_BIG : 1002;
        this.#closeReason = err.code ?? err.name;
      }
    });
    ws.on('close', (code, reason) => this.#onClose(code, reason.toString('utf8')));
    host.logger.info({ conn: this.id, endpoint: 'ota', remote }, 'connection open');
    this.#authTimer = setTimeout(
      () => this.close(CLOSE_CODES.AUTHENTICATION_TIMEOUT, 'no phone.hello in time'),
      limits.authTimeoutMs,
    );
    this.#authTimer.unref();
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN && this.#closeCode === undefined;
  }

  get info(): ConnectionInfo {
    return {
      id: this.id,
      endpoint: 'ota',
      clientId: this.#cardSerial === undefined ? undefined : `card:${this.#cardSerial}`,
      remote: this.remote,
      inFlight: this.#pending.size + this.#busy,
      queued: 0,
      paused: this.ws.isPaused,
      bufferedAmount: this.ws.bufferedAmount,
      topics: [],
    };
  }

  /** The card the phone's SIM proved to be (after its hello). */
  set cardSerial(serial: string) {
    this.#cardSerial = serial;
  }

  transmit(apdu: Uint8Array): Promise<Uint8Array> {
    if (!this.open) return Promise.reject(new OtaError('LINK_LOST', 'the phone is not connected'));
    const id = `t-${randomUUID()}`;
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(
          new OtaError('LINK_LOST', `the phone did not answer a card command within ${this.#host.cardTimeoutMs} ms`),
        );
        this.close(1001, 'the phone does not answer');
      }, this.#host.cardTimeoutMs);
      timer.unref();
      this.#pending.set(id, { resolve, reject, timer });
      this.#send(requestFrame(id, 'card.transmit', { apdu: toHex(apdu) }));
    });
  }

  notice(params: OtaParamsOf<'phone.notice'>): void {
    if (this.open) this.#send(notificationFrame('phone.notice', params));
  }

  close(code: number, reason: string): void {
    if (this.#closeCode !== undefined || this.ws.readyState >= WebSocket.CLOSING) return;
    this.#closeCode = code;
    this.#closeReason = reason;
    this.ws.close(code, reason);
    this.#failPending();
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

  heartbeat(): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (!this.#alive) {
      this.terminate('no pong: the phone is gone');
      return;
    }
    this.#alive = false;
    this.ws.ping();
  }

  /** Shutdown: nothing is queued on a phone connection. */
  refuseQueued(): void {}

  // ---------------------------------------------------------------- frames

  #onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.#closeCode !== undefined) return;
    this.#alive = true;
    const at = performance.now();
    if (!this.#bucket.take(at)) {
      const refused = this.#refused.add(at);
      // As on /v1/app: a request is refused under its id; notifications and responses are never answered.
      const frame = isBinary ? undefined : parseFrame(textOf(data));
      if (frame === undefined || frame.kind === 'request' || frame.kind === 'invalid')
        this.#sendError(
          frame === undefined ? null : frame.id,
          applicationError('RATE_LIMITED', 'too many messages: slow down'),
        );
      if (refused > this.#host.limits.rateCloseAfter) this.close(CLOSE_CODES.RATE_LIMIT, 'rate limit exceeded');
      return;
    }
    if (isBinary) {
      this.#sendError(null, { code: JSONRPC_ERRORS.INVALID_REQUEST, message: 'binary frames are not accepted' });
      return;
    }
    const frame = parseFrame(textOf(data));
    switch (frame.kind) {
      case 'invalid':
        this.#sendError(frame.id, frame.error);
        return;
      case 'notification':
        return;
      case 'result':
      case 'error':
        this.#onAnswer(frame);
        return;
      case 'request':
        this.#onRequest(frame.id, frame.method, frame.params);
        return;
    }
  }

  #onAnswer(
    frame:
      | { kind: 'result'; id: RequestId; result: unknown }
      | { kind: 'error'; id: RequestId | null; error: RpcError },
  ): void {
    const id = typeof frame.id === 'string' ? frame.id : undefined;
    const p = id === undefined ? undefined : this.#pending.get(id);
    if (p === undefined) return; // an answer to nothing asked: ignored
    this.#pending.delete(id!);
    clearTimeout(p.timer);
    if (frame.kind === 'error') {
      p.reject(
        hasWireCode(frame.error, 'CARD_ABSENT')
          ? new OtaError('CARD_ABSENT', 'the phone says the SIM did not answer')
          : new OtaError('BAD_CARD_RESPONSE', `the phone answered a card command with an error (${frame.error.code})`),
      );
      return;
    }
    const checked = checkCardResponse(frame.result);
    if (!checked.ok) {
      p.reject(new OtaError('BAD_CARD_RESPONSE', `the phone's answer is ${checked.reason}`));
      return;
    }
    p.resolve(fromHex(checked.response));
  }

  #onRequest(id: RequestId, method: string, params: unknown): void {
    if (method !== 'phone.hello' && method !== 'phone.topUp') {
      this.#sendError(id, {
        code: JSONRPC_ERRORS.METHOD_NOT_FOUND,
        message: `method not found: ${method.slice(0, 64)}`,
      });
      return;
    }
    if (this.#host.closing()) {
      this.#sendError(id, applicationError('UNAVAILABLE', 'the platform is shutting down; connect again later'));
      return;
    }
    if (method === 'phone.hello') {
      if (this.#helloState !== 'none') {
        this.#sendError(id, applicationError('FORBIDDEN', 'the phone has said hello on this connection'));
        return;
      }
      const checked = checkOtaParams('phone.hello', params);
      if (!checked.ok) {
        this.#sendError(id, { code: JSONRPC_ERRORS.INVALID_PARAMS, message: `invalid params: ${checked.reason}` });
        return;
      }
      this.#helloState = 'running';
      this.#run(id, method, this.#host.hello(this, checked.params), () => {
        this.#helloState = 'done';
        clearTimeout(this.#authTimer);
      });
      return;
    }
    if (this.#helloState !== 'done') {
      this.#sendError(id, applicationError('UNAUTHENTICATED', 'say phone.hello first, and let the SIM authenticate'));
      return;
    }
    if (this.#busy > 0) {
      this.#sendError(id, applicationError('RATE_LIMITED', 'one top-up at a time'));
      return;
    }
    const checked = checkOtaParams('phone.topUp', params);
    if (!checked.ok) {
      this.#sendError(id, { code: JSONRPC_ERRORS.INVALID_PARAMS, message: `invalid params: ${checked.reason}` });
      return;
    }
    this.#run(id, method, this.#host.topUp(this, checked.params));
  }

  #run(id: RequestId, method: string, work: Promise<unknown>, onOk?: () => void): void {
    this.#busy++;
    this.#host.track(work);
    const at = performance.now();
    work.then(
      (result) => {
        this.#busy--;
        onOk?.();
        this.#send(resultFrame(id, result));
        this.#host.logger.debug({ conn: this.id, method, ms: ms(at) }, 'request');
      },
      (e: unknown) => {
        this.#busy--;
        const { error, log } = toRpcError(e);
        if (log !== undefined)
          this.#host.logger[log](
            {
              conn: this.id,
              method,
              err: e instanceof Error ? { name: e.name, code: (e as { code?: unknown }).code } : String(e),
            },
            'request failed',
          );
        this.#sendError(id, error);
        this.#host.logger.debug({ conn: this.id, method, ms: ms(at), code: error.data?.code ?? error.code }, 'request');
        if (hasWireCode(error, 'IDENTITY_REFUSED')) this.close(CLOSE_CODES.WRONG_ENDPOINT, 'the SIM is refused');
      },
    );
  }

  // ---------------------------------------------------------------- sending

  #sendError(id: RequestId | null, error: RpcError): void {
    this.#send(errorFrame(id, error));
  }

  #send(text: string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (this.ws.bufferedAmount > this.#host.limits.maxBufferedBytes) {
      this.close(1008, 'the phone does not read');
      return;
    }
    this.ws.send(text);
    this.#host.sent();
  }

  #failPending(): void {
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      p.reject(new OtaError('LINK_LOST', 'the phone disconnected'));
      this.#pending.delete(id);
    }
  }

  #onClose(peerCode: number, peerReason: string): void {
    clearTimeout(this.#authTimer);
    clearTimeout(this.#killTimer);
    this.#failPending();
    this.#host.logger.info(
      {
        conn: this.id,
        endpoint: 'ota',
        card: this.#cardSerial,
        code: this.#closeCode ?? peerCode,
        reason: (this.#closeCode === undefined ? peerReason : this.#closeReason)?.slice(0, 123) || undefined,
        by: this.#closeCode === undefined ? 'peer' : 'server',
        ms: ms(this.#openedAt),
      },
      'connection closed',
    );
    this.#host.gone(this);
    this.#host.closed(this);
    this.#markClosed();
  }
}

function textOf(data: WebSocket.RawData): string {
  return Buffer.isBuffer(data)
    ? data.toString('utf8')
    : Array.isArray(data)
      ? Buffer.concat(data).toString('utf8')
      : Buffer.from(data).toString('utf8');
}

function ms(since: number): number {
  return Math.round((performance.now() - since) * 1000) / 1000;
}
