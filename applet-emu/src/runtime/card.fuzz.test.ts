import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CardInterface } from './applet';
import { Card, isValidSw } from './card';
import { DirectoryDdf } from './directory';
import { SampleApplet } from './sample-applet';

const b = (h: string): number[] => Array.from(fromHex(h));
const DATA_POOL = [
  b(SampleApplet.DEFAULT_AID_HEX),
  b('F0 53 49 4D'),
  Array.from(new TextEncoder().encode(DirectoryDdf.PPSE)),
  b('31 32 33 34'),
  b('00 00 00 01'),
  b('5F 00'),
  b('2F E2'),
  b('5F 00 00 02'),
  b('01 02 03 04 05 06 07 08'),
];

const byte = fc.integer({ min: 0, max: 255 });
const cla = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(0x00, 0x80) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      0x01,
      0x02,
      0x03,
      0x04,
      0x0c,
      0x10,
      0x40,
      0x41,
      0x4f,
      0x60,
      0x81,
      0x84,
      0xc0,
      0xe0,
      0xa0,
      0xff,
    ),
  },
  { weight: 1, arbitrary: byte },
);
const ins = fc.oneof(
  fc.constantFrom(0xa4, 0x70, 0xb0, 0xb2, 0xd6, 0xdc, 0xe2, 0xca, 0x32, 0xee, 0xef, 0xec, 0x20, 0xc0),
  byte,
);
const p1 = fc.oneof(fc.constantFrom(0x00, 0x01, 0x02, 0x03, 0x04, 0x08, 0x09, 0x80, 0x81, 0x82, 0x84), byte);
const p2 = fc.oneof(fc.constantFrom(0x00, 0x02, 0x04, 0x0c, 0x14, 0x1c, 0x0a, 0x01, 0x80), byte);
const data = fc.oneof(fc.constantFrom(...DATA_POOL), fc.array(byte, { minLength: 1, maxLength: 24 }));
const body: fc.Arbitrary<number[]> = fc.oneof(
  fc.constant<number[]>([]),
  byte.map((le) => [le]),
  fc
    .tuple(data, fc.option(byte, { nil: undefined }))
    .map(([d, le]) => [d.length, ...d, ...(le === undefined ? [] : [le])]),
  fc
    .tuple(fc.array(byte, { minLength: 1, maxLength: 300 }), fc.boolean())
    .map(([d, le]) => [0, d.length >> 8, d.length & 0xff, ...d, ...(le ? [0, 0] : [])]),
  fc.array(byte, { maxLength: 300 }), // inconsistent lengths
);
const apdu = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(cla, ins, p1, p2, body).map(([c, i, x, y, rest]) => [c, i, x, y, ...rest]) },
  { weight: 1, arbitrary: fc.array(byte, { maxLength: 8 }) }, // truncated
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      b(`00 A4 04 00 08 ${SampleApplet.DEFAULT_AID_HEX} 00`),
      b('00 70 00 00 01'),
      b('80 32 00 00 04 00 00 00 01'),
      b('00 20 00 00 04 31 32 33 34'),
    ),
  },
);
const step = fc.tuple(fc.constantFrom<CardInterface>('contact', 'contactless'), apdu);

function makeCard(t0: boolean): { card: Card; logged: { n: number } } {
  const logged = { n: 0 };
  const card = new Card({
    t0,
    logger: {
      error: () => {
        logged.n++;
      },
    },
    random: (n) => new Uint8Array(n).fill(0x5a),
  });
  card.registry.install(new SampleApplet(), { default: ['contact'] });
  const ppse = new DirectoryDdf(DirectoryDdf.PPSE);
  card.registry.install(ppse, { default: ['contactless'] });
  ppse.addEntry(card, { aid: fromHex(SampleApplet.DEFAULT_AID_HEX), label: 'SAMPLE', priority: 1 });
  card.powerOn('contact');
  card.powerOn('contactless');
  return { card, logged };
}

function digest(card: Card): string {
  return JSON.stringify(card.snapshot().records.map(([k, v]) => [k, v instanceof Uint8Array ? toHex(v) : v]));
}

function refused(sw: number): boolean {
  const sw1 = sw >> 8;
  return !(sw === 0x9000 || sw1 === 0x61 || sw1 === 0x62 || sw1 === 0x63);
}

describe('dispatcher fuzz', () => {
  it('answers 20,000 random APDUs on both interfaces with a valid SW, never throws, refusals change nothing', () => {
    let total = 0;
    let ok = 0;
    fc.assert(
      fc.property(fc.boolean(), fc.array(step, { minLength: 100, maxLength: 100 }), (t0, steps) => {
        const { card } = makeCard(t0);
        for (const [iface, bytes] of steps) {
          const before = digest(card);
          const r = card.transmit(iface, Uint8Array.from(bytes));
          total++;
          expect(r.length).toBeGreaterThanOrEqual(2);
          const sw = (r[r.length - 2]! << 8) | r[r.length - 1]!;
          expect(isValidSw(sw), `SW ${sw.toString(16)} for ${toHex(Uint8Array.from(bytes))}`).toBe(true);
          if (refused(sw)) {
            expect(r.length, 'an error SW carries no data').toBe(2);
            expect(digest(card), `state changed by refused ${toHex(Uint8Array.from(bytes))}`).toBe(before);
          } else ok++;
        }
      }),
      { numRuns: 200 },
    );
    expect(total).toBe(20_000);
    expect(ok).toBeGreaterThan(2000); // the generator reaches the applets, not only error paths
  });
});
