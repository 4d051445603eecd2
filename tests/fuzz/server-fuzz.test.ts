/**
 * Bad input (issue 11 acceptance): one real `simtap-host` process (SQLite in a fresh temporary `--data`) gets more
 * than 50,000 fuzzed frames over many connections — authenticated on `/v1/app` (four application clients) and
 * `/v1/console`, unauthenticated, and on `/v1/ota` — generated with fast-check from a seed (`SIMTAP_FUZZ_SEED`
 * reproduces a run) and by hand: not JSON, truncated JSON, JSON of every type, batches, bad envelopes and ids of
 * every type, unknown and near-miss methods, every catalogue method with mutated params, prototype keys, deep
 * nesting, responses and notifications from the client, binary frames, valid calls that cannot succeed (unknown
 * cards, customers and loads, bad MAC1, no merchant, the session authenticated again), big frames up to exactly
 * 1 MiB, oversized and fragmented-oversized frames (1009), invalid UTF-8 (1007), a flood past the rate limit (4429),
 * proofs replayed from another connection or over another path and unknown clients (BAD_PROOF, 4401), clients on the
 * wrong endpoint (FORBIDDEN, 4403), and — concurrently with the rest — slow-loris upgrades (headers that never end,
 * or trickle), upgrades that never authenticate (4408, also with half a frame sent), and frames breaking RFC 6455
 * (1002).
 *
 * Nothing the fuzzer sends may move money: the oracle (`frames.ts`) drops any frame the server would run as a valid
 * call, but for hand-written calls that must fail. Every frame that asks for an answer gets exactly one error
 * response (a JSON-RPC code of the protocol; for -32000 a `data.code` of `WIRE_ERROR_CODES`), never a result, or
 * its connection is closed with a close code; afterwards the process is up, a fresh operator session gets
 * `ledger.verify` ok with the journal head and entry count unchanged, and the process logged no error.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { referenceProfile } from '@simtap/sdk/core/profile';
import { ENDPOINT_PATHS, type Endpoint, SUBPROTOCOL, sessionProof } from '@simtap/sdk/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type HostProcess, logProblems, startHost, stopAll } from '../support/host-process';
import { type Ctx, frames, KNOWN_SERIAL } from './frames';
import { Lane, Tally } from './lane';
import { clientFrame, type RawOutcome, RawPeer } from './raw';

const profile = referenceProfile();
const secretOf = (id: string) => profile.platform.clients.find((c) => c.id === id)!.secret;
const SEED = Number(process.env.SIMTAP_FUZZ_SEED ?? 0x51a7);
const APP_CLIENTS = ['mart-1', 'access-1', 'metro-1', 'campus-1'] as const;
const FRAMES_PER_LANE = 1400; // under the rate limit's burst (2,000) of one connection
const MiB = 1024 * 1024;

const tmp = mkdtempSync(join(tmpdir(), 'simtap-fuzz-'));
let host: HostProcess;

beforeAll(async () => {
  host = await startHost({ dataDir: join(tmp, 'data') });
}, 30_000);
afterAll(async () => {
  if (host?.alive()) await host.stop('SIGTERM');
  stopAll();
  rmSync(tmp, { recursive: true, force: true });
});

/** `ledger.verify` on a fresh operator session (raw frames). */
async function verify(url: string): Promise<{ ok: boolean; journalHead: string; entries: number; sum: number }> {
  const ws = new WebSocket(`${url}/v1/console`, [SUBPROTOCOL]);
  const got: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (d) => {
    got.push(JSON.parse(d.toString()) as Record<string, unknown>);
    for (const w of waiters.splice(0)) w();
  });
  const wait = async (test: (m: Record<string, unknown>) => boolean) => {
    const end = Date.now() + 10_000;
    for (;;) {
      const m = got.find(test);
      if (m) return m;
      if (Date.now() > end) throw new Error(`no answer: ${JSON.stringify(got)}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 100);
      });
    }
  };
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const challenge = await wait((m) => m.method === 'session.challenge');
  const nonce = Buffer.from(String((challenge.params as { nonce: string }).nonce), 'hex');
  const proof = sessionProof(secretOf('operator-1'), nonce, '/v1/console');
  ws.send(
    JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'session.authenticate',
      params: { clientId: 'operator-1', proof },
    }),
  );
  const auth = await wait((m) => m.id === 1);
  if (!auth.result) throw new Error(`operator not authenticated: ${JSON.stringify(auth)}`);
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ledger.verify', params: {} }));
  const r = await wait((m) => m.id === 2);
  ws.close();
  if (!r.result) throw new Error(`ledger.verify failed: ${JSON.stringify(r)}`);
  return r.result as { ok: boolean; journalHead: string; entries: number; sum: number };
}

/** Runs `jobs` with at most `n` at once. */
async function pool<T>(jobs: Array<() => Promise<T>>, n: number): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      for (;;) {
        const i = next++;
        if (i >= jobs.length) return;
        out[i] = await jobs[i]!();
      }
    }),
  );
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The resident memory of a process in MB (Linux), for the report. */
function rssOf(pid: number): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Math.round(Number(kb) / 1024);
  } catch {
    return undefined;
  }
}
const T0 = performance.now();
/** Progress lines with SIMTAP_FUZZ_DEBUG=1. */
const debug = (msg: string) => {
  if (process.env.SIMTAP_FUZZ_DEBUG) console.info(`[${Math.round(performance.now() - T0)} ms] ${msg}`);
};

// ---------------------------------------------------------------- lanes of generated frames

interface LaneSpec {
  readonly endpoint: Endpoint;
  readonly clientId?: string;
  readonly count: number;
  readonly seed: number;
}

/** Opens a lane (authenticated when the spec says), sends its frames pipelined, waits for every answer. */
async function generatedLane(spec: LaneSpec, tally: Tally, stats: { unsafe: number }): Promise<void> {
  const ctx: Ctx = { endpoint: spec.endpoint, ...(spec.clientId ? { clientId: spec.clientId } : {}) };
  const planned = frames(ctx, spec.count, spec.seed); // before the upgrade: the 10 s authentication timer runs after it
  stats.unsafe += planned.unsafe;
  const path = ENDPOINT_PATHS[spec.endpoint];
  const lane = await Lane.open(host.url, path, tally, {
    name: `${spec.endpoint}/${spec.clientId ?? 'unauthenticated'}#${spec.seed}`,
  });
  if (spec.clientId) {
    const r = await lane.authenticate(spec.clientId, secretOf(spec.clientId), path);
    if (!r.result) tally.violation(`${lane.name}: authentication failed ${JSON.stringify(r.error)}`);
  }
  for (const f of planned.frames) lane.send(f.data, f.expect, { binary: f.binary, cls: f.cls });
  debug(`${lane.name}: ${planned.frames.length} sent`);
  const { code } = await lane.finish(40_000);
  debug(`${lane.name}: done, ${lane.outstanding} outstanding`);
  // An unauthenticated lane still sending after 10 s (a loaded machine) is closed 4408: its frames are covered.
  if (code !== undefined && !(code === 4408 && !spec.clientId))
    tally.violation(`${lane.name}: closed by the server with ${code}`);
}

