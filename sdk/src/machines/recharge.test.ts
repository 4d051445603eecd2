import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../core/bytes';
import { ArgumentError, CryptoError } from '../core/errors';
import { SecurityStatusError } from '../core/iso7816';
import { IssuerTacVerifier, loadMac1, loadMac2, loadSessionKey, loadTac, TTI } from '../core/pboc';
import { cardProfile, referenceProfile } from '../core/profile';
import { fixedClock } from './clock';
import { CardLeftFieldError, MacError, TacError } from './errors';
import {
  IssuerKeyAuthorizer,
  type LoadAuthorizationRequest,
  type LoadAuthorizer,
  RechargeMachine,
  type RechargeMachineOptions,
} from './recharge';
import type { LoadResult } from './records';
import { cardRemoved, ScriptedChannel, type ScriptStep } from './test-support';

const card1 = cardProfile('card-1');
const SERIAL = toHex(card1.applicationSerial);
const TID = fromHex('440100000009');
const DATE = fromHex('20260301');
const TIME = fromHex('100304');
const RANDOM = fromHex('0A0B0C0D');
const u32 = (v: number) => v.toString(16).padStart(8, '0').toUpperCase();
const u16 = (v: number) => v.toString(16).padStart(4, '0').toUpperCase();

const identify: ScriptStep[] = [
  { cmd: '00A4040008A00000063201010500', rsp: '6F0A8408A0000006320101059000' },
  { cmd: '00B095001E', rsp: `4401000000000000 02 01 ${SERIAL} 20260101 20361231 0000 9000` },
];

const seslk = (ctr: number) => loadSessionKey(card1.keys.DLK.key, RANDOM, ctr);
/** What a genuine card-1 answers to INITIALIZE FOR LOAD. */
function initLoadRsp(oldBalance: number, ctr: number, amount: number): string {
  const mac1 = loadMac1({ sessionKey: seslk(ctr), oldBalance, amount, tti: TTI.EP_LOAD, terminalId: TID });
  return `${u32(oldBalance)}${u16(ctr)}0100${toHex(RANDOM)}${toHex(mac1)}9000`;
}
const mac2Of = (ctr: number, amount: number) =>
  toHex(loadMac2({ sessionKey: seslk(ctr), amount, tti: TTI.EP_LOAD, terminalId: TID, date: DATE, time: TIME }));
const tacOf = (newBalance: number, ctr: number, amount: number) =>
  toHex(
    loadTac({
      tacKey: card1.tacSingleDesKey,
      newBalance,
      onlineCounter: ctr,
      amount,
      tti: TTI.EP_LOAD,
      terminalId: TID,
      date: DATE,
      time: TIME,
    }),
  );

/** Clearing's view: the issuer's TAC check; every completed load's TAC must be the card's. */
const clearing = new IssuerTacVerifier(referenceProfile().issuer.masterKeys.tacMasterKey);
function expectClears(records: readonly LoadResult[]): void {
  for (const r of records)
    if (r.status === 'completed')
      expect(clearing.verifyLoad({ ...r, newBalance: r.balanceAfter }, r.cardSerial)).toBe(true);
}

function kiosk(card: ScriptedChannel, extra: Partial<RechargeMachineOptions> = {}) {
  const records: LoadResult[] = [];
  const m = new RechargeMachine({
    card,
    authorizer: IssuerKeyAuthorizer.fromProfile(referenceProfile()),
    terminalId: TID,
    clock: fixedClock(new Date('2026-03-01T02:03:04Z')),
    onRecord: (r) => records.push(r),
    ...extra,
  });
  return { m, records };
}

const loadSteps = (oldBalance: number, ctr: number, amount: number): ScriptStep[] => [
  ...identify,
  { cmd: `805000020B01${u32(amount)}${toHex(TID)}10`, rsp: initLoadRsp(oldBalance, ctr, amount) },
  {
    cmd: `805200000B${toHex(DATE)}${toHex(TIME)}${mac2Of(ctr, amount)}04`,
    rsp: `${tacOf(oldBalance + amount, ctr, amount)}9000`,
  },
];

