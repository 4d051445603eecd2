import { fromHex, readUint, toHex } from '@simtap/sdk/core/bytes';
import { TTI } from '@simtap/sdk/core/pboc';
import { cardProfile } from '@simtap/sdk/core/profile';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Card } from '../../runtime/card';
import { CardTornError } from '../../runtime/errors';
import { enumerateTearPoints } from '../../runtime/tear';
import { createPsam } from '../psam/install';
import { refDesMac, refJoin, refRetailMac, refTacKey } from './reference-crypto';
import { type CappUpdate, createPurseCard, hexApdu, PurseTerminal, send } from './testing';

const card1 = cardProfile('card-1');
const AID = fromHex('A000000632010105');
const hx = toHex;

/** Everything money-related, read from persistent memory and the files (not through APDUs). */
function moneyState(card: Card): string {
  const store = card.registry.storeOf(AID);
  const adf = card.files.findByName(AID)!;
  const recs = (sfi: number) => card.files.records(card.files.bySfi(adf, sfi)!).map((r) => hx(r));
  return JSON.stringify({
    ep: store.getJson('ep'),
    ed: store.getJson('ed'),
    macFailures: store.getNumber('macFailures'),
    lock: store.getString('lock'),
    proof: hx(store.getBytes('proof') ?? new Uint8Array(0)),
    log: recs(0x18),
    capp17: recs(0x17),
    travel: recs(0x1e),
  });
}

interface Rig {
  card: Card;
  t: PurseTerminal;
}

/** A personalized purse with one committed purchase already (so an old state has a provable transaction). */
function rig(): Rig {
  const { card } = createPurseCard({ personalization: { balance: 10_000 } });
  const t = new PurseTerminal(card, createPsam('pos-1'));
  t.select();
  expect(t.purchase(100).sw).toBe(0x9000);
  return { card, t };
}

const CAPP: CappUpdate[] = [
  { p1: 0x01, p2: 0x17 << 3, data: Uint8Array.of(0x01, ...new Array(47).fill(0xc1)) },
  { p1: 0x00, p2: 0x1e << 3, data: new Uint8Array(48).fill(0xe1) },
];

type Flow = 'purchase' | 'capp' | 'load';

function runFlow(t: PurseTerminal, flow: Flow): void {
  if (flow === 'load') t.load(2_000);
  else t.purchase(700, flow === 'capp' ? { capp: CAPP } : {});
}

describe('tear safety: every tear point of load, purchase and composite purchase', () => {
  for (const flow of ['purchase', 'capp', 'load'] as const) {
    it(`${flow}: all money state is old or new, and GET TRANSACTION PROVE proves the last committed one`, () => {
      const rigs = new Map<Card, Rig>();
      const setup = (): Card => {
        const r = rig();
        rigs.set(r.card, r);
        return r.card;
      };
      // Reference run without tears: old and new state, and the proof of the new transaction.
      const ref = rig();
      const oldState = moneyState(ref.card);
      const oldProof = ref.card.registry.storeOf(AID).getBytes('proof')!;
      runFlow(ref.t, flow);
      const newState = moneyState(ref.card);
      const newProof = ref.card.registry.storeOf(AID).getBytes('proof')!;
      expect(newState).not.toBe(oldState);
      const outcomes = enumerateTearPoints(setup, (card) => runFlow(rigs.get(card)!.t, flow));
      const writes = outcomes.length / 2;
      expect(writes).toBeGreaterThanOrEqual(flow === 'capp' ? 6 : 4);
      const seen = new Set<string>();
      for (const o of outcomes) {
        expect(o.torn).toBe(true);
        o.card.powerOn('contactless');
        const state = moneyState(o.card);
        expect([oldState, newState]).toContain(state);
        seen.add(state === newState ? 'new' : 'old');
        // Only a tear after the commit record (the last write) leaves the new state.
        expect(state === newState).toBe(o.write === writes && o.when === 'after');
        const t = rigs.get(o.card)!.t;
        t.select();
        const proof = state === newState ? newProof : oldProof;
        const prove = t.send(hexApdu(0x80, 0x5a, 0x00, proof[0]!, [proof.subarray(1, 3)], 0x08));
        expect(hx(prove.data)).toBe(hx(proof.subarray(3)));
        if (state === oldState) {
          const pending =
            flow === 'load' ? [TTI.EP_LOAD, 0] : [flow === 'capp' ? TTI.CAPP_PURCHASE : TTI.EP_PURCHASE, 1];
          expect(t.send(hexApdu(0x80, 0x5a, 0x00, pending[0]!, [Uint8Array.of(0, pending[1]!)])).sw).toBe(0x9406);
        }
        // The card goes on working after the tear.
        expect(t.purchase(1).sw).toBe(0x9000);
      }
      expect(seen).toEqual(new Set(['old', 'new']));
    });
  }
});

// ---------------------------------------------------------------- property

type Op =
  | { kind: 'purchase'; amount: number; capp: boolean; tear: number; after: boolean }
  | { kind: 'load'; amount: number; tear: number; after: boolean }
  | { kind: 'badMac' }
  | { kind: 'reset' }
  | { kind: 'initThenReset' }
  | { kind: 'unblock' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('purchase' as const),
      amount: fc.integer({ min: 0, max: 3_000 }),
      capp: fc.boolean(),
      tear: fc.integer({ min: 0, max: 8 }),
      after: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('load' as const),
      amount: fc.integer({ min: 0, max: 40_000 }),
      tear: fc.integer({ min: 0, max: 6 }),
      after: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'badMac' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reset' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'initThenReset' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'unblock' as const }) },
);

