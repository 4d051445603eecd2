/**
 * PlatformClient's events against the in-test server (./test-support): listeners and async iterators of `event.load`,
 * `event.card` and `event.batch`, subscriptions renewed after a reconnect, iterators ended by close and abort.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  type ConnectionEvent,
  PlatformClient,
  type PlatformClientOptions,
  type PlatformEvent,
} from './index';
import { FakePlatform, sleep, TEST_CLIENTS, until } from './test-support';

const SERIAL = '00004401202600000001';
const LOAD = { loadId: 'L-1', cardSerial: SERIAL, status: 'posted', amount: 5000 };
const CARD = { cardSerial: SERIAL, status: 'lost', blacklistVersion: 1 };
const BATCH = { clientId: 'mart-1', accepted: 2, settled: 2500, rejected: 0 };

let fake: FakePlatform;
const clients: PlatformClient[] = [];

function client(o: Partial<PlatformClientOptions> = {}): PlatformClient {
  const c = new PlatformClient({
    url: fake.url,
    clientId: 'mart-1',
    secret: TEST_CLIENTS['mart-1'].secret,
    reconnect: { initialDelayMs: 5, maxDelayMs: 20 },
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

describe('listeners', () => {
  it('delivers the notifications of the subscribed topics, validated; removes listeners', async () => {
    const c = client();
    const loads: unknown[] = [];
    const cards: unknown[] = [];
    const off = c.on('event.load', (e) => loads.push(e));
    c.on('event.card', (e) => cards.push(e));
    c.on('event.load', () => {
      throw new Error('a bad listener does not stop the others');
    });
    expect(await c.events.subscribe(['loads', 'cards'])).toEqual({ topics: ['loads', 'cards'] });
    fake.notify('loads', 'event.load', LOAD);
    fake.notify('loads', 'event.load', { ...LOAD, amount: 'lots' }); // invalid: dropped
    fake.notify('cards', 'event.card', CARD);
    await until(() => loads.length === 1 && cards.length === 1);
    expect(loads).toEqual([LOAD]);
    expect(cards).toEqual([CARD]);
    off();
    fake.notify('loads', 'event.load', LOAD);
    fake.notify('cards', 'event.card', CARD);
    await until(() => cards.length === 2);
    expect(loads.length).toBe(1);
  });
});

describe('iterators', () => {
  it('yields the events of its topics (subscribing to them), ends at close', async () => {
    const c = client();
    const got: PlatformEvent[] = [];
    const done = (async () => {
      for await (const e of c.events({ topics: ['cards', 'clearing'] })) got.push(e);
      return 'ended';
    })();
    await until(() => fake.requests.some((r) => r.method === 'events.subscribe'));
    await c.events.subscribe(['loads']); // a listener-only topic: the iterator filters it out
    fake.notify('loads', 'event.load', LOAD);
    fake.notify('cards', 'event.card', CARD);
    fake.notify('clearing', 'event.batch', BATCH);
    await until(() => got.length === 2);
    expect(got).toEqual([
      { type: 'event.card', data: CARD },
      { type: 'event.batch', data: BATCH },
    ]);
    await c.close();
    expect(await done).toBe('ended');
  });

  it('without topics yields every event the client gets; ends when its signal aborts; buffers while behind', async () => {
    const c = client();
    await c.events.subscribe(['loads']);
    const ac = new AbortController();
    const it1 = c.events({ signal: ac.signal, bufferSize: 3 });
    for (let i = 0; i < 5; i++) fake.notify('loads', 'event.load', { ...LOAD, loadId: `L-${i}` });
    await sleep(50);
    const first = await it1.next();
    expect(first.value).toEqual({ type: 'event.load', data: { ...LOAD, loadId: 'L-2' } }); // the oldest two dropped
    ac.abort();
    const rest: unknown[] = [];
    for await (const e of it1) rest.push(e);
    expect(rest).toEqual([]); // aborting ends it at once; what was buffered is not read
    // break out of a for await: the iterator stops receiving
    const it2 = c.events();
    fake.notify('loads', 'event.load', LOAD);
    for await (const e of it2) {
      expect(e.type).toBe('event.load');
      break;
    }
    expect((await it2.next()).done).toBe(true);
  });

  it('ends with the AuthenticationError when the session is refused', async () => {
    const c = client({ secret: '11'.repeat(32) });
    const it = c.events({ topics: ['loads'] });
    await expect(it.next()).rejects.toBeInstanceOf(AuthenticationError);
  });
});

describe('reconnects', () => {
  it('renews the subscriptions after a reconnect and reports the connection states', async () => {
    const c = client();
    const states: ConnectionEvent[] = [];
    c.on('connection', (e) => states.push(e));
    const loads: unknown[] = [];
    c.on('event.load', (e) => loads.push(e));
    await c.events.subscribe(['loads']);
    await c.events.subscribe(['clearing']);
    fake.dropAll();
    await until(() => fake.connections === 2 && fake.open.size === 1 && [...fake.open][0]!.topics.size === 2);
    const subs = fake.requests.filter((r) => r.method === 'events.subscribe');
    expect(subs.at(-1)!.params).toEqual({ topics: ['loads', 'clearing'] });
    fake.notify('loads', 'event.load', LOAD);
    await until(() => loads.length === 1);
    await c.close();
    expect(states.map((s) => s.state)).toEqual(['connecting', 'connected', 'reconnecting', 'connected', 'closed']);
    expect(states[2]!.closeCode).toBe(1006);
    expect(states[3]!.resumed).toBe(true);
  });
});