// ---------------------------------------------------------------- hand-written connections

/** An unauthenticated request frame and what it must get. */
const unauthCall = (id: number) => ({
  data: JSON.stringify({ jsonrpc: '2.0', id, method: 'wallet.float', params: { cardSerial: KNOWN_SERIAL } }),
  expect: { id, codes: ['UNAUTHENTICATED'], cls: 'unauthenticated call' },
});

/** Sessions and their proofs: replays from another connection or path, unknown clients, wrong roles, twice. */
async function sessions(tally: Tally): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  const note = (k: string) => {
    seen[k] = (seen[k] ?? 0) + 1;
  };
  const jobs: Array<() => Promise<void>> = [];
  for (let i = 0; i < 40; i++)
    jobs.push(async () => {
      const endpoint: Endpoint = i % 4 === 3 ? 'console' : 'app';
      const path = ENDPOINT_PATHS[endpoint];
      const clientId = endpoint === 'console' ? 'operator-1' : APP_CLIENTS[i % 4]!;
      const secret = secretOf(clientId);
      // A: a good session, whose proof B replays; then A authenticates again with the same frame (FORBIDDEN).
      const a = await Lane.open(host.url, path, tally, { name: `replay-source-${i}` });
      const nonceA = await a.nonce;
      const proofA = sessionProof(secret, nonceA, path);
      const ra = await a.authenticate(clientId, secret, path, { proof: proofA });
      if (!ra.result) tally.violation(`replay-source-${i}: ${JSON.stringify(ra.error)}`);
      a.send(
        JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'session.authenticate', params: { clientId, proof: proofA } }),
        { id: 7, codes: ['FORBIDDEN'], cls: 'authenticate twice' },
      );
      // B: the proof of A's nonce, or of its own nonce over the other path, or an unknown client, or another's secret.
      const b = await Lane.open(host.url, path, tally, { name: `replay-${i}` });
      const nonceB = await b.nonce;
      const variant = i % 5;
      const [bClient, bProof, what] =
        variant === 0 || variant === 4
          ? [clientId, proofA, 'proof replayed from another connection']
          : variant === 1
            ? [
                clientId,
                sessionProof(secret, nonceB, endpoint === 'app' ? '/v1/console' : '/v1/app'),
                'proof over the other path',
              ]
            : variant === 2
              ? ['ghost-1', sessionProof(secret, nonceB, path), 'unknown client']
              : [
                  clientId,
                  sessionProof(secretOf(endpoint === 'app' ? 'operator-1' : 'mart-1'), nonceB, path),
                  "another client's secret",
                ];
      note(what);
      const rb = await b.authenticate(bClient, secret, path, { proof: bProof, expectClose: true });
      const code = (rb.error as { data?: { code?: string } } | undefined)?.data?.code;
      if (rb.result !== undefined || code !== 'BAD_PROOF')
        tally.violation(`replay-${i} (${what}): ${JSON.stringify(rb)}`);
      for (let k = 1; k <= 5; k++) {
        const c = unauthCall(k);
        b.send(c.data, c.expect);
      }
      const closed = await b.finish(10_000, { expectClose: true });
      if (closed.code !== 4401) tally.violation(`replay-${i} (${what}): closed with ${closed.code}, not 4401`);
      await a.finish(10_000);
    });
  for (let i = 0; i < 10; i++)
    jobs.push(async () => {
      // The wrong endpoint for the role, with a good proof: FORBIDDEN, then 4403.
      const [clientId, endpoint] = i % 2 === 0 ? (['operator-1', 'app'] as const) : (['mart-1', 'console'] as const);
      const path = ENDPOINT_PATHS[endpoint];
      const lane = await Lane.open(host.url, path, tally, { name: `wrong-role-${i}` });
      const r = await lane.authenticate(clientId, secretOf(clientId), path, { expectClose: true });
      const code = (r.error as { data?: { code?: string } } | undefined)?.data?.code;
      if (code !== 'FORBIDDEN') tally.violation(`wrong-role-${i}: ${JSON.stringify(r)}`);
      note('wrong endpoint for the role');
      const closed = await lane.finish(10_000, { expectClose: true });
      if (closed.code !== 4403) tally.violation(`wrong-role-${i}: closed with ${closed.code}, not 4403`);
    });
  for (let i = 0; i < 5; i++)
    jobs.push(async () => {
      // Out of order: session.authenticate as a notification is ignored — the session stays unauthenticated.
      const lane = await Lane.open(host.url, '/v1/app', tally, { name: `auth-notification-${i}` });
      const nonce = await lane.nonce;
      const proof = sessionProof(secretOf('mart-1'), nonce, '/v1/app');
      lane.send(
        JSON.stringify({ jsonrpc: '2.0', method: 'session.authenticate', params: { clientId: 'mart-1', proof } }),
        null,
        { cls: 'authenticate as a notification' },
      );
      for (let k = 1; k <= 20; k++) {
        const c = unauthCall(k);
        lane.send(c.data, c.expect);
      }
      note('authenticate as a notification');
      await lane.finish(10_000);
    });
  await pool(jobs, 8);
  debug('sessions done');
  return seen;
}

