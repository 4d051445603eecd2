/**
 * The UICC side of the SIM: the files ETSI TS 102 221 puts under the MF and the USIM application of 3GPP TS
 * 31.102, beside the payment applets — what a phone and a SIM tool read first.
 *
 * ```text
 * MF 3F00
 * ├── EF.DIR    2F00  linear fixed, SFI 1E  the applications: the USIM and the e-purse, each with its label
 * ├── EF.ICCID  2FE2  transparent, SFI 02   the ICCID, BCD with swapped nibbles
 * ├── EF.PL     2F05  transparent, SFI 05   preferred languages
 * ├── EF.ARR    2F06  linear fixed, SFI 06  the access rules every FCP's `8B` points into
 * ├── DF.TELECOM 7F10
 * │   └── EF.MSISDN 6F40  linear fixed      (what a 2G handset reads)
 * ├── DF.GSM    7F20
 * │   ├── EF.IMSI 6F07, EF.AD 6FAD, EF.SPN 6F46
 * └── ADF.USIM  (AID, no FID)
 *     ├── EF.LI 6F05 (SFI 02), EF.AD 6FAD (SFI 03), EF.UST 6F38 (SFI 04), EF.IMSI 6F07 (SFI 07)
 *     ├── EF.ARR 6F06 (SFI 17), EF.MSISDN 6F40, EF.SPN 6F46
 * ```
 *
 * Every file reads `always` and updates `never` (the operator changes them over the air as the issuer, not the
 * handset); PIN1 is shipped disabled, so no VERIFY is needed. The whole tree is on the contact interface only: over
 * contactless (the NFC link the payment terminals use) the card shows its payment applications and nothing that
 * identifies the subscriber (ICCID, IMSI, MSISDN). The values come from the profile (`card.usim` and each card's
 * `iccid`, `imsi`, `msisdn`; see `docs/card.md`).
 * @module
 */
import { toHex } from '@simtap/sdk/core/bytes';
import { type CommandApdu, IsoException, SW } from '@simtap/sdk/core/iso7816';
import type { CardProfile, SimtapProfile } from '@simtap/sdk/core/profile';
import { encodeTlv, tlv } from '@simtap/sdk/core/tlv';
import type { ApduContext, Applet, AppletEnv, AppletFactory, CardInterface } from '../../runtime/applet';
import { LIFECYCLE } from '../../runtime/applet';
import type { Card } from '../../runtime/card';
import { ARR_DF_RECORD, arrRecords, fileControlParameters, fileManagementData } from '../../runtime/file-commands';
import type { DedicatedFile, EfSpec, FileSystem } from '../../runtime/file-system';

/** The UICC's file identifiers. */
export const UICC_FID = {
  DIR: 0x2f00,
  ICCID: 0x2fe2,
  PL: 0x2f05,
  ARR: 0x2f06,
  DF_TELECOM: 0x7f10,
  DF_GSM: 0x7f20,
  LI: 0x6f05,
  ARR_USIM: 0x6f06,
  IMSI: 0x6f07,
  UST: 0x6f38,
  MSISDN: 0x6f40,
  SPN: 0x6f46,
  AD: 0x6fad,
} as const;

/** The contents of the UICC's files for one card, encoded. */
export interface UiccContents {
  readonly dir: readonly Uint8Array[];
  readonly iccid: Uint8Array;
  readonly languages: Uint8Array;
  readonly imsi: Uint8Array;
  readonly ad: Uint8Array;
  readonly ust: Uint8Array;
  readonly msisdn: Uint8Array;
  readonly spn: Uint8Array;
}

