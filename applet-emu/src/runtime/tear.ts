/**
 * Tear-point enumeration for tests: run a script once to count its persistent writes, then once per tear point
 * (before and after each write) on a fresh card, and hand back every resulting card for assertions.
 *
 * @module
 */
import type { Card } from './card';
import { CardTornError } from './errors';
import type { TearWhen } from './memory';

/** One tear point and the card it left behind. */
export interface TearOutcome {
  /** 1-based index of the persistent write the tear was planned at (counted from the script's start). */
  readonly write: number;
  readonly when: TearWhen;
  /** True when the tear struck (the script reached that write). */
  readonly torn: boolean;
  /** The card after the script (powered off when torn; power it on to inspect it). */
  readonly card: Card;
}

/**
 * Counts the persistent writes of `script` on `setup()`, then re-runs it on a fresh `setup()` card for every
 * tear point: before and after each write (commits count as writes; see `Card.tearAt`). A `CardTornError`
 * thrown by the script is expected and swallowed; anything else propagates. `setup` and `script` must be
 * deterministic (inject a fixed `random` into the card).
 * @throws whatever `setup` or `script` throws other than `CardTornError`.
 * @example
 * for (const o of enumerateTearPoints(makeCard, (c) => c.transmit('contactless', DEBIT)))
 *   expect(balanceOf(o.card)).toBeOneOf([OLD, NEW]);
 */
export function enumerateTearPoints(setup: () => Card, script: (card: Card) => void): TearOutcome[] {
  const probe = setup();
  const start = probe.persistentWrites;
  script(probe);
  const total = probe.persistentWrites - start;
  const out: TearOutcome[] = [];
  for (let write = 1; write <= total; write++) {
    for (const when of ['before', 'after'] as const) {
      const card = setup();
      const tearsBefore = card.tearCount;
      card.tearAt(write, when);
      try {
        script(card);
      } catch (err) {
        if (!(err instanceof CardTornError)) throw err;
      }
      card.clearTear();
      out.push({ write, when, torn: card.tearCount > tearsBefore, card });
    }
  }
  return out;
}
