/**
 * One fuzzing connection (a "lane"): a `ws` client that sends planned frames, each with what the server must answer
 * — one error response with a given id whose code is one of the expected ones, or nothing (a notification or a
 * response the client sends) — and checks every frame that comes back. A result, an answer nobody asked for, an error
 * outside the protocol's codes, or a lane that ends with unanswered frames and no documented close code, is a
 * violation.
 */
import { JSONRPC_ERRORS, type RequestId, SUBPROTOCOL, sessionProof, WIRE_ERROR_CODES } from '@simtap/sdk/wire';
import WebSocket from 'ws';

/** The close codes of `simtap.v1` (docs/protocol.md): a lane closed with one of them covers its unanswered frames. */
export const DOCUMENTED_CLOSE_CODES: ReadonlySet<number> = new Set([1001, 1008, 1009, 4401, 4403, 4408, 4429]);

/** An answer's code: the JSON-RPC code, or `data.code` for -32000. */
export type AnswerCode = number | string;

/** What the server must answer to one frame. */
export interface Expect {
  /** The id of the error response (`null` when the frame's id could not be read). */
  readonly id: RequestId | null;
  /** The codes it may carry (`RATE_LIMITED` is always accepted). */
  readonly codes: readonly AnswerCode[];
  /** The frame's class, for the report. */
  readonly cls: string;
}

/** Counts of a run, added up over lanes. */
export class Tally {
  framesSent = 0;
  readonly byClass = new Map<string, number>();
  readonly answers = new Map<string, number>();
  readonly closes = new Map<string, number>();
  /** Frames expecting an answer that a documented close code covered instead. */
  coveredByClose = 0;
  /** Frames that expect no answer (notifications and responses sent by the client). */
  unanswered = 0;
  readonly violations: string[] = [];

  add(map: Map<string, number>, key: string, n = 1): void {
    map.set(key, (map.get(key) ?? 0) + n);
  }

  violation(text: string): void {
    if (this.violations.length < 200) this.violations.push(text.slice(0, 600));
  }

  summary(): Record<string, unknown> {
    const sorted = (m: Map<string, number>) => Object.fromEntries([...m].sort((a, b) => b[1] - a[1]));
    return {
      framesSent: this.framesSent,
      coveredByClose: this.coveredByClose,
      notAnsweredByDesign: this.unanswered,
      answers: sorted(this.answers),
      closes: sorted(this.closes),
      byClass: sorted(this.byClass),
    };
  }
}

const RPC_CODES = new Set<number>(Object.values(JSONRPC_ERRORS));

/** The code of an error object, or a description of what is wrong with it. */
export function answerCode(error: unknown): { ok: true; code: AnswerCode } | { ok: false; why: string } {
  if (typeof error !== 'object' || error === null) return { ok: false, why: 'error is not an object' };
  const e = error as { code?: unknown; message?: unknown; data?: { code?: unknown } };
  if (typeof e.code !== 'number' || !RPC_CODES.has(e.code)) return { ok: false, why: `code ${String(e.code)}` };
  if (typeof e.message !== 'string') return { ok: false, why: 'no message' };
  if (e.code !== JSONRPC_ERRORS.APPLICATION) return { ok: true, code: e.code };
  const dc = e.data?.code;
  if (typeof dc !== 'string' || !Object.hasOwn(WIRE_ERROR_CODES, dc))
    return { ok: false, why: `data.code ${String(dc)}` };
  return { ok: true, code: dc };
}

/** Answers that mean trouble in the platform rather than a refused frame: a violation unless expected. */
const TROUBLE = new Set<AnswerCode>(['INTERNAL', 'TIMEOUT', 'UNAVAILABLE']);

let laneSequence = 0;

/** One connection of the fuzzer. */
export class Lane {
  readonly name: string;
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  readonly nonce: Promise<Buffer>;
  /** The close code and reason once closed (a code of 1005/1006 when none came). */
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly #tally: Tally;
  readonly #pending = new Map<string, Expect[]>();
  readonly #allowedClose: ReadonlySet<number>;
  #outstanding = 0;
  #closedBy: number | undefined;
  #closingByUs = false;
  #authWaiter: ((r: { result?: unknown; error?: unknown }) => void) | undefined;
  #idle: (() => void) | undefined;

