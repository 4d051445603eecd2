/**
 * Bridge between an emulated card and pcscd's virtual reader driver (vsmartcard `vpcd`).
 *
 * pcscd's vpcd driver listens on TCP (slot n on port 35963 + n); the virtual card connects to it as a client.
 * Frames in both directions are `length (2 bytes, big-endian) ‖ payload`. One-byte payloads from pcscd are
 * control messages (power off / power on / reset / get ATR); any other payload is a C-APDU answered with an
 * R-APDU. Closing the socket is how a card is "removed" from the reader.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { toHex } from '@simtap/sdk/core/bytes';
import { TransportError, type TransportErrorCode } from '@simtap/sdk/core/errors';

/** Default vpcd port of slot 0 (`0x8C7B`, reader "Virtual PCD 00 00"); slot n listens on `35963 + n`. */
export const VPCD_DEFAULT_PORT = 35963;

/** Control bytes pcscd's vpcd driver sends as one-byte payloads (vsmartcard `vpcd.h`). */
export const VPCD_CONTROL = {
  POWER_OFF: 0x00,
  POWER_ON: 0x01,
  RESET: 0x02,
  GET_ATR: 0x04,
} as const;

/** Largest payload one frame can carry (2-byte length). */
const MAX_FRAME = 0xffff;
/** Answer sent when the card throws or returns something that is not an R-APDU: `6F00` (no precise diagnosis). */
const SW_6F00 = new Uint8Array([0x6f, 0x00]);

/**
 * What the bridge needs from a card: synchronous power control, ATR and APDU exchange. The card runtime
 * adapts to this; a test can script one in a few lines.
 */
export interface VirtualCardPort {
  /** Answer-to-reset bytes reported to pcscd (asked for every ~400 ms while connected). */
  atr(): Uint8Array;
  /** Contacts powered (cold reset). */
  powerOn(): void;
  /** Power removed: the card drops its transient state. */
  powerOff(): void;
  /** Warm reset. */
  reset(): void;
  /** Processes one C-APDU and returns `data ‖ SW1 SW2`. A throw is answered with `6F00`. */
  transmit(capdu: Uint8Array): Uint8Array;
}

/** Log sink of the bridge (state changes at `info`/`warn`, per-frame detail at `debug`). */
export interface VpcdLogger {
  info(message: string): void;
  warn(message: string): void;
  debug?(message: string): void;
}

/** Reconnection backoff: the delay doubles from `initialDelayMs` up to `maxDelayMs`. */
export interface VpcdBackoff {
  initialDelayMs?: number;
  maxDelayMs?: number;
}

/** Options of {@link VpcdBridge}. */
export interface VpcdBridgeOptions {
  /** Host where pcscd's vpcd listens (default `127.0.0.1`). */
  host?: string;
  /** Port of the vpcd slot (default {@link VPCD_DEFAULT_PORT}). */
  port?: number;
  /** Where state changes are logged (default: `console.error` with a `[vpcd]` prefix). */
  logger?: VpcdLogger;
  /** Reconnection backoff (default 100 ms doubling to 2 s). */
  backoff?: VpcdBackoff;
  /** Give up a TCP connect attempt after this long and retry (default 5000 ms). */
  connectTimeoutMs?: number;
  /**
   * Shortest time a removed card stays out (default 600 ms): pcscd only notices a removal at its next presence
   * poll (~400 ms), so an earlier re-insertion would be missed and its first command would fail.
   */
  minRemovedMs?: number;
}

/** One APDU exchange, emitted as `apdu` (only computed when someone listens). */
export interface VpcdApduEvent {
  /** C-APDU as received from pcscd (a copy the listener may keep). */
  command: Uint8Array;
  /** R-APDU sent back (`6F00` when the card threw). */
  response: Uint8Array;
  /** Time the card took, in milliseconds. */
  durationMs: number;
  /** What the card threw, if it did. */
  error?: unknown;
}

/** Connection state of the bridge. */
export type VpcdBridgeState = 'idle' | 'connecting' | 'connected' | 'retrying' | 'removed' | 'closed';