/** `s` as BCD digits with the nibbles of each byte swapped (`F` pads an odd count): ICCID, dialling numbers. */
export function swappedBcd(digits: string): Uint8Array {
  const d = digits.length % 2 === 0 ? digits : `${digits}F`;
  const out = new Uint8Array(d.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(d[2 * i + 1]! + d[2 * i]!, 16);
  return out;
}

/** EF.ICCID (TS 102 221 §13.2): the ICCID as the profile writes it (`8986…0F`), nibbles swapped. */
export function encodeIccid(iccid: string): Uint8Array {
  return swappedBcd(iccid.toUpperCase());
}

/** EF.IMSI (TS 31.102 §4.2.2): length, then the digits after a parity nibble (`9` odd count, `1` even). */
export function encodeImsi(imsi: string): Uint8Array {
  if (!/^[0-9]{6,15}$/.test(imsi)) throw new RangeError('an IMSI is 6–15 digits');
  const body = swappedBcd(`${imsi.length % 2 === 1 ? '9' : '1'}${imsi}`);
  return Uint8Array.of(body.length, ...body, ...new Array<number>(8 - body.length).fill(0xff));
}

/** An ADN-format record (TS 31.102 §4.2.26, TS 51.011 §10.5.1): alpha, BCD length, TON/NPI, number, CCP, ext. */
export function encodeMsisdnRecord(alpha: string, msisdn: string, countryCode = '86'): Uint8Array {
  const alphaBytes = new Uint8Array(10).fill(0xff);
  alphaBytes.set(new TextEncoder().encode(alpha.slice(0, 10)));
  const number = swappedBcd(`${countryCode}${msisdn}`);
  if (number.length > 10) throw new RangeError('the number does not fit an ADN record');
  const dialling = new Uint8Array(10).fill(0xff);
  dialling.set(number);
  // TON/NPI 91: international number, ISDN/telephony numbering plan (E.164).
  return Uint8Array.of(...alphaBytes, number.length + 1, 0x91, ...dialling, 0xff, 0xff);
}

/** EF.SPN (TS 31.102 §4.2.12): display condition 01, then the name (default alphabet), `FF`-padded to 16. */
export function encodeSpn(name: string): Uint8Array {
  const out = new Uint8Array(17).fill(0xff);
  out[0] = 0x01;
  out.set(new TextEncoder().encode(name.slice(0, 16)), 1);
  return out;
}

/** An EF.DIR record (TS 102 221 §13.1): application template `61` { `4F` AID, `50` label }. */
export function dirRecord(aid: Uint8Array, label: string): Uint8Array {
  return encodeTlv(tlv(0x61, [tlv(0x4f, aid), tlv(0x50, new TextEncoder().encode(label))]));
}

/** Pads each record with `FF` to the longest (a linear fixed EF's records all have one length). */
function fixedRecords(records: readonly Uint8Array[]): Uint8Array[] {
  const size = Math.max(...records.map((r) => r.length));
  return records.map((r) => {
    const out = new Uint8Array(size).fill(0xff);
    out.set(r);
    return out;
  });
}

/** The labels EF.DIR gives the applications. */
export const USIM_LABEL = 'USIM';
export const EPURSE_LABEL = 'PBOC e-purse';

/** The UICC contents of `card` from the profile. */
export function uiccContents(profile: SimtapProfile, card: CardProfile): UiccContents {
  const u = profile.card.usim;
  const languages = new TextEncoder().encode(u.languages.join(''));
  const mnc = u.mncLength;
  // UST: service 19 (service provider name) and 21 (MSISDN): byte 3, bits 3 and 5.
  const ust = Uint8Array.of(0x00, 0x00, 0x14, 0x00);
  return {
    dir: fixedRecords([dirRecord(u.aid, USIM_LABEL), dirRecord(profile.card.epurse.aid, EPURSE_LABEL)]),
    iccid: encodeIccid(card.iccid),
    languages,
    imsi: encodeImsi(card.imsi),
    // UE operation mode 00 (normal), no additional information, the MNC's length.
    ad: Uint8Array.of(0x00, 0x00, 0x00, mnc),
    ust,
    msisdn: encodeMsisdnRecord('My number', card.msisdn),
    spn: encodeSpn(u.serviceProviderName),
  };
}

const READ_ONLY = { read: 'always', update: 'never' } as const;

function arrEf(fid: number, sfi: number): EfSpec {
  const records = arrRecords();
  return {
    fid,
    sfi,
    structure: 'linear-fixed',
    recordSize: records[0]!.length,
    maxRecords: records.length,
    records,
    access: READ_ONLY,
    contactOnly: true,
  };
}

function transparent(fid: number, content: Uint8Array, sfi?: number): EfSpec {
  return {
    fid,
    ...(sfi === undefined ? {} : { sfi }),
    structure: 'transparent',
    content,
    access: READ_ONLY,
    contactOnly: true,
  };
}

function msisdnEf(record: Uint8Array): EfSpec {
  return {
    fid: UICC_FID.MSISDN,
    structure: 'linear-fixed',
    recordSize: record.length,
    maxRecords: 1,
    records: [record],
    access: READ_ONLY,
    contactOnly: true,
  };
}

/**
 * The USIM application (3GPP TS 31.102): its ADF, named with its AID, holds the subscriber's files. Selected by
 * AID on the contact interface; it answers SELECT with the ADF's FCP (P2 04 or 00; the FMD `64 00` for 08, as a
 * file SELECT does; nothing for 0C) and leaves the file commands to the runtime's access rules (STATUS is the
 * runtime's too). No authentication algorithm: this is the SIM of an emulator, not of a network.
 */
export class UsimApplet implements Applet {
  static readonly TYPE = 'simtap.usim';
  readonly type = UsimApplet.TYPE;
  readonly aid: Uint8Array;
  readonly #contents: UiccContents | undefined;

  /** `contents`: the files to create at install (a restored card has them already). */
  constructor(aid: Uint8Array, contents?: UiccContents) {
    this.aid = aid.slice();
    this.#contents = contents;
  }

  acceptsInterface(iface: CardInterface): boolean {
    return iface === 'contact';
  }

  onInstall(env: AppletEnv): void {
    const c = this.#contents;
    if (c === undefined) throw new RangeError('UsimApplet: the files to create are missing');
    const fs = env.files;
    const adf = fs.createDf(fs.mf, { name: this.aid, contactOnly: true });
    fs.createEf(adf, transparent(UICC_FID.LI, c.languages, 0x02));
    fs.createEf(adf, transparent(UICC_FID.AD, c.ad, 0x03));
    fs.createEf(adf, transparent(UICC_FID.UST, c.ust, 0x04));
    fs.createEf(adf, transparent(UICC_FID.IMSI, c.imsi, 0x07));
    fs.createEf(adf, arrEf(UICC_FID.ARR_USIM, 0x17));
    fs.createEf(adf, msisdnEf(c.msisdn));
    fs.createEf(adf, transparent(UICC_FID.SPN, c.spn));
  }

  select(ctx: ApduContext): Uint8Array | undefined {
    const p2 = ctx.apdu.length >= 4 ? ctx.apdu[3]! : 0x0c;
    if ((p2 & 0x0c) === 0x0c) return undefined;
    if ((p2 & 0x0c) === 0x08) return fileManagementData();
    const adf = ctx.card.files.findByName(this.aid);
    return adf === undefined ? undefined : fileControlParameters(ctx.card.files, adf);
  }

  process(ctx: ApduContext, cmd: CommandApdu): Uint8Array | undefined {
    if ((cmd.cla & 0x80) === 0 && ctx.files.handles(cmd.ins)) return ctx.files.handle(cmd);
    return IsoException.throwIt(SW.INS_NOT_SUPPORTED);
  }
}

/** The factory that restores the USIM from a card image. */
export const USIM_FACTORIES: Readonly<Record<string, AppletFactory>> = Object.freeze({
  [UsimApplet.TYPE]: (env: AppletEnv) => new UsimApplet(env.aid),
});

/** The DF under the MF with `fid`, made contact-only, or the existing one. */
function telecomDf(fs: FileSystem, fid: number): DedicatedFile {
  const existing = fs.child(fs.mf, fid);
  if (existing?.kind === 'df') return existing;
  return fs.createDf(fs.mf, { fid, contactOnly: true });
}

/**
 * Creates the UICC files under the MF (EF.DIR, EF.ICCID, EF.PL, EF.ARR, DF.TELECOM, DF.GSM) and installs the USIM
 * (selectable). Run once, on a card being created.
 */
export function installUicc(card: Card, profile: SimtapProfile, cardProfile: CardProfile): UsimApplet {
  const c = uiccContents(profile, cardProfile);
  const fs = card.files;
  return card.atomically(() => {
    fs.createEf(fs.mf, {
      fid: UICC_FID.DIR,
      sfi: 0x1e,
      structure: 'linear-fixed',
      recordSize: c.dir[0]!.length,
      maxRecords: c.dir.length,
      records: c.dir,
      access: READ_ONLY,
      contactOnly: true,
    });
    fs.createEf(fs.mf, transparent(UICC_FID.ICCID, c.iccid, 0x02));
    fs.createEf(fs.mf, transparent(UICC_FID.PL, c.languages, 0x05));
    fs.createEf(fs.mf, arrEf(UICC_FID.ARR, 0x06));
    const telecom = telecomDf(fs, UICC_FID.DF_TELECOM);
    fs.createEf(telecom, msisdnEf(c.msisdn));
    const gsm = telecomDf(fs, UICC_FID.DF_GSM);
    fs.createEf(gsm, transparent(UICC_FID.IMSI, c.imsi));
    fs.createEf(gsm, transparent(UICC_FID.AD, c.ad));
    fs.createEf(gsm, transparent(UICC_FID.SPN, c.spn));
    const usim = new UsimApplet(profile.card.usim.aid, c);
    card.registry.install(usim, { lifecycle: LIFECYCLE.SELECTABLE });
    return usim;
  });
}

/** @internal For docs and tests: the hex of the EF.ARR record a DF's FCP points to. */
export function dfArrRecordHex(): string {
  return toHex(arrRecords()[ARR_DF_RECORD - 1]!);
}
