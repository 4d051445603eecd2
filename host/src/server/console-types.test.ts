/**
 * The operator console (host/console) writes out the shapes it reads from `/v1/console` instead of importing the
 * wire's zod schemas (which do not belong in its browser bundle). These checks keep the two from drifting: every
 * result and notification the server may send, as the schemas type it, must be assignable to what the console
 * expects. They run in the type check (`npm run typecheck`, and vitest's when it compiles this file): a field the
 * console reads that the wire renames, drops or retypes fails to compile.
 */
import type { NotificationOf, ResultOf } from '@simtap/sdk/wire';
import { describe, expectTypeOf, it } from 'vitest';
import type {
  BatchEvent,
  CardChange,
  CardEvent,
  CardList,
  LedgerSummary,
  LedgerVerify,
  LoadEvent,
  LoadReport,
  Snapshot,
  Tap,
} from '../../console/types';

describe('the console reads /v1/console as the wire schemas type it', () => {
  it('method results', () => {
    expectTypeOf<ResultOf<'cards.list'>>().toMatchTypeOf<CardList>();
    expectTypeOf<ResultOf<'cards.block'>>().toMatchTypeOf<CardChange>();
    expectTypeOf<ResultOf<'cards.unblock'>>().toMatchTypeOf<CardChange>();
    expectTypeOf<ResultOf<'cards.reportLost'>>().toMatchTypeOf<CardChange>();
    expectTypeOf<ResultOf<'console.snapshot'>>().toMatchTypeOf<Snapshot>();
    expectTypeOf<ResultOf<'ledger.summary'>>().toMatchTypeOf<LedgerSummary>();
    expectTypeOf<ResultOf<'ledger.verify'>>().toMatchTypeOf<LedgerVerify>();
    expectTypeOf<ResultOf<'ledger.loadReport'>>().toMatchTypeOf<LoadReport>();
  });

  it('notifications', () => {
    expectTypeOf<NotificationOf<'event.tap'>>().toMatchTypeOf<Tap>();
    expectTypeOf<NotificationOf<'event.load'>>().toMatchTypeOf<LoadEvent>();
    expectTypeOf<NotificationOf<'event.card'>>().toMatchTypeOf<CardEvent>();
    expectTypeOf<NotificationOf<'event.batch'>>().toMatchTypeOf<BatchEvent>();
  });
});
