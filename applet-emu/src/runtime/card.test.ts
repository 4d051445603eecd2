import { fromHex, hex, toHex } from '@simtap/sdk/core/bytes';
import { type CommandApdu, IsoException } from '@simtap/sdk/core/iso7816';
import { referenceProfile } from '@simtap/sdk/core/profile';
import { encodeTlv, tlv } from '@simtap/sdk/core/tlv';
import { describe, expect, it, vi } from 'vitest';
import type { ApduContext, Applet, CardInterface, SelectReason } from './applet';
import { LIFECYCLE } from './applet';
import { Card, type CardLogger, DEFAULT_ATR_HEX, DEFAULT_ATS_HEX } from './card';
import { CardRemovedError } from './errors';

/** A file-less test applet: INS 01 → [iface, channel]; 02/03 transient set/get; 04 bug; 05 bad SW; … */
class EchoApplet implements Applet {
  readonly type = 'test.echo';
  readonly selects: SelectReason[] = [];
  deselects = 0;
  constructor(
    readonly aid: Uint8Array,
    readonly opts: { ifaces?: CardInterface[]; failSelect?: number } = {},
  ) {}
  acceptsInterface(iface: CardInterface): boolean {
    return this.opts.ifaces?.includes(iface) ?? true;
  }
  select(_ctx: ApduContext, reason: SelectReason): Uint8Array {
    if (this.opts.failSelect !== undefined) throw new IsoException(this.opts.failSelect);
    this.selects.push(reason);
    return encodeTlv(tlv(0x6f, [tlv(0x84, this.aid)]));
  }
  deselect(): void {
    this.deselects++;
  }
  process(ctx: ApduContext, cmd: CommandApdu): Uint8Array | undefined {
    switch (cmd.ins) {
      case 0x01:
        return Uint8Array.of(ctx.iface === 'contact' ? 0 : 1, ctx.channel);
      case 0x02:
        ctx.transient.set('t', cmd.p1);
        ctx.resetTransient.set('r', cmd.p1);
        return undefined;
      case 0x03:
        return Uint8Array.of(ctx.transient.get<number>('t') ?? 0xff, ctx.resetTransient.get<number>('r') ?? 0xff);
      case 0x04:
        throw new TypeError('bug');
      case 0x05:
        throw new IsoException(0x1234);
      case 0x06:
        return 'not bytes' as unknown as Uint8Array;
      case 0x07:
        ctx.setStatus((cmd.p1 << 8) | cmd.p2);
        return Uint8Array.of(1, 2, 3);
      case 0x08:
        return ctx.random(4);
      case 0x09:
        return new Uint8Array(cmd.p1 * 16);
      default:
        throw new IsoException(0x6d00);
    }
  }
}

const A1 = hex`A0 00 00 00 01 01`;
const A2 = hex`A0 00 00 00 01 02`;
const B1 = hex`A0 00 00 00 02 01`;
const ISD = hex`A0 00 00 01 51 00 00 00`;

function run(card: Card, iface: CardInterface, apdu: string): string {
  return toHex(card.transmit(iface, fromHex(apdu)));
}
const sw = (r: string): string => r.slice(-4);
const data = (r: string): string => r.slice(0, -4);

function silentLogger(): CardLogger & { calls: unknown[][] } {
  const calls: unknown[][] = [];
  return { calls, error: (m, c) => calls.push([m, c]) };
}

function makeCard(opts: { t0?: boolean } = {}): {
  card: Card;
  isd: EchoApplet;
  logger: ReturnType<typeof silentLogger>;
} {
  const logger = silentLogger();
  const card = new Card({ logger, ...opts });
  const isd = new EchoApplet(ISD);
  card.registry.install(isd, { default: true, lifecycle: LIFECYCLE.PERSONALIZED });
  card.registry.install(new EchoApplet(A1));
  card.registry.install(new EchoApplet(A2));
  card.registry.install(new EchoApplet(B1));
  return { card, isd, logger };
}

function selectedHex(card: Card, iface: CardInterface, ch = 0): string | undefined {
  const a = card.selectedAid(iface, ch);
  return a && toHex(a);
}

