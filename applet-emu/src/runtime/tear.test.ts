import { fromHex, hex, toHex } from '@simtap/sdk/core/bytes';
import { describe, expect, it } from 'vitest';
import { Card } from './card';
import { CardRemovedError, CardTornError } from './errors';
import { SampleApplet } from './sample-applet';
import { enumerateTearPoints } from './tear';

const AID = fromHex(SampleApplet.DEFAULT_AID_HEX);
const ADD = (n: number): Uint8Array => fromHex(`80 32 00 00 04 ${n.toString(16).padStart(8, '0')}`);

function setup(): Card {
  const card = new Card({ random: (n) => new Uint8Array(n) });
  card.registry.install(new SampleApplet(), { default: true });
  card.powerOn('contactless');
  card.powerOn('contact');
  expect(toHex(card.transmit('contactless', hex`00 20 00 00 04 31 32 33 34`))).toBe('9000');
  return card;
}

/** The sample applet's persistent state: counter, its complement, and the log (newest first). */
function state(card: Card): string {
  const store = card.registry.storeOf(AID);
  const log = card.files.bySfi(card.files.findByName(AID)!, 3)!;
  return JSON.stringify([
    store.getNumber('counter'),
    store.getNumber('check'),
    card.files.records(log).map((r) => toHex(r)),
  ]);
}

describe('tear injection', () => {
  it('powers both interfaces off and reports CARD_TORN to the caller', () => {
    const card = setup();
    card.tearAt(2);
    expect(() => card.transmit('contactless', ADD(1))).toThrow(CardTornError);
    expect(card.tearCount).toBe(1);
    expect(card.isPowered('contact')).toBe(false);
    expect(card.isPowered('contactless')).toBe(false);
    expect(() => card.transmit('contact', hex`80 CA 00 00 04`)).toThrow(
      expect.objectContaining({ code: 'CARD_NOT_POWERED' }),
    );
    expect(() => card.transmit('contact', hex`80 CA 00 00 04`)).toThrow(CardRemovedError);
    card.powerOn('contactless');
    expect(toHex(card.transmit('contactless', hex`80 CA 00 00 04`))).toBe('000000009000');
    // Transient state is gone: the PIN must be verified again for the log.
    expect(toHex(card.transmit('contactless', hex`00 B2 01 1C 00`))).toBe('6982');
  });

  it('tears during implicit selection at power-up surface from powerOn', () => {
    const card = new Card();
    card.registry.install(
      {
        aid: hex`A0 00 00 00 01`,
        select: (ctx) => {
          ctx.atomically(() => ctx.store.put('selected', true));
          return undefined;
        },
        process: () => undefined,
      },
      { default: true },
    );
    card.tearAt(1, 'after');
    expect(() => card.powerOn('contact')).toThrow(CardTornError);
    expect(card.snapshot().records.some(([k]) => k.endsWith('/selected'))).toBe(false);
    card.powerOn('contact');
    expect(card.snapshot().records.some(([k]) => k.endsWith('/selected'))).toBe(true);
  });
});

describe('enumerateTearPoints', () => {
  it('covers before/after each of the 3 writes and the commit of ADD: old state, or new only after the commit', () => {
    const before = state(setup());
    const done = setup();
    done.transmit('contactless', ADD(5));
    const after = state(done);
    expect(after).not.toBe(before);
    const outcomes = enumerateTearPoints(setup, (card) => {
      card.transmit('contactless', ADD(5));
    });
    expect(outcomes.map((o) => `${o.write}${o.when[0]}`)).toEqual(['1b', '1a', '2b', '2a', '3b', '3a', '4b', '4a']);
    for (const o of outcomes) {
      expect(o.torn).toBe(true);
      expect(o.card.isPowered('contactless')).toBe(false);
      const s = state(o.card);
      expect(s).toBe(o.write === 4 && o.when === 'after' ? after : before);
      o.card.powerOn('contactless');
      const counter = toHex(o.card.transmit('contactless', hex`80 CA 00 00 04`));
      expect(counter).toBe(s === after ? '000000059000' : '000000009000');
    }
  });

  it('over two commands every tear leaves one of the three consistent states, in order', () => {
    const states: string[] = [];
    const c = setup();
    states.push(state(c));
    c.transmit('contactless', ADD(5));
    states.push(state(c));
    c.transmit('contactless', ADD(7));
    states.push(state(c));
    const outcomes = enumerateTearPoints(setup, (card) => {
      card.transmit('contactless', ADD(5));
      card.transmit('contactless', ADD(7));
    });
    expect(outcomes).toHaveLength(16);
    const seen = outcomes.map((o) => states.indexOf(state(o.card)));
    expect(seen.every((i) => i >= 0)).toBe(true);
    expect(seen).toEqual([...seen].sort((a, b) => a - b)); // later tears never leave older states
    expect(new Set(seen)).toEqual(new Set([0, 1, 2]));
  });

  it('propagates errors other than tears and reports tears that never struck', () => {
    expect(() =>
      enumerateTearPoints(setup, (card) => {
        card.transmit('contactless', ADD(1));
        throw new Error('script bug');
      }),
    ).toThrow('script bug');
    const none = enumerateTearPoints(setup, (card) => {
      card.transmit('contactless', hex`80 CA 00 00 04`);
    });
    expect(none).toEqual([]);
  });
});
