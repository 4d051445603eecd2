/**
 * The methods of `/v1/app` and `/v1/console` on the platform core: each handler gets params already checked against
 * the method's schema (`checkParams`) and the session's client, calls the sub-platform, and answers in the shape of
 * the method's result schema. Money-moving methods pass the client and its idempotency key through; the ledger
 * makes a repeat return the first outcome. After a successful call, {@link EVENTS} makes the event notifications.
 * @module
 */
import {
  applicationError,
  type Endpoint,
  type METHODS,
  type MethodName,
  type NotificationOf,
  type ResultOf,
} from '@simtap/sdk/wire';
import type { z } from 'zod';
import type { AccountKind } from '../ledger';
import type { OtaService } from '../ota/service';
import type { Platform } from '../platform';
import type { ConsoleFeed, ServerView } from './console-feed';
import { WireAnswer } from './errors';
import type { EventTopic, PlatformEvent } from './events';

/** The params of method `M` as its schema outputs them. */
export type ParamsOut<M extends MethodName> = z.output<(typeof METHODS)[M]['params']>;

/** What a handler knows of the call besides its params. */
export interface CallContext {
  /** The authenticated client. */
  readonly clientId: string;
  readonly role: 'application' | 'operator';
  readonly endpoint: Endpoint;
  /** The over-the-air service: air top-ups, and phones told of their cards' status changes. */
  readonly ota: OtaService;
  /** The operator console's live view: `console.snapshot`, `lastSeen`; load handlers tell it the balances seen. */
  readonly feed: ConsoleFeed;
  /** Connections and traffic of the server, for `console.snapshot`. */
  readonly server: ServerView;
  /** `events.subscribe`: adds topics to the connection's (a subscription lasts as long as the connection), answers them all. */
  subscribe(topics: readonly EventTopic[]): EventTopic[];
}

/** One method's handler. */
export type Handler<M extends MethodName> = (
  platform: Platform,
  ctx: CallContext,
  params: ParamsOut<M>,
) => Promise<ResultOf<M>>;

/** The events a successful call makes (read after its answer is sent; `[]` for none). */
export type EventMaker<M extends MethodName> = (
  platform: Platform,
  ctx: CallContext,
  params: ParamsOut<M>,
  result: ResultOf<M>,
) => Promise<PlatformEvent[]>;

