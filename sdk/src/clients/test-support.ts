/**
 * A small `simtap.v1` server for the client's tests, over real sockets on 127.0.0.1: the session handshake of
 * PROTOCOL.md (challenge, proof, 4401 / 4403), params checked against the catalogue, an idempotency store that
 * counts effects per key, and hooks to misbehave on purpose — drop the socket after the effect and before the
 * answer, answer `RATE_LIMITED`, never answer, refuse connections for a while (stop and restart on the same port).
 * The real server (`@simtap/host`) is tested against the client elsewhere; this one is for what a real server does
 * not do on demand.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import {
  type AddressInfo,
  connect,
  createServer as createTcpServer,
  type Socket,
  type Server as TcpServer,
} from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import { fromHex } from '../core/bytes';
import {
  applicationError,
  CLOSE_CODES,
  checkParams,
  ENDPOINT_PATHS,
  errorFrame,
  JSONRPC_ERRORS,
  type MethodName,
  notificationFrame,
  parseFrame,
  type RpcError,
  resultFrame,
  SUBPROTOCOL,
  sessionProof,
  type WireErrorCode,
} from '../wire';

/** The test clients: id → secret (hex) and role. */
export const TEST_CLIENTS = {
  'mart-1': { secret: 'A9324805AC9A0F9CAF5D24A7AA40B1C9B1F60FEA8385DD67BC0F5DD0DCBD52DD', role: 'application' },
  'operator-1': { secret: 'AF63F3D791BF9EAAEBBE9AEE097A49EAF5772B30DDE08CD95FE76AB70D5A2789', role: 'operator' },
} as const;

/** What a handler answers: a result, an application error, or a misbehaviour. */
export type Answer =
  | { readonly result: unknown }
  | { readonly error: RpcError }
  /** close the socket without answering (the handler does not run) */
  | { readonly drop: true }
  /** run the handler (its effect happens), then close the socket without answering */
  | { readonly dropAfterEffect: true }
  /** never answer */
  | { readonly silence: true };

/** One authenticated connection. */
export interface FakeConnection {
  readonly socket: WebSocket;
  readonly clientId: string;
  readonly endpoint: 'app' | 'console';
  topics: Set<string>;
}

/** A method handler: `params` already checked against the catalogue. */
export type Handler = (params: Record<string, unknown>, conn: FakeConnection) => Answer | Promise<Answer>;

/** A hook run before the handler: return an answer to short-cut it, or nothing to go on. */
export type Hook = (
  method: MethodName,
  params: Record<string, unknown>,
  conn: FakeConnection,
) => Answer | undefined | Promise<Answer | undefined>;

/** A fake platform on 127.0.0.1 (see the module's description). */
export class FakePlatform {
  /** `ws://127.0.0.1:port`. */
  url = '';
  port = 0;
  /** Requests received (after authentication), in order. */
  readonly requests: { method: string; params: Record<string, unknown>; id: unknown }[] = [];
  /** Upgrades accepted. */
  connections = 0;
  /** Effects applied per idempotency key (money-moving methods). */
  readonly effects = new Map<string, number>();
  /** Phone accounts: msisdn → balance. */
  readonly accounts = new Map<string, number>([['13800138001', 0]]);
  readonly handlers = new Map<string, Handler>();
  hook: Hook | undefined;
  readonly open = new Set<FakeConnection>();
  readonly #sockets = new Set<WebSocket>();
  readonly #outcomes = new Map<string, { fingerprint: string; answer: Answer }>();
  #http: Server | undefined;
  #maxPayload = 1024 * 1024;
  #wss: WebSocketServer | undefined;

  /** Starts a server on 127.0.0.1 (port 0: a free one). */
  static async start(options: { port?: number; maxPayload?: number } = {}): Promise<FakePlatform> {
    const fake = new FakePlatform();
    fake.#maxPayload = options.maxPayload ?? 1024 * 1024;
    fake.#defaults();
    await fake.listen(options.port ?? 0);
    return fake;
  }

