/**
 * The platform crash test's wire, shared by the parent (`platform-crash.test.ts`) and the child
 * (`platform-crash-child.ts`): one JSON line per request (`{ id, op, params }`) and one per answer (`{ id, ok, … }`),
 * written by the child only once the platform call has settled — after its commit. {@link perform} is what the
 * child does for each request; `summary` is what the final clean run reports for the parent's checks.
 */
import { type LedgerStore, SUSPENSE_ACCOUNT, type VerifyResult } from '@simtap/host/ledger';
import { ACCOUNT, type Platform, REF } from '@simtap/host/platform';
import type { AuthorizeLoadParams, PurchaseRecord } from '@simtap/host/wallets';
import { toHex } from '@simtap/sdk/core/bytes';
import { referenceProfile } from '@simtap/sdk/core/profile';

/** The application system that tops up, loads and clears: the reference profile's supermarket. */
export const CLIENT = 'mart-1';
/** Its merchant (1 point per yuan). */
export const MERCHANT = 'M-MART-1';

/** The cards of the reference profile with their holders. */
export const CARDS = referenceProfile().cards.map((c) => ({
  label: c.label,
  cardSerial: toHex(c.applicationSerial),
  msisdn: c.msisdn,
}));

/** Where the child's ledger lives. */
export type StoreSpec =
  | { readonly kind: 'sqlite'; readonly path: string }
  | { readonly kind: 'postgres'; readonly connectionString: string; readonly schema: string };

/** The requests the child answers, and their params. */
export interface Ops {
  topUp: { client: string; idempotencyKey: string; msisdn: string; amount: number };
  authorizeLoad: AuthorizeLoadParams;
  confirmLoad: { loadId: string; tac: string };
  resolveLoad: { loadId: string; onlineCounter: number; mac2?: string; tac?: string };
  pendingLoads: { cardSerial: string };
  submitBatch: { client: string; idempotencyKey: string; records: PurchaseRecord[] };
  summary: Record<string, never>;
}
export type Op = keyof Ops;

/** One request line. */
export interface RequestLine<K extends Op = Op> {
  readonly id: number;
  readonly op: K;
  readonly params: Ops[K];
}

/** One answer line: the result, or the error's code (a `SimtapError`'s; `UNEXPECTED` for anything else). */
export type Answer =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly code: string; readonly message: string };

/** What the final clean run reports. */
export interface Summary {
  readonly verify: VerifyResult;
  /** Phone accounts by MSISDN. */
  readonly phones: Record<string, { balance: number; available: number }>;
  /** Points by MSISDN. */
  readonly points: Record<string, number>;
  /** Card floats by serial. */
  readonly floats: Record<string, number>;
  readonly payable: number;
  readonly cash: number;
  readonly suspense: number;
  /** Every load of every card, as the ledger has it. */
  readonly loads: Array<{ loadId: string; cardSerial: string; amount: number; state: string }>;
  /** Every cleared purchase by card: its offline counter and amount. */
  readonly purchases: Record<string, Array<{ offlineCounter: number; amount: number }>>;
}

async function balanceOf(ledger: LedgerStore, id: string): Promise<number> {
  return (await ledger.getAccount(id))?.balance ?? 0;
}

/** Runs one request against the platform. */
export async function perform(platform: Platform, line: RequestLine): Promise<unknown> {
  switch (line.op) {
    case 'topUp':
      return platform.customers.topUpPhoneAccount(line.params as Ops['topUp']);
    case 'authorizeLoad':
      return platform.wallets.authorizeLoad(line.params as Ops['authorizeLoad']);
    case 'confirmLoad':
      return platform.wallets.confirmLoad(line.params as Ops['confirmLoad']);
    case 'resolveLoad':
      return platform.wallets.resolveLoad(line.params as Ops['resolveLoad']);
    case 'pendingLoads':
      return platform.wallets.pendingLoads(line.params as Ops['pendingLoads']);
    case 'submitBatch':
      return platform.wallets.submitBatch(line.params as Ops['submitBatch']);
    case 'summary':
      return summary(platform);
    default:
      throw new Error(`unknown op ${String((line as { op: unknown }).op)}`);
  }
}

async function summary(platform: Platform): Promise<Summary> {
  const { ledger } = platform;
  const phones: Summary['phones'] = {};
  const points: Summary['points'] = {};
  const floats: Summary['floats'] = {};
  const loads: Summary['loads'] = [];
  const purchases: Summary['purchases'] = {};
  for (const c of CARDS) {
    const phone = await platform.customers.phoneAccount({ msisdn: c.msisdn });
    phones[c.msisdn] = { balance: phone.balance, available: phone.available };
    points[c.msisdn] = (await platform.points.balance({ msisdn: c.msisdn })).points;
    floats[c.cardSerial] = (await platform.wallets.float({ cardSerial: c.cardSerial })).balance;
    for (const t of await ledger.listTransfers({ ref: REF.load(c.cardSerial) }))
      loads.push({ loadId: t.id, cardSerial: c.cardSerial, amount: t.amount, state: t.state });
    // Each cleared debit is a record of the batch that cleared it; the money moved as one transfer per card and
    // batch, whose amounts must add up to the debits'.
    const debits = await ledger.listRecords<{ offlineCounter: number; amount: number }>(
      'cleared-debits',
      `${c.cardSerial}:`,
    );
    purchases[c.cardSerial] = debits.map((d) => ({ offlineCounter: d.value.offlineCounter, amount: d.value.amount }));
    const moved = (await ledger.listTransfers({ ref: REF.purchase(c.cardSerial) })).reduce((a, t) => a + t.amount, 0);
    const recorded = debits.reduce((a, d) => a + d.value.amount, 0);
    if (moved !== recorded)
      throw new Error(`${c.cardSerial}: purchase transfers move ${moved} fen, its cleared debits say ${recorded}`);
  }
  return {
    verify: await platform.verify(),
    phones,
    points,
    floats,
    payable: (await platform.merchantBalance({ client: CLIENT })).payable,
    cash: await balanceOf(ledger, ACCOUNT.cash(CLIENT)),
    suspense: await balanceOf(ledger, SUSPENSE_ACCOUNT),
    loads,
    purchases,
  };
}