describe('power', () => {
  it('answers the reference ATR on contact and the documented ATS on contactless', () => {
    const card = new Card();
    const atr = referenceProfile().card.atr;
    expect(toHex(card.powerOn('contact'))).toBe(toHex(atr));
    expect(toHex(card.powerOn('contactless'))).toBe(toHex(fromHex(DEFAULT_ATS_HEX)));
    expect(toHex(fromHex(DEFAULT_ATR_HEX))).toBe(toHex(atr));
    // ATS: TL is the length; its historical bytes are the ATR's 13 historical bytes.
    const ats = fromHex(DEFAULT_ATS_HEX);
    expect(ats[0]).toBe(ats.length);
    expect(toHex(ats.subarray(5))).toBe(toHex(fromHex(DEFAULT_ATR_HEX).subarray(7, 20)));
  });

  it('uses ATR/ATS from the options and returns copies', () => {
    const card = new Card({ atr: hex`3B 00`, ats: hex`05 78 80 70 02` });
    const atr = card.powerOn('contact');
    atr[0] = 0;
    expect(card.reset('contact')).toEqual(hex`3B 00`);
    expect(card.powerOn('contactless')).toEqual(hex`05 78 80 70 02`);
    expect(() => new Card({ atr: hex`3B` })).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
  });

  it('refuses transmit on an interface that is not powered', () => {
    const { card } = makeCard();
    expect(() => card.transmit('contact', hex`00 A4 04 00 00`)).toThrow(CardRemovedError);
    card.powerOn('contact');
    expect(() => card.transmit('contactless', hex`00 A4 04 00 00`)).toThrow(
      expect.objectContaining({ code: 'CARD_NOT_POWERED' }),
    );
    expect(sw(run(card, 'contact', '00 01 00 00'))).toBe('9000');
    card.powerOff('contact');
    expect(card.isPowered('contact')).toBe(false);
    expect(() => run(card, 'contact', '00 01 00 00')).toThrow(CardRemovedError);
    expect(() => card.powerOn('usb' as CardInterface)).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    expect(() => card.transmit('contact', [0, 0xa4, 4, 0] as unknown as Uint8Array)).toThrow(CardRemovedError);
  });

  it('implicitly selects the default applet on channel 0 at power-up', () => {
    const { card, isd } = makeCard();
    card.powerOn('contactless');
    expect(selectedHex(card, 'contactless')).toBe(toHex(ISD));
    expect(isd.selects).toEqual(['implicit']);
    expect(run(card, 'contactless', '00 01 00 00')).toBe('01009000');
  });

  it('reset closes channels and clears transient memory of that interface only', () => {
    const { card } = makeCard();
    card.powerOn('contact');
    card.powerOn('contactless');
    run(card, 'contact', '00 02 07 00');
    run(card, 'contactless', '00 02 09 00');
    expect(run(card, 'contact', '00 70 00 00 01')).toBe('019000');
    card.reset('contact');
    expect(card.openChannels('contact')).toEqual([0]);
    expect(run(card, 'contact', '00 03 00 00')).toBe('FFFF9000');
    expect(run(card, 'contactless', '00 03 00 00')).toBe('09099000');
  });
});

