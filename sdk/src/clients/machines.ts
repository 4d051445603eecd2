/**
 * The SDK's machines on the platform: {@link PlatformLoadAuthorizer}, a recharge machine's `LoadAuthorizer` that is
 * the platform over `simtap.v1`, and {@link clearingRecord}, a till's completed purchase as `clearing.submitBatch`
 * takes it.
 * @module
 */
import { fromHex, toHex } from '../core/bytes';
import { ArgumentError } from '../core/errors';
import type { LoadAuthorizationRequest, LoadAuthorizer, LoadTacCheck, PurchaseResult } from '../machines';
import type { ParamsOf } from '../wire';
import { hasPlatformErrorCode } from './errors';
import type { CallOptions, PlatformClient } from './platform-client';

/** Where a load's money comes from: cash at the machine, or the card holder's phone account. */
export type LoadFunding = ParamsOf<'wallet.authorizeLoad'>['funding'];

/** A purchase record as `clearing.submitBatch` takes it. */
export type ClearingRecord = ParamsOf<'clearing.submitBatch'>['records'][number];

/** Options of {@link PlatformLoadAuthorizer}. */
export interface PlatformLoadAuthorizerOptions {
  /** Where the loads' money comes from (default cash). */
  readonly funding?: LoadFunding;
  /** Options of every call (a timeout shorter than the card's patience, a signal). */
  readonly call?: CallOptions;
}

/**
 * A `RechargeMachine`'s `LoadAuthorizer` that is the platform: `authorize` relays the card's INITIALIZE FOR LOAD
 * answer to `wallet.authorizeLoad` (MAC1 checked, funds held) and returns its MAC2; `verifyTac` posts the load with
 * the card's TAC (`wallet.confirmLoad`): `true` when it posted, `false` on `BAD_TAC` (the load stays pending). Any
 * other refusal is thrown to the machine, which then credits nothing.
 *
 * The idempotency key of a load is made of the card's serial, online counter and random (`load:<serial>:<counter>:
 * <random>`), so a repeat of the same card answer — the machine's or the client's retry — holds the funds once.
 * @example
 * import { PlatformLoadAuthorizer } from '@simtap/sdk/clients';
 * import { RechargeMachine } from '@simtap/sdk/machines';
 * const authorizer = new PlatformLoadAuthorizer(client, { funding: { source: 'phoneAccount', msisdn: '13800138001' } });
 * const kiosk = new RechargeMachine({ card: phone, authorizer, terminalId: Uint8Array.of(0x44, 1, 0, 0, 0, 9) });
 * const { balanceAfter } = await kiosk.load({ amount: 5000 });
 */
export class PlatformLoadAuthorizer implements LoadAuthorizer {
  readonly #client: PlatformClient;
  readonly #funding: LoadFunding;
  readonly #call: CallOptions;
  /** `serial:onlineCounter` → loadId of the loads authorized and not yet confirmed. */
  readonly #loads = new Map<string, string>();

  constructor(client: PlatformClient, options: PlatformLoadAuthorizerOptions = {}) {
    this.#client = client;
    this.#funding = options.funding ?? { source: 'cash' };
    this.#call = options.call ?? {};
  }

  /**
   * `wallet.authorizeLoad` with the card's answer; the MAC2 for CREDIT FOR LOAD.
   * @throws {PlatformCallError} the platform's refusal (`BAD_MAC1`, `INSUFFICIENT_FUNDS`, `BALANCE_LIMIT`, …).
   */
  async authorize(req: LoadAuthorizationRequest): Promise<{ mac2: Uint8Array }> {
    const cardSerial = toHex(req.cardSerial);
    const random = toHex(req.random);
    const { loadId, mac2 } = await this.#client.wallet.authorizeLoad(
      {
        idempotencyKey: `load:${cardSerial}:${req.onlineCounter}:${random}`,
        cardSerial,
        terminalId: toHex(req.terminalId),
        amount: req.amount,
        oldBalance: req.oldBalance,
        onlineCounter: req.onlineCounter,
        random,
        mac1: toHex(req.mac1),
        date: toHex(req.date),
        time: toHex(req.time),
        funding: this.#funding,
      },
      this.#call,
    );
    this.#loads.set(`${cardSerial}:${req.onlineCounter}`, loadId);
    return { mac2: fromHex(mac2) };
  }

  /**
   * `wallet.confirmLoad` with the card's TAC: `true` when the load posted, `false` when the TAC does not verify.
   * A load this authorizer did not authorize (another machine's, before a restart) is found among the card's
   * pending loads by its online counter.
   * @throws {PlatformCallError} any other refusal (`UNKNOWN_LOAD`, `LOAD_STATE`, …).
   */
  async verifyTac(check: LoadTacCheck): Promise<boolean> {
    const cardSerial = toHex(check.cardSerial);
    const key = `${cardSerial}:${check.onlineCounter}`;
    let loadId = this.#loads.get(key);
    if (loadId === undefined) {
      const { loads } = await this.#client.wallet.pendingLoads({ cardSerial }, this.#call);
      loadId = loads.find((l) => l.onlineCounter === check.onlineCounter && l.amount === check.amount)?.loadId;
      if (loadId === undefined)
        throw new ArgumentError(`no pending load of ${cardSerial} at online counter ${check.onlineCounter}`);
    }
    try {
      await this.#client.wallet.confirmLoad({ loadId, tac: toHex(check.tac) }, this.#call);
      this.#loads.delete(key);
      return true;
    } catch (e) {
      if (hasPlatformErrorCode(e, 'BAD_TAC')) return false;
      throw e;
    }
  }
}

/**
 * A till's (or gate's) completed purchase as `clearing.submitBatch` takes it: serial and terminal ID as hex, date
 * and time as their BCD digits, the card's TAC as the card gave it — and, for the operator console, what the
 * machine saw: the tap's modelled time (`tapUs`) and the purse balance after the debit (`balance`). Add the
 * machine's kind (`machine: 'till'`, lowercase) and the console groups tap times by it. None of these is under the
 * TAC; they move nothing.
 * @throws {ArgumentError} `BAD_ARGUMENT` for a purchase that is not `completed` (an unproven one has no TAC).
 * @example
 * import { clearingRecord } from '@simtap/sdk/clients';
 * const sale = await till.purchase({ amount: 1250 });
 * const { accepted, settled } = await client.clearing.submitBatch({ records: [{ ...clearingRecord(sale), machine: 'till' }] });
 */
export function clearingRecord(purchase: PurchaseResult): ClearingRecord {
  if (purchase.status !== 'completed')
    throw new ArgumentError(`the purchase is ${purchase.status}: it has no TAC to clear`);
  if (purchase.tti !== 6 && purchase.tti !== 9) throw new ArgumentError(`TTI ${purchase.tti} is not a purchase`);
  const tapUs = Math.round(purchase.tapTime.totalUs);
  return {
    cardSerial: toHex(purchase.cardSerial),
    offlineCounter: purchase.offlineCounter,
    amount: purchase.amount,
    tti: purchase.tti,
    terminalId: toHex(purchase.terminalId),
    terminalSeq: purchase.terminalTxnSeq,
    date: toHex(purchase.date),
    time: toHex(purchase.time),
    tac: toHex(purchase.tac),
    ...(Number.isFinite(tapUs) && tapUs >= 0 && tapUs <= 60_000_000 ? { tapUs } : {}),
    balance: purchase.balanceAfter,
  };
}
