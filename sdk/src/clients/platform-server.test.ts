/**
 * PlatformClient against the real `simtap.v1` server (`@simtap/host/server` over the platform core on an in-memory
 * SQLite ledger with the reference profile), over real sockets: the handshake with the profile's secrets, a load with
 * the card's own MAC1 and TAC, clearing of purchase records with their TACs, the platform's refusals as typed errors,
 * events, the rate limit, and exactly one effect per money-moving call while the connections are cut at random
 * moments (through a TCP proxy) and while the server restarts — effects counted in the ledger.
 */

import { generateKeyPairSync } from 'node:crypto';
import { createPsam } from '@simtap/applet-emu/applets/psam';
import { createSim } from '@simtap/applet-emu/sim';
import { SoftwareIssuerKeyStore } from '@simtap/host/keys';
import { openSqliteLedger } from '@simtap/host/ledger';
import { openPlatform, type Platform, platformConfigFromProfile } from '@simtap/host/platform';
import { createPlatformServer, type PlatformServer, type ServerLimits } from '@simtap/host/server';
import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import { hasErrorCode } from '@simtap/sdk/core/errors';
import { loadMac1, loadMac2, loadSessionKey, loadTac, purchaseTac, TTI } from '@simtap/sdk/core/pboc';
import { cardProfile, referenceProfile } from '@simtap/sdk/core/profile';
import { ConsumptionMachine, PsamDriver, RechargeMachine } from '@simtap/sdk/machines';
import forge from 'node-forge';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  BadMac1Error,
  BadTacError,
  CLIENT_ERRORS,
  clearingRecord,
  FundingRefusedError,
  hasPlatformErrorCode,
  IdempotencyConflictError,
  InsufficientFundsError,
  NoMerchantError,
  PlatformClient,
  type PlatformClientOptions,
  type PlatformEvent,
  PlatformLoadAuthorizer,
  UnknownCardError,
} from './index';
import { CuttableProxy, sleep } from './test-support';

const profile = referenceProfile();
const CARD1 = cardProfile('card-1');
const SERIAL1 = toHex(CARD1.applicationSerial);
const MSISDN1 = CARD1.msisdn;
const TERMINAL = '440100000009';
const DATE = '20261203';
const TIME = '101500';
const secretOf = (id: string) => toHex(profile.platform.clients.find((c) => c.id === id)!.secret);

/** The INITIALIZE FOR LOAD answer card-1 would give, as `wallet.authorizeLoad` params; and its session key. */
function initializeForLoad(o: { amount: number; oldBalance: number; onlineCounter: number; random?: string }) {
  const random = o.random ?? '1A2B3C4D';
  const sessionKey = loadSessionKey(CARD1.keys.DLK.key, fromHex(random), o.onlineCounter);
  const mac1 = loadMac1({
    sessionKey,
    oldBalance: o.oldBalance,
    amount: o.amount,
    tti: TTI.EP_LOAD,
    terminalId: fromHex(TERMINAL),
  });
  const params = {
    cardSerial: SERIAL1,
    terminalId: TERMINAL,
    amount: o.amount,
    oldBalance: o.oldBalance,
    onlineCounter: o.onlineCounter,
    random,
    mac1: toHex(mac1),
    date: DATE,
    time: TIME,
    funding: { source: 'phoneAccount' as const, msisdn: MSISDN1 },
  };
  return { params, sessionKey };
}

/** The CREDIT FOR LOAD TAC card-1 makes. */
function creditTac(o: { amount: number; oldBalance: number; onlineCounter: number }): string {
  return toHex(
    loadTac({
      tacKey: CARD1.tacSingleDesKey,
      newBalance: o.oldBalance + o.amount,
      onlineCounter: o.onlineCounter,
      amount: o.amount,
      tti: TTI.EP_LOAD,
      terminalId: fromHex(TERMINAL),
      date: fromHex(DATE),
      time: fromHex(TIME),
    }),
  );
}

