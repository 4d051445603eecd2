import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../core/bytes';
import { ArgumentError } from '../core/errors';
import {
  ApplicationLockedError,
  ConditionsNotSatisfiedError,
  InsufficientBalanceError,
  parseCommandApdu,
  parseResponseApdu,
  SecurityStatusError,
  StatusWordError,
} from '../core/iso7816';
import {
  checkStatus,
  creditForLoadApdu,
  debitApdu,
  errorForStatus,
  getBalanceApdu,
  getTransactionProveApdu,
  INITIALIZE_P1,
  initializeApdu,
  MACHINE_COMMANDS,
  type MachineCommandName,
  readBinarySfiApdu,
  readRecordApdu,
  STATUS_TABLES,
  selectByFidApdu,
  selectByNameApdu,
  updateCappDataCacheApdu,
  verifyPinApdu,
} from './commands';
import { CardLockedError, MacError } from './errors';

const hexOf = (b: Uint8Array) => toHex(b).toUpperCase();

describe('status tables', () => {
  it('have a table for every command', () => {
    expect(Object.keys(STATUS_TABLES).sort()).toEqual(Object.keys(MACHINE_COMMANDS).sort());
  });

  it.each<[MachineCommandName, number, new (...a: never[]) => StatusWordError, string]>([
    ['INITIALIZE_FOR_PURCHASE', 0x9401, InsufficientBalanceError, 'SW_9401'],
    ['INITIALIZE_FOR_CAPP_PURCHASE', 0x9401, InsufficientBalanceError, 'SW_9401'],
    ['INITIALIZE_FOR_PURCHASE', 0x9303, CardLockedError, 'SW_9303'],
    ['SELECT', 0x6283, CardLockedError, 'SW_6283'],
    ['DEBIT_FOR_PURCHASE', 0x9302, MacError, 'SW_9302'],
    ['CREDIT_FOR_LOAD', 0x9302, MacError, 'SW_9302'],
    ['PSAM_CREDIT_FOR_PURCHASE', 0x9302, MacError, 'SW_9302'],
    ['DEBIT_FOR_PURCHASE', 0x6985, ConditionsNotSatisfiedError, 'SW_6985'],
    ['INITIALIZE_FOR_LOAD', 0x6982, SecurityStatusError, 'SW_6982'],
    ['INITIALIZE_FOR_PURCHASE', 0x9403, StatusWordError, 'SW_9403'],
    ['GET_TRANSACTION_PROVE', 0x9406, StatusWordError, 'SW_9406'],
    ['READ_BINARY', 0x6a82, StatusWordError, 'SW_6A82'],
    ['GET_BALANCE', 0x6d00, StatusWordError, 'SW_6D00'],
  ])('%s answering %s throws %o with code %s', (command, sw, cls, code) => {
    const err = errorForStatus(command, sw);
    expect(err).toBeInstanceOf(cls);
    expect(err).toMatchObject({ code, sw, command });
  });

  it('a locked card is both a CardLockedError and an ApplicationLockedError', () => {
    expect(errorForStatus('DEBIT_FOR_PURCHASE', 0x9303)).toBeInstanceOf(ApplicationLockedError);
  });

  it('MacError says who refused the MAC', () => {
    expect(errorForStatus('DEBIT_FOR_PURCHASE', 0x9302)).toMatchObject({ origin: 'card' });
    expect(errorForStatus('CREDIT_FOR_LOAD', 0x9302)).toMatchObject({ origin: 'card' });
    expect(errorForStatus('PSAM_CREDIT_FOR_PURCHASE', 0x9302)).toMatchObject({ origin: 'psam' });
    expect(errorForStatus('PSAM_CREDIT_FOR_PURCHASE', 0x9302).message).toMatch(/PSAM rejected/);
  });

  it('checkStatus passes 9000 and throws otherwise', () => {
    const ok = parseResponseApdu(fromHex('01029000'));
    expect(checkStatus('GET_BALANCE', ok)).toBe(ok);
    expect(() => checkStatus('GET_BALANCE', parseResponseApdu(fromHex('6A82')))).toThrow(StatusWordError);
    // a warning is not success: a blocked application's FCI comes with 6283
    expect(() => checkStatus('SELECT', parseResponseApdu(fromHex('6F006283')))).toThrow(CardLockedError);
  });
});