describe('IssuerKeyAuthorizer', () => {
  const req = (over: Partial<LoadAuthorizationRequest> = {}): LoadAuthorizationRequest => ({
    cardSerial: card1.applicationSerial,
    amount: 5000,
    terminalId: TID,
    oldBalance: 0,
    onlineCounter: 0,
    random: RANDOM,
    keyVersion: 1,
    algId: 0,
    mac1: loadMac1({ sessionKey: seslk(0), oldBalance: 0, amount: 5000, tti: TTI.EP_LOAD, terminalId: TID }),
    date: DATE,
    time: TIME,
    tti: TTI.EP_LOAD,
    ...over,
  });

  it("derives the card's DLK from the load master key: MAC1 verifies and MAC2 is the card's", async () => {
    const a = IssuerKeyAuthorizer.fromProfile(referenceProfile());
    const { mac2 } = await a.authorize(req());
    expect(toHex(mac2)).toBe(mac2Of(0, 5000));
  });

  it('refuses a wrong MAC1 with CryptoError MAC1_INVALID', async () => {
    const a = IssuerKeyAuthorizer.fromProfile(referenceProfile());
    const e = await a.authorize(req({ mac1: fromHex('00000000') })).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CryptoError);
    expect(e).toMatchObject({ code: 'MAC1_INVALID' });
    // MAC1 is bound to the amount
    await expect(a.authorize(req({ amount: 5001 }))).rejects.toMatchObject({ code: 'MAC1_INVALID' });
  });

  it('verifies load TACs with the DTK of the TAC master key', async () => {
    const a = IssuerKeyAuthorizer.fromProfile(referenceProfile());
    const check = {
      cardSerial: card1.applicationSerial,
      newBalance: 5000,
      onlineCounter: 0,
      amount: 5000,
      tti: TTI.EP_LOAD,
      terminalId: TID,
      date: DATE,
      time: TIME,
      tac: fromHex(tacOf(5000, 0, 5000)),
    };
    expect(await a.verifyTac(check)).toBe(true);
    expect(await a.verifyTac({ ...check, newBalance: 5001 })).toBe(false);
    const noTac = new IssuerKeyAuthorizer({ loadMasterKey: new Uint8Array(16) });
    await expect(noTac.verifyTac(check)).rejects.toMatchObject({ code: 'NO_TAC_KEY' });
    expect(JSON.stringify(a)).not.toMatch(/0102030405/);
    expect(() => new IssuerKeyAuthorizer({ loadMasterKey: new Uint8Array(8) })).toThrow(ArgumentError);
  });
});

