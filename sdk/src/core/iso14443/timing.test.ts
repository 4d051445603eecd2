import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import traces from '../../../test/vectors/recorded-apdu-traces.json';
import { fromHex, hex } from '../bytes';
import { ArgumentError } from '../errors';
import {
  activationUs,
  assertLinkProfile,
  estimateTapTime,
  etuUs,
  FRAME_SIZES,
  type FrameSize,
  formatTapTime,
  ISO14443_106,
  ISO14443_212,
  ISO14443_424,
  ISO14443_848,
  ISO14443_TIMING,
  type Iso14443BitRate,
  type Iso14443LinkProfile,
  iBlockCount,
  iso14443Profile,
  type LinkProfile,
  maxInfLength,
  RFSIM_2G4,
  rfSimProfile,
  type TapExchange,
  TapTimer,
  TYPICAL_PROCESSING_US,
  typicalProcessingUs,
} from './timing';

/** Carrier cycles → µs, written out independently of the module: fc = 13.56 MHz. */
const us = (cycles: number): number => cycles / 13.56;

const bytes = (n: number, fill = 0x11): Uint8Array => new Uint8Array(n).fill(fill);
const SW_OK = hex`90 00`;

/** Expects an ArgumentError with code BAD_ARGUMENT. */
function expectBadArgument(fn: () => unknown): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(ArgumentError);
  expect((caught as ArgumentError).code).toBe('BAD_ARGUMENT');
}

function one(command: Uint8Array, response: Uint8Array, profile: LinkProfile, processingUs = 0) {
  const est = estimateTapTime([{ command, response, processingUs }], profile, { includeActivation: false });
  const t = est.perApdu[0];
  if (!t) throw new Error('no per-APDU entry');
  return t;
}

describe('bit and byte times', () => {
  it('1 etu is 128/fc ≈ 9.4395 µs at 106 kbit/s and halves at each higher rate', () => {
    expect(etuUs(106)).toBeCloseTo(128 / 13.56, 9);
    expect(etuUs(106)).toBeCloseTo(9.4395, 4);
    expect(etuUs(212)).toBeCloseTo(etuUs(106) / 2, 12);
    expect(etuUs(424)).toBeCloseTo(etuUs(106) / 4, 12);
    expect(etuUs(848)).toBeCloseTo(etuUs(106) / 8, 12);
  });

  it('one more command byte in the same frame costs 9 bits ≈ 9 × 9.44 µs = 84.96 µs at 106 kbit/s', () => {
    // Hand computation: 8 data bits + 1 parity bit, each 128/13.56 MHz = 9.4395 µs → 84.956 µs.
    const byteUs = (9 * 128) / 13.56;
    expect(byteUs).toBeCloseTo(84.956, 3);
    expect(Math.abs(byteUs - 9 * 9.44)).toBeLessThan(0.01);
    const a = one(bytes(10), SW_OK, ISO14443_106);
    const b = one(bytes(11), SW_OK, ISO14443_106);
    expect(b.commandAirUs - a.commandAirUs).toBeCloseTo(byteUs, 2);
    expect(b.responseAirUs).toBe(a.responseAirUs);
    // and one more response byte costs the same on the card's side
    const c = one(bytes(10), hex`00 90 00`, ISO14443_106);
    expect(c.responseAirUs - a.responseAirUs).toBeCloseTo(byteUs, 2);
  });

  it('matches a hand computation of a 4-byte command and a 2-byte response at 106 kbit/s', () => {
    const t = one(hex`00 B0 00 00`, SW_OK, ISO14443_106, 1000);
    // Reader: I-block PCB ‖ 4 bytes ‖ CRC_A = 7 bytes → SOF + 63 + EOF = 65 etu = 8320 cycles, + FDT 1236.
    expect(t.commandAirUs).toBeCloseTo(us(65 * 128 + 1236), 3); // 704.720 µs
    expect(t.commandAirUs).toBeCloseTo(704.72, 2);
    // Card: PCB ‖ 90 00 ‖ CRC_A = 5 bytes → 47 etu = 6016 cycles, + FDT PICC→PCD 1172.
    expect(t.responseAirUs).toBeCloseTo(us(47 * 128 + 1172), 3); // 530.088 µs
    expect(t.processingUs).toBe(1000);
    expect([t.frames, t.framesUp, t.framesDown, t.wtx]).toEqual([2, 1, 1, 0]);
  });

  it('a CID byte adds one byte to every frame in both directions', () => {
    const cidProfile = iso14443Profile({ cid: true });
    const a = one(bytes(20), SW_OK, ISO14443_106);
    const b = one(bytes(20), SW_OK, cidProfile);
    expect(b.commandAirUs - a.commandAirUs).toBeCloseTo((9 * 128) / 13.56, 2);
    expect(b.responseAirUs - a.responseAirUs).toBeCloseTo((9 * 128) / 13.56, 2);
  });
});

