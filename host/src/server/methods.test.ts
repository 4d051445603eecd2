/**
 * Every method of `/v1/app` and `/v1/console` through the socket with a raw `ws` client: a valid call reaches the
 * platform and its answer fits the method's result schema; a load end to end (the card's MAC1 and TAC from the
 * profile's keys) with its events; clearing; money-moving idempotency through the socket (same key → same result,
 * moved once; other params → IDEMPOTENCY_CONFLICT); the platform's errors as their `data.code`.
 */
import { createPurseCard, hexApdu, send } from '@simtap/applet-emu/testing';
import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import { METHODS, type MethodName, methodsOf } from '@simtap/sdk/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CARD1,
  CARD2,
  flipHex,
  loadParams,
  loadTacOf,
  purchaseRecord,
  SERIAL1,
  SERIAL2,
} from '../platform/platform.test-support';
import { APP, type Got, OPERATOR, RawClient, startServer, type TestServer } from './server.test-support';

let t: TestServer;
let app: RawClient;
let con: RawClient;
const MSISDN = CARD1.msisdn;
const seen = new Set<string>();

beforeAll(async () => {
  t = await startServer();
  app = await RawClient.session(t.url, '/v1/app', APP);
  con = await RawClient.session(t.url, '/v1/console', OPERATOR);
});
afterAll(async () => {
  app.close();
  con.close();
  await t.stop();
});

/** Calls `method` and checks the answer against its result schema. */
async function ok(c: RawClient, method: MethodName, params: unknown): Promise<Record<string, unknown>> {
  const r = await c.call(method, params);
  if (!r.result) throw new Error(`${method}: ${JSON.stringify(r.error)}`);
  const parsed = METHODS[method].result.safeParse(r.result);
  expect(parsed.success, `${method} answers its schema: ${JSON.stringify(r.result)}`).toBe(true);
  seen.add(`${c === con ? 'console' : 'app'} ${method}`);
  return r.result;
}

/** Card 1's INTERNAL AUTHENTICATE answer to `challenge` (an emulated card). */
function cardAnswer(challenge: string): string {
  const { card } = createPurseCard({ card: CARD1 });
  expect(send(card, 'contact', '00 A4 04 00 08 A000000632010105 00').sw).toBe(0x9000);
  return toHex(send(card, 'contact', hexApdu(0x00, 0x88, 0x00, CARD1.keyIndex, [fromHex(challenge)], 0x00)).data);
}

async function fails(c: RawClient, method: MethodName, params: unknown): Promise<string | number | undefined> {
  const r: Got = await c.call(method, params);
  expect(r.result, method).toBeUndefined();
  if (r.error?.data?.code) expect(METHODS[method].errors as readonly string[]).toContain(r.error.data.code);
  return r.error?.data?.code ?? r.error?.code;
}

