/**
 * A tiny `simtap.v1` client made of raw JSON-RPC frames over `ws` — no SDK: the frames are written by hand, the
 * session proof is `HMAC-SHA256(secret, nonce ‖ ASCII(path))` with `node:crypto`, and every frame the server sends is
 * kept as it came. Only the profile's client secrets come from the SDK's reference profile.
 */
import { createHmac } from 'node:crypto';
import { referenceProfile } from '@simtap/sdk/core/profile';
import WebSocket from 'ws';

export const SUBPROTOCOL = 'simtap.v1';
export const APP = '/v1/app';
export const CONSOLE = '/v1/console';

/** A JSON-RPC error object as the server sent it. */
export interface RpcError {
  readonly code: number;
  readonly message: string;
  readonly data?: { readonly code?: string; readonly [k: string]: unknown };
}

/** A frame as the client got it. */
export interface Frame {
  readonly jsonrpc: string;
  readonly id?: string | number | null;
  readonly method?: string;
  readonly params?: Record<string, unknown>;
  readonly result?: unknown;
  readonly error?: RpcError;
}

/** The profile's clients: id → { secret, role }. */
export const CLIENTS: ReadonlyMap<string, { readonly secret: Buffer; readonly role: string }> = new Map(
  referenceProfile().platform.clients.map((c) => [c.id, { secret: Buffer.from(c.secret), role: c.role }]),
);

/** The secret of the profile's client `id`. */
export function secretOf(id: string): Buffer {
  const c = CLIENTS.get(id);
  if (!c) throw new Error(`no client ${id} in the profile`);
  return c.secret;
}

/** `hex(HMAC-SHA256(key = secret, message = nonce ‖ ASCII(path)))`. */
export function sessionProof(secret: Uint8Array, nonceHex: string, path: string): string {
  return createHmac('sha256', secret)
    .update(Buffer.from(nonceHex, 'hex'))
    .update(Buffer.from(path, 'ascii'))
    .digest('hex');
}

/** A raw WebSocket connection to one endpoint. */
export class RawClient {
  readonly ws: WebSocket;
  readonly path: string;
  /** Every frame received, in order (responses included). */
  readonly frames: Frame[] = [];
  /** Frames that were not JSON (there should be none). */
  readonly garbage: string[] = [];
  readonly opened: Promise<void>;
  /** The close code and reason once the connection closed. */
  readonly closed: Promise<{ code: number; reason: string }>;
  #nextId = 1;
  readonly #responses = new Map<string | number | null, Frame[]>();
  readonly #responseWaiters = new Map<string | number | null, (f: Frame) => void>();
  readonly #waiters: Array<{ test: (f: Frame) => boolean; resolve: (f: Frame) => void }> = [];

