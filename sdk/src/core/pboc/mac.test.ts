import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import vectors from '../../../test/vectors/pboc-ep-mac.json';
import { concat, fromHex, hex, readU16, readU32, toHex, u16, u32 } from '../bytes';
import { macAlg1 } from '../crypto';
import { SimtapError } from '../errors';
import { creditForLoadCommandData, debitCommandData, initializeCommandData, TTI } from './formats';
import { loadSessionKey, purchaseSessionKey } from './keys';
import { loadMac1, loadMac2, loadTac, PbocMac, pbocMac, purchaseMac1, purchaseMac2, purchaseTac, tacKey } from './mac';

type Case = Record<string, unknown>;
const byId = (id: string): Case => {
  const c = (vectors.cases as Case[]).find((x) => x.id === id);
  if (!c) throw new Error(`vector ${id} missing`);
  return c;
};
const b = (c: Case, key: string): Uint8Array => fromHex(c[key] as string);
const f = (c: Case, key: string): Uint8Array => fromHex((c.response_fields as Record<string, string>)[key]!);
/** Command data field of a short case-3 APDU given as hex (header 4 + Lc 1). */
const commandData = (c: Case, key: string): Uint8Array => b(c, key).subarray(5);

function expectBadArgument(fn: () => unknown): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SimtapError);
  expect((err as SimtapError).code).toBe('BAD_ARGUMENT');
}

describe('load-ed-blog (pboc-ep-mac.json)', () => {
  const c = byId('load-ed-blog');
  const seslk = b(c, 'SESLK');
  const init = initializeCommandData.decode(commandData(c, 'command_init_for_load'));
  const credit = creditForLoadCommandData.decode(commandData(c, 'command_credit_for_load'));
  const tti = b(c, 'command_init_for_load')[3]!; // P2 01 = ED → TTI 01

  it('P2 of INITIALIZE FOR LOAD is the ED load TTI', () => expect(tti).toBe(TTI.ED_LOAD));
  it('MAC1 over the raw input', () => expect(toHex(pbocMac(seslk, b(c, 'mac1_input')))).toBe(c.MAC1));
  it('MAC1 input layout: oldBalance ‖ amount ‖ TTI ‖ terminalId', () => {
    expect(toHex(concat(f(c, 'old_balance'), u32(init.amount), Uint8Array.of(tti), init.terminalId))).toBe(
      c.mac1_input,
    );
  });
  it('loadMac1 from the command and response fields', () => {
    const mac = loadMac1({
      sessionKey: seslk,
      oldBalance: readU32(f(c, 'old_balance'), 0),
      amount: init.amount,
      tti,
      terminalId: init.terminalId,
    });
    expect(toHex(mac)).toBe(c.MAC1);
    expect(toHex(mac)).toBe(toHex(f(c, 'mac1')));
  });
  it('MAC2 over the raw input', () => expect(toHex(pbocMac(seslk, b(c, 'mac2_input')))).toBe(c.MAC2));
  it('loadMac2 from the command fields', () => {
    const mac = loadMac2({
      sessionKey: seslk,
      amount: init.amount,
      tti,
      terminalId: init.terminalId,
      date: credit.date,
      time: credit.time,
    });
    expect(toHex(mac)).toBe(c.MAC2);
  });
  it('CREDIT FOR LOAD carries MAC2', () => expect(toHex(credit.mac2)).toBe(c.MAC2));
  it('end to end from DLK: derive SESLK then MAC1', () => {
    const key = loadSessionKey(b(c, 'load_key_DLK'), f(c, 'random'), readU16(f(c, 'online_counter'), 0));
    expect(toHex(pbocMac(key, b(c, 'mac1_input')))).toBe(c.MAC1);
  });
});

