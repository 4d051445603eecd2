import { fromHex, hex, toHex } from '@simtap/sdk/core/bytes';
import { type CommandApdu, IsoException } from '@simtap/sdk/core/iso7816';
import { decodeTlvOne, findTlv } from '@simtap/sdk/core/tlv';
import { describe, expect, it } from 'vitest';
import type { ApduContext, Applet, AppletEnv, CardInterface } from './applet';
import { Card } from './card';
import type { ElementaryFile } from './file-system';
import { SampleApplet } from './sample-applet';

const SAMPLE = fromHex(SampleApplet.DEFAULT_AID_HEX);
const SM_AID = hex`F0 00 00 00 53 4D`;
const ISD = hex`A0 00 00 01 51 00 00 00`;

/** An applet without files standing in for the issuer security domain. */
class PlainApplet implements Applet {
  constructor(readonly aid: Uint8Array) {}
  select(): undefined {
    return undefined;
  }
  process(): Uint8Array | undefined {
    throw new IsoException(0x6d00);
  }
}

/**
 * An applet whose EF needs SM: a command with CLA SM bits counts as verified SM (the applet "checked the MAC");
 * INS 01 turns session-level SM on for the channel.
 */
class SmApplet implements Applet {
  readonly aid = SM_AID;
  onInstall(env: AppletEnv): void {
    const adf = env.files.createDf(env.files.mf, { fid: 0x6f00, name: this.aid });
    env.files.createEf(adf, {
      fid: 0x0101,
      sfi: 1,
      structure: 'transparent',
      size: 4,
      access: { read: 'sm', update: 'pin+sm' },
    });
  }
  select(): undefined {
    return undefined;
  }
  process(ctx: ApduContext, cmd: CommandApdu): Uint8Array | undefined {
    if (cmd.ins === 0x01) {
      ctx.security.secureMessaging = true;
      return undefined;
    }
    if (cmd.ins === 0x02) {
      ctx.security.pinVerified = true;
      return undefined;
    }
    return ctx.files.handle(cmd, { secureMessaging: (cmd.cla & 0x0c) !== 0 });
  }
}

function makeCard(): { card: Card; iccid: ElementaryFile } {
  const card = new Card({ logger: { error: () => undefined } });
  card.registry.install(new PlainApplet(ISD), { default: true });
  card.registry.install(new SampleApplet());
  card.registry.install(new SmApplet());
  const iccid = card.files.createEf(card.files.mf, {
    fid: 0x2fe2,
    sfi: 2,
    structure: 'transparent',
    content: hex`98 68 00 00 00 00 00 00 00 F1`,
  });
  card.files.createEf(card.files.mf, {
    fid: 0x2f05,
    sfi: 5,
    structure: 'linear-variable',
    recordSize: 8,
    maxRecords: 3,
    records: [hex`61 01 AA`, hex`62 02 BB BB`, hex`61 01 CC`],
    access: { read: 'always', update: 'always' },
  });
  card.powerOn('contact');
  card.powerOn('contactless');
  return { card, iccid };
}

function run(card: Card, apdu: string, iface: CardInterface = 'contact'): string {
  return toHex(card.transmit(iface, fromHex(apdu)));
}
const sw = (r: string): string => r.slice(-4);
const selectSample = `00 A4 04 00 08 ${SampleApplet.DEFAULT_AID_HEX} 00`;

