import { execFile } from 'node:child_process';
import net from 'node:net';
import { promisify } from 'node:util';
import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import { claimVpcdSlot, startPcscd, VPCD_HOOK_TIMEOUT_MS, type VpcdSlot } from '@simtap/sdk/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { formatVpcdTrace, type VirtualCardPort, type VpcdApduEvent, VpcdBridge, type VpcdLogger } from './index';

const run = promisify(execFile);

/** ATR of the reference profile. */
const ATR = fromHex('3B 9D 95 80 31 FE 9F 00 66 46 53 05 10 00 11 71 DF 05 90 00 94');
const SELECT_PURSE = fromHex('00A4040008A000000151000000');

/** Scripted card: SELECT → 9000, `00 EE` throws, anything else echoes its body followed by 9000. */
class ScriptedCard implements VirtualCardPort {
  readonly calls: string[] = [];
  atr(): Uint8Array {
    return ATR;
  }
  powerOn(): void {
    this.calls.push('powerOn');
  }
  powerOff(): void {
    this.calls.push('powerOff');
  }
  reset(): void {
    this.calls.push('reset');
  }
  transmit(capdu: Uint8Array): Uint8Array {
    this.calls.push(`apdu ${toHex(capdu)}`);
    if (capdu[1] === 0xa4) return fromHex('9000');
    if (capdu[1] === 0xee) throw new Error('boom');
    const out = new Uint8Array(capdu.length + 2);
    out.set(capdu);
    out.set([0x90, 0x00], capdu.length);
    return out;
  }
}

