import { fromHex, readUint, toHex, uintToBytes } from '@simtap/sdk/core/bytes';
import { TTI } from '@simtap/sdk/core/pboc';
import { cardProfile } from '@simtap/sdk/core/profile';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CardInterface } from '../../runtime/applet';
import { Card } from '../../runtime/card';
import { CardTornError } from '../../runtime/errors';
import type { TearWhen } from '../../runtime/memory';
import { enumerateTearPoints } from '../../runtime/tear';
import { createPsam } from '../psam/install';
import { EPURSE_FACTORIES } from './install';
import { refDesMac, refJoin, refRetailMac, refTacKey, refTdesEcb } from './reference-crypto';
import { type CappUpdate, createPurseCard, hexApdu, PurseTerminal, ScriptedRandom, send } from './testing';

const card1 = cardProfile('card-1');
const AID = fromHex('A000000632010105');
const SELECT = '00 A4 04 00 08 A000000632010105';
const hx = toHex;

/**
 * The card's whole persistent memory — every applet's store (balances, counters, tries, locks, keys, proof), the
 * file system (EF 0x15..0x1E, the log, the CAPP records) and the registry — as key → hex/JSON, so that `toEqual`
 * compares all of it whatever the order of the records.
 */
function memory(card: Card): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of card.snapshot().records) out[k] = v instanceof Uint8Array ? hx(v) : v;
  return out;
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
    it(`${flow}: the whole persistent memory is old or new, and GET TRANSACTION PROVE proves the last committed one`, () => {
      const rigs = new Map<Card, Rig>();
      const setup = (): Card => {
        const r = rig();
        rigs.set(r.card, r);
        return r.card;
      };
      // Reference run without tears: old and new memory, and the proof of the new transaction.
      const ref = rig();
      const oldMemory = memory(ref.card);
      const oldProof = ref.card.registry.storeOf(AID).getBytes('proof')!;
      runFlow(ref.t, flow);
      const newMemory = memory(ref.card);
      const newProof = ref.card.registry.storeOf(AID).getBytes('proof')!;
      expect(newMemory).not.toEqual(oldMemory);
      const outcomes = enumerateTearPoints(setup, (card) => runFlow(rigs.get(card)!.t, flow));
      const writes = outcomes.length / 2;
      expect(writes).toBeGreaterThanOrEqual(flow === 'capp' ? 6 : 4);
      const seen = new Set<string>();
      for (const o of outcomes) {
        expect(o.torn).toBe(true);
        // Only a tear after the commit record (the last write) leaves the new state; any other leaves the old.
        const committed = o.write === writes && o.when === 'after';
        expect(memory(o.card), `${o.when} write ${o.write}`).toEqual(committed ? newMemory : oldMemory);
        seen.add(committed ? 'new' : 'old');
        o.card.powerOn('contactless');
        expect(memory(o.card)).toEqual(committed ? newMemory : oldMemory);
        const t = rigs.get(o.card)!.t;
        t.select();
        const proof = committed ? newProof : oldProof;
        const prove = t.send(hexApdu(0x80, 0x5a, 0x00, proof[0]!, [proof.subarray(1, 3)], 0x08));
        expect(hx(prove.data)).toBe(hx(proof.subarray(3)));
        if (!committed) {
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

// ---------------------------------------------------------------- no free guess

/** A card prepared for one check of a secret under a try counter, and the two commands to try. */
interface Prepared {
  readonly card: Card;
  readonly iface: CardInterface;
  readonly right: Uint8Array;
  readonly wrong: Uint8Array;
}

/** A check to attack: how to prepare it, and what the card answers the wrong guess when nothing is torn. */
interface Guess {
  readonly prepare: () => Prepared;
  readonly refusal: number;
  /** The refusal comes before the secret is looked at (nothing to count); default false. */
  readonly uncounted?: boolean;
}

/** What an attacker pulling the card at a chosen point sees: the SW (or the tear) and the memory afterwards. */
interface Observation {
  readonly sw: number | 'torn';
  readonly memory: Record<string, unknown>;
  readonly writes: number;
}

function attempt(prepare: () => Prepared, guess: 'right' | 'wrong', tear?: [number, TearWhen]): Observation {
  const p = prepare();
  const start = p.card.persistentWrites;
  if (tear !== undefined) p.card.tearAt(tear[0], tear[1]);
  let sw: number | 'torn';
  try {
    sw = send(p.card, p.iface, p[guess]).sw;
  } catch (err) {
    if (!(err instanceof CardTornError)) throw err;
    sw = 'torn';
  }
  p.card.clearTear();
  return { sw, memory: memory(p.card), writes: p.card.persistentWrites - start };
}

/** A purse selected on both interfaces, after `before` (wrong guesses that were counted, a lock…). */
function purse(before: (card: Card, t: PurseTerminal) => void = () => undefined): Rig {
  const { card } = createPurseCard({ personalization: { balance: 10_000 } });
  const t = new PurseTerminal(card, createPsam('pos-1'));
  t.select();
  send(card, 'contact', SELECT);
  before(card, t);
  return { card, t };
}

function challenged(card: Card, length: 4 | 8): Uint8Array {
  return send(card, 'contact', hexApdu(0, 0x84, 0, 0, [], length)).data;
}

function lineMac(card: Card, ins: number, key: Uint8Array): Uint8Array {
  const icv = new Uint8Array(8);
  icv.set(challenged(card, 4));
  const mac = refRetailMac(key, Uint8Array.of(0x84, ins, 0, 0, 4), icv);
  return hexApdu(0x84, ins, 0, 0, [mac]);
}

const WRONG_KEY = fromHex('0F0E0D0C0B0A09080706050403020100');
const wrongPins = (card: Card, n: number) => {
  for (let i = 0; i < n; i++) send(card, 'contact', '00 20 00 00 03 000000');
};
const badDebits = (t: PurseTerminal, n: number) => {
  for (let i = 0; i < n; i++) expect(t.purchase(1, { corruptMac1: true }).sw).toBe(0x9302);
};

function debitApdus(t: PurseTerminal): { right: Uint8Array; wrong: Uint8Array } {
  const p = t.startPurchase(300);
  const seq = uintToBytes(p.terminalTxnSeq!, 4);
  const wrong = p.mac1!.slice();
  wrong[0]! ^= 1;
  return {
    right: hexApdu(0x80, 0x54, 1, 0, [seq, p.date, p.time, p.mac1!], 8),
    wrong: hexApdu(0x80, 0x54, 1, 0, [seq, p.date, p.time, wrong], 8),
  };
}

function creditApdus(t: PurseTerminal, between?: (card: Card) => void): { right: Uint8Array; wrong: Uint8Array } {
  const l = t.startLoad(500);
  between?.(t.card);
  const wrong = l.mac2!.slice();
  wrong[3]! ^= 0x80;
  return {
    right: hexApdu(0x80, 0x52, 0, 0, [l.date, l.time, l.mac2!], 4),
    wrong: hexApdu(0x80, 0x52, 0, 0, [l.date, l.time, wrong], 4),
  };
}

/** A load on logical channel 1 of the contactless interface. */
function loadOnChannel1(card: Card): void {
  expect(send(card, 'contactless', '00 70 00 00 01').data[0]).toBe(1);
  const other = new PurseTerminal(card, createPsam('gate-1'));
  other.channel = 1;
  other.select();
  expect(other.load(100).sw).toBe(0x9000);
}

/** Two MACs over one challenge: the right one and one with a flipped bit. */
function lineApdus(card: Card, ins: number): { right: Uint8Array; wrong: Uint8Array } {
  const right = lineMac(card, ins, card1.keys.DLPK.key);
  const wrong = right.slice();
  wrong[wrong.length - 1]! ^= 1;
  return { right, wrong };
}

function externalAuthApdus(card: Card): { right: Uint8Array; wrong: Uint8Array } {
  const ch = challenged(card, 8);
  return {
    right: hexApdu(0, 0x82, 0, 1, [refTdesEcb(card1.keys.DEAK.key, ch)]),
    wrong: hexApdu(0, 0x82, 0, 1, [refTdesEcb(WRONG_KEY, ch)]),
  };
}

const VERIFY = { right: fromHex('00 20 00 00 03 123456'), wrong: fromHex('00 20 00 00 03 111111') };

const GUESSES: Record<string, Guess> = {
  'VERIFY PIN': { refusal: 0x63c2, prepare: () => ({ card: purse().card, iface: 'contact', ...VERIFY }) },
  'VERIFY PIN, last try': {
    refusal: 0x63c0,
    prepare: () => ({ card: purse((c) => wrongPins(c, 2)).card, iface: 'contact', ...VERIFY }),
  },
  'CHANGE PIN': {
    refusal: 0x63c2,
    prepare: () => ({
      card: purse().card,
      iface: 'contact',
      right: fromHex('80 5E 01 00 07 123456 FF 654321'),
      wrong: fromHex('80 5E 01 00 07 111111 FF 654321'),
    }),
  },
  'RELOAD PIN': {
    refusal: 0x9302,
    prepare: () => {
      const pin = fromHex('2468');
      return {
        card: purse().card,
        iface: 'contact',
        right: hexApdu(0x80, 0x5e, 0, 0, [pin, refRetailMac(card1.keys.DPUK.key, pin)]),
        wrong: hexApdu(0x80, 0x5e, 0, 0, [pin, fromHex('00000000')]),
      };
    },
  },
  'EXTERNAL AUTHENTICATE': {
    refusal: 0x63c2,
    prepare: () => {
      const { card } = purse();
      return { card, iface: 'contact', ...externalAuthApdus(card) };
    },
  },
  'EXTERNAL AUTHENTICATE, last try': {
    refusal: 0x63c0,
    prepare: () => {
      const { card } = purse((c) => {
        for (let i = 0; i < 2; i++) expect(send(c, 'contact', externalAuthApdus(c).wrong).sw >> 4).toBe(0x63c);
      });
      return { card, iface: 'contact', ...externalAuthApdus(card) };
    },
  },
  'APPLICATION BLOCK': {
    refusal: 0x6988,
    prepare: () => {
      const { card } = purse();
      return { card, iface: 'contact', ...lineApdus(card, 0x1e) };
    },
  },
  'APPLICATION UNBLOCK of an unlocked purse (a right MAC changes nothing)': {
    refusal: 0x6988,
    prepare: () => {
      const { card } = purse();
      return { card, iface: 'contact', ...lineApdus(card, 0x18) };
    },
  },
  'APPLICATION UNBLOCK of a MAC-failure lock, last try': {
    refusal: 0x6988,
    prepare: () => {
      const { card } = purse((c, t) => {
        badDebits(t, 3);
        for (let i = 0; i < 2; i++) expect(send(c, 'contact', lineApdus(c, 0x18).wrong).sw).toBe(0x6988);
      });
      return { card, iface: 'contact', ...lineApdus(card, 0x18) };
    },
  },
  'DEBIT MAC1': {
    refusal: 0x9302,
    prepare: () => {
      const { card, t } = purse();
      return { card, iface: 'contactless', ...debitApdus(t) };
    },
  },
  'DEBIT MAC1, last try': {
    refusal: 0x9302,
    prepare: () => {
      const { card, t } = purse((_, t) => badDebits(t, 2));
      return { card, iface: 'contactless', ...debitApdus(t) };
    },
  },
  'CREDIT MAC2': {
    refusal: 0x9302,
    prepare: () => {
      const { card, t } = purse();
      return { card, iface: 'contactless', ...creditApdus(t) };
    },
  },
  'CREDIT MAC2 after a load on another channel': {
    refusal: 0x6985,
    uncounted: true,
    prepare: () => {
      const { card, t } = purse();
      return { card, iface: 'contactless', ...creditApdus(t, loadOnChannel1) };
    },
  },
};

describe('tear safety: no free guess at any secret under a try counter', () => {
  for (const [name, g] of Object.entries(GUESSES)) {
    it(`${name}: a tear never tells a right guess from a wrong one before the failure is counted`, () => {
      const before = memory(g.prepare().card);
      const wrong = attempt(g.prepare, 'wrong');
      const right = attempt(g.prepare, 'right');
      expect(wrong.sw).toBe(g.refusal);
      if (g.uncounted === true) expect(wrong.memory).toEqual(before);
      else expect(wrong.memory).not.toEqual(before);
      const points = Math.max(wrong.writes, right.writes) + 1;
      for (let n = 1; n <= points; n++) {
        for (const when of ['before', 'after'] as const) {
          const w = attempt(g.prepare, 'wrong', [n, when]);
          const r = attempt(g.prepare, 'right', [n, when]);
          // Whatever the tear leaves is the state before the command or after it, never a mix.
          expect([before, wrong.memory]).toContainEqual(w.memory);
          expect([before, right.memory]).toContainEqual(r.memory);
          // An uncounted wrong guess must look exactly like the right one: same answer (or tear), same memory.
          if (JSON.stringify(w.memory) === JSON.stringify(before))
            expect({ sw: r.sw, memory: r.memory }, `${when} write ${n}`).toEqual({ sw: w.sw, memory: w.memory });
        }
      }
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
      amount: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3_000 })),
      capp: fc.boolean(),
      tear: fc.integer({ min: 0, max: 12 }),
      after: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('load' as const),
      amount: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 40_000 })),
      tear: fc.integer({ min: 0, max: 10 }),
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

/** One of two purse cards run in lockstep: the one under test (torn) and its twin (never torn). */
interface Side {
  card: Card;
  t: PurseTerminal;
  readonly psam: Card;
}

/** Powers `card` on and selects the purse on both interfaces, with a terminal on contactless. */
function connect(card: Card, psam: Card): Side {
  card.powerOn('contact');
  card.powerOn('contactless');
  send(card, 'contact', SELECT);
  const t = new PurseTerminal(card, psam);
  t.select();
  return { card, t, psam };
}

/** A side rebuilt from `memory` with a fresh random source: two rebuilds of one memory behave the same. */
function rebuilt(snapshot: ReturnType<Card['snapshot']>, psam: Card): Side {
  const card = Card.fromSnapshot(snapshot, {
    factories: EPURSE_FACTORIES,
    random: new ScriptedRandom().next,
    logger: { error: () => undefined },
  });
  return connect(card, psam);
}

describe('property: random loads, purchases, tears, resets and bad MACs', () => {
  it('keeps balance = initial + loads − purchases, counters increasing, and a torn card old or new in full', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 25 }), (ops) => {
        const personalization = { balance: 1_000, parameters: { overdraftLimit: OVERDRAFT, maxBalance: MAX } };
        const sides = [0, 1].map(() => connect(createPurseCard({ personalization }).card, createPsam('pos-1')));
        let a = sides[0]!;
        let b = sides[1]!;
        const m = { balance: 1_000, online: 0, offline: 0, failures: 0, locked: false };
        /** After a torn command: did it commit? GET TRANSACTION PROVE for its TTI and counter answers. */
        const committed = (t: PurseTerminal, tti: number, counter: number): boolean => {
          const r = t.send(hexApdu(0x80, 0x5a, 0, tti, [Uint8Array.of(counter >> 8, counter & 0xff)], 8));
          expect([0x9000, 0x9406]).toContain(r.sw);
          return r.sw === 0x9000;
        };
        /** Runs `f` on the twin, then on the card under test; both must answer the same. */
        const both = <T>(f: (s: Side) => T): T => {
          const twin = f(b);
          const result = f(a);
          expect(result).toEqual(twin);
          return result;
        };
        for (const op of ops) {
          const before = memory(a.card);
          expect(memory(b.card)).toEqual(before);
          switch (op.kind) {
            case 'purchase':
            case 'load': {
              const isLoad = op.kind === 'load';
              const capp = op.kind === 'purchase' && op.capp;
              const run = (s: Side) => {
                if (isLoad) {
                  const r = s.t.load(op.amount);
                  if (r.sw === 0x9000) expect(hx(r.tac!)).toBe(hx(r.expectedTac!));
                  return r.sw;
                }
                const r = s.t.purchase(op.amount, capp ? { capp: CAPP } : {});
                if (r.sw === 0x9000) {
                  expect(r.psamSw).toBe(0x9000);
                  const tacInput = refJoin(
                    [op.amount, 4],
                    [r.tti, 1],
                    s.t.terminalId,
                    [r.terminalTxnSeq!, 4],
                    r.date,
                    r.time,
                  );
                  expect(hx(r.tac!)).toBe(hx(refDesMac(refTacKey(card1.keys.DTK.key), tacInput)));
                }
                return r.sw;
              };
              const twinSw = run(b);
              const twinMemory = memory(b.card);
              if (op.tear > 0) a.card.tearAt(op.tear, op.after ? 'after' : 'before');
              let sw: number | undefined;
              try {
                sw = run(a);
              } catch (err) {
                if (!(err instanceof CardTornError)) throw err;
              }
              a.card.clearTear();
              if (sw === undefined) {
                // Torn: the whole memory is the state before the command or the twin's after it.
                const tti = isLoad ? TTI.EP_LOAD : capp ? TTI.CAPP_PURCHASE : TTI.EP_PURCHASE;
                a = connect(a.card, a.psam);
                const done = committed(a.t, tti, isLoad ? m.online : m.offline);
                expect(memory(a.card)).toEqual(done ? twinMemory : before);
                // Back in lockstep: both sides rebuilt from the torn card's memory.
                const snapshot = a.card.snapshot();
                a = rebuilt(snapshot, a.psam);
                b = rebuilt(snapshot, b.psam);
                if (!done) break;
                sw = 0x9000;
              } else expect(sw).toBe(twinSw);
              if (m.locked) {
                expect(sw).toBe(0x9303);
                break;
              }
              if (op.amount === 0 && !capp) expect(sw).toBe(0x6a80);
              else if (isLoad) {
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
              const sw = both((s) => s.t.purchase(1, { corruptMac1: true }).sw);
              if (m.locked) expect(sw).toBe(0x9303);
              else if (1 > m.balance + OVERDRAFT) expect(sw).toBe(0x9401);
              else {
                expect(sw).toBe(0x9302);
                m.failures++;
                if (m.failures >= 3) m.locked = true;
              }
              break;
            }
            case 'reset':
              both((s) => {
                s.card.reset('contactless');
                s.t.select();
              });
              break;
            case 'initThenReset':
              both((s) => {
                s.t.send(hexApdu(0x80, 0x50, 1, 2, [Uint8Array.of(1), fromHex('00000001'), s.t.terminalId], 15));
                s.card.reset('contactless');
                s.t.select();
                expect(s.t.send('80 54 01 00 0F 00000001 20260301 120000 00000000').sw).toBe(0x6985);
              });
              break;
            case 'unblock':
              expect(both((s) => unblock(s.card))).toBe(0x9000);
              m.locked = false;
              m.failures = 0;
              break;
          }
          // Invariants, read back from the card.
          const bal = readUint(a.t.send('80 5C 00 02 04').data, 0, 4) | 0;
          expect(bal).toBe(m.balance);
          expect(bal).toBeGreaterThanOrEqual(-OVERDRAFT);
          expect(bal).toBeLessThanOrEqual(MAX);
          const ep = a.card.registry.storeOf(AID).getJson<{ online: number; offline: number }>('ep')!;
          expect([ep.online, ep.offline]).toEqual([m.online, m.offline]);
        }
        expect(memory(b.card)).toEqual(memory(a.card));
      }),
      { numRuns: 60 },
    );
  });
});
