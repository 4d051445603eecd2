import { describe, expect, it } from 'vitest';
import vectors from '../../test/vectors/recorded-apdu-traces.json';
import { fromHex, toHex } from '../core/bytes';
import { ArgumentError, ParseError, TransportError } from '../core/errors';
import { InProcessChannel } from './in-process';
import { commandsMatch, cryptoFieldRange, type RecordedTrace, TracePlayer, TraceRecorder } from './trace';

const traces = (vectors.traces as unknown as Array<Partial<RecordedTrace> & { id: string }>).filter(
  (t): t is RecordedTrace & { id: string } => Array.isArray(t.exchanges),
);
const byId = (id: string): RecordedTrace & { id: string } => traces.find((t) => t.id === id)!;

describe('TracePlayer replaying recorded-apdu-traces.json', () => {
  it('has the traces it is tested with', () => {
    expect(traces.map((t) => t.id)).toEqual(
      expect.arrayContaining([
        'nfcgate-capp-purchase-session-A',
        'nfcgate-capp-purchase-session-B',
        'dpj365-load-real-card',
      ]),
    );
  });

  it.each(traces.map((t) => [t.id, t] as const))('replays %s command by command', async (_, trace) => {
    const player = TracePlayer.fromTrace(trace);
    expect(player.description).toBe(`trace ${trace.id}`);
    for (const [i, x] of trace.exchanges.entries()) {
      expect(player.position).toBe(i);
      const r = await player.transmit(fromHex(x.c));
      expect(toHex(r)).toBe(x.r.toUpperCase());
    }
    expect(player.done).toBe(true);
    expect(player.remaining).toBe(0);
    expect(() => player.assertDone()).not.toThrow();
    await expect(player.transmit(fromHex('00A4040000'))).rejects.toMatchObject({ code: 'TRACE_EXHAUSTED' });
  });

  it('throws TRACE_MISMATCH naming the exchange and the first differing byte, without advancing', async () => {
    const trace = byId('dpj365-load-real-card');
    const player = TracePlayer.fromTrace(trace);
    await player.transmit(fromHex(trace.exchanges[0]!.c));
    const wrong = fromHex(trace.exchanges[1]!.c);
    wrong[4] = wrong[4]! ^ 0x0c; // GET CHALLENGE 4 instead of 8
    const err = await player.transmit(wrong).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect(err).toMatchObject({ code: 'TRACE_MISMATCH' });
    expect((err as Error).message).toMatch(/exchange 1 expected .*first difference at byte 4/);
    expect(player.position).toBe(1);
    expect(() => player.assertDone()).toThrow(expect.objectContaining({ code: 'TRACE_MISMATCH' }));
  });

  it('replays session A with the commands of session B: byte-exact mismatches at 2, 6, 8; only 6 ignoring crypto', async () => {
    const a = byId('nfcgate-capp-purchase-session-A');
    const b = byId('nfcgate-capp-purchase-session-B');
    const run = async (ignoreCryptoFields: boolean): Promise<number[]> => {
      const player = TracePlayer.fromTrace(a, { strict: false, ignoreCryptoFields });
      for (const [i, x] of b.exchanges.entries()) {
        expect(toHex(await player.transmit(fromHex(x.c)))).toBe(a.exchanges[i]!.r.toUpperCase());
      }
      player.assertDone();
      return player.mismatches.map((m) => m.index);
    };
    expect(await run(false)).toEqual([2, 6, 8]);
    expect(await run(true)).toEqual([6]); // UPDATE CAPP DATA CACHE carries record data, not a cryptogram
    const strict = TracePlayer.fromTrace(a, { ignoreCryptoFields: true });
    for (const x of b.exchanges.slice(0, 6)) await strict.transmit(fromHex(x.c));
    await expect(strict.transmit(fromHex(b.exchanges[6]!.c))).rejects.toMatchObject({ code: 'TRACE_MISMATCH' });
  });

  it('keeps comparing headers and lengths when ignoring crypto fields', async () => {
    const a = byId('nfcgate-capp-purchase-session-A');
    const player = new TracePlayer(a.exchanges.slice(2, 3), { ignoreCryptoFields: true });
    await expect(player.transmit(fromHex('0082000108926dbd8fa8bde15f'))).rejects.toMatchObject({
      code: 'TRACE_MISMATCH',
    });
    await expect(player.transmit(fromHex('0082000207926dbd8fa8bde1'))).rejects.toMatchObject({
      code: 'TRACE_MISMATCH',
    });
    expect(toHex(await player.transmit(fromHex('00820002080000000000000000')))).toBe('9000');
  });

  it('uses a custom matcher, rewinds, and fails with TRANSPORT_CLOSED after close', async () => {
    const player = new TracePlayer([{ c: '00A4040000', r: '9000' }], { match: (e, a) => e[1] === a[1] });
    expect(toHex(await player.transmit(fromHex('00A40C0000')))).toBe('9000');
    player.rewind();
    expect(player.position).toBe(0);
    await player.close();
    await expect(player.transmit(fromHex('00A4040000'))).rejects.toMatchObject({ code: 'TRANSPORT_CLOSED' });
  });

  it('rejects a malformed trace up front', () => {
    expect(() => new TracePlayer([{ c: '00A4zz', r: '9000' }])).toThrow(ParseError);
    expect(() => new TracePlayer([{ c: '00A40400', r: '90' }])).toThrow(ArgumentError);
    expect(() => new TracePlayer([{ c: '00A40400' } as unknown as { c: string; r: string }])).toThrow(ArgumentError);
    expect(() => new TracePlayer({} as unknown as [])).toThrow(ArgumentError);
  });
});

