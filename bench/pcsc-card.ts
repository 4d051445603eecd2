/**
 * The virtual SIM of the PC/SC benchmark, in a worker thread of its own (as `simtap-card` runs it in a process of
 * its own): card-1 of the reference profile behind a VpcdBridge to pcscd's vpcd port (`workerData.port`).
 *
 * Why a thread: the PC/SC client's calls that establish a context and list readers are synchronous and wait for
 * pcscd, and pcscd may at that moment be waiting for the card to answer its presence poll; with the card on the
 * client's thread the two wait for each other for ever.
 *
 * Messages: `{ id, op: 'insert' }` starts a bridge and answers `{ id }` once pcscd has connected; `{ id, op:
 * 'remove' }` closes it and answers `{ id }`; a failure answers `{ id, error }`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { VpcdBridge, type VpcdLogger } from '@simtap/applet-emu/bridges/vpcd';
import { createSim } from '@simtap/applet-emu/sim';
import { CardPort } from '@simtap/applet-emu/testing';

const quiet: VpcdLogger = { info: () => {}, warn: () => {} };
const { port } = workerData as { port: number };
const card = new CardPort(createSim({ card: 'card-1' }), 'contactless');
let bridge: VpcdBridge | undefined;

parentPort?.on('message', async (m: { id: number; op: 'insert' | 'remove' }) => {
  try {
    if (m.op === 'insert') {
      bridge = new VpcdBridge(card, { port, logger: quiet }).start();
      await bridge.waitUntilConnected(10_000);
    } else {
      await bridge?.close();
      bridge = undefined;
    }
    parentPort?.postMessage({ id: m.id });
  } catch (err) {
    parentPort?.postMessage({ id: m.id, error: err instanceof Error ? err.message : String(err) });
  }
});
