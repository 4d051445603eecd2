import { CORE_ERRORS } from '@simtap/sdk/core/errors';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KEYS_ERRORS } from '../keys';
import { LEDGER_ERRORS } from '../ledger';
import { ACCOUNT, PLATFORM_ERRORS, type Platform } from '../platform';
import {
  CARD1,
  flipHex,
  loadParams,
  loadTacOf,
  purchaseRecord,
  rejectsWithCode,
  SERIAL1,
  SERIAL2,
  testPlatform,
} from '../platform/platform.test-support';

let platform: Platform;
const phone = async () => platform.ledger.getAccount(ACCOUNT.phone(CARD1.msisdn));
const float = async (serial = SERIAL1) => (await platform.wallets.float({ cardSerial: serial })).balance;

beforeEach(async () => {
  ({ platform } = await testPlatform());
  await platform.customers.topUpPhoneAccount({
    client: 'mart-1',
    idempotencyKey: 'top',
    msisdn: CARD1.msisdn,
    amount: 10_000,
  });
});
afterEach(async () => {
  expect(await platform.verify()).toMatchObject({ ok: true, sum: 0 });
  await platform.close();
});

describe('loads', () => {
  const load = { amount: 5000, oldBalance: 0, onlineCounter: 0 };

  it('authorizes (MAC1 checked, funds held, MAC2 returned) and posts on a verified TAC', async () => {
    const { loadId, mac2 } = await platform.wallets.authorizeLoad(loadParams('card-1', { ...load, key: 'l1' }));
    expect(mac2).toMatch(/^[0-9A-F]{8}$/);
    expect(await phone()).toMatchObject({ balance: 10_000, reserved: 5000, available: 5000 });
    expect(await platform.wallets.load({ loadId })).toMatchObject({
      status: 'pending',
      amount: 5000,
      cardSerial: SERIAL1,
    });
    await rejectsWithCode(
      platform.wallets.confirmLoad({ loadId, tac: flipHex(loadTacOf('card-1', load), 3) }),
      PLATFORM_ERRORS,
      'BAD_TAC',
    );
    expect((await platform.wallets.load({ loadId })).status).toBe('pending');
    const r = await platform.wallets.confirmLoad({ loadId, tac: loadTacOf('card-1', load) });
    expect(r).toEqual({ status: 'posted', float: 5000 });
    expect(await phone()).toMatchObject({ balance: 5000, reserved: 0 });
    expect(await platform.wallets.confirmLoad({ loadId, tac: loadTacOf('card-1', load) })).toEqual(r);
    await rejectsWithCode(platform.wallets.resolveLoad({ loadId, onlineCounter: 0 }), PLATFORM_ERRORS, 'LOAD_STATE');
    expect(await float()).toBe(5000);
  });

  it('answers a retried authorization with the same load and MAC2, and refuses the key for another load', async () => {
    const first = await platform.wallets.authorizeLoad(loadParams('card-1', { ...load, key: 'l1' }));
    expect(await platform.wallets.authorizeLoad(loadParams('card-1', { ...load, key: 'l1' }))).toEqual(first);
    await rejectsWithCode(
      platform.wallets.authorizeLoad(loadParams('card-1', { ...load, amount: 4000, key: 'l1' })),
      LEDGER_ERRORS,
      'IDEMPOTENCY_CONFLICT',
    );
    expect((await phone())?.reserved).toBe(5000);
  });

  it('refuses a bad MAC1, a purse over its maximum, a foreign phone account, too little money, an unknown or lost card', async () => {
    const p = loadParams('card-1', { ...load, key: 'x1' });
    await rejectsWithCode(platform.wallets.authorizeLoad({ ...p, mac1: flipHex(p.mac1, 7) }), KEYS_ERRORS, 'BAD_MAC1');
    await rejectsWithCode(
      platform.wallets.authorizeLoad(
        loadParams('card-1', { ...load, oldBalance: platform.config.maxBalance - 4999, key: 'x2' }),
      ),
      PLATFORM_ERRORS,
      'BALANCE_LIMIT',
    );
    await rejectsWithCode(
      platform.wallets.authorizeLoad({
        ...p,
        idempotencyKey: 'x3',
        funding: { source: 'phoneAccount', msisdn: '13800138002' },
      }),
      PLATFORM_ERRORS,
      'FUNDING_REFUSED',
    );
    await rejectsWithCode(
      platform.wallets.authorizeLoad(loadParams('card-1', { ...load, amount: 10_001, key: 'x4' })),
      LEDGER_ERRORS,
      'INSUFFICIENT_FUNDS',
    );
    await rejectsWithCode(
      platform.wallets.authorizeLoad({ ...p, idempotencyKey: 'x5', cardSerial: '00004401202600000099' }),
      PLATFORM_ERRORS,
      'UNKNOWN_CARD',
    );
    await platform.contactless.reportLost({ cardSerial: SERIAL1 });
    await rejectsWithCode(
      platform.wallets.authorizeLoad({ ...p, idempotencyKey: 'x6' }),
      PLATFORM_ERRORS,
      'CARD_BLOCKED',
    );
    for (const bad of [
      { date: '20261301' },
      { time: '246000' },
      { random: 'XYZ' },
      { amount: 0 },
      { funding: { source: 'gold' } },
    ])
      await rejectsWithCode(
        platform.wallets.authorizeLoad({ ...p, idempotencyKey: 'x7', ...bad } as never),
        CORE_ERRORS,
        'BAD_ARGUMENT',
      );
    expect(await phone()).toMatchObject({ balance: 10_000, reserved: 0 });
  });

  it('funds a load with the client’s cash', async () => {
    const p = { ...loadParams('card-1', { ...load, key: 'c1' }), funding: { source: 'cash' as const } };
    const { loadId } = await platform.wallets.authorizeLoad(p);
    await platform.wallets.confirmLoad({ loadId, tac: loadTacOf('card-1', load) });
    expect((await platform.ledger.getAccount(ACCOUNT.cash('mart-1')))?.balance).toBe(-15_000);
    expect(await float()).toBe(5000);
  });

  it('resolves a torn load from the card: counter unchanged → voided (funds back); moved with its proof → posted', async () => {
    const a = await platform.wallets.authorizeLoad(loadParams('card-1', { ...load, key: 'a' }));
    expect((await platform.wallets.pendingLoads({ cardSerial: SERIAL1 })).map((l) => l.loadId)).toEqual([a.loadId]);
    expect(await platform.wallets.resolveLoad({ loadId: a.loadId, onlineCounter: 0 })).toEqual({
      status: 'voided',
      float: 0,
    });
    expect(await platform.wallets.resolveLoad({ loadId: a.loadId, onlineCounter: 0 })).toEqual({
      status: 'voided',
      float: 0,
    });
    await rejectsWithCode(
      platform.wallets.confirmLoad({ loadId: a.loadId, tac: loadTacOf('card-1', load) }),
      PLATFORM_ERRORS,
      'LOAD_STATE',
    );
    expect(await phone()).toMatchObject({ balance: 10_000, reserved: 0 });

    const b = await platform.wallets.authorizeLoad(loadParams('card-1', { ...load, key: 'b' }));
    const tac = loadTacOf('card-1', load);
    await rejectsWithCode(
      platform.wallets.resolveLoad({ loadId: b.loadId, onlineCounter: 1 }),
      CORE_ERRORS,
      'BAD_ARGUMENT',
    );
    await rejectsWithCode(
      platform.wallets.resolveLoad({ loadId: b.loadId, onlineCounter: 1, mac2: flipHex(b.mac2, 1), tac }),
      PLATFORM_ERRORS,
      'BAD_TAC',
    );
    await rejectsWithCode(
      platform.wallets.resolveLoad({ loadId: b.loadId, onlineCounter: 1, mac2: b.mac2, tac: flipHex(tac, 30) }),
      PLATFORM_ERRORS,
      'BAD_TAC',
    );
    expect((await platform.wallets.load({ loadId: b.loadId })).status).toBe('pending');
    const r = await platform.wallets.resolveLoad({ loadId: b.loadId, onlineCounter: 1, mac2: b.mac2, tac });
    expect(r).toEqual({ status: 'posted', float: 5000 });
    expect(await platform.wallets.resolveLoad({ loadId: b.loadId, onlineCounter: 3, mac2: b.mac2, tac })).toEqual(r);
    await rejectsWithCode(
      platform.wallets.resolveLoad({ loadId: b.loadId, onlineCounter: 0 }),
      PLATFORM_ERRORS,
      'LOAD_STATE',
    );
    await rejectsWithCode(platform.wallets.load({ loadId: 'nope' }), PLATFORM_ERRORS, 'UNKNOWN_LOAD');
    expect(await phone()).toMatchObject({ balance: 5000, reserved: 0 });
  });

  it('leaves a load unresolved past the configured time in suspense, and still settles it from the proof', async () => {
    const a = await platform.wallets.authorizeLoad(loadParams('card-1', { ...load, key: 'a' }));
    const moved = await platform.ledger.suspendStale('unresolved');
    expect(moved).toHaveLength(0); // the default 24 h has not passed on the ledger's clock
    await platform.ledger.suspend({ transferId: a.loadId, reason: 'back office' });
    expect((await platform.wallets.loadReport()).suspended.map((l) => l.loadId)).toEqual([a.loadId]);
    expect(await platform.wallets.load({ loadId: a.loadId })).toMatchObject({ status: 'pending', suspended: true });
    const r = await platform.wallets.confirmLoad({ loadId: a.loadId, tac: loadTacOf('card-1', load) });
    expect(r).toEqual({ status: 'posted', float: 5000 });
    expect((await platform.ledger.getAccount('suspense'))?.balance).toBe(0);
  });
});

