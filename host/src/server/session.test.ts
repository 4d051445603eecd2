/**
 * The upgrade and the session of `simtap.v1` over real sockets with a raw `ws` client: the refused upgrades (no
 * socket kept), the challenge, every authentication failure with its error and close code, the authentication
 * timeout, `UNAUTHENTICATED` before authentication, and the protocol errors (-32700, -32600, -32601, -32602).
 */
import { createHmac } from 'node:crypto';
import { request } from 'node:http';
import { CLOSE_CODES, JSONRPC_ERRORS, SUBPROTOCOL, sessionProof } from '@simtap/sdk/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { profile } from '../platform/platform.test-support';
import { APP, OPERATOR, RawClient, sleep, startServer, type TestServer } from './server.test-support';

let t: TestServer;
beforeAll(async () => {
  t = await startServer({ limits: { authTimeoutMs: 300 } });
});
afterAll(() => t.stop());

/** The HTTP status of an upgrade request (no WebSocket kept). */
function upgradeStatus(path: string, protocol?: string): Promise<number> {
  const { port } = new URL(t.url);
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path,
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        ...(protocol ? { 'sec-websocket-protocol': protocol } : {}),
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('upgrade', () => {
  it('refuses an upgrade without the simtap.v1 subprotocol (400) or on another path (404), keeping no socket', async () => {
    expect(await upgradeStatus('/v1/app')).toBe(400);
    expect(await upgradeStatus('/v1/app', 'graphql-ws, chat')).toBe(400);
    expect(await upgradeStatus('/v1/nope', SUBPROTOCOL)).toBe(404);
    expect(await upgradeStatus('/', SUBPROTOCOL)).toBe(404);
    expect(await upgradeStatus('/v1/app', `chat, ${SUBPROTOCOL}`)).toBe(101);
    await expect(RawClient.open(t.url, '/v1/app', { protocols: ['other'] })).rejects.toThrow('400');
    await sleep(20);
    expect(t.server.connections.filter((c) => c.clientId === undefined && c.endpoint === 'app').length).toBeLessThan(2);
  });

  it('answers a plain HTTP request with 426 on an endpoint and 404 elsewhere', async () => {
    const get = (path: string) =>
      new Promise<number>((resolve, reject) => {
        request({ host: '127.0.0.1', port: new URL(t.url).port, path }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
          .on('error', reject)
          .end();
      });
    expect(await get('/v1/console')).toBe(426);
    expect(await get('/favicon.ico')).toBe(404);
  });

  it('agrees on simtap.v1 and sends the challenge: 32 random bytes, hex, a new one on every connection', async () => {
    const a = await RawClient.open(t.url, '/v1/app');
    const b = await RawClient.open(t.url, '/v1/app');
    expect(a.ws.protocol).toBe(SUBPROTOCOL);
    const first = await a.wait((g) => g.method === 'session.challenge');
    expect(first).toEqual({ jsonrpc: '2.0', method: 'session.challenge', params: { nonce: expect.any(String) } });
    expect(first.params!.nonce).toMatch(/^[0-9A-F]{64}$/);
    expect((await a.nonce()).equals(await b.nonce())).toBe(false);
    a.close();
    b.close();
  });
});

describe('session', () => {
  it('counts the messages it receives and sends, by endpoint', async () => {
    const before = structuredClone(t.server.traffic);
    const app = await RawClient.open(t.url, '/v1/app');
    await app.authenticate(APP, '/v1/app'); // the nonce comes unasked; the proof is one request, one answer
    const after = t.server.traffic;
    expect(after.app.received - before.app.received).toBe(1);
    expect(after.app.sent - before.app.sent).toBe(2);
    expect(after.console).toEqual(before.console);
    expect(after.ota).toEqual(before.ota);
    app.close();
  });

  it('authenticates an application on /v1/app and an operator on /v1/console', async () => {
    const app = await RawClient.open(t.url, '/v1/app');
    expect((await app.authenticate(APP, '/v1/app')).result).toEqual({ clientId: APP, role: 'application' });
    const con = await RawClient.open(t.url, '/v1/console');
    // The proof's hex is accepted in either case.
    const nonce = await con.nonce();
    const secret = profile.platform.clients.find((c) => c.id === OPERATOR)!.secret;
    const proof = createHmac('sha256', secret).update(nonce).update('/v1/console').digest('hex').toLowerCase();
    expect((await con.call('session.authenticate', { clientId: OPERATOR, proof })).result).toEqual({
      clientId: OPERATOR,
      role: 'operator',
    });
    expect(t.server.connections.filter((c) => c.clientId !== undefined).map((c) => c.clientId)).toEqual(
      expect.arrayContaining([APP, OPERATOR]),
    );
    // Authenticating again on an authenticated session is refused, and the session goes on.
    expect((await app.authenticate(APP, '/v1/app')).error?.data?.code).toBe('FORBIDDEN');
    expect((await app.call('cards.blacklistKey')).result).toEqual({
      publicKey: expect.stringMatching(/^[0-9A-F]{64}$/),
    });
    app.close();
    con.close();
  });

  it('answers a wrong proof with BAD_PROOF, then closes 4401', async () => {
    const c = await RawClient.open(t.url, '/v1/app');
    const wrong = new Uint8Array(32).fill(7);
    const r = await c.authenticate(APP, '/v1/app', wrong);
    expect(r.error).toMatchObject({ code: JSONRPC_ERRORS.APPLICATION, data: { code: 'BAD_PROOF' } });
    expect((await c.closed).code).toBe(CLOSE_CODES.AUTHENTICATION_FAILED);
  });

  it('answers an unknown client with BAD_PROOF, then closes 4401', async () => {
    const c = await RawClient.open(t.url, '/v1/app');
    const r = await c.authenticate('nobody-9', '/v1/app', profile.platform.clients[0]!.secret);
    expect(r.error?.data?.code).toBe('BAD_PROOF');
    expect((await c.closed).code).toBe(4401);
  });

  it('refuses a proof made for another endpoint path or another nonce (a replay) with BAD_PROOF', async () => {
    const c = await RawClient.open(t.url, '/v1/app');
    const r = await c.authenticate(APP, '/v1/console');
    expect(r.error?.data?.code).toBe('BAD_PROOF');
    expect((await c.closed).code).toBe(4401);
    // A proof that answered one connection's nonce does not answer the next connection's.
    const a = await RawClient.open(t.url, '/v1/app');
    const secret = profile.platform.clients.find((x) => x.id === APP)!.secret;
    const proof = sessionProof(secret, await a.nonce(), '/v1/app');
    expect((await a.call('session.authenticate', { clientId: APP, proof })).result).toBeDefined();
    const b = await RawClient.open(t.url, '/v1/app');
    expect((await b.call('session.authenticate', { clientId: APP, proof })).error?.data?.code).toBe('BAD_PROOF');
    expect((await b.closed).code).toBe(4401);
    a.close();
  });

  it('answers a client on the endpoint of another role with FORBIDDEN, then closes 4403 (both ways)', async () => {
    const op = await RawClient.open(t.url, '/v1/app');
    expect((await op.authenticate(OPERATOR, '/v1/app')).error?.data?.code).toBe('FORBIDDEN');
    expect((await op.closed).code).toBe(CLOSE_CODES.WRONG_ENDPOINT);
    const app = await RawClient.open(t.url, '/v1/console');
    expect((await app.authenticate(APP, '/v1/console')).error?.data?.code).toBe('FORBIDDEN');
    expect((await app.closed).code).toBe(4403);
  });

  it('closes 4408 when no authentication comes in time (300 ms here, 10 s by default)', async () => {
    const c = await RawClient.open(t.url, '/v1/console');
    const start = Date.now();
    expect((await c.closed).code).toBe(CLOSE_CODES.AUTHENTICATION_TIMEOUT);
    expect(Date.now() - start).toBeGreaterThanOrEqual(250);
    expect(Date.now() - start).toBeLessThan(2_000);
    // An authenticated session outlives the timer.
    const ok = await RawClient.session(t.url, '/v1/app', APP);
    await sleep(400);
    expect((await ok.call('merchants.balance', {})).result).toEqual({ payable: 0 });
    ok.close();
  });

  it('answers every call before authentication with UNAUTHENTICATED, known method or not; a non-JSON frame -32700', async () => {
    const c = await RawClient.open(t.url, '/v1/app');
    for (const [method, params] of [
      ['wallet.float', { cardSerial: '00004401202600000001' }],
      ['merchants.balance', {}],
      ['no.such.method', { x: 1 }],
      ['ledger.verify', {}],
    ] as const) {
      const r = await c.call(method, params);
      expect(r.error, method).toMatchObject({ code: -32000, data: { code: 'UNAUTHENTICATED' } });
    }
    c.sendRaw('{"jsonrpc":"2.0","id":');
    expect((await c.wait((g) => g.error?.code === JSONRPC_ERRORS.PARSE_ERROR)).id).toBeNull();
    // The session can still be opened after them.
    expect((await c.authenticate(APP, '/v1/app')).result).toMatchObject({ clientId: APP });
    c.close();
  });

  it('answers session.authenticate with malformed params -32602, and the connection may try again', async () => {
    const c = await RawClient.open(t.url, '/v1/app');
    expect((await c.call('session.authenticate', { clientId: APP, proof: 'XYZ' })).error?.code).toBe(-32602);
    expect((await c.call('session.authenticate', { clientId: APP })).error?.code).toBe(-32602);
    expect((await c.authenticate(APP, '/v1/app')).result).toBeDefined();
    c.close();
  });
});

describe('protocol errors', () => {
  it('answers -32700, -32600, -32601 and -32602; a binary frame -32600; notifications and responses get nothing', async () => {
    const c = await RawClient.session(t.url, '/v1/app', APP);
    c.sendRaw('not json');
    expect(await c.wait((g) => g.error?.code === -32700)).toMatchObject({ id: null });
    c.sendRaw('[{"jsonrpc":"2.0","id":1,"method":"merchants.balance"}]');
    expect(await c.wait((g) => g.error?.code === -32600 && /batch/.test(g.error.message))).toMatchObject({ id: null });
    c.sendRaw('{"jsonrpc":"1.0","id":"x7","method":"merchants.balance"}');
    expect(await c.wait((g) => g.id === 'x7')).toMatchObject({ error: { code: -32600 } });
    c.sendRaw(Buffer.from('{"jsonrpc":"2.0","id":"bin","method":"merchants.balance"}'));
    expect((await c.wait((g) => g.error?.code === -32600 && /binary/.test(g.error.message))).id).toBeNull();
    expect((await c.call('no.such.method', {})).error?.code).toBe(JSONRPC_ERRORS.METHOD_NOT_FOUND);
    // A console method on /v1/app does not exist there.
    expect((await c.call('ledger.verify', {})).error?.code).toBe(-32601);
    expect((await c.call('wallet.float', { cardSerial: 'XYZ' })).error?.code).toBe(JSONRPC_ERRORS.INVALID_PARAMS);
    expect((await c.call('wallet.float', { cardSerial: '00004401202600000001', extra: 1 })).error?.code).toBe(-32602);
    expect((await c.call('customers.topUpPhoneAccount', { msisdn: '13800138001', amount: 1 })).error?.code).toBe(
      -32602,
    );
    const before = c.frames.length;
    c.sendRaw('{"jsonrpc":"2.0","method":"merchants.balance"}');
    c.sendRaw('{"jsonrpc":"2.0","id":999,"result":{}}');
    expect((await c.call('merchants.balance', {})).result).toEqual({ payable: 0 });
    expect(c.frames.length).toBe(before + 1);
    c.close();
  });

  it("on /v1/ota: no challenge, a phone.hello with bad params -32602, other endpoints' methods -32601, nothing before the hello", async () => {
    const c = await RawClient.open(t.url, '/v1/ota');
    expect((await c.call('phone.hello', { msisdn: '13800138001', iccid: 'x' })).error?.code).toBe(-32602);
    expect((await c.call('wallet.resolveLoad', {})).error?.code).toBe(-32601);
    expect((await c.call('phone.topUp', { idempotencyKey: 'k', amount: 1 })).error?.data?.code).toBe('UNAUTHENTICATED');
    expect(c.frames.some((f) => f.method === 'session.challenge')).toBe(false);
    c.sendRaw('{');
    expect(await c.wait((g) => g.error?.code === -32700)).toBeDefined();
    c.close();
  });
});
