/**
 * One tap end to end over WebSockets — card → machine → application system — clearing excluded, p50/p99 per tap
 * (target: p50 ≤ 1 ms on loopback).
 *
 * **The machine** is built as a supermarket till builds its own (`examples/supermarket/src/till.ts`): a
 * {@link ConsumptionMachine} over a `pos-1` PSAM of the reference profile (`createPsam`, powered on its contact
 * interface, behind an `InProcessChannel` and a {@link PsamDriver}) and the contactless interface of a personalized
 * SIM (`createSim`, card-1 at the profile's maximum balance); the system clock. Its {@link MachineAgent} keeps its
 * record buffer on the disk, in a temp folder, as in production: `record()` resolves once the record is written and
 * `fdatasync`ed, and each acknowledgement is persisted (`state.json` written, synced and renamed, the folder synced;
 * the records file truncated and synced) before the agent counts the record delivered.
 *
 * **The application system** is a {@link MachineHub} on 127.0.0.1 whose `onRecords` stores each record once by
 * (machine, seq) in memory, as the supermarket's back office does, without clearing it with the platform. The hub's
 * per-connection rate limit (100 messages/s by default, against a misbehaving machine) is raised for the bench: a till
 * taps a few times a minute, the bench a thousand times a second.
 *
 * **One tap**: the card enters the field (contactless powered off and on: its transient state reset), the machine
 * makes a purchase of 1 fen with its PSAM (SELECT, READ BINARY EF 0x15, INITIALIZE FOR PURCHASE, PSAM MAC1, DEBIT FOR
 * PURCHASE, PSAM MAC2), `clearingRecord(result)`, `agent.record(record)`, and `agent.delivered()`: the real
 * acknowledgement — the hub has stored the record (`onRecords` resolved), answered the batch with its stored sequence
 * number, and the machine has persisted that answer (after it the record is never sent again). Taps go one at a time.
 *
 * **Beside it, in the same run and the same process** (hub, agent, card and echo share one event loop): the
 * in-process purchase alone (same machine, same PSAM, another SIM of card-1; no agent), and a raw `ws` round trip of
 * a 200-byte text frame to a `WebSocketServer` on 127.0.0.1 that echoes it. The three series run interleaved, in
 * {@link ROUNDS} rounds, so that a slow spell of the machine falls on all of them. A SIM's offline counter caps it
 * at 65,535 purchases: each series taps its own SIM, replaced after {@link PER_SIM} purchases (outside the timing).
 *
 * **What the disk costs.** A second agent of the same machine (`till-2` at the same hub) keeps its buffer on
 * `/dev/shm` (tmpfs: the syncs return at once), and its taps run in the same rounds: not a production set-up, only the
 * tap without the disk, to show how much of the tap is the link and how much the syncs. Skipped where there is no
 * `/dev/shm`.
 *
 * **The modelled tap time.** Last, the rows of what the purchase would take at a real reader under the machines'
 * tap-time model (docs/tap-time.md): each timed tap's record carries it (`result.tapTime`, the default model: the
 * patent's Java Card SIM behind SWP at a till, 106 kbit/s), the same model `npm start` prints. A figure of the model,
 * not a measurement: the bench checks that every tap's is the same and prints the total and its split.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPsam } from '@simtap/applet-emu/applets/psam';
import type { Card } from '@simtap/applet-emu/runtime';
import { createSim } from '@simtap/applet-emu/sim';
import { InProcessChannel } from '@simtap/sdk/card';
import { clearingRecord, MachineAgent, MachineHub, type MachineRecordEntry } from '@simtap/sdk/clients';
import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import { formatTapTime, type TapTimeEstimate } from '@simtap/sdk/core/iso14443';
import { ConsumptionMachine, PsamDriver } from '@simtap/sdk/machines';
import WebSocket, { WebSocketServer } from 'ws';
import { type BenchRow, type Measurement, quantityRow, row } from './lib';

const GROUP =
  'Tap end to end over WebSockets: card → machine → application system (loopback, one process; clearing excluded)';
/** The rows of the modelled tap time: what the card's time at the reader would be, not what the bench measures. */
const MODEL_GROUP =
  'Modelled tap time of the same purchase (the machines’ tap-time model, docs/tap-time.md; not measured)';
