/**
 * The console's session on `/v1/console`: one WebSocket (subprotocol `simtap.v1`) carrying JSON-RPC 2.0, the
 * challenge–proof login, the event subscription, and the reconnection after a drop.
 *
 * The operator secret lives only as a non-extractable `CryptoKey` (WebCrypto HMAC-SHA-256, usage `sign`) held in
 * this object, so that a reconnection can prove it again; it is never written to storage, the URL or the DOM, and
 * {@link Session.end} drops it.
 *
 * Handshake: right after the upgrade the server sends `session.challenge {nonce}`; the client answers
 * `session.authenticate {clientId, proof}` with `proof = HMAC-SHA-256(secret, nonce ‖ ASCII("/v1/console"))` in hex,
 * then `events.subscribe`. A wrong proof is `BAD_PROOF` and close 4401, a client that is not an operator `FORBIDDEN`
 * and close 4403: both end the session. Any other close after a successful login is a drop: the session reconnects
 * with backoff (0.5, 1, 2, 4, then 5 s, ±10 % jitter) and logs in again with the held key.
 * @module
 */

/** The endpoint's path: part of the proof, so a proof for another endpoint does not log in here. */
export const CONSOLE_PATH = '/v1/console';
/** The WebSocket subprotocol. */
export const SUBPROTOCOL = 'simtap.v1';
/** The topics the console listens to. */
const TOPICS = ['loads', 'cards', 'clearing', 'taps'] as const;
/** Every request is answered within this or rejected. */
export const REQUEST_TIMEOUT_MS = 10_000;
/** Reconnection delays, ms, by attempt; the last one repeats. */
const BACKOFF_MS = [500, 1000, 2000, 4000, 5000] as const;
const MAX_BACKOFF_MS = 5000;

/** JSON-RPC's application error code: `data.code` names the error. */
const APPLICATION_ERROR = -32000;

/** What the header shows: connecting (first login), open (live), lost (reconnecting), closed (logged out). */
export type ConnState = 'connecting' | 'open' | 'lost' | 'closed';

/** A failed call: a JSON-RPC error of the server, or a local one (`TIMEOUT`, `DISCONNECTED`). */
export class RpcError extends Error {
  /** The JSON-RPC error code (-32000 application, -32602 invalid params, …); 0 for a local error. */
  readonly code: number;
  /** The application error's name (`BAD_PROOF`, `CARD_STATE`, …) or the local one. */
  readonly dataCode: string | undefined;
  constructor(message: string, code: number, dataCode?: string) {
    super(message);
    this.name = 'RpcError';
    this.code = code;
    this.dataCode = dataCode;
  }

  /** `CODE: message`, for the screen. */
  describe(): string {
    return this.dataCode === undefined ? this.message : `${this.dataCode}: ${this.message}`;
  }
}

/** What a session tells the page. */
export interface SessionHooks {
  /** The connection state changed (or its text: the reconnect countdown); `detail` says why, if known. */
  state(state: ConnState, text: string, detail?: string): void;
  /** Logged in and subscribed: the first time and after every reconnection. Pages fetch their data again. */
  ready(): void;
  /** The session is over and its key dropped; `reason` is empty for a log out. */
  ended(reason: string): void;
  /** A server notification (`event.*`). */
  notification(method: string, params: unknown): void;
}

interface Pending {
  readonly method: string;
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: RpcError) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/**
 * Imports the operator secret (64 hex digits) as a non-extractable HMAC-SHA-256 key. The decoded bytes are wiped once
 * WebCrypto holds them; the caller clears the input it read the hex from.
 * @throws Error when WebCrypto is missing (not a secure context) or the secret is not 64 hex digits.
 */
export async function importSecret(hex: string): Promise<CryptoKey> {
  if (globalThis.crypto?.subtle === undefined) throw new Error(INSECURE_CONTEXT);
  const compact = hex.replace(/\s+/g, '');
  if (!/^[0-9A-Fa-f]{64}$/.test(compact)) throw new Error('the operator secret is 64 hex digits (0-9, A-F)');
  const bytes = fromHex(compact);
  try {
    return await crypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  } finally {
    bytes.fill(0);
  }
}

/** Shown when `crypto.subtle` is missing: browsers only give it to secure contexts. */
export const INSECURE_CONTEXT =
  'the console needs a secure context: open it on localhost/127.0.0.1 or serve it over https (simtap-host --tls-key … --tls-cert …)';