describe('clearing', () => {
  beforeEach(async () => {
    for (const [serial, label, key] of [
      [SERIAL1, 'card-1', 'f1'],
      [SERIAL2, 'card-2', 'f2'],
    ] as const) {
      const { loadId } = await platform.wallets.authorizeLoad({
        ...loadParams(label, { amount: 3000, oldBalance: 0, onlineCounter: 0, key }),
        funding: { source: 'cash' },
      });
      await platform.wallets.confirmLoad({
        loadId,
        tac: loadTacOf(label, { amount: 3000, oldBalance: 0, onlineCounter: 0 }),
      });
      expect(await float(serial)).toBe(3000);
    }
  });
  const submit = (idempotencyKey: string, records: ReturnType<typeof purchaseRecord>[], client = 'mart-1') =>
    platform.wallets.submitBatch({ client, idempotencyKey, records });

  it('clears verified records to the merchant with points, and rejects bad TACs, duplicates and unknown cards', async () => {
    const good = [purchaseRecord('card-1', 0, 1250), purchaseRecord('card-2', 0, 399)];
    const outcome = await submit('b1', [
      ...good,
      { ...purchaseRecord('card-1', 1, 100), tac: flipHex(purchaseRecord('card-1', 1, 100).tac, 9) },
      good[0]!,
      { ...purchaseRecord('card-1', 2, 100), cardSerial: '00004401202600000099' },
    ]);
    expect(outcome).toEqual({
      accepted: 2,
      settled: 1649,
      points: 12 + 3,
      rejected: [
        { index: 2, code: 'BAD_TAC' },
        { index: 3, code: 'DUPLICATE' },
        { index: 4, code: 'UNKNOWN_CARD' },
      ],
      gaps: [],
    });
    expect(await float(SERIAL1)).toBe(1750);
    expect(await platform.merchantBalance({ client: 'mart-1' })).toEqual({ payable: 1649 });
    expect(await platform.points.balance({ msisdn: CARD1.msisdn })).toEqual({ points: 12 });
    expect(
      await submit('b1', [
        ...good,
        { ...purchaseRecord('card-1', 1, 100), tac: flipHex(purchaseRecord('card-1', 1, 100).tac, 9) },
        good[0]!,
        { ...purchaseRecord('card-1', 2, 100), cardSerial: '00004401202600000099' },
      ]),
    ).toEqual(outcome);
    await rejectsWithCode(submit('b1', good.slice(0, 1)), LEDGER_ERRORS, 'IDEMPOTENCY_CONFLICT');
    expect(await submit('b2', good, 'metro-1')).toMatchObject({
      accepted: 0,
      rejected: [
        { index: 0, code: 'DUPLICATE' },
        { index: 1, code: 'DUPLICATE' },
      ],
    });
    expect(await platform.merchantBalance({ client: 'metro-1' })).toEqual({ payable: 0 });
  });

  it('reports the counters missing between the lowest and highest cleared, until they clear', async () => {
    expect((await submit('g1', [purchaseRecord('card-1', 4, 10), purchaseRecord('card-1', 7, 10)])).gaps).toEqual([
      { cardSerial: SERIAL1, missing: [5, 6] },
    ]);
    expect((await submit('g2', [purchaseRecord('card-1', 5, 10), purchaseRecord('card-2', 1, 10)])).gaps).toEqual([
      { cardSerial: SERIAL1, missing: [6] },
    ]);
    expect((await submit('g3', [purchaseRecord('card-1', 6, 10)])).gaps).toEqual([]);
  });

  it('rejects a record above the float with FLOAT_SHORT, and clears it once the float is there', async () => {
    const big = purchaseRecord('card-1', 0, 3500);
    expect((await submit('s1', [big])).rejected).toEqual([{ index: 0, code: 'FLOAT_SHORT' }]);
    const more = { amount: 1000, oldBalance: 3000, onlineCounter: 1 };
    const { loadId } = await platform.wallets.authorizeLoad({
      ...loadParams('card-1', { ...more, key: 'f3' }),
      funding: { source: 'cash' },
    });
    await platform.wallets.confirmLoad({ loadId, tac: loadTacOf('card-1', more) });
    expect(await submit('s2', [big])).toMatchObject({ accepted: 1, settled: 3500, rejected: [] });
    expect(await float()).toBe(500);
  });

  it('clears a debit once even when its offline counter is changed (the TAC does not cover it)', async () => {
    const r = purchaseRecord('card-1', 3, 1000);
    expect((await submit('d1', [r])).accepted).toBe(1);
    expect(await submit('d2', [{ ...r, offlineCounter: 103 }])).toMatchObject({
      accepted: 0,
      rejected: [{ index: 0, code: 'DUPLICATE' }],
      gaps: [],
    });
    // another debit (terminal sequence) claiming a counter that already cleared is refused too
    expect((await submit('d3', [purchaseRecord('card-1', 3, 10, 77)])).rejected).toEqual([
      { index: 0, code: 'DUPLICATE' },
    ]);
    expect(await float()).toBe(2000);
  });

  it('claims the key before anything moves: of two different batches sent at once under one key, one clears', async () => {
    const results = await Promise.allSettled([
      submit('same', [purchaseRecord('card-1', 0, 100)]),
      submit('same', [purchaseRecord('card-2', 0, 200)]),
    ]);
    expect(results.map((x) => x.status).sort()).toEqual(['fulfilled', 'rejected']);
    const lost = results.findIndex((x) => x.status === 'rejected');
    await rejectsWithCode(
      Promise.reject((results[lost] as PromiseRejectedResult).reason),
      LEDGER_ERRORS,
      'IDEMPOTENCY_CONFLICT',
    );
    expect((await platform.merchantBalance({ client: 'mart-1' })).payable).toBe(lost === 0 ? 200 : 100);
    expect(
      (await submit('retry', [purchaseRecord(lost === 0 ? 'card-1' : 'card-2', 0, lost === 0 ? 100 : 200)])).accepted,
    ).toBe(1);
  });

  it('clears a 0-fen record (a gate entry) without money, once, and counts its counter for gaps', async () => {
    const batch = [purchaseRecord('card-1', 0, 50), purchaseRecord('card-1', 1, 0), purchaseRecord('card-1', 2, 70)];
    const res = await submit('z1', batch);
    expect(res).toMatchObject({ accepted: 3, settled: 120, rejected: [], gaps: [] });
    expect(await submit('z1', batch)).toEqual(res);
    expect((await submit('z2', [purchaseRecord('card-1', 1, 0)])).rejected).toEqual([{ index: 0, code: 'DUPLICATE' }]);
    const forged = { ...purchaseRecord('card-1', 3, 0), tac: flipHex(purchaseRecord('card-1', 3, 0).tac) };
    expect((await submit('z3', [forged])).rejected).toEqual([{ index: 0, code: 'BAD_TAC' }]);
    expect(await float()).toBe(3000 - 120);
  });

  it('refuses a client without a merchant and names a malformed record', async () => {
    await rejectsWithCode(submit('n1', [purchaseRecord('card-1', 0, 1)], 'access-1'), PLATFORM_ERRORS, 'NO_MERCHANT');
    // the refusal binds the key: the same batch gets it again, a top-up under the key is a conflict
    await rejectsWithCode(submit('n1', [purchaseRecord('card-1', 0, 1)], 'access-1'), PLATFORM_ERRORS, 'NO_MERCHANT');
    await rejectsWithCode(
      platform.customers.topUpPhoneAccount({
        client: 'access-1',
        idempotencyKey: 'n1',
        msisdn: CARD1.msisdn,
        amount: 1,
      }),
      LEDGER_ERRORS,
      'IDEMPOTENCY_CONFLICT',
    );
    await rejectsWithCode(
      platform.wallets.pendingLoads({ cardSerial: '00004401202600000099' }),
      PLATFORM_ERRORS,
      'UNKNOWN_CARD',
    );
    const e = await submit('n2', [
      purchaseRecord('card-1', 0, 1),
      { ...purchaseRecord('card-1', 1, 1), date: '2026-12-03' },
    ]).catch((x: unknown) => x);
    expect(String((e as Error).message)).toContain('records[1].date');
    await rejectsWithCode(
      submit('n3', [{ ...purchaseRecord('card-1', 0, 1), tti: 2 as 6 }]),
      CORE_ERRORS,
      'BAD_ARGUMENT',
    );
    expect(await platform.merchantBalance({ client: 'mart-1' })).toEqual({ payable: 0 });
  });
});