/** Every method of `/v1/app` and `/v1/console`. */
export const HANDLERS: { readonly [M in MethodName]: Handler<M> } = {
  // The handshake is the connection's (before authentication); called again on an authenticated session it is refused.
  'session.authenticate': async () => {
    throw new WireAnswer(applicationError('FORBIDDEN', 'the session is already authenticated'));
  },
  'customers.topUpPhoneAccount': (p, ctx, params) => p.customers.topUpPhoneAccount({ ...params, client: ctx.clientId }),
  'customers.phoneAccount': (p, _ctx, params) => p.customers.phoneAccount(params),
  'customers.statement': async (p, _ctx, params) => {
    const s = await p.customers.statement(params);
    return {
      balance: s.balance,
      lines: s.lines.map((l) => ({ ...l, state: l.state === 'posted' ? 'posted' : 'pending' })),
    };
  },
  'customers.chargeChallenge': (p, _ctx, params) => p.customers.chargeChallenge(params),
  'customers.chargeOverTheAir': (_p, ctx, params) => ctx.ota.chargeOverTheAir({ ...params, client: ctx.clientId }),
  'customers.chargePhoneAccount': (p, ctx, params) =>
    p.customers.chargePhoneAccount({ ...params, client: ctx.clientId }),
  'wallet.authorizeLoad': (p, ctx, params) => p.wallets.authorizeLoad({ ...params, client: ctx.clientId }),
  'wallet.confirmLoad': (p, _ctx, params) => p.wallets.confirmLoad(params),
  'wallet.resolveLoad': (p, _ctx, params) => p.wallets.resolveLoad(params),
  'wallet.float': (p, _ctx, params) => p.wallets.float(params),
  // Held from the phone account at once, then loaded through the card's phone (here or on another instance).
  'wallet.airTopUp': (_p, ctx, params) => ctx.ota.airTopUp({ ...params, client: ctx.clientId }),
  'wallet.load': (p, _ctx, params) => p.wallets.load(params),
  'wallet.pendingLoads': async (p, _ctx, params) => ({ loads: await p.wallets.pendingLoads(params) }),
  'clearing.submitBatch': async (p, ctx, params) => {
    const r = await p.wallets.submitBatch({ ...params, client: ctx.clientId });
    return {
      accepted: r.accepted,
      settled: r.settled,
      points: r.points,
      rejected: r.rejected.map((x) => ({ index: x.index, code: x.code })),
      gaps: r.gaps.map((g) => ({ cardSerial: g.cardSerial, missing: [...g.missing] })),
    };
  },
  'merchants.balance': (p, ctx) => p.merchantBalance({ client: ctx.clientId }),
  'points.balance': (p, _ctx, params) => p.points.balance(params),
  'points.redeem': (p, ctx, params) => p.points.redeem({ ...params, client: ctx.clientId }),
  'cards.get': (p, _ctx, params) => p.contactless.get(params),
  'cards.reportLost': async (p, ctx, params) => {
    const r = await p.contactless.reportLost(params);
    ctx.ota.cardChanged(params.cardSerial); // blocked on the card at its phone's contact (now, if connected)
    return r;
  },
  'cards.blacklist': async (p, _ctx, params) => {
    const d = await p.contactless.signedBlacklist(params);
    return { version: d.version, added: [...d.added], removed: [...d.removed], since: d.since, signature: d.signature };
  },
  'cards.blacklistKey': async (p) => ({ publicKey: await p.contactless.blacklistPublicKey() }),
  'cards.list': async (p, ctx, params) => {
    const r = await p.contactless.list(params);
    return {
      cards: r.cards.map((c) => ({ ...c, lastSeen: ctx.feed.lastSeen(c.cardSerial) })),
      truncated: r.truncated,
    };
  },
  'cards.block': async (p, ctx, params) => {
    const card = await p.contactless.block(params);
    ctx.ota.cardChanged(params.cardSerial);
    return { status: card.status, blacklistVersion: card.blacklistedIn ?? (await p.contactless.blacklistVersion()) };
  },
  'cards.unblock': async (p, ctx, params) => {
    // An unblock takes a blocked card back to active; it does not activate a card that was never active.
    const before = await p.contactless.get(params);
    if (before.status === 'active')
      return { status: before.status, blacklistVersion: await p.contactless.blacklistVersion() };
    if (before.status !== 'blocked')
      throw new WireAnswer(
        applicationError('CARD_STATE', `card ${before.cardSerial} is ${before.status}, not blocked`),
      );
    const card = await p.contactless.activate(params);
    ctx.ota.cardChanged(params.cardSerial);
    return { status: card.status, blacklistVersion: await p.contactless.blacklistVersion() };
  },
  'cards.issue': async (p, _ctx, params) => {
    await p.customers.register({ msisdn: params.msisdn });
    const c = await p.contactless.issue(params);
    return { cardSerial: c.cardSerial, msisdn: c.msisdn, iccid: c.iccid, status: c.status };
  },
  'cards.replace': async (p, ctx, params) => {
    const r = await p.contactless.replaceCard(params);
    ctx.ota.cardChanged(params.lostCardSerial);
    return r;
  },
  'ledger.verify': async (p) => {
    const v = await p.verify();
    return { ok: v.ok, accounts: v.accounts, sum: v.sum, journalHead: v.journalHead, entries: v.entries };
  },
  'ledger.loadReport': (p) => p.wallets.loadReport(),
  'ledger.summary': async (p) => {
    const kinds = (await p.ledger.summary()).map((k) => ({ ...k, ...LEDGER_KINDS[k.kind] }));
    const sum = (unit: 'fen' | 'points') => kinds.filter((k) => k.unit === unit).reduce((a, k) => a + k.balance, 0);
    return { kinds, fenSum: sum('fen'), pointsSum: sum('points') };
  },
  'console.snapshot': async (_p, ctx) => ctx.feed.snapshot(ctx.server),
  'events.subscribe': async (_p, ctx, params) => ({ topics: ctx.subscribe(params.topics) }),
};

/** How `ledger.summary` names each account kind: its sub-platform, a label, its unit. */
export const LEDGER_KINDS: {
  readonly [K in AccountKind]: { subPlatform: string; label: string; unit: 'fen' | 'points' };
} = {
  PHONE: { subPlatform: 'customers', label: 'Phone accounts', unit: 'fen' },
  CARD_FLOAT: { subPlatform: 'wallets', label: 'Card floats (the purses’ mirror)', unit: 'fen' },
  PENDING_LOAD: { subPlatform: 'wallets', label: 'Loads in flight', unit: 'fen' },
  MERCHANT_PAYABLE: { subPlatform: 'wallets', label: 'Owed to merchants (cleared purchases)', unit: 'fen' },
  SUSPENSE: { subPlatform: 'wallets', label: 'Suspense (loads for the back office)', unit: 'fen' },
  POINTS_LIABILITY: { subPlatform: 'points', label: 'Points liability', unit: 'points' },
  POINTS_FUNDING: { subPlatform: 'points', label: 'Points funding (awarded)', unit: 'points' },
  CASH: { subPlatform: 'money in', label: 'Cash received', unit: 'fen' },
  SETTLEMENT: { subPlatform: 'money in', label: 'Bank settlement', unit: 'fen' },
};

