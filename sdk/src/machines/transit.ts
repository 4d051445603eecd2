/**
 * Transit gates: the travel record a gate writes into the card's composite-application (CAPP) file at entry and
 * exit, and fare rules.
 *
 * The record's bytes are the core's `cappTravelRecord` (`@simtap/sdk/core/pboc`; 48 bytes, modelled on the JT/T 978
 * travel record): record identifier (P1 of UPDATE CAPP DATA CACHE) ‖ length of the rest (46) ‖ type (03 entry,
 * 04 exit, 00 never written) ‖ gate terminal ID(6) ‖ sub-type (01 metro) ‖ line(2) ‖ station(2) ‖ amount charged
 * at this gate(4) ‖ balance after it(4) ‖ date(4) ‖ time(3) ‖ reserved(19). This module maps it to the
 * {@link TransitRecord} gates and fare rules work with.
 *
 * @module
 */
import { assertUint } from '../core/bytes';
import { ArgumentError, ParseError } from '../core/errors';
import { cappTravelRecord, TRAVEL_RECORD_SUBTYPE, TRAVEL_RECORD_TYPE } from '../core/pboc';
import type { MachineErrorCode } from './errors';
import type { TransitRecord, TransitStation } from './records';

/** Length of a travel record in the CAPP file (the core's `cappTravelRecord.length`). */
export const TRANSIT_RECORD_LENGTH = cappTravelRecord.length;

const RESERVED = new Uint8Array(19);

/**
 * Encodes a travel record with `recordId` in byte 0.
 * @throws {ArgumentError} `BAD_ARGUMENT` on an out-of-range field or a wrong-length byte field.
 */
export function encodeTransitRecord(recordId: number, r: TransitRecord): Uint8Array {
  assertUint(recordId, 'recordId', 0xff);
  if (typeof r !== 'object' || r === null) throw new ArgumentError('record: expected a TransitRecord');
  if (r.type !== 'entry' && r.type !== 'exit') throw new ArgumentError("type: expected 'entry' or 'exit'");
  assertStation(r.station);
  return cappTravelRecord.encode({
    recordId,
    length: TRANSIT_RECORD_LENGTH - 2,
    type: r.type === 'entry' ? TRAVEL_RECORD_TYPE.ENTRY : TRAVEL_RECORD_TYPE.EXIT,
    terminalId: r.terminalId,
    subType: TRAVEL_RECORD_SUBTYPE.METRO,
    line: r.station.line,
    station: r.station.station,
    amount: r.amount,
    balance: r.balance,
    date: r.date,
    time: r.time,
    reserved: RESERVED,
  });
}

/**
 * Decodes a travel record; `undefined` for a record never written (type 00, e.g. all zeros).
 * @throws {ParseError} `TRANSIT_RECORD_INVALID` on a wrong length or an unknown type.
 */
export function decodeTransitRecord(b: Uint8Array): TransitRecord | undefined {
  if (!(b instanceof Uint8Array) || b.length !== TRANSIT_RECORD_LENGTH)
    throw new ParseError<MachineErrorCode>(
      'TRANSIT_RECORD_INVALID',
      `travel record: expected ${TRANSIT_RECORD_LENGTH} bytes`,
    );
  const r = cappTravelRecord.decode(b);
  if (r.type === TRAVEL_RECORD_TYPE.NONE) return undefined;
  if (r.type !== TRAVEL_RECORD_TYPE.ENTRY && r.type !== TRAVEL_RECORD_TYPE.EXIT)
    throw new ParseError<MachineErrorCode>('TRANSIT_RECORD_INVALID', `travel record: unknown type ${r.type}`, 2);
  return {
    type: r.type === TRAVEL_RECORD_TYPE.ENTRY ? 'entry' : 'exit',
    terminalId: r.terminalId,
    station: { line: r.line, station: r.station },
    amount: r.amount,
    balance: r.balance,
    date: r.date,
    time: r.time,
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
  if (typeof o !== 'object' || o === null) throw new ArgumentError('options: expected DistanceFareOptions');
  if (o.stops !== undefined && typeof o.stops !== 'function') throw new ArgumentError('stops: expected a function');
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
