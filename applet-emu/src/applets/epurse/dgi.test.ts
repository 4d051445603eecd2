import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeKeys,
  decodeParameters,
  decodePurseState,
  decodeRecordFile,
  encodeKeys,
  encodeParameters,
  encodePin,
  encodePurseState,
  encodeRecordFile,
  isPinBlock,
} from './dgi';

const sw = (code: number) => expect.objectContaining({ sw: code });
const badArg = expect.objectContaining({ code: 'BAD_ARGUMENT' });

describe('e-purse DGI codecs', () => {
  it('encodes the parameters DGI 0201 field by field', () => {
    const p = {
      maxBalance: 100_000,
      overdraftLimit: 800,
      logRecords: 10,
      macFailureLimit: 3,
      pinTryLimit: 3,
      rules: 0x0f,
    };
    expect(toHex(encodeParameters(p))).toBe('000186A0 000320 0A 03 03 0F'.replaceAll(' ', ''));
    expect(decodeParameters(encodeParameters(p))).toEqual(p);
  });

  it('round-trips parameters and purse states (negative balances as two’s complement)', () => {
    fc.assert(
      fc.property(
        fc.record({
          maxBalance: fc.integer({ min: 0, max: 0x7fffffff }),
          overdraftLimit: fc.integer({ min: 0, max: 0xffffff }),
          logRecords: fc.integer({ min: 1, max: 254 }),
          macFailureLimit: fc.integer({ min: 0, max: 255 }),
          pinTryLimit: fc.integer({ min: 1, max: 15 }),
          rules: fc.integer({ min: 0, max: 255 }),
        }),
        fc.record({
          balance: fc.integer({ min: -0x80000000, max: 0x7fffffff }),
          online: fc.integer({ min: 0, max: 0xffff }),
          offline: fc.integer({ min: 0, max: 0xffff }),
        }),
        (p, s) => {
          expect(decodeParameters(encodeParameters(p))).toEqual(p);
          expect(decodePurseState(encodePurseState(s))).toEqual(s);
        },
      ),
    );
    expect(toHex(encodePurseState({ balance: -500, online: 1, offline: 2 }))).toBe('FFFFFE0C00010002');
  });

  it('rejects malformed values with 6A80 and bad inputs with BAD_ARGUMENT', () => {
    expect(() => decodeParameters(new Uint8Array(10))).toThrow(sw(0x6a80));
    expect(() => decodeParameters(fromHex('80000000 000000 0A 03 03 0F'))).toThrow(sw(0x6a80));
    expect(() => decodeParameters(fromHex('00000001 000000 00 03 03 0F'))).toThrow(sw(0x6a80));
    expect(() => decodeParameters(fromHex('00000001 000000 0A 03 10 0F'))).toThrow(sw(0x6a80));
    expect(() => decodePurseState(new Uint8Array(7))).toThrow(sw(0x6a80));
    expect(() => decodeKeys(new Uint8Array(0))).toThrow(sw(0x6a80));
    expect(() => decodeKeys(new Uint8Array(21))).toThrow(sw(0x6a80));
    expect(() => decodeKeys(new Uint8Array(20))).toThrow(sw(0x6a80));
    expect(() => decodeRecordFile(7, fromHex('0310 01'))).toThrow(sw(0x6a80));
    expect(() => decodeRecordFile(7, fromHex('02 10'))).toThrow(sw(0x6a80));
    expect(() => decodeRecordFile(7, fromHex(`02 02 01 0102 0304`))).toThrow(sw(0x6a80));
    expect(() => decodeRecordFile(7, fromHex(`02 02 01 010203`))).toThrow(sw(0x6a80));
    expect(() =>
      encodeParameters({
        maxBalance: -1,
        overdraftLimit: 0,
        logRecords: 1,
        macFailureLimit: 0,
        pinTryLimit: 1,
        rules: 0,
      }),
    ).toThrow(badArg);
    expect(() =>
      encodeParameters({
        maxBalance: 1,
        overdraftLimit: 0,
        logRecords: 0,
        macFailureLimit: 0,
        pinTryLimit: 1,
        rules: 0,
      }),
    ).toThrow(badArg);
    expect(() => encodePurseState({ balance: 2 ** 31, online: 0, offline: 0 })).toThrow(badArg);
    expect(() => encodeKeys([{ type: 'DPK', index: 1, version: 1, algorithm: 0, key: new Uint8Array(8) }])).toThrow(
      badArg,
    );
    expect(() => encodePin('12a4')).toThrow(badArg);
    expect(() =>
      encodeRecordFile({ sfi: 7, structure: 'linear-fixed', recordSize: 2, maxRecords: 1, records: [fromHex('01')] }),
    ).toThrow(badArg);
  });

  it('round-trips keys and record files', () => {
    const keys = [
      { type: 'DLK' as const, index: 1, version: 2, algorithm: 0, key: fromHex('00112233445566778899AABBCCDDEEFF') },
      { type: 'DPUK' as const, index: 0, version: 0, algorithm: 1, key: fromHex('FFEEDDCCBBAA99887766554433221100') },
    ];
    const enc = encodeKeys(keys);
    expect(toHex(enc.subarray(0, 4))).toBe('01010200');
    expect(decodeKeys(enc)).toEqual(keys);
    const file = {
      sfi: 0x1e,
      structure: 'cyclic' as const,
      recordSize: 2,
      maxRecords: 3,
      records: [fromHex('0102'), fromHex('0304')],
    };
    expect(toHex(encodeRecordFile(file))).toBe('060203 0102 0304'.replaceAll(' ', ''));
    expect(decodeRecordFile(0x1e, encodeRecordFile(file))).toEqual(file);
  });

  it('encodes PINs as VERIFY carries them and recognizes PIN blocks', () => {
    expect(toHex(encodePin('123456'))).toBe('123456');
    expect(toHex(encodePin('12345'))).toBe('12345F');
    expect(isPinBlock(fromHex('12345F'))).toBe(true);
    expect(isPinBlock(fromHex('1F34'))).toBe(false);
    expect(isPinBlock(fromHex('12'))).toBe(false);
    expect(isPinBlock(fromHex('A234'))).toBe(false);
    expect(isPinBlock(fromHex('12345678901234'))).toBe(false);
  });
});
