/**
 * PC/SC throughput (issue 3): APDUs per second from a PC/SC client (the SDK's PcscChannel) through pcscd and
 * its vpcd driver to the VpcdBridge and a virtual SIM in a worker thread (`pcsc-card.ts`, which says why), beside
 * the raw in-process round trip of the same card measured in the same run.
 *
 * The loopback route decides the figure: pcscd's vpcd driver sends the 2-byte length and the APDU in two
 * writes with Nagle on, and the bridge's delayed ACK holds the second write back (~40 ms). With `quickack 1` on
 * the local 127.0.0.1 route the bridge ACKs at once. The bench says which route each row used: it reads the route
 * first, measures it as it is, then (as root) measures with the other setting and puts the route back as it found it,
 * printing each change. Without pcscd, the vpcd driver or the `smartcard` module it prints one skip line (a failure
 * under `CI=true`).
 */
import { execFileSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { createSim } from '@simtap/applet-emu/sim';
import { PcscChannel } from '@simtap/sdk/card';
import { hex } from '@simtap/sdk/core/bytes';
import { claimVpcdSlot, startPcscd, type VpcdSlot } from '@simtap/sdk/testing';
import { type BenchRow, type Measurement, measure, row } from './lib';

const SELECT_ISD = hex`00 A4 04 00 08 A0 00 00 01 51 00 00 00 00`;
const GET_CPLC = hex`80 CA 9F 7F 00`;
const IFACE = 'contactless';

/** `ip` arguments that rewrite the 127.0.0.1 local route as the kernel sets it up (+ `quickack 1` to set it). */
const ROUTE = 'route change local 127.0.0.1 dev lo proto kernel scope host src 127.0.0.1 table local'.split(' ');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function setQuickack(on: boolean): void {
  execFileSync('ip', [...ROUTE, ...(on ? ['quickack', '1'] : [])], { stdio: 'pipe' });
}

/** Whether the 127.0.0.1 local route has `quickack 1` now; `undefined` when `ip` cannot tell. */
function quickackNow(): boolean | undefined {
  try {
    const out = execFileSync('ip', ['route', 'show', 'table', 'local', '127.0.0.1'], { stdio: 'pipe' }).toString();
    return /\bquickack 1\b/.test(out);
  } catch {
    return undefined;
  }
}

/** The `ip` command that sets the route to `on`, as printed for the user. */
const routeCommand = (on: boolean): string => `ip ${ROUTE.join(' ')}${on ? ' quickack 1' : ''}`;

/** `count` sequential round trips of `apdu` after `warmup` untimed ones; µs/op is the mean. */
async function measureRoundTrips(
  name: string,
  channel: PcscChannel,
  apdu: Uint8Array,
  count: number,
  warmup: number,
): Promise<Measurement> {
  for (let i = 0; i < warmup; i++) await channel.transmit(apdu);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const r = await channel.transmit(apdu);
    if (r[r.length - 2] !== 0x90) throw new Error(`${name}: card answered ${Buffer.from(r).toString('hex')}`);
  }
  const us = Number(process.hrtime.bigint() - t0) / 1000 / count;
  return { name, usPerOp: us, opsPerSec: 1e6 / us };
}

/** How long one PC/SC step may take before the suite fails instead of hanging the whole run. */
const STALL_MS = 30_000;

