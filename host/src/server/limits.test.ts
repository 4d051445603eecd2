/**
 * The server's limits over real sockets: frame sizes (256 KiB and 1 MiB accepted, over 1 MiB closes 1009), the rate
 * limit (a burst of 2,000 calls passes; a flood gets RATE_LIMITED, then 4429), request timeouts, heartbeats that
 * drop a dead peer, requests in flight, backpressure against a peer that does not read (its socket is paused and the
 * server's memory stays bounded; events to it end the connection), and the graceful shutdown.
 */
import { GUARANTEED_FRAME_BYTES, MAX_FRAME_BYTES, requestFrame } from '@simtap/sdk/wire';
import { afterEach, describe, expect, it } from 'vitest';
import type { Platform } from '../platform';
import { SERIAL1 } from '../platform/platform.test-support';
import { DrainingCount, TokenBucket } from './limits';
import { APP, OPERATOR, override, RawClient, sleep, startServer, type TestServer } from './server.test-support';

const started: TestServer[] = [];
async function server(o: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const t = await startServer(o);
  started.push(t);
  return t;
}
afterEach(async () => {
  for (const t of started.splice(0)) await t.stop();
});

/** The platform with `wallets.float` taking `ms` (and counting its calls). */
function slowFloat(ms: number, calls = { started: 0, done: 0 }) {
  return (p: Platform): Platform =>
    override(p, {
      wallets: override(p.wallets, {
        float: async () => {
          calls.started++;
          await sleep(ms);
          calls.done++;
          return { balance: 7 };
        },
      }),
    });
}