  /** Listens (again) on `port`, by default the port of the first start. */
  async listen(port = this.port): Promise<void> {
    const http = createServer((_req, res) => res.writeHead(426).end());
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.#maxPayload,
      handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    });
    http.on('upgrade', (req, socket, head) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const endpoint = path === ENDPOINT_PATHS.app ? 'app' : path === ENDPOINT_PATHS.console ? 'console' : undefined;
      if (!endpoint) return socket.destroy();
      wss.handleUpgrade(req, socket, head, (ws) => this.#session(ws, endpoint));
    });
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(port, '127.0.0.1', () => resolve());
    });
    this.#http = http;
    this.#wss = wss;
    this.port = (http.address() as AddressInfo).port;
    this.url = `ws://127.0.0.1:${this.port}`;
  }

  /** Stops listening and drops every connection (clients then see ECONNREFUSED until `listen()`). */
  async stop(): Promise<void> {
    for (const ws of this.#sockets) ws.terminate();
    this.#sockets.clear();
    this.open.clear();
    const http = this.#http;
    this.#http = undefined;
    this.#wss?.close();
    if (http) await new Promise<void>((resolve) => http.close(() => resolve()));
  }

  /** Drops every connection at once (TCP reset, no close frame). */
  dropAll(): void {
    for (const ws of this.#sockets) ws.terminate();
  }

  /** Sends a notification to every authenticated connection subscribed to `topic`. */
  notify(topic: string, method: string, params: unknown): void {
    for (const c of this.open) if (c.topics.has(topic)) c.socket.send(notificationFrame(method, params));
  }

  /** Total effects applied. */
  get totalEffects(): number {
    let n = 0;
    for (const v of this.effects.values()) n += v;
    return n;
  }

  #session(ws: WebSocket, endpoint: 'app' | 'console'): void {
    this.connections++;
    this.#sockets.add(ws);
    const nonce = randomBytes(32);
    let conn: FakeConnection | undefined;
    ws.on('error', () => {}); // 1009 and resets: the close event follows
    ws.on('close', () => {
      this.#sockets.delete(ws);
      if (conn) this.open.delete(conn);
    });
    ws.send(notificationFrame('session.challenge', { nonce: nonce.toString('hex').toUpperCase() }));
    ws.on('message', async (data) => {
      const frame = parseFrame(data.toString());
      if (frame.kind === 'invalid') return ws.send(errorFrame(frame.id, frame.error));
      if (frame.kind !== 'request') return;
      if (!conn) {
        if (frame.method !== 'session.authenticate')
          return ws.send(errorFrame(frame.id, applicationError('UNAUTHENTICATED', 'authenticate first')));
        const p = (frame.params ?? {}) as { clientId?: string; proof?: string };
        const client = TEST_CLIENTS[p.clientId as keyof typeof TEST_CLIENTS] as
          | (typeof TEST_CLIENTS)[keyof typeof TEST_CLIENTS]
          | undefined;
        const expected = client && sessionProof(fromHex(client.secret), nonce, ENDPOINT_PATHS[endpoint]);
        if (!client || typeof p.proof !== 'string' || p.proof.toUpperCase() !== expected) {
          ws.send(errorFrame(frame.id, applicationError('BAD_PROOF', 'bad proof')));
          return ws.close(CLOSE_CODES.AUTHENTICATION_FAILED, 'bad proof');
        }
        const role = endpoint === 'app' ? 'application' : 'operator';
        if (client.role !== role) {
          ws.send(errorFrame(frame.id, applicationError('FORBIDDEN', 'wrong endpoint for the role')));
          return ws.close(CLOSE_CODES.WRONG_ENDPOINT, 'wrong endpoint');
        }
        conn = { socket: ws, clientId: p.clientId as string, endpoint, topics: new Set() };
        this.open.add(conn);
        return ws.send(resultFrame(frame.id, { clientId: p.clientId, role }));
      }
      const checked = checkParams(endpoint, frame.method, frame.params);
      if (!checked.ok) return ws.send(errorFrame(frame.id, checked.error));
      const params = checked.params as Record<string, unknown>;
      this.requests.push({ method: frame.method, params, id: frame.id });
      let answer =
        (await this.hook?.(checked.method, params, conn)) ?? (await this.#handle(checked.method, params, conn));
      if ('dropAfterEffect' in answer) {
        await this.#handle(checked.method, params, conn);
        answer = { drop: true };
      }
      if ('drop' in answer) return ws.terminate();
      if ('silence' in answer) return;
      if (ws.readyState !== ws.OPEN) return;
      ws.send('result' in answer ? resultFrame(frame.id, answer.result) : errorFrame(frame.id, answer.error));
    });
  }

  async #handle(method: MethodName, params: Record<string, unknown>, conn: FakeConnection): Promise<Answer> {
    const handler = this.handlers.get(method);
    if (!handler) return { error: { code: JSONRPC_ERRORS.METHOD_NOT_FOUND, message: `not in the fake: ${method}` } };
    const key = params.idempotencyKey;
    if (typeof key !== 'string') return handler(params, conn);
    const scoped = `${conn.clientId}\u0000${key}`;
    const { idempotencyKey: _, ...rest } = params;
    const fingerprint = `${method}\u0000${JSON.stringify(rest)}`;
    const seen = this.#outcomes.get(scoped);
    if (seen) {
      if (seen.fingerprint !== fingerprint)
        return { error: applicationError('IDEMPOTENCY_CONFLICT', 'the key was used with other params') };
      return seen.answer;
    }
    const answer = await handler(params, conn);
    if ('result' in answer || 'error' in answer) this.#outcomes.set(scoped, { fingerprint, answer });
    return answer;
  }

  /** Counts an effect of `key` (the handlers of money-moving methods call it). */
  effect(key: unknown): void {
    this.effects.set(String(key), (this.effects.get(String(key)) ?? 0) + 1);
  }

  #defaults(): void {
    const error = (code: WireErrorCode, message: string): Answer => ({ error: applicationError(code, message) });
    this.handlers.set('customers.topUpPhoneAccount', (p) => {
      const msisdn = p.msisdn as string;
      const balance = this.accounts.get(msisdn);
      if (balance === undefined) return error('UNKNOWN_CUSTOMER', `no customer ${msisdn}`);
      this.effect(p.idempotencyKey);
      this.accounts.set(msisdn, balance + (p.amount as number));
      return { result: { balance: balance + (p.amount as number) } };
    });
    this.handlers.set('customers.phoneAccount', (p) => {
      const balance = this.accounts.get(p.msisdn as string);
      if (balance === undefined) return error('UNKNOWN_CUSTOMER', 'no customer');
      return { result: { balance, available: balance } };
    });
    this.handlers.set('wallet.authorizeLoad', (p) => {
      if ((p.mac1 as string).toUpperCase() === '00000000')
        return error('BAD_MAC1', "the load's MAC1 is not the card's");
      const funding = p.funding as { source: string; msisdn?: string };
      if (funding.source === 'phoneAccount') {
        const balance = this.accounts.get(funding.msisdn!) ?? 0;
        if (balance < (p.amount as number)) return error('INSUFFICIENT_FUNDS', 'not enough in the phone account');
        this.accounts.set(funding.msisdn!, balance - (p.amount as number));
      }
      this.effect(p.idempotencyKey);
      return { result: { loadId: `load-${p.idempotencyKey}`, mac2: '5E7A0C92' } };
    });
    this.handlers.set('clearing.submitBatch', (p) => {
      this.effect(p.idempotencyKey);
      const records = p.records as { amount: number }[];
      const settled = records.reduce((s, r) => s + r.amount, 0);
      return {
        result: { accepted: records.length, settled, points: Math.floor(settled / 100), rejected: [], gaps: [] },
      };
    });
    this.handlers.set('wallet.float', () => ({ result: { balance: 5000 } }));
    this.handlers.set('merchants.balance', () => ({ result: { payable: 1250 } }));
    this.handlers.set('cards.get', (p) => ({
      result: { cardSerial: p.cardSerial, msisdn: '13800138001', iccid: '8986004401202600010F', status: 'active' },
    }));
    this.handlers.set('cards.reportLost', () => ({ result: { status: 'lost', blacklistVersion: 1 } }));
    this.handlers.set('events.subscribe', (p, conn) => {
      for (const t of p.topics as string[]) conn.topics.add(t);
      return { result: { topics: [...conn.topics] } };
    });
    this.handlers.set('ledger.verify', () => ({
      result: { ok: true, accounts: 3, sum: 0, journalHead: '0'.repeat(64), entries: 0 },
    }));
  }
}