describe('logical channels', () => {
  it('opens channels 1..19 on each interface independently, then 6A81', () => {
    const { card } = makeCard();
    card.powerOn('contact');
    card.powerOn('contactless');
    for (let n = 1; n <= 19; n++) expect(run(card, 'contact', '00 70 00 00 01')).toBe(`${toHex(Uint8Array.of(n))}9000`);
    expect(run(card, 'contact', '00 70 00 00 01')).toBe('6A81');
    expect(card.openChannels('contactless')).toEqual([0]);
    expect(run(card, 'contactless', '00 70 00 00 01')).toBe('019000');
    // Channels 4..19 use the further interindustry CLA 40 + (n − 4).
    expect(run(card, 'contact', '4F 01 00 00')).toBe('00139000');
    expect(run(card, 'contact', '43 01 00 00')).toBe('00079000');
    expect(run(card, 'contact', '03 01 00 00')).toBe('00039000');
  });

  it('closes channels and answers 6881 on a closed channel', () => {
    const { card } = makeCard();
    card.powerOn('contact');
    expect(run(card, 'contact', '00 70 00 00 01')).toBe('019000');
    expect(run(card, 'contact', '01 01 00 00')).toBe('00019000');
    expect(run(card, 'contact', '00 70 80 01 00')).toBe('9000');
    expect(run(card, 'contact', '01 01 00 00')).toBe('6881');
    expect(run(card, 'contact', '00 70 80 01 00')).toBe('6881'); // not open
    expect(run(card, 'contact', '00 70 80 14 00')).toBe('6881'); // > 19
    expect(run(card, 'contact', '00 70 80 00 00')).toBe('6A86'); // basic channel
    expect(run(card, 'contact', '02 01 00 00')).toBe('6881');
  });

  it('opens a specific channel and refuses an open or unsupported one', () => {
    const { card } = makeCard();
    card.powerOn('contactless');
    expect(run(card, 'contactless', '00 70 00 05 00')).toBe('9000');
    expect(run(card, 'contactless', '41 01 00 00')).toBe('01059000');
    expect(run(card, 'contactless', '00 70 00 05 00')).toBe('6A86');
    expect(run(card, 'contactless', '00 70 00 14 00')).toBe('6881');
    expect(run(card, 'contactless', '00 70 40 00 01')).toBe('6A86');
    expect(run(card, 'contactless', '00 70 00 00 01 00')).toBe('6700');
    // The card assigns the lowest free channel.
    expect(run(card, 'contactless', '00 70 00 00 01')).toBe('019000');
  });

  it('closes the channel the command is sent on with P2 00', () => {
    const { card } = makeCard();
    card.powerOn('contact');
    run(card, 'contact', '00 70 00 00 01');
    expect(run(card, 'contact', '01 70 80 00')).toBe('9000');
    expect(card.openChannels('contact')).toEqual([0]);
  });

  it('gives a channel opened from 0 the default applet and one opened from n the applet of n', () => {
    const { card } = makeCard();
    card.powerOn('contact');
    expect(run(card, 'contact', '00 70 00 00 01')).toBe('019000');
    expect(selectedHex(card, 'contact', 1)).toBe(toHex(ISD));
    expect(sw(run(card, 'contact', `01 A4 04 00 06 ${toHex(A2)}`))).toBe('9000');
    expect(run(card, 'contact', '01 70 00 00 01')).toBe('029000');
    expect(selectedHex(card, 'contact', 2)).toBe(toHex(A2));
    expect(selectedHex(card, 'contact', 0)).toBe(toHex(ISD));
  });

  it('keeps transient memory per channel and clears it on close', () => {
    const { card } = makeCard();
    card.powerOn('contact');
    run(card, 'contact', '00 70 00 00 01');
    run(card, 'contact', '00 02 05 00');
    run(card, 'contact', '01 02 06 00');
    expect(run(card, 'contact', '00 03 00 00')).toBe('05069000'); // reset-transient shared per interface
    expect(run(card, 'contact', '01 03 00 00')).toBe('06069000');
    run(card, 'contact', '00 70 80 01 00');
    run(card, 'contact', '00 70 00 01 00');
    expect(run(card, 'contact', '01 03 00 00')).toBe('FF069000');
  });
});