describe('cryptoFieldRange', () => {
  it.each([
    ['EXTERNAL AUTHENTICATE', '0082000208926dbd8fa8bde15f', { start: 5, end: 13 }],
    ['GP INITIALIZE UPDATE host challenge', '8050000008010203040506070800', { start: 5, end: 13 }],
    ['PBOC DEBIT FOR PURCHASE', '805401000f000000572018031316432966cbc86308', { start: 5, end: 20 }],
    ['PBOC CREDIT FOR LOAD', '805200000b2018031316432911223344 04', { start: 5, end: 16 }],
    ['GP secure messaging (84)', '84E6020014aabbccddeeff00112233445566778899aabbccdd', { start: 5, end: 25 }],
    ['extended-length EXTERNAL AUTHENTICATE', '00820002000004aabbccdd', { start: 7, end: 11 }],
  ])('masks the data of %s', (_, c, range) => {
    expect(cryptoFieldRange(fromHex(c))).toEqual(range);
  });

  it.each([
    ['PBOC INITIALIZE FOR CAPP PURCHASE', '805003020b01000000c8200041599997'],
    ['SELECT', '00A4040008A000000151000000'],
    ['GET CHALLENGE (no data)', '0084000008'],
    ['UPDATE CAPP DATA CACHE', '80dc013b1001000711c800c75e01007e236c2b7429'],
    ['a malformed Lc', '0082000209926dbd8fa8bde15f'],
  ])('leaves %s alone', (_, c) => {
    expect(cryptoFieldRange(fromHex(c))).toBeNull();
  });

  it('commandsMatch is byte-exact unless told otherwise', () => {
    const x = fromHex('0082000208926dbd8fa8bde15f');
    const y = fromHex('00820002083565ae1403884fa1');
    expect(commandsMatch(x, x)).toBe(true);
    expect(commandsMatch(x, y)).toBe(false);
    expect(commandsMatch(x, y, true)).toBe(true);
    expect(commandsMatch(x, y.subarray(0, 12), true)).toBe(false);
  });
});

describe('TraceRecorder', () => {
  it('records exchanges that a TracePlayer then replays', async () => {
    const card = {
      transmit: (c: Uint8Array): Uint8Array => (c[1] === 0xa4 ? fromHex('9000') : fromHex('0102039000')),
    };
    const seen: string[] = [];
    const rec = new TraceRecorder(new InProcessChannel(card), { onExchange: (x) => seen.push(x.c) });
    expect(rec.description).toBe('recording in-process card');
    await rec.transmit(fromHex('00A4040000'));
    await rec.transmit(fromHex('00B0000003'));
    expect(rec.exchanges).toEqual([
      { c: '00A4040000', r: '9000' },
      { c: '00B0000003', r: '0102039000' },
    ]);
    expect(seen).toEqual(['00A4040000', '00B0000003']);
    const trace = rec.toTrace('recorded');
    expect(trace.id).toBe('recorded');
    const player = TracePlayer.fromTrace(JSON.parse(JSON.stringify(trace)) as RecordedTrace);
    expect(toHex(await player.transmit(fromHex('00a4040000')))).toBe('9000');
    expect(toHex(await player.transmit(fromHex('00B0000003')))).toBe('0102039000');
    player.assertDone();
  });

  it('does not record failed exchanges and closes the wrapped channel', async () => {
    const inner = new InProcessChannel({
      transmit: () => {
        throw Object.assign(new Error('pulled'), { code: 'CARD_REMOVED' });
      },
    });
    const rec = new TraceRecorder(inner);
    await expect(rec.transmit(fromHex('00A4040000'))).rejects.toMatchObject({ code: 'CARD_REMOVED' });
    expect(rec.exchanges).toEqual([]);
    await rec.close();
    await expect(inner.transmit(fromHex('00A4040000'))).rejects.toMatchObject({ code: 'TRANSPORT_CLOSED' });
  });
});