describe('RechargeMachine.load', () => {
  it('runs SELECT → EF15 → INITIALIZE FOR LOAD → authorizer → CREDIT FOR LOAD and verifies the TAC', async () => {
    const card = new ScriptedChannel(loadSteps(0, 0, 5000));
    const { m, records } = kiosk(card);
    const r = await m.load({ amount: 5000 });
    expect(card.remaining).toBe(0);
    expect(r).toMatchObject({
      status: 'completed',
      tti: 2,
      onlineCounter: 0,
      amount: 5000,
      balanceBefore: 0,
      balanceAfter: 5000,
      tacVerified: true,
      recovered: undefined,
      apduCount: 4,
    });
    expect(toHex(r.mac2)).toBe(mac2Of(0, 5000));
    expect(r.tapTime.apduCount).toBe(4);
    expect(records).toEqual([r]);
    expectClears(records);
  });

  it('verifies the PIN first when given one', async () => {
    const steps = loadSteps(100, 3, 200);
    const card = new ScriptedChannel([
      ...steps.slice(0, 2),
      { cmd: '0020000003123456', rsp: '9000' },
      ...steps.slice(2),
    ]);
    expect(await kiosk(card).m.load({ amount: 200, pin: '123456' })).toMatchObject({ apduCount: 5 });
  });

  it('does not send CREDIT when the authorizer refuses MAC1', async () => {
    const card = new ScriptedChannel([...identify, { cmd: '805000020B', rsp: initLoadRsp(0, 0, 999) }]);
    const e = await kiosk(card)
      .m.load({ amount: 5000 })
      .catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'MAC1_INVALID' });
    expect(card.sent.some((c) => c.startsWith('8052'))).toBe(false);
  });

  it('throws MacError (origin card) when the card refuses MAC2', async () => {
    const card = new ScriptedChannel([
      ...identify,
      { cmd: '805000020B', rsp: initLoadRsp(0, 0, 5000) },
      { cmd: '805200000B', rsp: '9302' },
    ]);
    const bad: LoadAuthorizer = { authorize: async () => ({ mac2: fromHex('00000000') }) };
    const e = await kiosk(card, { authorizer: bad })
      .m.load({ amount: 5000 })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MacError);
    expect(e).toMatchObject({ origin: 'card', code: 'SW_9302', command: 'CREDIT_FOR_LOAD' });
  });

  it('throws TacError with the record when the TAC does not verify; tacVerified false without verifyTac', async () => {
    const steps = loadSteps(0, 0, 5000);
    steps[3] = { cmd: '8052', rsp: '000000009000' };
    const e = (await kiosk(new ScriptedChannel(steps))
      .m.load({ amount: 5000 })
      .catch((x: unknown) => x)) as TacError;
    expect(e).toBeInstanceOf(TacError);
    expect(e.record).toMatchObject({ amount: 5000, balanceAfter: 5000, tacVerified: false });
    const plain = IssuerKeyAuthorizer.fromProfile(referenceProfile());
    const authorizer: LoadAuthorizer = { authorize: (r) => plain.authorize(r) };
    const r = await kiosk(new ScriptedChannel(loadSteps(0, 0, 5000)), { authorizer }).m.load({ amount: 5000 });
    expect(r.tacVerified).toBe(false);
  });

  it('maps 6982 (PIN needed) and rejects a zero amount', async () => {
    const card = new ScriptedChannel([...identify, { cmd: '805000020B', rsp: '6982' }]);
    const { m } = kiosk(card);
    await expect(m.load({ amount: 10 })).rejects.toBeInstanceOf(SecurityStatusError);
    await expect(m.load({ amount: 0 })).rejects.toBeInstanceOf(ArgumentError);
  });
});

