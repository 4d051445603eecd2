/**
 * PlatformClient over real sockets against the in-test `simtap.v1` server (./test-support): the handshake, typed
 * calls and errors, local validation, timeouts and aborts, and close. Reconnects and events are in their own files.
 */
import { hasErrorCode } from '@simtap/sdk/core/errors';
import { METHODS, methodsOf } from '@simtap/sdk/wire';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  AbortError,
  AuthenticationError,
  BadMac1Error,
  CLIENT_ERRORS,
  ClientClosedError,
  ConnectionError,
  hasPlatformErrorCode,
  IdempotencyConflictError,
  InsufficientFundsError,
  PlatformCallError,
  PlatformClient,
  type PlatformClientOptions,
  ProtocolError,
  TimeoutError,
  UnknownCustomerError,
  type WebSocketConstructor,
} from './index';
import { FakePlatform, sleep, TEST_CLIENTS } from './test-support';

const SERIAL = '00004401202600000001';
const MSISDN = '13800138001';
const LOAD = {
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
} as const;
const RECORD = {
  cardSerial: SERIAL,
  offlineCounter: 0,
  amount: 1250,
  tti: 6,
  terminalId: '440100000009',
  terminalSeq: 88,
  date: '20261203',
  time: '101500',
  tac: '19A4C3E0',
} as const;

let fake: FakePlatform;
const clients: PlatformClient[] = [];

