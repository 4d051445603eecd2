/**
 * Checks of the parameters of the sub-platforms' operations, in the encodings `simtap.v1` fixes: amounts integer
 * fen, counters integers, byte strings hex (either case in, uppercase out), `date` `YYYYMMDD`, `time` `HHMMSS`,
 * `cardSerial` 20 hex digits, `terminalId` 12 hex digits, `msisdn` digits. Every check throws `ArgumentError`
 * (`BAD_ARGUMENT`, the wire's -32602) naming the field.
 * @module
 */
import { fromHex } from '@simtap/sdk/core/bytes';
import { ArgumentError } from '@simtap/sdk/core/errors';

const HEX = /^[0-9A-Fa-f]*$/;

/** A hex string of exactly `bytes` bytes, returned uppercase. */
export function hexParam(value: unknown, name: string, bytes: number): string {
  if (typeof value !== 'string' || value.length !== bytes * 2 || !HEX.test(value))
    throw new ArgumentError(`${name} must be ${bytes * 2} hex digits`);
  return value.toUpperCase();
}

/** The bytes of a hex parameter. */
export const hexBytes = (value: unknown, name: string, bytes: number): Uint8Array =>
  fromHex(hexParam(value, name, bytes));

/** A card serial: the 20-hex-digit PBOC application serial, uppercase. */
export const cardSerialParam = (value: unknown, name = 'cardSerial'): string => hexParam(value, name, 10);

/** A terminal ID: 12 hex digits, uppercase. */
export const terminalIdParam = (value: unknown, name = 'terminalId'): string => hexParam(value, name, 6);

/** An MSISDN: 5–15 digits. */
export function msisdnParam(value: unknown, name = 'msisdn'): string {
  if (typeof value !== 'string' || !/^[0-9]{5,15}$/.test(value)) throw new ArgumentError(`${name} must be 5–15 digits`);
  return value;
}

/** An integer in `min … max`. */
export function intParam(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max)
    throw new ArgumentError(`${name} must be an integer from ${min} to ${max}`);
  return value;
}

/** An amount of a card transaction: 1 … 2³²−1 fen (the purse's 4-byte field). */
export const cardAmountParam = (value: unknown, name = 'amount'): number => intParam(value, name, 1, 0xffffffff);

/** A 2-byte card counter. */
export const counterParam = (value: unknown, name: string): number => intParam(value, name, 0, 0xffff);

/** `YYYYMMDD` of a real calendar day. */
export function dateParam(value: unknown, name = 'date'): string {
  if (typeof value !== 'string' || !/^[0-9]{8}$/.test(value)) throw new ArgumentError(`${name} must be YYYYMMDD`);
  const y = Number(value.slice(0, 4));
  const m = Number(value.slice(4, 6));
  const d = Number(value.slice(6, 8));
  const day = new Date(Date.UTC(y, m - 1, d));
  if (m < 1 || m > 12 || day.getUTCDate() !== d) throw new ArgumentError(`${name} is not a calendar day: ${value}`);
  return value;
}

/** `HHMMSS` of a real time of day. */
export function timeParam(value: unknown, name = 'time'): string {
  if (typeof value !== 'string' || !/^[0-9]{6}$/.test(value)) throw new ArgumentError(`${name} must be HHMMSS`);
  if (Number(value.slice(0, 2)) > 23 || Number(value.slice(2, 4)) > 59 || Number(value.slice(4, 6)) > 59)
    throw new ArgumentError(`${name} is not a time of day: ${value}`);
  return value;
}

/** The params object of an operation. */
export function paramsObject<T>(value: T, name = 'params'): T {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ArgumentError(`${name} must be an object`);
  return value;
}