describe('chaining (ISO/IEC 14443-4 §7.5.2)', () => {
  it('a 300-byte APDU with FSC 32 takes 11 I-blocks and 10 R(ACK)s', () => {
    // FSC 32 − PCB − CRC_A(2) = 29 INF bytes per block; 300 = 10 × 29 + 10 → 11 blocks, 10 chained.
    expect(maxInfLength(32, false, false)).toBe(29);
    expect(iBlockCount(300, 32)).toBe(11);
    const p = iso14443Profile({ fsc: 32 });
    const t = one(bytes(300), SW_OK, p);
    expect(t.framesUp).toBe(11); // 11 I-blocks from the reader
    expect(t.framesDown).toBe(11); // 10 R(ACK)s + 1 response I-block from the card
    expect(t.frames).toBe(22);
    // Reader frames: 300 INF bytes + 11 × (PCB + CRC_A) = 333 bytes over 11 frames, each + FDT 1236.
    expect(t.commandAirUs).toBeCloseTo(us((11 * 2 + 9 * 333) * 128 + 11 * 1236), 3);
    // Card frames: 10 R(ACK)s of 3 bytes + one 5-byte I-block = 35 bytes over 11 frames, each + 1172.
    expect(t.responseAirUs).toBeCloseTo(us((11 * 2 + 9 * 35) * 128 + 11 * 1172), 3);
  });

  it('counts CID and NAD against the frame size (NAD only in the first block)', () => {
    // FSC 16 with CID: 16 − 1 − 1 − 2 = 12 bytes per block → 300 bytes = 25 blocks.
    expect(maxInfLength(16, true, false)).toBe(12);
    expect(iBlockCount(300, 16, true)).toBe(25);
    // 290 = 10 × 29 fits 10 blocks exactly; NAD steals one byte of the first block → 11 blocks.
    expect(iBlockCount(290, 32)).toBe(10);
    expect(iBlockCount(290, 32, false, true)).toBe(11);
    expect(iBlockCount(0, 16)).toBe(1);
    expect(iBlockCount(253, 256)).toBe(1);
    expect(iBlockCount(254, 256)).toBe(2);
  });

  it('a 600-byte response with FSD 64 takes 10 I-blocks, each chained one acknowledged by the reader', () => {
    const p = iso14443Profile({ fsd: 64 });
    // 64 − 3 = 61 per block: 600 = 9 × 61 + 51 → 10 blocks, 9 R(ACK)s from the reader.
    const t = one(bytes(4), bytes(600), p);
    expect(t.framesUp).toBe(1 + 9);
    expect(t.framesDown).toBe(10);
    expect(t.commandAirUs).toBeCloseTo(us((10 * 2 + 9 * (7 + 9 * 3)) * 128 + 10 * 1236), 3);
    expect(t.responseAirUs).toBeCloseTo(us((10 * 2 + 9 * (600 + 10 * 3)) * 128 + 10 * 1172), 3);
  });
});

describe('waiting time extension (§7.3)', () => {
  it('adds S(WTX) round trips only when processing exceeds FWT', () => {
    // FWI 4: FWT = 4096 × 16 cycles = 65536/fc ≈ 4833 µs.
    const p = iso14443Profile({ fwi: 4 });
    expect(one(bytes(5), SW_OK, p, 4800).wtx).toBe(0);
    // 10 ms = 135600 cycles: needs ceil((135600 − 65536) / 65536) = 2 extensions of one FWT each.
    const t = one(bytes(5), SW_OK, p, 10_000);
    expect(t.wtx).toBe(2);
    expect([t.framesUp, t.framesDown]).toEqual([3, 3]);
    const base = one(bytes(5), SW_OK, p, 0);
    // each S(WTX) is PCB ‖ WTXM ‖ CRC_A = 4 bytes = 38 etu, both ways
    expect(t.commandAirUs - base.commandAirUs).toBeCloseTo(us(2 * (38 * 128 + 1236)), 2);
    expect(t.responseAirUs - base.responseAirUs).toBeCloseTo(us(2 * (38 * 128 + 1172)), 2);
    // a larger multiplier needs fewer requests
    expect(one(bytes(5), SW_OK, iso14443Profile({ fwi: 4, wtxm: 2 }), 10_000).wtx).toBe(1);
    // the typical profile (FWI 7 ≈ 38.7 ms) needs none for 10 ms
    expect(one(bytes(5), SW_OK, ISO14443_106, 10_000).wtx).toBe(0);
  });
});

