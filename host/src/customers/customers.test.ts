import { createPurseCard, hexApdu, send } from '@simtap/applet-emu/testing';
import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import { CORE_ERRORS } from '@simtap/sdk/core/errors';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LEDGER_ERRORS } from '../ledger';
import { ACCOUNT, PLATFORM_ERRORS, type Platform } from '../platform';
import { CARD1, rejectsWithCode, SERIAL1, testPlatform } from '../platform/platform.test-support';

let platform: Platform;
let clock: { now: number };
const MSISDN = CARD1.msisdn;

beforeEach(async () => {
  ({ platform, clock } = await testPlatform());
});
afterEach(async () => {
  expect(await platform.verify()).toMatchObject({ ok: true, sum: 0 });
  await platform.close();
});

describe('phone account', () => {
  it('takes cash top-ups, answers a retry with the first balance, and refuses the key for another top-up', async () => {
    const top = (idempotencyKey: string, amount: number) =>
      platform.customers.topUpPhoneAccount({ client: 'mart-1', idempotencyKey, msisdn: MSISDN, amount });
    expect(await top('t1', 5000)).toEqual({ balance: 5000 });
    expect(await top('t2', 700)).toEqual({ balance: 5700 });
    expect(await top('t1', 5000)).toEqual({ balance: 5000 });
    await rejectsWithCode(top('t1', 5001), LEDGER_ERRORS, 'IDEMPOTENCY_CONFLICT');
    expect(await platform.customers.phoneAccount({ msisdn: MSISDN })).toEqual({ balance: 5700, available: 5700 });
    expect((await platform.ledger.getAccount(ACCOUNT.cash('mart-1')))?.balance).toBe(-5700);
    const st = await platform.customers.statement({ msisdn: MSISDN });
    expect(st.lines.map((l) => l.amount)).toEqual([5000, 700]);
  });

  it('refuses unknown customers and malformed amounts', async () => {
    await rejectsWithCode(
      platform.customers.topUpPhoneAccount({ client: 'mart-1', idempotencyKey: 'k', msisdn: '13999999999', amount: 1 }),
      PLATFORM_ERRORS,
      'UNKNOWN_CUSTOMER',
    );
    await rejectsWithCode(
      platform.customers.phoneAccount({ msisdn: '13999999999' }),
      PLATFORM_ERRORS,
      'UNKNOWN_CUSTOMER',
    );
    for (const amount of [0, -5, 1.5, '100', 2 ** 32])
      await rejectsWithCode(
        platform.customers.topUpPhoneAccount({
          client: 'mart-1',
          idempotencyKey: 'k',
          msisdn: MSISDN,
          amount: amount as number,
        }),
        CORE_ERRORS,
        'BAD_ARGUMENT',
      );
    await rejectsWithCode(platform.customers.phoneAccount({ msisdn: '+86 138' }), CORE_ERRORS, 'BAD_ARGUMENT');
  });

  it('registers a customer once, with an opening balance paid in once', async () => {
    await platform.customers.register({ msisdn: '13900000001', openingBalance: 300 });
    await platform.customers.register({ msisdn: '13900000001', openingBalance: 300 });
    expect(await platform.customers.phoneAccount({ msisdn: '13900000001' })).toMatchObject({ balance: 300 });
    expect(await platform.customers.get({ msisdn: MSISDN })).toMatchObject({ msisdn: MSISDN, cards: [SERIAL1] });
  });
});

describe('online charge to the phone account', () => {
  /** The card answers INTERNAL AUTHENTICATE of `challenge` (hex). */
  function cardAnswer(challenge: string): string {
    const { card } = createPurseCard({ card: CARD1 });
    expect(send(card, 'contact', '00 A4 04 00 08 A000000632010105 00').sw).toBe(0x9000);
    const r = send(card, 'contact', hexApdu(0x00, 0x88, 0x00, CARD1.keyIndex, [fromHex(challenge)], 0x00));
    expect(r.sw).toBe(0x9000);
    return toHex(r.data);
  }

  beforeEach(async () => {
    await platform.customers.topUpPhoneAccount({
      client: 'mart-1',
      idempotencyKey: 'top',
      msisdn: MSISDN,
      amount: 5000,
    });
  });
  const charge = (idempotencyKey: string, challenge: string, response: string, amount = 1234, client = 'mart-1') =>
    platform.customers.chargePhoneAccount({ client, idempotencyKey, cardSerial: SERIAL1, amount, challenge, response });

  it('debits the phone account once the card has answered a fresh challenge, with points', async () => {
    const { challenge } = await platform.customers.chargeChallenge({ cardSerial: SERIAL1 });
    const response = cardAnswer(challenge);
    const r = await charge('c1', challenge, response);
    expect(r).toMatchObject({ balance: 5000 - 1234, points: 12 });
    expect(await charge('c1', challenge, response)).toEqual(r);
    expect(await platform.merchantBalance({ client: 'mart-1' })).toEqual({ payable: 1234 });
    expect(await platform.points.balance({ msisdn: MSISDN })).toEqual({ points: 12 });
  });

  it('refuses a wrong answer, a used, foreign or expired challenge, and moves nothing', async () => {
    const { challenge } = await platform.customers.chargeChallenge({ cardSerial: SERIAL1 });
    const response = cardAnswer(challenge);
    const wrong = `${response.slice(0, -1)}${response.endsWith('0') ? '1' : '0'}`;
    await rejectsWithCode(charge('w1', challenge, wrong), PLATFORM_ERRORS, 'BAD_CARD_PROOF');
    await rejectsWithCode(
      charge('w2', '0011223344556677', cardAnswer('0011223344556677')),
      PLATFORM_ERRORS,
      'BAD_CARD_PROOF',
    );
    await charge('ok', challenge, response);
    await rejectsWithCode(charge('again', challenge, response), PLATFORM_ERRORS, 'BAD_CARD_PROOF');
    const late = await platform.customers.chargeChallenge({ cardSerial: SERIAL1 });
    clock.now += 61_000;
    await rejectsWithCode(
      charge('late', late.challenge, cardAnswer(late.challenge)),
      PLATFORM_ERRORS,
      'BAD_CARD_PROOF',
    );
    expect(await platform.customers.phoneAccount({ msisdn: MSISDN })).toMatchObject({ balance: 5000 - 1234 });
  });

  it('lets only one of two charges racing on one challenge pay', async () => {
    const { challenge } = await platform.customers.chargeChallenge({ cardSerial: SERIAL1 });
    const response = cardAnswer(challenge);
    const results = await Promise.allSettled([
      charge('r1', challenge, response, 100),
      charge('r2', challenge, response, 100),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(await platform.customers.phoneAccount({ msisdn: MSISDN })).toMatchObject({ balance: 4900 });
  });

  it('refuses a client without a merchant, a blocked card, and a charge above the balance', async () => {
    const { challenge } = await platform.customers.chargeChallenge({ cardSerial: SERIAL1 });
    const response = cardAnswer(challenge);
    await rejectsWithCode(charge('m', challenge, response, 1, 'access-1'), PLATFORM_ERRORS, 'NO_MERCHANT');
    await rejectsWithCode(charge('big', challenge, response, 5001), LEDGER_ERRORS, 'INSUFFICIENT_FUNDS');
    await platform.contactless.block({ cardSerial: SERIAL1 });
    await rejectsWithCode(charge('b', challenge, response), PLATFORM_ERRORS, 'CARD_BLOCKED');
    await rejectsWithCode(platform.customers.chargeChallenge({ cardSerial: SERIAL1 }), PLATFORM_ERRORS, 'CARD_BLOCKED');
  });
});