describe('methods of /v1/app', () => {
  it('tops up a phone account, once per idempotency key (a repeat answers the first result)', async () => {
    const top = { idempotencyKey: 'top-1', msisdn: MSISDN, amount: 20_000 };
    expect(await ok(app, 'customers.topUpPhoneAccount', top)).toEqual({ balance: 20_000 });
    expect(await ok(app, 'customers.topUpPhoneAccount', top)).toEqual({ balance: 20_000 });
    expect(await fails(app, 'customers.topUpPhoneAccount', { ...top, amount: 1 })).toBe('IDEMPOTENCY_CONFLICT');
    expect(await ok(app, 'customers.phoneAccount', { msisdn: MSISDN })).toEqual({ balance: 20_000, available: 20_000 });
    expect((await ok(app, 'customers.statement', { msisdn: MSISDN, limit: 5 })).lines).toHaveLength(1);
    expect(await fails(app, 'customers.phoneAccount', { msisdn: '19999999999' })).toBe('UNKNOWN_CUSTOMER');
  });

  it('loads a card: authorize (MAC1) → confirm (TAC), with event.load notifications of its own calls', async () => {
    const watcher = await RawClient.session(t.url, '/v1/app', 'metro-1');
    expect(await ok(app, 'events.subscribe', { topics: ['loads', 'cards'] })).toEqual({ topics: ['loads', 'cards'] });
    expect(await ok(watcher, 'events.subscribe', { topics: ['loads'] })).toEqual({ topics: ['loads'] });
    await ok(con, 'events.subscribe', { topics: ['loads', 'cards', 'clearing'] });
    const load = { amount: 5_000, oldBalance: 0, onlineCounter: 0 };
    const { client: _c, ...params } = loadParams('card-1', { ...load, key: 'load-1' });
    const bad = { ...params, idempotencyKey: 'load-bad', mac1: flipHex(params.mac1) };
    expect(await fails(app, 'wallet.authorizeLoad', bad)).toBe('BAD_MAC1');
    // the key is bound to its refusal: the same call answers it again, another call under it is a conflict
    expect(await fails(app, 'wallet.authorizeLoad', bad)).toBe('BAD_MAC1');
    expect(await fails(app, 'wallet.authorizeLoad', { ...params, idempotencyKey: 'load-bad' })).toBe(
      'IDEMPOTENCY_CONFLICT',
    );
    const auth = await ok(app, 'wallet.authorizeLoad', params);
    expect(await ok(app, 'wallet.authorizeLoad', params)).toEqual(auth); // the same load and MAC2 again
    const loadId = String(auth.loadId);
    expect(await ok(app, 'wallet.load', { loadId })).toMatchObject({ status: 'pending', amount: 5_000 });
    expect((await ok(app, 'wallet.pendingLoads', { cardSerial: SERIAL1 })).loads).toHaveLength(1);
    expect(await ok(app, 'customers.phoneAccount', { msisdn: MSISDN })).toEqual({ balance: 20_000, available: 15_000 });
    const tac = loadTacOf('card-1', load);
    expect(await fails(app, 'wallet.confirmLoad', { loadId, tac: flipHex(tac) })).toBe('BAD_TAC');
    expect(await ok(app, 'wallet.confirmLoad', { loadId, tac })).toEqual({ status: 'posted', float: 5_000 });
    expect(await ok(app, 'wallet.confirmLoad', { loadId, tac })).toEqual({ status: 'posted', float: 5_000 });
    expect(await ok(app, 'wallet.float', { cardSerial: SERIAL1 })).toEqual({ balance: 5_000 });
    expect(await fails(app, 'wallet.resolveLoad', { loadId, onlineCounter: 0 })).toBe('LOAD_STATE');
    const event = (status: string) => (g: Got) => g.method === 'event.load' && g.params?.status === status;
    for (const c of [app, con]) {
      expect((await c.wait(event('pending'))).params).toEqual({
        loadId,
        cardSerial: SERIAL1,
        status: 'pending',
        amount: 5_000,
        at: expect.any(Number),
        air: false,
      });
      expect((await c.wait(event('posted'))).params).toMatchObject({ loadId, status: 'posted' });
    }
    // metro-1 subscribed to loads, but these were mart-1's.
    expect(await ok(watcher, 'merchants.balance', {})).toEqual({ payable: 0 });
    expect(watcher.frames.some((g) => g.method === 'event.load')).toBe(false);
    watcher.close();
  });

  it('resolves a torn load (counter unchanged → voided) and answers UNKNOWN_LOAD for an unknown one', async () => {
    const load = { amount: 1_000, oldBalance: 5_000, onlineCounter: 1 };
    const { client: _c, ...params } = loadParams('card-1', { ...load, key: 'load-2' });
    const { loadId } = await ok(app, 'wallet.authorizeLoad', params);
    expect(await ok(app, 'wallet.resolveLoad', { loadId, onlineCounter: 1 })).toEqual({
      status: 'voided',
      float: 5_000,
    });
    expect(await fails(app, 'wallet.resolveLoad', { loadId, onlineCounter: 2 })).toBe(-32602); // proof required
    expect(await fails(app, 'wallet.load', { loadId: 'no-such-load' })).toBe('UNKNOWN_LOAD');
    expect(await app.wait((g) => g.method === 'event.load' && g.params?.status === 'voided')).toBeDefined();
  });

  it('clears a batch to the merchant (idempotent, event.batch), and answers the balance, points and refusals', async () => {
    const records = [purchaseRecord('card-1', 0, 1_250), purchaseRecord('card-1', 1, 300)];
    expect(await ok(app, 'events.subscribe', { topics: ['clearing'] })).toEqual({
      topics: ['loads', 'cards', 'clearing'],
    });
    const outcome = await ok(app, 'clearing.submitBatch', { idempotencyKey: 'batch-1', records });
    expect(outcome).toEqual({ accepted: 2, settled: 1_550, points: 15, rejected: [], gaps: [] });
    expect(await ok(app, 'clearing.submitBatch', { idempotencyKey: 'batch-1', records })).toEqual(outcome);
    expect(await fails(app, 'clearing.submitBatch', { idempotencyKey: 'batch-1', records: records.slice(1) })).toBe(
      'IDEMPOTENCY_CONFLICT',
    );
    expect((await app.wait((g) => g.method === 'event.batch')).params).toEqual({
      clientId: APP,
      accepted: 2,
      settled: 1_550,
      rejected: 0,
      at: expect.any(Number),
      batch: { at: expect.any(Number), clientId: APP, accepted: 2, settled: 1_550, points: 15, rejected: [], gaps: [] },
    });
    // Not subscribed to taps: no event.tap.
    expect(app.frames.some((g) => g.method === 'event.tap')).toBe(false);
    expect(await ok(app, 'merchants.balance', {})).toEqual({ payable: 1_550 });
    expect(await ok(app, 'points.balance', { msisdn: MSISDN })).toEqual({ points: 15 });
    expect(await ok(app, 'points.redeem', { idempotencyKey: 'r-1', msisdn: MSISDN, points: 5 })).toMatchObject({
      points: 10,
      credited: 5,
    });
    expect(await fails(app, 'points.redeem', { idempotencyKey: 'r-2', msisdn: MSISDN, points: 500 })).toBe(
      'INSUFFICIENT_FUNDS',
    );
    const access = await RawClient.session(t.url, '/v1/app', 'access-1');
    expect(await fails(access, 'merchants.balance', {})).toBe('NO_MERCHANT');
    access.close();
  });

  it('charges the phone account online (card proof), the cards, the blacklist and its key; no air top-up for a blocked card', async () => {
    const { challenge } = await ok(app, 'customers.chargeChallenge', { cardSerial: SERIAL1 });
    const charge = {
      idempotencyKey: 'ch-0',
      cardSerial: SERIAL1,
      amount: 100,
      challenge,
      response: cardAnswer(String(challenge)),
    };
    const charged = await ok(app, 'customers.chargePhoneAccount', charge);
    expect(charged).toMatchObject({ points: 1 });
    expect(await ok(app, 'customers.chargePhoneAccount', charge)).toEqual(charged);
    expect(await ok(app, 'customers.chargeChallenge', { cardSerial: SERIAL2 })).toMatchObject({
      challenge: expect.stringMatching(/^[0-9A-F]{16}$/),
    });
    expect(
      await fails(app, 'customers.chargePhoneAccount', {
        idempotencyKey: 'ch-1',
        cardSerial: SERIAL2,
        amount: 100,
        challenge: '0011223344556677',
        response: '0011223344556677',
      }),
    ).toBe('BAD_CARD_PROOF');
    expect(await ok(app, 'cards.get', { cardSerial: SERIAL2.toLowerCase() })).toMatchObject({ status: 'active' });
    expect(await fails(app, 'cards.get', { cardSerial: '0'.repeat(20) })).toBe('UNKNOWN_CARD');
    expect(await ok(app, 'cards.blacklist', {})).toMatchObject({ version: 0, added: [], removed: [], since: 0 });
    expect(await ok(app, 'cards.blacklistKey', {})).toEqual({ publicKey: expect.stringMatching(/^[0-9A-F]{64}$/) });
    expect(await ok(app, 'cards.reportLost', { cardSerial: SERIAL2 })).toEqual({ status: 'lost', blacklistVersion: 1 });
    expect(await ok(app, 'cards.blacklist', { sinceVersion: 0 })).toMatchObject({ version: 1, added: [SERIAL2] });
    expect((await app.wait((g) => g.method === 'event.card')).params).toEqual({
      cardSerial: SERIAL2,
      status: 'lost',
      blacklistVersion: 1,
    });
    const lp = loadParams('card-2', { amount: 100, oldBalance: 0, onlineCounter: 0, key: 'lost-load' });
    const { client: _c, ...params } = lp;
    expect(await fails(app, 'wallet.authorizeLoad', params)).toBe('CARD_BLOCKED');
    // card-2's holder has no active card any more: no air top-up. card-1's phone is not connected: held, pending.
    expect(await fails(app, 'wallet.airTopUp', { idempotencyKey: 'air-1', msisdn: CARD2.msisdn, amount: 100 })).toBe(
      'CARD_BLOCKED',
    );
    const air = await ok(app, 'wallet.airTopUp', { idempotencyKey: 'air-2', msisdn: MSISDN, amount: 100 });
    expect(air).toMatchObject({ status: 'pending' });
    // The online charge over the air needs the phone now: refused, nothing moved.
    expect(
      await fails(app, 'customers.chargeOverTheAir', { idempotencyKey: 'cota-1', msisdn: MSISDN, amount: 100 }),
    ).toBe('PHONE_UNREACHABLE');
    seen.add('app customers.chargeOverTheAir');
    seen.add('app wallet.airTopUp');
  });
});