describe('READ BINARY / UPDATE BINARY', () => {
  it('reads MF files through the runtime while an applet without ADF is selected', () => {
    const { card } = makeCard();
    expect(run(card, '00 B0 82 00 0A')).toBe('986800000000000000F19000');
    expect(run(card, '00 B0 00 08 02')).toBe('00F19000'); // current EF after the SFI reference
    expect(run(card, '00 B0 82 00 00')).toBe('986800000000000000F19000'); // Le 00: all there is
    expect(run(card, '00 B0 82 08 04')).toBe('00F16282'); // end of file before Le bytes
    expect(run(card, '00 B0 82 0A 01')).toBe('6B00');
    expect(run(card, '00 B0 9E 00 01')).toBe('6A82'); // SFI 30 not in the MF
    expect(run(card, '00 B0 A2 00 01')).toBe('6A86'); // b7b6 not 00
    expect(run(card, '00 B0 82 00')).toBe('6700'); // no Le
    expect(run(card, '00 B0 85 00 01')).toBe('6981'); // a record EF
    expect(run(card, '00 D6 82 00 01 00')).toBe('6982'); // update: never
    expect(run(card, '0C B0 82 00 01')).toBe('6882'); // the runtime cannot verify SM
  });

  it('answers 6986 without a current EF', () => {
    const { card } = makeCard();
    expect(run(card, '00 B0 00 00 01')).toBe('6986');
    expect(run(card, '00 B2 01 04 00')).toBe('6986');
  });

  it('checks the PIN condition of the applet file and updates it', () => {
    const { card } = makeCard();
    expect(sw(run(card, selectSample))).toBe('9000');
    expect(run(card, '00 D6 81 02 02 AB CD')).toBe('6982');
    expect(run(card, '00 20 00 00 04 31 32 33 34')).toBe('9000');
    expect(run(card, '00 D6 81 02 02 AB CD')).toBe('9000');
    expect(run(card, '00 B0 81 00 04')).toBe('0000ABCD9000');
    expect(run(card, '00 D6 00 0F 02 01 02')).toBe('6700'); // runs past the end
    expect(run(card, '00 D6 00 11 01 01')).toBe('6B00'); // offset beyond the end
    expect(run(card, '00 D6 00 00')).toBe('6700'); // no data
    expect(run(card, '00 B0 84 00 01')).toBe('6982'); // read: never
    // The flag belongs to the selection: reselecting clears it.
    run(card, selectSample);
    expect(run(card, '00 D6 81 02 02 AB CD')).toBe('6982');
  });

  it('honours SM conditions verified by the applet or set for the session', () => {
    const { card } = makeCard();
    run(card, `00 A4 04 00 06 ${toHex(SM_AID)}`);
    expect(run(card, '00 B0 81 00 04')).toBe('6982');
    expect(run(card, '04 B0 81 00 04')).toBe('000000009000');
    expect(run(card, '04 D6 81 00 01 01')).toBe('6982'); // pin+sm: no PIN yet
    run(card, '00 02 00 00');
    expect(run(card, '04 D6 81 00 01 01')).toBe('9000');
    run(card, '00 01 00 00');
    expect(run(card, '00 B0 81 00 01')).toBe('019000');
  });
});

describe('READ RECORD / UPDATE RECORD / APPEND RECORD', () => {
  it('reads records by SFI and number', () => {
    const { card } = makeCard();
    run(card, selectSample);
    expect(run(card, '00 B2 01 14 00')).toBe('01010101010101019000');
    expect(run(card, '00 B2 02 14 08')).toBe('02020202020202029000');
    expect(run(card, '00 B2 02 14 0A')).toBe('02020202020202026282');
    expect(run(card, '00 B2 03 14 00')).toBe('6A83');
    expect(run(card, '00 B2 00 04 00')).toBe('02020202020202029000'); // P1 00: current record
    expect(run(card, '00 B2 01 FC 00')).toBe('6A86'); // SFI 31
    expect(run(card, '00 B2 01 0C 00')).toBe('6981'); // SFI 1 is transparent
    expect(run(card, '00 B2 01 15 00')).toBe('6A81'); // "P1 to last" not supported
    expect(run(card, '00 B2 01 17 00')).toBe('6A86');
    expect(run(card, '00 B2 01 1C 00')).toBe('6982'); // cyclic log: read needs the PIN
  });

  it('moves the record pointer and searches record identifiers', () => {
    const { card } = makeCard();
    expect(run(card, '00 B2 00 28 00')).toBe('6101AA9000'); // SFI 5, first
    expect(run(card, '00 B2 00 02 00')).toBe('6202BBBB9000'); // next
    expect(run(card, '00 B2 00 02 00')).toBe('6101CC9000');
    expect(run(card, '00 B2 00 02 00')).toBe('6A83');
    expect(run(card, '00 B2 00 03 00')).toBe('6202BBBB9000'); // previous
    expect(run(card, '00 B2 00 01 00')).toBe('6101CC9000'); // last
    expect(run(card, '00 B2 61 00 00')).toBe('6101AA9000'); // first with identifier 61
    expect(run(card, '00 B2 61 02 00')).toBe('6101CC9000'); // next 61
    expect(run(card, '00 B2 61 02 00')).toBe('6A83');
    expect(run(card, '00 B2 62 01 00')).toBe('6202BBBB9000'); // last 62
  });

  it('updates and appends records with length checks', () => {
    const { card } = makeCard();
    expect(run(card, '00 DC 02 2C 02 99 99')).toBe('9000'); // variable-length record changes size
    expect(run(card, '00 B2 02 2C 00')).toBe('99999000');
    expect(run(card, '00 B2 03 2C 00')).toBe('6101CC9000');
    expect(run(card, '00 DC 02 2C 09 000000000000000000')).toBe('6700');
    expect(run(card, '00 DC 04 2C 01 00')).toBe('6A83');
    expect(run(card, '00 E2 00 28 01 77')).toBe('6A84'); // full
    expect(run(card, '00 E2 01 28 01 77')).toBe('6A86');
    expect(run(card, '00 DC 01 28 01 77')).toBe('6A86'); // mode 000 not supported for update
    run(card, selectSample);
    expect(run(card, '00 DC 01 14 08 0303030303030303')).toBe('6982'); // update: sm
    expect(run(card, '00 DC 01 14 04 03030303')).toBe('6982');
  });

  it('appends to a cyclic file newest first and drops the oldest', () => {
    const { card } = makeCard();
    run(card, selectSample);
    run(card, '00 20 00 00 04 31 32 33 34');
    for (let i = 1; i <= 6; i++) expect(run(card, `80 32 00 00 04 0000000${i}`).slice(-4)).toBe('9000');
    expect(run(card, '00 B2 01 1C 00')).toBe('000000069000');
    expect(run(card, '00 B2 05 1C 00')).toBe('000000029000');
    expect(run(card, '00 B2 06 1C 00')).toBe('6A83');
  });
});