/** Frames over the limit (1009), frames up to exactly 1 MiB (answered), invalid UTF-8 (1007), a flood (4429). */
async function limits(tally: Tally): Promise<Record<string, number | undefined>> {
  const closes: Record<string, number | undefined> = {};
  const big = async (name: string, clientId: string | undefined, endpoint: Endpoint, send: (lane: Lane) => void) => {
    const path = ENDPOINT_PATHS[endpoint];
    const lane = await Lane.open(host.url, path, tally, { name, allowedClose: [1007] });
    if (clientId) {
      const r = await lane.authenticate(clientId, secretOf(clientId), path);
      if (!r.result) tally.violation(`${name}: ${JSON.stringify(r.error)}`);
    }
    send(lane);
    closes[name] = (await lane.finish(20_000, { expectClose: true })).code;
    debug(`${name}: closed ${closes[name]}`);
  };
  /** A request of exactly `bytes` bytes whose idempotency key is too long (-32602 when authenticated). */
  const padded = (id: number, bytes: number) => {
    const head = `{"jsonrpc":"2.0","id":${id},"method":"customers.topUpPhoneAccount","params":{"idempotencyKey":"`;
    const tail = '","msisdn":"13800138001","amount":1}}';
    return head + 'k'.repeat(bytes - head.length - tail.length) + tail;
  };
  const record = {
    cardSerial: KNOWN_SERIAL,
    offlineCounter: 1,
    amount: 100,
    tti: 6,
    terminalId: '440100000009',
    terminalSeq: 1,
    date: '20261203',
    time: '101500',
    tac: '00000000',
  };
  await Promise.all([
    big('big frames, then 1 MiB + 1', 'mart-1', 'app', (lane) => {
      for (const [id, size] of [
        [1, 200 * 1024],
        [2, 256 * 1024],
        [3, 600 * 1024],
        [4, MiB],
      ] as const)
        lane.send(padded(id, size), { id, codes: [-32602], cls: `frame of ${size} bytes` });
      // 1,001 records: one more than a batch may have (-32602); 1,000 would clear.
      lane.send(
        JSON.stringify({
          jsonrpc: '2.0',
          id: 5,
          method: 'clearing.submitBatch',
          params: { idempotencyKey: 'fz-too-many', records: Array.from({ length: 1001 }, () => record) },
        }),
        { id: 5, codes: [-32602], cls: 'batch of 1,001 records' },
      );
      lane.send(padded(6, MiB + 1), { id: 6, codes: [], cls: 'frame of 1 MiB + 1' });
    }),
    big('batch of 1,000 records without a merchant, then 3 MiB', 'access-1', 'app', (lane) => {
      lane.send(
        JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'clearing.submitBatch',
          params: { idempotencyKey: 'fz-no-merchant', records: Array.from({ length: 1000 }, () => record) },
        }),
        { id: 1, codes: ['NO_MERCHANT'], cls: 'batch of 1,000 records, no merchant' },
      );
      lane.send('x'.repeat(3 * MiB), { id: null, codes: [], cls: 'frame of 3 MiB' });
    }),
    big('unauthenticated 1 MiB not JSON, then 1 MiB + 1', undefined, 'app', (lane) => {
      lane.send(' '.repeat(MiB - 1) + 'x', { id: null, codes: [-32700], cls: 'frame of 1 MiB, not JSON' });
      lane.send(padded(2, MiB), { id: 2, codes: ['UNAUTHENTICATED'], cls: 'frame of 1 MiB' });
      lane.send('{'.repeat(MiB + 1), { id: null, codes: [], cls: 'frame of 1 MiB + 1' });
    }),
    big('binary 2 MiB', 'operator-1', 'console', (lane) => {
      lane.send(new Uint8Array(64), { id: null, codes: [-32600], cls: 'binary frame' });
      lane.send(new Uint8Array(2 * MiB), { id: null, codes: [], cls: 'binary frame of 2 MiB' });
    }),
    big('fragmented: 300 KiB answered, then 4 × 300 KiB', 'metro-1', 'app', (lane) => {
      const part = 'y'.repeat(300 * 1024);
      lane.sendFragmented([part, part, part.slice(0, 100)], { id: null, codes: [-32700], cls: 'fragmented message' });
      lane.sendFragmented([part, part, part, part], { id: null, codes: [], cls: 'fragmented message over 1 MiB' });
    }),
    ...[0, 1, 2].map((i) =>
      big(`invalid UTF-8 ${i}`, i === 0 ? 'mart-1' : undefined, i === 2 ? 'console' : 'app', (lane) => {
        const c = unauthCall(1);
        if (i !== 0) lane.send(c.data, c.expect);
        lane.send(
          Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0xc0, 0x80, 0x22, 0x7d]),
          { id: null, codes: [], cls: 'invalid UTF-8' },
          { binary: false },
        );
      }),
    ),
  ]);
  // A flood: 6,000 calls at once on one connection, far past 2,000/s — RATE_LIMITED, then 4429.
  const flood = await Lane.open(host.url, '/v1/app', tally, { name: 'flood' });
  for (let id = 1; id <= 6000; id++) {
    const c = unauthCall(id);
    flood.send(c.data, { ...c.expect, cls: 'flood' });
  }
  closes.flood = (await flood.finish(20_000, { expectClose: true })).code;
  debug(`flood: closed ${closes.flood}`);
  return closes;
}

