/**
 * The campus's money machines, each with its link to the back office ({@link CampusMachine}, a `MachineAgent`):
 * canteen tills (a `ConsumptionMachine` with its PSAM; prices from the back office's menu; every sale recorded on
 * the till's disk and delivered to the back office, which clears it with the platform) and the top-up kiosk (a
 * `RechargeMachine` whose loads the platform authorizes, paid in cash or from the student's phone account).
 *
 * @module
 */
import { createPsam } from '@simtap/applet-emu/applets/psam';
import type { Card } from '@simtap/applet-emu/runtime';
import { InProcessChannel } from '@simtap/sdk/card';
import {
  clearingRecord,
  hasPlatformErrorCode,
  type LoadFunding,
  MachineAgent,
  type MachineKind,
  type PlatformClient,
  PlatformLoadAuthorizer,
} from '@simtap/sdk/clients';
import { InsufficientBalanceError } from '@simtap/sdk/core/iso7816';
import {
  type CardInspection,
  type Clock,
  ConsumptionMachine,
  type LoadAuthorizationRequest,
  type LoadAuthorizer,
  type LoadTacCheck,
  PsamDriver,
  RechargeMachine,
} from '@simtap/sdk/machines';
import type { CampusReader } from './reader';

/** How long a machine waits for the back office to store a record before it carries on (the record stays buffered). */
const DELIVERY_TIMEOUT_MS = 5000;

/** Options of {@link CampusMachine}. */
export interface CampusMachineOptions {
  readonly id: string;
  readonly kind: MachineKind;
  /** The machine's secret (hex), known to the back office's hub. */
  readonly secret: string;
  /** The back office's `/v1/machine` URL. */
  readonly hubUrl: string;
  /** The platform's blacklist key, set up with the machine. */
  readonly blacklistPublicKey: string;
  /** Where the machine keeps its record buffer and config. */
  readonly bufferDir: string;
}

/** A machine's link to the back office: its id and kind, and the `MachineAgent` that carries records and configs. */
export class CampusMachine {
  readonly id: string;
  readonly kind: MachineKind;
  readonly secret: string;
  readonly agent: MachineAgent;

  constructor(o: CampusMachineOptions) {
    this.id = o.id;
    this.kind = o.kind;
    this.secret = o.secret;
    this.agent = new MachineAgent({
      url: o.hubUrl,
      machineId: o.id,
      secret: o.secret,
      blacklistPublicKey: o.blacklistPublicKey,
      bufferDir: o.bufferDir,
      reconnect: { initialDelayMs: 50, maxDelayMs: 1000 },
    });
  }
}

/** What a till did with one order. */
export type SaleOutcome =
  | {
      readonly status: 'sold';
      readonly item: string;
      readonly amount: number;
      readonly balanceAfter: number;
      /** The card's offline counter of the sale. */
      readonly offlineCounter: number;
    }
  | {
      readonly status: 'refused';
      readonly item: string;
      readonly amount: number | undefined;
      readonly reason: 'blacklisted' | 'insufficientBalance' | 'notOnMenu' | 'noConfig' | 'unproven';
    };

/** Options of {@link CanteenTill}. */
export interface CanteenTillOptions {
  readonly machine: CampusMachine;
  readonly reader: CampusReader;
  /** The till's terminal ID (6 bytes): its PSAM is personalized with it. */
  readonly terminalId: Uint8Array;
  readonly clock: Clock;
}

/** What {@link refuseBlacklisted} throws: the machine refuses the tap, nothing moved. */
const BLACKLISTED = Symbol('blacklisted');

/** The look at the card inside a till's or kiosk's tap: a card on the blacklist the back office pushed is refused. */
function refuseBlacklisted(agent: MachineAgent, card: CardInspection): void {
  if (agent.isBlacklisted(card.identity.serial)) throw BLACKLISTED;
}

/** A canteen till: a reader, a PSAM in its contact slot, the back office's menu and blacklist. */
export class CanteenTill {
  readonly machine: CampusMachine;
  readonly terminalId: Uint8Array;
  readonly #reader: CampusReader;
  readonly #pos: ConsumptionMachine;

  constructor(o: CanteenTillOptions) {
    this.machine = o.machine;
    this.terminalId = o.terminalId;
    this.#reader = o.reader;
    const psam = createPsam('pos-1', { terminalId: o.terminalId });
    psam.powerOn('contact');
    const samChannel = new InProcessChannel(
      { transmit: (c) => psam.transmit('contact', c) },
      { description: `${o.machine.id} PSAM` },
    );
    this.#pos = new ConsumptionMachine({ card: o.reader, psam: new PsamDriver(samChannel), clock: o.clock });
  }

