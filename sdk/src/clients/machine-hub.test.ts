/**
 * MachineHub and MachineAgent over real sockets on 127.0.0.1: the `/v1/machine` handshake and its refusals (4401,
 * 4408, 4409, 4429, a missing subprotocol, a call before authenticating), configs with a real Ed25519-signed
 * blacklist delta acknowledged with their version — a forged one refused and not acknowledged — records delivered
 * once and in order, and records buffered offline delivered exactly once when a restarted hub comes back.
 */
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasErrorCode } from '@simtap/sdk/core/errors';
import { SUBPROTOCOL } from '@simtap/sdk/wire';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  agentEvent,
  blacklistSigner,
  freePort,
  GATE_SECRET,
  hubEvent,
  purchase,
  TILL_SECRET,
} from '../../test/machine-support';
import {
  InsufficientFundsError,
  isMachineEvent,
  MACHINE_LINK_ERRORS,
  MACHINE_MAX_BATCH,
  MACHINE_MAX_FRAME_BYTES,
  MachineAgent,
  type MachineAgentOptions,
  MachineHub,
  type MachineHubOptions,
  type MachineRecordEntry,
} from './index';
import type { MachineEvent, MachinePurchaseRecord } from './machine-protocol';
import { CuttableProxy, until } from './test-support';

const A = '00004401202600000003';
const B = '00004401202600000004';
const C = '00004401202600000005';

const platform = blacklistSigner();
const MACHINES = [
  { id: 'gate-1', secret: GATE_SECRET, kind: 'gate' },
  { id: 'till-1', secret: TILL_SECRET, kind: 'till' },
] as const;

/** The application system's store: records by machine, and the highest seq stored (what survives a hub restart). */
class Store {
  readonly records = new Map<string, MachineRecordEntry[]>();
  seq(id: string): number {
    return this.records.get(id)?.at(-1)?.seq ?? 0;
  }
  terminalSeqs(id: string): number[] {
    return (this.records.get(id) ?? []).map((e) => (e.record as MachinePurchaseRecord).terminalSeq);
  }
  readonly onRecords = async (id: string, entries: readonly MachineRecordEntry[]) => {
    const list = this.records.get(id) ?? [];
    for (const e of entries) {
      if (e.seq <= (list.at(-1)?.seq ?? 0)) throw new Error(`record ${id}/${e.seq} stored twice`);
      list.push(e);
    }
    this.records.set(id, list);
  };
}

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'simtap-machine-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function startHub(options: Partial<MachineHubOptions> & { store?: Store } = {}) {
  const store = options.store ?? new Store();
  const hub = new MachineHub({
    machines: MACHINES,
    blacklistPublicKey: platform.publicKey,
    onRecords: store.onRecords,
    storedSeq: (id) => store.seq(id),
    ...options,
  });
  cleanups.push(() => hub.close());
  const { url, port } = await hub.listen();
  return { hub, store, url, port };
}

function agentFor(url: string, options: Partial<MachineAgentOptions> = {}): MachineAgent {
  const agent = new MachineAgent({
    url,
    machineId: 'gate-1',
    secret: GATE_SECRET,
    blacklistPublicKey: platform.publicKey,
    bufferDir: options.bufferDir ?? tempDir(),
    reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    ...options,
  });
  cleanups.push(() => agent.stop());
  return agent;
}

const connected = (agent: MachineAgent) => agentEvent(agent, 'connection', (e) => e.state === 'connected');

