/**
 * Conformance of the real `simtap-host` process to `PROTOCOL.md` through the SDK's `PlatformClient`, over real
 * sockets: the handshake (a wrong secret, an unknown client and the wrong endpoint are `AuthenticationError`s), the
 * platform's refusals as typed errors by `data.code`, and the money flows with emulated cards — a full load by a
 * recharge machine whose authorizer is the platform (`PlatformLoadAuthorizer`), the same load step by step, torn
 * loads resolved both ways, purchases at a PSAM-backed till cleared with `clearingRecord` — ending with
 * `ledger.verify` on `/v1/console` (ok, sum 0) and every float equal to its card's purse.
 *
 * The tests run in order on one process and share its state.
 */

import {
  AuthenticationError,
  BadMac1Error,
  BadTacError,
  BalanceLimitError,
  CardBlockedError,
  clearingRecord,
  IdempotencyConflictError,
  InsufficientFundsError,
  LoadStateError,
  type PlatformCallError,
  PlatformClient,
  PlatformLoadAuthorizer,
  UnknownCardError,
  UnknownLoadError,
} from '@simtap/sdk/clients';
import { referenceProfile } from '@simtap/sdk/core/profile';
import { CardLeftFieldError, type PurchaseResult, RechargeMachine } from '@simtap/sdk/machines';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  CARD_LABELS,
  countingChannel,
  creditForLoad,
  emulatedCards,
  flipBit,
  initializeForLoad,
  KIOSK_TERMINAL_ID,
  MAX_BALANCE,
  machineClock,
  nextContact,
  purseBalance,
  tap,
  tearingChannel,
  till,
  UNISSUED_SERIAL,
} from './cards';
import { type HostProcess, startHost } from './host-process';

const cards = emulatedCards();
const c1 = cards['card-1'];
const c2 = cards['card-2'];
const c3 = cards['card-3'];
const DATE = '20260301';
const TIME = '113000';
const secretOf = (id: string) => referenceProfile().platform.clients.find((c) => c.id === id)!.secret;

let host: HostProcess;
let app: PlatformClient;
let metro: PlatformClient;
let con: PlatformClient;
const clients: PlatformClient[] = [];

function client(clientId: string, o: { endpoint?: 'app' | 'console'; secret?: Uint8Array | string } = {}) {
  const c = new PlatformClient({
    url: host.url,
    clientId,
    secret: o.secret ?? secretOf(clientId),
    endpoint: o.endpoint ?? 'app',
    timeoutMs: 15_000,
  });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  host = await startHost();
  app = client('mart-1');
  metro = client('metro-1');
  con = client('operator-1', { endpoint: 'console' });
  await Promise.all([app.connect(), metro.connect(), con.connect()]);
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await host?.dispose();
}, 30_000);

