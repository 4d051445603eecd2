import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../bytes';
import { ArgumentError } from '../errors';
import { parseCommandApdu } from '../iso7816';
import { PBOC_COMMANDS, type PbocCommandName, pbocApdu, pbocCommandsOf } from './commands';
import { debitCommandData, initializeCommandData } from './formats';

const hexOf = (b: Uint8Array) => toHex(b).toUpperCase();

describe('PBOC_COMMANDS', () => {
  it('writes each header from its CLA, INS, P1 and P2 (lower-case letters where a byte is a parameter)', () => {
    const hex = (v: number) => v.toString(16).toUpperCase().padStart(2, '0');
    for (const [name, c] of Object.entries(PBOC_COMMANDS)) {
      const [cla, ins, p1, p2] = c.header.split(' ');
      expect([cla, ins], name).toEqual([hex(c.cla), hex(c.ins)]);
      for (const [token, v] of [
        [p1!, c.p1],
        [p2!, c.p2],
      ] as const) {
        if (v === null) expect(token, name).toMatch(/^[a-z]{2}$/);
        else expect(token, name).toBe(hex(v));
      }
    }
  });

  it('gives every command its own bytes, except DEBIT FOR (CAPP) PURCHASE, which differ only by session', () => {
    const seen = new Map<string, string>();
    for (const [name, c] of Object.entries(PBOC_COMMANDS)) {
      const key = `${c.device} ${c.header}`;
      if (seen.has(key)) expect([seen.get(key), name]).toEqual(['DEBIT_FOR_PURCHASE', 'DEBIT_FOR_CAPP_PURCHASE']);
      seen.set(key, name);
    }
  });

  it('splits into the e-purse, the PSAM and the runtime commands', () => {
    const all = [
      ...Object.keys(pbocCommandsOf('card', 'applet')),
      ...Object.keys(pbocCommandsOf('card', 'runtime')),
      ...Object.keys(pbocCommandsOf('psam', 'applet')),
      ...Object.keys(pbocCommandsOf('psam', 'runtime')),
    ];
    expect(all.sort()).toEqual(Object.keys(PBOC_COMMANDS).sort());
    expect(Object.keys(pbocCommandsOf('psam', 'applet')).sort()).toEqual([
      'PSAM_CREDIT_FOR_PURCHASE',
      'PSAM_DES_CRYPT',
      'PSAM_DES_INIT',
      'PSAM_INIT_FOR_PURCHASE',
    ]);
  });
});

describe('pbocApdu', () => {
  it('builds the commands of the published examples (pboc-ep-mac.json)', () => {
    const init = initializeCommandData.encode({ keyIndex: 1, amount: 0x1000, terminalId: fromHex('001122334455') });
    expect(hexOf(pbocApdu('INITIALIZE_FOR_PURCHASE', { p2: 0x02, data: init }))).toBe(
      '805001020B0100001000001122334455',
    );
    expect(hexOf(pbocApdu('INITIALIZE_FOR_LOAD', { p2: 0x01, data: init, le: 0x10 }))).toBe(
      '805000010B010000100000112233445510',
    );
    const debit = debitCommandData.encode({
      terminalTxnSeq: 1,
      date: fromHex('20120229'),
      time: fromHex('135100'),
      mac1: fromHex('F15CAB75'),
    });
    expect(hexOf(pbocApdu('DEBIT_FOR_PURCHASE', { data: debit }))).toBe('805401000F0000000120120229135100F15CAB75');
    expect(hexOf(pbocApdu('GET_BALANCE', { p2: 0x02, le: 4 }))).toBe('805C000204');
    expect(hexOf(pbocApdu('SELECT', { p1: 0x04, data: fromHex('A000000632010105'), le: 0 }))).toBe(
      '00A4040008A00000063201010500',
    );
  });

  it('produces APDUs the core parser reads back with the row bytes', () => {
    for (const name of Object.keys(PBOC_COMMANDS) as PbocCommandName[]) {
      const c = PBOC_COMMANDS[name];
      const apdu = parseCommandApdu(
        pbocApdu(name, { p1: c.p1 ?? 0x12, p2: c.p2 ?? 0x34, data: Uint8Array.of(1), le: 8 }),
      );
      expect(apdu, name).toMatchObject({ cla: c.cla, ins: c.ins, p1: c.p1 ?? 0x12, p2: c.p2 ?? 0x34, ne: 8 });
    }
  });

  it('refuses a missing parameter byte, a fixed byte changed, an unknown name and oversized parts', () => {
    expect(() => pbocApdu('GET_BALANCE')).toThrow(ArgumentError);
    expect(() => pbocApdu('GET_BALANCE', { p1: 0x01, p2: 0x02 })).toThrow(ArgumentError);
    expect(() => pbocApdu('NOPE' as PbocCommandName)).toThrow(ArgumentError);
    expect(() => pbocApdu('CREDIT_FOR_LOAD', { data: new Uint8Array(256) })).toThrow(ArgumentError);
    expect(() => pbocApdu('CREDIT_FOR_LOAD', { le: 256 })).toThrow(ArgumentError);
    expect(() => pbocApdu('READ_BINARY', { p1: 0x100, p2: 0 })).toThrow(ArgumentError);
  });
});
