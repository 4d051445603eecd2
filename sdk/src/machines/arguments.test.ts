/**
 * What an integrator calling `@simtap/sdk/machines` from JavaScript gets for wrong arguments: an `ArgumentError`
 * with code `BAD_ARGUMENT` naming the argument, never a bare `TypeError` (`checkStatus` with a misspelt command name
 * included).
 */
import { describe, expect, it } from 'vitest';
import { describeHostileArguments, isUndefined, optionsBag } from '../../test/hostile-arguments';
import * as card from '../card';
import { fromHex } from '../core/bytes';
import { ArgumentError } from '../core/errors';
import { referenceProfile } from '../core/profile';
import * as machines from '.';
import { ScriptedChannel } from './test-support';

const OK_RESPONSE = { sw: 0x9000, sw1: 0x90, sw2: 0x00, data: new Uint8Array(0) };
const channel = () => new card.InProcessChannel({ transmit: () => fromHex('9000') });
const psam = () => new machines.PsamDriver(channel());
const consumption = () => new machines.ConsumptionMachine({ card: channel(), psam: psam() });
const recharge = () =>
  new machines.RechargeMachine({
    card: channel(),
    authorizer: machines.IssuerKeyAuthorizer.fromProfile(referenceProfile()),
    terminalId: new Uint8Array(6),
  });

/** Every argument position of every exported function an integrator calls, with the others valid. */
const CALLS: Record<string, (v: unknown) => unknown> = {
  'fixedClock(at)': (v) => machines.fixedClock(v as Date),
  'fixedClock(at, stepMs)': (v) => machines.fixedClock(new Date(0), v as number),
  'txnDateTime(clock)': (v) => machines.txnDateTime(v as machines.Clock),
  'txnDateTime(clock, tz)': (v) => machines.txnDateTime(machines.systemClock, v as number),
  'txnDateTime(clock answering v)': (v) => machines.txnDateTime({ now: () => v as Date }),
  'checkStatus(command)': (v) => machines.checkStatus(v as 'SELECT', OK_RESPONSE),
  'checkStatus(command, resp)': (v) => machines.checkStatus('SELECT', v as never),
  'errorForStatus(command)': (v) => machines.errorForStatus(v as 'SELECT', 0x6a82),
  'errorForStatus(command, sw)': (v) => machines.errorForStatus('SELECT', v as number),
  'selectByNameApdu(name)': (v) => machines.selectByNameApdu(v as Uint8Array),
  'selectByFidApdu(fid)': (v) => machines.selectByFidApdu(v as Uint8Array),
  'readBinarySfiApdu(sfi)': (v) => machines.readBinarySfiApdu(v as number, 0, 1),
  'readRecordApdu(record)': (v) => machines.readRecordApdu(v as number, 0x18),
  'getBalanceApdu(kind)': (v) => machines.getBalanceApdu(v as 2),
  'verifyPinApdu(pin)': (v) => machines.verifyPinApdu(v as string),
  'initializeApdu(p1)': (v) => machines.initializeApdu(v as 0, 1, 1, new Uint8Array(6)),
  'initializeApdu(…, amount)': (v) => machines.initializeApdu(0, 1, v as number, new Uint8Array(6)),
  'initializeApdu(…, kind)': (v) => machines.initializeApdu(0, 1, 1, new Uint8Array(6), v as 2),
  'debitApdu(seq)': (v) => machines.debitApdu(v as number, new Uint8Array(4), new Uint8Array(3), new Uint8Array(4)),
  'creditForLoadApdu(date)': (v) => machines.creditForLoadApdu(v as never, new Uint8Array(3), new Uint8Array(4)),
  'updateCappDataCacheApdu(…, addressing)': (v) =>
    machines.updateCappDataCacheApdu(0x17, 1, new Uint8Array(3), v as 'recordId'),
  'getTransactionProveApdu(tti)': (v) => machines.getTransactionProveApdu(v as number, 1),
  'new PsamDriver(channel)': (v) => new machines.PsamDriver(v as never),
  'new PsamDriver(channel, options)': (v) => new machines.PsamDriver(channel(), v as never),
  'psam.initForPurchase(req)': (v) => psam().initForPurchase(v as never),
  'psam.verifyMac2(mac2)': (v) => psam().verifyMac2(v as never),
  'new IssuerKeyAuthorizer(keys)': (v) => new machines.IssuerKeyAuthorizer(v as never),
  'IssuerKeyAuthorizer.fromProfile(profile)': (v) => machines.IssuerKeyAuthorizer.fromProfile(v as never),
  'authorizer.authorize(req)': (v) =>
    machines.IssuerKeyAuthorizer.fromProfile(referenceProfile()).authorize(v as never),
  'authorizer.verifyTac(check)': (v) =>
    machines.IssuerKeyAuthorizer.fromProfile(referenceProfile()).verifyTac(v as never),
  'new ConsumptionMachine(options)': (v) => new machines.ConsumptionMachine(v as never),
  'new ConsumptionMachine({ clock })': (v) =>
    new machines.ConsumptionMachine({ card: channel(), psam: psam(), clock: v as never }),
  'new ConsumptionMachine({ onRecord })': (v) =>
    new machines.ConsumptionMachine({ card: channel(), psam: psam(), onRecord: v as never }),
  'new ConsumptionMachine({ pending })': (v) =>
    new machines.ConsumptionMachine({ card: channel(), psam: psam(), pending: v as never }),
  'consumption.purchase(req)': (v) => consumption().purchase(v as never),
  'consumption.purchase({ card })': (v) => consumption().purchase({ amount: 1, card: v as never }),
  'consumption.purchase({ linkProfile })': (v) => consumption().purchase({ amount: 1, linkProfile: v as never }),
  'consumption.recover(req)': (v) => consumption().recover(v as never),
  'consumption.enter(req)': (v) => consumption().enter(v as never),
  'consumption.discardPending(serial)': (v) => consumption().discardPending(v as never),
  'new RechargeMachine(options)': (v) => new machines.RechargeMachine(v as never),
  'recharge.load(req)': (v) => recharge().load(v as never),
  'recharge.load({ card })': (v) => recharge().load({ amount: 1, card: v as never }),
  'recharge.recover(req)': (v) => recharge().recover(v as never),
  'recharge.discardPending(serial)': (v) => recharge().discardPending(v as never),
  'readPurse(channel)': (v) => machines.readPurse(v as never),
  'readPurse(channel, options)': (v) => machines.readPurse(new ScriptedChannel(), v as never),
  'encodeTransitRecord(id, record)': (v) => machines.encodeTransitRecord(1, v as never),
  'decodeTransitRecord(bytes)': (v) => machines.decodeTransitRecord(v as never),
  'flatFare(fare)': (v) => machines.flatFare(v as number),
  'distanceFare(options)': (v) => machines.distanceFare(v as never),
  'assertStation(station)': (v) => machines.assertStation(v as never),
};