/** An `event.load` from the load as the platform has it now. */
async function loadEvent(p: Platform, ctx: CallContext, loadId: string): Promise<PlatformEvent[]> {
  const l = await p.wallets.load({ loadId });
  const params: NotificationOf<'event.load'> = {
    loadId: l.loadId,
    cardSerial: l.cardSerial,
    status: l.status,
    amount: l.amount,
    at: Date.now(),
    air: l.air ?? false,
  };
  return [{ name: 'event.load', params, origin: ctx.clientId }];
}

function cardEvent(
  ctx: CallContext,
  cardSerial: string,
  r: { status: NotificationOf<'event.card'>['status']; blacklistVersion: number },
): Promise<PlatformEvent[]> {
  const params: NotificationOf<'event.card'> = {
    cardSerial: cardSerial.toUpperCase(),
    status: r.status,
    blacklistVersion: r.blacklistVersion,
  };
  return Promise.resolve([{ name: 'event.card', params, origin: ctx.clientId }]);
}

/** The events of the methods that make some, and the topics they belong to. */
export const EVENTS: {
  readonly [M in MethodName]?: { readonly topics: readonly EventTopic[]; readonly make: EventMaker<M> };
} = {
  'wallet.authorizeLoad': {
    topics: ['loads'],
    make: (p, ctx, params, r) => {
      ctx.feed.sawLoad(r.loadId, params.cardSerial, params.oldBalance, params.amount);
      return loadEvent(p, ctx, r.loadId);
    },
  },
  'wallet.confirmLoad': { topics: ['loads'], make: (p, ctx, params) => loadEvent(p, ctx, params.loadId) },
  'wallet.resolveLoad': { topics: ['loads'], make: (p, ctx, params) => loadEvent(p, ctx, params.loadId) },
  'cards.reportLost': { topics: ['cards'], make: (_p, ctx, params, r) => cardEvent(ctx, params.cardSerial, r) },
  'cards.block': { topics: ['cards'], make: (_p, ctx, params, r) => cardEvent(ctx, params.cardSerial, r) },
  'cards.unblock': { topics: ['cards'], make: (_p, ctx, params, r) => cardEvent(ctx, params.cardSerial, r) },
  'clearing.submitBatch': {
    topics: ['clearing', 'taps'],
    make: async (_p, ctx, params, r) => {
      const at = Date.now();
      const rejectedAt = new Map(r.rejected.map((x) => [x.index, x.code]));
      const batch = {
        at,
        clientId: ctx.clientId,
        accepted: r.accepted,
        settled: r.settled,
        points: r.points,
        rejected: r.rejected.map((x) => ({
          index: x.index,
          cardSerial: params.records[x.index]?.cardSerial.toUpperCase() ?? '',
          code: x.code,
        })),
        gaps: r.gaps,
      };
      const events: PlatformEvent[] = [
        {
          name: 'event.batch',
          params: {
            clientId: ctx.clientId,
            accepted: r.accepted,
            settled: r.settled,
            rejected: r.rejected.length,
            at,
            batch,
          },
          origin: ctx.clientId,
        },
      ];
      for (const [i, rec] of params.records.entries()) {
        const code = rejectedAt.get(i) ?? null;
        const tap: NotificationOf<'event.tap'> = {
          at,
          clientId: ctx.clientId,
          terminalId: rec.terminalId.toUpperCase(),
          machine: rec.machine ?? null,
          cardSerial: rec.cardSerial.toUpperCase(),
          amount: rec.amount,
          offlineCounter: rec.offlineCounter,
          tapUs: rec.tapUs ?? null,
          balance: rec.balance ?? null,
          date: rec.date,
          time: rec.time,
          status: code === null ? 'cleared' : 'rejected',
          code,
        };
        events.push({ name: 'event.tap', params: tap, origin: ctx.clientId });
      }
      return events;
    },
  },
};