function client(o: Partial<PlatformClientOptions> = {}): PlatformClient {
  const c = new PlatformClient({ url: fake.url, clientId: 'mart-1', secret: TEST_CLIENTS['mart-1'].secret, ...o });
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

describe('session', () => {
  it('connects and authenticates (challenge, proof), once', async () => {
    const c = client();
    const states: string[] = [];
    c.on('connection', (e) => states.push(e.state));
    expect(c.state).toBe('idle');
    await c.connect();
    expect(c.state).toBe('connected');
    await c.connect(); // already open
    expect(fake.connections).toBe(1);
    expect(fake.open.size).toBe(1);
    expect([...fake.open][0]!.clientId).toBe('mart-1');
    expect(states).toEqual(['connecting', 'connected']);
    expect(c.url).toBe(`${fake.url}/v1/app`);
  });

  it('takes the secret as bytes and connects on the first call', async () => {
    const c = client({ secret: Buffer.from(TEST_CLIENTS['mart-1'].secret, 'hex') });
    expect(await c.wallet.float({ cardSerial: SERIAL })).toEqual({ balance: 5000 });
    expect(fake.connections).toBe(1);
  });

  it('a wrong secret is fatal: AUTH_FAILED (BAD_PROOF), no reconnect loop, every later call refused', async () => {
    const c = client({ secret: '00'.repeat(32), reconnect: { initialDelayMs: 1, maxDelayMs: 5 } });
    const states: string[] = [];
    c.on('connection', (e) => states.push(e.state));
    const err = await c.connect().catch((e) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect(hasErrorCode(err, CLIENT_ERRORS, 'AUTH_FAILED')).toBe(true);
    expect(err.reason).toBe('BAD_PROOF');
    await sleep(100);
    expect(fake.connections).toBe(1);
    expect(states).toEqual(['connecting', 'closed']);
    await expect(c.wallet.float({ cardSerial: SERIAL })).rejects.toBe(err);
    await expect(c.connect()).rejects.toBe(err);
    expect(fake.connections).toBe(1);
    expect(String(err.message)).not.toContain('00000000');
  });

  it('an unknown client id is BAD_PROOF; an operator on /v1/app is FORBIDDEN (4403); on /v1/console it works', async () => {
    const unknown = await client({ clientId: 'nobody' })
      .connect()
      .catch((e) => e);
    expect(unknown).toBeInstanceOf(AuthenticationError);
    expect(unknown.reason).toBe('BAD_PROOF');
    const op = { clientId: 'operator-1', secret: TEST_CLIENTS['operator-1'].secret };
    const forbidden = await client(op)
      .connect()
      .catch((e) => e);
    expect(forbidden).toBeInstanceOf(AuthenticationError);
    expect(forbidden.reason).toBe('FORBIDDEN');
    const consoleClient = client({ ...op, endpoint: 'console' });
    expect((await consoleClient.call('ledger.verify')).ok).toBe(true);
    expect(fake.connections).toBe(3);
  });

  it('connect() against nothing rejects CONNECT_FAILED within its time, with the last failure', async () => {
    await fake.stop();
    const c = client({ reconnect: { initialDelayMs: 10, maxDelayMs: 20 } });
    const t0 = Date.now();
    const err = await c.connect({ timeoutMs: 300 }).catch((e) => e);
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(hasErrorCode(err, CLIENT_ERRORS, 'CONNECT_FAILED')).toBe(true);
    expect(err.message).toMatch(/ECONNREFUSED/);
    await sleep(50);
    expect(c.state).toBe('idle'); // nothing needs the connection any more: the loop stopped
  });

  it('checks its options', () => {
    expect(() => client({ url: 'http://127.0.0.1:1' })).toThrow(/ws:\/\//);
    expect(() => client({ secret: 'xyz' })).toThrow(/secret/);
    expect(() => client({ clientId: 'no spaces' })).toThrow(/clientId/);
    expect(() => client({ timeoutMs: -1 })).toThrow(/timeoutMs/);
    expect(client({ url: 'wss://example.test:7800/proxy/v1/app' }).url).toBe('wss://example.test:7800/proxy/v1/app');
    expect(client({ endpoint: 'console', url: 'ws://h:1' }).url).toBe('ws://h:1/v1/console');
  });

  it('takes the ws package WebSocket as its implementation type', async () => {
    const WS: WebSocketConstructor = WebSocket;
    const c = client({ WebSocket: WS });
    await c.connect();
  });
});

describe('typed calls', () => {
  it('has a typed method for every method of /v1/app', () => {
    const c = client();
    const api = c as unknown as Record<string, Record<string, unknown>>;
    for (const m of methodsOf('app')) {
      if (m === 'session.authenticate') continue;
      const [ns, fn] = m.split('.') as [string, string];
      expect(typeof api[ns]?.[fn], m).toBe('function');
    }
    expect(typeof c.events).toBe('function');
  });

  it('answers typed results, validated on arrival; money calls get a key when the caller gives none', async () => {
    const c = client();
    const top = await c.customers.topUpPhoneAccount({ msisdn: MSISDN, amount: 5000 });
    expect(top.balance).toBe(5000);
    const key = fake.requests[0]!.params.idempotencyKey as string;
    expect(key).toMatch(/^[0-9a-f-]{36}$/);
    const load = await c.wallet.authorizeLoad({ ...LOAD, idempotencyKey: 'mine-1' });
    expect(load).toEqual({ loadId: 'load-mine-1', mac2: '5E7A0C92' });
    const batch = await c.clearing.submitBatch({ records: [RECORD, { ...RECORD, offlineCounter: 1 }] });
    expect(batch).toMatchObject({ accepted: 2, settled: 2500, rejected: [], gaps: [] });
    expect((await c.cards.get({ cardSerial: SERIAL })).status).toBe('active');
    expect(await c.merchants.balance()).toEqual({ payable: 1250 });
    expect(await c.call('customers.phoneAccount', { msisdn: MSISDN })).toEqual({ balance: 4000, available: 4000 });
    expect(fake.effects.size).toBe(3);
  });

  it('validates params locally: INVALID_PARAMS with no round trip; a method of another endpoint is METHOD_NOT_FOUND', async () => {
    const c = client();
    await c.connect();
    const bad = await c.customers.topUpPhoneAccount({ msisdn: 'not-digits', amount: -5 }).catch((e) => e);
    expect(bad).toBeInstanceOf(ProtocolError);
    expect(hasErrorCode(bad, CLIENT_ERRORS, 'INVALID_PARAMS')).toBe(true);
    expect(bad.rpcCode).toBe(-32602);
    expect(bad.message).toMatch(/msisdn/);
    expect(bad.message).toMatch(/amount/);
    const extra = await c.wallet
      .float({ cardSerial: SERIAL, extra: 1 } as unknown as { cardSerial: string })
      .catch((e) => e);
    expect(hasErrorCode(extra, CLIENT_ERRORS, 'INVALID_PARAMS')).toBe(true);
    const lower = await c.wallet.float({ cardSerial: 'x' }).catch((e) => e);
    expect(hasErrorCode(lower, CLIENT_ERRORS, 'INVALID_PARAMS')).toBe(true);
    const key = await c.customers.topUpPhoneAccount({ msisdn: MSISDN, amount: 1, idempotencyKey: '' }).catch((e) => e);
    expect(hasErrorCode(key, CLIENT_ERRORS, 'INVALID_PARAMS')).toBe(true);
    const consoleOnly = await c.call('ledger.verify').catch((e) => e);
    expect(hasErrorCode(consoleOnly, CLIENT_ERRORS, 'METHOD_NOT_FOUND')).toBe(true);
    const auth = await c.call('session.authenticate' as 'ledger.verify').catch((e) => e);
    expect(hasErrorCode(auth, CLIENT_ERRORS, 'METHOD_NOT_FOUND')).toBe(true);
    const proto = await c.call('toString' as 'ledger.verify').catch((e) => e);
    expect(hasErrorCode(proto, CLIENT_ERRORS, 'METHOD_NOT_FOUND')).toBe(true);
    expect(fake.requests).toEqual([]);
  });

  it('a request the platform closes 1009 on fails FRAME_TOO_BIG, not run; the others go on', async () => {
    await fake.stop();
    fake = await FakePlatform.start({ maxPayload: 64 * 1024 });
    const c = client({ reconnect: { initialDelayMs: 5, maxDelayMs: 20 } });
    await c.connect();
    const records = Array.from({ length: 1000 }, (_, i) => ({ ...RECORD, offlineCounter: i }));
    const [big, small] = await Promise.all([
      c.clearing.submitBatch({ records }).catch((e) => e),
      c.clearing.submitBatch({ records: records.slice(0, 10) }),
    ]);
    expect(big).toBeInstanceOf(ProtocolError);
    expect(hasErrorCode(big, CLIENT_ERRORS, 'FRAME_TOO_BIG')).toBe(true);
    expect(big.effectUnknown).toBe(false);
    expect(small.accepted).toBe(10);
    expect(fake.totalEffects).toBe(1);
  });

  it('an invalid result is INVALID_RESULT with the raw result', async () => {
    fake.handlers.set('wallet.float', () => ({ result: { balance: 'lots' } }));
    const err = await client()
      .wallet.float({ cardSerial: SERIAL })
      .catch((e) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect(hasErrorCode(err, CLIENT_ERRORS, 'INVALID_RESULT')).toBe(true);
    expect(err.data).toEqual({ result: { balance: 'lots' } });
  });
});

describe('errors by data.code', () => {
  it('rejects with a class per code, matched by hasPlatformErrorCode', async () => {
    const c = client();
    const funds = await c.wallet.authorizeLoad({ ...LOAD, amount: 999_999 }).catch((e) => e);
    expect(funds).toBeInstanceOf(InsufficientFundsError);
    expect(funds).toBeInstanceOf(PlatformCallError);
    expect(funds.code).toBe('INSUFFICIENT_FUNDS');
    expect(funds.method).toBe('wallet.authorizeLoad');
    expect(funds.data).toMatchObject({ code: 'INSUFFICIENT_FUNDS' });
    expect(funds.rpcCode).toBe(-32000);
    expect(funds.effectUnknown).toBe(false);
    expect(typeof funds.idempotencyKey).toBe('string');
    expect(hasPlatformErrorCode(funds, 'INSUFFICIENT_FUNDS')).toBe(true);
    expect(hasPlatformErrorCode(funds, 'BAD_MAC1', 'BAD_TAC')).toBe(false);
    expect(hasPlatformErrorCode(funds)).toBe(true);
    expect(hasPlatformErrorCode(new Error('x'))).toBe(false);

    await c.customers.topUpPhoneAccount({ msisdn: MSISDN, amount: 5000 });
    const mac = await c.wallet.authorizeLoad({ ...LOAD, mac1: '00000000' }).catch((e) => e);
    expect(mac).toBeInstanceOf(BadMac1Error);
    const who = await c.customers.phoneAccount({ msisdn: '13900000000' }).catch((e) => e);
    expect(who).toBeInstanceOf(UnknownCustomerError);

    await c.customers.topUpPhoneAccount({ msisdn: MSISDN, amount: 100, idempotencyKey: 'k-1' });
    const conflict = await c.customers
      .topUpPhoneAccount({ msisdn: MSISDN, amount: 200, idempotencyKey: 'k-1' })
      .catch((e) => e);
    expect(conflict).toBeInstanceOf(IdempotencyConflictError);
    expect(conflict.idempotencyKey).toBe('k-1');
  });

  it('an application code this SDK does not know arrives as PlatformCallError; -32601 from the server as ProtocolError', async () => {
    fake.handlers.set('cards.get', () => ({
      error: { code: -32000, message: 'new', data: { code: 'SOMETHING_NEW' } },
    }));
    const c = client();
    const err = await c.cards.get({ cardSerial: SERIAL }).catch((e) => e);
    expect(err.constructor).toBe(PlatformCallError);
    expect(err.code).toBe('SOMETHING_NEW');
    fake.handlers.delete('cards.get');
    const missing = await c.cards.get({ cardSerial: SERIAL }).catch((e) => e);
    expect(hasErrorCode(missing, CLIENT_ERRORS, 'METHOD_NOT_FOUND')).toBe(true);
    expect(missing.rpcCode).toBe(-32601);
    expect(missing.effectUnknown).toBe(false);
  });
});

describe('timeouts and aborts', () => {
  it('a call never answered times out: effect unknown, with its key; retried with that key it has one effect', async () => {
    fake.hook = (m) => (m === 'customers.topUpPhoneAccount' ? { silence: true } : undefined);
    const c = client();
    const t0 = Date.now();
    const err = await c.customers
      .topUpPhoneAccount({ msisdn: MSISDN, amount: 700 }, { timeoutMs: 150 })
      .catch((e) => e);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(145);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(hasErrorCode(err, CLIENT_ERRORS, 'CALL_TIMEOUT')).toBe(true);
    expect(err.effectUnknown).toBe(true);
    expect(err.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    expect(err.message).toMatch(/effect is unknown/);
    fake.hook = undefined;
    const again = await c.customers.topUpPhoneAccount({
      msisdn: MSISDN,
      amount: 700,
      idempotencyKey: err.idempotencyKey,
    });
    expect(again.balance).toBe(700);
    expect(fake.effects.get(err.idempotencyKey)).toBe(1);
  });

  it('a read that times out has no unknown effect; the client default timeout applies', async () => {
    fake.hook = () => ({ silence: true });
    const err = await client({ timeoutMs: 80 })
      .wallet.float({ cardSerial: SERIAL })
      .catch((e) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err.effectUnknown).toBe(false);
  });

  it('aborts: before sending (nothing sent) and in flight (effect unknown)', async () => {
    const c = client();
    await c.connect();
    const pre = await c.customers
      .topUpPhoneAccount({ msisdn: MSISDN, amount: 1 }, { signal: AbortSignal.abort('no') })
      .catch((e) => e);
    expect(pre).toBeInstanceOf(AbortError);
    expect(hasErrorCode(pre, CLIENT_ERRORS, 'CALL_ABORTED')).toBe(true);
    expect(pre.effectUnknown).toBe(false);
    expect(pre.cause).toBe('no');
    expect(fake.requests).toEqual([]);

    fake.hook = () => ({ silence: true });
    const ac = new AbortController();
    const pending = c.customers.topUpPhoneAccount({ msisdn: MSISDN, amount: 1 }, { signal: ac.signal });
    await sleep(30);
    ac.abort();
    const inflight = await pending.catch((e) => e);
    expect(inflight).toBeInstanceOf(AbortError);
    expect(inflight.effectUnknown).toBe(true);
    expect(fake.requests.length).toBe(1);
    // the session is still usable
    fake.hook = undefined;
    expect((await c.wallet.float({ cardSerial: SERIAL })).balance).toBe(5000);
  });

  it('many calls in flight at once are matched to their answers', async () => {
    const c = client();
    fake.handlers.set('wallet.float', async (p) => {
      await sleep(Math.random() * 20);
      return { result: { balance: Number.parseInt((p.cardSerial as string).slice(-4), 10) } };
    });
    const serials = Array.from({ length: 200 }, (_, i) => `0000440120260000${String(i).padStart(4, '0')}`);
    const got = await Promise.all(serials.map((s) => c.wallet.float({ cardSerial: s })));
    expect(got.map((r) => r.balance)).toEqual(serials.map((_, i) => i));
  });
});

describe('close', () => {
  it('rejects calls in flight (effect unknown for money), refuses later calls, and is idempotent', async () => {
    fake.hook = () => ({ silence: true });
    const c = client();
    const states: string[] = [];
    c.on('connection', (e) => states.push(e.state));
    const money = c.customers.topUpPhoneAccount({ msisdn: MSISDN, amount: 1 }).catch((e) => e);
    const read = c.wallet.float({ cardSerial: SERIAL }).catch((e) => e);
    await sleep(50);
    const closing = c.close();
    expect(c.close()).toBe(closing);
    await closing;
    const [m, r] = await Promise.all([money, read]);
    expect(m).toBeInstanceOf(ClientClosedError);
    expect(m.effectUnknown).toBe(true);
    expect(m.idempotencyKey).toBeDefined();
    expect(r).toBeInstanceOf(ClientClosedError);
    expect(r.effectUnknown).toBe(false);
    expect(
      hasErrorCode(await c.wallet.float({ cardSerial: SERIAL }).catch((e) => e), CLIENT_ERRORS, 'CLIENT_CLOSED'),
    ).toBe(true);
    await expect(c.connect()).rejects.toBeInstanceOf(ClientClosedError);
    expect(states.at(-1)).toBe('closed');
    expect(c.state).toBe('closed');
    await sleep(20);
    expect(fake.open.size).toBe(0);
  });

  it('close() during a connection attempt stops it', async () => {
    await fake.stop();
    const c = client({ reconnect: { initialDelayMs: 5, maxDelayMs: 10 } });
    const call = c.wallet.float({ cardSerial: SERIAL }).catch((e) => e);
    await sleep(50);
    await c.close();
    expect(await call).toBeInstanceOf(ClientClosedError);
    expect(c.state).toBe('closed');
  });
});

describe('the catalogue', () => {
  it('marks money-moving exactly the methods that take idempotencyKey', () => {
    for (const [name, spec] of Object.entries(METHODS)) {
      const shape = (spec.params as unknown as { shape?: Record<string, unknown> }).shape ?? {};
      expect('idempotencyKey' in shape, name).toBe(spec.moneyMoving);
    }
  });
});