  constructor(base: string, path: string, o: { protocols?: string[]; headers?: Record<string, string> } = {}) {
    this.path = path;
    this.ws = new WebSocket(base + path, o.protocols ?? [SUBPROTOCOL], {
      perMessageDeflate: false,
      maxPayload: 64 * 1024 * 1024,
      ...(o.headers ? { headers: o.headers } : {}),
    });
    this.opened = new Promise((ok, fail) => {
      this.ws.once('open', () => ok());
      this.ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString('utf8')));
        res.on('end', () =>
          fail(Object.assign(new Error(`HTTP ${res.statusCode}: ${body.trim()}`), { status: res.statusCode, body })),
        );
      });
      this.ws.once('error', fail);
    });
    this.opened.catch(() => {});
    this.closed = new Promise((ok) => this.ws.on('close', (code, reason) => ok({ code, reason: reason.toString() })));
    this.ws.on('error', () => {});
    this.ws.on('message', (data, isBinary) => {
      const text = isBinary ? `<binary ${String(data)}>` : data.toString();
      let f: Frame;
      try {
        f = JSON.parse(text) as Frame;
      } catch {
        this.garbage.push(text);
        return;
      }
      this.frames.push(f);
      if ('result' in f || 'error' in f) {
        const id = f.id ?? null;
        const w = this.#responseWaiters.get(id);
        if (w) {
          this.#responseWaiters.delete(id);
          w(f);
        } else {
          const list = this.#responses.get(id) ?? [];
          list.push(f);
          this.#responses.set(id, list);
        }
      }
      const i = this.#waiters.findIndex((w) => w.test(f));
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(f);
    });
  }

  /** Connects to `base + path` and waits for the upgrade. */
  static async open(base: string, path: string, o?: { protocols?: string[] }): Promise<RawClient> {
    const c = new RawClient(base, path, o);
    await c.opened;
    return c;
  }

  /** Connects and authenticates as `clientId` with its profile secret (fails unless the server accepts). */
  static async session(base: string, path: string, clientId: string): Promise<RawClient> {
    const c = await RawClient.open(base, path);
    const r = await c.authenticate(clientId);
    if (r.error) throw new Error(`authentication of ${clientId} on ${path} failed: ${JSON.stringify(r.error)}`);
    return c;
  }

  /** The first frame (already received or coming) that passes `test`. */
  wait(test: (f: Frame) => boolean, timeoutMs = 10_000): Promise<Frame> {
    const had = this.frames.find(test);
    if (had) return Promise.resolve(had);
    return new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`no such frame within ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push({
        test,
        resolve: (f) => {
          clearTimeout(timer);
          ok(f);
        },
      });
    });
  }

  /** The nonce of `session.challenge` (hex as sent). */
  async nonce(): Promise<string> {
    const f = await this.wait((g) => g.method === 'session.challenge');
    return String(f.params?.nonce);
  }

  /** Answers the challenge as `clientId` (its profile secret unless `secret` is given), for this endpoint's path. */
  async authenticate(clientId: string, secret?: Uint8Array, path = this.path): Promise<Frame> {
    const nonce = await this.nonce();
    const key = secret ?? CLIENTS.get(clientId)?.secret ?? Buffer.alloc(32);
    return this.call('session.authenticate', { clientId, proof: sessionProof(key, nonce, path) });
  }

  /** Sends a text frame as is. */
  sendRaw(text: string | Buffer): void {
    this.ws.send(text, { binary: false });
  }

  /** Sends a request without waiting; answers its id. */
  send(method: string, params?: unknown, id: string | number = this.#nextId++): string | number {
    this.ws.send(
      JSON.stringify(params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params }),
    );
    return id;
  }

  /** The response to request `id` (received or coming). */
  response(id: string | number | null, timeoutMs = 10_000): Promise<Frame> {
    const list = this.#responses.get(id);
    if (list && list.length > 0) {
      const f = list.shift()!;
      if (list.length === 0) this.#responses.delete(id);
      return Promise.resolve(f);
    }
    return new Promise((ok, fail) => {
      const timer = setTimeout(() => {
        this.#responseWaiters.delete(id);
        fail(new Error(`no response to ${String(id)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#responseWaiters.set(id, (f) => {
        clearTimeout(timer);
        ok(f);
      });
    });
  }

  /** Sends a request and waits for its response frame. */
  call(method: string, params?: unknown, timeoutMs?: number): Promise<Frame> {
    return this.response(this.send(method, params), timeoutMs);
  }

  /** The result of a call that must succeed. */
  async result<T = Record<string, unknown>>(method: string, params?: unknown): Promise<T> {
    const f = await this.call(method, params);
    if (f.error || !('result' in f))
      throw new Error(`${method} ${JSON.stringify(params)} failed: ${JSON.stringify(f.error)}`);
    return f.result as T;
  }

  /** The error of a call that must fail. */
  async error(method: string, params?: unknown): Promise<RpcError> {
    const f = await this.call(method, params);
    if (!f.error) throw new Error(`${method} ${JSON.stringify(params)} succeeded: ${JSON.stringify(f.result)}`);
    return f.error;
  }

  close(): void {
    this.ws.close();
  }
}