/** The profile's maximum balance (fen); each purchase is 1 fen. */
const BALANCE = 100_000;
/** Purchases on one SIM before it is replaced (its offline counter stops at 65,535). */
const PER_SIM = 60_000;
const ROUNDS = 10;
/** Per round: taps, in-process purchases, echo round trips. */
const TAPS = 500;
const PURCHASES = 2_000;
const ECHOS = 1_000;
/** Untimed, before the rounds. */
const WARMUP_TAPS = 500;
const WARMUP_PURCHASES = 3_000;
const WARMUP_ECHOS = 2_000;
const ECHO_BYTES = 200;
/** The target: a tap's p50 (µs). */
const TARGET_P50_US = 1_000;
const MACHINE_ID = 'till-1';
/** The same machine's second agent, its buffer on tmpfs. */
const SHM_ID = 'till-2';
const SHM_ROOT = '/dev/shm';
const TERMINAL_ID = '440100001001';

const nowUs = (): number => Number(process.hrtime.bigint()) / 1000;
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

/** The file system a folder is on, by its `statfs` magic (the common ones). */
function fileSystemOf(path: string): string {
  const names: Record<number, string> = {
    61267: 'ext4',
    1481003842: 'xfs',
    2435016766: 'btrfs',
    16914836: 'tmpfs',
    2035054128: 'overlayfs',
    1702057286: 'fuse',
  };
  const type = statfsSync(path).type;
  return names[type] ?? `file system 0x${type.toString(16)}`;
}

function fail(message: string): never {
  throw new Error(`tap bench: ${message}`);
}

interface Percentiles {
  readonly p50: number;
  readonly p99: number;
}

function percentiles(samples: readonly number[]): Percentiles {
  const t = Float64Array.from(samples).sort();
  return { p50: t[Math.floor(t.length * 0.5)]!, p99: t[Math.floor(t.length * 0.99)]! };
}

function measurement(name: string, p: Percentiles): Measurement {
  return { name, usPerOp: p.p50, opsPerSec: 1e6 / p.p50, p99Us: p.p99 };
}

/** A SIM of card-1 at the maximum balance; its purchases counted so that it is replaced before its counter ends. */
class SimSlot {
  #sim: Card = createSim({ card: 'card-1', personalized: { balance: BALANCE } });
  #used = 0;
  /** Sims replaced (each made `PER_SIM` purchases). */
  replaced = 0;

  get sim(): Card {
    return this.#sim;
  }

