import { afterEach, describe, expect, it, vi } from 'vitest';
import { fromHex, toHex } from '../core/bytes';
import { TransportError } from '../core/errors';
import { PcscChannel } from './pcsc';

/** A fake `smartcard` module: readers and cards scripted per test. */
const fake = vi.hoisted(() => {
  interface FakeCard {
    protocol: number;
    atr: Buffer | null;
    transmit: (cmd: Buffer, opts?: { maxRecvLength?: number }) => Promise<Buffer>;
    disconnect: (d?: number) => void;
  }
  const state = {
    readers: [] as Array<{
      name: string;
      state: number;
      atr: Buffer | null;
      connect: (...a: number[]) => Promise<FakeCard>;
    }>,
    contextError: null as Error | null,
    contextsOpen: 0,
    calls: [] as string[],
  };
  class Context {
    constructor() {
      if (state.contextError) throw state.contextError;
      state.contextsOpen++;
    }
    listReaders() {
      return state.readers.slice();
    }
    close() {
      state.contextsOpen--;
    }
  }
  const module = {
    Context,
    SCARD_SHARE_EXCLUSIVE: 1,
    SCARD_SHARE_SHARED: 2,
    SCARD_PROTOCOL_T0: 1,
    SCARD_PROTOCOL_T1: 2,
    SCARD_LEAVE_CARD: 0,
    SCARD_RESET_CARD: 1,
    SCARD_UNPOWER_CARD: 2,
    SCARD_STATE_PRESENT: 0x20,
  };
  return { state, module };
});

vi.mock('smartcard', () => fake.module);

const PRESENT = 0x20;
const ATR = Buffer.from('3B9D958031FE9F006646530510001171DF05900094', 'hex');

/** Adds a reader whose card answers with `answer` (default: echo data + 9000). */
type Answer = (cmd: Buffer, opts?: { maxRecvLength?: number }) => Promise<Buffer>;

function addReader(name: string, present: boolean, answer?: Answer) {
  const card = {
    protocol: 2,
    atr: ATR,
    transmit: vi.fn<Answer>(answer ?? (async (cmd) => Buffer.concat([cmd.subarray(5), Buffer.from([0x90, 0x00])]))),
    disconnect: vi.fn(),
  };
  const reader = {
    name,
    state: present ? PRESENT : 0,
    atr: present ? ATR : null,
    connect: vi.fn(async (share: number, protocols: number) => {
      fake.state.calls.push(`connect ${name} share=${share} protocols=${protocols}`);
      return card;
    }),
  };
  fake.state.readers.push(reader);
  return { reader, card };
}

afterEach(() => {
  expect(fake.state.contextsOpen).toBe(0); // every test closes what it opened
  fake.state.readers = [];
  fake.state.contextError = null;
  fake.state.calls = [];
});