describe('activation', () => {
  // Hand computation in carrier cycles at fc/128 (128 cycles per bit), typical profile (4-byte UID, 12-byte ATS):
  const reqa = 9 * 128 + 1172; // short frame; REQA's last bit b7 is 0
  const atqa = (1 + 2 * 9 + 1) * 128 + 1172;
  const level =
    (1 + 2 * 9 + 1) * 128 +
    1172 + // ANTICOLLISION 93 20 (last bit: parity of 20h = 0)
    (1 + 5 * 9 + 1) * 128 +
    1172 + // UID CL1 ‖ BCC
    (1 + 9 * 9 + 1) * 128 +
    1236 + // SELECT 93 70 UID BCC CRC_A
    (1 + 3 * 9 + 1) * 128 +
    1172; // SAK CRC_A
  const rats = (1 + 4 * 9 + 1) * 128 + 1236;
  const ats = (1 + 14 * 9 + 1) * 128 + 1172;
  const pps = (1 + 5 * 9 + 1) * 128 + 1236 + (1 + 3 * 9 + 1) * 128 + 1172;

  it('matches a hand computation at 106 kbit/s', () => {
    expect(reqa + atqa + level + rats + ats).toBe(57_376);
    expect(activationUs(ISO14443_106)).toBeCloseTo(5000 + us(57_376), 3); // ≈ 9231.268 µs
  });

  it('adds one cascade level per extra UID size and PPS above 106 kbit/s', () => {
    const base = activationUs(ISO14443_106);
    expect(activationUs(iso14443Profile({ uidLength: 7 })) - base).toBeCloseTo(us(level), 2);
    expect(activationUs(iso14443Profile({ uidLength: 10 })) - base).toBeCloseTo(us(2 * level), 2);
    for (const p of [ISO14443_212, ISO14443_424, ISO14443_848]) expect(activationUs(p) - base).toBeCloseTo(us(pps), 2);
  });

  it('waits SFGT after the ATS when SFGI > 0, and power-up is a parameter', () => {
    const base = activationUs(ISO14443_106);
    // SFGI 3: SFGT = 4096 × 8 = 32768 cycles replaces the 1172-cycle FDT after the ATS.
    expect(activationUs(iso14443Profile({ sfgi: 3 })) - base).toBeCloseTo(us(32_768 - 1172), 2);
    expect(base - activationUs(iso14443Profile({ powerUpUs: 0 }))).toBeCloseTo(5000, 6);
    expect(activationUs(iso14443Profile({ atsLength: 13 })) - base).toBeCloseTo(us(9 * 128), 2);
  });

  it('is counted once per tap and can be left out', () => {
    const ex: TapExchange[] = [{ command: bytes(5), response: SW_OK, processingUs: 100 }];
    const withAct = estimateTapTime(ex, ISO14443_106);
    const without = estimateTapTime(ex, ISO14443_106, { includeActivation: false });
    expect(withAct.activationUs).toBe(activationUs(ISO14443_106));
    expect(without.activationUs).toBe(0);
    expect(withAct.totalUs - without.totalUs).toBeCloseTo(withAct.activationUs, 6);
    expect(estimateTapTime([], ISO14443_106).totalUs).toBe(activationUs(ISO14443_106));
  });
});

