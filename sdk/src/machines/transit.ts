/**
 * Transit gates: the travel record a gate writes into the card's composite-application (CAPP) file at entry and
 * exit, and fare rules.
 *
 * Record layout (48 bytes, one record of the CAPP file, addressed by its identifier = byte 0; modelled on the
 * JT/T 978 travel record, digest a.1):
 *
 * | off | len | field |
 * |---|---|---|
 * | 0 | 1 | record identifier (P1 of UPDATE CAPP DATA CACHE) |
 * | 1 | 1 | length of the rest (46) |
 * | 2 | 1 | type: 03 entry, 04 exit (00 = never written) |
 * | 3 | 6 | terminal ID of the gate |
 * | 9 | 1 | sub-type: 01 metro |
 * | 10 | 2 | line |
 * | 12 | 2 | station |
 * | 14 | 4 | amount charged at this gate (fen) |
 * | 18 | 4 | balance after this gate (fen) |
 * | 22 | 4 | date YYYYMMDD (BCD) |
 * | 26 | 3 | time hhmmss (BCD) |
 * | 29 | 19 | reserved (00) |
 *
 * @module
 */
import { assertBytes, assertUint, readUint } from '../core/bytes';
import { ArgumentError, ParseError } from '../core/errors';
import type { TransitRecord, TransitStation } from './records';

/** Length of a travel record in the CAPP file. */
export const TRANSIT_RECORD_LENGTH = 48;

const TYPE_ENTRY = 0x03;
const TYPE_EXIT = 0x04;
const SUBTYPE_METRO = 0x01;

/**
 * Encodes a travel record with `recordId` in byte 0.
 * @throws {ArgumentError} `BAD_ARGUMENT` on an out-of-range field or a wrong-length byte field.
 */
export function encodeTransitRecord(recordId: number, r: TransitRecord): Uint8Array {
  assertUint(recordId, 'recordId', 0xff);
  if (r.type !== 'entry' && r.type !== 'exit') throw new ArgumentError("type: expected 'entry' or 'exit'");
  assertStation(r.station);
  assertBytes(r.terminalId, 'terminalId', 6);
  assertUint(r.amount, 'amount', 0xffffffff);
  assertUint(r.balance, 'balance', 0xffffffff);
  assertBytes(r.date, 'date', 4);
  assertBytes(r.time, 'time', 3);
  const out = new Uint8Array(TRANSIT_RECORD_LENGTH);
  out[0] = recordId;
  out[1] = TRANSIT_RECORD_LENGTH - 2;
  out[2] = r.type === 'entry' ? TYPE_ENTRY : TYPE_EXIT;
  out.set(r.terminalId, 3);
  out[9] = SUBTYPE_METRO;
  write(out, 10, r.station.line, 2);
  write(out, 12, r.station.station, 2);
  write(out, 14, r.amount, 4);
  write(out, 18, r.balance, 4);
  out.set(r.date, 22);
  out.set(r.time, 26);
  return out;
}

/**
 * Decodes a travel record; `undefined` for a record never written (type 00, e.g. all zeros).
 * @throws {ParseError} `TRANSIT_RECORD_INVALID` on a wrong length or an unknown type.
 */
export function decodeTransitRecord(b: Uint8Array): TransitRecord | undefined {
  if (!(b instanceof Uint8Array) || b.length !== TRANSIT_RECORD_LENGTH)
    throw new ParseError('TRANSIT_RECORD_INVALID', `travel record: expected ${TRANSIT_RECORD_LENGTH} bytes`);
  const type = b[2];
  if (type === 0x00) return undefined;
  if (type !== TYPE_ENTRY && type !== TYPE_EXIT)
    throw new ParseError('TRANSIT_RECORD_INVALID', `travel record: unknown type ${type}`, 2);
  return {
    type: type === TYPE_ENTRY ? 'entry' : 'exit',
    terminalId: b.slice(3, 9),
    station: { line: readUint(b, 10, 2), station: readUint(b, 12, 2) },
    amount: readUint(b, 14, 4),
    balance: readUint(b, 18, 4),
    date: b.slice(22, 26),
    time: b.slice(26, 29),
  };
}