describe('purchase-ep-blog (pboc-ep-mac.json)', () => {
  const c = byId('purchase-ep-blog');
  const sespk = b(c, 'SESPK');
  const init = initializeCommandData.decode(commandData(c, 'command_init_for_purchase'));
  const debit = debitCommandData.decode(commandData(c, 'helper_derived_debit_apdu'));
  const mac1Input = {
    sessionKey: sespk,
    amount: init.amount,
    tti: TTI.EP_PURCHASE,
    terminalId: init.terminalId,
    date: debit.date,
    time: debit.time,
  };

  it('MAC1 over the raw input', () => expect(toHex(pbocMac(sespk, b(c, 'mac1_input')))).toBe(c.MAC1));
  it('MAC1 input layout: amount ‖ TTI ‖ terminalId ‖ date ‖ time', () => {
    expect(
      toHex(concat(u32(init.amount), Uint8Array.of(TTI.EP_PURCHASE), init.terminalId, debit.date, debit.time)),
    ).toBe(c.mac1_input);
  });
  it('purchaseMac1 from the command fields', () => expect(toHex(purchaseMac1(mac1Input))).toBe(c.MAC1));
  it('the (helper-derived) DEBIT command carries MAC1 and the sequence', () => {
    expect(toHex(debit.mac1)).toBe(c.MAC1);
    expect(toHex(u32(debit.terminalTxnSeq))).toBe(c.terminal_txn_seq);
  });
  it('MAC2 over the raw input', () => expect(toHex(pbocMac(sespk, b(c, 'mac2_input')))).toBe(c.MAC2));
  it('purchaseMac2 = MAC(amount)', () => {
    expect(toHex(b(c, 'mac2_input'))).toBe(toHex(u32(init.amount)));
    expect(toHex(purchaseMac2({ sessionKey: sespk, amount: init.amount }))).toBe(c.MAC2);
  });
  it('end to end from DPK with a reused PbocMac', () => {
    const key = purchaseSessionKey(b(c, 'purchase_key_DPK'), f(c, 'random'), 0, debit.terminalTxnSeq);
    const mac = new PbocMac(key);
    expect(toHex(purchaseMac1({ ...mac1Input, sessionKey: mac }))).toBe(c.MAC1);
    expect(toHex(purchaseMac2({ sessionKey: mac, amount: init.amount }))).toBe(c.MAC2);
    expect(toHex(purchaseMac1({ ...mac1Input, sessionKey: mac }))).toBe(c.MAC1);
  });
});

describe('load-ep-dpj365-real-card (pboc-ep-mac.json)', () => {
  const c = byId('load-ep-dpj365-real-card');
  const init = initializeCommandData.decode(commandData(c, 'command_init_for_load'));
  const tti = b(c, 'command_init_for_load')[3]!;

  it('P2 02 = EP load, key index 00', () => {
    expect(tti).toBe(TTI.EP_LOAD);
    expect(init.keyIndex).toBe(0);
  });
  it('MAC1 over the raw input', () => expect(toHex(pbocMac(b(c, 'SESLK'), b(c, 'mac1_input')))).toBe(c.MAC1));
  it('loadMac1 from the command and response fields (real card)', () => {
    const mac = loadMac1({
      sessionKey: b(c, 'SESLK'),
      oldBalance: readU32(f(c, 'old_balance'), 0),
      amount: init.amount,
      tti,
      terminalId: init.terminalId,
    });
    expect(toHex(mac)).toBe(c.MAC1);
    expect(toHex(mac)).toBe(toHex(f(c, 'mac1')));
  });
});

describe('pbocMac', () => {
  it('equals ISO 9797-1 MAC algorithm 1 (DES, padding 2) truncated to 4 bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 8, maxLength: 8 }), fc.uint8Array({ maxLength: 40 }), (key, data) => {
        expect(toHex(pbocMac(key, data))).toBe(toHex(macAlg1(key, data, { padding: 2 }).subarray(0, 4)));
      }),
      { numRuns: 200 },
    );
  });

  it('streaming update/updateUint equals the one-shot MAC for any split', () => {
    const key = hex`9B1D924E05595603`;
    const m = new PbocMac(key);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 30 }), fc.nat(30), fc.nat(0xffffffff), (data, cut, n) => {
        const at = Math.min(cut, data.length);
        const streamed = m.reset().update(data.subarray(0, at)).updateUint(n, 4).update(data.subarray(at)).digest();
        expect(toHex(streamed)).toBe(toHex(pbocMac(key, concat(data.subarray(0, at), u32(n), data.subarray(at)))));
      }),
      { numRuns: 200 },
    );
  });

  it('aligned input gets a full padding block', () => {
    const key = hex`0123456789ABCDEF`;
    expect(toHex(pbocMac(key, new Uint8Array(8)))).toBe(
      toHex(macAlg1(key, hex`00000000 00000000 80000000 00000000`, { padding: 1 }).subarray(0, 4)),
    );
  });

  it('rejects a non-8-byte key or non-bytes data', () => {
    expectBadArgument(() => pbocMac(new Uint8Array(16), new Uint8Array(1)));
    expectBadArgument(() => pbocMac(new Uint8Array(8), 'ab' as unknown as Uint8Array));
    expectBadArgument(() => loadMac2({ sessionKey: new Uint8Array(7) } as never));
  });
});