describe('PcscChannel (fake smartcard binding)', () => {
  it('opens the first matching reader holding a card, preferring an exact name', async () => {
    addReader('Virtual PCD 00 00', false);
    addReader('Virtual PCD 00 01', true);
    addReader('Virtual PCD 00 011', true);
    const ch = await PcscChannel.open({ reader: 'Virtual PCD 00 01', timeoutMs: 0 });
    expect(ch.readerName).toBe('Virtual PCD 00 01');
    expect(ch.description).toBe('PC/SC reader "Virtual PCD 00 01"');
    expect(ch.protocol).toBe('T=1');
    expect(toHex(ch.atr)).toBe(ATR.toString('hex').toUpperCase());
    expect(fake.state.calls).toEqual(['connect Virtual PCD 00 01 share=2 protocols=3']);
    await ch.close();
    const any = await PcscChannel.open({ exclusive: true, timeoutMs: 0 });
    expect(any.readerName).toBe('Virtual PCD 00 01');
    expect(fake.state.calls[1]).toBe('connect Virtual PCD 00 01 share=1 protocols=3');
    await any.close();
    const byPattern = await PcscChannel.open({ reader: /011$/, timeoutMs: 0 });
    expect(byPattern.readerName).toBe('Virtual PCD 00 011');
    await byPattern.close();
  });

  it('waits up to timeoutMs for a card to be inserted', async () => {
    const { reader } = addReader('R', false);
    setTimeout(() => Object.assign(reader, { state: PRESENT }), 120);
    const ch = await PcscChannel.open({ reader: 'R', timeoutMs: 2000 });
    expect(ch.readerName).toBe('R');
    await ch.close();
  });

  it('fails with READER_NOT_FOUND naming the readers, or CARD_REMOVED for an empty reader', async () => {
    addReader('Virtual PCD 00 00', false);
    const t0 = Date.now();
    const err = await PcscChannel.open({ reader: 'ACR122', timeoutMs: 100 }).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    expect(err).toBeInstanceOf(TransportError);
    expect(err).toMatchObject({ code: 'READER_NOT_FOUND' });
    expect((err as Error).message).toContain('"Virtual PCD 00 00"');
    await expect(PcscChannel.open({ reader: 'Virtual', timeoutMs: 0 })).rejects.toMatchObject({
      code: 'CARD_REMOVED',
    });
  });

  it('fails with PCSC_UNAVAILABLE when the PC/SC service is down', async () => {
    fake.state.contextError = new Error('PC/SC service not running');
    const err = await PcscChannel.open().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PCSC_UNAVAILABLE' });
    expect((err as Error).message).toMatch(/pcscd running/);
    await expect(PcscChannel.listReaders()).rejects.toMatchObject({ code: 'PCSC_UNAVAILABLE' });
  });

  it('lists readers with card presence and ATR', async () => {
    addReader('A', true);
    addReader('B', false);
    const list = await PcscChannel.listReaders();
    expect(list.map((r) => [r.name, r.cardPresent, r.atr && toHex(r.atr)])).toEqual([
      ['A', true, ATR.toString('hex').toUpperCase()],
      ['B', false, null],
    ]);
  });

  it('transmits as a Buffer with room for a short or an extended response, resolving with a plain Uint8Array', async () => {
    const { card } = addReader('R', true);
    const ch = await PcscChannel.open({ timeoutMs: 0 });
    const r = await ch.transmit(fromHex('00D6000003AABBCC'));
    expect(toHex(r)).toBe('AABBCC9000');
    expect(Object.getPrototypeOf(r)).toBe(Uint8Array.prototype);
    await ch.transmit(fromHex('00D60000000003AABBCC'));
    expect(card.transmit.mock.calls.map((c) => [Buffer.isBuffer(c[0]), c[1]])).toEqual([
      [true, { maxRecvLength: 258 }],
      [true, { maxRecvLength: 65538 }],
    ]);
    await ch.close();
  });

  it.each([
    ['Card was removed', 'CARD_REMOVED'],
    ['Transaction failed', 'CARD_REMOVED'],
    ['No smart card present', 'CARD_REMOVED'],
    ['PC/SC service stopped', 'PCSC_UNAVAILABLE'],
    ['Reader unavailable', 'READER_NOT_FOUND'],
    ['Operation timed out', 'TIMEOUT'],
    ['Sharing violation', 'PCSC_ERROR'],
    ['Card is not connected', 'TRANSPORT_CLOSED'],
  ])('maps the PC/SC failure "%s" to %s', async (message, code) => {
    addReader('R', true, async () => {
      throw new Error(message);
    });
    const ch = await PcscChannel.open({ timeoutMs: 0 });
    const err = await ch.transmit(fromHex('00A4040000')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect(err).toMatchObject({ code });
    expect((err as Error).message).toContain(message);
    await ch.close();
  });

  it('times out a transmit after transmitTimeoutMs', async () => {
    addReader('R', true, () => new Promise<Buffer>(() => {}));
    const ch = await PcscChannel.open({ timeoutMs: 0, transmitTimeoutMs: 50 });
    await expect(ch.transmit(fromHex('00A4040000'))).rejects.toMatchObject({ code: 'TIMEOUT' });
    const closed = ch.close();
    await closed;
  });

  it('runs concurrent transmits one at a time, in order', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const order: string[] = [];
    addReader('R', true, async (cmd) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      order.push(cmd.toString('hex'));
      inFlight--;
      return Buffer.from([0x90, 0x00]);
    });
    const ch = await PcscChannel.open({ timeoutMs: 0 });
    const cmds = ['00a4040001', '00a4040002', '00a4040003'];
    await Promise.all(cmds.map((c) => ch.transmit(fromHex(c))));
    expect(maxInFlight).toBe(1);
    expect(order).toEqual(cmds);
    await ch.close();
  });

  it('close() disconnects with the chosen disposition, once, and later transmits fail with TRANSPORT_CLOSED', async () => {
    const { card } = addReader('R', true);
    const ch = await PcscChannel.open({ timeoutMs: 0, disposition: 'reset' });
    await ch.close();
    await ch.close();
    expect(card.disconnect.mock.calls).toEqual([[1]]);
    await expect(ch.transmit(fromHex('00A4040000'))).rejects.toMatchObject({ code: 'TRANSPORT_CLOSED' });
    expect(card.transmit).not.toHaveBeenCalled();
  });
});
