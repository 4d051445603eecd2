/**
 * The `simtap.v1` server: Node's http (or https) server with `ws` in `noServer` mode. An upgrade is accepted only on
 * `/v1/app`, `/v1/console` or `/v1/ota` (else HTTP 404) and only when it offers the `simtap.v1` subprotocol (else
 * HTTP 400); no socket is kept for a refused one. Frames over `MAX_FRAME_BYTES` (1 MiB) close the connection with
 * 1009. Heartbeats ping every peer and drop the ones that miss a pong. `close()` shuts down gracefully. Plain HTTP
 * GETs of `/console/` get the operator console's page (its files only; the page authenticates over `/v1/console`
 * like any operator client).
 * @module
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ArgumentError } from '@simtap/sdk/core/errors';
import { ENDPOINT_PATHS, type Endpoint, MAX_FRAME_BYTES, SUBPROTOCOL } from '@simtap/sdk/wire';
import { WebSocketServer } from 'ws';
import type { OtaBus } from '../ota/bus';
import { PhoneConnection, type PhoneConnectionHost } from '../ota/phone-connection';
import { OtaService } from '../ota/service';
import { PLATFORM_CLIENT, type Platform } from '../platform';
import {
  Connection,
  type ConnectionHost,
  type ConnectionInfo,
  type ServerClient,
  type ServerLogger,
} from './connection';
import { CONSOLE_HEADERS, CONSOLE_PATH, type ConsoleAssets, loadConsoleAssets } from './console-assets';
import { ConsoleFeed } from './console-feed';
import { EventHub } from './events';
import { resolveLimits, type ServerLimits } from './limits';

/** Default listen host (`simtap.v1`). */
export const DEFAULT_HOST = '127.0.0.1';
/** Default listen port (`simtap.v1`). */
export const DEFAULT_PORT = 7800;

/** Options of {@link createPlatformServer}. */
export interface PlatformServerOptions {
  /** The platform core the methods run on. The server does not close it. */
  readonly platform: Platform;
  /** Who may connect: the profile's `platform.clients` fit (their secrets are copied). */
  readonly clients: readonly ServerClient[];
  /** Default `127.0.0.1`. */
  readonly host?: string;
  /** Default 7800; 0 picks a free port (see what `listen()` answers). */
  readonly port?: number;
  /** Serve `wss://` with this key and certificate (PEM). */
  readonly tls?: { readonly key: string | Buffer; readonly cert: string | Buffer };
  /** Overrides of {@link DEFAULT_LIMITS}. */
  readonly limits?: Partial<ServerLimits>;
  /** Where to log (a pino logger fits); default nowhere. */
  readonly logger?: ServerLogger;
  /**
   * How this server reaches the phones connected to other instances on the same database (PostgreSQL:
   * `PostgresOtaBus`); default: this process only. The server does not close it.
   */
  readonly otaBus?: OtaBus;
  /**
   * The operator console's page at `/console/` (default: served, from the host's build in `dist/console`).
   * `false`: not served (404); `{ dir }`: its files from another folder.
   */
  readonly console?: boolean | { readonly dir: string };
  /** Options of the over-the-air service (`/v1/ota`). */
  readonly ota?: {
    /** How long `wallet.airTopUp` waits for the card before it answers `pending`. Default 10 000 ms. */
    readonly airTopUpWaitMs?: number;
    /** How long a phone may take to answer one card command. Default 10 000 ms. */
    readonly cardTimeoutMs?: number;
    /** How long other instances have to say they hold a card's phone. Default 500 ms. */
    readonly acceptWaitMs?: number;
  };
}

/** Where a server listens. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
  /** `ws://host:port` or `wss://host:port` (append an endpoint path). */
  readonly url: string;
}

/** A `simtap.v1` server. */
export interface PlatformServer {
  /** Starts listening; resolves with the address (the port chosen when `port` was 0). */
  listen(): Promise<ListenAddress>;
  /**
   * Shuts down gracefully: stops accepting connections, answers requests not yet started with `UNAVAILABLE`,
   * lets the ones in flight finish (at most `shutdownGraceMs`), then closes every socket with 1001. Repeated
   * calls return the same promise. The platform stays open: its owner closes it.
   */
  close(): Promise<void>;
  /** The open connections. */
  readonly connections: readonly ConnectionInfo[];
  /** The limits in force. */
  readonly limits: ServerLimits;
  /** The over-the-air service of `/v1/ota` (phones, air top-ups). */
  readonly ota: OtaService;
  /** WebSocket messages received and sent since the start, by endpoint (for reports and monitoring). */
  readonly traffic: Readonly<Record<Endpoint, { readonly received: number; readonly sent: number }>>;
  /** The operator console's live view (`console.snapshot`). */
  readonly feed: ConsoleFeed;
  /** Whether the console's page is served at `/console/`, or why not. */
  readonly console: { readonly ok: true } | { readonly ok: false; readonly reason: string };
}