describe('RechargeMachine torn load', () => {
  async function torn() {
    const card = new ScriptedChannel([
      ...identify,
      { cmd: '805000020B', rsp: initLoadRsp(0, 0, 5000) },
      { cmd: '805200000B', fail: cardRemoved() },
    ]);
    const ctx = kiosk(card);
    const e = (await ctx.m.load({ amount: 5000 }).catch((x: unknown) => x)) as CardLeftFieldError;
    return { ...ctx, card, e };
  }

  it('keeps the pending load and completes it from a proof carrying its MAC2', async () => {
    const { m, card, e, records } = await torn();
    expect(e).toBeInstanceOf(CardLeftFieldError);
    expect(e.pending).toMatchObject({ status: 'pending', onlineCounter: 0, amount: 5000 });
    card.push(...identify, { cmd: '805A000202000008', rsp: `${mac2Of(0, 5000)}${tacOf(5000, 0, 5000)}9000` });
    const r = await m.load({ amount: 5000 });
    expect(r).toMatchObject({ recovered: 'transaction-prove', tacVerified: true, balanceAfter: 5000, apduCount: 3 });
    expect(toHex(r.tac)).toBe(tacOf(5000, 0, 5000));
    expect(card.remaining).toBe(0);
    expect(m.pending).toEqual([]);
    expect(records).toEqual([r]);
    expectClears(records);
  });

  it('loads once when the card shows the load never landed', async () => {
    const { m, card } = await torn();
    card.push(
      ...identify,
      { cmd: '805A0002', rsp: '9406' },
      { cmd: '00B201C417', rsp: '6A83' },
      ...loadSteps(0, 0, 5000).slice(2),
    );
    const r = await m.load({ amount: 5000 });
    expect(r).toMatchObject({ recovered: undefined, onlineCounter: 0, balanceAfter: 5000 });
    expect(card.remaining).toBe(0);
  });

  const logOf = (amount: number, tid = toHex(TID)) =>
    `0000 000000 ${u32(amount)} 02 ${tid} ${toHex(DATE)} ${toHex(TIME)} 9000`;

  it("recover() gives an 'unproven' record, no TAC, when the proof is gone (9406) and the log shows the load", async () => {
    const { m, card, records } = await torn();
    card.push(...identify, { cmd: '805A0002', rsp: '9406' }, { cmd: '00B201C417', rsp: logOf(5000) });
    const out = await m.recover();
    expect(out).toMatchObject({
      outcome: 'unproven',
      record: { status: 'unproven', reason: 'proof-replaced', amount: 5000, log: { counter: 0, amount: 5000 } },
    });
    if (out.outcome !== 'unproven') throw new Error('expected unproven');
    expect(out.record).not.toHaveProperty('tac');
    expect(records).toEqual([out.record]);
    expect(m.pending).toEqual([]);
    expect(await kiosk(new ScriptedChannel(identify)).m.recover()).toEqual({ outcome: 'none' });
  });

  it('load() never loads the same sale again when the log shows it without proof: RECOVERY_UNDETERMINED, kept', async () => {
    const { m, card, records } = await torn();
    card.push(...identify, { cmd: '805A0002', rsp: '9406' }, { cmd: '00B201C417', rsp: logOf(5000) });
    const e = await m.load({ amount: 5000 }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'RECOVERY_UNDETERMINED' });
    expect(card.sent.filter((c) => c.startsWith('8050'))).toHaveLength(1); // no second INITIALIZE FOR LOAD
    expect(records).toEqual([]);
    expect(m.pending).toHaveLength(1);
    card.push(...identify, { cmd: '805A0002', rsp: '9406' }, { cmd: '00B201C417', rsp: logOf(5000) });
    expect(await m.recover()).toMatchObject({ outcome: 'unproven' });
    expect(records.map((r) => r.status)).toEqual(['unproven']);
    expect(m.pending).toEqual([]);
  });

  it('hands an unproven earlier load of another amount to onRecord and runs the new load', async () => {
    const { m, card, records } = await torn();
    card.push(
      ...identify,
      { cmd: '805A0002', rsp: '9406' },
      { cmd: '00B201C417', rsp: logOf(5000) },
      ...loadSteps(5000, 1, 2000).slice(2),
    );
    const r = await m.load({ amount: 2000 });
    expect(r).toMatchObject({ status: 'completed', amount: 2000, onlineCounter: 1, tacVerified: true });
    expect(records.map((x) => [x.status, x.amount])).toEqual([
      ['unproven', 5000],
      ['completed', 2000],
    ]);
    expectClears(records);
  });

  it("gives an 'unproven' record when the card proves another load (not our MAC2) but the log shows ours", async () => {
    const { m, card } = await torn();
    card.push(
      ...identify,
      { cmd: '805A0002', rsp: `00000000${tacOf(5000, 0, 5000)}9000` },
      {
        cmd: '00B201C417',
        rsp: logOf(5000),
      },
    );
    expect(await m.recover()).toMatchObject({ outcome: 'unproven', record: { reason: 'proof-refused' } });
  });

  it("drops the pending load when the card proves another terminal's load with that counter, and loads once", async () => {
    const { m, card, records } = await torn();
    card.push(
      ...identify,
      { cmd: '805A0002', rsp: `00000000111111119000` },
      { cmd: '00B201C417', rsp: logOf(5000, '440100000001') },
      ...loadSteps(5000, 1, 5000).slice(2),
    );
    const r = await m.load({ amount: 5000 });
    expect(r).toMatchObject({ recovered: undefined, onlineCounter: 1, balanceAfter: 10000 });
    expect(records).toEqual([r]);
    expectClears(records);
  });

  it('completes from the proof with the TAC unverified when the authorizer cannot verify TACs', async () => {
    const plain = IssuerKeyAuthorizer.fromProfile(referenceProfile());
    const authorizer: LoadAuthorizer = { authorize: (x) => plain.authorize(x) };
    const card = new ScriptedChannel([
      ...identify,
      { cmd: '805000020B', rsp: initLoadRsp(0, 0, 5000) },
      { cmd: '805200000B', fail: cardRemoved() },
      ...identify,
      { cmd: '805A000202000008', rsp: `${mac2Of(0, 5000)}${tacOf(5000, 0, 5000)}9000` },
    ]);
    const { m, records } = kiosk(card, { authorizer });
    await expect(m.load({ amount: 5000 })).rejects.toBeInstanceOf(CardLeftFieldError);
    const out = await m.recover();
    expect(out).toMatchObject({ outcome: 'loaded', record: { tacVerified: false, recovered: 'transaction-prove' } });
    if (out.outcome !== 'loaded') throw new Error('expected loaded');
    expect(toHex(out.record.tac)).toBe(tacOf(5000, 0, 5000)); // as the card gave it, for the platform to verify
    expectClears(records);
  });

  it('throws TacError with the record when the proven TAC does not verify', async () => {
    const { m, card, records } = await torn();
    card.push(...identify, { cmd: '805A000202000008', rsp: `${mac2Of(0, 5000)}000000009000` });
    const e = (await m.recover().catch((x: unknown) => x)) as TacError;
    expect(e).toBeInstanceOf(TacError);
    expect(e.record).toMatchObject({ status: 'completed', tacVerified: false, recovered: 'transaction-prove' });
    expect(records).toEqual([e.record]);
    expect(m.pending).toEqual([]);
  });
});