describe('methods of /v1/console', () => {
  it('verifies the ledger, lists cards, blocks and unblocks one (event.card), reports loads', async () => {
    const v = await ok(con, 'ledger.verify', {});
    expect(v).toMatchObject({ ok: true, sum: 0, journalHead: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(Object.keys(v).sort()).toEqual(['accounts', 'entries', 'journalHead', 'ok', 'sum']);
    const { cards } = (await ok(con, 'cards.list', {})) as { cards: Array<{ cardSerial: string; float: number }> };
    expect(cards.find((c) => c.cardSerial === SERIAL1)?.float).toBe(5_000 - 1_550);
    expect((await ok(con, 'cards.list', { status: 'lost' })).cards).toHaveLength(1);
    const CARD3 = cards.find((c) => c.cardSerial !== SERIAL1 && c.cardSerial !== SERIAL2)!.cardSerial;
    expect(await ok(con, 'cards.block', { cardSerial: CARD3, reason: 'fraud check' })).toEqual({
      status: 'blocked',
      blacklistVersion: 2,
    });
    expect(await ok(con, 'cards.unblock', { cardSerial: CARD3 })).toEqual({ status: 'active', blacklistVersion: 3 });
    expect(await fails(con, 'cards.unblock', { cardSerial: SERIAL2 })).toBe('CARD_STATE'); // lost is final
    expect(await fails(con, 'cards.block', { cardSerial: SERIAL2 })).toBe('CARD_STATE');
    // Card events go to every application subscribed to cards, and to the console.
    for (const c of [app, con])
      expect(await c.wait((g) => g.method === 'event.card' && g.params?.status === 'blocked')).toMatchObject({
        params: { cardSerial: CARD3, blacklistVersion: 2 },
      });
    const report = await ok(con, 'ledger.loadReport', {});
    // Only the air top-up waiting for card-1's phone.
    expect(report.suspended).toEqual([]);
    expect(report.pending).toMatchObject([{ air: true, amount: 100, onlineCounter: null, status: 'pending' }]);
    // The rest of the console's methods.
    expect(await ok(con, 'customers.phoneAccount', { msisdn: MSISDN })).toMatchObject({ balance: expect.any(Number) });
    await ok(con, 'customers.statement', { msisdn: MSISDN });
    await ok(con, 'wallet.float', { cardSerial: SERIAL1 });
    await ok(con, 'wallet.pendingLoads', { cardSerial: SERIAL1 });
    await ok(con, 'points.balance', { msisdn: MSISDN });
    await ok(con, 'cards.get', { cardSerial: SERIAL1 });
    await ok(con, 'cards.blacklist', { sinceVersion: 1 });
    await ok(con, 'cards.blacklistKey', {});
    const pending = loadParams('card-1', { amount: 10, oldBalance: 3_450, onlineCounter: 2, key: 'load-3' });
    const { client: _c, ...params } = pending;
    const { loadId } = await ok(app, 'wallet.authorizeLoad', params);
    expect(await ok(con, 'wallet.load', { loadId })).toMatchObject({ status: 'pending' });
    expect((await ok(con, 'ledger.loadReport', {})).pending).toHaveLength(2);
    await ok(con, 'cards.reportLost', { cardSerial: CARD3 });
    // Issue a blank card to a new customer; replace the lost card-3 (its float held for its late records: the default hold).
    const blank = {
      cardSerial: '00004401202690000042',
      iccid: '89860044012026000042',
      msisdn: '13900000042',
      kdd: '00004401202690000042',
    };
    expect(await ok(con, 'cards.issue', blank)).toEqual({ ...blank, kdd: undefined, status: 'issued' });
    expect(await fails(con, 'cards.issue', { ...blank, msisdn: '13900000043' })).toBe('CARD_STATE');
    const replacement = {
      cardSerial: '00004401202690000043',
      iccid: '89860044012026000043',
      kdd: '00004401202690000043',
    };
    const replaced = await ok(con, 'cards.replace', { lostCardSerial: CARD3, replacement });
    expect(replaced).toMatchObject({ cardSerial: replacement.cardSerial, moved: expect.any(Number) });
    expect(await ok(con, 'cards.replace', { lostCardSerial: CARD3, replacement })).toEqual(replaced);
    expect(await fails(con, 'cards.replace', { lostCardSerial: SERIAL1, replacement })).toBe('CARD_STATE');
    expect((await ok(con, 'ledger.verify', {})).ok).toBe(true);
  });

  it("shows the console what happened: taps cleared and refused (event.tap), batches with rejects, loads, tap times by machine, the ledger by sub-platform, each card's last balance", async () => {
    expect(await ok(con, 'events.subscribe', { topics: ['taps', 'clearing'] })).toMatchObject({
      topics: expect.arrayContaining(['taps', 'clearing']),
    });
    const before = (await ok(con, 'console.snapshot', {})) as { rates: { taps: number; cleared: number } };
    // A till's tap (what the machine saw rides along: kind, tap time, balance after) and a replay of an old one.
    const float = ((await ok(con, 'wallet.float', { cardSerial: SERIAL1 })) as { balance: number }).balance;
    const tap = { ...purchaseRecord('card-1', 7, 450), machine: 'till', tapUs: 41_200, balance: float - 450 };
    const replay = { ...purchaseRecord('card-1', 0, 1_250), machine: 'till', tapUs: 39_000 };
    const outcome = await ok(app, 'clearing.submitBatch', { idempotencyKey: 'console-1', records: [tap, replay] });
    expect(outcome).toMatchObject({ accepted: 1, settled: 450, rejected: [{ index: 1, code: 'DUPLICATE' }] });
    const got = await con.wait((g) => g.method === 'event.tap' && g.params?.status === 'rejected');
    expect(got.params).toMatchObject({ cardSerial: SERIAL1, code: 'DUPLICATE', machine: 'till', tapUs: 39_000 });
    expect((await con.wait((g) => g.method === 'event.tap' && g.params?.status === 'cleared')).params).toEqual({
      at: expect.any(Number),
      clientId: APP,
      terminalId: tap.terminalId,
      machine: 'till',
      cardSerial: SERIAL1,
      amount: 450,
      offlineCounter: 7,
      tapUs: 41_200,
      balance: float - 450,
      date: tap.date,
      time: tap.time,
      status: 'cleared',
      code: null,
    });
    const snap = (await ok(con, 'console.snapshot', {})) as {
      rates: { taps: number; cleared: number; fen: number };
      series: { taps: number[]; cleared: number[] };
      taps: Array<{ status: string; cardSerial: string }>;
      batches: Array<Record<string, unknown>>;
      loads: Array<{ loadId: string }>;
      tapTimes: { machines: Array<Record<string, unknown>> };
      connections: { app: number; console: number };
      traffic: { console: { received: number } };
    };
    expect(snap.rates.taps - before.rates.taps).toBe(2);
    expect(snap.rates.cleared - before.rates.cleared).toBe(1);
    expect(snap.series.taps.reduce((a, b) => a + b, 0)).toBe(snap.rates.taps);
    expect(snap.taps.slice(0, 2).map((x) => x.status)).toEqual(['rejected', 'cleared']); // newest first
    expect(snap.batches[0]).toMatchObject({
      clientId: APP,
      accepted: 1,
      settled: 450,
      rejected: [{ index: 1, cardSerial: SERIAL1, code: 'DUPLICATE' }],
    });
    expect(new Set(snap.loads.map((l) => l.loadId)).size).toBe(snap.loads.length); // one row per load
    expect(snap.tapTimes.machines.find((m) => m.machine === 'till')).toMatchObject({ p50Ms: 41.2, maxMs: 41.2 });
    expect(snap.connections.console).toBeGreaterThanOrEqual(1);
    expect(snap.connections.app).toBeGreaterThanOrEqual(1);
    expect(snap.traffic.console.received).toBeGreaterThan(0);
    // The card's last balance as its till saw it; limit and truncated.
    const listed = (await ok(con, 'cards.list', { cardSerial: SERIAL1 })) as {
      cards: Array<{ lastSeen: unknown }>;
      truncated: boolean;
    };
    expect(listed.cards[0]!.lastSeen).toEqual({ balance: float - 450, at: expect.any(Number), source: 'tap' });
    expect(await ok(con, 'cards.list', { limit: 1 })).toMatchObject({ cards: [{}], truncated: true });
    expect(await ok(con, 'cards.list', { msisdn: MSISDN })).toMatchObject({ truncated: false });
    // The ledger by sub-platform: every kind, money and points each summing to 0, the float as wallet.float says.
    const summary = (await ok(con, 'ledger.summary', {})) as {
      kinds: Array<{ kind: string; subPlatform: string; unit: string; balance: number }>;
      fenSum: number;
      pointsSum: number;
    };
    expect(summary.kinds.map((k) => k.kind).sort()).toEqual(
      [
        'CARD_FLOAT',
        'CASH',
        'MERCHANT_PAYABLE',
        'PENDING_LOAD',
        'PHONE',
        'POINTS_FUNDING',
        'POINTS_LIABILITY',
        'SETTLEMENT',
        'SUSPENSE',
      ].sort(),
    );
    expect(summary).toMatchObject({ fenSum: 0, pointsSum: 0 });
    expect(summary.kinds.find((k) => k.kind === 'PHONE')).toMatchObject({ subPlatform: 'customers', unit: 'fen' });
    const floats = (await ok(con, 'cards.list', {})) as { cards: Array<{ float: number }> };
    expect(summary.kinds.find((k) => k.kind === 'CARD_FLOAT')!.balance).toBe(
      floats.cards.reduce((a, c) => a + c.float, 0),
    );
  });

  it('reached every method of both endpoints with a valid call', () => {
    const all = [...methodsOf('app').map((m) => `app ${m}`), ...methodsOf('console').map((m) => `console ${m}`)].filter(
      (m) => !m.endsWith('session.authenticate'),
    );
    expect(all.filter((m) => !seen.has(m))).toEqual([]);
  });
});