  /** Before a series: a fresh SIM when this one could not make `n` more purchases. */
  reserve(n: number): void {
    if (this.#used + n <= PER_SIM) return;
    this.#sim = createSim({ card: 'card-1', personalized: { balance: BALANCE } });
    this.#used = 0;
    this.replaced++;
  }

  used(): void {
    this.#used++;
  }
}

/** A `ws` echo server on 127.0.0.1 and one client of it: `roundTrip()` sends the frame and resolves on its echo. */
async function echoLink(): Promise<{ roundTrip: () => Promise<void>; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  wss.on('connection', (socket) => socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })));
  const { port } = wss.address() as { port: number };
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const frame = 'x'.repeat(ECHO_BYTES);
  let waiting: (() => void) | undefined;
  ws.on('message', (data) => {
    if ((data as Buffer).length !== ECHO_BYTES) fail('the echo answered another frame');
    const w = waiting;
    waiting = undefined;
    w?.();
  });
  return {
    roundTrip: () =>
      new Promise<void>((resolve) => {
        waiting = resolve;
        ws.send(frame);
      }),
    close: async () => {
      ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** The platform's blacklist key stands in for the real one: no config is pushed, the blacklist stays empty. */
function blacklistKey(): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  return toHex(publicKey.export({ format: 'der', type: 'spki' }).subarray(-32));
}

/** Runs the tap benchmark. */
export async function benchTap(): Promise<BenchRow[]> {
  const busy = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'simtap-bench-tap-'));
  const shmDir = existsSync(SHM_ROOT) ? mkdtempSync(join(SHM_ROOT, 'simtap-bench-tap-')) : undefined;
  const secret = toHex(Uint8Array.from({ length: 32 }, (_, i) => i + 1));
  const key = blacklistKey();

  // The application system: stores each record once by seq (in memory), no clearing.
  const storedOf = new Map<string, MachineRecordEntry[]>([
    [MACHINE_ID, []],
    [SHM_ID, []],
  ]);
  let storedAt = 0;
  const hub = new MachineHub({
    machines: [
      { id: MACHINE_ID, secret, kind: 'till' },
      { id: SHM_ID, secret, kind: 'till' },
    ],
    blacklistPublicKey: key,
    storedSeq: (id) => storedOf.get(id)?.at(-1)?.seq ?? 0,
    onRecords: async (id, entries) => {
      const stored = storedOf.get(id)!;
      for (const e of entries) if (e.seq > (stored.at(-1)?.seq ?? 0)) stored.push(e);
      storedAt = nowUs();
    },
    limits: { ratePerSecond: 1_000_000, rateBurst: 1_000_000 },
  });
  const { url } = await hub.listen();

  // The machine: PSAM in its contact slot, the SIM on the contactless reader, the agent's buffer on the disk.
  const psam = createPsam('pos-1', { terminalId: fromHex(TERMINAL_ID) });
  psam.powerOn('contact');
  const tapSims = new SimSlot();
  const aloneSims = new SimSlot();
  let inField: Card = tapSims.sim;
  const machine = new ConsumptionMachine({
    card: new InProcessChannel(
      { transmit: (c) => inField.transmit('contactless', c) },
      { description: `${MACHINE_ID} reader` },
    ),
    psam: new PsamDriver(
      new InProcessChannel({ transmit: (c) => psam.transmit('contact', c) }, { description: `${MACHINE_ID} PSAM` }),
    ),
  });
  await machine.open();
  const startAgent = async (machineId: string, bufferDir: string): Promise<MachineAgent> => {
    const agent = new MachineAgent({
      url,
      machineId,
      secret,
      blacklistPublicKey: key,
      bufferDir,
      reconnect: { initialDelayMs: 50, maxDelayMs: 1000 },
    });
    const connected = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`tap bench: ${machineId} did not connect within 10 s`)), 10_000);
      const off = agent.on('connection', (e) => {
        if (e.state !== 'connected') return;
        clearTimeout(timer);
        off();
        resolve();
      });
    });
    await agent.start();
    await connected;
    return agent;
  };
  const agent = await startAgent(MACHINE_ID, join(dir, MACHINE_ID));
  const shmAgent = shmDir === undefined ? undefined : await startAgent(SHM_ID, join(shmDir, SHM_ID));
  const echo = await echoLink();

  /** The card enters the field: powered afresh on its contactless interface. */
  const present = (sim: Card) => {
    if (sim.isPowered('contactless')) sim.powerOff('contactless');
    sim.powerOn('contactless');
    inField = sim;
  };
  let frameBytes = 0;
  /** The record's modelled tap time: the first timed tap's, and every other tap's must be the same. */
  let modelled: TapTimeEstimate | undefined;
  type Split = { purchase: number[]; record: number[]; stored: number[]; acked: number[] };
  const newSplit = (): Split => ({ purchase: [], record: [], stored: [], acked: [] });
  const split = newSplit();
  const shmSplit = newSplit();

  /** One tap, end to end, recorded through `agent`; answers its time (µs). */
  const tap = async (agent: MachineAgent, timed: Split | undefined): Promise<number> => {
    const stored = storedOf.get(agent.machineId)!;
    const before = stored.length;
    const t0 = nowUs();
    present(tapSims.sim);
    const result = await machine.purchase({ amount: 1 });
    if (result.status !== 'completed') fail(`a tap's purchase is ${result.status}`);
    if (timed) {
      modelled ??= result.tapTime;
      if (result.tapTime.totalUs !== modelled.totalUs) fail('the modelled tap time changed from one tap to another');
    }
    const record = clearingRecord(result);
    const t1 = nowUs();
    await agent.record(record);
    const t2 = nowUs();
    await agent.delivered({ timeoutMs: 10_000 });
    const t3 = nowUs();
    tapSims.used();
    if (stored.length !== before + 1) fail(`the hub holds ${stored.length} records, not ${before + 1}`);
    if (timed) {
      timed.purchase.push(t1 - t0);
      timed.record.push(t2 - t1);
      timed.stored.push(storedAt - t2);
      timed.acked.push(t3 - storedAt);
    } else if (frameBytes === 0)
      frameBytes = JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'machine.records',
        params: { batch: [stored.at(-1)] },
      }).length;
    return t3 - t0;
  };
  /** The same purchase alone: same machine, no agent; answers its time (µs). */
  const purchase = async (): Promise<number> => {
    const t0 = nowUs();
    present(aloneSims.sim);
    const result = await machine.purchase({ amount: 1 });
    const t = nowUs() - t0;
    if (result.status !== 'completed') fail(`a purchase is ${result.status}`);
    aloneSims.used();
    return t;
  };
  const roundTrip = async (): Promise<number> => {
    const t0 = nowUs();
    await echo.roundTrip();
    return nowUs() - t0;
  };

  const samples = { tap: [] as number[], shm: [] as number[], purchase: [] as number[], echo: [] as number[] };
  const series = async (n: number, fn: () => Promise<number>, into?: number[]) => {
    for (let i = 0; i < n; i++) {
      const t = await fn();
      into?.push(t);
    }
  };
  let elapsedTapUs = 0;
  try {
    tapSims.reserve(WARMUP_TAPS);
    await series(WARMUP_TAPS, () => tap(agent, undefined));
    if (shmAgent) {
      tapSims.reserve(WARMUP_TAPS);
      await series(WARMUP_TAPS, () => tap(shmAgent, undefined));
    }
    aloneSims.reserve(WARMUP_PURCHASES);
    await series(WARMUP_PURCHASES, purchase);
    await series(WARMUP_ECHOS, roundTrip);
    for (let r = 0; r < ROUNDS; r++) {
      gc();
      await series(ECHOS, roundTrip, samples.echo);
      aloneSims.reserve(PURCHASES);
      gc();
      await series(PURCHASES, purchase, samples.purchase);
      tapSims.reserve(TAPS);
      gc();
      const t0 = nowUs();
      await series(TAPS, () => tap(agent, split), samples.tap);
      elapsedTapUs += nowUs() - t0;
      if (shmAgent) {
        tapSims.reserve(TAPS);
        gc();
        await series(TAPS, () => tap(shmAgent, shmSplit), samples.shm);
      }
    }
    // Every tap's record reached the hub once, in order, and none is held by the machine.
    const taps = WARMUP_TAPS + ROUNDS * TAPS;
    for (const a of shmAgent ? [agent, shmAgent] : [agent]) {
      const stored = storedOf.get(a.machineId)!;
      if (stored.length !== taps) fail(`the hub stored ${stored.length} records of ${a.machineId} for ${taps} taps`);
      if (stored.some((e, i) => e.seq !== i + 1)) fail(`the hub stored records of ${a.machineId} out of order`);
      if (a.pending !== 0) fail(`${a.machineId} still holds ${a.pending} records`);
    }
  } finally {
    await echo.close();
    await agent.stop();
    await shmAgent?.stop();
    await hub.close();
    psam.powerOff('contact');
    rmSync(dir, { recursive: true, force: true });
    if (shmDir) rmSync(shmDir, { recursive: true, force: true });
  }

  const tapP = percentiles(samples.tap);
  const purchaseP = percentiles(samples.purchase);
  const echoP = percentiles(samples.echo);
  const med = (xs: number[]) => percentiles(xs).p50;
  const us = (n: number) => `${n.toFixed(n < 100 ? 1 : 0)} µs`;
  const x = (a: number, b: number) => `×${(a / b).toFixed(2)}`;
  const echoName = `ws echo ${ECHO_BYTES} B, 127.0.0.1`;
  const tapRow = row(
    GROUP,
    measurement('one tap: purchase → record on disk → hub stored → ack', tapP),
    measurement(echoName, echoP),
    { maxUsPerOp: TARGET_P50_US },
    `${ROUNDS * TAPS} taps one at a time (${WARMUP_TAPS} warm-up taps before), p50 ${us(tapP.p50)} p99 ${us(tapP.p99)}; ` +
      `p50 ${x(tapP.p50, purchaseP.p50)} the in-process purchase alone (${us(purchaseP.p50)}), ` +
      `${x(tapP.p50, echoP.p50)} the ws echo (${us(echoP.p50)}); ` +
      `${Math.round((ROUNDS * TAPS * 1e6) / elapsedTapUs).toLocaleString('en-US')} taps/s one after the other. ` +
      `The record buffer is on the disk (a temp folder in ${tmpdir()}, ${fileSystemOf(tmpdir())}): agent.record() is a write + fdatasync, the ` +
      `acknowledgement kept in memory (the file is compacted, state.json written durably first, every 1,024 acknowledged lines; ` +
      `a crash that forgets an acknowledgement is repaired by the hub's storedSeq at the next hello). ` +
      `Where the time goes (medians): the purchase (card in the field, 6 APDUs, clearingRecord) ${us(med(split.purchase))}, ` +
      `agent.record() durable ${us(med(split.record))}, sent and stored by the hub's onRecords ${us(med(split.stored))}, ` +
      `answered and taken by the agent (agent.delivered() resolved) ${us(med(split.acked))}. ` +
      `machine.records frame of one record: ${frameBytes} B. Hub, agent, machine and echo in one process; the hub stores ` +
      `in memory and does not clear; its rate limit raised for the bench; load average ${busy.toFixed(2)} at the start`,
  );
  const purchaseRow = row(
    GROUP,
    measurement('in-process purchase alone (same machine, no agent)', purchaseP),
    measurement(echoName, echoP),
    undefined,
    `${ROUNDS * PURCHASES} purchases of 1 fen one at a time (card in the field, SELECT, READ BINARY, INITIALIZE, PSAM ` +
      `MAC1, DEBIT, PSAM MAC2) on the tap's machine and PSAM, another SIM of card-1; p50 ${us(purchaseP.p50)} p99 ${us(purchaseP.p99)}`,
  );
  const echoRow = row(
    GROUP,
    measurement(echoName, echoP),
    undefined,
    undefined,
    `${ROUNDS * ECHOS} round trips of a ${ECHO_BYTES}-byte text frame, one at a time, to a ws WebSocketServer in the ` +
      `same process that sends it back; p50 ${us(echoP.p50)} p99 ${us(echoP.p99)}`,
  );
  const rows = [tapRow];
  if (shmDir !== undefined) {
    const shmP = percentiles(samples.shm);
    rows.push(
      row(
        GROUP,
        measurement('the same tap, buffer on tmpfs (not production)', shmP),
        measurement(echoName, echoP),
        undefined,
        `${ROUNDS * TAPS} taps through a second agent of the same machine whose buffer is on ${SHM_ROOT} (tmpfs: the ` +
          `syncs return at once), in the same rounds: the tap without the disk. p50 ${us(shmP.p50)} p99 ${us(shmP.p99)}, ` +
          `${x(shmP.p50, purchaseP.p50)} the purchase alone, ${x(shmP.p50, echoP.p50)} the echo; the disk's share of the ` +
          `tap's p50: ${us(tapP.p50 - shmP.p50)}. Medians: purchase ${us(med(shmSplit.purchase))}, agent.record() ` +
          `${us(med(shmSplit.record))}, sent and stored ${us(med(shmSplit.stored))}, answered and taken ${us(med(shmSplit.acked))}`,
      ),
    );
  }
  return [...rows, purchaseRow, echoRow, ...modelRows(modelled ?? fail('no tap was timed'))];
}

