/**
 * The machine clock: where a terminal's transaction date (YYYYMMDD, 4 BCD bytes) and time (hhmmss, 3 BCD bytes)
 * come from. Inject a fixed clock in tests.
 *
 * @module
 */
import { bcdDateTime } from '../core/bytes';

/** A source of the current time. */
export interface Clock {
  /** The current instant. */
  now(): Date;
}

/** The system clock. */
export const systemClock: Clock = Object.freeze({ now: () => new Date() });

/**
 * A clock that always answers `at` (or advances by `stepMs` per reading).
 * @example fixedClock(new Date('2026-03-01T01:02:03Z')) // 2026-03-01 09:02:03 in China (UTC+8)
 */
export function fixedClock(at: Date, stepMs = 0): Clock {
  let t = at.getTime();
  return {
    now() {
      const d = new Date(t);
      t += stepMs;
      return d;
    },
  };
}

/** A transaction's date and time as the card receives them. */
export interface TxnDateTime {
  /** YYYYMMDD, 4 BCD bytes. */
  readonly date: Uint8Array;
  /** hhmmss, 3 BCD bytes. */
  readonly time: Uint8Array;
}

/** Reads `clock` once and encodes the terminal-local date and time (`timeZoneOffsetMinutes`, default UTC+8). */
export function txnDateTime(clock: Clock, timeZoneOffsetMinutes = 480): TxnDateTime {
  const b = bcdDateTime(clock.now(), timeZoneOffsetMinutes);
  // Copies, not subarrays: a view of a small array makes V8 move it off-heap (a malloc per purchase).
  return { date: b.slice(0, 4), time: b.slice(4, 7) };
}
