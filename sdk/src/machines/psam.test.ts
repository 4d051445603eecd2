import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../core/bytes';
import { ArgumentError, SimtapError } from '../core/errors';
import { ConditionsNotSatisfiedError, StatusWordError } from '../core/iso7816';
import { MacError } from './errors';
import * as psamModule from './psam';
import { PsamDriver, type PsamPurchaseRequest } from './psam';
import { ScriptedChannel } from './test-support';

const open = [
  { cmd: '00A4040008A00000063201010600', rsp: '9000' },
  { cmd: '00B0960006', rsp: '4401000000029000' },
];
const req: PsamPurchaseRequest = {
  cardRandom: fromHex('11223344'),
  offlineCounter: 0x0102,
  amount: 1250,
  tti: 0x06,
  date: fromHex('20260301'),
  time: fromHex('100304'),
  keyVersion: 1,
  algorithmId: 0,
  cardSerial: fromHex('00004401202600000001'),
};

describe('PsamDriver', () => {
  it('opens by AID (default) or FID and reads the terminal ID', async () => {
    const a = new PsamDriver(new ScriptedChannel(open));
    expect(a.isOpen).toBe(false);
    expect(() => a.terminalId).toThrow(SimtapError);
    expect(toHex(await a.open())).toBe('440100000002');
    expect(a.isOpen).toBe(true);
    expect(toHex(a.terminalId)).toBe('440100000002');
    const ch = new ScriptedChannel([{ cmd: '00A4000002DF0100', rsp: '9000' }, open[1]!]);
    await new PsamDriver(ch, { selectBy: 'fid' }).open();
    expect(ch.remaining).toBe(0);
    expect(() => new PsamDriver(ch, { aid: new Uint8Array(2) })).toThrow(ArgumentError);
    expect(() => new PsamDriver(ch, { selectBy: 'name' as never })).toThrow(ArgumentError);
  });

  it('sends INIT_SAM_FOR_PURCHASE one-level (1C) and two-level (24) and tracks the open session', async () => {
    const ch = new ScriptedChannel([
      ...open,
      {
        cmd: '807000001C11223344010200000' + '4E2062026030110030401004401202600000001' + '08',
        rsp: '0000002AA1B2C3D49000',
      },
      { cmd: '8072000004', rsp: '9000' },
      { cmd: '8070000024', rsp: '0000002BA1B2C3D49000' },
    ]);
    const psam = new PsamDriver(ch);
    await psam.open();
    const s = await psam.initForPurchase(req);
    expect(s.terminalTxnSeq).toBe(42);
    expect(toHex(s.mac1)).toBe('A1B2C3D4');
    expect(psam.openSessionSeq).toBe(42);
    await psam.verifyMac2(fromHex('01020304'));
    expect(psam.openSessionSeq).toBeUndefined();
    await psam.initForPurchase({
      ...req,
      cardSerial: req.cardSerial.subarray(2),
      issuerId: fromHex('4401000000000000'),
    });
    expect(ch.sent.at(-1)).toBe(
      '807000002411223344010200000' + '4E20620260301100304010044012026000000014401000000000000' + '08',
    );
    expect(psam.apduCount).toBe(5);
  });

  it('maps MAC2 refusals: 9302 → MacError(psam), 6985 → ConditionsNotSatisfiedError', async () => {
    const psam = new PsamDriver(
      new ScriptedChannel([
        { cmd: '8072', rsp: '9302' },
        { cmd: '8072', rsp: '6985' },
      ]),
    );
    const e = await psam.verifyMac2(fromHex('00000000')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MacError);
    expect(e).toMatchObject({ origin: 'psam', code: 'SW_9302', command: 'PSAM_CREDIT_FOR_PURCHASE' });
    await expect(psam.verifyMac2(fromHex('00000000'))).rejects.toBeInstanceOf(ConditionsNotSatisfiedError);
  });

  it('sends DES INIT (80 1A) and DES CRYPT (80 FA) with a general-purpose key; either ends the MAC2 session', async () => {
    const ch = new ScriptedChannel([
      { cmd: '807000001C', rsp: '0000002AA1B2C3D49000' },
      { cmd: '801A2201084401202600000001', rsp: '9000' },
      { cmd: '80FA0100080102030405060708' + '00', rsp: 'DEADBEEF9000' },
      { cmd: '801A440108', rsp: '6A88' }, // a usage the PSAM does not hold (e.g. the issuer's TAC key)
    ]);
    const psam = new PsamDriver(ch);
    await psam.initForPurchase(req);
    expect(psam.openSessionSeq).toBe(42);
    await psam.desInit(0x22, 1, fromHex('4401202600000001'));
    expect(psam.openSessionSeq).toBeUndefined();
    expect(toHex(await psam.desCrypt(0x01, 0x00, fromHex('0102030405060708')))).toBe('DEADBEEF');
    const e = await psam.desInit(0x44, 1, new Uint8Array(8)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(StatusWordError);
    expect(e).toMatchObject({ code: 'SW_6A88', command: 'PSAM_DES_INIT' });
  });

  it("offers no way to compute a TAC: the TAC is the card's proof to the issuer", () => {
    expect(Object.keys(psamModule).filter((k) => /tac/i.test(k))).toEqual([]);
    expect(Object.getOwnPropertyNames(PsamDriver.prototype).filter((k) => /tac/i.test(k))).toEqual([]);
  });

  it('validates arguments before sending anything', async () => {
    const ch = new ScriptedChannel();
    const psam = new PsamDriver(ch);
    await expect(psam.initForPurchase({ ...req, cardRandom: new Uint8Array(3) })).rejects.toBeInstanceOf(ArgumentError);
    await expect(psam.initForPurchase({ ...req, amount: -1 })).rejects.toBeInstanceOf(ArgumentError);
    await expect(psam.initForPurchase({ ...req, cardSerial: new Uint8Array(9) })).rejects.toBeInstanceOf(ArgumentError);
    await expect(psam.verifyMac2(new Uint8Array(5))).rejects.toBeInstanceOf(ArgumentError);
    await expect(psam.desInit(1, 1, new Uint8Array(7))).rejects.toBeInstanceOf(ArgumentError);
    await expect(psam.desCrypt(1, 0, new Uint8Array(0))).rejects.toBeInstanceOf(ArgumentError);
    expect(ch.sent).toEqual([]);
  });
});