describe('RF-SIM 2.4 GHz profile', () => {
  it('matches a hand computation with the assumed defaults', () => {
    // 1 Mbit/s → 8 µs per byte; 10 bytes overhead; 32-byte payloads; 150 µs turnaround; an ACK per packet.
    const t = one(bytes(40), SW_OK, RFSIM_2G4, 2000);
    // reader: 2 command packets (10+32, 10+8 bytes) + 1 ACK for the single response packet
    expect(t.commandAirUs).toBeCloseTo((20 + 40) * 8 + 2 * 150 + (10 * 8 + 150), 6); // 1010
    // card: 1 response packet (10+2) + 2 ACKs for the command packets
    expect(t.responseAirUs).toBeCloseTo((10 + 2) * 8 + 150 + 2 * (10 * 8 + 150), 6); // 706
    expect([t.framesUp, t.framesDown, t.wtx]).toEqual([3, 3, 0]);
    expect(activationUs(RFSIM_2G4)).toBe(20_000);
  });

  it('follows its parameters', () => {
    const noAck = one(bytes(40), SW_OK, rfSimProfile({ ackPackets: false }));
    expect(noAck.commandAirUs).toBeCloseTo(780, 6);
    expect(noAck.responseAirUs).toBeCloseTo(246, 6);
    expect(noAck.frames).toBe(3);
    const slow = one(bytes(40), SW_OK, rfSimProfile({ bitRate: 250_000 }));
    expect(slow.commandAirUs).toBeCloseTo((20 + 40) * 32 + 300 + (10 * 32 + 150), 6);
    const est = estimateTapTime([{ command: bytes(5), response: SW_OK }], rfSimProfile({ bitRate: 2_000_000 }));
    expect(est.link).toBe('2.4 GHz RF-SIM, 2 Mbit/s');
    expect(estimateTapTime([], rfSimProfile({ bitRate: 250_000 })).link).toBe('2.4 GHz RF-SIM, 250 kbit/s');
  });
});

describe('monotonicity', () => {
  const profiles = [ISO14443_106, ISO14443_212, ISO14443_424, ISO14443_848];
  const exchangeArb = fc.record({
    up: fc.integer({ min: 0, max: 700 }),
    down: fc.integer({ min: 0, max: 700 }),
  });

  it('a higher bit rate never costs more air time per APDU', () => {
    fc.assert(
      fc.property(exchangeArb, fc.constantFrom<FrameSize>(...FRAME_SIZES), fc.boolean(), ({ up, down }, fs, cid) => {
        const air = profiles.map((base) => {
          const t = one(bytes(up), bytes(down), iso14443Profile({ bitRate: base.bitRate, fsc: fs, fsd: fs, cid }));
          return t.commandAirUs + t.responseAirUs;
        });
        for (let i = 1; i < air.length; i++) expect(air[i]).toBeLessThan(air[i - 1]!);
      }),
    );
  });

  it('more bytes never cost less, in either direction and on either link', () => {
    fc.assert(
      fc.property(
        exchangeArb,
        fc.integer({ min: 1, max: 300 }),
        fc.constantFrom<LinkProfile>(...profiles, RFSIM_2G4, iso14443Profile({ fsc: 16, nad: true })),
        ({ up, down }, extra, p) => {
          const a = one(bytes(up), bytes(down), p);
          const b = one(bytes(up + extra), bytes(down), p);
          const c = one(bytes(up), bytes(down + extra), p);
          expect(b.commandAirUs + b.responseAirUs).toBeGreaterThan(a.commandAirUs + a.responseAirUs);
          expect(c.commandAirUs + c.responseAirUs).toBeGreaterThan(a.commandAirUs + a.responseAirUs);
        },
      ),
    );
  });

  it('a long exchange is faster overall at 848 kbit/s despite the PPS', () => {
    const ex = Array.from({ length: 10 }, () => ({ command: hex`00 B0 00 00 00`, response: bytes(258) }));
    const totals = profiles.map((p) => estimateTapTime(ex, p).totalUs);
    for (let i = 1; i < totals.length; i++) expect(totals[i]).toBeLessThan(totals[i - 1]!);
  });
});