/** Arguments for which some hostile values are legitimately accepted. */
const ACCEPTS: Record<string, (v: unknown) => boolean> = {
  'fixedClock(at, stepMs)': (v) => v === undefined || v === -1 || v === 1.5,
  'txnDateTime(clock, tz)': (v) => v === undefined || v === -1,
  'selectByNameApdu(name)': (v) => v instanceof Uint8Array && v.length === 3,
  'getBalanceApdu(kind)': isUndefined,
  'initializeApdu(…, kind)': isUndefined,
  'updateCappDataCacheApdu(…, addressing)': isUndefined,
  'new PsamDriver(channel, options)': optionsBag,
  'new ConsumptionMachine({ clock })': isUndefined,
  'new ConsumptionMachine({ onRecord })': (v) => v === undefined || typeof v === 'function',
  'new ConsumptionMachine({ pending })': (v) => v === undefined || (Array.isArray(v) && v.length === 0),
  'consumption.purchase({ card })': isUndefined,
  'consumption.purchase({ linkProfile })': isUndefined,
  'consumption.recover(req)': optionsBag,
  'recharge.load({ card })': isUndefined,
  'recharge.recover(req)': optionsBag,
  'readPurse(channel, options)': optionsBag,
  'IssuerKeyAuthorizer.fromProfile(profile)': isUndefined,
};

/** Decoders answer malformed input with their own `ParseError` code, as every decoder does. */
const DECODERS = new Set(['decodeTransitRecord(bytes)']);

describeHostileArguments('@simtap/sdk/machines given hostile arguments', CALLS, {
  accepts: ACCEPTS,
  decoders: DECODERS,
});

describe('checkStatus from JavaScript', () => {
  it('throws ArgumentError BAD_ARGUMENT naming the commands for a wrong command name', () => {
    for (const name of ['SELEKT', 'select', 'toString', '__proto__', 42, undefined]) {
      let err: unknown;
      try {
        machines.checkStatus(name as 'SELECT', OK_RESPONSE);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ArgumentError);
      expect(err).toMatchObject({ code: 'BAD_ARGUMENT' });
      expect((err as Error).message).toContain('expected one of SELECT, READ_BINARY');
    }
    expect(machines.checkStatus('SELECT', OK_RESPONSE)).toBe(OK_RESPONSE);
    expect(() => machines.checkStatus('SELECT', { ...OK_RESPONSE, sw: 0x6a82 })).toThrow(
      expect.objectContaining({ code: 'SW_6A82' }),
    );
  });
});