/**
 * The modelled tap time of the bench's purchase as its record carries it (`result.tapTime`, the machine's default
 * model: the same `npm start` prints): the total and its split, ms.
 */
function modelRows(e: TapTimeEstimate): BenchRow[] {
  const ms = (us: number) => us / 1000;
  const p = e.profiles;
  const model = `${p.card ?? 'no card profile'}${p.simLink === undefined ? '' : ` behind ${p.simLink}`} at a ${p.reader ?? 'reader not modelled'}, ${e.link}`;
  const s = e.split;
  return [
    quantityRow(
      MODEL_GROUP,
      'modelled tap time: total (polling included)',
      { value: ms(e.totalUs), unit: 'ms' },
      undefined,
      `the record's tapTime (${model}) of each timed tap, all equal: ${formatTapTime(e)}; without the reader's polling ` +
        `${ms(e.transactionUs).toFixed(1)} ms`,
    ),
    quantityRow(MODEL_GROUP, 'modelled: reader (polling, per command, decision)', {
      value: ms(s.readerUs),
      unit: 'ms',
    }),
    quantityRow(MODEL_GROUP, 'modelled: air (ISO 14443 activation, frames)', { value: ms(s.airUs), unit: 'ms' }),
    quantityRow(MODEL_GROUP, 'modelled: SWP link (SIM ↔ NFC controller)', { value: ms(s.linkUs), unit: 'ms' }),
    quantityRow(MODEL_GROUP, 'modelled: card (power-up, processing)', { value: ms(s.cardUs), unit: 'ms' }),
  ];
}