describe('estimate structure', () => {
  const profileArb = fc.oneof(
    fc.constantFrom<LinkProfile>(ISO14443_106, ISO14443_212, ISO14443_424, ISO14443_848, RFSIM_2G4),
    fc
      .record({
        bitRate: fc.constantFrom<Iso14443BitRate>(106, 212, 424, 848),
        fsc: fc.constantFrom<FrameSize>(...FRAME_SIZES),
        fsd: fc.constantFrom<FrameSize>(...FRAME_SIZES),
        cid: fc.boolean(),
        nad: fc.boolean(),
        fwi: fc.integer({ min: 0, max: 14 }),
        uidLength: fc.constantFrom<4 | 7 | 10>(4, 7, 10),
      })
      .map((o) => iso14443Profile({ ...o, atsLength: 5 })),
    fc
      .record({
        bitRate: fc.integer({ min: 100_000, max: 4_000_000 }),
        maxPayload: fc.integer({ min: 1, max: 255 }),
        packetOverheadBytes: fc.integer({ min: 0, max: 20 }),
        ackPackets: fc.boolean(),
      })
      .map((o) => rfSimProfile(o)),
  );
  const exchangesArb = fc.array(
    fc.record({
      command: fc.uint8Array({ maxLength: 600 }),
      response: fc.uint8Array({ maxLength: 600 }),
      processingUs: fc.option(fc.double({ min: 0, max: 200_000, noNaN: true }), { nil: undefined }),
    }),
    { maxLength: 12 },
  );

  it('total = activation + Σ (command + response + processing), every part positive', () => {
    fc.assert(
      fc.property(exchangesArb, profileArb, fc.boolean(), (exchanges, profile, includeActivation) => {
        const est = estimateTapTime(exchanges, profile, { includeActivation });
        expect(est.apduCount).toBe(exchanges.length);
        expect(est.perApdu).toHaveLength(exchanges.length);
        let sum = est.activationUs;
        est.perApdu.forEach((t, i) => {
          expect(t.commandAirUs).toBeGreaterThan(0);
          expect(t.responseAirUs).toBeGreaterThan(0);
          expect(t.processingUs).toBeGreaterThanOrEqual(0);
          expect(t.framesUp).toBeGreaterThanOrEqual(1);
          expect(t.framesDown).toBeGreaterThanOrEqual(1);
          expect(t.frames).toBe(t.framesUp + t.framesDown);
          const own = exchanges[i]!.processingUs;
          if (own !== undefined) expect(t.processingUs).toBeCloseTo(own, 3);
          sum += t.commandAirUs + t.responseAirUs + t.processingUs;
        });
        expect(est.totalUs).toBeCloseTo(sum, 3);
        expect(est.activationUs > 0).toBe(includeActivation);
        expect(est.totalUs).toBeGreaterThanOrEqual(est.activationUs);
        expect(est.bytesUp).toBe(exchanges.reduce((n, e) => n + e.command.length, 0));
        expect(est.bytesDown).toBe(exchanges.reduce((n, e) => n + e.response.length, 0));
      }),
    );
  });

  it('rounds every time to 1 ns', () => {
    const est = estimateTapTime([{ command: bytes(13), response: bytes(30), processingUs: 1 / 3 }], ISO14443_424);
    const t = est.perApdu[0]!;
    for (const v of [est.totalUs, est.activationUs, t.commandAirUs, t.responseAirUs, t.processingUs])
      expect(Math.round(v * 1000) / 1000).toBe(v);
    expect(t.processingUs).toBe(0.333);
  });
});

describe('processing time', () => {
  it('defaults to the typical table by INS, and can be a constant, a model or per exchange', () => {
    expect(typicalProcessingUs(0x00, 0xa4)).toBe(TYPICAL_PROCESSING_US.SELECT);
    expect(typicalProcessingUs(0x00, 0xb2)).toBe(TYPICAL_PROCESSING_US.READ);
    expect(typicalProcessingUs(0x80, 0x50)).toBe(TYPICAL_PROCESSING_US.CRYPTO);
    expect(typicalProcessingUs(0x80, 0x54)).toBe(TYPICAL_PROCESSING_US.WRITE);
    expect(typicalProcessingUs(0x00, 0x12)).toBe(TYPICAL_PROCESSING_US.OTHER);
    expect(typicalProcessingUs(-1, -1)).toBe(TYPICAL_PROCESSING_US.OTHER);
    const ex: TapExchange[] = [
      { command: hex`00 A4 04 00 02 3F 00`, response: SW_OK },
      { command: hex`80 54 01 00 0F 00000001 20240101 120000 11223344 08`, response: bytes(10) },
      { command: hex`00 B0 00 00 00`, response: SW_OK, processingUs: 7 },
    ];
    const proc = (o?: Parameters<typeof estimateTapTime>[2]) =>
      estimateTapTime(ex, ISO14443_106, o).perApdu.map((t) => t.processingUs);
    expect(proc()).toEqual([1000, 5000, 7]);
    expect(proc({ defaultProcessingUs: 250 })).toEqual([250, 250, 7]);
    expect(proc({ defaultProcessingUs: (cla, ins) => cla * 1000 + ins })).toEqual([0xa4, 0x80 * 1000 + 0x54, 7]);
    expect(
      estimateTapTime([{ command: new Uint8Array(0), response: SW_OK }], ISO14443_106).perApdu[0]!.processingUs,
    ).toBe(TYPICAL_PROCESSING_US.OTHER);
  });
});