function collectingLogger(): VpcdLogger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`) };
}

const frame = (payload: Uint8Array): Buffer => {
  const b = Buffer.alloc(2 + payload.length);
  b.writeUInt16BE(payload.length, 0);
  b.set(payload, 2);
  return b;
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

/** A fake pcscd vpcd listener: accepts the bridge, sends frames and reads framed replies. */
class FakeVpcd {
  server: net.Server;
  peer: net.Socket | null = null;
  connections = 0;
  chunks: Buffer[] = [];
  private rx = Buffer.alloc(0);

  private constructor(server: net.Server) {
    this.server = server;
  }

  static async listen(port = 0): Promise<FakeVpcd> {
    let fake: FakeVpcd | undefined;
    const server = net.createServer((sock) => fake!.accept(sock));
    fake = new FakeVpcd(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return fake;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  private accept(sock: net.Socket): void {
    this.connections++;
    this.peer = sock;
    this.rx = Buffer.alloc(0);
    sock.on('data', (c: Buffer) => {
      this.chunks.push(c);
      this.rx = Buffer.concat([this.rx, c]);
    });
    sock.on('error', () => {});
  }

  async waitPeer(count = 1): Promise<net.Socket> {
    await until(() => this.connections >= count && this.peer !== null);
    return this.peer!;
  }

  send(bytes: Uint8Array): void {
    this.peer!.write(bytes);
  }

  /** Next framed reply from the bridge. */
  async readFrame(timeoutMs = 2000): Promise<Uint8Array> {
    await until(() => this.rx.length >= 2 && this.rx.length >= 2 + this.rx.readUInt16BE(0), timeoutMs);
    const len = this.rx.readUInt16BE(0);
    const payload = new Uint8Array(this.rx.subarray(2, 2 + len));
    this.rx = this.rx.subarray(2 + len);
    return payload;
  }

  get pending(): number {
    return this.rx.length;
  }

  async close(): Promise<void> {
    this.peer?.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('VpcdBridge against a fake vpcd', () => {
  let fake: FakeVpcd;
  let bridge: VpcdBridge | undefined;
  let card: ScriptedCard;
  let logger: ReturnType<typeof collectingLogger>;

  const connect = async (): Promise<VpcdBridge> => {
    fake = await FakeVpcd.listen();
    card = new ScriptedCard();
    logger = collectingLogger();
    bridge = new VpcdBridge(card, {
      port: fake.port,
      logger,
      backoff: { initialDelayMs: 20, maxDelayMs: 80 },
      minRemovedMs: 150,
    });
    bridge.start();
    await bridge.waitUntilConnected();
    await fake.waitPeer();
    return bridge;
  };

  afterEach(async () => {
    await bridge?.close();
    bridge = undefined;
    await fake?.close();
  });

  it('answers GET ATR with length and ATR, and runs power control without replying', async () => {
    await connect();
    fake.send(frame(Uint8Array.of(0x01)));
    fake.send(frame(Uint8Array.of(0x04)));
    expect(toHex(await fake.readFrame())).toBe(toHex(ATR));
    fake.send(frame(Uint8Array.of(0x02)));
    fake.send(frame(Uint8Array.of(0x00)));
    fake.send(frame(Uint8Array.of(0x04)));
    expect(toHex(await fake.readFrame())).toBe(toHex(ATR));
    expect(card.calls).toEqual(['powerOn', 'reset', 'powerOff']);
    expect(fake.pending).toBe(0);
  });

  it('answers a C-APDU with length and R-APDU, written as one frame in one chunk', async () => {
    await connect();
    fake.chunks = [];
    fake.send(frame(SELECT_PURSE));
    expect(toHex(await fake.readFrame())).toBe('9000');
    expect(fake.chunks.map((c) => c.toString('hex'))).toEqual(['00029000']);
    fake.send(frame(fromHex('80CA00000102')));
    expect(toHex(await fake.readFrame())).toBe('80CA000001029000');
  });

  it('reassembles a frame split byte by byte across TCP segments', async () => {
    await connect();
    const bytes = frame(fromHex('0001020304050607'));
    for (const b of bytes) {
      fake.send(Uint8Array.of(b));
      await sleep(2);
    }
    expect(toHex(await fake.readFrame())).toBe('00010203040506079000');
    expect(card.calls).toEqual(['apdu 0001020304050607']);
  });

  it('handles several frames in one segment, with the last one cut in half', async () => {
    await connect();
    const all = Buffer.concat([
      frame(Uint8Array.of(0x04)),
      frame(fromHex('00B0000002')),
      frame(Uint8Array.of(0x01)),
      frame(fromHex('11223344')),
      frame(fromHex('00A4040000')),
    ]);
    fake.send(all.subarray(0, all.length - 3));
    expect(toHex(await fake.readFrame())).toBe(toHex(ATR));
    expect(toHex(await fake.readFrame())).toBe('00B00000029000');
    expect(toHex(await fake.readFrame())).toBe('112233449000');
    await sleep(20);
    expect(fake.pending).toBe(0);
    fake.send(all.subarray(all.length - 3));
    expect(toHex(await fake.readFrame())).toBe('9000');
    expect(card.calls).toEqual(['apdu 00B0000002', 'powerOn', 'apdu 11223344', 'apdu 00A4040000']);
  });

  it('carries a frame longer than one receive buffer (extended APDU)', async () => {
    await connect();
    const big = new Uint8Array(4000).map((_, i) => i & 0xff);
    big.set([0x00, 0xd6, 0x00, 0x00, 0x00, 0x0f, 0x9b]);
    fake.send(frame(big));
    const r = await fake.readFrame();
    expect(r.length).toBe(4002);
    expect(toHex(r.subarray(0, 4000))).toBe(toHex(big));
  });

  it('answers 6F00 when the card throws, logs it and keeps going', async () => {
    await connect();
    const events: VpcdApduEvent[] = [];
    bridge!.on('apdu', (e) => events.push(e));
    fake.send(frame(fromHex('00EE0000')));
    expect(toHex(await fake.readFrame())).toBe('6F00');
    fake.send(frame(SELECT_PURSE));
    expect(toHex(await fake.readFrame())).toBe('9000');
    expect(logger.lines.some((l) => l.startsWith('warn card threw on 00EE0000'))).toBe(true);
    expect(events).toHaveLength(2);
    expect(events[0]!.error).toBeInstanceOf(Error);
    expect(formatVpcdTrace(events[0]!)).toMatch(/^00EE0000 => 6F00 {2}\(\d+\.\d\d ms\) {2}!! Error: boom$/);
    expect(formatVpcdTrace(events[1]!)).toMatch(/^00A4040008A000000151000000 => 9000 {2}\(\d+\.\d\d ms\)$/);
  });

  it('answers 6F00 when the card returns something shorter than a status word', async () => {
    await connect();
    (card as { transmit: (c: Uint8Array) => Uint8Array }).transmit = () => new Uint8Array(1);
    fake.send(frame(SELECT_PURSE));
    expect(toHex(await fake.readFrame())).toBe('6F00');
  });

  it('reconnects with backoff after the server restarts, logging state changes only', async () => {
    await connect();
    const port = fake.port;
    fake.send(frame(Uint8Array.of(0x01)));
    await until(() => card.calls.includes('powerOn'));
    const events: string[] = [];
    bridge!.on('connected', () => events.push('connected'));
    bridge!.on('disconnected', (r) => events.push(`disconnected ${r}`));
    await fake.close();
    await until(() => bridge!.state === 'retrying');
    expect(card.calls).toEqual(['powerOn', 'powerOff']);
    await sleep(400); // several refused attempts while the server is down
    fake = await FakeVpcd.listen(port);
    await bridge!.waitUntilConnected();
    await fake.waitPeer();
    fake.send(frame(SELECT_PURSE));
    expect(toHex(await fake.readFrame())).toBe('9000');
    expect(events).toEqual(['disconnected closed by peer', 'connected']);
    const warnings = logger.lines.filter((l) => l.startsWith('warn'));
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/disconnected from vpcd/);
    expect(warnings[1]).toMatch(/not reachable \(.*ECONNREFUSED/);
    expect(logger.lines.filter((l) => l.includes('connected to vpcd'))).toHaveLength(2);
  });

  it('waits for vpcd to appear when started before pcscd', async () => {
    fake = await FakeVpcd.listen();
    const port = fake.port;
    await fake.close();
    card = new ScriptedCard();
    logger = collectingLogger();
    bridge = new VpcdBridge(card, { port, logger, backoff: { initialDelayMs: 10, maxDelayMs: 40 } }).start();
    await until(() => bridge!.state === 'retrying');
    await sleep(200); // several retry rounds: still one log line, not one per attempt
    expect(['retrying', 'connecting']).toContain(bridge.state);
    expect(logger.lines).toHaveLength(1);
    fake = await FakeVpcd.listen(port);
    await bridge.waitUntilConnected();
    expect(logger.lines).toHaveLength(2);
  });

  it('remove() closes the socket and stays out until insert()', async () => {
    await connect();
    const peer = fake.peer!;
    const peerClosed = new Promise<void>((resolve) => peer.once('close', () => resolve()));
    fake.send(frame(Uint8Array.of(0x01)));
    await until(() => card.calls.includes('powerOn'));
    const removedAt = Date.now();
    bridge!.remove();
    await peerClosed;
    expect(bridge!.state).toBe('removed');
    expect(card.calls).toEqual(['powerOn', 'powerOff']);
    bridge!.insert(); // too soon for pcscd to have seen the removal: held back until minRemovedMs
    await sleep(50);
    expect(fake.connections).toBe(1);
    await bridge!.waitUntilConnected();
    expect(Date.now() - removedAt).toBeGreaterThanOrEqual(145);
    await fake.waitPeer(2);
    expect(fake.connections).toBe(2);
    fake.send(frame(Uint8Array.of(0x04)));
    expect(toHex(await fake.readFrame())).toBe(toHex(ATR));
  });

  it('remove() cancels a pending insert()', async () => {
    await connect();
    bridge!.remove();
    bridge!.insert();
    bridge!.remove();
    await sleep(250);
    expect(bridge!.state).toBe('removed');
    expect(fake.connections).toBe(1);
  });

  it('close() shuts down for good and rejects waiters', async () => {
    await connect();
    await bridge!.close();
    expect(bridge!.state).toBe('closed');
    await sleep(100);
    expect(fake.connections).toBe(1);
    await expect(bridge!.waitUntilConnected(100)).rejects.toMatchObject({ code: 'TRANSPORT_CLOSED' });
  });

  it('waitUntilConnected times out with TIMEOUT', async () => {
    fake = await FakeVpcd.listen();
    const port = fake.port;
    await fake.close();
    logger = collectingLogger();
    bridge = new VpcdBridge(new ScriptedCard(), { port, logger }).start();
    await expect(bridge.waitUntilConnected(50)).rejects.toMatchObject({ code: 'TIMEOUT' });
  });
});

const pcscd = await startPcscd();

describe.skipIf(pcscd === null)('VpcdBridge through real pcscd', () => {
  let slot: VpcdSlot;
  let bridge: VpcdBridge;
  let readerName = '';
  const card = new ScriptedCard();

  beforeAll(async () => {
    slot = await claimVpcdSlot();
    bridge = new VpcdBridge(card, { port: slot.port, logger: collectingLogger() }).start();
    await bridge.waitUntilConnected(10_000);
  }, VPCD_HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await bridge?.close();
    await slot?.release();
    await pcscd?.stop();
  });

  it('is listed by opensc-tool -l with a card present', async () => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { stdout } = await run('opensc-tool', ['-l']);
      const line = stdout.split('\n').find((l) => slot.readerPattern.test(l.replace(/^\d+\s+\w+\s+/, '').trim()));
      if (line && /^\d+\s+Yes\s/.test(line)) {
        readerName = line.replace(/^\d+\s+\w+\s+/, '').trim();
        break;
      }
      if (Date.now() > deadline) throw new Error(`reader not listed with a card:\n${stdout}`);
      await sleep(200);
    }
    expect(readerName).toMatch(slot.readerPattern);
  });

  it('answers SELECT sent by opensc-tool through pcscd', async () => {
    expect(readerName).not.toBe('');
    const trace: string[] = [];
    const onApdu = (e: VpcdApduEvent): void => void trace.push(formatVpcdTrace(e));
    bridge.on('apdu', onApdu);
    const { stdout } = await run('opensc-tool', ['-r', readerName, '-s', toHex(SELECT_PURSE)]);
    bridge.off('apdu', onApdu);
    expect(stdout).toContain('Received (SW1=0x90, SW2=0x00)');
    expect(trace.some((l) => l.startsWith(`${toHex(SELECT_PURSE)} => 9000`))).toBe(true);
    expect(card.calls).toContain('powerOn');
    expect(pcscd!.ours ? pcscd!.log : 'not ours').not.toBe('');
  });
});