const SILENT: ServerLogger = { info() {}, debug() {}, warn() {}, error() {} };
const ENDPOINT_BY_PATH = new Map<string, Endpoint>(
  (Object.entries(ENDPOINT_PATHS) as [Endpoint, string][]).map(([e, p]) => [p, e]),
);
const STATUS_TEXT: Record<number, string> = {
  301: 'Moved Permanently',
  304: 'Not Modified',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  426: 'Upgrade Required',
  503: 'Service Unavailable',
};

/**
 * Makes a `simtap.v1` server over `platform`.
 * @example
 * const server = createPlatformServer({ platform, clients: profile.platform.clients, port: 0 });
 * const { url } = await server.listen(); // ws://127.0.0.1:…; connect to url + '/v1/app' with subprotocol simtap.v1
 * await server.close();
 */
export function createPlatformServer(options: PlatformServerOptions): PlatformServer {
  const limits = resolveLimits(options.limits);
  const logger = options.logger ?? SILENT;
  const host = options.host ?? DEFAULT_HOST;
  const port = options.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ArgumentError('port must be 0 … 65535');
  const clients = new Map<string, ServerClient>();
  for (const c of options.clients) {
    if (!(c.secret instanceof Uint8Array) || c.secret.length === 0)
      throw new ArgumentError(`client ${c.id}: secret must be bytes`);
    if (clients.has(c.id)) throw new ArgumentError(`client ${c.id} is listed twice`);
    clients.set(c.id, Object.freeze({ id: c.id, role: c.role, secret: Uint8Array.from(c.secret) }));
  }
  const connections = new Set<Connection | PhoneConnection>();
  const work = new Set<Promise<unknown>>();
  let closing: Promise<void> | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  const hub = new EventHub();
  const feed = new ConsoleFeed();
  hub.add(feed);
  const consolePage: ConsoleAssets | undefined =
    options.console === false
      ? undefined
      : loadConsoleAssets(typeof options.console === 'object' ? options.console.dir : undefined);
  if (consolePage && !consolePage.ok) logger.warn({ reason: consolePage.reason }, 'the operator console is not served');
  const ota = new OtaService({
    platform: options.platform,
    ...(options.otaBus ? { bus: options.otaBus } : {}),
    logger,
    ...(options.ota?.airTopUpWaitMs === undefined ? {} : { airTopUpWaitMs: options.ota.airTopUpWaitMs }),
    ...(options.ota?.acceptWaitMs === undefined ? {} : { acceptWaitMs: options.ota.acceptWaitMs }),
    onLoad: (e) =>
      hub.publish({ name: 'event.load', params: { ...e, at: Date.now(), air: true }, origin: PLATFORM_CLIENT }),
  });
  const track = (p: Promise<unknown>) => {
    work.add(p);
    const done = () => work.delete(p);
    p.then(done, done);
  };

  const traffic: Record<Endpoint, { received: number; sent: number }> = {
    app: { received: 0, sent: 0 },
    console: { received: 0, sent: 0 },
    ota: { received: 0, sent: 0 },
  };
  const connectionHost: ConnectionHost = {
    feed,
    view: {
      connections() {
        const n = { app: 0, console: 0, ota: 0 };
        for (const c of connections) n[c.info.endpoint]++;
        return n;
      },
      traffic: () => ({
        app: { ...traffic.app },
        console: { ...traffic.console },
        ota: { ...traffic.ota },
      }),
    },
    sent: (endpoint) => void traffic[endpoint].sent++,
    platform: options.platform,
    clients,
    limits,
    logger,
    debug: logger.isLevelEnabled?.('debug') ?? true,
    hub,
    ota,
    closing: () => closing !== undefined,
    track,
    closed(c) {
      connections.delete(c);
    },
  };
  const phoneHost: PhoneConnectionHost = {
    sent: () => void traffic.ota.sent++,
    limits,
    logger,
    cardTimeoutMs: options.ota?.cardTimeoutMs ?? 10_000,
    closing: () => closing !== undefined,
    track,
    closed(c) {
      connections.delete(c);
    },
    hello: (link, params) => ota.hello(link, params),
    topUp: (link, params) => ota.topUp(link, params),
    gone: (link) => ota.gone(link),
  };

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME_BYTES,
    perMessageDeflate: false,
    clientTracking: false,
    handleProtocols: () => SUBPROTOCOL,
  });

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const path = pathOf(req.url);
    if (consolePage && (path === '/console' || path.startsWith(CONSOLE_PATH))) {
      serveConsole(consolePage, path, req, res);
      return;
    }
    const known = ENDPOINT_BY_PATH.has(path);
    const status = known ? 426 : 404;
    const body = known
      ? `${SUBPROTOCOL}: open a WebSocket with the subprotocol ${SUBPROTOCOL}\n`
      : `not found; the endpoints are ${[...ENDPOINT_BY_PATH.keys()].join(', ')}` +
        `${consolePage?.ok ? `, and the operator console is at ${CONSOLE_PATH}` : ''}\n`;
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...(known ? { upgrade: 'websocket' } : {}) });
    res.end(body);
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    if (closing !== undefined) {
      refuse(socket, 503, 'the server is shutting down');
      return;
    }
    const endpoint = ENDPOINT_BY_PATH.get(pathOf(req.url));
    if (endpoint === undefined) {
      refuse(socket, 404, `no endpoint ${pathOf(req.url).slice(0, 100)}`);
      return;
    }
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((s) => s.trim());
    if (!offered.includes(SUBPROTOCOL)) {
      refuse(socket, 400, `the subprotocol ${SUBPROTOCOL} is required`);
      return;
    }
    const s = req.socket as Socket;
    const remote = `${s.remoteAddress ?? '?'}:${s.remotePort ?? '?'}`;
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (closing !== undefined) {
        ws.close(1001, 'server shutting down');
        return;
      }
      ws.on('message', () => void traffic[endpoint].received++);
      connections.add(
        endpoint === 'ota'
          ? new PhoneConnection(phoneHost, ws, remote)
          : new Connection(connectionHost, ws, endpoint, remote),
      );
    });
  };

  // Slow-loris upgrades: a request's headers must arrive within 10 s. Node checks these timeouts every
  // `connectionsCheckingInterval` (30 s by default, which let a stalled upgrade live up to 40 s): every second here.
  const http = { headersTimeout: 10_000, requestTimeout: 15_000, connectionsCheckingInterval: 1_000 };
  const server: Server = options.tls
    ? createHttpsServer({ ...http, key: options.tls.key, cert: options.tls.cert }, onRequest)
    : createHttpServer(http, onRequest);
  server.maxConnections = limits.maxConnections;
  server.on('upgrade', onUpgrade);
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
    socket.destroy();
  });
  const scheme = options.tls ? 'wss' : 'ws';

  return {
    limits,
    ota,
    traffic,
    feed,
    console:
      consolePage === undefined
        ? { ok: false, reason: 'turned off (console: false)' }
        : consolePage.ok
          ? { ok: true }
          : { ok: false, reason: consolePage.reason },
    get connections() {
      return [...connections].map((c) => c.info);
    },
    listen() {
      return new Promise<ListenAddress>((resolve, reject) => {
        const onError = (e: Error) => reject(e);
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          const a = server.address() as AddressInfo;
          heartbeat = setInterval(() => {
            for (const c of connections) c.heartbeat();
          }, limits.heartbeatMs);
          heartbeat.unref();
          const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
          logger.info({ host: a.address, port: a.port, tls: options.tls !== undefined }, 'listening');
          resolve({ host: a.address, port: a.port, url: `${scheme}://${h}:${a.port}` });
        });
      });
    },
    close() {
      closing ??= (async () => {
        logger.info({ connections: connections.size, inFlight: work.size }, 'shutting down');
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const c of connections) c.refuseQueued();
        if (work.size > 0) {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([
            Promise.allSettled([...work]),
            new Promise((resolve) => {
              timer = setTimeout(resolve, limits.shutdownGraceMs);
            }),
          ]);
          clearTimeout(timer);
        }
        clearInterval(heartbeat);
        const open = [...connections];
        const gone = Promise.all(
          open.map((c) =>
            c.ws.readyState === c.ws.CLOSED ? undefined : new Promise((resolve) => c.ws.once('close', resolve)),
          ),
        );
        for (const c of open) c.close(1001, 'server shutting down');
        await gone;
        server.closeAllConnections();
        await stopped;
        await ota.close();
        wss.close();
        for (const c of clients.values()) (c.secret as Uint8Array).fill(0);
        logger.info({}, 'stopped');
      })();
      return closing;
    },
  };
}

