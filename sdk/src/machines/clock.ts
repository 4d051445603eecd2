/**
 * The machine clock: where a terminal's transaction date (YYYYMMDD, 4 BCD bytes) and time (hhmmss, 3 BCD bytes)
 * come from. Inject a fixed clock in tests.
 *
 * @module
 */
import { bcdDateTime } from '../core/bytes';
import { ArgumentError } from '../core/errors';

function assertDate(value: unknown, name: string): asserts value is Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime()))
    throw new ArgumentError(`${name}: expected a valid Date`);
}

/** A source of the current time. */
export interface Clock {
  /** The current instant. */
  now(): Date;
}

/** The system clock. */
export const systemClock: Clock = Object.freeze({ now: () => new Date() });

/**
 * A clock that always answers `at` (or advances by `stepMs` per reading).
 * @throws {ArgumentError} `BAD_ARGUMENT` when `at` is not a valid `Date` or `stepMs` not a finite number.
 * @example fixedClock(new Date('2026-03-01T01:02:03Z')) // 2026-03-01 09:02:03 in China (UTC+8)
 */
export function fixedClock(at: Date, stepMs = 0): Clock {
  assertDate(at, 'at');
  if (typeof stepMs !== 'number' || !Number.isFinite(stepMs))
    throw new ArgumentError('stepMs: expected a finite number');
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

/**
 * Reads `clock` once and encodes the terminal-local date and time (`timeZoneOffsetMinutes`, default UTC+8).
 * @throws {ArgumentError} `BAD_ARGUMENT` when `clock` has no `now()`, it answers no valid `Date`, or the offset is not
 *   a whole number of minutes within ±14 h.
 */
export function txnDateTime(clock: Clock, timeZoneOffsetMinutes = 480): TxnDateTime {
  if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function')
    throw new ArgumentError('clock: expected a Clock (an object with now())');
  if (!Number.isInteger(timeZoneOffsetMinutes) || Math.abs(timeZoneOffsetMinutes) > 14 * 60)
    throw new ArgumentError('timeZoneOffsetMinutes: expected whole minutes within ±840');
  const now = clock.now();
  assertDate(now, 'clock.now()');
  const b = bcdDateTime(now, timeZoneOffsetMinutes);
  // Copies, not subarrays: a view of a small array makes V8 move it off-heap (a malloc per purchase).
  return { date: b.slice(0, 4), time: b.slice(4, 7) };
}