describe('APDU builders', () => {
  it('build the docs/spec.md §4 layouts', () => {
    const tid = fromHex('440100000001');
    expect(hexOf(selectByNameApdu(fromHex('A000000632010105')))).toBe('00A4040008A00000063201010500');
    expect(hexOf(selectByFidApdu(fromHex('DF01')))).toBe('00A4000002DF0100');
    expect(hexOf(readBinarySfiApdu(0x15, 0, 30))).toBe('00B095001E');
    expect(hexOf(readRecordApdu(1, 0x18, 23))).toBe('00B201C417');
    expect(hexOf(getBalanceApdu())).toBe('805C000204');
    expect(hexOf(initializeApdu(INITIALIZE_P1.PURCHASE, 1, 1250, tid))).toBe('805001020B01000004E24401000000010F');
    expect(hexOf(initializeApdu(INITIALIZE_P1.CAPP_PURCHASE, 1, 0, tid))).toBe('805003020B01000000004401000000010F');
    expect(hexOf(initializeApdu(INITIALIZE_P1.LOAD, 1, 5000, tid))).toBe('805000020B010000138844010000000110');
    expect(hexOf(debitApdu(7, fromHex('20260301'), fromHex('100304'), fromHex('A1B2C3D4')))).toBe(
      '805401000F0000000720260301100304A1B2C3D408',
    );
    expect(hexOf(creditForLoadApdu(fromHex('20260301'), fromHex('100304'), fromHex('01020304')))).toBe(
      '805200000B2026030110030401020304' + '04',
    );
    expect(hexOf(getTransactionProveApdu(0x06, 0x0102))).toBe('805A0006020102' + '08');
    expect(hexOf(verifyPinApdu('123456'))).toBe('0020000003123456');
    expect(hexOf(verifyPinApdu('12345'))).toBe('002000000312345F');
    const rec = new Uint8Array(48);
    rec[0] = 1;
    expect(hexOf(updateCappDataCacheApdu(0x17, 1, rec)).slice(0, 10)).toBe('80DC01B830');
    expect(hexOf(updateCappDataCacheApdu(0x17, 2, rec, 'recordNumber')).slice(0, 10)).toBe('80DC02BC30');
  });

  it('produce APDUs the core parser accepts', () => {
    const c = parseCommandApdu(debitApdu(1, fromHex('20260301'), fromHex('100304'), fromHex('00000000')));
    expect(c).toMatchObject({ cla: 0x80, ins: 0x54, p1: 1, p2: 0, ne: 8 });
    expect(c.data.length).toBe(15);
  });

  it('reject out-of-range input with BAD_ARGUMENT', () => {
    const tid = fromHex('440100000001');
    expect(() => initializeApdu(INITIALIZE_P1.PURCHASE, 1, -1, tid)).toThrow(ArgumentError);
    expect(() => initializeApdu(INITIALIZE_P1.PURCHASE, 1, 2 ** 32, tid)).toThrow(ArgumentError);
    expect(() => initializeApdu(INITIALIZE_P1.PURCHASE, 256, 1, tid)).toThrow(ArgumentError);
    expect(() => initializeApdu(INITIALIZE_P1.PURCHASE, 1, 1, tid.subarray(1))).toThrow(ArgumentError);
    expect(() => selectByNameApdu(new Uint8Array(17))).toThrow(ArgumentError);
    expect(() => selectByNameApdu(new Uint8Array(0))).toThrow(ArgumentError);
    expect(() => readRecordApdu(1, 31)).toThrow(ArgumentError);
    expect(() => verifyPinApdu('12a4')).toThrow(ArgumentError);
    expect(() => updateCappDataCacheApdu(0x17, 1, new Uint8Array(0))).toThrow(ArgumentError);
    expect(() => getTransactionProveApdu(6, 0x10000)).toThrow(ArgumentError);
    expect(() => debitApdu(1, new Uint8Array(3), new Uint8Array(3), new Uint8Array(4))).toThrow(ArgumentError);
  });
});
