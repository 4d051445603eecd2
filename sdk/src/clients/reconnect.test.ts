/**
 * PlatformClient when the connection misbehaves, against the in-test server (./test-support) over real sockets: the
 * socket dropped after the effect and before the answer, connections refused for a while, RATE_LIMITED, a peer that
 * stops answering pings, reconnects given up. Effects are counted on the server side: every call that got an answer
 * had exactly one.
 */
import { hasErrorCode } from '@simtap/sdk/core/errors';
import { applicationError } from '@simtap/sdk/wire';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CLIENT_ERRORS,
  ConnectionError,
  type ConnectionEvent,
  PlatformClient,
  type PlatformClientOptions,
} from './index';
import { backoffDelay } from './platform-client';
import { FakePlatform, sleep, TEST_CLIENTS, until } from './test-support';

const SERIAL = '00004401202600000001';
const MSISDN = '13800138001';
const FAST = { initialDelayMs: 5, maxDelayMs: 40 };

let fake: FakePlatform;
const clients: PlatformClient[] = [];

function client(o: Partial<PlatformClientOptions> = {}): PlatformClient {
  const c = new PlatformClient({
    url: fake.url,
    clientId: 'mart-1',
    secret: TEST_CLIENTS['mart-1'].secret,
    reconnect: FAST,
    ...o,
  });
  clients.push(c);
  return c;
}

beforeEach(async () => {
  fake = await FakePlatform.start();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await fake.stop();
});

describe('backoff', () => {
  it('is full jitter: uniform in [0, min(max, initial·2ⁿ)]', () => {
    const o = { initialDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelay(0, o, () => 0)).toBe(0);
    expect(backoffDelay(0, o, () => 0.999999)).toBe(99);
    expect(backoffDelay(1, o, () => 0.999999)).toBe(199);
    expect(backoffDelay(3, o, () => 0.5)).toBe(400);
    expect(backoffDelay(4, o, () => 0.999999)).toBe(999);
    expect(backoffDelay(1000, o, () => 0.999999)).toBe(999);
    const spread = Array.from({ length: 2000 }, () => backoffDelay(2, o));
    expect(Math.min(...spread)).toBeLessThan(40);
    expect(Math.max(...spread)).toBeGreaterThan(360);
    expect(Math.max(...spread)).toBeLessThan(400);
  });
});