/** `p`, or a rejection naming `what` when it has not settled within `ms` (pcscd or the bridge stalled). */
function withDeadline<T>(what: string, p: Promise<T>, ms = STALL_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s (pcscd or vpcd stalled)`)), ms);
  });
  return Promise.race([p, stalled]).finally(() => clearTimeout(timer));
}

/** card-1 in a worker thread ({@link https://nodejs.org/api/worker_threads.html}), plugged into vpcd on demand. */
class CardThread {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  #seq = 0;

  constructor(vpcdPort: number) {
    this.#worker = new Worker(new URL('./pcsc-card.mjs', import.meta.url), { workerData: { port: vpcdPort } });
    this.#worker.on('message', (m: { id: number; error?: string }) => {
      const w = this.#waiting.get(m.id);
      this.#waiting.delete(m.id);
      if (m.error === undefined) w?.resolve();
      else w?.reject(new Error(m.error));
    });
    const fail = (e: Error): void => {
      for (const w of this.#waiting.values()) w.reject(e);
      this.#waiting.clear();
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', (code) => fail(new Error(`the card thread exited (${code})`)));
  }

  #call(op: 'insert' | 'remove'): Promise<void> {
    const id = this.#seq++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#worker.postMessage({ id, op });
    });
  }

  /** Plugs the card into vpcd and waits until pcscd has connected. */
  insert(): Promise<void> {
    return withDeadline('inserting the card into vpcd', this.#call('insert'));
  }

  /** Unplugs it. */
  remove(): Promise<void> {
    return withDeadline('removing the card from vpcd', this.#call('remove'), 5000);
  }

  async stop(): Promise<void> {
    await this.#worker.terminate();
  }
}

/** Waits until pcscd shows the slot's reader without a card (it polls presence every ~400 ms). */
async function waitForRemoval(slot: VpcdSlot): Promise<void> {
  const deadline = Date.now() + 5000;
  while ((await PcscChannel.listReaders()).some((r) => slot.readerPattern.test(r.name) && r.cardPresent)) {
    if (Date.now() > deadline) throw new Error('pcscd did not notice the card removal');
    await sleep(50);
  }
}

/** Inserts the card, measures SELECT and GET DATA through PC/SC, and removes it again. */
async function throughPcsc(
  slot: VpcdSlot,
  card: CardThread,
  route: string,
  count: number,
): Promise<{ select: Measurement; getData: Measurement }> {
  let channel: PcscChannel | undefined;
  try {
    await card.insert();
    channel = await withDeadline(
      'opening the PC/SC channel',
      PcscChannel.open({ reader: slot.readerPattern, timeoutMs: 10_000 }),
    );
    const warmup = Math.min(10, count);
    const select = await withDeadline(
      `SELECT ISD via PC/SC (${route})`,
      measureRoundTrips(`SELECT ISD via PC/SC (${route})`, channel, SELECT_ISD, count, warmup),
    );
    const getData = await withDeadline(
      `GET DATA CPLC via PC/SC (${route})`,
      measureRoundTrips(`GET DATA CPLC via PC/SC (${route})`, channel, GET_CPLC, count, warmup),
    );
    return { select, getData };
  } finally {
    if (channel) await withDeadline('closing the PC/SC channel', channel.close(), 5000).catch(() => undefined);
    await card.remove().catch(() => undefined);
    await waitForRemoval(slot).catch(() => undefined);
  }
}

/** Runs the PC/SC benchmark; an empty array after one skip line when an optional part is missing. */
export async function benchPcsc(): Promise<BenchRow[]> {
  // Throws under CI=true when a part is missing (the runner reports the suite failed).
  const pcscd = await startPcscd({ quiet: true, needs: ['smartcard'], subject: '  PC/SC benchmark' });
  if (pcscd === null) return [];
  const rows: BenchRow[] = [];
  const slot = await claimVpcdSlot();
  const cardThread = new CardThread(slot.port);
  try {
    // Raw: the same card's round trip in-process (what the bridge calls per APDU), here on the main thread.
    const card = createSim({ card: 'card-1' });
    card.powerOn(IFACE);
    const rawSelect = measure('SELECT ISD in-process (Card.transmit)', () => card.transmit(IFACE, SELECT_ISD));
    const rawGetData = measure('GET DATA CPLC in-process (Card.transmit)', () => card.transmit(IFACE, GET_CPLC));
    card.powerOff(IFACE);
    const debug = pcscd.ours ? '' : '; pcscd was already running (maybe with --debug --apdu)';

    const initial = quickackNow();
    const label = (on: boolean) => (on ? 'quickack route' : 'default route');
    const count = (on: boolean) => (on ? 2000 : 50);
    const describeRoute = (on: boolean, changed: boolean) =>
      on
        ? `127.0.0.1 route with quickack 1${changed ? ' (set for this measurement, restored afterwards)' : ' (as found)'}`
        : `loopback route without quickack (kernel default${changed ? ', set for this measurement, restored afterwards' : ''})`;
    const asFound = initial ?? false;
    console.log(
      `  route: 127.0.0.1 ${initial === undefined ? 'unknown (no `ip`); assuming no quickack' : asFound ? 'has quickack 1' : 'has no quickack (kernel default)'}`,
    );
    const first = await throughPcsc(slot, cardThread, label(asFound), count(asFound));
    const firstNote = `${describeRoute(asFound, false)}, ${count(asFound)} APDUs${debug}`;
    const measured = new Map<boolean, { select: Measurement; getData: Measurement; note: string }>();
    measured.set(asFound, { ...first, note: firstNote });

    // The other setting: needs root and `ip`; the route is put back as found, whatever happens.
    const other = !asFound;
    let routeError = '';
    if (initial === undefined) routeError = '`ip` is not available';
    else {
      let changed = false;
      try {
        console.log(`  route: changing it for the next rows: ${routeCommand(other)}`);
        setQuickack(other);
        changed = true;
        const second = await throughPcsc(slot, cardThread, label(other), count(other));
        measured.set(other, { ...second, note: `${describeRoute(other, true)}, ${count(other)} APDUs${debug}` });
      } catch (err) {
        routeError = err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
      } finally {
        if (changed) {
          setQuickack(asFound);
          console.log(`  route: restored: ${routeCommand(asFound)}`);
        }
      }
    }
    for (const on of [false, true]) {
      const m = measured.get(on);
      if (!m) continue;
      rows.push(row('PC/SC (pcscd + vpcd)', m.select, rawSelect, undefined, m.note));
      rows.push(row('PC/SC (pcscd + vpcd)', m.getData, rawGetData, undefined, m.note));
    }
    if (routeError) console.log(`  note: ${label(other)} rows skipped (${routeError})`);
  } finally {
    await cardThread.stop();
    await slot.release();
    await pcscd.stop();
  }
  return rows;
}