/**
 * The fare of a trip: `entry` is the card's last entry record (undefined when the card shows no open trip), and
 * `exit` the station where the card leaves. Returns the amount to debit at the exit gate, in fen.
 */
export type FareRule = (entry: TransitRecord | undefined, exit: TransitStation) => number;

/** What the entry gate charges: a constant (0 = nothing, or a deposit) or a function of the station. */
export type EntryCharge = number | ((station: TransitStation) => number);

/**
 * A flat fare: every trip costs `fare`; a trip without an entry record costs `noEntryFare` (default `fare`). What
 * the entry gate charged is deducted (never below 0).
 * @throws {ArgumentError} `BAD_ARGUMENT` on a negative or non-integer amount.
 */
export function flatFare(fare: number, noEntryFare = fare): FareRule {
  assertUint(fare, 'fare', 0xffffffff);
  assertUint(noEntryFare, 'noEntryFare', 0xffffffff);
  return (entry) => (entry?.type === 'entry' ? Math.max(0, fare - entry.amount) : noEntryFare);
}

/** Options of {@link distanceFare}. */
export interface DistanceFareOptions {
  /** Fare of a trip of up to `includedStops` stops, fen. */
  readonly base: number;
  /** Stops included in the base fare (default 0). */
  readonly includedStops?: number;
  /** Fare per stop beyond the included ones, fen. */
  readonly perStop: number;
  /** Highest fare, fen (default unlimited). */
  readonly max?: number;
  /** Fare when the card has no entry record (default `max`, else `base`). */
  readonly noEntryFare?: number;
  /** Stops between two stations; default |Δstation| on the same line, else |Δstation| + 2 (one transfer). */
  readonly stops?: (from: TransitStation, to: TransitStation) => number;
}

/**
 * A distance fare: `base` + `perStop` × (stops − `includedStops`), capped at `max`; what the entry gate charged
 * is deducted (never below 0).
 * @throws {ArgumentError} `BAD_ARGUMENT` on a negative or non-integer amount.
 * @example distanceFare({ base: 300, includedStops: 4, perStop: 50, max: 900 })
 */
export function distanceFare(o: DistanceFareOptions): FareRule {
  assertUint(o.base, 'base', 0xffffffff);
  assertUint(o.perStop, 'perStop', 0xffffffff);
  const included = o.includedStops ?? 0;
  assertUint(included, 'includedStops', 0xffff);
  if (o.max !== undefined) assertUint(o.max, 'max', 0xffffffff);
  const noEntry = o.noEntryFare ?? o.max ?? o.base;
  assertUint(noEntry, 'noEntryFare', 0xffffffff);
  const stops = o.stops ?? defaultStops;
  return (entry, exit) => {
    if (entry?.type !== 'entry') return noEntry;
    const n = stops(entry.station, exit);
    let fare = o.base + o.perStop * Math.max(0, n - included);
    if (o.max !== undefined) fare = Math.min(fare, o.max);
    return Math.max(0, fare - entry.amount);
  };
}

function defaultStops(a: TransitStation, b: TransitStation): number {
  const d = Math.abs(a.station - b.station);
  return a.line === b.line ? d : d + 2;
}

/** @throws {ArgumentError} `BAD_ARGUMENT` unless line and station are 0..65535. */
export function assertStation(s: TransitStation): void {
  if (typeof s !== 'object' || s === null) throw new ArgumentError('station: expected { line, station }');
  assertUint(s.line, 'station.line', 0xffff);
  assertUint(s.station, 'station.station', 0xffff);
}

function write(b: Uint8Array, o: number, v: number, n: number): void {
  for (let i = n - 1; i >= 0; i--, v = Math.floor(v / 256)) b[o + i] = v & 0xff;
}