describe('formatTapTime', () => {
  it('summarises count, bytes, total and link', () => {
    const est = estimateTapTime(
      [
        { command: bytes(10), response: SW_OK, processingUs: 1000 },
        { command: bytes(5), response: bytes(20), processingUs: 1000 },
      ],
      ISO14443_106,
    );
    expect(formatTapTime(est)).toBe(
      `2 APDUs, 15 B up / 22 B down, ≈ ${(est.totalUs / 1000).toFixed(1)} ms at 106 kbit/s`,
    );
    expect(formatTapTime(est)).toMatch(/^2 APDUs, 15 B up \/ 22 B down, ≈ \d+\.\d ms at 106 kbit\/s$/);
    const single = estimateTapTime([{ command: bytes(4), response: SW_OK }], RFSIM_2G4);
    expect(formatTapTime(single)).toMatch(/^1 APDU, 4 B up \/ 2 B down, ≈ \d+\.\d ms at 2\.4 GHz RF-SIM, 1 Mbit\/s$/);
  });

  it('gives a plausible figure for a recorded PBOC purchase (9 APDUs)', () => {
    const trace = traces.traces.find((t) => t.id === 'nfcgate-capp-purchase-session-A') as unknown as {
      exchanges: Array<{ c: string; r: string }>;
    };
    const ex = trace.exchanges.map((e) => ({ command: fromHex(e.c), response: fromHex(e.r) }));
    const est = estimateTapTime(ex, ISO14443_106);
    expect(est.apduCount).toBe(9);
    // Activation ≈ 9.2 ms, 9 APDUs of ≈ 1–3 ms air time each, processing ≈ 20 ms in total: tens of ms, not seconds.
    expect(est.totalUs).toBeGreaterThan(20_000);
    expect(est.totalUs).toBeLessThan(100_000);
    expect(formatTapTime(est)).toMatch(/^9 APDUs, \d+ B up \/ \d+ B down, ≈ \d+\.\d ms at 106 kbit\/s$/);
  });
});

describe('TapTimer', () => {
  it('accumulates exchanges and estimates like estimateTapTime', () => {
    const timer = new TapTimer();
    const ex: TapExchange[] = [
      { command: hex`00 A4 04 00 02 3F 00`, response: bytes(30) },
      { command: bytes(300), response: SW_OK, processingUs: 3000 },
    ];
    for (const e of ex) timer.record(e.command, e.response, e.processingUs);
    expect(timer.count).toBe(2);
    for (const p of [ISO14443_106, ISO14443_848, RFSIM_2G4]) expect(timer.estimate(p)).toEqual(estimateTapTime(ex, p));
    expect(timer.estimate(ISO14443_106, { includeActivation: false })).toEqual(
      estimateTapTime(ex, ISO14443_106, { includeActivation: false }),
    );
    timer.reset();
    expect(timer.count).toBe(0);
    expect(timer.estimate(ISO14443_106).apduCount).toBe(0);
  });

  it('does not depend on the recorded buffers afterwards', () => {
    const timer = new TapTimer();
    const cmd = hex`00 A4 04 00 02 3F 00`;
    timer.record(cmd, SW_OK);
    const before = timer.estimate(ISO14443_106);
    cmd.fill(0);
    expect(timer.estimate(ISO14443_106)).toEqual(before);
  });

  it('rejects bad arguments', () => {
    const timer = new TapTimer();
    expectBadArgument(() => timer.record('00A40400' as unknown as Uint8Array, SW_OK));
    expectBadArgument(() => timer.record(bytes(4), SW_OK, -1));
    expectBadArgument(() => timer.record(bytes(4), SW_OK, Number.NaN));
    expect(timer.count).toBe(0);
  });
});

