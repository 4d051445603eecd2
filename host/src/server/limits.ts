/**
 * The server's limits: authentication and request timeouts, heartbeats, the per-connection rate limit, requests in
 * flight and the send-buffer thresholds of backpressure. Every field has a default ({@link DEFAULT_LIMITS}); tests
 * shorten the timers.
 * @module
 */
import { ArgumentError } from '@simtap/sdk/core/errors';

/** The limits of {@link createPlatformServer}. */
export interface ServerLimits {
  /** A connection that has not authenticated after this many ms is closed with 4408. Default 10 000. */
  readonly authTimeoutMs: number;
  /**
   * A call the platform has not answered after this many ms gets `TIMEOUT` (the work may still finish: a retry with
   * the same idempotency key gets its outcome). Default 30 000.
   */
  readonly requestTimeoutMs: number;
  /** A ping goes to every peer this often; a peer that has not answered the previous ping is dropped. Default 15 000. */
  readonly heartbeatMs: number;
  /** Calls per second a connection may make, sustained (token bucket refill). Default 2 000. */
  readonly ratePerSecond: number;
  /** Calls a connection may make at once after a quiet spell (token bucket size). Default 2 000. */
  readonly rateBurst: number;
  /**
   * Refused calls (`RATE_LIMITED`) a connection may accumulate before it is closed with 4429; the count drains at
   * `ratePerSecond`, so only a connection that keeps sending at more than twice the rate is closed. Default 2 000.
   */
  readonly rateCloseAfter: number;
  /** Requests of one connection the platform works on at once; more wait, and the socket is not read. Default 64. */
  readonly maxInFlight: number;
  /** Above this many bytes waiting to be sent to a peer, its socket is not read until they drain. Default 1 MiB. */
  readonly highWaterBytes: number;
  /** Reading resumes when the bytes waiting to be sent are at most this. Default 256 KiB. */
  readonly lowWaterBytes: number;
  /**
   * An event that would find more than this many bytes waiting to be sent to a subscriber (a peer that does not
   * read) closes that connection with 1008 instead of queueing more. Default 8 MiB.
   */
  readonly maxBufferedBytes: number;
  /** On `close()`, how long requests in flight may take to finish before the sockets close anyway. Default 30 000. */
  readonly shutdownGraceMs: number;
  /** A closing handshake the peer has not completed after this many ms ends with the socket dropped. Default 2 000. */
  readonly closeTimeoutMs: number;
  /** Connections the server holds at once; more are refused at the TCP level. Default 10 000. */
  readonly maxConnections: number;
}

/** The defaults of {@link ServerLimits}. */
export const DEFAULT_LIMITS: ServerLimits = Object.freeze({
  authTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  heartbeatMs: 15_000,
  ratePerSecond: 2_000,
  rateBurst: 2_000,
  rateCloseAfter: 2_000,
  maxInFlight: 64,
  highWaterBytes: 1024 * 1024,
  lowWaterBytes: 256 * 1024,
  maxBufferedBytes: 8 * 1024 * 1024,
  shutdownGraceMs: 30_000,
  closeTimeoutMs: 2_000,
  maxConnections: 10_000,
});

/** The defaults with `overrides` applied and checked. @throws ArgumentError naming a bad limit */
export function resolveLimits(overrides: Partial<ServerLimits> = {}): ServerLimits {
  const limits = { ...DEFAULT_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
      throw new ArgumentError(`limits.${name} must be a positive number`);
  }
  if (limits.lowWaterBytes > limits.highWaterBytes)
    throw new ArgumentError('limits.lowWaterBytes must not be above limits.highWaterBytes');
  return Object.freeze(limits);
}

/** A token bucket: `take()` is true while the rate is kept. */
export class TokenBucket {
  #tokens: number;
  #at: number;
  readonly #rate: number;
  readonly #burst: number;

  constructor(ratePerSecond: number, burst: number, now = performance.now()) {
    this.#rate = ratePerSecond / 1000;
    this.#burst = burst;
    this.#tokens = burst;
    this.#at = now;
  }

  /** Takes one token; false when there is none. */
  take(now = performance.now()): boolean {
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#at) * this.#rate);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/** A count that drains at a steady rate (refused calls): `add()` answers the count after adding one. */
export class DrainingCount {
  #count = 0;
  #at: number;
  readonly #rate: number;

  constructor(drainPerSecond: number, now = performance.now()) {
    this.#rate = drainPerSecond / 1000;
    this.#at = now;
  }

  add(now = performance.now()): number {
    this.#count = Math.max(0, this.#count - (now - this.#at) * this.#rate) + 1;
    this.#at = now;
    return this.#count;
  }
}