/**
 * The slow ones, run beside everything else: partial upgrades that stall or trickle, upgrades that never
 * authenticate (also with half a frame sent), refused upgrades, bytes that are not HTTP, frames that break RFC 6455.
 */
async function slow(tally: Tally): Promise<Record<string, RawOutcome[] | Array<{ code: number; ms: number }>>> {
  const port = host.port;
  const request = 'GET /v1/app HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n';
  const partial = Array.from({ length: 30 }, async (_, i) => {
    const p = new RawPeer(port, `partial upgrade ${i}`);
    await p.connected;
    p.write(request);
    return p.outcome(50_000);
  });
  const trickle = Array.from({ length: 5 }, async (_, i) => {
    const p = new RawPeer(port, `trickled upgrade ${i}`);
    await p.connected;
    const full = `${request}Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: simtap.v1\r\n\r\n`;
    void (async () => {
      for (const ch of full) {
        if (p.socket.destroyed) return;
        p.write(ch);
        await sleep(400);
      }
    })();
    return p.outcome(50_000);
  });
  const silent = Array.from({ length: 10 }, async (_, i) => {
    const p = new RawPeer(port, `silent upgrade ${i}`);
    await p.upgrade(i % 2 === 0 ? '/v1/app' : '/v1/console');
    if (i >= 6) {
      // half a frame: a text frame announcing 1,000 bytes, 10 sent
      p.write(clientFrame(0x1, Buffer.from('{"jsonrpc"'), { declaredLength: 1000 }).subarray(0, 18));
    }
    return p.outcome(20_000);
  });
  const idleLanes = Array.from({ length: 10 }, async (_, i) => {
    const t0 = performance.now();
    const lane = await Lane.open(host.url, i % 2 === 0 ? '/v1/app' : '/v1/console', tally, { name: `idle-${i}` });
    if (i >= 5) {
      // one unauthenticated call a second until the server closes
      for (let id = 1; lane.ws.readyState === WebSocket.OPEN && id < 20; id++) {
        const c = unauthCall(id);
        lane.send(c.data, c.expect);
        await sleep(1000);
      }
    }
    const { code } = await Promise.race([lane.closed, sleep(20_000).then(() => ({ code: -1 }))]);
    await lane.finish(1000);
    return { code, ms: Math.round(performance.now() - t0) };
  });
  const refused = [
    ...Array.from({ length: 3 }, (_, i) => ['no subprotocol', '/v1/app', null, i] as const),
    ...Array.from({ length: 3 }, (_, i) => ['another subprotocol', '/v1/app', 'simtap.v2', i] as const),
    ...Array.from({ length: 3 }, (_, i) => ['unknown path', '/v2/app', 'simtap.v1', i] as const),
  ].map(async ([what, path, protocol, i]) => {
    const p = new RawPeer(port, `${what} ${i}`);
    await p.upgrade(path, protocol);
    return p.outcome(5_000);
  });
  const garbage = [
    '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03',
    'HELLO\r\n\r\n',
    'GET / HTTP/9.9\r\n\r\n',
    '\r\n\r\n\r\n',
  ].map(async (bytes, i) => {
    const p = new RawPeer(port, `not HTTP ${i}`);
    await p.connected;
    p.write(Buffer.from(bytes, 'latin1'));
    return p.outcome(50_000);
  });
  const violations = [
    ['unmasked frame', clientFrame(0x1, Buffer.from('{}'), { mask: false })],
    ['reserved opcode 3', clientFrame(0x3, Buffer.from('x'))],
    ['reserved opcode 0xB', clientFrame(0xb, Buffer.from('x'))],
    ['RSV1 without an extension', clientFrame(0x1, Buffer.from('{}'), { rsv: 4 })],
    ['ping of 126 bytes', clientFrame(0x9, Buffer.alloc(126))],
    ['fragmented ping', clientFrame(0x9, Buffer.from('x'), { fin: false })],
    ['close code 999', clientFrame(0x8, Buffer.from([0x03, 0xe7]))],
    ['continuation first', clientFrame(0x0, Buffer.from('x'))],
    [
      'text inside a fragmented text',
      Buffer.concat([clientFrame(0x1, Buffer.from('{'), { fin: false }), clientFrame(0x1, Buffer.from('}'))]),
    ],
  ].map(async ([what, bytes]) => {
    const p = new RawPeer(port, String(what));
    await p.upgrade('/v1/app');
    await p.firstText();
    p.write(bytes as Buffer);
    tally.framesSent++;
    tally.add(tally.byClass, 'RFC 6455 violation');
    return p.outcome(10_000);
  });
  const [partialR, trickleR, silentR, idleR, refusedR, garbageR, violationsR] = await Promise.all([
    Promise.all(partial),
    Promise.all(trickle),
    Promise.all(silent),
    Promise.all(idleLanes),
    Promise.all(refused),
    Promise.all(garbage),
    Promise.all(violations),
  ]);
  return {
    partial: partialR,
    trickle: trickleR,
    silent: silentR,
    idle: idleR,
    refused: refusedR,
    garbage: garbageR,
    violations: violationsR,
  };
}