describe('SELECT by name', () => {
  it('selects by full AID and returns the FCI; P2 0C suppresses it', () => {
    const { card } = makeCard();
    card.powerOn('contactless');
    expect(run(card, 'contactless', `00 A4 04 00 06 ${toHex(A2)} 00`)).toBe(
      `6F0884 06${toHex(A2)}9000`.replace(' ', ''),
    );
    expect(selectedHex(card, 'contactless')).toBe(toHex(A2));
    expect(run(card, 'contactless', `00 A4 04 0C 06 ${toHex(B1)}`)).toBe('9000');
    expect(selectedHex(card, 'contactless')).toBe(toHex(B1));
  });

  it('walks partial matches with first / next / last / previous', () => {
    const { card } = makeCard();
    card.powerOn('contact');
    const partial = 'A0 00 00 00';
    expect(data(run(card, 'contact', `00 A4 04 00 04 ${partial} 00`))).toContain(toHex(A1));
    expect(data(run(card, 'contact', `00 A4 04 02 04 ${partial} 00`))).toContain(toHex(A2));
    expect(data(run(card, 'contact', `00 A4 04 02 04 ${partial} 00`))).toContain(toHex(B1));
    expect(run(card, 'contact', `00 A4 04 02 04 ${partial} 00`)).toBe('6A82');
    expect(selectedHex(card, 'contact')).toBe(toHex(B1)); // a failed SELECT keeps the selection
    expect(data(run(card, 'contact', `00 A4 04 03 04 ${partial} 00`))).toContain(toHex(A2));
    expect(data(run(card, 'contact', `00 A4 04 01 04 ${partial} 00`))).toContain(toHex(B1));
    expect(data(run(card, 'contact', '00 A4 04 02 05 A0 00 00 00 01 00'))).toContain(toHex(A1)); // current not a match → first
  });

  it('answers 6A82 for unknown, too long, locked, not yet selectable and invisible applets', () => {
    const { card } = makeCard();
    card.registry.install(new EchoApplet(hex`A0 00 00 00 03 01`, { ifaces: ['contact'] }));
    card.powerOn('contactless');
    card.powerOn('contact');
    expect(run(card, 'contactless', '00 A4 04 00 05 A0 00 00 00 09 00')).toBe('6A82');
    expect(run(card, 'contactless', `00 A4 04 00 11 ${'00'.repeat(17)} 00`)).toBe('6A82');
    card.registry.setLifecycle(A1, LIFECYCLE.LOCKED);
    expect(run(card, 'contactless', `00 A4 04 00 06 ${toHex(A1)} 00`)).toBe('6A82');
    card.registry.setLifecycle(A1, LIFECYCLE.INSTALLED);
    expect(run(card, 'contactless', `00 A4 04 00 06 ${toHex(A1)} 00`)).toBe('6A82');
    card.registry.setLifecycle(A1, LIFECYCLE.SELECTABLE);
    expect(sw(run(card, 'contactless', `00 A4 04 00 06 ${toHex(A1)} 00`))).toBe('9000');
    expect(run(card, 'contactless', '00 A4 04 00 06 A0 00 00 00 03 01 00')).toBe('6A82');
    expect(sw(run(card, 'contact', '00 A4 04 00 06 A0 00 00 00 03 01 00'))).toBe('9000');
    // Partial matching skips the invisible and locked entries.
    card.registry.setLifecycle(A2, LIFECYCLE.LOCKED);
    expect(data(run(card, 'contactless', '00 A4 04 02 05 A0 00 00 00 01 00'))).toBe('');
  });

  it('selects the default applet with an empty name', () => {
    const { card } = makeCard();
    card.powerOn('contact');
    run(card, 'contact', `00 A4 04 00 06 ${toHex(A1)}`);
    expect(sw(run(card, 'contact', '00 A4 04 00 00'))).toBe('9000');
    expect(selectedHex(card, 'contact')).toBe(toHex(ISD));
  });

  it('deselects the previous applet and leaves none selected when select() refuses', () => {
    const { card, isd } = makeCard();
    const refusing = hex`A0 00 00 00 04 01`;
    card.registry.install(new EchoApplet(refusing, { failSelect: 0x6999 }));
    card.powerOn('contact');
    expect(run(card, 'contact', `00 A4 04 00 06 ${toHex(refusing)}`)).toBe('6999');
    expect(isd.deselects).toBe(1);
    expect(card.selectedAid('contact')).toBeUndefined();
    expect(run(card, 'contact', '00 01 00 00')).toBe('6D00');
  });

  it('refuses P2 with reserved bits, chaining and SM class bytes', () => {
    const { card } = makeCard();
    card.powerOn('contact');
    expect(run(card, 'contact', `00 A4 04 10 06 ${toHex(A1)}`)).toBe('6A86');
    expect(run(card, 'contact', `10 A4 04 00 06 ${toHex(A1)}`)).toBe('6884');
    expect(run(card, 'contact', `0C A4 04 00 06 ${toHex(A1)}`)).toBe('6882');
    expect(run(card, 'contact', '00 A4 05 00 00')).toBe('6A86');
  });
});

