/**
 * A stand-in for the platform's `/v1/ota` endpoint, for the phone's tests (no host needed): a `ws` server on
 * 127.0.0.1 that answers `phone.hello` the way the protocol says — the SIM authenticated over SCP03 through the
 * phone's `card.transmit` relay with the reference profile's ISD keys, `IDENTITY_REFUSED` and close 4403 for a
 * SIM that is not the card it claims — then sends a `ready` notice; and that lets a test drive any connection by
 * hand (`transmit`, `request`, `notice`).
 *
 * @module
 */
import { fromHex, hex, toHex } from '@simtap/sdk/core/bytes';
import { Scp03Host } from '@simtap/sdk/core/gp';
import { referenceProfile, type SimtapProfile } from '@simtap/sdk/core/profile';
import {
  applicationError,
  CLOSE_CODES,
  checkCardResponse,
  checkOtaParams,
  errorFrame,
  notificationFrame,
  type OtaParamsOf,
  type OtaResultOf,
  parseFrame,
  type RequestId,
  type RpcError,
  requestFrame,
  resultFrame,
} from '@simtap/sdk/wire';
import { type WebSocket, WebSocketServer } from 'ws';
import { simIsdKeys } from '../../sim';

/** SELECT of the ISD by name (A000000151000000), Le 00. */
export const SELECT_ISD = hex`00 A4 04 00 08 A0 00 00 01 51 00 00 00 00`;

/** What a `card.transmit` got back: the SIM's response, or the phone's error. */
export type StubAnswer = { ok: true; response: Uint8Array } | { ok: false; error: RpcError };

/** An answer to a request the stub sent: a result or an error. */
export type StubReply = { ok: true; result: unknown } | { ok: false; error: RpcError };

/** How the stub answers a `phone.hello`: a result, or an error (then it closes 4403 when `close4403`). */
export type StubHelloAnswer =
  | { result: OtaResultOf<'phone.hello'> }
  | { error: RpcError; close4403?: boolean }
  /** No answer (the test drives the connection itself). */
  | { none: true };

/** Options of {@link StubPlatform.start}. */
export interface StubPlatformOptions {
  /** Answers a hello (default {@link authenticateHello}). */
  hello?: (conn: StubConnection, params: OtaParamsOf<'phone.hello'>) => Promise<StubHelloAnswer>;
  /** After an answered hello (default: a `ready` notice). */
  afterHello?: (conn: StubConnection) => void | Promise<void>;
  /** Answers a `phone.topUp` (default: `posted`, load id from the key). */
  topUp?: (conn: StubConnection, params: OtaParamsOf<'phone.topUp'>) => Promise<StubReply>;
  /** Pass `false` to select no subprotocol (the phone must refuse such a server). */
  subprotocol?: boolean;
  /** The port (default: a free one). */
  port?: number;
  /** The issued cards (default: the reference profile's). */
  profile?: SimtapProfile;
}

/** One phone's connection as the stub sees it. */
export class StubConnection {
  /** The hellos this connection got. */
  readonly hellos: OtaParamsOf<'phone.hello'>[] = [];
  /** The SCP03 sequence counters the SIM reported in INITIALIZE UPDATE (one per authentication). */
  readonly scpCounters: number[] = [];
  /** Resolves with the close code when the phone's link ends. */
  readonly closed: Promise<number>;
  #nextId = 1;
  readonly #pending = new Map<RequestId, (reply: StubReply) => void>();

  constructor(
    readonly ws: WebSocket,
    readonly platform: StubPlatform,
  ) {
    this.closed = new Promise((resolve) =>
      ws.once('close', (code) => {
        for (const settle of this.#pending.values())
          settle({ ok: false, error: { code: -1, message: `link closed (${code})` } });
        this.#pending.clear();
        resolve(code);
      }),
    );
    ws.on('message', (data) => void this.#onMessage(data.toString()));
  }

  /** Sends a raw request and waits for its answer (an error with code -1 when the link closes first). */
  request(method: string, params: unknown): Promise<StubReply> {
    const id = `p${this.#nextId++}`;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.ws.send(requestFrame(id, method, params));
    });
  }

  /** Sends one command to the SIM through the phone. */
  async transmit(apdu: Uint8Array): Promise<StubAnswer> {
    const reply = await this.request('card.transmit', { apdu: toHex(apdu) });
    if (!reply.ok) return reply;
    const checked = checkCardResponse(reply.result);
    if (!checked.ok) throw new Error(`the phone answered no response APDU: ${JSON.stringify(reply.result)}`);
    return { ok: true, response: fromHex(checked.response) };
  }

  /** Sends a `phone.notice`. */
  notice(params: OtaParamsOf<'phone.notice'>): void {
    this.ws.send(notificationFrame('phone.notice', params));
  }

