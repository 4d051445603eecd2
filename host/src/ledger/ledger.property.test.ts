/**
 * Property tests of the money rules (`money-rules.test-support.ts`) on the SQLite store in memory, many runs; the
 * conformance suite runs fewer of them on every store.
 */
import { describe, it } from 'vitest';
import { checkMoneyRules } from './money-rules.test-support';
import { openSqliteLedger } from './sqlite';

describe('ledger money rules (property)', () => {
  it('keep the zero sum, the floors, exactly-once idempotency and the journal chain', async () => {
    await checkMoneyRules(async () => ({ ledger: openSqliteLedger({ path: ':memory:' }) }), 150);
  });
});