/** `session.authenticate`'s proof: HMAC-SHA-256(key, nonce ‖ ASCII(path)), uppercase hex. */
export async function sessionProof(key: CryptoKey, nonceHex: string, path: string = CONSOLE_PATH): Promise<string> {
  const nonce = fromHex(nonceHex);
  const message = new Uint8Array(nonce.length + path.length);
  message.set(nonce);
  message.set(new TextEncoder().encode(path), nonce.length);
  return toHex(new Uint8Array(await crypto.subtle.sign('HMAC', key, message)));
}

/** A session on `url`. Make one per login; {@link Session.end} finishes it for good. */
export class Session {
  readonly clientId: string;
  readonly #url: string;
  readonly #hooks: SessionHooks;
  #key: CryptoKey | undefined;
  #ws: WebSocket | undefined;
  /** The current socket has logged in and subscribed. */
  #ready = false;
  /** Logged in once: a drop from now on reconnects instead of ending the session. */
  #loggedIn = false;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  #attempt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #countdownTimer: ReturnType<typeof setInterval> | undefined;

  constructor(url: string, clientId: string, key: CryptoKey, hooks: SessionHooks) {
    this.#url = url;
    this.clientId = clientId;
    this.#key = key;
    this.#hooks = hooks;
    hooks.state('connecting', 'connecting…');
    this.#connect();
  }

  /** True while logged in on an open socket. */
  get ready(): boolean {
    return this.#ready;
  }

  /**
   * Calls `method`. Rejects with {@link RpcError}: the server's error, `TIMEOUT` after {@link REQUEST_TIMEOUT_MS},
   * `DISCONNECTED` when not logged in or when the socket drops before the answer.
   */
  call<T>(method: string, params: object = {}): Promise<T> {
    if (!this.#ready || this.#ws === undefined)
      return Promise.reject(new RpcError('not connected to the platform', 0, 'DISCONNECTED'));
    return this.#request<T>(this.#ws, method, params);
  }

  /** Ends the session: drops the key, closes the socket, stops reconnecting. `reason` empty: the operator logged out. */
  end(reason = ''): void {
    if (this.#key === undefined) return;
    this.#key = undefined;
    this.#ready = false;
    this.#stopRetry();
    const ws = this.#ws;
    this.#ws = undefined;
    if (ws !== undefined && ws.readyState <= WebSocket.OPEN) ws.close(1000, 'logged out');
    this.#rejectAll(reason === '' ? 'logged out' : reason);
    this.#hooks.state('closed', 'logged out');
    this.#hooks.ended(reason);
  }

  // ---------------------------------------------------------------- socket

  #connect(): void {
    const ws = new WebSocket(this.#url, SUBPROTOCOL);
    this.#ws = ws;
    ws.onmessage = (e) => this.#onMessage(ws, e.data);
    ws.onclose = (e) => this.#onClose(ws, e.code, e.reason);
    // An error event is always followed by close, which decides what happens.
  }

  #onMessage(ws: WebSocket, data: unknown): void {
    if (ws !== this.#ws || typeof data !== 'string') return;
    let msg: { id?: unknown; method?: unknown; params?: unknown; result?: unknown; error?: unknown };
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (typeof msg.method === 'string') {
      if (msg.method === 'session.challenge') void this.#logIn(ws, (msg.params as { nonce?: unknown })?.nonce);
      else this.#hooks.notification(msg.method, msg.params);
      return;
    }
    if (typeof msg.id !== 'number') return;
    const pending = this.#pending.get(msg.id);
    if (pending === undefined) return;
    this.#pending.delete(msg.id);
    clearTimeout(pending.timer);
    if (msg.error === undefined) pending.resolve(msg.result);
    else pending.reject(toRpcError(msg.error));
  }

  /** Answers the challenge with the held key, then subscribes. */
  async #logIn(ws: WebSocket, nonce: unknown): Promise<void> {
    const key = this.#key;
    if (key === undefined || typeof nonce !== 'string') return;
    try {
      const proof = await sessionProof(key, nonce);
      await this.#request(ws, 'session.authenticate', { clientId: this.clientId, proof });
      await this.#request(ws, 'events.subscribe', { topics: TOPICS });
    } catch (e) {
      if (ws !== this.#ws) return;
      const err = e instanceof RpcError ? e : new RpcError(String(e), 0);
      // The server closes after these (4401, 4403); end now rather than trust the close code to arrive.
      if (err.dataCode === 'BAD_PROOF') this.end(WRONG_SECRET);
      else if (err.dataCode === 'FORBIDDEN') this.end(NOT_OPERATOR);
      // Anything else: drop this socket; the close handler reconnects (or ends a first login).
      else ws.close(4000, `login failed: ${err.describe()}`.slice(0, 120));
      return;
    }
    if (ws !== this.#ws) return;
    this.#ready = true;
    this.#loggedIn = true;
    this.#attempt = 0;
    this.#hooks.state('open', 'live');
    this.#hooks.ready();
  }

  #onClose(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.#ws) return;
    this.#ws = undefined;
    this.#ready = false;
    const why = describeClose(code, reason);
    this.#rejectAll(`connection lost (${why})`);
    if (this.#key === undefined) return;
    if (code === 4401) this.end(WRONG_SECRET);
    else if (code === 4403) this.end(NOT_OPERATOR);
    else if (!this.#loggedIn) this.end(`could not log in: ${why}`);
    else this.#reconnectLater(why);
  }

  /** Counts down in the header, then connects again. */
  #reconnectLater(why: string): void {
    const base = BACKOFF_MS[Math.min(this.#attempt, BACKOFF_MS.length - 1)]!;
    const delay = Math.min(MAX_BACKOFF_MS, Math.round(base * (0.9 + 0.2 * Math.random())));
    this.#attempt++;
    const due = Date.now() + delay;
    const show = (): void => {
      const s = Math.max(1, Math.ceil((due - Date.now()) / 1000));
      this.#hooks.state('lost', `connection lost — reconnecting in ${s} s…`, why);
    };
    show();
    this.#countdownTimer = setInterval(show, 250);
    this.#retryTimer = setTimeout(() => {
      this.#stopRetry();
      this.#hooks.state('lost', 'connection lost — reconnecting…', why);
      this.#connect();
    }, delay);
  }

  #stopRetry(): void {
    clearTimeout(this.#retryTimer);
    clearInterval(this.#countdownTimer);
    this.#retryTimer = undefined;
    this.#countdownTimer = undefined;
  }

  // ---------------------------------------------------------------- requests

  #request<T>(ws: WebSocket, method: string, params: object): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (ws.readyState !== WebSocket.OPEN) {
        reject(new RpcError('not connected to the platform', 0, 'DISCONNECTED'));
        return;
      }
      const id = this.#nextId++;
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new RpcError(`${method}: no answer in ${REQUEST_TIMEOUT_MS / 1000} s`, 0, 'TIMEOUT'));
      }, REQUEST_TIMEOUT_MS);
      this.#pending.set(id, { method, resolve: resolve as (r: unknown) => void, reject, timer });
      ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    });
  }

  /** Rejects every request in flight: their answers cannot come on another socket. */
  #rejectAll(message: string): void {
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      p.reject(new RpcError(`${p.method}: ${message}`, 0, 'DISCONNECTED'));
      this.#pending.delete(id);
    }
  }
}

