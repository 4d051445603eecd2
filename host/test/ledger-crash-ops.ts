/** The operations of the ledger crash test, the same in the parent and in the child: operation `i` of a run. */
import type { TransferRequest } from '@simtap/host/ledger';

export const CLIENT = 'crash-test';
export const PHONES = ['phone:0', 'phone:1', 'phone:2'] as const;

/** Operation `i`: a top-up from cash, a payment to the merchant (may fail), or a hold posted on proof. */
export function crashOp(i: number): { kind: 'transfer' | 'holdPost'; req: TransferRequest } {
  const phone = PHONES[i % 3]!;
  const idempotencyKey = `op-${i}`;
  switch (i % 4) {
    case 0:
    case 1:
      return {
        kind: 'transfer',
        req: { client: CLIENT, idempotencyKey, from: 'cash', to: phone, amount: 100 + (i % 7) },
      };
    case 2:
      return {
        kind: 'transfer',
        req: { client: CLIENT, idempotencyKey, from: phone, to: 'merchant', amount: 150 + (i % 11) },
      };
    default:
      return { kind: 'holdPost', req: { client: CLIENT, idempotencyKey, from: phone, to: 'merchant', amount: 30 } };
  }
}
