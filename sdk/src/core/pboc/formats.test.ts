import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import vectors from '../../../test/vectors/pboc-ep-mac.json';
import { fromHex, hex, readU16, readU24, readU32, toHex } from '../bytes';
import { ParseError, SimtapError } from '../errors';
import {
  debitResponse,
  decodeDebitResponse,
  decodeEf15,
  decodeInitForLoadResponse,
  decodeInitForPurchaseResponse,
  decodeTransactionLogRecord,
  diversificationDataOf,
  encodeEf15,
  encodeInitForLoadResponse,
  encodeTransactionLogRecord,
  initForLoadResponse,
  initForPurchaseResponse,
  PBOC_CODECS,
  TTI,
  transactionLogRecord,
} from './formats';

type Case = Record<string, unknown>;
const byId = (id: string): Case => {
  const c = (vectors.cases as Case[]).find((x) => x.id === id);
  if (!c) throw new Error(`vector ${id} missing`);
  return c;
};

describe('codec examples (generic round trip)', () => {
  for (const codec of PBOC_CODECS) {
    describe(codec.name, () => {
      it('has examples', () => expect(codec.examples.length).toBeGreaterThan(0));
      codec.examples.forEach(([text, value], i) => {
        it(`example ${i}: decode, encode, round trip`, () => {
          const bytes = fromHex(text);
          expect(bytes).toHaveLength(codec.length);
          expect(codec.decode(bytes)).toEqual(value);
          expect(toHex(codec.encode(value))).toBe(toHex(bytes));
          expect(toHex(codec.encode(codec.decode(bytes)))).toBe(toHex(bytes));
        });
      });
      it('rejects one byte too few or too many with PBOC_BAD_LENGTH', () => {
        const ok = fromHex(codec.examples[0]![0]);
        for (const bad of [ok.subarray(1), new Uint8Array([...ok, 0]), new Uint8Array(0)]) {
          let err: unknown;
          try {
            codec.decode(bad);
          } catch (e) {
            err = e;
          }
          expect(err).toBeInstanceOf(ParseError);
          expect((err as ParseError).code).toBe('PBOC_BAD_LENGTH');
        }
      });
      it('decodes any bytes of its length and re-encodes them unchanged; other lengths give ParseError', () => {
        fc.assert(
          fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
            if (bytes.length === codec.length) {
              expect(toHex(codec.encode(codec.decode(bytes)))).toBe(toHex(bytes));
            } else {
              expect(() => codec.decode(bytes)).toThrow(ParseError);
            }
          }),
          { numRuns: 200 },
        );
      });
      it('rejects a non-Uint8Array with ParseError, not TypeError', () => {
        expect(() => codec.decode('00' as unknown as Uint8Array)).toThrow(ParseError);
        expect(() => codec.decode(undefined as unknown as Uint8Array)).toThrow(ParseError);
      });
    });
  }

  it('decoded byte fields are copies, not views of the input', () => {
    const bytes = fromHex(initForLoadResponse.examples[0]![0]);
    const r = decodeInitForLoadResponse(bytes);
    bytes.fill(0);
    expect(toHex(r.mac1)).toBe('2988AE5A');
  });
});

