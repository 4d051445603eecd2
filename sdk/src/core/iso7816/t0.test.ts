import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import traces from '../../../test/vectors/recorded-apdu-traces.json';
import { fromHex, hex, toHex } from '../bytes';
import { TransportError } from '../errors';
import { ApduError, type CommandApdu, command, encodeCommandApdu, parseCommandApdu } from './apdu';
import { SW } from './status-words';
import { T0ResponseBuffer, type TransmitFn, transmitT0 } from './t0';

interface Exchange {
  c: string;
  r: string;
}

const emvTrace = traces.traces.find((t) => t.id === 'emv-pboc-debit-t0-select-readrecord') as unknown as {
  exchanges: Exchange[];
};

/** A fake reader that expects exactly the scripted commands, in order, and answers the scripted responses. */
function scripted(script: Exchange[]): { transmit: TransmitFn; sent: string[]; remaining: () => number } {
  let i = 0;
  const sent: string[] = [];
  const transmit: TransmitFn = async (apdu) => {
    const h = toHex(apdu);
    sent.push(h);
    const step = script[i++];
    if (!step) throw new Error(`unexpected extra command ${h}`);
    expect(h).toBe(step.c.toUpperCase());
    return fromHex(step.r);
  };
  return { transmit, sent, remaining: () => script.length - i };
}

/** An applet-side card: a handler produces (data, sw) and a T0ResponseBuffer shapes the T=0 answer. */
function t0Card(handler: (cmd: CommandApdu) => [Uint8Array, number]): {
  transmit: TransmitFn;
  sent: string[];
  buffer: T0ResponseBuffer;
} {
  const buffer = new T0ResponseBuffer();
  const sent: string[] = [];
  const transmit: TransmitFn = async (apdu) => {
    sent.push(toHex(apdu));
    const cmd = parseCommandApdu(apdu);
    if (cmd.ins === 0xc0) return buffer.handleGetResponse(cmd);
    const [data, sw] = handler(cmd);
    return buffer.respond(cmd, data, sw);
  };
  return { transmit, sent, buffer };
}

describe('transmitT0 replaying the recorded EMV T=0 trace', () => {
  it('the trace has the expected 61xx / 6Cxx shape', () => {
    expect(emvTrace.exchanges.length).toBe(7);
    expect(emvTrace.exchanges.map((x) => x.r.slice(0, 2))).toEqual(['61', '6F', '6C', '70', '6A', '61', '6F']);
  });

  it('sends GET RESPONSE after 61xx and re-sends with Le=xx after 6Cxx', async () => {
    const x = emvTrace.exchanges;
    const card = scripted(x);

    const pse = await transmitT0(card.transmit, fromHex(x[0]!.c));
    expect(toHex(pse)).toBe(x[1]!.r.toUpperCase());
    expect(card.sent).toEqual(['00A404000E315041592E5359532E4444463031', '00C0000020']);

    const rec1 = await transmitT0(card.transmit, hex`00 B2 01 0C 00`);
    expect(toHex(rec1)).toBe(x[3]!.r.toUpperCase());
    expect(card.sent.slice(2)).toEqual(['00B2010C00', '00B2010C2A']);

    const rec2 = await transmitT0(card.transmit, hex`00 B2 02 0C 00`);
    expect(toHex(rec2)).toBe('6A83');

    const aid = await transmitT0(card.transmit, fromHex(x[5]!.c));
    expect(toHex(aid)).toBe(x[6]!.r.toUpperCase());
    expect(card.sent.slice(5)).toEqual(['00A4040008A000000333010101', '00C000004C']);
    expect(card.remaining()).toBe(0);
  });

  it('a T0ResponseBuffer card reproduces the recorded responses byte for byte', async () => {
    const x = emvTrace.exchanges;
    const body = (r: string) => fromHex(r).subarray(0, fromHex(r).length - 2);
    const pseFci = body(x[1]!.r);
    const record1 = body(x[3]!.r);
    const aidFci = body(x[6]!.r);
    const card = t0Card((cmd) => {
      if (cmd.ins === 0xa4 && cmd.data.length === 14) return [pseFci, SW.OK];
      if (cmd.ins === 0xa4) return [aidFci, SW.OK];
      if (cmd.ins === 0xb2 && cmd.p1 === 1) return [record1, SW.OK];
      return [new Uint8Array(0), SW.RECORD_NOT_FOUND];
    });
    for (const step of x) expect(toHex(await card.transmit(fromHex(step.c)))).toBe(step.r.toUpperCase());

    // And the host wrapper over that card yields the final responses with the same requests as the trace.
    const host = t0Card((cmd) => {
      if (cmd.ins === 0xa4 && cmd.data.length === 14) return [pseFci, SW.OK];
      if (cmd.ins === 0xa4) return [aidFci, SW.OK];
      if (cmd.ins === 0xb2 && cmd.p1 === 1) return [record1, SW.OK];
      return [new Uint8Array(0), SW.RECORD_NOT_FOUND];
    });
    for (const c of [x[0]!.c, x[2]!.c, x[4]!.c, x[5]!.c]) await transmitT0(host.transmit, fromHex(c));
    expect(host.sent).toEqual(x.map((s) => s.c.toUpperCase()));
  });

  it('byte-level trace: FCI of 0x28 bytes → 6128, then GET RESPONSE 28; READ RECORD Le 00 → 6C27', () => {
    const t = traces.traces.find((tr) => tr.id === 'pboc-t0-byte-level-select') as unknown as {
      tpdu_sequence: Array<{ hex: string }>;
    };
    const fci = fromHex(t.tpdu_sequence[6]!.hex);
    expect(fci.length).toBe(0x28);
    const buf = new T0ResponseBuffer();
    const select = parseCommandApdu(fromHex(t.tpdu_sequence[0]!.hex + t.tpdu_sequence[2]!.hex + '00'));
    expect(toHex(buf.respond(select, fci, SW.OK))).toBe('6128');
    expect(toHex(buf.getResponse(0x28))).toBe(`${toHex(fci)}9000`);
    const readRecord = parseCommandApdu(hex`00 B2 01 0C 00`);
    expect(toHex(buf.respond(readRecord, new Uint8Array(0x27), SW.OK))).toBe('6C27');
  });
});