/** A purchase record card-1 would make at the till. */
function purchase(offlineCounter: number, amount: number) {
  const tac = purchaseTac({
    tacKey: CARD1.tacSingleDesKey,
    amount,
    tti: TTI.EP_PURCHASE,
    terminalId: fromHex(TERMINAL),
    terminalTxnSeq: offlineCounter,
    date: fromHex(DATE),
    time: fromHex(TIME),
  });
  return {
    cardSerial: SERIAL1,
    offlineCounter,
    amount,
    tti: TTI.EP_PURCHASE as 6,
    terminalId: TERMINAL,
    terminalSeq: offlineCounter,
    date: DATE,
    time: TIME,
    tac: toHex(tac),
  };
}

interface Running {
  platform: Platform;
  server: PlatformServer;
  url: string;
  port: number;
  /** Requests the server answered (or tried to), by method. */
  answered: Map<string, number>;
}

const cleanup: (() => Promise<void>)[] = [];

/** A self-signed certificate for 127.0.0.1 (its own CA), and its key. */
function selfSigned(): { cert: string; key: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  const name = [{ name: 'commonName', value: '127.0.0.1' }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true },
    { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(key), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key };
}

async function start(
  limits?: Partial<ServerLimits>,
  port = 0,
  platform?: Platform,
  tls?: { cert: string; key: string },
): Promise<Running> {
  const p =
    platform ??
    (await openPlatform({
      ledger: openSqliteLedger({ path: ':memory:' }),
      keys: SoftwareIssuerKeyStore.fromProfile(profile),
      config: platformConfigFromProfile(profile),
    }));
  const answered = new Map<string, number>();
  const quiet = () => {};
  const logger = {
    info: quiet,
    warn: quiet,
    error: quiet,
    debug(obj: object, msg?: string) {
      const method = (obj as { method?: string }).method;
      if (msg === 'request' && method) answered.set(method, (answered.get(method) ?? 0) + 1);
    },
  };
  const server = createPlatformServer({
    platform: p,
    clients: profile.platform.clients,
    port,
    logger,
    ...(limits ? { limits } : {}),
    ...(tls ? { tls } : {}),
  });
  const address = await server.listen();
  if (!platform) cleanup.push(() => p.close());
  cleanup.push(() => server.close());
  return { platform: p, server, url: address.url, port: address.port, answered };
}

function client(url: string, o: Partial<PlatformClientOptions> = {}): PlatformClient {
  const c = new PlatformClient({ url, clientId: 'mart-1', secret: secretOf('mart-1'), ...o });
  cleanup.push(() => c.close());
  return c;
}

afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