describe('INITIALIZE responses of pboc-ep-mac.json', () => {
  it('load-ed-blog: INITIALIZE FOR LOAD response fields', () => {
    const c = byId('load-ed-blog');
    const fields = c.response_fields as Record<string, string>;
    const r = decodeInitForLoadResponse(fromHex(c.response_init_for_load_data as string));
    expect(r).toEqual({
      oldBalance: readU32(fromHex(fields.old_balance!), 0),
      onlineCounter: readU16(fromHex(fields.online_counter!), 0),
      keyVersion: 0x02,
      algorithmId: 0x00,
      random: fromHex(fields.random!),
      mac1: fromHex(fields.mac1!),
    });
    expect(toHex(r.mac1)).toBe(c.MAC1);
    expect(toHex(encodeInitForLoadResponse(r))).toBe(c.response_init_for_load_data);
  });

  it('purchase-ep-blog: INITIALIZE FOR PURCHASE response fields', () => {
    const c = byId('purchase-ep-blog');
    const fields = c.response_fields as Record<string, string>;
    const r = decodeInitForPurchaseResponse(fromHex(c.response_init_for_purchase_data as string));
    expect(r).toEqual({
      balance: readU32(fromHex(fields.balance!), 0),
      offlineCounter: readU16(fromHex(fields.offline_counter!), 0),
      overdraftLimit: readU24(fromHex(fields.overdraft_limit!), 0),
      keyVersion: 0x01,
      algorithmId: 0x00,
      random: fromHex(fields.random!),
    });
    expect(toHex(initForPurchaseResponse.encode(r))).toBe(c.response_init_for_purchase_data);
  });

  it('load-ep-dpj365-real-card: INITIALIZE FOR LOAD response (with SW 9000) fields', () => {
    const c = byId('load-ep-dpj365-real-card');
    const fields = c.response_fields as Record<string, string>;
    const rapdu = fromHex(c.response_init_for_load as string);
    expect(toHex(rapdu.subarray(-2))).toBe('9000');
    const r = decodeInitForLoadResponse(rapdu.subarray(0, -2));
    expect(r).toEqual({
      oldBalance: 0,
      onlineCounter: 0,
      keyVersion: fromHex(fields.key_version!)[0],
      algorithmId: fromHex(fields.alg_id!)[0],
      random: fromHex(fields.random!),
      mac1: fromHex(fields.mac1!),
    });
    expect(r.algorithmId).toBe(1);
    expect(() => decodeInitForLoadResponse(rapdu)).toThrow(ParseError);
  });
});

describe('DEBIT response, EF15, EF18', () => {
  it('DEBIT response is TAC ‖ MAC2', () => {
    const r = decodeDebitResponse(hex`AABBCCDD 56988A13`);
    expect(toHex(r.tac)).toBe('AABBCCDD');
    expect(toHex(r.mac2)).toBe('56988A13');
    expect(debitResponse.length).toBe(8);
  });

  it('EF15 fields sit at the docs/spec.md §3.2 offsets (serial 10..19, dates 20..27)', () => {
    const bytes = new Uint8Array(30).map((_, i) => i);
    const ef = decodeEf15(bytes);
    expect(ef.applicationType).toBe(8);
    expect(ef.applicationVersion).toBe(9);
    expect(toHex(ef.applicationSerial)).toBe('0A0B0C0D0E0F10111213');
    expect(toHex(ef.startDate)).toBe('14151617');
    expect(toHex(ef.expiryDate)).toBe('18191A1B');
    expect(toHex(ef.fciCustom)).toBe('1C1D');
    expect(toHex(encodeEf15(ef))).toBe(toHex(bytes));
  });

  it('the real T-Union log record decodes as a 5.00 yuan composite purchase', () => {
    const rec = decodeTransactionLogRecord(fromHex(transactionLogRecord.examples[0]![0]));
    expect(rec.tti).toBe(TTI.CAPP_PURCHASE);
    expect(rec.amount).toBe(500);
    expect(rec.counter).toBe(0x042d);
  });

  it('encoders reject out-of-range fields with BAD_ARGUMENT', () => {
    const rec = transactionLogRecord.examples[0]![1];
    for (const bad of [
      { ...rec, counter: 0x10000 },
      { ...rec, overdraftLimit: 0x1000000 },
      { ...rec, amount: -1 },
      { ...rec, terminalId: new Uint8Array(5) },
      { ...rec, time: 'now' as unknown as Uint8Array },
    ]) {
      let err: unknown;
      try {
        encodeTransactionLogRecord(bad);
      } catch (e) {
        err = e;
      }
      expect((err as SimtapError).code).toBe('BAD_ARGUMENT');
    }
  });

  it('diversification data = rightmost 8 bytes of the serial', () => {
    expect(toHex(diversificationDataOf(hex`00004401202600000001`))).toBe('4401202600000001');
    expect(() => diversificationDataOf(new Uint8Array(8))).toThrow(SimtapError);
  });
});