describe('transmitT0 behaviours', () => {
  it('keeps the logical channel of the command in GET RESPONSE', async () => {
    for (const [cla, grCla] of [
      [0x01, 0x01],
      [0x03, 0x03],
      [0x84, 0x00],
      [0x87, 0x03],
      [0x45, 0x45],
      [0xe1, 0x41],
      [0xcf, 0x4f],
    ] as const) {
      const card = t0Card(() => [hex`01 02 03`, SW.OK]);
      const r = await transmitT0(card.transmit, encodeCommandApdu(command(cla, 0xca, 0, 0, hex`AA`, 3)));
      expect(toHex(r)).toBe('0102039000');
      expect(card.sent[1]).toBe(`${toHex(Uint8Array.of(grCla))}C0000003`);
    }
  });

  it('honours getResponseCla (e.g. GSM A0)', async () => {
    const card = t0Card(() => [hex`01`, SW.OK]);
    await transmitT0(card.transmit, hex`A0 A4 00 00 02 3F 00`, { getResponseCla: 0xa0 });
    expect(card.sent[1]).toBe('A0C0000001');
  });

  it('concatenates 61xx chains longer than 256 bytes', async () => {
    const data = Uint8Array.from({ length: 600 }, (_, i) => (i * 7) & 0xff);
    const card = t0Card(() => [data, SW.OK]);
    const r = await transmitT0(card.transmit, encodeCommandApdu(command(0x80, 0xca, 0, 0, hex`01`, 256)));
    expect(r).toEqual(Uint8Array.from([...data, 0x90, 0x00]));
    expect(card.sent.slice(1)).toEqual(['00C0000000', '00C0000000', '00C0000058']);
  });

  it('handles 6Cxx on a GET RESPONSE and on an extended case 2', async () => {
    const gr = scripted([
      { c: '80CA00000101', r: '6110' },
      { c: '00C0000010', r: '6C08' },
      { c: '00C0000008', r: '11223344556677889000' },
    ]);
    expect(toHex(await transmitT0(gr.transmit, hex`80 CA 00 00 01 01`))).toBe('11223344556677889000');
    const ext = scripted([
      { c: '00B00000000200', r: '6C10' },
      { c: '00B00000000010', r: '00112233445566778899AABBCCDDEEFF9000' },
    ]);
    expect(toHex(await transmitT0(ext.transmit, hex`00 B0 00 00 00 02 00`))).toBe(
      '00112233445566778899AABBCCDDEEFF9000',
    );
  });

  it('returns warnings and errors without throwing', async () => {
    const card = t0Card(() => [hex`AB CD`, SW.SELECTED_FILE_INVALIDATED]);
    expect(toHex(await transmitT0(card.transmit, hex`00 A4 04 00 01 A0 00`))).toBe('ABCD6283');
    expect(card.sent[1]).toBe('00C0000002');
    const err = t0Card(() => [hex`AB CD`, SW.SECURITY_STATUS_NOT_SATISFIED]);
    expect(toHex(await transmitT0(err.transmit, hex`80 54 01 00 01 00 08`))).toBe('6982');
  });

  it('returns a plain Uint8Array even when the transport returns a Buffer', async () => {
    const r = await transmitT0(async () => Buffer.from('9000', 'hex'), hex`00 70 00 00`);
    expect(Object.getPrototypeOf(r)).toBe(Uint8Array.prototype);
  });

  it('gives up with T0_TOO_MANY_ROUNDS', async () => {
    let calls = 0;
    const endless: TransmitFn = async () => {
      calls++;
      return hex`61 01`;
    };
    const p = transmitT0(endless, hex`00 CA 00 00 00`, { maxRounds: 5 });
    await expect(p).rejects.toBeInstanceOf(TransportError);
    await expect(transmitT0(endless, hex`00 CA 00 00 00`, { maxRounds: 5 })).rejects.toMatchObject({
      code: 'T0_TOO_MANY_ROUNDS',
    });
    expect(calls).toBe(10);
    const sixC: TransmitFn = async () => hex`6C 10`;
    await expect(transmitT0(sixC, hex`00 CA 00 00 00`)).rejects.toMatchObject({ code: 'T0_TOO_MANY_ROUNDS' });
  });

  it('rejects a malformed command before sending and a short card answer', async () => {
    let sent = 0;
    const t: TransmitFn = async () => {
      sent++;
      return hex`90`;
    };
    await expect(transmitT0(t, hex`00 A4 04 00 02 A0`)).rejects.toBeInstanceOf(ApduError);
    expect(sent).toBe(0);
    await expect(transmitT0(t, hex`00 A4 04 00`)).rejects.toMatchObject({ code: 'RAPDU_TOO_SHORT' });
  });
});

