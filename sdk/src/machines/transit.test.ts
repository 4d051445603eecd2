import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../core/bytes';
import { ArgumentError, ParseError } from '../core/errors';
import { fixedClock, txnDateTime } from './clock';
import type { TransitRecord } from './records';
import { decodeTransitRecord, distanceFare, encodeTransitRecord, flatFare, TRANSIT_RECORD_LENGTH } from './transit';

const entry = (station: number, amount = 0, line = 1): TransitRecord => ({
  type: 'entry',
  station: { line, station },
  terminalId: fromHex('440100000002'),
  amount,
  balance: 4321,
  date: fromHex('20260301'),
  time: fromHex('090000'),
});

describe('travel record', () => {
  it('encodes the documented layout and round-trips', () => {
    const b = encodeTransitRecord(1, entry(7, 200));
    expect(b.length).toBe(TRANSIT_RECORD_LENGTH);
    expect(toHex(b.subarray(0, 29))).toBe('012E03440100000002010001000700000' + '0C8000010E12026030109' + '0000');
    expect(decodeTransitRecord(b)).toEqual(entry(7, 200));
  });

  it('round-trips any valid record (property)', () => {
    const arb = fc.record({
      type: fc.constantFrom('entry' as const, 'exit' as const),
      station: fc.record({ line: fc.nat(0xffff), station: fc.nat(0xffff) }),
      terminalId: fc.uint8Array({ minLength: 6, maxLength: 6 }),
      amount: fc.nat({ max: 0xffffffff }),
      balance: fc.nat({ max: 0xffffffff }),
      date: fc.uint8Array({ minLength: 4, maxLength: 4 }),
      time: fc.uint8Array({ minLength: 3, maxLength: 3 }),
    });
    fc.assert(
      fc.property(fc.nat(0xff), arb, (id, r) => {
        expect(decodeTransitRecord(encodeTransitRecord(id, r))).toEqual(r);
      }),
    );
  });

  it('decodes a never-written record as undefined and rejects garbage with ParseError', () => {
    expect(decodeTransitRecord(new Uint8Array(48))).toBeUndefined();
    const bad = new Uint8Array(48);
    bad[2] = 0x77;
    expect(() => decodeTransitRecord(bad)).toThrow(ParseError);
    expect(() => decodeTransitRecord(new Uint8Array(47))).toThrow(ParseError);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 60 }), (b) => {
        try {
          decodeTransitRecord(b);
        } catch (e) {
          expect(e).toBeInstanceOf(ParseError);
        }
      }),
    );
  });

  it('rejects out-of-range fields with BAD_ARGUMENT', () => {
    expect(() => encodeTransitRecord(256, entry(1))).toThrow(ArgumentError);
    expect(() => encodeTransitRecord(1, { ...entry(1), station: { line: -1, station: 0 } })).toThrow(ArgumentError);
    expect(() => encodeTransitRecord(1, { ...entry(1), terminalId: new Uint8Array(5) })).toThrow(ArgumentError);
    expect(() => encodeTransitRecord(1, { ...entry(1), type: 'x' as never })).toThrow(ArgumentError);
  });
});

describe('fare rules', () => {
  it('flatFare deducts the entry charge and charges noEntryFare without entry', () => {
    const f = flatFare(300, 600);
    expect(f(entry(1), { line: 1, station: 9 })).toBe(300);
    expect(f(entry(1, 100), { line: 1, station: 9 })).toBe(200);
    expect(f(entry(1, 500), { line: 1, station: 9 })).toBe(0);
    expect(f(undefined, { line: 1, station: 9 })).toBe(600);
    expect(f({ ...entry(1), type: 'exit' }, { line: 1, station: 9 })).toBe(600);
  });

  it('distanceFare charges base + per stop beyond the included ones, capped', () => {
    const f = distanceFare({ base: 200, includedStops: 2, perStop: 50, max: 500 });
    expect(f(entry(5), { line: 1, station: 6 })).toBe(200);
    expect(f(entry(5), { line: 1, station: 9 })).toBe(300);
    expect(f(entry(5), { line: 1, station: 1 })).toBe(300);
    expect(f(entry(1), { line: 1, station: 30 })).toBe(500);
    expect(f(entry(1), { line: 2, station: 1 })).toBe(200); // transfer counts 2 stops
    expect(f(entry(5, 250), { line: 1, station: 9 })).toBe(50);
    expect(f(undefined, { line: 1, station: 9 })).toBe(500);
    expect(() => distanceFare({ base: -1, perStop: 1 })).toThrow(ArgumentError);
  });
});

describe('clock', () => {
  it('encodes the terminal-local date and time (UTC+8 by default)', () => {
    const c = fixedClock(new Date('2026-12-31T20:00:05Z'), 1000);
    const a = txnDateTime(c);
    expect(toHex(a.date) + toHex(a.time)).toBe('20270101040005');
    const b = txnDateTime(c, 0);
    expect(toHex(b.date) + toHex(b.time)).toBe('20261231200006');
  });
});