  /**
   * One order: the price from the menu the back office pushed, the card checked against the blacklist, the purchase,
   * and the record handed to the till's agent (on its disk, then delivered to the back office).
   * @throws the purchase's errors other than an insufficient balance (a torn tap, a locked card, …).
   */
  async sell(card: Card, item: string): Promise<SaleOutcome> {
    const agent = this.machine.agent;
    const config = agent.config;
    if (config === undefined) return { status: 'refused', item, amount: undefined, reason: 'noConfig' };
    const amount = config.fares?.[item];
    if (amount === undefined) return { status: 'refused', item, amount, reason: 'notOnMenu' };
    this.#reader.present(card);
    try {
      let sale: Awaited<ReturnType<ConsumptionMachine['purchase']>>;
      try {
        // The blacklist is checked inside the purchase's tap (its SELECT and EF 0x15), before anything is debited.
        sale = await this.#pos.purchase({ amount, inspect: (c) => refuseBlacklisted(agent, c) });
      } catch (e) {
        if (e === BLACKLISTED) return { status: 'refused', item, amount, reason: 'blacklisted' };
        if (e instanceof InsufficientBalanceError)
          return { status: 'refused', item, amount, reason: 'insufficientBalance' };
        throw e;
      }
      if (sale.status !== 'completed') return { status: 'refused', item, amount, reason: 'unproven' };
      await agent.record({ ...clearingRecord(sale), machine: 'canteen-till' });
      await agent.delivered({ timeoutMs: DELIVERY_TIMEOUT_MS });
      return { status: 'sold', item, amount, balanceAfter: sale.balanceAfter, offlineCounter: sale.offlineCounter };
    } finally {
      this.#reader.remove();
    }
  }
}

/** What the kiosk did with one top-up. */
export type LoadOutcome =
  | { readonly status: 'loaded'; readonly amount: number; readonly balanceAfter: number }
  | {
      readonly status: 'refused';
      readonly amount: number;
      readonly reason: 'blacklisted' | 'insufficientFunds' | 'noConfig' | 'unproven';
    };

/** Options of {@link TopUpKiosk}. */
export interface TopUpKioskOptions {
  readonly machine: CampusMachine;
  readonly reader: CampusReader;
  /** The back office's platform client: the kiosk's loads are authorized by the platform through it. */
  readonly platform: PlatformClient;
  readonly terminalId: Uint8Array;
  readonly clock: Clock;
}

/** The top-up kiosk: loads authorized by the platform, paid in cash or from the student's phone account. */
export class TopUpKiosk {
  readonly machine: CampusMachine;
  readonly #reader: CampusReader;
  readonly #platform: PlatformClient;
  readonly #recharge: RechargeMachine;
  /** The authorizer of the load in progress (its funding). */
  #current: PlatformLoadAuthorizer | undefined;

  constructor(o: TopUpKioskOptions) {
    this.machine = o.machine;
    this.#reader = o.reader;
    this.#platform = o.platform;
    const authorizer: LoadAuthorizer = {
      authorize: (req: LoadAuthorizationRequest) => this.#authorizer().authorize(req),
      verifyTac: (check: LoadTacCheck) => this.#authorizer().verifyTac(check),
    };
    this.#recharge = new RechargeMachine({ card: o.reader, authorizer, terminalId: o.terminalId, clock: o.clock });
  }

  #authorizer(): PlatformLoadAuthorizer {
    if (this.#current === undefined) throw new Error('the kiosk has no load in progress');
    return this.#current;
  }

  /**
   * Loads `amount` fen onto the card, paid as `funding` says.
   * @throws the load's errors other than the platform's `INSUFFICIENT_FUNDS`.
   */
  async load(card: Card, amount: number, funding: LoadFunding): Promise<LoadOutcome> {
    const agent = this.machine.agent;
    if (agent.config === undefined) return { status: 'refused', amount, reason: 'noConfig' };
    this.#reader.present(card);
    this.#current = new PlatformLoadAuthorizer(this.#platform, { funding });
    try {
      const load = await this.#recharge.load({ amount, inspect: (c) => refuseBlacklisted(agent, c) });
      if (load.status !== 'completed') return { status: 'refused', amount, reason: 'unproven' };
      return { status: 'loaded', amount, balanceAfter: load.balanceAfter };
    } catch (e) {
      if (e === BLACKLISTED) return { status: 'refused', amount, reason: 'blacklisted' };
      if (hasPlatformErrorCode(e, 'INSUFFICIENT_FUNDS'))
        return { status: 'refused', amount, reason: 'insufficientFunds' };
      throw e;
    } finally {
      this.#current = undefined;
      this.#reader.remove();
    }
  }
}