describe('bad input against a running simtap-host', () => {
  it('≥ 50,000 fuzzed frames: each gets a JSON-RPC error or a close code, the server stays up, the journal head is unchanged', async () => {
    const t0 = performance.now();
    const rssBefore = rssOf(host.pid);
    const before = await verify(host.url);
    expect(before.ok).toBe(true);
    const tally = new Tally();
    const slowRun = slow(tally);

    const specs: LaneSpec[] = [];
    let s = SEED;
    const seed = () => {
      s += 1009;
      return s;
    };
    for (let i = 0; i < 20; i++)
      specs.push({ endpoint: 'app', clientId: APP_CLIENTS[i % 4], count: FRAMES_PER_LANE, seed: seed() });
    for (let i = 0; i < 6; i++)
      specs.push({ endpoint: 'console', clientId: 'operator-1', count: FRAMES_PER_LANE, seed: seed() });
    for (let i = 0; i < 8; i++) specs.push({ endpoint: 'app', count: FRAMES_PER_LANE, seed: seed() });
    for (let i = 0; i < 4; i++) specs.push({ endpoint: 'console', count: FRAMES_PER_LANE, seed: seed() });
    for (let i = 0; i < 2; i++) specs.push({ endpoint: 'ota', count: 800, seed: seed() });
    const stats = { unsafe: 0 };
    const [, seen, closes] = await Promise.all([
      pool(
        specs.map((spec) => () => generatedLane(spec, tally, stats)),
        6,
      ),
      sessions(tally),
      limits(tally),
    ]);
    const fastMs = Math.round(performance.now() - t0);
    const rssAfter = rssOf(host.pid);
    const slowR = await slowRun;
    const totalMs = Math.round(performance.now() - t0);

    // The server is up, the ledger is as it was, nothing was logged as an error.
    expect(host.alive()).toBe(true);
    const after = await verify(host.url);
    expect(after.ok).toBe(true);
    expect(after.sum).toBe(0);
    expect(after.journalHead).toBe(before.journalHead);
    expect(after.entries).toBe(before.entries);
    expect(logProblems(host.stderr())).toEqual([]);

    console.info(
      `fuzz: seed ${SEED}, ${tally.framesSent} frames in ${fastMs} ms (slow-loris done at ${totalMs} ms); ` +
        `${stats.unsafe} generated calls dropped as runnable; server RSS ${rssBefore} → ${rssAfter} MB, ` +
        `${Math.round(host.stderr().length / 1024)} KiB of log\n${JSON.stringify(tally.summary(), null, 1)}\n` +
        `sessions ${JSON.stringify(seen)}\nlimits ${JSON.stringify(closes)}\n` +
        `slow ${JSON.stringify(
          Object.fromEntries(
            Object.entries(slowR).map(([k, v]) => [
              k,
              (v as Array<Record<string, unknown>>).map((o) =>
                'texts' in o ? { status: o.status, closeCode: o.closeCode, ms: o.closedAfterMs } : o,
              ),
            ]),
          ),
        )}`,
    );

    expect(tally.violations).toEqual([]);
    expect(tally.framesSent).toBeGreaterThanOrEqual(50_000);

    // The close codes of the hand-written limits.
    expect(closes).toEqual({
      'big frames, then 1 MiB + 1': 1009,
      'batch of 1,000 records without a merchant, then 3 MiB': 1009,
      'unauthenticated 1 MiB not JSON, then 1 MiB + 1': 1009,
      'binary 2 MiB': 1009,
      'fragmented: 300 KiB answered, then 4 × 300 KiB': 1009,
      'invalid UTF-8 0': 1007,
      'invalid UTF-8 1': 1007,
      'invalid UTF-8 2': 1007,
      flood: 4429,
    });
    // Slow-loris: every stalled upgrade is dropped by the server. The server sets headersTimeout 10 s, but Node
    // checks it only every connectionsCheckingInterval (30 s by default, which the server leaves): a stalled upgrade
    // lives 10–40 s, and is answered 400, not 408. Known deviation, reported; the bound here is 45 s.
    const stalled = [...slowR.partial!, ...slowR.trickle!, (slowR.garbage as RawOutcome[])[3]!] as RawOutcome[];
    for (const o of stalled) {
      expect(o.closedAfterMs, o.name).toBeDefined();
      expect(o.closedAfterMs!, o.name).toBeLessThan(45_000);
      expect([undefined, 400, 408], `${o.name}: ${o.status}`).toContain(o.status);
    }
    const slowest = Math.max(...stalled.map((o) => o.closedAfterMs!));
    if (slowest > 12_000)
      console.info(`known deviation: stalled upgrades were dropped after up to ${slowest} ms (documented: 10 s)`);
    // Upgrades that never authenticate: 4408 after 10 s (and the socket dropped after the closing handshake).
    for (const o of slowR.silent as RawOutcome[]) {
      expect(o.status, o.name).toBe(101);
      expect(o.texts[0], o.name).toMatch(/"method":"session\.challenge"/);
      expect(o.closeCode, o.name).toBe(4408);
      expect(o.closedAfterMs, o.name).toBeGreaterThanOrEqual(9_900);
      expect(o.closedAfterMs, o.name).toBeLessThan(20_000);
    }
    for (const o of slowR.idle as Array<{ code: number; ms: number }>) {
      expect(o.code).toBe(4408);
      expect(o.ms).toBeLessThan(18_000);
    }
    expect((slowR.refused as RawOutcome[]).map((o) => o.status)).toEqual([400, 400, 400, 400, 400, 400, 404, 404, 404]);
    for (const o of (slowR.garbage as RawOutcome[]).slice(0, 3)) {
      expect(o.status, o.name).toBe(400);
      expect(o.closedAfterMs, o.name).toBeDefined();
    }
    for (const o of slowR.violations as RawOutcome[]) {
      expect(o.closeCode, o.name).toBe(1002);
      expect(o.closedAfterMs, o.name).toBeDefined();
    }
  }, 120_000);
});
