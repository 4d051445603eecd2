/**
 * Argument checks shared by the SDK's public functions, so an integrator calling from JavaScript gets an
 * `ArgumentError` (`BAD_ARGUMENT`) naming the argument, never a `TypeError` from deep inside.
 *
 * @internal
 * @module
 */
import { ArgumentError } from '../core/errors';
import type { CardChannel } from './channel';

/**
 * Checks that `value` is a {@link CardChannel} (an object with a `transmit` function), naming the argument.
 * @throws {ArgumentError} `BAD_ARGUMENT` otherwise.
 */
export function assertCardChannel(value: unknown, name: string): asserts value is CardChannel {
  if (typeof value !== 'object' || value === null || typeof (value as CardChannel).transmit !== 'function')
    throw new ArgumentError(`${name}: expected a CardChannel (an object with transmit())`);
}

/**
 * Checks an options (or request) argument: a plain object, or `undefined` when `optional`.
 * @throws {ArgumentError} `BAD_ARGUMENT` otherwise.
 * @internal shared by the SDK's public functions.
 */
export function assertOptionsObject(value: unknown, name: string, optional = true): void {
  if (value === undefined && optional) return;
  if (
    typeof value !== 'object' ||
    value === null ||
    Array.isArray(value) ||
    ArrayBuffer.isView(value) ||
    value instanceof Date
  )
    throw new ArgumentError(`${name}: expected an object${optional ? ' or undefined' : ''}`);
}