describe('SELECT by FID and path', () => {
  it('selects EFs by FID and answers their FCP', () => {
    const { card } = makeCard();
    const fcp = fromHex(run(card, '00 A4 00 00 02 2F E2 00').slice(0, -4));
    const t = decodeTlvOne(fcp);
    expect(t.tag).toBe(0x62);
    expect(toHex(findTlv(t, '62/83')!.value)).toBe('2FE2');
    expect(toHex(findTlv(t, '62/80')!.value)).toBe('000A');
    expect(toHex(findTlv(t, '62/88')!.value)).toBe('10');
    expect(run(card, '00 B0 00 00 02')).toBe('98689000');
    expect(run(card, '00 A4 02 0C 02 2F 05')).toBe('9000');
    expect(run(card, '00 B2 01 04 00')).toBe('6101AA9000');
    expect(run(card, '00 A4 00 0C 02 12 34')).toBe('6A82');
    expect(run(card, '00 A4 00 0C 01 12')).toBe('6700');
    expect(run(card, '00 A4 00 01 02 2F E2')).toBe('6A86');
  });

  it('enters an ADF by FID or path and selects its applet', () => {
    const { card } = makeCard();
    expect(card.selectedAid('contact')).toEqual(ISD);
    const fci = run(card, '00 A4 00 00 02 5F 00 00');
    expect(fci).toContain(SampleApplet.DEFAULT_AID_HEX.replace(/ /g, ''));
    expect(card.selectedAid('contact')).toEqual(SAMPLE);
    expect(run(card, '00 A4 02 0C 02 00 01')).toBe('9000');
    expect(run(card, '00 B0 00 00 02')).toBe('00009000');
    expect(run(card, '00 A4 03 0C')).toBe('9000'); // parent of the ADF (the cursor is on the ADF)
    // A path from the MF into another applet's ADF switches applets.
    expect(run(card, '00 A4 08 0C 04 6F 00 01 01')).toBe('9000');
    expect(card.selectedAid('contact')).toEqual(SM_AID);
    expect(run(card, '00 A4 09 0C 00')).toBe('6700');
    expect(run(card, '00 A4 08 0C 04 6F 00 99 99')).toBe('6A82');
  });

  it('walks parent, child DF and the MF', () => {
    const { card } = makeCard();
    expect(sw(run(card, '00 A4 01 00 02 5F 00'))).toBe('9000');
    expect(sw(run(card, '00 A4 03 04'))).toBe('9000'); // back to the MF, FCP
    const mf = decodeTlvOne(fromHex(run(card, '00 A4 00 04 02 3F 00').slice(0, -4)));
    expect(toHex(findTlv(mf, '62/83')!.value)).toBe('3F00');
    expect(run(card, '00 A4 03 0C')).toBe('6A82'); // the MF has no parent
    expect(run(card, '00 A4 01 0C 02 2F E2')).toBe('6A82'); // an EF is not a child DF
    expect(sw(run(card, '00 A4 00 00 00'))).toBe('9000'); // empty FID: MF
  });

  it('answers 6A82 for the ADF of a locked applet', () => {
    const { card } = makeCard();
    card.registry.setLifecycle(SAMPLE, 0x83);
    expect(run(card, '00 A4 00 0C 02 5F 00')).toBe('6A82');
    expect(card.selectedAid('contact')).toEqual(ISD);
  });

  it('keeps the file cursor per channel', () => {
    const { card } = makeCard();
    run(card, '00 A4 00 0C 02 2F E2');
    run(card, '00 70 00 01 00');
    expect(run(card, '01 B0 00 00 01')).toBe('6986');
    expect(run(card, '00 B0 00 00 01')).toBe('989000');
  });
});