describe('loads settled by a later MAC1', () => {
  const first = { amount: 1000, oldBalance: 0, onlineCounter: 0 };
  it('posts a torn load once a later MAC1 proves the counter moved past it, and no other load used that counter', async () => {
    const a = await platform.wallets.authorizeLoad(loadParams('card-1', { ...first, key: 'a' }));
    // the card credited it (counter 0 → 1) but the answer was lost; the next load's MAC1 carries counter 1
    await platform.wallets.authorizeLoad(
      loadParams('card-1', { amount: 500, oldBalance: 1000, onlineCounter: 1, random: '99887766', key: 'b' }),
    );
    expect(await platform.wallets.load({ loadId: a.loadId })).toMatchObject({ status: 'posted' });
    expect(await float()).toBe(1000);
  });

  it('voids a torn load whose counter another posted load used, and leaves a load at the same counter alone', async () => {
    const a = await platform.wallets.authorizeLoad(loadParams('card-1', { ...first, key: 'a' }));
    const b = await platform.wallets.authorizeLoad(loadParams('card-1', { ...first, random: '0A0B0C0D', key: 'b' }));
    expect((await platform.wallets.load({ loadId: a.loadId })).status).toBe('pending'); // same counter: left alone
    await platform.wallets.confirmLoad({ loadId: b.loadId, tac: loadTacOf('card-1', first) });
    await platform.wallets.authorizeLoad(
      loadParams('card-1', { amount: 500, oldBalance: 1000, onlineCounter: 1, random: '99887766', key: 'c' }),
    );
    expect((await platform.wallets.load({ loadId: a.loadId })).status).toBe('voided');
    expect(await phone()).toMatchObject({ balance: 9000, reserved: 500 });
  });

  it('answers a void of a suspended load with the float', async () => {
    const a = await platform.wallets.authorizeLoad(loadParams('card-1', { ...first, key: 'a' }));
    await platform.ledger.suspend({ transferId: a.loadId, reason: 'back office' });
    expect(await platform.wallets.resolveLoad({ loadId: a.loadId, onlineCounter: 0 })).toEqual({
      status: 'voided',
      float: 0,
    });
  });

  it('answers LOAD_STATE, not BAD_TAC, to a wrong TAC or proof on a settled load', async () => {
    const a = await platform.wallets.authorizeLoad(loadParams('card-1', { ...first, key: 'a' }));
    const tac = loadTacOf('card-1', first);
    await platform.wallets.confirmLoad({ loadId: a.loadId, tac });
    await rejectsWithCode(
      platform.wallets.confirmLoad({ loadId: a.loadId, tac: flipHex(tac) }),
      PLATFORM_ERRORS,
      'LOAD_STATE',
    );
    await rejectsWithCode(
      platform.wallets.resolveLoad({ loadId: a.loadId, onlineCounter: 1, mac2: flipHex(a.mac2), tac }),
      PLATFORM_ERRORS,
      'LOAD_STATE',
    );
  });
});

