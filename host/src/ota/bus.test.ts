import { describe, expect, it } from 'vitest';
import { LocalOtaBus, parseBusMessage } from './bus';

describe('OTA bus messages', () => {
  it('reads every kind of message, and nothing else', () => {
    const good = [
      { kind: 'run', cardSerial: '00004401202690000001', origin: 'a' },
      { kind: 'run', cardSerial: '00004401202690000001', origin: 'a', request: 'r' },
      { kind: 'accepted', cardSerial: '00004401202690000001', origin: 'b', request: 'r' },
      {
        kind: 'authenticate',
        cardSerial: '00004401202690000001',
        challenge: '0123456789ABCDEF',
        request: 'r',
        origin: 'a',
      },
      { kind: 'proof', request: 'r', response: '0011223344556677', origin: 'b' },
      { kind: 'proof', request: 'r', origin: 'b' },
      { kind: 'settled', loadId: 'l', status: 'posted', origin: 'b' },
    ];
    for (const m of good) expect(parseBusMessage(JSON.stringify(m))).toEqual(m);
    const bad = [
      'not json',
      'null',
      '[]',
      JSON.stringify({ kind: 'run', cardSerial: 'x' }), // no origin
      JSON.stringify({ kind: 'other', origin: 'a' }),
      JSON.stringify({ kind: 'accepted', cardSerial: 'x', origin: 'a' }), // no request
      JSON.stringify({ kind: 'authenticate', cardSerial: 'x', challenge: 'zz', request: 'r', origin: 'a' }),
      JSON.stringify({ kind: 'proof', request: 'r', response: 'ABC', origin: 'a' }),
      JSON.stringify({ kind: 'settled', loadId: 'l', status: 'maybe', origin: 'a' }),
      JSON.stringify({ kind: 'run', cardSerial: 'x'.repeat(200), origin: 'a' }),
    ];
    for (const t of bad) expect(parseBusMessage(t), t).toBeUndefined();
  });

  it('LocalOtaBus delivers to every subscriber on a later turn, and stops after unsubscribe or close', async () => {
    const bus = new LocalOtaBus();
    const got: string[] = [];
    const off = bus.subscribe((m) => got.push(`1:${m.kind}`));
    bus.subscribe((m) => got.push(`2:${m.kind}`));
    await bus.publish({ kind: 'run', cardSerial: 's', origin: 'o' });
    expect(got).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual(['1:run', '2:run']);
    off();
    await bus.publish({ kind: 'run', cardSerial: 's', origin: 'o' });
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual(['1:run', '2:run', '2:run']);
    await bus.close();
    await bus.publish({ kind: 'run', cardSerial: 's', origin: 'o' });
    await new Promise((r) => setImmediate(r));
    expect(got).toHaveLength(3);
  });
});