describe('T0ResponseBuffer', () => {
  const case2 = (le: number) => parseCommandApdu(Uint8Array.of(0, 0xb0, 0, 0, le));
  const case4 = parseCommandApdu(hex`00 A4 04 00 01 A0 00`);
  const case3 = parseCommandApdu(hex`80 50 03 02 01 01`);
  const data = (n: number) => Uint8Array.from({ length: n }, (_, i) => i & 0xff);

  it('case 2: exact Le → data ‖ SW; wrong Le → 6Cxx; nothing kept', () => {
    const b = new T0ResponseBuffer();
    expect(toHex(b.respond(case2(3), data(3), SW.OK))).toBe('0001029000');
    expect(toHex(b.respond(case2(5), data(3), SW.OK))).toBe('6C03');
    expect(toHex(b.respond(case2(2), data(3), SW.OK))).toBe('6C03');
    expect(toHex(b.respond(case2(0), data(256), SW.OK)).length).toBe(2 * 258);
    expect(toHex(b.respond(case2(0), data(255), SW.OK))).toBe('6CFF');
    expect(b.pending).toBe(0);
  });

  it('case 2 with more than 256 bytes: Le bytes then 61xx', () => {
    const b = new T0ResponseBuffer();
    const r = b.respond(case2(0), data(300), SW.OK);
    expect(r.length).toBe(258);
    expect(toHex(r.subarray(256))).toBe('612C');
    expect(b.pending).toBe(44);
    expect(b.getResponse(44)).toEqual(Uint8Array.from([...data(300).subarray(256), 0x90, 0x00]));
  });

  it('extended Le is an upper bound', () => {
    const b = new T0ResponseBuffer();
    const ext = parseCommandApdu(hex`00 B0 00 00 00 04 00`);
    expect(b.respond(ext, data(300), SW.OK)).toEqual(Uint8Array.from([...data(300), 0x90, 0x00]));
    const r = b.respond(ext, data(1100), SW.OK);
    expect(r.length).toBe(1026);
    expect(toHex(r.subarray(1024))).toBe('614C');
  });

  it('cases 3 and 4: data withheld behind 61xx; no data → SW only', () => {
    const b = new T0ResponseBuffer();
    expect(toHex(b.respond(case4, data(0x20), SW.OK))).toBe('6120');
    expect(b.pending).toBe(0x20);
    expect(toHex(b.respond(case3, data(15), SW.OK))).toBe('610F');
    expect(b.pending).toBe(15);
    expect(toHex(b.respond(case4, new Uint8Array(0), SW.OK))).toBe('9000');
    expect(b.pending).toBe(0);
    expect(toHex(b.respond(parseCommandApdu(hex`00 70 00 00`), data(1), SW.OK))).toBe('6101');
  });

  it('errors drop data; warnings travel to the last chunk', () => {
    const b = new T0ResponseBuffer();
    expect(toHex(b.respond(case4, data(4), SW.CONDITIONS_NOT_SATISFIED))).toBe('6985');
    expect(b.pending).toBe(0);
    expect(toHex(b.respond(case4, data(4), 0x63c2))).toBe('6104');
    expect(toHex(b.getResponse(4))).toBe('0001020363C2');
  });

  it('GET RESPONSE: chunks with 61yy, 6Cxx for too large a short Le, 6700 without Le, 6985 when empty', () => {
    const b = new T0ResponseBuffer();
    b.respond(case4, data(10), SW.OK);
    expect(toHex(b.getResponse(0x20))).toBe('6C0A');
    expect(b.pending).toBe(10);
    expect(toHex(b.getResponse(undefined))).toBe('6700');
    expect(toHex(b.getResponse(4))).toBe('000102036106');
    expect(toHex(b.getResponse(6))).toBe('0405060708099000');
    expect(toHex(b.getResponse(1))).toBe('6985');
  });

  it('handleGetResponse checks P1-P2 and data', () => {
    const b = new T0ResponseBuffer();
    b.respond(case4, data(2), SW.OK);
    expect(toHex(b.handleGetResponse(parseCommandApdu(hex`00 C0 01 00 02`)))).toBe('6A86');
    expect(toHex(b.handleGetResponse(parseCommandApdu(hex`00 C0 00 00 01 00 02`)))).toBe('6700');
    expect(toHex(b.handleGetResponse(parseCommandApdu(hex`00 C0 00 00 02`)))).toBe('00019000');
  });

  it('respond discards what was pending; clear empties', () => {
    const b = new T0ResponseBuffer();
    b.respond(case4, data(5), SW.OK);
    b.respond(parseCommandApdu(hex`00 70 00 00`), new Uint8Array(0), SW.OK);
    expect(b.pending).toBe(0);
    b.respond(case4, data(5), SW.OK);
    b.clear();
    expect(toHex(b.getResponse(5))).toBe('6985');
  });

  it('keeps its own copy of the applet data', () => {
    const b = new T0ResponseBuffer();
    const d = data(3);
    b.respond(case4, d, SW.OK);
    d.fill(0xee);
    expect(toHex(b.getResponse(3))).toBe('0001029000');
  });

  it('property: transmitT0 over a T0ResponseBuffer card returns data ‖ SW for any case 2/4 command', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 900 }),
        fc.constantFrom(SW.OK, 0x6282, 0x63c1, SW.WRONG_DATA),
        fc.boolean(),
        fc.integer({ min: 1, max: 256 }),
        fc.integer({ min: 0, max: 19 }),
        async (payload, sw, withData, le, channel) => {
          const cla = channel <= 3 ? channel : 0x40 | (channel - 4);
          const card = t0Card(() => [payload, sw]);
          const cmd = command(cla, 0xca, 0, 0, withData ? hex`01` : undefined, le);
          const r = await transmitT0(card.transmit, encodeCommandApdu(cmd));
          const keepsData = sw === SW.OK || sw === 0x6282 || sw === 0x63c1;
          const expected = keepsData && payload.length > 0 ? [...payload] : [];
          expect(r).toEqual(Uint8Array.from([...expected, sw >> 8, sw & 0xff]));
          for (const s of card.sent.slice(1)) {
            const c = parseCommandApdu(fromHex(s));
            if (c.ins === 0xc0) expect(c.cla).toBe(cla);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