/** Answers a GET or HEAD of the console's page or one of its files. */
function serveConsole(page: ConsoleAssets, path: string, req: IncomingMessage, res: ServerResponse): void {
  const text = (status: number, body: string, extra: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...CONSOLE_HEADERS, ...extra });
    res.end(req.method === 'HEAD' ? undefined : `${body}\n`);
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    text(405, `${req.method} is not allowed here: the console's files are read with GET`, { allow: 'GET, HEAD' });
    return;
  }
  if (path === '/console') {
    text(301, `the console is at ${CONSOLE_PATH}`, { location: CONSOLE_PATH });
    return;
  }
  if (!page.ok) {
    text(503, page.reason);
    return;
  }
  const file = page.files.get(path);
  if (file === undefined) {
    text(404, `the console has no file ${path.slice(0, 100)}`);
    return;
  }
  const headers = {
    ...CONSOLE_HEADERS,
    'content-type': file.type,
    etag: file.etag,
    // The page is small and changes with each build: always asked again, answered 304 when unchanged.
    'cache-control': 'no-cache',
  };
  if (req.headers['if-none-match'] === file.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': String(file.body.length) });
  res.end(req.method === 'HEAD' ? undefined : file.body);
}

function pathOf(url: string | undefined): string {
  const q = (url ?? '/').indexOf('?');
  return q < 0 ? (url ?? '/') : (url ?? '/').slice(0, q);
}

function refuse(socket: Duplex, status: number, message: string): void {
  const body = `${message}\n`;
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
