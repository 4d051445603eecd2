/**
 * PC/SC throughput (issue 3): APDUs per second from a PC/SC client (the SDK's PcscChannel) through pcscd and
 * its vpcd driver to the VpcdBridge and an in-process virtual SIM, beside the raw in-process round trip of the
 * same card measured in the same run.
 *
 * The loopback route decides the figure: pcscd's vpcd driver sends the 2-byte length and the APDU in two
 * writes with Nagle on, and the bridge's delayed ACK holds the second write back (~40 ms). With `quickack 1` on
 * the local 127.0.0.1 route the bridge ACKs at once. The quickack rows set that route for the measurement and
 * always restore it afterwards (needs root; skipped with a note otherwise).
 */
import { execFileSync } from 'node:child_process';
import { PcscChannel } from '@simtap/sdk/card';
import { hex } from '@simtap/sdk/core/bytes';
import { VpcdBridge, type VpcdLogger } from '../applet-emu/src/bridges/vpcd';
import { CardPort } from '../applet-emu/src/cli/card-port';
import { createSim } from '../applet-emu/src/sim';
import { claimVpcdSlot, startPcscd, type VpcdSlot } from '../sdk/test/pcscd';
import { type BenchRow, type Measurement, measure, row } from './lib';

const SELECT_ISD = hex`00 A4 04 00 08 A0 00 00 01 51 00 00 00 00`;
const GET_CPLC = hex`80 CA 9F 7F 00`;
const IFACE = 'contactless';

/** `ip` arguments that rewrite the 127.0.0.1 local route as the kernel sets it up (+ `quickack 1` to set it). */
const ROUTE = 'route change local 127.0.0.1 dev lo proto kernel scope host src 127.0.0.1 table local'.split(' ');

const quiet: VpcdLogger = { info: () => {}, warn: () => {} };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function setQuickack(on: boolean): void {
  execFileSync('ip', [...ROUTE, ...(on ? ['quickack', '1'] : [])], { stdio: 'pipe' });
}

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

/** Waits until pcscd shows the slot's reader without a card (it polls presence every ~400 ms). */
async function waitForRemoval(slot: VpcdSlot): Promise<void> {
  const deadline = Date.now() + 5000;
  while ((await PcscChannel.listReaders()).some((r) => slot.readerPattern.test(r.name) && r.cardPresent)) {
    if (Date.now() > deadline) throw new Error('pcscd did not notice the card removal');
    await sleep(50);
  }
}

/** Inserts a fresh bridge for `card`, measures SELECT and GET DATA through PC/SC, and removes it again. */
async function throughPcsc(
  slot: VpcdSlot,
  port: CardPort,
  route: string,
  count: number,
): Promise<{ select: Measurement; getData: Measurement }> {
  const bridge = new VpcdBridge(port, { port: slot.port, logger: quiet }).start();
  let channel: PcscChannel | undefined;
  try {
    await bridge.waitUntilConnected(10_000);
    channel = await PcscChannel.open({ reader: slot.readerPattern, timeoutMs: 10_000 });
    const warmup = Math.min(10, count);
    const select = await measureRoundTrips(`SELECT ISD via PC/SC (${route})`, channel, SELECT_ISD, count, warmup);
    const getData = await measureRoundTrips(`GET DATA CPLC via PC/SC (${route})`, channel, GET_CPLC, count, warmup);
    return { select, getData };
  } finally {
    await channel?.close();
    await bridge.close();
    await waitForRemoval(slot).catch(() => undefined);
  }
}

/** Runs the PC/SC benchmark; an empty array (and a printed note) when pcscd with vpcd is not available. */
export async function benchPcsc(): Promise<BenchRow[]> {
  let pcscd: Awaited<ReturnType<typeof startPcscd>>;
  try {
    pcscd = await startPcscd({ quiet: true });
  } catch (err) {
    console.log(`  note: PC/SC benchmark skipped (${err instanceof Error ? err.message : String(err)})`);
    return [];
  }
  if (pcscd === null) {
    console.log('  note: PC/SC benchmark skipped: pcscd with the vpcd driver is not available');
    return [];
  }
  const rows: BenchRow[] = [];
  const slot = await claimVpcdSlot();
  try {
    const card = createSim({ card: 'card-1' });
    const port = new CardPort(card, IFACE);
    // Raw: the same card's round trip in-process (what the bridge calls per APDU).
    card.powerOn(IFACE);
    const rawSelect = measure('SELECT ISD in-process (Card.transmit)', () => card.transmit(IFACE, SELECT_ISD));
    const rawGetData = measure('GET DATA CPLC in-process (Card.transmit)', () => card.transmit(IFACE, GET_CPLC));
    card.powerOff(IFACE);
    const debug = pcscd.ours ? '' : '; pcscd was already running (maybe with --debug --apdu)';

    const plain = await throughPcsc(slot, port, 'default route', 50);
    const note = `loopback route without quickack (kernel default), 50 APDUs${debug}`;
    rows.push(row('PC/SC (pcscd + vpcd)', plain.select, rawSelect, undefined, note));
    rows.push(row('PC/SC (pcscd + vpcd)', plain.getData, rawGetData, undefined, note));

    let quick: { select: Measurement; getData: Measurement } | undefined;
    let routeError = '';
    try {
      setQuickack(true);
      quick = await throughPcsc(slot, port, 'quickack route', 2000);
    } catch (err) {
      routeError = err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
    } finally {
      try {
        setQuickack(false);
      } catch {
        // setting it failed too (not root): nothing to restore
      }
    }
    if (quick) {
      const qnote = `127.0.0.1 route with quickack 1 (restored afterwards), 2000 APDUs${debug}`;
      rows.push(row('PC/SC (pcscd + vpcd)', quick.select, rawSelect, undefined, qnote));
      rows.push(row('PC/SC (pcscd + vpcd)', quick.getData, rawGetData, undefined, qnote));
    } else console.log(`  note: quickack rows skipped (${routeError})`);
  } finally {
    await slot.release();
    await pcscd.stop();
  }
  return rows;
}