/** Events of {@link VpcdBridge}. */
export type VpcdBridgeEvents = {
  /** The TCP connection to vpcd is up (the card is "inserted"). */
  connected: [];
  /** The connection ended; `reason` is human-readable. */
  disconnected: [reason: string];
  /** One APDU was exchanged. */
  apdu: [event: VpcdApduEvent];
  /** A control message arrived (`POWER_ON`, `POWER_OFF`, `RESET`, `GET_ATR`). */
  control: [code: number];
  /** The state changed. */
  state: [state: VpcdBridgeState];
};

const defaultLogger: VpcdLogger = {
  info: (m) => console.error(`[vpcd] ${m}`),
  warn: (m) => console.error(`[vpcd] ${m}`),
};

function errorMessage(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

/**
 * One readable line per APDU for a `--trace` option: `C-APDU => R-APDU (ms)`.
 * @example formatVpcdTrace(event) // "00A4040008A000000151000000 => 9000  (0.04 ms)"
 */
export function formatVpcdTrace(event: VpcdApduEvent): string {
  const err = event.error === undefined ? '' : `  !! ${errorMessage(event.error)}`;
  return `${toHex(event.command)} => ${toHex(event.response)}  (${event.durationMs.toFixed(2)} ms)${err}`;
}

/**
 * Presents a {@link VirtualCardPort} to pcscd as a card in a vpcd virtual reader.
 *
 * Call {@link VpcdBridge.start} to connect; the bridge reconnects with backoff when pcscd restarts or the
 * connection drops, logging once per state change. {@link VpcdBridge.remove} / {@link VpcdBridge.insert}
 * simulate pulling and re-inserting the card; {@link VpcdBridge.close} shuts it down.
 */
export class VpcdBridge extends EventEmitter<VpcdBridgeEvents> {
  /** Host the bridge connects to. */
  readonly host: string;
  /** Port the bridge connects to. */
  readonly port: number;
  private readonly card: VirtualCardPort;
  private readonly logger: VpcdLogger;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly connectTimeoutMs: number;
  private readonly minRemovedMs: number;
  private removedAt = 0;

  private currentState: VpcdBridgeState = 'idle';
  private socket: net.Socket | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private delayMs: number;
  private powered = false;
  private failureLogged = false;
  /** Reassembly buffer for frames split across TCP segments. */
  private rx: Buffer = Buffer.allocUnsafe(1024);
  private rxLen = 0;

  constructor(card: VirtualCardPort, options: VpcdBridgeOptions = {}) {
    super();
    this.card = card;
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port ?? VPCD_DEFAULT_PORT;
    this.logger = options.logger ?? defaultLogger;
    this.initialDelayMs = options.backoff?.initialDelayMs ?? 100;
    this.maxDelayMs = options.backoff?.maxDelayMs ?? 2000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.minRemovedMs = options.minRemovedMs ?? 600;
    this.delayMs = this.initialDelayMs;
  }

  /** Current connection state. */
  get state(): VpcdBridgeState {
    return this.currentState;
  }

  /** `host:port` of the vpcd slot. */
  get address(): string {
    return `${this.host}:${this.port}`;
  }

  /** Starts connecting (idempotent); returns `this` for chaining. */
  start(): this {
    if (this.currentState === 'idle') this.connect();
    return this;
  }

  /**
   * Resolves once the bridge is connected to vpcd (immediately if it already is).
   * @throws {TransportError} `TIMEOUT` if not connected within `timeoutMs`; `TRANSPORT_CLOSED` if closed meanwhile.
   */
  waitUntilConnected(timeoutMs = 5000): Promise<void> {
    if (this.currentState === 'connected') return Promise.resolve();
    if (this.currentState === 'closed') {
      return Promise.reject(new TransportError<TransportErrorCode>('TRANSPORT_CLOSED', 'vpcd bridge is closed'));
    }
    return new Promise((resolve, reject) => {
      const onState = (s: VpcdBridgeState): void => {
        if (s === 'connected') finish();
        else if (s === 'closed')
          finish(new TransportError<TransportErrorCode>('TRANSPORT_CLOSED', 'vpcd bridge was closed'));
      };
      const timer = setTimeout(
        () =>
          finish(
            new TransportError<TransportErrorCode>(
              'TIMEOUT',
              `not connected to vpcd at ${this.address} after ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      );
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        this.off('state', onState);
        if (err) reject(err);
        else resolve();
      };
      this.on('state', onState);
    });
  }

  /** Presents the card as removed: closes the connection and stops reconnecting until {@link insert}. */
  remove(): void {
    if (this.currentState === 'removed') this.clearRetry(); // cancels a pending insert()
    if (this.currentState === 'closed' || this.currentState === 'removed') return;
    this.clearRetry();
    const wasConnected = this.currentState === 'connected';
    this.setState('removed');
    this.removedAt = Date.now();
    this.dropSocket('card removed', wasConnected);
    this.logger.info(`card removed from ${this.address}`);
  }

  /**
   * Presents the card as inserted again: reconnects to vpcd (no-op unless removed or idle), no earlier than
   * `minRemovedMs` after {@link remove}.
   */
  insert(): void {
    if (this.currentState !== 'removed' && this.currentState !== 'idle') return;
    if (this.retryTimer) return; // an insertion is already pending
    this.delayMs = this.initialDelayMs;
    this.failureLogged = false;
    const wait = this.currentState === 'removed' ? this.removedAt + this.minRemovedMs - Date.now() : 0;
    if (wait <= 0) {
      this.connect();
      return;
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.currentState === 'removed') this.connect();
    }, wait);
  }

  /** Shuts the bridge down for good; resolves when the socket is closed. */
  async close(): Promise<void> {
    if (this.currentState === 'closed') return;
    this.clearRetry();
    const socket = this.socket;
    const wasConnected = this.currentState === 'connected';
    this.setState('closed');
    this.dropSocket('bridge closed', wasConnected);
    if (socket && !socket.closed) await new Promise<void>((resolve) => socket.once('close', () => resolve()));
  }

  private setState(s: VpcdBridgeState): void {
    if (this.currentState === s) return;
    this.currentState = s;
    this.emit('state', s);
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  /** Detaches and destroys the current socket; the card loses power as if pulled out. */
  private dropSocket(reason: string, wasConnected: boolean): void {
    const socket = this.socket;
    if (!socket) return;
    this.socket = null;
    socket.removeAllListeners('data');
    socket.removeAllListeners('connect');
    socket.removeAllListeners('timeout');
    socket.destroy();
    this.rxLen = 0;
    this.cutPower();
    if (wasConnected) this.emit('disconnected', reason);
  }

  private cutPower(): void {
    if (!this.powered) return;
    this.powered = false;
    try {
      this.card.powerOff();
    } catch (e) {
      this.logger.warn(`card powerOff threw: ${errorMessage(e)}`);
    }
  }

  private connect(): void {
    this.clearRetry();
    this.setState('connecting');
    const socket = net.connect({ host: this.host, port: this.port, noDelay: true });
    this.socket = socket;
    socket.setTimeout(this.connectTimeoutMs);
    let wasConnected = false;
    socket.on('timeout', () => socket.destroy(new Error(`connect timed out after ${this.connectTimeoutMs} ms`)));
    socket.on('connect', () => {
      wasConnected = true;
      socket.setTimeout(0);
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 10_000);
      this.delayMs = this.initialDelayMs;
      this.failureLogged = false;
      this.rxLen = 0;
      this.logger.info(`connected to vpcd at ${this.address}`);
      this.setState('connected');
      this.emit('connected');
    });
    socket.on('data', (chunk: Buffer) => this.onData(socket, chunk));
    let lastError: Error | undefined;
    socket.on('error', (e) => {
      lastError = e;
    });
    socket.on('close', () => {
      if (this.socket !== socket) return; // dropped on purpose (remove/close/restart)
      this.socket = null;
      this.rxLen = 0;
      this.cutPower();
      const reason = lastError ? errorMessage(lastError) : 'closed by peer';
      if (wasConnected) {
        this.logger.warn(`disconnected from vpcd at ${this.address} (${reason}); reconnecting`);
        this.emit('disconnected', reason);
      } else if (!this.failureLogged) {
        this.failureLogged = true;
        this.logger.warn(`vpcd at ${this.address} not reachable (${reason}); retrying with backoff`);
      } else {
        this.logger.debug?.(`vpcd at ${this.address} still not reachable (${reason})`);
      }
      this.scheduleRetry(wasConnected);
    });
  }

  private scheduleRetry(immediate: boolean): void {
    this.setState('retrying');
    const delay = immediate ? this.initialDelayMs : this.delayMs;
    if (!immediate) this.delayMs = Math.min(this.delayMs * 2, this.maxDelayMs);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.currentState === 'retrying') this.connect();
    }, delay);
  }

  /** Appends a TCP chunk and handles every complete frame; keeps a partial frame for the next chunk. */
  private onData(socket: net.Socket, chunk: Buffer): void {
    let buf: Buffer;
    let len: number;
    if (this.rxLen === 0) {
      buf = chunk;
      len = chunk.length;
    } else {
      const need = this.rxLen + chunk.length;
      if (need > this.rx.length) {
        const bigger = Buffer.allocUnsafe(Math.max(need, this.rx.length * 2));
        this.rx.copy(bigger, 0, 0, this.rxLen);
        this.rx = bigger;
      }
      chunk.copy(this.rx, this.rxLen);
      this.rxLen = need;
      buf = this.rx;
      len = need;
    }
    let off = 0;
    while (len - off >= 2) {
      const frameLen = (buf[off]! << 8) | buf[off + 1]!;
      if (len - off - 2 < frameLen) break;
      const payload = buf.subarray(off + 2, off + 2 + frameLen);
      off += 2 + frameLen;
      this.handleFrame(socket, payload);
      if (this.socket !== socket) return; // removed or closed while handling
    }
    const rest = len - off;
    if (rest === 0) {
      this.rxLen = 0;
    } else if (buf === this.rx) {
      if (off > 0) this.rx.copyWithin(0, off, len);
      this.rxLen = rest;
    } else {
      if (rest > this.rx.length) this.rx = Buffer.allocUnsafe(Math.max(rest, this.rx.length * 2));
      buf.copy(this.rx, 0, off, len);
      this.rxLen = rest;
    }
  }

  private handleFrame(socket: net.Socket, payload: Buffer): void {
    if (payload.length === 1) {
      this.handleControl(socket, payload[0]!);
      return;
    }
    const command = new Uint8Array(payload); // a copy: the receive buffer is reused
    const t0 = performance.now();
    let response: Uint8Array;
    let error: unknown;
    try {
      response = this.card.transmit(command);
      if (!(response instanceof Uint8Array) || response.length < 2 || response.length > MAX_FRAME) {
        throw new TransportError<TransportErrorCode>(
          'BAD_RESPONSE',
          `card returned ${response instanceof Uint8Array ? `${response.length} bytes` : typeof response}, not an R-APDU`,
        );
      }
    } catch (e) {
      error = e;
      response = SW_6F00;
      this.logger.warn(`card threw on ${toHex(command.subarray(0, 4))}: ${errorMessage(e)}; answered 6F00`);
    }
    const durationMs = performance.now() - t0;
    this.send(socket, response);
    if (this.listenerCount('apdu') > 0) {
      const event: VpcdApduEvent = { command, response, durationMs };
      if (error !== undefined) event.error = error;
      this.emit('apdu', event);
    }
  }

  private handleControl(socket: net.Socket, code: number): void {
    try {
      switch (code) {
        case VPCD_CONTROL.POWER_OFF:
          this.powered = false;
          this.card.powerOff();
          break;
        case VPCD_CONTROL.POWER_ON:
          this.powered = true;
          this.card.powerOn();
          break;
        case VPCD_CONTROL.RESET:
          this.powered = true;
          this.card.reset();
          break;
        case VPCD_CONTROL.GET_ATR:
          this.send(socket, this.card.atr());
          break;
        default:
          this.logger.debug?.(`ignoring unknown vpcd control byte ${code}`);
          return;
      }
    } catch (e) {
      this.logger.warn(`card threw on vpcd control ${code}: ${errorMessage(e)}`);
      // pcscd waits for an ATR: answer an empty one (reads as "no card") rather than leaving it hanging.
      if (code === VPCD_CONTROL.GET_ATR) this.send(socket, new Uint8Array(0));
    }
    if (this.listenerCount('control') > 0) this.emit('control', code);
  }

  /** Writes `length ‖ payload` in a single write (one TCP segment with TCP_NODELAY). */
  private send(socket: net.Socket, payload: Uint8Array): void {
    const frame = Buffer.allocUnsafe(2 + payload.length);
    frame[0] = payload.length >> 8;
    frame[1] = payload.length & 0xff;
    frame.set(payload, 2);
    socket.write(frame);
  }
}
