/**
 * PlatformLoadAuthorizer and clearingRecord against the in-test server: the key made of the card's answer, the TAC
 * answer mapped to true / false, a load found among the card's pending loads, refusals thrown to the machine.
 * (The real server with the emulated SIM is in platform-server.test.ts.)
 */
import { fromHex } from '@simtap/sdk/core/bytes';
import { applicationError } from '@simtap/sdk/wire';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BadMac1Error, clearingRecord, PlatformClient, PlatformLoadAuthorizer } from './index';
import { FakePlatform, TEST_CLIENTS } from './test-support';

const SERIAL = '00004401202600000001';
const REQUEST = {
  cardSerial: fromHex(SERIAL),
  amount: 1000,
  terminalId: fromHex('440100000009'),
  oldBalance: 0,
  onlineCounter: 7,
  random: fromHex('1A2B3C4D'),
  keyVersion: 1,
  algId: 0,
  mac1: fromHex('8F3E2C11'),
  date: fromHex('20261203'),
  time: fromHex('101500'),
  tti: 2,
};
const CHECK = {
  cardSerial: fromHex(SERIAL),
  newBalance: 1000,
  onlineCounter: 7,
  amount: 1000,
  tti: 2,
  terminalId: fromHex('440100000009'),
  date: fromHex('20261203'),
  time: fromHex('101500'),
  tac: fromHex('C0FFEE42'),
};

let fake: FakePlatform;
let client: PlatformClient;

beforeEach(async () => {
  fake = await FakePlatform.start();
  client = new PlatformClient({ url: fake.url, clientId: 'mart-1', secret: TEST_CLIENTS['mart-1'].secret });
});
afterEach(async () => {
  await client.close();
  await fake.stop();
});

describe('PlatformLoadAuthorizer', () => {
  it('authorizes with a key made of the card answer (cash by default) and confirms with the TAC', async () => {
    fake.handlers.set('wallet.confirmLoad', (p) =>
      p.tac === 'C0FFEE42'
        ? { result: { status: 'posted', float: 1000 } }
        : { error: applicationError('BAD_TAC', 'the TAC does not verify') },
    );
    const a = new PlatformLoadAuthorizer(client);
    const { mac2 } = await a.authorize(REQUEST);
    expect(mac2).toEqual(fromHex('5E7A0C92'));
    const sent = fake.requests[0]!.params;
    expect(sent.idempotencyKey).toBe(`load:${SERIAL}:7:1A2B3C4D`);
    expect(sent.funding).toEqual({ source: 'cash' });
    expect(await a.verifyTac({ ...CHECK, tac: fromHex('00000000') })).toBe(false);
    expect(await a.verifyTac(CHECK)).toBe(true);
    expect(fake.requests.filter((r) => r.method === 'wallet.confirmLoad').map((r) => r.params.loadId)).toEqual([
      `load-load:${SERIAL}:7:1A2B3C4D`,
      `load-load:${SERIAL}:7:1A2B3C4D`,
    ]);
    // the same card answer again: the same key, one effect
    await a.authorize(REQUEST);
    expect(fake.effects.get(`load:${SERIAL}:7:1A2B3C4D`)).toBe(1);
  });

  it('finds a load it did not authorize among the card’s pending loads; throws other refusals', async () => {
    fake.handlers.set('wallet.pendingLoads', () => ({
      result: {
        loads: [
          {
            loadId: 'L-77',
            status: 'pending',
            amount: 1000,
            cardSerial: SERIAL,
            onlineCounter: 7,
            suspended: false,
            createdAt: 0,
          },
        ],
      },
    }));
    fake.handlers.set('wallet.confirmLoad', () => ({ result: { status: 'posted', float: 1000 } }));
    const a = new PlatformLoadAuthorizer(client, { funding: { source: 'phoneAccount', msisdn: '13800138001' } });
    expect(await a.verifyTac(CHECK)).toBe(true);
    expect(fake.requests.at(-1)!.params).toEqual({ loadId: 'L-77', tac: 'C0FFEE42' });
    await expect(a.verifyTac({ ...CHECK, onlineCounter: 8 })).rejects.toThrow(/no pending load/);
    await expect(a.authorize({ ...REQUEST, mac1: fromHex('00000000') })).rejects.toBeInstanceOf(BadMac1Error);
  });
});

describe('clearingRecord', () => {
  it('makes the wire record of a completed purchase (with its tap time and balance after) and refuses an unproven one', () => {
    const purchase = {
      status: 'completed',
      tti: 6,
      cardSerial: fromHex(SERIAL),
      offlineCounter: 3,
      amount: 1250,
      terminalId: fromHex('440100000001'),
      terminalTxnSeq: 88,
      date: fromHex('20261203'),
      time: fromHex('101500'),
      tac: fromHex('19A4C3E0'),
      balanceAfter: 3750,
      tapTime: { totalUs: 41_234.6 },
    } as unknown as Parameters<typeof clearingRecord>[0];
    expect(clearingRecord(purchase)).toEqual({
      cardSerial: SERIAL,
      offlineCounter: 3,
      amount: 1250,
      tti: 6,
      terminalId: '440100000001',
      terminalSeq: 88,
      date: '20261203',
      time: '101500',
      tac: '19A4C3E0',
      tapUs: 41_235, // what the machine saw, for the console: not under the TAC
      balance: 3750,
    });
    expect(() => clearingRecord({ ...purchase, status: 'unproven' } as never)).toThrow(/no TAC/);
  });
});
