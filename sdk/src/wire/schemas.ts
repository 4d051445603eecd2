/**
 * The encodings of `simtap.v1` as zod schemas: amounts integer fen, counters integers, byte strings hex (either
 * case in, uppercase out), `date` `YYYYMMDD`, `time` `HHMMSS`, `cardSerial` 20 hex digits, `terminalId` 12 hex
 * digits, `msisdn` digits, idempotency keys 1–64 printable ASCII characters.
 * @module
 */
import { z } from 'zod';

/** `n` bytes as hex (either case). */
export const hexBytes = (n: number) =>
  z
    .string()
    .regex(new RegExp(`^[0-9A-Fa-f]{${n * 2}}$`), `${n * 2} hex digits`)
    .describe(`${n} bytes, hex`);

/** The 20-hex-digit PBOC application serial. */
export const CardSerial = hexBytes(10).describe('the PBOC application serial, 20 hex digits');
/** A terminal ID, 12 hex digits. */
export const TerminalId = hexBytes(6).describe('terminal ID, 12 hex digits');
/** An MSISDN: 5–15 digits. */
export const Msisdn = z
  .string()
  .regex(/^[0-9]{5,15}$/, '5–15 digits')
  .describe('MSISDN, digits');
/** An amount of a card transaction in fen: 1 … 2³²−1. */
export const Amount = z.number().int().min(1).max(0xffffffff).describe('fen');
/** A balance or an amount in fen that may be 0. */
export const Fen = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).describe('fen');
/** A 2-byte card counter. */
export const Counter = z.number().int().min(0).max(0xffff);
/** `YYYYMMDD`. */
export const DateBcd = z
  .string()
  .regex(/^[0-9]{8}$/, 'YYYYMMDD')
  .describe('YYYYMMDD');
/** `HHMMSS`. */
export const TimeBcd = z
  .string()
  .regex(/^[0-9]{6}$/, 'HHMMSS')
  .describe('HHMMSS');
/** An idempotency key: 1–64 printable ASCII characters, scoped to the client. */
export const IdempotencyKey = z
  .string()
  .regex(/^[\x20-\x7e]{1,64}$/, '1–64 printable ASCII characters')
  .describe('1–64 printable ASCII characters, scoped to the client');
/** A load id (as `wallet.authorizeLoad` returned it). */
export const LoadId = z.string().min(1).max(128);
/** A card's life-cycle status. */
export const CardStatus = z.enum(['issued', 'personalized', 'active', 'blocked', 'lost']);
/** A load's status. */
export const LoadStatus = z.enum(['pending', 'posted', 'voided']);
/** A client id. */
export const ClientId = z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, '1–64 characters of A–Z a–z 0–9 . _ : -');

/** An offline purchase record of `clearing.submitBatch`. */
export const PurchaseRecord = z.strictObject({
  cardSerial: CardSerial,
  offlineCounter: Counter,
  amount: z.number().int().min(0).max(0xffffffff).describe('fen (0 for a free gate entry)'),
  tti: z.union([z.literal(6), z.literal(9)]).describe('6 EP purchase, 9 composite (CAPP) purchase'),
  terminalId: TerminalId,
  terminalSeq: z.number().int().min(0).max(0xffffffff),
  date: DateBcd,
  time: TimeBcd,
  tac: hexBytes(4),
  // What the machine saw besides the debit, for the operator console: not under the TAC, not cleared, not stored.
  machine: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,23}$/, 'a lowercase kind such as till, gate, bus')
    .optional()
    .describe("the machine's kind (`till`, `gate`, `bus`, …), for the console; not under the TAC"),
  tapUs: z
    .number()
    .int()
    .min(0)
    .max(60_000_000)
    .optional()
    .describe("the tap's time at the machine, µs (the SDK's tap-time model), for the console"),
  balance: z
    .number()
    .int()
    .min(0)
    .max(0xffffffff)
    .optional()
    .describe('the purse balance after the debit as the card answered it, fen, for the console; not under the TAC'),
});