/** The error `p` rejects with (fails when it resolves). */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(v)}`);
    },
    (e: unknown) => e,
  );
}

/** Expects `p` to reject with the platform's refusal `Class` whose code is `code` (-32000, `data.code`). */
async function refusal(p: Promise<unknown>, Class: abstract new (...a: never[]) => PlatformCallError, code: string) {
  const e = await rejection(p);
  expect(e).toBeInstanceOf(Class);
  expect(e).toMatchObject({ code, rpcCode: -32000, data: { code } });
  return e as PlatformCallError;
}

/** `wallet.authorizeLoad` params from the card's INITIALIZE FOR LOAD answer. */
function loadParams(
  serial: string,
  amount: number,
  init: { oldBalance: number; onlineCounter: number; random: string; mac1: string },
  idempotencyKey: string,
  funding: { source: 'cash' } | { source: 'phoneAccount'; msisdn: string },
) {
  return {
    idempotencyKey,
    cardSerial: serial,
    terminalId: KIOSK_TERMINAL_ID,
    amount,
    ...init,
    date: DATE,
    time: TIME,
    funding,
  };
}

/** A top-up kiosk whose authorizer is the platform through the client. */
function kiosk(funding: { source: 'cash' } | { source: 'phoneAccount'; msisdn: string }) {
  const authorizer = new PlatformLoadAuthorizer(app, { funding });
  const machine = new RechargeMachine({
    card: tap(c1.card),
    authorizer,
    terminalId: Buffer.from(KIOSK_TERMINAL_ID, 'hex'),
    clock: machineClock(),
  });
  return machine;
}

let creditWrites = 0;

describe('the handshake through PlatformClient', () => {
  it('opens sessions on /v1/app and /v1/console with the profile secrets', async () => {
    expect(app.state).toBe('connected');
    expect(con.state).toBe('connected');
    expect(await app.wallet.float({ cardSerial: c1.serial })).toEqual({ balance: 0 });
    expect(await con.call('ledger.verify')).toMatchObject({ ok: true, sum: 0 });
  });

  it('a wrong secret or an unknown client: AuthenticationError BAD_PROOF; the wrong endpoint: FORBIDDEN', async () => {
    for (const [c, reason] of [
      [client('mart-1', { secret: 'AB'.repeat(32) }), 'BAD_PROOF'],
      [client('nobody-9', { secret: secretOf('mart-1') }), 'BAD_PROOF'],
      [client('operator-1'), 'FORBIDDEN'],
      [client('mart-1', { endpoint: 'console' }), 'FORBIDDEN'],
    ] as const) {
      const e = await rejection(c.connect());
      expect(e).toBeInstanceOf(AuthenticationError);
      expect(e).toMatchObject({ code: 'AUTH_FAILED', reason });
      // fatal: every call on the client fails the same way, nothing is retried
      expect(await rejection(c.wallet.float({ cardSerial: c1.serial }))).toBe(e);
      await c.close();
    }
  });

  it('rides out RATE_LIMITED: bursts of 4,000 calls at once all get their result', async () => {
    let limited = 0;
    /** The `ws` socket, counting the RATE_LIMITED answers that reach the client. */
    class CountingSocket extends WebSocket {
      override emit(event: string | symbol, ...args: unknown[]): boolean {
        if (event === 'message' && String(args[0]).includes('"RATE_LIMITED"')) limited++;
        return super.emit(event, ...args);
      }
    }
    const c = new PlatformClient({
      url: host.url,
      clientId: 'campus-1',
      secret: secretOf('campus-1'),
      WebSocket: CountingSocket,
      timeoutMs: 20_000,
    });
    clients.push(c);
    await c.connect();
    for (let attempt = 0; attempt < 3 && limited === 0; attempt++) {
      await new Promise((r) => setTimeout(r, 1100)); // a full bucket
      const all = await Promise.all(Array.from({ length: 4000 }, () => c.wallet.float({ cardSerial: c2.serial })));
      expect(all.every((r) => r.balance === 0)).toBe(true);
    }
    expect(limited).toBeGreaterThan(0);
    await c.close();
  });
});

describe('money through PlatformClient, with emulated cards', () => {
  it('a full load: a recharge machine whose authorizer is the platform (PlatformLoadAuthorizer)', async () => {
    expect(
      await app.customers.topUpPhoneAccount({ idempotencyKey: 'c-top-1', msisdn: c1.msisdn, amount: 20_000 }),
    ).toEqual({ balance: 20_000 });
    const counted = countingChannel(c1.card);
    const r = await kiosk({ source: 'phoneAccount', msisdn: c1.msisdn }).load({ amount: 5000, card: counted.channel });
    creditWrites = counted.writes();
    expect(creditWrites).toBeGreaterThan(0);
    expect(r).toMatchObject({
      status: 'completed',
      amount: 5000,
      balanceBefore: 0,
      balanceAfter: 5000,
      onlineCounter: 0,
    });
    expect(r.tacVerified).toBe(true);
    expect(purseBalance(c1)).toBe(5000);
    expect(await app.wallet.float({ cardSerial: c1.serial })).toEqual({ balance: 5000 });
    expect(await app.customers.phoneAccount({ msisdn: c1.msisdn })).toMatchObject({ balance: 15_000 });
  });

  it('the same load step by step: INITIALIZE FOR LOAD → authorizeLoad → CREDIT FOR LOAD → confirmLoad; typed refusals', async () => {
    const amount = 2500;
    const init = initializeForLoad(c1, amount);
    expect(init).toMatchObject({ oldBalance: 5000, onlineCounter: 1 });
    const funding = { source: 'phoneAccount', msisdn: c1.msisdn } as const;
    await refusal(
      app.wallet.authorizeLoad(loadParams(c1.serial, amount, { ...init, mac1: flipBit(init.mac1) }, 'c-bad', funding)),
      BadMac1Error,
      'BAD_MAC1',
    );
    await refusal(
      app.wallet.authorizeLoad(loadParams(c1.serial, MAX_BALANCE - init.oldBalance + 1, init, 'c-over', funding)),
      BalanceLimitError,
      'BALANCE_LIMIT',
    );
    const params = loadParams(c1.serial, amount, init, 'c-load-2', funding);
    const auth = await app.wallet.authorizeLoad(params);
    expect(await app.wallet.authorizeLoad(params)).toEqual(auth);
    await refusal(
      app.wallet.authorizeLoad({ ...params, funding: { source: 'cash' } }),
      IdempotencyConflictError,
      'IDEMPOTENCY_CONFLICT',
    );
    const tac = creditForLoad(c1, DATE, TIME, auth.mac2);
    if (typeof tac !== 'string') throw new Error(`CREDIT FOR LOAD answered ${tac.toString(16)}`);
    await refusal(app.wallet.confirmLoad({ loadId: auth.loadId, tac: flipBit(tac) }), BadTacError, 'BAD_TAC');
    expect(await app.wallet.load({ loadId: auth.loadId })).toMatchObject({ status: 'pending', amount });
    const posted = await app.wallet.confirmLoad({ loadId: auth.loadId, tac });
    expect(posted).toEqual({ status: 'posted', float: 7500 });
    expect(await app.wallet.confirmLoad({ loadId: auth.loadId, tac })).toEqual(posted);
    await refusal(app.wallet.confirmLoad({ loadId: auth.loadId, tac: flipBit(tac) }), LoadStateError, 'LOAD_STATE');
    await refusal(app.wallet.load({ loadId: 'no-such-load' }), UnknownLoadError, 'UNKNOWN_LOAD');
    await refusal(app.wallet.float({ cardSerial: UNISSUED_SERIAL }), UnknownCardError, 'UNKNOWN_CARD');
    expect(await app.wallet.float({ cardSerial: c1.serial })).toEqual({ balance: purseBalance(c1) });

    // INSUFFICIENT_FUNDS: card-2's holder has nothing in the phone account
    const poor = initializeForLoad(c2, 1000);
    await refusal(
      app.wallet.authorizeLoad(
        loadParams(c2.serial, 1000, poor, 'c-poor', { source: 'phoneAccount', msisdn: c2.msisdn }),
      ),
      InsufficientFundsError,
      'INSUFFICIENT_FUNDS',
    );
    // CARD_BLOCKED: card-3 blocked from the console
    expect(await con.call('cards.block', { cardSerial: c3.serial })).toMatchObject({ status: 'blocked' });
    const blocked = initializeForLoad(c3, 100);
    await refusal(
      app.wallet.authorizeLoad(loadParams(c3.serial, 100, blocked, 'c-blocked', { source: 'cash' })),
      CardBlockedError,
      'CARD_BLOCKED',
    );
    expect(await con.call('cards.unblock', { cardSerial: c3.serial })).toMatchObject({ status: 'active' });
  });

  it('a torn load the card never credited: resolveLoad with the unchanged counter voids it', async () => {
    const e = await rejection(
      kiosk({ source: 'cash' }).load({ amount: 3000, card: tearingChannel(c2.card, 1, 'before') }),
    );
    expect(e).toBeInstanceOf(CardLeftFieldError);
    const { loads } = await app.wallet.pendingLoads({ cardSerial: c2.serial });
    expect(loads).toMatchObject([{ status: 'pending', amount: 3000, onlineCounter: 0 }]);
    const next = await nextContact(c2, 0);
    expect(next).toMatchObject({ balance: 0, onlineCounter: 0, proof: undefined });
    const voided = await app.wallet.resolveLoad({ loadId: loads[0]!.loadId, onlineCounter: next.onlineCounter });
    expect(voided).toMatchObject({ status: 'voided' });
    expect(await app.wallet.resolveLoad({ loadId: loads[0]!.loadId, onlineCounter: next.onlineCounter })).toEqual(
      voided,
    );
    expect(await app.wallet.float({ cardSerial: c2.serial })).toEqual({ balance: purseBalance(c2) });
  });

  it('a torn load the card credited, answer lost: resolveLoad with counter+1 and the card’s proof posts it', async () => {
    const e = await rejection(
      kiosk({ source: 'cash' }).load({ amount: 3000, card: tearingChannel(c2.card, creditWrites, 'after') }),
    );
    expect(e).toBeInstanceOf(CardLeftFieldError);
    const { loads } = await app.wallet.pendingLoads({ cardSerial: c2.serial });
    expect(loads).toMatchObject([{ status: 'pending', amount: 3000, onlineCounter: 0 }]);
    const next = await nextContact(c2, 0);
    expect(next).toMatchObject({ balance: 3000, onlineCounter: 1 });
    await refusal(
      app.wallet.resolveLoad({
        loadId: loads[0]!.loadId,
        onlineCounter: 1,
        ...next.proof!,
        tac: flipBit(next.proof!.tac),
      }),
      BadTacError,
      'BAD_TAC',
    );
    const posted = await app.wallet.resolveLoad({ loadId: loads[0]!.loadId, onlineCounter: 1, ...next.proof! });
    expect(posted).toMatchObject({ status: 'posted' });
    expect(await app.wallet.resolveLoad({ loadId: loads[0]!.loadId, onlineCounter: 1, ...next.proof! })).toEqual(
      posted,
    );
    expect(await app.wallet.pendingLoads({ cardSerial: c2.serial })).toEqual({ loads: [] });
    expect(await app.wallet.float({ cardSerial: c2.serial })).toEqual({ balance: purseBalance(c2) });
  });

  it('clears purchases made at a PSAM till (clearingRecord): BAD_TAC at its index, DUPLICATE, gaps', async () => {
    const pos = till(cards);
    const sales: PurchaseResult[] = [];
    for (const amount of [1250, 730, 20]) sales.push(await pos.machine.purchase({ amount, card: tap(c1.card) }));
    sales.push(await pos.machine.purchase({ amount: 500, card: tap(c2.card) }));
    const [r0, r1, r2, s0] = sales.map(clearingRecord) as [
      ReturnType<typeof clearingRecord>,
      ReturnType<typeof clearingRecord>,
      ReturnType<typeof clearingRecord>,
      ReturnType<typeof clearingRecord>,
    ];
    const records = [r0, { ...r1, tac: flipBit(r1.tac) }, r2, s0];
    const first = await app.clearing.submitBatch({ idempotencyKey: 'c-batch-1', records });
    expect(first).toMatchObject({ accepted: 3, settled: 1770, rejected: [{ index: 1, code: 'BAD_TAC' }] });
    expect(first.gaps.find((g) => g.cardSerial === c1.serial)).toEqual({ cardSerial: c1.serial, missing: [1] });
    expect(await app.clearing.submitBatch({ idempotencyKey: 'c-batch-1', records })).toEqual(first);
    await refusal(
      app.clearing.submitBatch({ idempotencyKey: 'c-batch-1', records: [r1] }),
      IdempotencyConflictError,
      'IDEMPOTENCY_CONFLICT',
    );
    const second = await app.clearing.submitBatch({ records: [r1, r0] });
    expect(second).toMatchObject({ accepted: 1, settled: 730, rejected: [{ index: 1, code: 'DUPLICATE' }] });
    expect(second.gaps.every((g) => g.missing.length === 0)).toBe(true);
    // another client's duplicate
    expect(await metro.clearing.submitBatch({ records: [s0] })).toMatchObject({
      accepted: 0,
      rejected: [{ index: 0, code: 'DUPLICATE' }],
    });
    expect(await app.merchants.balance()).toEqual({ payable: 2500 });
    expect((await app.points.balance({ msisdn: c1.msisdn })).points).toBeGreaterThan(0);
    for (const c of [c1, c2])
      expect(await app.wallet.float({ cardSerial: c.serial })).toEqual({ balance: purseBalance(c) });
  });

  it('at the end: ledger.verify on /v1/console is ok with sum 0, and every float is its card’s purse', async () => {
    const { cards: listed } = await con.call('cards.list', {});
    for (const label of CARD_LABELS) {
      const c = cards[label];
      expect(
        listed.find((l) => l.cardSerial === c.serial),
        label,
      ).toMatchObject({ float: purseBalance(c) });
      expect(await app.wallet.pendingLoads({ cardSerial: c.serial })).toEqual({ loads: [] });
    }
    expect(await con.call('ledger.verify')).toMatchObject({ ok: true, sum: 0 });
  });
});