const WRONG_SECRET = 'wrong client id or secret';
const NOT_OPERATOR = 'this client is not an operator';

/** The close codes of simtap.v1 (and RFC 6455's that matter here), in words. */
function describeClose(code: number, reason: string): string {
  const words: Record<number, string> = {
    1000: 'closed',
    1001: 'the platform is shutting down',
    1006: 'the connection dropped',
    1008: 'policy: the console did not keep up',
    1009: 'a message was too big',
    1011: 'server error',
    4401: 'authentication failed',
    4403: 'wrong endpoint for the role',
    4408: 'authentication timed out',
    4429: 'rate limited',
  };
  return `${words[code] ?? (reason || 'closed')}, ${code}`;
}

function toRpcError(error: unknown): RpcError {
  const e = (error ?? {}) as { code?: unknown; message?: unknown; data?: { code?: unknown } };
  const code = typeof e.code === 'number' ? e.code : 0;
  const message = typeof e.message === 'string' ? e.message : 'error';
  const dataCode = code === APPLICATION_ERROR && typeof e.data?.code === 'string' ? e.data.code : undefined;
  return new RpcError(message, code, dataCode ?? (code === APPLICATION_ERROR ? undefined : `JSON-RPC ${code}`));
}

/** Strict hex → bytes. */
function fromHex(hex: string): Uint8Array<ArrayBuffer> {
  if (!/^(?:[0-9A-Fa-f]{2})*$/.test(hex)) throw new Error('not hex: expected pairs of 0-9 A-F');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s.toUpperCase();
}

/** An error for the screen: `CODE: message` for an {@link RpcError}, the message otherwise. */
export function describeError(err: unknown): string {
  return err instanceof RpcError ? err.describe() : err instanceof Error ? err.message : String(err);
}