describe('TAC', () => {
  const dtk = hex`7D3C0186599CBB0342CE8051C6181169`;
  const terminalId = hex`440100000001`;
  const date = hex`20260315`;
  const time = hex`093000`;

  it('tacKey = DTK left ⊕ right (reference profile card-1)', () => {
    expect(toHex(tacKey(dtk))).toBe('3FF281D79F84AA6A');
  });

  it('purchase TAC = MAC(amount ‖ TTI ‖ terminalId ‖ seq ‖ date ‖ time)', () => {
    const key = tacKey(dtk);
    const tac = purchaseTac({
      tacKey: key,
      amount: 250,
      tti: TTI.EP_PURCHASE,
      terminalId,
      terminalTxnSeq: 0x01020304,
      date,
      time,
    });
    expect(toHex(tac)).toBe(toHex(pbocMac(key, concat(u32(250), hex`06`, terminalId, hex`01020304`, date, time))));
    expect(tac).toHaveLength(4);
  });

  it('load TAC = MAC(newBalance ‖ onlineCounter ‖ amount ‖ TTI ‖ terminalId ‖ date ‖ time) (docs/spec.md §15 D1)', () => {
    const key = new PbocMac(tacKey(dtk));
    const tac = loadTac({
      tacKey: key,
      newBalance: 10250,
      onlineCounter: 7,
      amount: 10000,
      tti: TTI.EP_LOAD,
      terminalId,
      date,
      time,
    });
    expect(toHex(tac)).toBe(
      toHex(pbocMac(tacKey(dtk), concat(u32(10250), u16(7), u32(10000), hex`02`, terminalId, date, time))),
    );
  });

  it('rejects bad TAC inputs', () => {
    const base = { tacKey: tacKey(dtk), amount: 1, tti: 6, terminalId, terminalTxnSeq: 1, date, time };
    expectBadArgument(() => tacKey(new Uint8Array(8)));
    expectBadArgument(() => purchaseTac({ ...base, tacKey: dtk }));
    expectBadArgument(() => purchaseTac({ ...base, amount: -1 }));
    expectBadArgument(() => purchaseTac({ ...base, amount: 2 ** 32 }));
    expectBadArgument(() => purchaseTac({ ...base, tti: 256 }));
    expectBadArgument(() => purchaseTac({ ...base, terminalId: new Uint8Array(5) }));
    expectBadArgument(() => purchaseTac({ ...base, terminalTxnSeq: 2 ** 32 }));
    expectBadArgument(() => purchaseTac({ ...base, date: new Uint8Array(3) }));
    expectBadArgument(() => purchaseTac({ ...base, time: new Uint8Array(4) }));
    expectBadArgument(() => loadTac({ ...base, newBalance: 0, onlineCounter: 0x10000 }));
    expectBadArgument(() => loadMac1({ sessionKey: base.tacKey, oldBalance: 0.5, amount: 1, tti: 2, terminalId }));
    expectBadArgument(() => purchaseMac2({ sessionKey: base.tacKey, amount: Number.POSITIVE_INFINITY }));
  });
});

describe('PbocMac hygiene', () => {
  it('never shows the key and refuses use after destroy()', () => {
    const key = hex`9B1D924E05595603`;
    const m = new PbocMac(key);
    expect(JSON.stringify({ m })).not.toContain('9B1D');
    expect(String(JSON.stringify(m))).toContain('redacted');
    m.destroy();
    expectBadArgument(() => m.mac(new Uint8Array(3)));
  });
});