describe('validation', () => {
  it('rejects a bad ISO bit rate and other out-of-domain profile fields', () => {
    expectBadArgument(() => iso14443Profile({ bitRate: 100 as Iso14443BitRate }));
    expectBadArgument(() => iso14443Profile({ bitRate: 1696 as Iso14443BitRate }));
    expectBadArgument(() => etuUs(107 as Iso14443BitRate));
    expectBadArgument(() => iso14443Profile({ fsc: 33 as FrameSize }));
    expectBadArgument(() => iso14443Profile({ fsd: 512 as FrameSize }));
    expectBadArgument(() => iso14443Profile({ fwi: 15 }));
    expectBadArgument(() => iso14443Profile({ wtxm: 0 }));
    expectBadArgument(() => iso14443Profile({ wtxm: 60 }));
    expectBadArgument(() => iso14443Profile({ sfgi: -1 }));
    expectBadArgument(() => iso14443Profile({ uidLength: 5 as 4 }));
    expectBadArgument(() => iso14443Profile({ atsLength: 0 }));
    expectBadArgument(() => iso14443Profile({ atsLength: 255 }));
    expectBadArgument(() => iso14443Profile({ fsd: 16, atsLength: 15 }));
    expect(iso14443Profile({ fsd: 16, atsLength: 14 }).atsLength).toBe(14);
    expectBadArgument(() => iso14443Profile({ cid: 'yes' as unknown as boolean }));
    expectBadArgument(() => iso14443Profile({ powerUpUs: Number.POSITIVE_INFINITY }));
    expectBadArgument(() => maxInfLength(100 as FrameSize, false, false));
    expectBadArgument(() => iBlockCount(-1, 32));
    expectBadArgument(() => iBlockCount(1.5, 32));
  });

  it('rejects bad RF-SIM parameters and unknown kinds', () => {
    expectBadArgument(() => rfSimProfile({ bitRate: 0 }));
    expectBadArgument(() => rfSimProfile({ bitRate: Number.NaN }));
    expectBadArgument(() => rfSimProfile({ maxPayload: 0 }));
    expectBadArgument(() => rfSimProfile({ packetOverheadBytes: 1.5 }));
    expectBadArgument(() => rfSimProfile({ turnaroundUs: -1 }));
    expectBadArgument(() => rfSimProfile({ connectionSetupUs: Number.NaN }));
    expectBadArgument(() => assertLinkProfile({ kind: 'iso14443-3' }));
    expectBadArgument(() => assertLinkProfile(null));
    const handBuilt = { ...ISO14443_106, bitRate: 300 } as unknown as Iso14443LinkProfile;
    expectBadArgument(() => estimateTapTime([], handBuilt));
  });

  it('rejects bad exchanges and options', () => {
    expectBadArgument(() => estimateTapTime('x' as unknown as TapExchange[], ISO14443_106));
    expectBadArgument(() => estimateTapTime([null as unknown as TapExchange], ISO14443_106));
    expectBadArgument(() =>
      estimateTapTime([{ command: [0, 0xa4] as unknown as Uint8Array, response: SW_OK }], ISO14443_106),
    );
    expectBadArgument(() => estimateTapTime([{ command: bytes(4), response: SW_OK, processingUs: -5 }], ISO14443_106));
    const ex = [{ command: bytes(4), response: SW_OK }];
    expectBadArgument(() => estimateTapTime(ex, ISO14443_106, { defaultProcessingUs: -1 }));
    expectBadArgument(() => estimateTapTime(ex, ISO14443_106, { defaultProcessingUs: () => Number.NaN }));
    expectBadArgument(() => estimateTapTime(ex, ISO14443_106, { includeActivation: 1 as unknown as boolean }));
  });

  it('ready-made profiles are frozen and valid', () => {
    for (const p of [ISO14443_106, ISO14443_212, ISO14443_424, ISO14443_848, RFSIM_2G4]) {
      expect(Object.isFrozen(p)).toBe(true);
      expect(() => assertLinkProfile(p)).not.toThrow();
    }
    expect([ISO14443_106, ISO14443_212, ISO14443_424, ISO14443_848].map((p) => p.bitRate)).toEqual([
      106, 212, 424, 848,
    ]);
    expect(ISO14443_TIMING.ETU_CYCLES[106] / ISO14443_TIMING.FC_HZ).toBeCloseTo(9.4395e-6, 9);
  });
});
