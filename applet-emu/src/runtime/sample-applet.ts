/**
 * A small sample applet for tests, benchmarks and as a template for applet authors (type `simtap.sample`).
 *
 * | command | APDU | effect |
 * |---|---|---|
 * | GET DATA | `80 CA 00 00 04` | counter (4 bytes) |
 * | ADD | `80 32 00 00 04 <n(4)>` | one transaction, 3 writes: counter += n, check = ¬counter, log record n (cyclic EF SFI 3); returns the new counter |
 * | FAIL AFTER WRITE | `80 EF 00 00` | writes, then throws 6985 (the write is rolled back) |
 * | BUG | `80 EE 00 00` | throws a `TypeError` (answered 6F00) |
 * | WARN | `80 EC 00 00 00` | data `57 41 52 4E` with SW 6310 |
 * | VERIFY | `00 20 00 00 Lc PIN` | PIN `31 32 33 34`, 3 tries: 63Cx / 6983; success sets `security.pinVerified` |
 * | file commands | `00 B0/D6/B2/DC/E2` | delegated to `ctx.files` |
 *
 * Its ADF (FID 5F00 by default, named with the AID) holds EF 0001 (SFI 1, transparent 16 bytes, update needs the PIN),
 * EF 0002 (SFI 2, linear fixed 4 × 8, 2 records, update needs SM), EF 0003 (SFI 3, cyclic 5 × 4, read needs
 * the PIN, written only by ADD) and EF 0004 (SFI 4, transparent 8 bytes, never readable).
 *
 * @module
 */
import { equalCt, fromHex, readU32, u32 } from '@simtap/sdk/core/bytes';
import { type CommandApdu, IsoException, SW } from '@simtap/sdk/core/iso7816';
import { encodeTlv, tlv } from '@simtap/sdk/core/tlv';
import type { ApduContext, Applet, AppletEnv } from './applet';

const PIN_TRIES = 3;

/** The sample applet (see the module documentation for its commands and files). */
export class SampleApplet implements Applet {
  /** Factory type in card images. */
  static readonly TYPE = 'simtap.sample';
  /** Default AID: F0 ‖ "SIMTAP" ‖ 01 (proprietary, unregistered). */
  static readonly DEFAULT_AID_HEX = 'F0 53 49 4D 54 41 50 01';

  readonly aid: Uint8Array;
  readonly type = SampleApplet.TYPE;
  readonly #fci: Uint8Array;
  readonly #fid: number;

  /**
   * A sample applet with `aid` (default {@link SampleApplet.DEFAULT_AID_HEX}); `fid` is its ADF's file
   * identifier at install (default 5F00; give each sample applet on one card its own).
   */
  constructor(aid: Uint8Array = fromHex(SampleApplet.DEFAULT_AID_HEX), options: { fid?: number } = {}) {
    this.aid = aid.slice();
    this.#fid = options.fid ?? 0x5f00;
    this.#fci = encodeTlv(tlv(0x6f, [tlv(0x84, this.aid), tlv(0xa5, [tlv(0x50, fromHex('53 41 4D 50 4C 45'))])]));
  }