  constructor(url: string, tally: Tally, o: { name?: string; allowedClose?: Iterable<number> } = {}) {
    this.name = o.name ?? `lane-${++laneSequence}`;
    this.#tally = tally;
    this.#allowedClose = new Set([...DOCUMENTED_CLOSE_CODES, ...(o.allowedClose ?? [])]);
    this.ws = new WebSocket(url, [SUBPROTOCOL], { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      this.ws.once('error', reject);
    });
    this.opened.catch(() => {});
    this.nonce = new Promise((resolve) => {
      this.ws.on('message', (data, isBinary) => this.#onMessage(data as Buffer, isBinary, resolve));
    });
    this.ws.on('error', () => {}); // EPIPE/ECONNRESET while writing a frame the server refused: the close says why
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        this.#closedBy = code;
        this.#onClosed(code);
        resolve({ code, reason: reason.toString() });
      });
    });
  }

  /** Opens a lane on `base + path` and waits for the upgrade. */
  static async open(base: string, path: string, tally: Tally, o?: { name?: string; allowedClose?: Iterable<number> }) {
    const lane = new Lane(base + path, tally, o);
    await lane.opened;
    return lane;
  }

  /** Frames sent and not yet answered. */
  get outstanding(): number {
    return this.#outstanding;
  }

  /** Authenticates (the proof over this connection's nonce, or `proof` given); resolves with the answer. */
  async authenticate(
    clientId: string,
    secret: Uint8Array,
    path: string,
    o: { proof?: string; expectClose?: boolean } = {},
  ): Promise<{ result?: unknown; error?: unknown }> {
    const nonce = await this.nonce;
    const proof = o.proof ?? sessionProof(secret, nonce, path);
    const answer = new Promise<{ result?: unknown; error?: unknown }>((resolve) => {
      this.#authWaiter = resolve;
    });
    this.ws.send(
      JSON.stringify({ jsonrpc: '2.0', id: 'auth', method: 'session.authenticate', params: { clientId, proof } }),
    );
    this.#tally.framesSent++;
    this.#tally.add(this.#tally.byClass, o.expectClose ? 'auth refused' : 'auth');
    return answer;
  }

  /**
   * Sends a text (or binary) frame; `expect` is what the server must answer, `null` for nothing. A lane the server
   * has closed sends nothing more (and counts nothing).
   */
  send(data: string | Uint8Array, expect: Expect | null, o: { binary?: boolean; cls?: string } = {}): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    this.#register(expect, o.cls);
    this.ws.send(data, { binary: o.binary ?? typeof data !== 'string' });
    return true;
  }

  /** Sends one message in fragments (text frames, `fin` on the last): one frame for the count. */
  sendFragmented(parts: readonly (string | Uint8Array)[], expect: Expect | null, cls?: string): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    this.#register(expect, cls);
    parts.forEach((p, i) => {
      this.ws.send(p, { fin: i === parts.length - 1, binary: false });
    });
    return true;
  }

  #register(expect: Expect | null, cls: string | undefined): void {
    const t = this.#tally;
    t.framesSent++;
    t.add(t.byClass, expect?.cls ?? cls ?? 'no answer expected');
    if (expect === null) {
      t.unanswered++;
      return;
    }
    const key = idKey(expect.id);
    const list = this.#pending.get(key);
    if (list) list.push(expect);
    else this.#pending.set(key, [expect]);
    this.#outstanding++;
  }

  /**
   * Waits until every frame sent was answered or the server closed the lane (with `expectClose`, until it closed);
   * then closes it (1000). A lane still waiting after `timeoutMs` is a violation.
   */
  async finish(
    timeoutMs = 30_000,
    o: { expectClose?: boolean } = {},
  ): Promise<{ code: number | undefined; outstanding: number }> {
    if ((this.#outstanding > 0 || o.expectClose) && this.#closedBy === undefined) {
      const idle = new Promise<void>((resolve) => {
        this.#idle = resolve;
      });
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), timeoutMs);
      });
      const r = await Promise.race([idle, this.closed.then(() => undefined), late]);
      clearTimeout(timer);
      if (r === 'late' && o.expectClose && this.#outstanding === 0)
        this.#tally.violation(`${this.name}: the server did not close the connection within ${timeoutMs} ms`);
      else if (r === 'late')
        this.#tally.violation(
          `${this.name}: ${this.#outstanding} frames unanswered after ${timeoutMs} ms (ids ${[...this.#pending.keys()].slice(0, 5).join(', ')})`,
        );
    }
    // The server's close frame may have come (the socket closing) without the close event yet.
    if (this.#closedBy === undefined && this.ws.readyState !== WebSocket.OPEN) await this.closed;
    const serverCode = this.#closedBy;
    const outstanding = this.#outstanding;
    if (serverCode === undefined) {
      this.#closingByUs = true;
      this.ws.close(1000);
      await this.closed;
    }
    return { code: serverCode, outstanding };
  }

  #onMessage(data: Buffer, isBinary: boolean, gotNonce: (n: Buffer) => void): void {
    const t = this.#tally;
    let m: Record<string, unknown>;
    try {
      if (isBinary) throw new Error('binary');
      m = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
    } catch {
      t.violation(`${this.name}: the server sent a frame that is not JSON: ${data.toString('utf8').slice(0, 200)}`);
      return;
    }
    if (m.jsonrpc !== '2.0') t.violation(`${this.name}: jsonrpc ${String(m.jsonrpc)}`);
    if (typeof m.method === 'string' && !('id' in m)) {
      if (m.method === 'session.challenge') {
        const nonce = (m.params as { nonce?: unknown } | undefined)?.nonce;
        if (typeof nonce === 'string' && /^[0-9A-F]{64}$/.test(nonce)) gotNonce(Buffer.from(nonce, 'hex'));
        else t.violation(`${this.name}: bad challenge ${JSON.stringify(m)}`);
      }
      return;
    }
    if (m.id === 'auth' && this.#authWaiter) {
      const w = this.#authWaiter;
      this.#authWaiter = undefined;
      w({ result: m.result, error: m.error });
      return;
    }
    if ('result' in m) {
      t.violation(`${this.name}: a RESULT for id ${JSON.stringify(m.id)}: ${JSON.stringify(m.result).slice(0, 200)}`);
      return;
    }
    const c = answerCode(m.error);
    if (!c.ok) {
      t.violation(`${this.name}: malformed error (${c.why}): ${JSON.stringify(m).slice(0, 300)}`);
      return;
    }
    t.add(t.answers, String(c.code));
    const key = idKey((m.id ?? null) as RequestId | null);
    const list = this.#pending.get(key);
    if (!list || list.length === 0) {
      t.violation(`${this.name}: an answer nobody asked for: ${JSON.stringify(m).slice(0, 300)}`);
      return;
    }
    let i = list.findIndex((e) => e.codes.includes(c.code));
    if (i < 0 && c.code === 'RATE_LIMITED') i = 0;
    if (i < 0) {
      t.violation(
        `${this.name}: id ${key} answered ${c.code} (${(m.error as { message?: string }).message?.slice(0, 120)}), expected ${list
          .map((e) => `${e.cls}: ${e.codes.join('|')}`)
          .join(' or ')}`,
      );
      i = 0;
    } else if (TROUBLE.has(c.code) && !list[i]!.codes.includes(c.code)) {
      t.violation(`${this.name}: ${c.code} for id ${key}`);
    }
    list.splice(i, 1);
    if (list.length === 0) this.#pending.delete(key);
    this.#outstanding--;
    if (this.#outstanding === 0) this.#idle?.();
  }

  #onClosed(code: number): void {
    const t = this.#tally;
    t.add(t.closes, this.#closingByUs ? 'by the client' : String(code));
    if (this.#outstanding === 0) return;
    if (this.#allowedClose.has(code)) {
      t.coveredByClose += this.#outstanding;
      return;
    }
    t.violation(
      `${this.name}: closed with ${code} with ${this.#outstanding} frames unanswered (${[...this.#pending.values()]
        .flat()
        .slice(0, 3)
        .map((e) => e.cls)
        .join(', ')})`,
    );
  }
}

/** The key of an id in the pending table (`-0` and `0` are the same id on the wire). */
export function idKey(id: RequestId | null): string {
  return JSON.stringify(id);
}