async function until(cond: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('frame sizes', () => {
  it('accepts frames of 256 KiB and of exactly 1 MiB, and closes 1009 on a bigger one', async () => {
    const t = await server();
    const c = await RawClient.session(t.url, '/v1/app', APP);
    const padded = (id: number, bytes: number) => {
      const f = requestFrame(id, 'wallet.float', { cardSerial: SERIAL1 });
      return f + ' '.repeat(bytes - Buffer.byteLength(f));
    };
    c.sendRaw(padded(101, GUARANTEED_FRAME_BYTES));
    expect((await c.wait((g) => g.id === 101)).result).toEqual({ balance: 0 });
    c.sendRaw(padded(102, MAX_FRAME_BYTES));
    expect((await c.wait((g) => g.id === 102)).result).toEqual({ balance: 0 });
    c.sendRaw(padded(103, MAX_FRAME_BYTES + 1));
    expect((await c.closed).code).toBe(1009);
    expect(c.frames.some((g) => g.id === 103)).toBe(false);
    await until(() => t.server.connections.length === 0, 'the server to see the close');
    expect(t.logger.lines.find((l) => l.msg === 'connection closed')?.obj).toMatchObject({ code: 1009, by: 'server' });
  });
});

describe('rate limit', () => {
  it('allows 1,000 calls per second sustained, and refuses what goes beyond the bucket (token bucket, own clock)', () => {
    const bucket = new TokenBucket(2_000, 2_000, 0);
    let refused = 0;
    for (let ms = 0; ms < 10_000; ms++) if (!bucket.take(ms)) refused++; // 1,000/s for 10 s
    expect(refused).toBe(0);
    const flood = new TokenBucket(2_000, 2_000, 0);
    let ok = 0;
    for (let i = 0; i < 10_000; i++) if (flood.take(i / 10)) ok++; // 10,000 calls/s for 1 s
    expect(ok).toBeGreaterThanOrEqual(3_900);
    expect(ok).toBeLessThanOrEqual(4_001);
    const count = new DrainingCount(1_000, 0);
    expect([count.add(0), count.add(0), count.add(1_000)]).toEqual([1, 2, 1]);
  });

  it('answers a burst of 2,000 calls on one connection (default limits), none RATE_LIMITED', async () => {
    const t = await server();
    const c = await RawClient.session(t.url, '/v1/app', APP);
    const ids = Array.from({ length: 2_000 }, () => c.send('wallet.float', { cardSerial: SERIAL1 }));
    await c.wait((g) => g.id === ids.at(-1), 10_000);
    await until(() => c.frames.filter((g) => typeof g.id === 'number' && g.id >= ids[0]!).length === 2_000, 'answers');
    expect(c.frames.filter((g) => g.error).map((g) => g.error?.data?.code)).toEqual([]);
  });

  it('answers a flood with RATE_LIMITED, then closes 4429 when it goes on', async () => {
    const t = await server({ limits: { ratePerSecond: 100, rateBurst: 100, rateCloseAfter: 200 } });
    const c = await RawClient.session(t.url, '/v1/app', APP);
    for (let i = 0; i < 2_000; i++) c.send('merchants.balance', {});
    const start = Date.now();
    expect((await c.closed).code).toBe(4429);
    expect(Date.now() - start).toBeLessThan(1_000); // the closing handshake completes (the socket is read again)
    const limited = c.frames.filter((g) => g.error?.data?.code === 'RATE_LIMITED').length;
    // The burst's calls were accepted (their answers may be cut by the close), the rest refused until the close.
    expect(c.frames.filter((g) => g.result && g.id !== 1).length).toBeLessThanOrEqual(100);
    expect(limited).toBeGreaterThan(150);
    expect(limited).toBeLessThanOrEqual(2_000 - 100);
    await until(() => t.server.connections.length === 0, 'the server to see the close');
    expect(t.logger.lines.find((l) => l.msg === 'connection closed')?.obj).toMatchObject({ code: 4429, by: 'server' });
  });
});

describe('timeouts and heartbeats', () => {
  it('answers TIMEOUT when the platform takes longer than the request timeout; the work still finishes', async () => {
    const calls = { started: 0, done: 0 };
    const t = await server({ limits: { requestTimeoutMs: 100 }, wrap: slowFloat(400, calls) });
    const c = await RawClient.session(t.url, '/v1/app', APP);
    const start = Date.now();
    const r = await c.call('wallet.float', { cardSerial: SERIAL1 });
    expect(r.error).toMatchObject({ code: -32000, data: { code: 'TIMEOUT' } });
    expect(Date.now() - start).toBeLessThan(350);
    expect(calls).toEqual({ started: 1, done: 0 });
    await until(() => calls.done === 1, 'the work to finish');
    // The slot was given back at the answer: the connection goes on.
    expect((await c.call('merchants.balance', {})).result).toEqual({ payable: 0 });
  });

  it('drops a peer that does not answer pings, and keeps one that does', async () => {
    const t = await server({ limits: { heartbeatMs: 100 } });
    const dead = await RawClient.session(t.url, '/v1/app', APP, { autoPong: false });
    const live = await RawClient.session(t.url, '/v1/app', APP);
    const start = Date.now();
    expect((await dead.closed).code).toBe(1006); // terminated: no closing handshake
    expect(Date.now() - start).toBeLessThan(1_000);
    await sleep(250);
    expect((await live.call('merchants.balance', {})).result).toEqual({ payable: 0 });
    expect(t.server.connections.map((x) => x.clientId)).toEqual([APP]);
    expect(
      t.logger.lines.some((l) => l.msg === 'connection closed' && l.obj.reason === 'no pong: the peer is gone'),
    ).toBe(true);
  });
});

describe('requests in flight and backpressure', () => {
  it('works on at most maxInFlight requests of a connection at once, pausing its socket, and answers them all', async () => {
    const calls = { started: 0, done: 0 };
    const t = await server({ limits: { maxInFlight: 4 }, wrap: slowFloat(50, calls) });
    const c = await RawClient.session(t.url, '/v1/app', APP);
    const ids = Array.from({ length: 20 }, () => c.send('wallet.float', { cardSerial: SERIAL1 }));
    let most = 0;
    let paused = false;
    while (calls.done < 20) {
      const info = t.server.connections[0]!;
      most = Math.max(most, info.inFlight);
      paused ||= info.paused;
      expect(calls.started - calls.done).toBeLessThanOrEqual(4);
      await sleep(2);
    }
    expect(most).toBe(4);
    expect(paused).toBe(true);
    for (const id of ids) expect((await c.wait((g) => g.id === id)).result).toEqual({ balance: 7 });
    expect(t.server.connections[0]!.paused).toBe(false);
  });

  it('stops reading a peer that does not read its answers: bounded work and memory; all answered once it reads', async () => {
    const big = {
      cards: Array.from({ length: 400 }, (_, i) => ({
        cardSerial: String(i).padStart(20, '0'),
        msisdn: '13800138001',
        iccid: 'x'.repeat(20),
        status: 'active',
        float: i,
      })),
    };
    // ~46 KiB per answer as sent: the console's handler adds each card's lastSeen (null here).
    const size = JSON.stringify({ cards: big.cards.map((c) => ({ ...c, lastSeen: null })) }).length;
    let executed = 0;
    const t = await server({
      limits: { highWaterBytes: 256 * 1024, lowWaterBytes: 64 * 1024 },
      wrap: (p) =>
        override(p, {
          contactless: override(p.contactless, {
            list: async () => {
              executed++;
              return big;
            },
          }),
        }),
    });
    const c = await RawClient.session(t.url, '/v1/console', OPERATOR);
    c.ws.pause(); // the peer stops reading its socket
    const N = 2_000; // ~80 MB of answers if the server kept them all
    global.gc?.();
    const before = process.memoryUsage();
    for (let i = 0; i < N; i++) c.send('cards.list', {});
    await until(() => t.server.connections[0]?.paused === true, 'the server to pause the socket');
    let last = -1;
    while (executed !== last) {
      last = executed;
      await sleep(100);
    }
    const after = process.memoryUsage();
    const grown = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
    const info = t.server.connections[0]!;
    // Only what the kernel's socket buffers, the high-water mark and the slots in flight hold was worked on.
    expect(executed).toBeLessThan(N / 2);
    expect(info.paused).toBe(true);
    expect(info.bufferedAmount).toBeLessThan(256 * 1024 + 64 * size);
    expect(grown).toBeLessThan(40 * 1024 * 1024); // all the answers would be ~90 MB
    c.ws.resume();
    await until(() => c.frames.filter((g) => g.result?.cards).length === N, 'every answer', 20_000);
    expect(executed).toBe(N);
  }, 30_000);

  it('disconnects a subscriber whose unsent bytes pass maxBufferedBytes instead of queueing its events', async () => {
    const big = {
      cards: Array.from({ length: 400 }, (_, i) => ({
        cardSerial: String(i).padStart(20, '0'),
        msisdn: '13800138001',
        iccid: 'x',
        status: 'active',
        float: i,
      })),
    };
    const t = await server({
      limits: {
        highWaterBytes: 256 * 1024,
        lowWaterBytes: 64 * 1024,
        maxBufferedBytes: 128 * 1024,
        closeTimeoutMs: 100,
      },
      wrap: (p) => override(p, { contactless: override(p.contactless, { list: async () => big }) }),
    });
    const slow = await RawClient.session(t.url, '/v1/console', OPERATOR);
    await slow.call('events.subscribe', { topics: ['cards'] });
    slow.ws.pause();
    for (let i = 0; i < 1_000; i++) slow.send('cards.list', {});
    await until(
      () => (t.server.connections.find((x) => x.topics.length > 0)?.bufferedAmount ?? 0) > 128 * 1024,
      'a backlog',
    );
    const con = await RawClient.session(t.url, '/v1/console', OPERATOR);
    expect((await con.call('cards.block', { cardSerial: SERIAL1 })).result).toMatchObject({ status: 'blocked' });
    await until(() => t.server.connections.length === 1, 'the slow subscriber to be dropped', 3_000);
    expect(t.logger.lines.some((l) => l.msg?.startsWith('slow consumer'))).toBe(true);
    expect(t.logger.lines.find((l) => l.msg === 'connection closed')?.obj).toMatchObject({ code: 1008, by: 'server' });
    slow.ws.resume();
    expect((await con.call('cards.unblock', { cardSerial: SERIAL1 })).result).toMatchObject({ status: 'active' });
  }, 15_000);
});

describe('graceful shutdown', () => {
  it('stops accepting, finishes the call in flight, refuses new ones with UNAVAILABLE, then closes 1001', async () => {
    const calls = { started: 0, done: 0 };
    const t = await server({ wrap: slowFloat(300, calls) });
    const c = await RawClient.session(t.url, '/v1/app', APP);
    const idle = await RawClient.open(t.url, '/v1/console'); // not yet authenticated
    const inFlight = c.call('wallet.float', { cardSerial: SERIAL1 });
    await until(() => calls.started === 1, 'the call to start');
    const closing = t.server.close();
    await sleep(20);
    await expect(RawClient.open(t.url, '/v1/app')).rejects.toThrow();
    const late = await c.call('merchants.balance', {});
    expect(late.error?.data?.code).toBe('UNAVAILABLE');
    expect((await inFlight).result).toEqual({ balance: 7 });
    expect((await c.closed).code).toBe(1001);
    expect((await idle.closed).code).toBe(1001);
    await closing;
    expect(calls.done).toBe(1);
    // The answer came before the close frame.
    expect(c.frames.at(-1)).toMatchObject({ result: { balance: 7 } });
    expect(t.server.connections).toEqual([]);
  });
});