const MAX = 100_000;
const OVERDRAFT = 300;

function unblock(card: Card): number {
  const ch = send(card, 'contact', '00 84 00 00 04').data;
  const icv = new Uint8Array(8);
  icv.set(ch);
  const mac = refRetailMac(card1.keys.DLPK.key, Uint8Array.of(0x84, 0x18, 0, 0, 4), icv);
  return send(card, 'contact', hexApdu(0x84, 0x18, 0, 0, [mac])).sw;
}

describe('property: random loads, purchases, tears, resets and bad MACs', () => {
  it('keeps balance = initial + loads − purchases, counters increasing, balance within [−overdraft, max]', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 25 }), (ops) => {
        const { card } = createPurseCard({
          personalization: { balance: 1_000, parameters: { overdraftLimit: OVERDRAFT, maxBalance: MAX } },
        });
        const t = new PurseTerminal(card, createPsam('pos-1'));
        send(card, 'contact', '00 A4 04 00 08 A000000632010105');
        t.select();
        const m = { balance: 1_000, online: 0, offline: 0, failures: 0, locked: false };
        const reconnect = () => {
          card.powerOn('contact');
          card.powerOn('contactless');
          send(card, 'contact', '00 A4 04 00 08 A000000632010105');
          t.select();
        };
        /** After a torn command: did it commit? GET TRANSACTION PROVE for its TTI and counter answers. */
        const committed = (tti: number, counter: number): boolean => {
          const r = t.send(hexApdu(0x80, 0x5a, 0, tti, [Uint8Array.of(counter >> 8, counter & 0xff)], 8));
          expect([0x9000, 0x9406]).toContain(r.sw);
          return r.sw === 0x9000;
        };
        for (const op of ops) {
          switch (op.kind) {
            case 'purchase':
            case 'load': {
              const isLoad = op.kind === 'load';
              if (op.tear > 0) card.tearAt(op.tear, op.after ? 'after' : 'before');
              let sw: number | undefined;
              let tac: Uint8Array | undefined;
              let seq: number | undefined;
              try {
                if (isLoad) {
                  const r = t.load(op.amount);
                  sw = r.sw;
                  if (r.sw === 0x9000) expect(hx(r.tac!)).toBe(hx(r.expectedTac!));
                } else {
                  const r = t.purchase(op.amount, op.kind === 'purchase' && op.capp ? { capp: CAPP } : {});
                  sw = r.sw;
                  tac = r.tac;
                  seq = r.terminalTxnSeq;
                  if (r.sw === 0x9000) {
                    expect(r.psamSw).toBe(0x9000);
                    const tacInput = refJoin([op.amount, 4], [r.tti, 1], t.terminalId, [seq!, 4], r.date, r.time);
                    expect(hx(tac!)).toBe(hx(refDesMac(refTacKey(card1.keys.DTK.key), tacInput)));
                  }
                }
              } catch (err) {
                if (!(err instanceof CardTornError)) throw err;
              }
              card.clearTear();
              if (sw === undefined) {
                reconnect();
                const tti = isLoad ? TTI.EP_LOAD : op.capp ? TTI.CAPP_PURCHASE : TTI.EP_PURCHASE;
                if (committed(tti, isLoad ? m.online : m.offline)) sw = 0x9000;
                else break;
              }
              if (m.locked) {
                expect(sw).toBe(0x9303);
                break;
              }
              if (isLoad) {
                if (m.balance + op.amount > MAX) expect(sw).toBe(0x6a80);
                else {
                  expect(sw).toBe(0x9000);
                  m.balance += op.amount;
                  m.online++;
                  m.failures = 0;
                }
              } else if (op.amount > m.balance + OVERDRAFT) expect(sw).toBe(0x9401);
              else {
                expect(sw).toBe(0x9000);
                m.balance -= op.amount;
                m.offline++;
                m.failures = 0;
              }
              break;
            }
            case 'badMac': {
              const r = t.purchase(1, { corruptMac1: true });
              if (m.locked) expect(r.sw).toBe(0x9303);
              else if (1 > m.balance + OVERDRAFT) expect(r.sw).toBe(0x9401);
              else {
                expect(r.sw).toBe(0x9302);
                m.failures++;
                if (m.failures >= 3) m.locked = true;
              }
              break;
            }
            case 'reset':
              card.reset('contactless');
              t.select();
              break;
            case 'initThenReset': {
              t.send(hexApdu(0x80, 0x50, 1, 2, [Uint8Array.of(1), fromHex('00000001'), t.terminalId], 15));
              card.reset('contactless');
              t.select();
              expect(t.send('80 54 01 00 0F 00000001 20260301 120000 00000000').sw).toBe(0x6985);
              break;
            }
            case 'unblock':
              expect(unblock(card)).toBe(0x9000);
              m.locked = false;
              m.failures = 0;
              break;
          }
          // Invariants, read back from the card.
          const bal = readUint(t.send('80 5C 00 02 04').data, 0, 4) | 0;
          expect(bal).toBe(m.balance);
          expect(bal).toBeGreaterThanOrEqual(-OVERDRAFT);
          expect(bal).toBeLessThanOrEqual(MAX);
          const ep = card.registry.storeOf(AID).getJson<{ online: number; offline: number }>('ep')!;
          expect([ep.online, ep.offline]).toEqual([m.online, m.offline]);
        }
      }),
      { numRuns: 60 },
    );
  });
});