describe('RechargeMachine inspect (a look at the card inside the tap, before the load)', () => {
  it('runs after EF 0x15 and before INITIALIZE FOR LOAD; its APDUs count in the record', async () => {
    const [select, ef15, init, credit] = loadSteps(1000, 3, 500);
    const card = new ScriptedChannel([select!, ef15!, { cmd: '805C000204', rsp: '000003E8 9000' }, init!, credit!]);
    const { m, records } = kiosk(card);
    let seen: { serial: string; balance: number } | undefined;
    const r = await m.load({
      amount: 500,
      inspect: async (c) => {
        seen = { serial: toHex(c.identity.serial), balance: await c.readBalance() };
      },
    });
    expect(seen).toEqual({ serial: SERIAL, balance: 1000 });
    expect(r).toMatchObject({ status: 'completed', amount: 500, balanceAfter: 1500, apduCount: 5 });
    expect(r.tapTime.apduCount).toBe(5);
    expect(card.remaining).toBe(0);
    expect(records).toEqual([r]);
    expectClears(records);
  });

  it('a throwing inspection refuses the load: no INITIALIZE, the authorizer never asked, no record', async () => {
    const card = new ScriptedChannel([...identify]);
    const asked: LoadAuthorizationRequest[] = [];
    const authorizer: LoadAuthorizer = {
      authorize: (req) => {
        asked.push(req);
        return Promise.reject(new Error('not to be called'));
      },
      verifyTac: () => Promise.resolve(true),
    };
    const { m, records } = kiosk(card, { authorizer });
    const refused = new ArgumentError('blacklisted');
    const err = await m
      .load({
        amount: 500,
        inspect: () => {
          throw refused;
        },
      })
      .catch((e: unknown) => e);
    expect(err).toBe(refused);
    expect(card.remaining).toBe(0);
    expect(card.sent).toHaveLength(2);
    expect(asked).toEqual([]);
    expect(records).toEqual([]);
    expect(m.pending).toEqual([]);
  });

  it('rejects an inspect that is no function with BAD_ARGUMENT before sending anything', async () => {
    const card = new ScriptedChannel();
    const { m } = kiosk(card);
    await expect(m.load({ amount: 5, inspect: 'look' } as never)).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    expect(card.sent).toEqual([]);
  });
});