describe('dispatcher', () => {
  it('answers malformed APDUs with 6700 and invalid CLAs with 6E00', () => {
    const { card } = makeCard();
    card.powerOn('contact');
    expect(run(card, 'contact', '')).toBe('6700');
    expect(run(card, 'contact', '00 01 00')).toBe('6700');
    expect(run(card, 'contact', '00 01 00 00 05 01 02')).toBe('6700');
    expect(run(card, 'contact', 'FF 01 00 00')).toBe('6E00');
    expect(run(card, 'contact', '20 01 00 00')).toBe('6E00');
  });

  it('turns unexpected applet errors into 6F00, logs the header only, and stays usable', () => {
    const { card, logger } = makeCard();
    card.powerOn('contact');
    expect(run(card, 'contact', '00 04 00 00 04 DE AD BE EF')).toBe('6F00');
    expect(run(card, 'contact', '00 05 00 00')).toBe('6F00'); // IsoException with an invalid SW
    expect(run(card, 'contact', '00 06 00 00')).toBe('6F00'); // non-bytes response
    expect(run(card, 'contact', '00 07 12 34')).toBe('6F00'); // setStatus with an error SW
    expect(logger.calls).toHaveLength(4);
    const first = logger.calls[0]![1] as Record<string, unknown>;
    expect(first.header).toBe('00 04 00 00');
    expect(first.error).toBe('TypeError: bug');
    expect(JSON.stringify(logger.calls)).not.toContain('DEADBEEF');
    expect(run(card, 'contact', '00 01 00 00')).toBe('00009000');
  });

  it('uses console.error by default and survives a throwing logger', () => {
    const spy = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const card = new Card();
    card.registry.install(new EchoApplet(A1), { default: true });
    card.powerOn('contact');
    expect(run(card, 'contact', '00 04 00 00')).toBe('6F00');
    expect(spy).toHaveBeenCalledTimes(1);
    spy.mockRestore();
    const broken = new Card({
      logger: {
        error() {
          throw new Error('logger down');
        },
      },
    });
    broken.registry.install(new EchoApplet(A1), { default: true });
    broken.powerOn('contact');
    expect(run(broken, 'contact', '00 04 00 00')).toBe('6F00');
  });

  it('lets applets answer warnings and other success SWs with data', () => {
    const { card } = makeCard();
    card.powerOn('contactless');
    expect(run(card, 'contactless', '00 07 63 10')).toBe('0102036310');
    expect(run(card, 'contactless', '00 07 62 83')).toBe('0102036283');
    expect(run(card, 'contactless', '00 07 91 05')).toBe('0102039105');
    expect(run(card, 'contactless', '00 07 90 00')).toBe('0102039000');
  });

  it('answers 6D00 when no applet is selected and the INS is not a file command', () => {
    const card = new Card({ logger: silentLogger() });
    card.powerOn('contact');
    expect(run(card, 'contact', '80 CA 00 00 04')).toBe('6D00');
    expect(run(card, 'contact', '00 B0 00 00 01')).toBe('6986'); // the MF has no current EF
  });

  it('falls back to no selection when the selected applet is removed', () => {
    const { card } = makeCard();
    card.powerOn('contact');
    run(card, 'contact', `00 A4 04 00 06 ${toHex(A1)}`);
    card.registry.remove(A1);
    expect(run(card, 'contact', '00 01 00 00')).toBe('6D00');
    expect(card.selectedAid('contact')).toBeUndefined();
  });

  it('draws random bytes from the injected source', () => {
    const card = new Card({ random: (n) => new Uint8Array(n).fill(0xab) });
    card.registry.install(new EchoApplet(A1), { default: true });
    card.powerOn('contactless');
    expect(run(card, 'contactless', '00 08 00 00 04')).toBe('ABABABAB9000');
  });

  it('tells the applet the interface and channel', () => {
    const { card } = makeCard();
    card.powerOn('contactless');
    run(card, 'contactless', '00 70 00 07 00');
    expect(run(card, 'contactless', '43 01 00 00')).toBe('01079000');
  });
});

describe('T=0 fidelity mode', () => {
  it('withholds case-4 data behind 61xx and serves it with GET RESPONSE', () => {
    const { card } = makeCard({ t0: true });
    card.powerOn('contact');
    const fci = `6F08 84 06 ${toHex(A1)}`.replace(/ /g, '');
    expect(run(card, 'contact', `00 A4 04 00 06 ${toHex(A1)} 00`)).toBe('610A');
    expect(run(card, 'contact', '00 C0 00 00 0A')).toBe(`${fci}9000`);
    expect(run(card, 'contact', '00 C0 00 00 0A')).toBe('6985'); // nothing pending
    // Contactless is unaffected.
    card.powerOn('contactless');
    expect(run(card, 'contactless', `00 A4 04 00 06 ${toHex(A1)} 00`)).toBe(`${fci}9000`);
  });

  it('answers 6Cxx to a case-2 command with the wrong Le', () => {
    const { card } = makeCard({ t0: true });
    card.powerOn('contact');
    expect(run(card, 'contact', '00 01 00 00 05')).toBe('6C02');
    expect(run(card, 'contact', '00 01 00 00 02')).toBe('00009000');
  });

  it('serves long responses in chunks and drops them on another command', () => {
    const { card } = makeCard({ t0: true });
    card.powerOn('contact');
    expect(run(card, 'contact', '00 09 03 00 01 00')).toBe('6130'); // 48 bytes, case 3 → 61 30
    expect(run(card, 'contact', '00 C0 00 00 10')).toBe(`${'00'.repeat(16)}6120`);
    expect(run(card, 'contact', '00 C0 00 00 20')).toBe(`${'00'.repeat(32)}9000`);
    expect(run(card, 'contact', '00 09 03 00 01 00')).toBe('6130');
    run(card, 'contact', '00 01 00 00 02');
    expect(run(card, 'contact', '00 C0 00 00 10')).toBe('6985');
  });
});