  async #onMessage(text: string): Promise<void> {
    const frame = parseFrame(text);
    if (frame.kind === 'result' || frame.kind === 'error') {
      const settle = frame.id === null ? undefined : this.#pending.get(frame.id);
      if (!settle || frame.id === null) return;
      this.#pending.delete(frame.id);
      settle(frame.kind === 'result' ? { ok: true, result: frame.result } : { ok: false, error: frame.error });
      return;
    }
    if (frame.kind !== 'request') return;
    const { id, method, params } = frame;
    if (method === 'phone.hello') {
      const checked = checkOtaParams('phone.hello', params);
      if (!checked.ok) return void this.ws.send(errorFrame(id, { code: -32602, message: checked.reason }));
      this.hellos.push(checked.params);
      this.platform.hellos.push(checked.params);
      const answer = await this.platform.options.hello(this, checked.params);
      if ('none' in answer) return;
      if ('error' in answer) {
        this.ws.send(errorFrame(id, answer.error));
        if (answer.close4403) this.ws.close(CLOSE_CODES.WRONG_ENDPOINT, 'identity refused');
        return;
      }
      this.ws.send(resultFrame(id, answer.result));
      await this.platform.options.afterHello(this);
      return;
    }
    if (method === 'phone.topUp') {
      const checked = checkOtaParams('phone.topUp', params);
      if (!checked.ok) return void this.ws.send(errorFrame(id, { code: -32602, message: checked.reason }));
      this.platform.topUps.push(checked.params);
      const reply = await this.platform.options.topUp(this, checked.params);
      if (this.ws.readyState !== this.ws.OPEN) return;
      this.ws.send(reply.ok ? resultFrame(id, reply.result) : errorFrame(id, reply.error));
      return;
    }
    this.ws.send(errorFrame(id, { code: -32601, message: `method not found: ${method}` }));
  }
}

const refused = (why: string): StubHelloAnswer => ({
  error: applicationError('IDENTITY_REFUSED', why),
  close4403: true,
});

/**
 * The protocol's hello: the ICCID must be a card of the reference profile and the MSISDN its own; then SELECT of
 * the ISD and SCP03 at security level 33 with the card's diversified keys, through the phone. Answers the card's
 * serial with status `issued`.
 */
export async function authenticateHello(
  conn: StubConnection,
  params: OtaParamsOf<'phone.hello'>,
): Promise<StubHelloAnswer> {
  const profile = conn.platform.options.profile;
  const card = profile.cards.find((c) => c.iccid.toUpperCase() === params.iccid.toUpperCase());
  if (card === undefined) return refused('unknown ICCID');
  if (card.msisdn !== params.msisdn) return refused('the MSISDN is not the card’s');
  const transmit = async (apdu: Uint8Array): Promise<Uint8Array> => {
    const a = await conn.transmit(apdu);
    if (!a.ok) throw new Error(`card.transmit failed: ${a.error.message}`);
    return a.response;
  };
  try {
    const select = await transmit(SELECT_ISD);
    if (toHex(select.subarray(select.length - 2)) !== '9000') return refused('no ISD');
    const scp = await Scp03Host.open(transmit, {
      keys: simIsdKeys({ card: card.label, profile }).scp03,
      securityLevel: 0x33,
    });
    const seq = scp.cardInfo.sequenceCounter;
    conn.scpCounters.push(seq === undefined ? -1 : seq.reduce((n, b) => n * 256 + b, 0));
  } catch (e) {
    if (conn.ws.readyState !== conn.ws.OPEN) return { none: true };
    return refused(`secure channel failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { result: { cardSerial: toHex(card.applicationSerial), status: 'issued' } };
}

/** The stub `/v1/ota` endpoint. */
export class StubPlatform {
  /** Every hello, over all connections. */
  readonly hellos: OtaParamsOf<'phone.hello'>[] = [];
  /** Every top-up request, over all connections (resends included). */
  readonly topUps: OtaParamsOf<'phone.topUp'>[] = [];
  /** Every connection, in order. */
  readonly connections: StubConnection[] = [];
  readonly options: Required<Omit<StubPlatformOptions, 'subprotocol' | 'port'>>;
  readonly #waiters: ((c: StubConnection) => void)[] = [];

  private constructor(
    readonly server: WebSocketServer,
    options: StubPlatformOptions,
  ) {
    this.options = {
      hello: options.hello ?? authenticateHello,
      afterHello: options.afterHello ?? ((c) => c.notice({ kind: 'ready', message: 'nothing to do' })),
      profile: options.profile ?? referenceProfile(),
      topUp:
        options.topUp ??
        (async (_c, p) => ({ ok: true, result: { loadId: `load-${p.idempotencyKey}`, status: 'posted' } })),
    };
    server.on('connection', (ws) => {
      const conn = new StubConnection(ws, this);
      this.connections.push(conn);
      for (const w of this.#waiters.splice(0)) w(conn);
    });
  }

  /** Listens on 127.0.0.1, a free port, path `/v1/ota`. */
  static async start(options: StubPlatformOptions = {}): Promise<StubPlatform> {
    const server = new WebSocketServer({
      host: '127.0.0.1',
      port: options.port ?? 0,
      path: '/v1/ota',
      handleProtocols: (protocols) =>
        options.subprotocol !== false && protocols.has('simtap.v1') ? 'simtap.v1' : false,
    });
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    return new StubPlatform(server, options);
  }

  /** `ws://127.0.0.1:PORT` (the phone appends `/v1/ota`). */
  get url(): string {
    const address = this.server.address();
    if (typeof address === 'string' || address === null) throw new Error('not listening');
    return `ws://127.0.0.1:${address.port}`;
  }

  /** The `n`-th connection (0-based), once it exists. */
  connection(n: number, timeoutMs = 5000): Promise<StubConnection> {
    const existing = this.connections[n];
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no connection #${n} within ${timeoutMs} ms`)), timeoutMs);
      const check = (): void => {
        const c = this.connections[n];
        if (c) {
          clearTimeout(timer);
          resolve(c);
        } else this.#waiters.push(check);
      };
      this.#waiters.push(check);
    });
  }

  /** Stops listening and drops every connection. */
  async close(): Promise<void> {
    for (const c of this.server.clients) c.terminate();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
