/**
 * What the server tests share: a server over a fresh in-memory platform (the reference profile) on 127.0.0.1 with a
 * free port, and a raw `ws` client speaking JSON-RPC frames by hand (no SDK client), which authenticates with the
 * profile's secrets, keeps every frame it got, and waits for answers, notifications and the close code.
 */
import { requestFrame, SUBPROTOCOL, sessionProof } from '@simtap/sdk/wire';
import WebSocket from 'ws';
import type { Platform } from '../platform';
import { profile, testPlatform } from '../platform/platform.test-support';
import type { ServerLogger } from './connection';
import type { ServerLimits } from './limits';
import { createPlatformServer, type PlatformServer } from './server';

export const APP = 'mart-1';
export const OPERATOR = 'operator-1';

/** A frame as the client got it. */
export interface Got {
  readonly jsonrpc: '2.0';
  readonly id?: string | number | null;
  readonly method?: string;
  readonly params?: Record<string, unknown>;
  readonly result?: Record<string, unknown>;
  readonly error?: { code: number; message: string; data?: { code: string } };
}

/** Log lines kept in memory. */
export class MemoryLogger implements ServerLogger {
  readonly lines: Array<{ level: string; msg: string | undefined; obj: Record<string, unknown> }> = [];
  info(obj: object, msg?: string) {
    this.lines.push({ level: 'info', msg, obj: obj as Record<string, unknown> });
  }
  debug(obj: object, msg?: string) {
    this.lines.push({ level: 'debug', msg, obj: obj as Record<string, unknown> });
  }
  warn(obj: object, msg?: string) {
    this.lines.push({ level: 'warn', msg, obj: obj as Record<string, unknown> });
  }
  error(obj: object, msg?: string) {
    this.lines.push({ level: 'error', msg, obj: obj as Record<string, unknown> });
  }
}

/** A started server over a fresh platform. */
export interface TestServer {
  readonly platform: Platform;
  readonly server: PlatformServer;
  readonly url: string;
  readonly logger: MemoryLogger;
  /** Closes the server (if not yet) and the platform. */
  stop(): Promise<void>;
}

/** Starts a server on a free port; `wrap` may replace parts of the platform (slow or big answers). */
export async function startServer(
  o: { limits?: Partial<ServerLimits>; wrap?: (p: Platform) => Platform; tls?: { key: string; cert: string } } = {},
): Promise<TestServer> {
  const { platform } = await testPlatform();
  const logger = new MemoryLogger();
  const server = createPlatformServer({
    platform: o.wrap ? o.wrap(platform) : platform,
    clients: profile.platform.clients,
    port: 0,
    logger,
    ...(o.limits ? { limits: o.limits } : {}),
    ...(o.tls ? { tls: o.tls } : {}),
  });
  const { url } = await server.listen();
  return {
    platform,
    server,
    url,
    logger,
    async stop() {
      await server.close();
      await platform.close();
    },
  };
}

/** `target` with `overrides` on top; every other method still runs on `target` (private fields need it). */
export function override<T extends object>(target: T, overrides: Partial<Record<keyof T, unknown>>): T {
  return new Proxy(target, {
    get(t, prop, receiver) {
      if (Object.hasOwn(overrides, prop)) return overrides[prop as keyof T];
      const v: unknown = Reflect.get(t, prop, receiver);
      return typeof v === 'function' ? v.bind(t) : v;
    },
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A raw WebSocket client: frames in, frames out. */
export class RawClient {
  readonly ws: WebSocket;
  readonly frames: Got[] = [];
  readonly opened: Promise<void>;
  /** The close code and reason, once closed. */
  readonly closed: Promise<{ code: number; reason: string }>;
  #nextId = 1;
  #waiters: Array<{ test: (g: Got) => boolean; resolve: (g: Got) => void }> = [];

  constructor(url: string, options: WebSocket.ClientOptions & { protocols?: string[] } = {}) {
    const { protocols = [SUBPROTOCOL], ...rest } = options;
    this.ws = new WebSocket(url, protocols, rest);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    this.ws.on('error', () => {});
    this.ws.on('message', (data) => {
      const g = JSON.parse(data.toString()) as Got;
      this.frames.push(g);
      const i = this.#waiters.findIndex((w) => w.test(g));
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(g);
    });
  }

  /** Connects to `base + path` and waits for the upgrade. */
  static async open(base: string, path: string, options?: WebSocket.ClientOptions & { protocols?: string[] }) {
    const c = new RawClient(base + path, options);
    await c.opened;
    return c;
  }

  /** Connects and authenticates as `clientId` (the profile's secret) on `path`. */
  static async session(base: string, path: string, clientId: string, options?: WebSocket.ClientOptions) {
    const c = await RawClient.open(base, path, options);
    const r = await c.authenticate(clientId, path);
    if (!r.result) throw new Error(`authentication failed: ${JSON.stringify(r.error)}`);
    return c;
  }

  /** The first frame (already got or coming) that passes `test`. */
  wait(test: (g: Got) => boolean, timeoutMs = 5_000): Promise<Got> {
    const had = this.frames.find(test);
    if (had) return Promise.resolve(had);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for a frame')), timeoutMs);
      this.#waiters.push({
        test,
        resolve: (g) => {
          clearTimeout(timer);
          resolve(g);
        },
      });
    });
  }

  /** The challenge's nonce. */
  async nonce(): Promise<Buffer> {
    const c = await this.wait((g) => g.method === 'session.challenge');
    return Buffer.from(String(c.params!.nonce), 'hex');
  }

  /** Answers the challenge as `clientId` with its profile secret, over `path` (or `secret`/`path` given). */
  async authenticate(clientId: string, path: string, secret?: Uint8Array): Promise<Got> {
    const nonce = await this.nonce();
    const s = secret ?? profile.platform.clients.find((c) => c.id === clientId)?.secret ?? new Uint8Array(32);
    return this.call('session.authenticate', { clientId, proof: sessionProof(s, nonce, path) });
  }

  /** Sends a raw text frame. */
  sendRaw(text: string | Buffer): void {
    this.ws.send(text);
  }

  /** Sends a request and waits for its answer. */
  call(method: string, params?: unknown, timeoutMs?: number): Promise<Got> {
    const id = this.#nextId++;
    this.ws.send(requestFrame(id, method, params));
    return this.wait((g) => g.id === id && ('result' in g || 'error' in g), timeoutMs);
  }

  /** Sends a request without waiting; answers its id. */
  send(method: string, params?: unknown): number {
    const id = this.#nextId++;
    this.ws.send(requestFrame(id, method, params));
    return id;
  }

  close(): void {
    this.ws.close();
  }
}