/** A bare WebSocket on the endpoint, for what an agent never does. */
function rawClient(url: string, protocol: string | null = SUBPROTOCOL) {
  const ws = new WebSocket(url, protocol === null ? [] : [protocol]);
  const inbox: Record<string, unknown>[] = [];
  const waiting: ((m: Record<string, unknown>) => void)[] = [];
  ws.on('message', (data) => {
    const m = JSON.parse(String(data)) as Record<string, unknown>;
    const w = waiting.shift();
    if (w) w(m);
    else inbox.push(m);
  });
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  const opened = new Promise<void>((resolve, reject) => {
    ws.on('open', () => resolve());
    ws.on('error', reject);
    ws.on('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
  opened.catch(() => undefined); // awaited by the tests that expect a refusal
  const next = () =>
    new Promise<Record<string, unknown>>((resolve) => {
      const m = inbox.shift();
      if (m) resolve(m);
      else waiting.push(resolve);
    });
  const send = (m: unknown) => ws.send(JSON.stringify(m));
  const authenticate = async (id: string, secret: string) => {
    const challenge = (await next()) as { params: { nonce: string } };
    const proof = createHmac('sha256', Buffer.from(secret, 'hex'))
      .update(Buffer.from(challenge.params.nonce, 'hex'))
      .update('/v1/machine')
      .digest('hex');
    send({ jsonrpc: '2.0', id: 'auth', method: 'session.authenticate', params: { clientId: id, proof } });
    return next();
  };
  cleanups.push(() => ws.terminate());
  return { ws, next, send, closed, opened, authenticate };
}

describe('/v1/machine session', () => {
  it('authenticates a machine: the hub knows it connected, the agent learns its kind', async () => {
    const { hub, url } = await startHub();
    expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/v1\/machine$/);
    const agent = agentFor(url.replace('/v1/machine', '')); // the path is added
    const hubSaw = hubEvent(hub, 'connection', (e) => e.connected);
    await agent.start();
    await connected(agent);
    expect((await hubSaw).machineId).toBe('gate-1');
    expect(agent.kind).toBe('gate');
    const info = hub.machine('gate-1')!;
    expect(info.connected).toBe(true);
    expect(info.storedSeq).toBe(0);
    expect(await hubEvent(hub, 'status')).toMatchObject({ machineId: 'gate-1' });
    expect(hub.machine('gate-1')!.status).toMatchObject({ configVersion: 0, lastSeq: 0, pending: 0 });
    expect(hub.machine('till-1')!.connected).toBe(false);
  });

  it('closes a wrong secret or an unknown id with 4401; the agent stops for good (MACHINE_AUTH_FAILED)', async () => {
    const { hub, url } = await startHub();
    const refused = hubEvent(hub, 'refused');
    const agent = agentFor(url, { secret: TILL_SECRET });
    const stopped = agentEvent(agent, 'connection', (e) => e.state === 'stopped');
    await agent.start();
    const e = await stopped;
    expect(hasErrorCode(e.error, MACHINE_LINK_ERRORS, 'MACHINE_AUTH_FAILED')).toBe(true);
    expect(e.closeCode).toBe(4401);
    expect(await refused).toMatchObject({ reason: 'badProof', machineId: 'gate-1' });
    // records are still kept on the disk; waiting for their delivery says why it cannot happen
    await agent.record(purchase(1));
    await expect(agent.delivered()).rejects.toSatisfy((err) =>
      hasErrorCode(err, MACHINE_LINK_ERRORS, 'MACHINE_AUTH_FAILED'),
    );

    const raw = rawClient(url);
    const answer = (await raw.authenticate('no-such-machine', GATE_SECRET)) as { error: { data: { code: string } } };
    expect(answer.error.data).toMatchObject({ code: 'BAD_PROOF' });
    expect(await raw.closed).toBe(4401);
  });

  it('closes a connection that does not authenticate in time with 4408, and answers calls before it UNAUTHENTICATED', async () => {
    const { url } = await startHub({ limits: { authTimeoutMs: 300 } });
    const raw = rawClient(url);
    const challenge = (await raw.next()) as { method: string; params: { nonce: string } };
    expect(challenge.method).toBe('session.challenge');
    expect(challenge.params.nonce).toMatch(/^[0-9A-F]{64}$/);
    raw.send({ jsonrpc: '2.0', id: 1, method: 'machine.records', params: { batch: [] } });
    expect(((await raw.next()) as { error: { data: unknown } }).error.data).toMatchObject({ code: 'UNAUTHENTICATED' });
    raw.ws.send('{not json');
    expect(((await raw.next()) as { error: { code: number } }).error.code).toBe(-32700);
    const t0 = Date.now();
    expect(await raw.closed).toBe(4408);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('refuses an upgrade without the subprotocol, and paths that are not /v1/machine', async () => {
    const { url } = await startHub();
    await expect(rawClient(url, null).opened).rejects.toThrow(/HTTP 400/);
    await expect(rawClient(url.replace('/v1/machine', '/v1/app')).opened).rejects.toThrow(/HTTP 404/);
  });

  it('closes a frame over 1 MiB with 1009', async () => {
    const { url } = await startHub();
    const raw = rawClient(url);
    await raw.authenticate('till-1', TILL_SECRET);
    raw.ws.send(
      `{"jsonrpc":"2.0","method":"machine.status","params":{"pad":"${'x'.repeat(MACHINE_MAX_FRAME_BYTES)}"}}`,
    );
    expect(await raw.closed).toBe(1009);
  });

  it('rate-limits a machine that floods (RATE_LIMITED, then 4429)', async () => {
    const { hub, url } = await startHub({ limits: { ratePerSecond: 20, rateBurst: 20, rateCloseAfter: 30 } });
    const raw = rawClient(url);
    expect(await raw.authenticate('till-1', TILL_SECRET)).toMatchObject({ result: { machineId: 'till-1' } });
    const refused = hubEvent(hub, 'refused');
    for (let i = 0; i < 200; i++) raw.send({ jsonrpc: '2.0', id: i, method: 'machine.nothing' });
    expect(await raw.closed).toBe(4429);
    expect(await refused).toMatchObject({ reason: 'rateLimit', machineId: 'till-1' });
  });

  it('closes the older session of a machine that connects twice with 4409 (MACHINE_SUPERSEDED)', async () => {
    const { url } = await startHub();
    const dir = tempDir();
    const first = agentFor(url, { bufferDir: dir });
    await first.start();
    await connected(first);
    const stopped = agentEvent(first, 'connection', (e) => e.state === 'stopped');
    const raw = rawClient(url);
    await raw.authenticate('gate-1', GATE_SECRET);
    const e = await stopped;
    expect(e.closeCode).toBe(4409);
    expect(hasErrorCode(e.error, MACHINE_LINK_ERRORS, 'MACHINE_SUPERSEDED')).toBe(true);
  });

  it('serves on a server it is attached to, leaving the other paths to it', async () => {
    const server: Server = createServer();
    let other = 0;
    server.on('upgrade', (req, socket) => {
      if (req.url === '/other') {
        other++;
        socket.destroy();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const { url } = await startHub({ server });
    const agent = agentFor(url);
    await agent.start();
    await connected(agent);
    await rawClient(url.replace('/v1/machine', '/other')).closed;
    expect(other).toBe(1);
  });
});

describe('configs', () => {
  const full3 = platform.sign({ since: 0, version: 3, added: [A, B], removed: [] });
  const delta3to4 = platform.sign({ since: 3, version: 4, added: [C], removed: [A] });

  it('pushes a signed blacklist; the machine verifies, stores and acknowledges it with its version', async () => {
    const { hub, url } = await startHub();
    const dir = tempDir();
    const agent = agentFor(url, { bufferDir: dir });
    await agent.start();
    await connected(agent);

    const ack1 = hubEvent(hub, 'configAck');
    hub.pushConfig('gate-1', { version: 1, fares: { flat: 200 }, blacklist: full3 });
    expect(await ack1).toEqual({ machineId: 'gate-1', version: 1, blacklistVersion: 3 });
    expect(agent.config).toEqual({
      version: 1,
      fares: { flat: 200 },
      doors: undefined,
      blacklistVersion: 3,
      blacklistSize: 2,
    });
    expect(agent.isBlacklisted(A)).toBe(true);
    expect(agent.isBlacklisted(Uint8Array.from(Buffer.from(B, 'hex')))).toBe(true);
    expect(agent.isBlacklisted(C)).toBe(false);
    expect(hub.machine('gate-1')).toMatchObject({ configVersion: 1, desiredConfigVersion: 1, blacklistVersion: 3 });

    const ack2 = hubEvent(hub, 'configAck');
    hub.pushConfig('all', { version: 2, fares: { flat: 250 }, blacklist: delta3to4 });
    expect(await ack2).toEqual({ machineId: 'gate-1', version: 2, blacklistVersion: 4 });
    expect([A, B, C].map((s) => agent.isBlacklisted(s))).toEqual([false, true, true]);
    expect(hub.machine('till-1')).toMatchObject({
      connected: false,
      desiredConfigVersion: 2,
      configVersion: undefined,
    });

    // the config is on the machine's disk: a restarted machine runs it offline
    await agent.stop();
    const again = agentFor('ws://127.0.0.1:1', { bufferDir: dir });
    await again.start();
    expect(again.config).toMatchObject({ version: 2, fares: { flat: 250 }, blacklistVersion: 4 });
    expect([A, B, C].map((s) => again.isBlacklisted(s))).toEqual([false, true, true]);
  });

  it('sends the config to a machine that was offline at the push when it connects', async () => {
    const { hub, url } = await startHub();
    hub.pushConfig('gate-1', { version: 7, doors: [{ door: 'lab', from: '0800', to: '2000' }], blacklist: full3 });
    const ack = hubEvent(hub, 'configAck');
    const agent = agentFor(url);
    await agent.start();
    expect(await ack).toMatchObject({ machineId: 'gate-1', version: 7 });
    expect(agent.config?.doors).toEqual([{ door: 'lab', from: '0800', to: '2000' }]);
  });

  it('refuses in pushConfig a delta the platform did not sign, an unknown machine and a bad config', async () => {
    const { hub } = await startHub();
    const forged = { ...full3, added: [A] };
    try {
      hub.pushConfig('all', { version: 1, blacklist: forged });
      expect.unreachable();
    } catch (e) {
      expect(hasErrorCode(e, MACHINE_LINK_ERRORS, 'BLACKLIST_SIGNATURE_INVALID')).toBe(true);
    }
    try {
      hub.pushConfig('gate-9', { version: 1, blacklist: full3 });
      expect.unreachable();
    } catch (e) {
      expect(hasErrorCode(e, MACHINE_LINK_ERRORS, 'UNKNOWN_MACHINE')).toBe(true);
    }
    expect(() => hub.pushConfig('all', { version: -1, blacklist: full3 } as never)).toThrow(/version/);
  });

  it('a machine refuses a blacklist not signed with the platform key it was set up with, and acknowledges nothing', async () => {
    // a hub that is not the platform (its own key, or compromised) cannot list or delist cards
    const impostor = blacklistSigner();
    const { hub, url } = await startHub({ blacklistPublicKey: impostor.publicKey });
    const agent = agentFor(url);
    await agent.start();
    await connected(agent);
    const refused = hubEvent(hub, 'configRefused');
    const agentRefused = agentEvent(agent, 'configRefused');
    let acks = 0;
    hub.on('configAck', () => acks++);
    hub.pushConfig('gate-1', {
      version: 1,
      blacklist: impostor.sign({ since: 0, version: 9, added: [], removed: [] }),
    });
    expect(await refused).toEqual({ machineId: 'gate-1', version: 1, reason: 'badSignature' });
    expect(await agentRefused).toEqual({ version: 1, reason: 'badSignature' });
    expect(agent.config).toBeUndefined();
    expect(hub.machine('gate-1')).toMatchObject({ configVersion: undefined, refusedConfig: { version: 1 } });
    expect(acks).toBe(0);
  });

  it('refuses a delta that does not start at its version (blacklistGap) and an older config (stale)', async () => {
    const { hub, url } = await startHub();
    const agent = agentFor(url);
    await agent.start();
    await connected(agent);
    hub.pushConfig('gate-1', { version: 5, blacklist: full3 });
    await hubEvent(hub, 'configAck');
    const gap = hubEvent(hub, 'configRefused');
    hub.pushConfig('gate-1', {
      version: 6,
      blacklist: platform.sign({ since: 4, version: 5, added: [C], removed: [] }),
    });
    expect(await gap).toMatchObject({ version: 6, reason: 'blacklistGap' });
    const stale = hubEvent(hub, 'configRefused');
    hub.pushConfig('gate-1', { version: 4, blacklist: delta3to4 });
    expect(await stale).toMatchObject({ version: 4, reason: 'stale' });
    expect(agent.config).toMatchObject({ version: 5, blacklistVersion: 3 });
    expect(agent.isBlacklisted(C)).toBe(false);
  });
});

describe('records', () => {
  it('delivers records once and in order, acknowledged only after the application stored them', async () => {
    const store = new Store();
    let calls = 0;
    const { hub, url } = await startHub({
      store,
      onRecords: async (id, entries) => {
        calls++;
        await new Promise((r) => setTimeout(r, 5)); // a store that takes its time
        await store.onRecords(id, entries);
      },
    });
    const agent = agentFor(url, { batchSize: 40 });
    await agent.start();
    await connected(agent);
    await Promise.all(Array.from({ length: 250 }, (_, i) => agent.record(purchase(i + 1))));
    await agent.delivered({ timeoutMs: 5000 });
    expect(store.terminalSeqs('gate-1')).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
    expect(store.records.get('gate-1')!.map((e) => e.seq)).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
    expect(calls).toBeGreaterThanOrEqual(7); // batches of at most 40
    expect(agent.pending).toBe(0);
    expect(hub.machine('gate-1')).toMatchObject({ storedSeq: 250, recordsReceived: 250 });
  });

  it('skips a batch sent again (duplicates by machine and seq), and says UNAVAILABLE when the store fails', async () => {
    const store = new Store();
    let fail = false;
    const { hub, url } = await startHub({
      store,
      onRecords: async (id, entries) => {
        if (fail) throw new Error('disk full');
        await store.onRecords(id, entries);
      },
    });
    const raw = rawClient(url);
    await raw.authenticate('till-1', TILL_SECRET);
    const batch = [1, 2, 3].map((seq) => ({ seq, record: purchase(seq) }));
    raw.send({ jsonrpc: '2.0', id: 1, method: 'machine.records', params: { batch } });
    expect(await raw.next()).toMatchObject({ id: 1, result: { storedSeq: 3 } });
    const dup = hubEvent(hub, 'records');
    raw.send({
      jsonrpc: '2.0',
      id: 2,
      method: 'machine.records',
      params: { batch: [...batch, { seq: 4, record: purchase(4) }] },
    });
    expect(await raw.next()).toMatchObject({ id: 2, result: { storedSeq: 4 } });
    expect(await dup).toMatchObject({ duplicates: 3, storedSeq: 4 });
    expect(store.terminalSeqs('till-1')).toEqual([1, 2, 3, 4]);
    fail = true;
    raw.send({
      jsonrpc: '2.0',
      id: 3,
      method: 'machine.records',
      params: { batch: [{ seq: 5, record: purchase(5) }] },
    });
    expect(((await raw.next()) as { error: { data: unknown } }).error.data).toMatchObject({ code: 'UNAVAILABLE' });
    raw.send({ jsonrpc: '2.0', id: 4, method: 'machine.records', params: { batch: [{ seq: 0, record: {} }] } });
    expect(((await raw.next()) as { error: { code: number } }).error.code).toBe(-32602);
    expect(store.terminalSeqs('till-1')).toEqual([1, 2, 3, 4]);
  });

  it('renumbers the offline records of a new disk above what the application stored, and waits for all of them', async () => {
    const store = new Store();
    store.records.set(
      'gate-1',
      [1, 2, 3, 4, 5].map((seq) => ({ seq, record: purchase(100 + seq) })),
    ); // the old disk's
    const dir = tempDir();
    const offline = agentFor(`ws://127.0.0.1:${await freePort()}`, { bufferDir: dir });
    await offline.start();
    for (let n = 1; n <= 7; n++) await offline.record(purchase(n));
    await offline.stop();
    const { url } = await startHub({ store });
    const agent = agentFor(url, { bufferDir: dir });
    await agent.start();
    await agent.delivered({ timeoutMs: 5000 });
    expect(store.records.get('gate-1')!.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(store.terminalSeqs('gate-1')).toEqual([101, 102, 103, 104, 105, 1, 2, 3, 4, 5, 6, 7]);
    expect(agent.lastSeq).toBe(12);
  });

  it('buffers records offline and delivers each exactly once to a restarted hub, even when an answer was lost', async () => {
    const store = new Store();
    const first = await startHub({ store });
    const proxy = await CuttableProxy.start(first.url.replace('/v1/machine', ''));
    cleanups.push(() => proxy.stop());
    const agent = agentFor(proxy.url, { batchSize: 10 });
    await agent.start();
    await connected(agent);
    for (let n = 1; n <= 10; n++) await agent.record(purchase(n));
    await agent.delivered({ timeoutMs: 5000 });

    const reconnecting = agentEvent(agent, 'connection', (e) => e.state === 'reconnecting');
    await first.hub.close();
    await reconnecting;
    for (let n = 11; n <= 40; n++) await agent.record(purchase(n)); // offline
    expect(agent.pending).toBe(30);
    expect(store.seq('gate-1')).toBe(10);

    // The restarted hub stores the first batch, and the link breaks before its answer reaches the machine.
    let cut = false;
    const second = await startHub({
      store,
      port: first.port,
      onRecords: async (id, entries) => {
        await store.onRecords(id, entries);
        if (!cut) {
          cut = true;
          proxy.cut();
        }
      },
    });
    const duplicates: number[] = [];
    second.hub.on('records', (e) => duplicates.push(e.duplicates));
    await agent.delivered({ timeoutMs: 8000 });
    expect(cut).toBe(true);
    expect(store.terminalSeqs('gate-1')).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(store.records.get('gate-1')!.map((e) => e.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(agent.pending).toBe(0);
    // the new session's storedSeq told the agent what was stored: nothing was sent twice
    expect(duplicates.every((d) => d === 0)).toBe(true);
  });
});

describe('machine events (records that move no money)', () => {
  const decision = (n: number, granted: boolean): MachineEvent => ({
    event: 'door.decision',
    at: `2026-12-03 08:15:${String(n).padStart(2, '0')}`,
    data: { auditSeq: n, card: A, granted, reason: granted ? 'granted' : 'blacklisted', note: null },
  });

  it('delivers events with purchases, in one sequence, once and in order, across a cut link', async () => {
    const { store, url } = await startHub();
    const proxy = await CuttableProxy.start(url.replace('/v1/machine', ''));
    cleanups.push(() => proxy.stop());
    const agent = agentFor(proxy.url, { batchSize: 3 });
    await agent.start();
    await connected(agent);
    await agent.record(purchase(1));
    await agent.record(decision(1, true));
    await agent.record(purchase(2));
    await agent.delivered({ timeoutMs: 5000 });
    proxy.cut();
    for (let n = 2; n <= 6; n++) await agent.record(decision(n, n % 2 === 0)); // while the link is down
    await agent.record(purchase(3));
    await agent.delivered({ timeoutMs: 8000 });
    const got = store.records.get('gate-1')!;
    expect(got.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(
      got.map((e) => (isMachineEvent(e.record) ? `e${e.record.data.auditSeq}` : `p${e.record.terminalSeq}`)),
    ).toEqual(['p1', 'e1', 'p2', 'e2', 'e3', 'e4', 'e5', 'e6', 'p3']);
    expect(got[1]!.record).toEqual(decision(1, true));
  });

  it('keeps each batch under the frame limit: 300 events of ~4 KiB (1.2 MB) go out in several frames, each once', async () => {
    // Recorded while the hub is not up yet, so that they wait in the buffer and go out in the biggest batches.
    const port = await freePort();
    const agent = agentFor(`ws://127.0.0.1:${port}/v1/machine`, { batchSize: MACHINE_MAX_BATCH });
    await agent.start();
    const big = (n: number): MachineEvent => ({
      event: 'camera.frame',
      at: String(n),
      data: Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`part${i}`, `${n}`.padEnd(256, '.')])),
    });
    for (let n = 1; n <= 300; n++) await agent.record(big(n));
    const { store, hub } = await startHub({ port });
    const frames: number[] = [];
    hub.on('records', (e) => frames.push(e.records.length));
    await agent.delivered({ timeoutMs: 10_000 });
    const got = store.records.get('gate-1')!;
    expect(got.map((e) => e.seq)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(got.map((e) => (e.record as MachineEvent).at)).toEqual(Array.from({ length: 300 }, (_, i) => String(i + 1)));
    expect(frames.length).toBeGreaterThan(1);
    expect(frames.reduce((a, b) => a + b, 0)).toBe(300);
  });

  it.each([
    ['a name that is not dotted lower case', { ...decision(1, true), event: 'Door Decision' }],
    ['a value that is an object', { ...decision(1, true), data: { nested: { a: 1 } } }],
    ['a string of 257 characters', { ...decision(1, true), data: { note: 'x'.repeat(257) } }],
    [
      '33 values',
      { ...decision(1, true), data: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`v${i}`, i])) },
    ],
    ['a field beside event, at and data', { ...decision(1, true), amount: 100 }],
    ['no time', { event: 'door.decision', at: '', data: {} }],
    [
      'data over 4096 characters of JSON',
      {
        ...decision(1, true),
        data: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`v${i}`, 'x'.repeat(250)])),
      },
    ],
  ])('refuses an event with %s: BAD_ARGUMENT, nothing buffered', async (_, bad) => {
    const { url } = await startHub();
    const agent = agentFor(url);
    await agent.start();
    const err = await agent.record(bad as never).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BAD_ARGUMENT' });
    expect(agent.pending).toBe(0);
  });
});

describe('machine requests (online, answered while the machine waits)', () => {
  it('answers with what onRequest resolves; a refusal carries its simtap.v1 code; anything else is UNAVAILABLE', async () => {
    const seen: unknown[] = [];
    const { url } = await startHub({
      onRequest: async (machineId, name, params) => {
        seen.push([machineId, name, params]);
        if (name === 'charge.phoneAccount')
          throw Object.assign(new Error('phone account 13800000001 has 120 fen'), { code: 'INSUFFICIENT_FUNDS' });
        if (name === 'broken.handler') throw new Error('db password wrong at 10.0.0.7');
        return { challenge: '1A2B3C4D5E6F7081', echo: params };
      },
    });
    const agent = agentFor(url);
    await agent.start();
    await connected(agent);
    expect(await agent.request('charge.challenge', { cardSerial: A })).toEqual({
      challenge: '1A2B3C4D5E6F7081',
      echo: { cardSerial: A },
    });
    const refused = await agent.request('charge.phoneAccount', { amount: 500 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(InsufficientFundsError);
    expect(refused).toMatchObject({ code: 'INSUFFICIENT_FUNDS', message: 'phone account 13800000001 has 120 fen' });
    const failed = await agent.request('broken.handler', null).catch((e: unknown) => e);
    expect(failed).toMatchObject({ code: 'UNAVAILABLE', message: 'the request broken.handler failed' });
    expect(String((failed as Error).message)).not.toContain('password');
    expect(seen).toEqual([
      ['gate-1', 'charge.challenge', { cardSerial: A }],
      ['gate-1', 'charge.phoneAccount', { amount: 500 }],
      ['gate-1', 'broken.handler', null],
    ]);
    // Records flow as before beside the requests.
    await agent.record(purchase(1));
    await agent.delivered({ timeoutMs: 5000 });
  });

  it('a hub without onRequest answers UNAVAILABLE', async () => {
    const { url } = await startHub();
    const agent = agentFor(url);
    await agent.start();
    await connected(agent);
    await expect(agent.request('charge.challenge', {})).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: 'the application system takes no requests',
    });
  });

  it('offline it fails at once (NOT_CONNECTED); a link cut or a slow answer is REQUEST_UNANSWERED', async () => {
    const pending: { release?: () => void } = {};
    const { url } = await startHub({
      onRequest: (_id, name) =>
        name === 'slow.answer'
          ? new Promise((resolve) => {
              pending.release = () => resolve('late');
            })
          : Promise.resolve('ok'),
    });
    const proxy = await CuttableProxy.start(url.replace('/v1/machine', ''));
    cleanups.push(() => proxy.stop());
    const port = await freePort();
    const nowhere = agentFor(`ws://127.0.0.1:${port}/v1/machine`, { machineId: 'till-1', secret: TILL_SECRET });
    await nowhere.start();
    const offline = await nowhere.request('charge.challenge', {}).catch((e: unknown) => e);
    expect(hasErrorCode(offline, MACHINE_LINK_ERRORS, 'NOT_CONNECTED')).toBe(true);

    const agent = agentFor(proxy.url);
    await agent.start();
    await connected(agent);
    const cut = agent.request('slow.answer', {}, { timeoutMs: 5000 });
    await until(() => pending.release !== undefined);
    proxy.cut();
    expect(hasErrorCode(await cut.catch((e: unknown) => e), MACHINE_LINK_ERRORS, 'REQUEST_UNANSWERED')).toBe(true);
    pending.release?.();
    pending.release = undefined;
    await connected(agent);
    const slow = await agent.request('slow.answer', {}, { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(hasErrorCode(slow, MACHINE_LINK_ERRORS, 'REQUEST_UNANSWERED')).toBe(true);
    (pending as { release?: () => void }).release?.(); // the handler set it again meanwhile
    expect(await agent.request('quick.answer', {})).toBe('ok'); // the link stayed up
  });

  it.each([
    ['a name that is not dotted', 'Charge Phone', {}],
    ['params that are no JSON', 'charge.challenge', { n: 10n }],
    ['params over 16 KiB', 'charge.challenge', { note: 'x'.repeat(16_400) }],
  ])('refuses %s with BAD_ARGUMENT before sending anything', async (_, name, params) => {
    let asked = 0;
    const { url } = await startHub({
      onRequest: async () => {
        asked++;
        return null;
      },
    });
    const agent = agentFor(url);
    await agent.start();
    await connected(agent);
    await expect(agent.request(name, params)).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    expect(asked).toBe(0);
  });
});