  onInstall(env: AppletEnv): void {
    const fs = env.files;
    const adf = fs.createDf(fs.mf, { fid: this.#fid, name: this.aid });
    fs.createEf(adf, {
      fid: 0x0001,
      sfi: 1,
      structure: 'transparent',
      size: 16,
      access: { read: 'always', update: 'pin' },
    });
    fs.createEf(adf, {
      fid: 0x0002,
      sfi: 2,
      structure: 'linear-fixed',
      recordSize: 8,
      maxRecords: 4,
      records: [fromHex('01 01 01 01 01 01 01 01'), fromHex('02 02 02 02 02 02 02 02')],
      access: { read: 'always', update: 'sm' },
    });
    fs.createEf(adf, {
      fid: 0x0003,
      sfi: 3,
      structure: 'cyclic',
      recordSize: 4,
      maxRecords: 5,
      access: { read: 'pin', update: 'never' },
    });
    fs.createEf(adf, {
      fid: 0x0004,
      sfi: 4,
      structure: 'transparent',
      size: 8,
      access: { read: 'never', update: 'never' },
    });
    env.store.put('counter', 0);
    env.store.put('check', 0xffffffff);
    env.store.put('pin', fromHex('31 32 33 34'));
    env.store.put('tries', PIN_TRIES);
  }

  select(): Uint8Array {
    return this.#fci;
  }

  process(ctx: ApduContext, cmd: CommandApdu): Uint8Array | undefined {
    if (cmd.cla === 0x80) {
      switch (cmd.ins) {
        case 0xca:
          if (cmd.p1 !== 0 || cmd.p2 !== 0) IsoException.throwIt(SW.REFERENCED_DATA_NOT_FOUND);
          return u32(ctx.store.getNumber('counter') ?? 0);
        case 0x32:
          return this.#add(ctx, cmd);
        case 0xef:
          ctx.atomically(() => {
            ctx.store.put('counter', (ctx.store.getNumber('counter') ?? 0) + 1000);
            IsoException.throwIt(SW.CONDITIONS_NOT_SATISFIED);
          });
          return undefined;
        case 0xee:
          throw new TypeError('sample applet bug (on purpose)');
        case 0xec:
          ctx.setStatus(0x6310);
          return fromHex('57 41 52 4E');
        default:
          return IsoException.throwIt(SW.INS_NOT_SUPPORTED);
      }
    }
    if ((cmd.cla & 0x80) !== 0) return IsoException.throwIt(SW.CLA_NOT_SUPPORTED);
    if (cmd.ins === 0x20) return this.#verify(ctx, cmd);
    if (ctx.files.handles(cmd.ins)) return ctx.files.handle(cmd);
    return IsoException.throwIt(SW.INS_NOT_SUPPORTED);
  }

  #add(ctx: ApduContext, cmd: CommandApdu): Uint8Array {
    if (cmd.p1 !== 0 || cmd.p2 !== 0) IsoException.throwIt(SW.INCORRECT_P1P2);
    if (cmd.data.length !== 4) IsoException.throwIt(SW.WRONG_LENGTH);
    const n = readU32(cmd.data, 0);
    const counter = ctx.store.getNumber('counter') ?? 0;
    if (counter + n > 0xffffffff) IsoException.throwIt(SW.WRONG_DATA);
    const next = counter + n;
    const log = ctx.files.fs.bySfi(ctx.files.fs.findByName(this.aid)!, 3)!;
    ctx.atomically(() => {
      ctx.store.put('counter', next);
      ctx.store.put('check', (0xffffffff - next) >>> 0);
      ctx.files.fs.appendRecord(log, cmd.data);
    });
    return u32(next);
  }

  #verify(ctx: ApduContext, cmd: CommandApdu): undefined {
    if (cmd.p1 !== 0 || cmd.p2 !== 0) IsoException.throwIt(SW.INCORRECT_P1P2);
    if (cmd.data.length === 0) IsoException.throwIt(SW.WRONG_LENGTH);
    const tries = ctx.store.getNumber('tries') ?? 0;
    if (tries === 0) IsoException.throwIt(SW.AUTHENTICATION_METHOD_BLOCKED);
    const pin = ctx.store.getBytes('pin') ?? new Uint8Array(0);
    if (!equalCt(pin, cmd.data)) {
      ctx.atomically(() => ctx.store.put('tries', tries - 1));
      ctx.security.pinVerified = false;
      IsoException.throwIt(0x63c0 | (tries - 1));
    }
    if (tries !== PIN_TRIES) ctx.atomically(() => ctx.store.put('tries', PIN_TRIES));
    ctx.security.pinVerified = true;
    return undefined;
  }
}