describe('against the real server', () => {
  it('authenticates with the profile secret; a wrong one is fatal (AUTH_FAILED, 4401), an operator on /v1/app 4403', async () => {
    const { url, server } = await start();
    const c = client(url);
    await c.connect();
    expect(server.connections.length).toBe(1);
    const wrong = await client(url, { secret: '00'.repeat(32) })
      .connect()
      .catch((e) => e);
    expect(wrong).toBeInstanceOf(AuthenticationError);
    expect(wrong.reason).toBe('BAD_PROOF');
    const op = await client(url, { clientId: 'operator-1', secret: secretOf('operator-1') })
      .connect()
      .catch((e) => e);
    expect(op).toBeInstanceOf(AuthenticationError);
    expect(op.reason).toBe('FORBIDDEN');
    const console_ = client(url, { clientId: 'operator-1', secret: secretOf('operator-1'), endpoint: 'console' });
    const verified = await console_.call('ledger.verify');
    expect(verified.ok).toBe(true);
    await sleep(20);
    expect(server.connections.length).toBe(2);
  });

  it('wss:// with the CA given in tls.ca; without it every attempt fails and connect() says why', async () => {
    const tls = selfSigned();
    const { url } = await start(undefined, 0, undefined, tls);
    expect(url).toMatch(/^wss:/);
    const c = client(url, { tls: { ca: tls.cert } });
    expect((await c.cards.get({ cardSerial: SERIAL1 })).status).toBe('active');
    const untrusted = await client(url, { reconnect: { initialDelayMs: 10, maxDelayMs: 20 } })
      .connect({ timeoutMs: 300 })
      .catch((e) => e);
    expect(hasErrorCode(untrusted, CLIENT_ERRORS, 'CONNECT_FAILED')).toBe(true);
    expect(untrusted.message).toMatch(/self[- ]signed/i);
  });

  it('a load: top-up, authorizeLoad with the card’s MAC1 (MAC2 checks), confirmLoad with its TAC; events', async () => {
    const { url } = await start();
    const c = client(url);
    const loads: unknown[] = [];
    c.on('event.load', (e) => loads.push(e));
    const events: PlatformEvent[] = [];
    const iterating = (async () => {
      for await (const e of c.events({ topics: ['loads'] })) events.push(e);
    })();
    expect((await c.customers.topUpPhoneAccount({ msisdn: MSISDN1, amount: 8000 })).balance).toBe(8000);
    const { params, sessionKey } = initializeForLoad({ amount: 5000, oldBalance: 0, onlineCounter: 0 });
    const { loadId, mac2 } = await c.wallet.authorizeLoad(params);
    const expected = loadMac2({
      sessionKey,
      amount: 5000,
      tti: TTI.EP_LOAD,
      terminalId: fromHex(TERMINAL),
      date: fromHex(DATE),
      time: fromHex(TIME),
    });
    expect(mac2).toBe(toHex(expected));
    expect((await c.customers.phoneAccount({ msisdn: MSISDN1 })).available).toBe(3000);
    const badTac = await c.wallet.confirmLoad({ loadId, tac: '00000000' }).catch((e) => e);
    expect(badTac).toBeInstanceOf(BadTacError);
    const tac = creditTac({ amount: 5000, oldBalance: 0, onlineCounter: 0 });
    expect(await c.wallet.confirmLoad({ loadId, tac })).toEqual({ status: 'posted', float: 5000 });
    expect(await c.wallet.confirmLoad({ loadId, tac })).toEqual({ status: 'posted', float: 5000 }); // idempotent
    expect((await c.wallet.float({ cardSerial: SERIAL1 })).balance).toBe(5000);
    expect((await c.wallet.load({ loadId })).status).toBe('posted');
    await c.events.subscribe(['loads']);
    const deadline = Date.now() + 2000;
    while (!loads.some((e) => (e as { status: string }).status === 'posted') && Date.now() < deadline) await sleep(5);
    expect(loads).toContainEqual({
      loadId,
      cardSerial: SERIAL1,
      status: 'posted',
      amount: 5000,
      at: expect.any(Number),
      air: false,
    });
    expect(events.map((e) => e.type)).toContain('event.load');
    await c.close();
    await iterating;
  });

  it('a clearing batch of the card’s purchases; merchant payable; duplicates and bad TACs rejected by index', async () => {
    const { url, platform } = await start();
    const c = client(url);
    await c.customers.topUpPhoneAccount({ msisdn: MSISDN1, amount: 5000 });
    const { params } = initializeForLoad({ amount: 5000, oldBalance: 0, onlineCounter: 0 });
    const { loadId } = await c.wallet.authorizeLoad(params);
    await c.wallet.confirmLoad({ loadId, tac: creditTac({ amount: 5000, oldBalance: 0, onlineCounter: 0 }) });
    const batches: unknown[] = [];
    c.on('event.batch', (e) => batches.push(e));
    await c.events.subscribe(['clearing']);
    const records = [purchase(0, 1250), purchase(1, 300), { ...purchase(2, 100), tac: '00000000' }];
    const r = await c.clearing.submitBatch({ records, idempotencyKey: 'till-7/batch-1' });
    expect(r.accepted).toBe(2);
    expect(r.settled).toBe(1550);
    expect(r.rejected).toEqual([{ index: 2, code: 'BAD_TAC' }]);
    expect(await c.clearing.submitBatch({ records, idempotencyKey: 'till-7/batch-1' })).toEqual(r); // replay
    const dup = await c.clearing.submitBatch({ records: [purchase(0, 1250)] });
    expect(dup.rejected).toEqual([{ index: 0, code: 'DUPLICATE' }]);
    expect((await c.merchants.balance()).payable).toBe(1550);
    expect((await platform.verify()).ok).toBe(true);
    const deadline = Date.now() + 2000;
    while (batches.length === 0 && Date.now() < deadline) await sleep(5);
    expect(batches[0]).toMatchObject({ clientId: 'mart-1', accepted: 2, settled: 1550 });
  });

  it('machines on the emulated SIM: a kiosk loads through PlatformLoadAuthorizer, a till’s sale clears', async () => {
    const { url, platform } = await start();
    const c = client(url);
    const card = createSim({ card: 'card-1', personalized: true });
    const psam = createPsam('pos-1');
    card.powerOn('contactless');
    psam.powerOn('contact');
    await c.customers.topUpPhoneAccount({ msisdn: MSISDN1, amount: 6000 });
    const authorizer = new PlatformLoadAuthorizer(c, { funding: { source: 'phoneAccount', msisdn: MSISDN1 } });
    const kiosk = new RechargeMachine({ card: card.channel('contactless'), authorizer, terminalId: fromHex(TERMINAL) });
    const load = await kiosk.load({ amount: 5000 });
    expect(load.balanceAfter).toBe(5000);
    expect(load.tacVerified).toBe(true);
    expect((await c.wallet.float({ cardSerial: SERIAL1 })).balance).toBe(5000);
    expect((await c.customers.phoneAccount({ msisdn: MSISDN1 })).balance).toBe(1000);
    const refused = await kiosk.load({ amount: 5000 }).catch((e) => e); // 1000 left in the phone account
    expect(refused).toBeInstanceOf(InsufficientFundsError);
    const till = new ConsumptionMachine({
      card: card.channel('contactless'),
      psam: new PsamDriver(psam.channel('contact')),
    });
    const sales = [await till.purchase({ amount: 1250 }), await till.purchase({ amount: 300 })];
    const batch = await c.clearing.submitBatch({ records: sales.map(clearingRecord) });
    expect(batch).toMatchObject({ accepted: 2, settled: 1550, rejected: [], gaps: [] });
    expect((await c.wallet.float({ cardSerial: SERIAL1 })).balance).toBe(3450);
    expect((await platform.verify()).ok).toBe(true);
  });

  it('answers the platform’s refusals as typed errors by data.code', async () => {
    const { url } = await start();
    const c = client(url);
    const { params } = initializeForLoad({ amount: 5000, oldBalance: 0, onlineCounter: 0 });
    const funds = await c.wallet.authorizeLoad(params).catch((e) => e);
    expect(funds).toBeInstanceOf(InsufficientFundsError);
    await c.customers.topUpPhoneAccount({ msisdn: MSISDN1, amount: 5000 });
    const mac = await c.wallet.authorizeLoad({ ...params, mac1: '00000000' }).catch((e) => e);
    expect(mac).toBeInstanceOf(BadMac1Error);
    expect(hasPlatformErrorCode(mac, 'BAD_MAC1')).toBe(true);
    const other = await c.wallet
      .authorizeLoad({ ...params, funding: { source: 'phoneAccount', msisdn: cardProfile('card-2').msisdn } })
      .catch((e) => e);
    expect(other).toBeInstanceOf(FundingRefusedError);
    await c.customers.topUpPhoneAccount({ msisdn: MSISDN1, amount: 10, idempotencyKey: 'same' });
    const conflict = await c.customers
      .topUpPhoneAccount({ msisdn: MSISDN1, amount: 20, idempotencyKey: 'same' })
      .catch((e) => e);
    expect(conflict).toBeInstanceOf(IdempotencyConflictError);
    const unknown = await c.cards.get({ cardSerial: 'FFFF0000000000000000' }).catch((e) => e);
    expect(unknown).toBeInstanceOf(UnknownCardError);
    const access = client(url, { clientId: 'access-1', secret: secretOf('access-1') });
    expect(await access.merchants.balance().catch((e) => e)).toBeInstanceOf(NoMerchantError);
    const bad = await c.wallet.float({ cardSerial: 'nope' }).catch((e) => e);
    expect(hasErrorCode(bad, CLIENT_ERRORS, 'INVALID_PARAMS')).toBe(true);
  });

  it('rides the rate limit: RATE_LIMITED answers are retried until every call is answered', async () => {
    const { url } = await start({ ratePerSecond: 200, rateBurst: 10, rateCloseAfter: 10_000 });
    const c = client(url, { reconnect: { initialDelayMs: 5, maxDelayMs: 50 } });
    const t0 = Date.now();
    const all = await Promise.all(Array.from({ length: 60 }, () => c.wallet.float({ cardSerial: SERIAL1 })));
    expect(all.every((r) => r.balance === 0)).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150); // 50 calls past the burst at 200/s
  });

  it('exactly one effect per money-moving call while connections are cut at random moments', async () => {
    const { url, platform, answered } = await start();
    const proxy = await CuttableProxy.start(url);
    cleanup.push(() => proxy.stop());
    const c = client(proxy.url, { reconnect: { initialDelayMs: 2, maxDelayMs: 20 }, timeoutMs: 20_000 });
    await c.connect();
    const cutter = setInterval(() => proxy.cut(), 7);
    const t0 = Date.now();
    let total = 0;
    const keys: string[] = [];
    try {
      for (let round = 0; round < 25; round++) {
        await Promise.all(
          Array.from({ length: 40 }, (_, i) => {
            const amount = 1 + ((round * 40 + i) % 89);
            total += amount;
            const key = `cut-${round}-${i}`;
            keys.push(key);
            return c.customers.topUpPhoneAccount({ msisdn: MSISDN1, amount, idempotencyKey: key });
          }),
        );
      }
    } finally {
      clearInterval(cutter);
    }
    const ms = Date.now() - t0;
    expect(keys.length).toBe(1000);
    expect(proxy.cuts).toBeGreaterThan(5);
    // the ledger: one transfer per key, and the balance is the sum
    const account = await c.customers.phoneAccount({ msisdn: MSISDN1 });
    expect(account.balance).toBe(total);
    const statement = await c.customers.statement({ msisdn: MSISDN1, limit: 10_000 });
    expect(statement.lines.length).toBe(1000);
    expect((await platform.verify()).ok).toBe(true);
    // some answers were lost after the platform committed: the same key came back and got the first outcome
    const replays = (answered.get('customers.topUpPhoneAccount') ?? 0) - 1000;
    expect(replays).toBeGreaterThan(0);
    console.info(`1,000 top-ups through ${proxy.cuts} cuts in ${ms} ms; ${replays} answered again after a lost answer`);
  });

  it('exactly one effect per call while the server shuts down and comes back on the same port', async () => {
    const first = await start();
    const c = client(first.url, { reconnect: { initialDelayMs: 5, maxDelayMs: 50 }, timeoutMs: 20_000 });
    await c.connect();
    let total = 0;
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 300; i++) {
      const amount = 1 + (i % 50);
      total += amount;
      calls.push(c.customers.topUpPhoneAccount({ msisdn: MSISDN1, amount, idempotencyKey: `restart-${i}` }));
      if (i === 100) {
        await first.server.close(); // graceful: in flight finish, the rest get UNAVAILABLE, then 1001
        await sleep(100);
        await start(undefined, first.port, first.platform);
      }
      if (i % 10 === 0) await sleep(1);
    }
    await Promise.all(calls);
    expect((await c.customers.phoneAccount({ msisdn: MSISDN1 })).balance).toBe(total);
    expect((await c.customers.statement({ msisdn: MSISDN1, limit: 10_000 })).lines.length).toBe(300);
    expect((await first.platform.verify()).ok).toBe(true);
  });
});
