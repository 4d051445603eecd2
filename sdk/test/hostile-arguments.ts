/**
 * Test helper: noble's TYPE_TEST idea for the SDK — hostile values fed to each argument of each exported function,
 * which must answer with an `ArgumentError` (`BAD_ARGUMENT`) naming the argument, never a bare `TypeError`.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { ParseError, SimtapError } from '../src/core/errors';

/** Values no argument of the checked functions accepts as it is (each call passes valid values elsewhere). */
export const HOSTILE: ReadonlyArray<[string, unknown]> = [
  ['undefined', undefined],
  ['null', null],
  ['-1', -1],
  ['1.5', 1.5],
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['"x"', 'x'],
  ['true', true],
  ['{}', {}],
  ['[]', []],
  ['a function', () => 1],
  ['a symbol', Symbol('s')],
  ['10n', 10n],
  ['empty bytes', new Uint8Array(0)],
  ['3 bytes', new Uint8Array(3)],
  ['an invalid Date', new Date(Number.NaN)],
];

/** An options bag: `undefined` (the defaults) or an object that is not an array, bytes or a date. */
export const optionsBag = (v: unknown): boolean =>
  v === undefined ||
  (typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v) && !(v instanceof Date));

/** Accepts `undefined` only (an optional argument with a default). */
export const isUndefined = (v: unknown): boolean => v === undefined;

async function outcome(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
    return 'returned';
  } catch (e) {
    return e;
  }
}

/** What one table of calls may accept, and which calls are decoders (they answer with their own `ParseError`). */
export interface HostileOptions {
  readonly accepts?: Readonly<Record<string, (v: unknown) => boolean>>;
  readonly decoders?: ReadonlySet<string>;
}

/**
 * One test per call: every hostile value either is accepted (`accepts`; it may then fail later, but with a typed
 * `SimtapError`) or is refused with `BAD_ARGUMENT` (decoders: a `ParseError`) — never a `TypeError`.
 */
export function describeHostileArguments(
  title: string,
  calls: Readonly<Record<string, (v: unknown) => unknown>>,
  options: HostileOptions = {},
): void {
  const accepts = options.accepts ?? {};
  describe(title, () => {
    for (const [name, call] of Object.entries(calls)) {
      it(`${name}: BAD_ARGUMENT, never a TypeError`, async () => {
        for (const [label, value] of HOSTILE) {
          const result = await outcome(() => call(value));
          if (result === 'returned') {
            if (!accepts[name]?.(value)) throw new Error(`${name} accepted ${label}`);
            continue;
          }
          if (!(result instanceof SimtapError))
            throw new Error(`${name} with ${label} threw ${(result as Error)?.name}: ${(result as Error)?.message}`);
          if (options.decoders?.has(name)) expect(result, `${name} with ${label}`).toBeInstanceOf(ParseError);
          else if (!accepts[name]?.(value))
            expect(result, `${name} with ${label}`).toMatchObject({ code: 'BAD_ARGUMENT' });
        }
      });
    }
  });
}
