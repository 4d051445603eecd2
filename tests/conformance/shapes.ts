/**
 * The results of the fixed methods as `PROTOCOL.md` gives them, written down from that page (not from the SDK's
 * catalogue, so that the two can be checked against each other): field names and types. A result must carry every
 * field named here with its type; further fields are allowed (the protocol lets the project add result fields).
 */
import { expect } from 'vitest';

/** A field's type. */
export type Shape =
  | 'int'
  | 'string'
  | 'boolean'
  | RegExp
  | { readonly oneOf: readonly unknown[] }
  | { readonly arrayOf: Shape }
  | { readonly [field: string]: Shape };

const oneOf = (...values: unknown[]) => ({ oneOf: values });
const arrayOf = (shape: Shape) => ({ arrayOf: shape });

/** Byte strings are hex, uppercase on output. */
export const HEX4 = /^[0-9A-F]{8}$/;
/** The 20-hex-digit PBOC application serial, uppercase on output. */
export const SERIAL = /^[0-9A-F]{20}$/;
const DIGITS = /^[0-9]+$/;
const CARD_STATUS = oneOf('issued', 'personalized', 'active', 'blocked', 'lost');

/** Every fixed method's result. */
export const FIXED_RESULTS = {
  'session.authenticate': { clientId: 'string', role: oneOf('application', 'operator') },
  'customers.topUpPhoneAccount': { balance: 'int' },
  'customers.phoneAccount': { balance: 'int' },
  'wallet.authorizeLoad': { loadId: 'string', mac2: HEX4 },
  'wallet.confirmLoad': { status: oneOf('posted'), float: 'int' },
  'wallet.resolveLoad': { status: oneOf('posted', 'voided') },
  'wallet.float': { balance: 'int' },
  'wallet.airTopUp': { loadId: 'string', status: oneOf('posted', 'pending') },
  'wallet.load': {
    loadId: 'string',
    status: oneOf('pending', 'posted', 'voided'),
    amount: 'int',
    cardSerial: SERIAL,
  },
  'clearing.submitBatch': {
    accepted: 'int',
    settled: 'int',
    rejected: arrayOf({ index: 'int', code: oneOf('BAD_TAC', 'DUPLICATE', 'UNKNOWN_CARD') }),
    gaps: arrayOf({ cardSerial: SERIAL, missing: arrayOf('int') }),
  },
  'merchants.balance': { payable: 'int' },
  'points.balance': { points: 'int' },
  'cards.get': { cardSerial: SERIAL, msisdn: DIGITS, iccid: 'string', status: CARD_STATUS },
  'cards.reportLost': { status: oneOf('lost'), blacklistVersion: 'int' },
  'cards.blacklist': { version: 'int', added: arrayOf(SERIAL), removed: arrayOf(SERIAL) },
  'ledger.verify': { ok: 'boolean', accounts: 'int', sum: 'int', journalHead: 'string' },
  'cards.list': { cards: arrayOf({ cardSerial: SERIAL, msisdn: DIGITS, status: CARD_STATUS, float: 'int' }) },
} as const satisfies Record<string, Shape>;

/** A fixed method. */
export type FixedMethod = keyof typeof FIXED_RESULTS;

/** The fixed methods of each endpoint. */
export const FIXED_METHODS = {
  app: [
    'customers.topUpPhoneAccount',
    'customers.phoneAccount',
    'wallet.authorizeLoad',
    'wallet.confirmLoad',
    'wallet.resolveLoad',
    'wallet.float',
    'wallet.airTopUp',
    'wallet.load',
    'clearing.submitBatch',
    'merchants.balance',
    'points.balance',
    'cards.get',
    'cards.reportLost',
    'cards.blacklist',
  ],
  console: ['ledger.verify', 'cards.list'],
} as const satisfies Record<string, readonly FixedMethod[]>;

/** What in `value` does not fit `shape` (paths and reasons); empty when it fits. */
export function misfits(value: unknown, shape: Shape, path = '$'): string[] {
  if (shape === 'int') return Number.isSafeInteger(value) ? [] : [`${path}: not an integer: ${JSON.stringify(value)}`];
  if (shape === 'string') return typeof value === 'string' ? [] : [`${path}: not a string: ${JSON.stringify(value)}`];
  if (shape === 'boolean')
    return typeof value === 'boolean' ? [] : [`${path}: not a boolean: ${JSON.stringify(value)}`];
  if (shape instanceof RegExp)
    return typeof value === 'string' && shape.test(value) ? [] : [`${path}: ${JSON.stringify(value)} is not ${shape}`];
  if ('oneOf' in shape && Array.isArray(shape.oneOf))
    return shape.oneOf.includes(value)
      ? []
      : [`${path}: ${JSON.stringify(value)} is not one of ${shape.oneOf.join(', ')}`];
  if ('arrayOf' in shape) {
    if (!Array.isArray(value)) return [`${path}: not an array`];
    return value.flatMap((v, i) => misfits(v, shape.arrayOf as Shape, `${path}[${i}]`));
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${path}: not an object`];
  const o = value as Record<string, unknown>;
  return Object.entries(shape as Record<string, Shape>).flatMap(([k, s]) =>
    Object.hasOwn(o, k) ? misfits(o[k], s, `${path}.${k}`) : [`${path}.${k}: missing`],
  );
}

/** Expects `result` to be `method`'s result as `PROTOCOL.md` gives it; answers it typed loosely. */
export function expectFixedResult<T = Record<string, unknown>>(method: FixedMethod, result: unknown): T {
  expect(misfits(result, FIXED_RESULTS[method]), `${method} result ${JSON.stringify(result)}`).toEqual([]);
  return result as T;
}