describe('money-moving calls across dropped connections', () => {
  it('re-sends the same request (method, params, key) after the answer was lost: one effect each', async () => {
    const seen = new Set<string>();
    fake.hook = (m, p) => {
      if (m !== 'customers.topUpPhoneAccount') return undefined;
      const key = p.idempotencyKey as string;
      if (seen.has(key)) return undefined;
      seen.add(key);
      return { dropAfterEffect: true }; // the money moved, the answer never left
    };
    const c = client();
    const events: ConnectionEvent[] = [];
    c.on('connection', (e) => events.push(e));
    const amounts = Array.from({ length: 20 }, (_, i) => 100 + i);
    const results = await Promise.all(
      amounts.map((amount) => c.customers.topUpPhoneAccount({ msisdn: MSISDN, amount })),
    );
    expect(results.length).toBe(20);
    const total = amounts.reduce((a, b) => a + b, 0);
    expect(fake.accounts.get(MSISDN)).toBe(total);
    expect(fake.effects.size).toBe(20);
    for (const [key, n] of fake.effects) expect(n, key).toBe(1);
    // every key was sent at least twice with the same params
    for (const key of fake.effects.keys()) {
      const sends = fake.requests.filter((r) => r.params.idempotencyKey === key);
      expect(sends.length).toBeGreaterThanOrEqual(2);
      expect(new Set(sends.map((s) => JSON.stringify(s.params))).size).toBe(1);
    }
    expect(fake.connections).toBeGreaterThan(1);
    expect(events.some((e) => e.state === 'reconnecting')).toBe(true);
    expect(events.filter((e) => e.state === 'connected' && e.resumed).length).toBeGreaterThan(0);
  });

  it('keeps the caller’s own key across retries', async () => {
    let drops = 3;
    fake.hook = (m) => (m === 'wallet.authorizeLoad' && drops-- > 0 ? { dropAfterEffect: true } : undefined);
    await client().customers.topUpPhoneAccount({ msisdn: MSISDN, amount: 5000, idempotencyKey: 'fund' });
    const c = client();
    const r = await c.wallet.authorizeLoad({
      idempotencyKey: 'kiosk-9/0001',
      cardSerial: SERIAL,
      terminalId: '440100000009',
      amount: 1000,
      oldBalance: 0,
      onlineCounter: 0,
      random: '1A2B3C4D',
      mac1: '8F3E2C11',
      date: '20261203',
      time: '101500',
      funding: { source: 'phoneAccount', msisdn: MSISDN },
    });
    expect(r.loadId).toBe('load-kiosk-9/0001');
    expect(fake.effects.get('kiosk-9/0001')).toBe(1);
    expect(fake.requests.filter((q) => q.method === 'wallet.authorizeLoad').length).toBe(4);
    expect(fake.accounts.get(MSISDN)).toBe(4000);
  });

  it('waits while the platform refuses connections, then sends; reconnecting events carry growing attempts', async () => {
    const c = client({ reconnect: { initialDelayMs: 20, maxDelayMs: 80 } });
    await c.connect();
    const events: ConnectionEvent[] = [];
    c.on('connection', (e) => events.push(e));
    await fake.stop();
    const t0 = Date.now();
    const call = c.customers.topUpPhoneAccount({ msisdn: MSISDN, amount: 300 });
    await sleep(400);
    await fake.listen();
    const r = await call;
    expect(r.balance).toBe(300);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
    const reconnecting = events.filter((e) => e.state === 'reconnecting');
    expect(reconnecting.length).toBeGreaterThan(2);
    for (const e of reconnecting) {
      const cap = Math.min(80, 20 * 2 ** Math.max(0, e.attempt - 1));
      expect(e.delayMs).toBeGreaterThanOrEqual(0);
      expect(e.delayMs).toBeLessThan(cap);
    }
    expect(reconnecting.at(-1)!.attempt).toBeGreaterThan(1);
    expect(reconnecting.at(-1)!.error?.message).toMatch(/ECONNREFUSED/);
    expect(events.at(-1)).toMatchObject({ state: 'connected', resumed: true, attempt: 0 });
    expect(fake.totalEffects).toBe(1);
  });

  it('1,000 money-moving calls through random drops (before and after the effect): each has exactly one effect', async () => {
    let n = 0;
    fake.hook = (m) => {
      if (m !== 'customers.topUpPhoneAccount') return undefined;
      n++;
      if (n % 37 === 0) return { dropAfterEffect: true };
      if (n % 53 === 0) return { drop: true };
      return undefined;
    };
    const c = client({ reconnect: { initialDelayMs: 2, maxDelayMs: 20 } });
    const t0 = Date.now();
    let total = 0;
    const keys: string[] = [];
    for (let batch = 0; batch < 20; batch++) {
      const calls = Array.from({ length: 50 }, (_, i) => {
        const amount = 1 + ((batch * 50 + i) % 97);
        total += amount;
        const key = `stress-${batch}-${i}`;
        keys.push(key);
        return c.customers.topUpPhoneAccount({ msisdn: MSISDN, amount, idempotencyKey: key });
      });
      await Promise.all(calls);
    }
    const ms = Date.now() - t0;
    expect(keys.length).toBe(1000);
    for (const k of keys) expect(fake.effects.get(k), k).toBe(1);
    expect(fake.totalEffects).toBe(1000);
    expect(fake.accounts.get(MSISDN)).toBe(total);
    expect(fake.connections).toBeGreaterThan(10);
    expect(ms).toBeLessThan(20_000);
  });

  it('re-sends confirmLoad (idempotent by loadId) and reads after a drop', async () => {
    let drop = true;
    fake.handlers.set('wallet.confirmLoad', () => ({ result: { status: 'posted', float: 1000 } }));
    fake.hook = (m) => {
      if ((m === 'wallet.confirmLoad' || m === 'wallet.float') && drop) {
        drop = false;
        return { drop: true };
      }
      return undefined;
    };
    const c = client();
    expect(await c.wallet.confirmLoad({ loadId: 'L-1', tac: 'C0FFEE42' })).toEqual({ status: 'posted', float: 1000 });
    drop = true;
    expect(await c.wallet.float({ cardSerial: SERIAL })).toEqual({ balance: 5000 });
    expect(fake.requests.filter((r) => r.method === 'wallet.confirmLoad').length).toBe(2);
  });

  it('never re-sends cards.reportLost once it may have reached the platform: CONNECTION_LOST, effect unknown', async () => {
    fake.hook = (m) => (m === 'cards.reportLost' ? { dropAfterEffect: true } : undefined);
    const c = client();
    const err = await c.cards.reportLost({ cardSerial: SERIAL }).catch((e) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(hasErrorCode(err, CLIENT_ERRORS, 'CONNECTION_LOST')).toBe(true);
    expect(err.effectUnknown).toBe(true);
    expect(fake.requests.filter((r) => r.method === 'cards.reportLost').length).toBe(1);
    // the client reconnects for the next call
    expect((await c.cards.get({ cardSerial: SERIAL })).status).toBe('active');
  });
});

describe('RATE_LIMITED and other answers that say "later"', () => {
  it('retries RATE_LIMITED after the hinted delay, with the same key; one effect', async () => {
    let limited = 2;
    fake.hook = () =>
      limited-- > 0 ? { error: applicationError('RATE_LIMITED', 'slow down', { retryAfterMs: 60 }) } : undefined;
    const c = client();
    await c.connect();
    const t0 = Date.now();
    const r = await c.customers.topUpPhoneAccount({ msisdn: MSISDN, amount: 50 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(115);
    expect(r.balance).toBe(50);
    const sends = fake.requests.filter((q) => q.method === 'customers.topUpPhoneAccount');
    expect(sends.length).toBe(3);
    expect(new Set(sends.map((s) => s.params.idempotencyKey)).size).toBe(1);
    expect(fake.totalEffects).toBe(1);
    expect(fake.connections).toBe(1);
  });

  it('retries RATE_LIMITED with backoff without a hint, UNAVAILABLE for re-sendable calls, until the timeout', async () => {
    fake.hook = () => ({ error: applicationError('RATE_LIMITED', 'slow down') });
    const c = client({ reconnect: { initialDelayMs: 10, maxDelayMs: 20 } });
    const err = await c.wallet.float({ cardSerial: SERIAL }, { timeoutMs: 300 }).catch((e) => e);
    expect(hasErrorCode(err, CLIENT_ERRORS, 'CALL_TIMEOUT')).toBe(true);
    expect(err.cause?.code).toBe('RATE_LIMITED');
    const tries = fake.requests.length;
    expect(tries).toBeGreaterThan(10);
    expect(tries).toBeLessThan(300 / 5);

    let unavailable = 1;
    fake.hook = () => (unavailable-- > 0 ? { error: applicationError('UNAVAILABLE', 'shutting down') } : undefined);
    expect((await c.cards.get({ cardSerial: SERIAL })).status).toBe('active');
    unavailable = 1;
    const once = await c.cards.reportLost({ cardSerial: SERIAL }).catch((e) => e);
    expect(once.code).toBe('UNAVAILABLE'); // not re-sent: reportLost is not idempotent
  });
});

describe('dead peers and giving up', () => {
  it('drops a connection that stops answering pings and re-sends the call in flight on a new one', async () => {
    let stall = true;
    fake.hook = (m, _p, conn) => {
      if (m !== 'customers.topUpPhoneAccount' || !stall) return undefined;
      stall = false;
      (conn.socket as unknown as { _socket: { pause(): void } })._socket.pause(); // reads nothing more: no pongs
      return { silence: true };
    };
    const c = client({ heartbeatMs: 50 });
    const t0 = Date.now();
    const r = await c.customers.topUpPhoneAccount({ msisdn: MSISDN, amount: 10 }, { timeoutMs: 5000 });
    expect(r.balance).toBe(10);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(50);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(fake.connections).toBe(2);
    expect(fake.totalEffects).toBe(1);
  });

  it('gives up after reconnect.maxAttempts: calls waiting reject CONNECTION_LOST, state disconnected; the next call starts again', async () => {
    const c = client({ reconnect: { initialDelayMs: 5, maxDelayMs: 10, maxAttempts: 3 } });
    await c.connect();
    const events: ConnectionEvent[] = [];
    c.on('connection', (e) => events.push(e));
    await fake.stop();
    await until(() => c.state === 'reconnecting');
    const err = await c.customers.topUpPhoneAccount({ msisdn: MSISDN, amount: 1 }).catch((e) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(hasErrorCode(err, CLIENT_ERRORS, 'CONNECTION_LOST')).toBe(true);
    expect(err.effectUnknown).toBe(false); // never sent
    expect(err.idempotencyKey).toBeDefined();
    expect(events.at(-1)).toMatchObject({ state: 'disconnected', attempt: 3 });
    expect(c.state).toBe('disconnected');
    await fake.listen();
    expect((await c.cards.get({ cardSerial: SERIAL })).status).toBe('active');
    expect(c.state).toBe('connected');
  });

  it('with reconnect: false a drop fails the calls in flight (money: effect unknown, with the key)', async () => {
    fake.hook = (m) => (m === 'customers.topUpPhoneAccount' ? { dropAfterEffect: true } : undefined);
    const c = client({ reconnect: false });
    const err = await c.customers.topUpPhoneAccount({ msisdn: MSISDN, amount: 1 }).catch((e) => e);
    expect(hasErrorCode(err, CLIENT_ERRORS, 'CONNECTION_LOST')).toBe(true);
    expect(err.effectUnknown).toBe(true);
    expect(fake.effects.get(err.idempotencyKey)).toBe(1);
    expect(fake.connections).toBe(1);
    // retried by the caller with the key: the first outcome, no second effect
    fake.hook = undefined;
    const again = await c.customers.topUpPhoneAccount({
      msisdn: MSISDN,
      amount: 1,
      idempotencyKey: err.idempotencyKey,
    });
    expect(again.balance).toBe(1);
    expect(fake.effects.get(err.idempotencyKey)).toBe(1);
  });
});