/**
 * A TCP proxy on 127.0.0.1 in front of a server, whose connections the test cuts at chosen moments: an answer the
 * server sent after its commit is then lost on the way, as on a real network.
 */
export class CuttableProxy {
  /** `ws://127.0.0.1:port`. */
  url = '';
  /** Connections cut so far. */
  cuts = 0;
  readonly #pairs = new Set<[Socket, Socket]>();
  readonly #server: TcpServer;

  private constructor(target: { host: string; port: number }) {
    this.#server = createTcpServer((down) => {
      const up = connect(target.port, target.host);
      const pair: [Socket, Socket] = [down, up];
      this.#pairs.add(pair);
      const end = () => {
        this.#pairs.delete(pair);
        down.destroy();
        up.destroy();
      };
      down.on('error', end).on('close', end);
      up.on('error', end).on('close', end);
      down.pipe(up);
      up.pipe(down);
    });
  }

  /** Starts a proxy to `target` (`ws://host:port`). */
  static async start(target: string): Promise<CuttableProxy> {
    const u = new URL(target);
    const proxy = new CuttableProxy({ host: u.hostname, port: Number(u.port) });
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', () => resolve()));
    proxy.url = `ws://127.0.0.1:${(proxy.#server.address() as AddressInfo).port}`;
    return proxy;
  }

  /** Cuts every connection at once (both sides see a reset). */
  cut(): void {
    for (const [down, up] of this.#pairs) {
      this.cuts++;
      down.resetAndDestroy();
      up.resetAndDestroy();
    }
    this.#pairs.clear();
  }

  /** Stops the proxy. */
  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 2 ms until it holds; throws after `ms`. */
export async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(2);
  }
}
