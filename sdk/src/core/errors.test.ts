import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  ArgumentError,
  CORE_ERRORS,
  type CodeOfClass,
  CryptoError,
  defineErrors,
  hasErrorCode,
  ParseError,
  SimtapError,
  TRANSPORT_ERRORS,
  TransportError,
} from './errors';

const TABLE = defineErrors({
  A_FAILED: { class: 'ParseError', when: 'a', fix: 'fix a' },
  B_FAILED: { class: 'CryptoError', when: 'b', fix: 'fix b' },
  C_FAILED: { class: 'CryptoError', when: 'c', fix: 'fix c' },
});
type TableCode = keyof typeof TABLE;

describe('error-code tables', () => {
  it('defineErrors keeps the literal codes and freezes the table and its rows', () => {
    expectTypeOf<TableCode>().toEqualTypeOf<'A_FAILED' | 'B_FAILED' | 'C_FAILED'>();
    expectTypeOf<CodeOfClass<typeof TABLE, 'CryptoError'>>().toEqualTypeOf<'B_FAILED' | 'C_FAILED'>();
    expect(Object.isFrozen(TABLE)).toBe(true);
    expect(Object.isFrozen(TABLE.A_FAILED)).toBe(true);
    expect(Object.keys(CORE_ERRORS)).toEqual(['BAD_ARGUMENT']);
  });

  it('hasErrorCode matches the code of an Error, any code of the table when none is named', () => {
    const e: unknown = new CryptoError<TableCode>('B_FAILED', 'b');
    expect(hasErrorCode(e, TABLE, 'B_FAILED')).toBe(true);
    expect(hasErrorCode(e, TABLE, 'A_FAILED', 'C_FAILED')).toBe(false);
    expect(hasErrorCode(e, TABLE)).toBe(true);
    expect(hasErrorCode(e, CORE_ERRORS)).toBe(false);
    expect(hasErrorCode(new ArgumentError('x'), CORE_ERRORS, 'BAD_ARGUMENT')).toBe(true);
    expect(hasErrorCode(new TransportError('TIMEOUT', 'slow'), TRANSPORT_ERRORS, 'TIMEOUT')).toBe(true);
    // Not an Error, or a code that is not a string: never a match.
    expect(hasErrorCode({ code: 'B_FAILED' }, TABLE)).toBe(false);
    expect(hasErrorCode(Object.assign(new Error('x'), { code: 1 }), TABLE)).toBe(false);
    expect(hasErrorCode(null, TABLE)).toBe(false);
    expect(hasErrorCode('B_FAILED', TABLE)).toBe(false);
    // Inherited properties of the table are no codes.
    expect(hasErrorCode(Object.assign(new Error('x'), { code: 'toString' }), TABLE)).toBe(false);
    if (hasErrorCode(e, TABLE, 'B_FAILED', 'C_FAILED')) expectTypeOf(e.code).toEqualTypeOf<'B_FAILED' | 'C_FAILED'>();
  });

  it('makes a misspelt code a type error at the match and at the throw site', () => {
    const e: unknown = new Error('x');
    // @ts-expect-error not a code of TABLE
    expect(hasErrorCode(e, TABLE, 'B_FAILD')).toBe(false);
    // @ts-expect-error not a code of TABLE
    expect(new ParseError<TableCode>('A_FAILD', 'a').code).toBe('A_FAILD');
  });

  it('types the code of each family', () => {
    expectTypeOf(new ArgumentError('x').code).toEqualTypeOf<'BAD_ARGUMENT'>();
    expectTypeOf(new ParseError<TableCode>('A_FAILED', 'a').code).toEqualTypeOf<TableCode>();
    expectTypeOf(new SimtapError('ANY_CODE', 'x').code).toEqualTypeOf<'ANY_CODE'>();
    const wide: SimtapError = new CryptoError<TableCode>('C_FAILED', 'c');
    expect(wide.code).toBe('C_FAILED');
    expect(wide.name).toBe('CryptoError');
  });
});