describe('a load authorization is bound to its idempotency key as a whole call', () => {
  const load = { amount: 1000, oldBalance: 0, onlineCounter: 0 };
  it('answers IDEMPOTENCY_CONFLICT to other params under a used key, even when their MAC1 would not verify', async () => {
    const first = await platform.wallets.authorizeLoad(loadParams('card-1', { ...load, key: 'k' }));
    const other = { ...loadParams('card-1', { ...load, key: 'k' }), amount: 1001 };
    await rejectsWithCode(platform.wallets.authorizeLoad(other), LEDGER_ERRORS, 'IDEMPOTENCY_CONFLICT');
    expect(await platform.wallets.authorizeLoad(loadParams('card-1', { ...load, key: 'k' }))).toEqual(first);
  });

  it('binds a key to its first refusal: the same call gets it again, another call under it is a conflict', async () => {
    const good = loadParams('card-1', { ...load, key: 'r' });
    await rejectsWithCode(
      platform.wallets.authorizeLoad({ ...good, mac1: flipHex(good.mac1) }),
      KEYS_ERRORS,
      'BAD_MAC1',
    );
    await rejectsWithCode(
      platform.wallets.authorizeLoad({ ...good, mac1: flipHex(good.mac1) }),
      KEYS_ERRORS,
      'BAD_MAC1',
    );
    await rejectsWithCode(platform.wallets.authorizeLoad(good), LEDGER_ERRORS, 'IDEMPOTENCY_CONFLICT');
    const big = loadParams('card-1', { amount: platform.config.maxBalance, oldBalance: 1, onlineCounter: 0, key: 'b' });
    await rejectsWithCode(platform.wallets.authorizeLoad(big), PLATFORM_ERRORS, 'BALANCE_LIMIT');
    await rejectsWithCode(platform.wallets.authorizeLoad(big), PLATFORM_ERRORS, 'BALANCE_LIMIT');
    expect(await phone()).toMatchObject({ reserved: 0 });
  });

  it('answers a repeated authorization with its first outcome after the card was reported lost', async () => {
    const first = await platform.wallets.authorizeLoad(loadParams('card-1', { ...load, key: 'l' }));
    await platform.contactless.reportLost({ cardSerial: SERIAL1 });
    expect(await platform.wallets.authorizeLoad(loadParams('card-1', { ...load, key: 'l' }))).toEqual(first);
    await rejectsWithCode(
      platform.wallets.authorizeLoad(loadParams('card-1', { ...load, random: '0F0E0D0C', key: 'l2' })),
      PLATFORM_ERRORS,
      'CARD_BLOCKED',
    );
  });
});
