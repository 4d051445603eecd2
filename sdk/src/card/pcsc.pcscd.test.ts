// PcscChannel through a real pcscd, with the applet-emu vpcd bridge presenting a scripted card.

import { type VirtualCardPort, VpcdBridge, type VpcdLogger } from '@simtap/applet-emu/bridges/vpcd';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../core/bytes';
import { claimVpcdSlot, startPcscd, VPCD_HOOK_TIMEOUT_MS, type VpcdSlot } from '../testing';
import { PcscChannel } from './pcsc';
import { TracePlayer, TraceRecorder } from './trace';

const ATR = fromHex('3B 9D 95 80 31 FE 9F 00 66 46 53 05 10 00 11 71 DF 05 90 00 94');
const SELECT_PURSE = fromHex('00A4040008A000000151000000');

/** SELECT → FCI-ish answer + 9000; anything else echoes its data + 9000. */
const card: VirtualCardPort = {
  atr: () => ATR,
  powerOn: () => {},
  powerOff: () => {},
  reset: () => {},
  transmit: (c) => {
    if (c[1] === 0xa4) return fromHex('6F0A8408A0000001510000009000');
    const out = new Uint8Array(Math.max(0, c.length - 5) + 2);
    out.set(c.subarray(5));
    out.set([0x90, 0x00], out.length - 2);
    return out;
  },
};

const quiet: VpcdLogger = { info: () => {}, warn: () => {} };
const pcscd = await startPcscd({ subject: 'PcscChannel through real pcscd', needs: ['smartcard'] });

describe.skipIf(pcscd === null)('PcscChannel through real pcscd and the vpcd bridge', () => {
  let slot: VpcdSlot;
  let bridge: VpcdBridge;
  let channel: PcscChannel;

  beforeAll(async () => {
    slot = await claimVpcdSlot();
    bridge = new VpcdBridge(card, { port: slot.port, logger: quiet }).start();
    await bridge.waitUntilConnected(10_000);
    channel = await PcscChannel.open({ reader: slot.readerPattern, timeoutMs: 10_000 });
  }, VPCD_HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await channel?.close();
    await bridge?.close();
    await slot?.release();
    await pcscd?.stop();
  });

  it('opens the virtual reader with the card ATR over T=1', async () => {
    expect(channel.readerName).toMatch(slot.readerPattern);
    expect(toHex(channel.atr)).toBe(toHex(ATR));
    expect(channel.protocol).toBe('T=1');
    const listed = (await PcscChannel.listReaders()).find((r) => r.name === channel.readerName);
    expect(listed?.cardPresent).toBe(true);
  });

  it('transmits SELECT through PC/SC and gets the scripted answer', async () => {
    expect(toHex(await channel.transmit(SELECT_PURSE))).toBe('6F0A8408A0000001510000009000');
    const data = new Uint8Array(200).map((_, i) => i);
    const echo = await channel.transmit(Uint8Array.of(0x80, 0xe2, 0x00, 0x00, 200, ...data));
    expect(toHex(echo)).toBe(`${toHex(data)}9000`);
  });

  it('records through PC/SC and replays the recording', async () => {
    const rec = new TraceRecorder(channel);
    await rec.transmit(SELECT_PURSE);
    await rec.transmit(fromHex('80CA00000401020304'));
    const player = TracePlayer.fromTrace(rec.toTrace('pcsc'));
    expect(toHex(await player.transmit(SELECT_PURSE))).toBe('6F0A8408A0000001510000009000');
    expect(toHex(await player.transmit(fromHex('80CA00000401020304')))).toBe('010203049000');
    player.assertDone();
  });

  it('reports a removed card as CARD_REMOVED, and a re-inserted card opens again', async () => {
    bridge.remove();
    await expect(channel.transmit(SELECT_PURSE)).rejects.toMatchObject({ code: 'CARD_REMOVED' });
    await channel.close();
    await expect(channel.transmit(SELECT_PURSE)).rejects.toMatchObject({ code: 'TRANSPORT_CLOSED' });
    // pcscd notices the removal at its next presence poll (~400 ms); a person re-inserts later than that.
    const deadline = Date.now() + 5000;
    while ((await PcscChannel.listReaders()).find((r) => r.name === channel.readerName)?.cardPresent) {
      if (Date.now() > deadline) throw new Error('pcscd did not notice the removal');
      await new Promise((r) => setTimeout(r, 50));
    }
    bridge.insert();
    await bridge.waitUntilConnected(10_000);
    channel = await PcscChannel.open({ reader: slot.readerPattern, timeoutMs: 10_000 });
    expect(toHex(await channel.transmit(SELECT_PURSE))).toMatch(/9000$/);
  });

  it('fails with READER_NOT_FOUND for an unknown reader', async () => {
    await expect(PcscChannel.open({ reader: 'No Such Reader', timeoutMs: 0 })).rejects.toMatchObject({
      code: 'READER_NOT_FOUND',
    });
  });
});
