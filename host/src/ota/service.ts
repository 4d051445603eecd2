/**
 * The platform's side of the mobile network (`@simtap/host/ota`): what it does with a SIM through the phone that
 * holds it. The phone is a relay; the platform trusts the card, not the socket.
 *
 * **Contact.** A phone's `phone.hello { msisdn, iccid }` names a SIM. The ICCID must be a card of the registry and
 * the MSISDN its holder's; then the platform selects the card's ISD and opens SCP03 with the keys of the card it
 * claims (the KDF3 diversification of the issuer's ISD master with the card's KDD, from the key store), security
 * level 33. A card cryptogram that does not verify — another card, a clone without the keys — is refused
 * (`IDENTITY_REFUSED`, close 4403) and recorded in the ledger's `ota-refusals` records, without secrets. Only then
 * does `phone.hello` answer, and the card's work runs, one step at a time per card:
 * 1. a card reported lost or blocked is blocked on the card (APPLICATION BLOCK with the line-protection MAC); an
 *    active card found blocked is unblocked (APPLICATION UNBLOCK);
 * 2. a blank e-purse (installed, not personalized) is personalized over SCP03 — INSTALL [for personalization],
 *    STORE DATA with the keys and PIN DGIs encrypted under the card's DEK by the key store — then recorded
 *    `personalized` → `active`;
 * 3. air loads waiting for the card run (below), oldest first; then `phone.notice { kind: 'ready' }`.
 *
 * **Air top-up.** The funds are held from the phone account first (`Wallets.holdAirLoad`). Then INITIALIZE FOR LOAD;
 * its MAC1 is verified and the card session recorded before MAC2 leaves (`Wallets.beginAirSession`); CREDIT FOR
 * LOAD; the TAC verified and the load posted (`confirmLoad`). A load torn anywhere is settled at the next contact
 * from the card's own proof: GET TRANSACTION PROVE of the recorded session (this load's MAC2 and a TAC that
 * verifies → posted), else a new INITIALIZE FOR LOAD whose verified MAC1 proves the counter (unchanged → the load
 * runs again; moved past → settled from the counter when unambiguous). A load is refunded only while no session
 * was ever recorded for it (no MAC2 left the platform). Exactly once, never both, whatever the phone says: every
 * decision rests on a MAC or a TAC.
 *
 * **Several instances.** A phone is connected to one instance; work for its card that arrives at another
 * (`wallet.airTopUp`, a lost-card report) goes over the {@link OtaBus} — LISTEN/NOTIFY on the shared PostgreSQL.
 * @module
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { concat, equalBytes, fromHex, toHex, wipe } from '@simtap/sdk/core/bytes';
import { hasErrorCode } from '@simtap/sdk/core/errors';
import { GP_ERRORS, Scp03Host } from '@simtap/sdk/core/gp';
import { SW } from '@simtap/sdk/core/iso7816';
import {
  creditForLoadResponse,
  EPURSE_SFI,
  ef15,
  initForLoadResponse,
  TTI,
  transactionProveResponse,
} from '@simtap/sdk/core/pboc';
import {
  creditForLoadApdu,
  getTransactionProveApdu,
  INITIALIZE_P1,
  initializeApdu,
  readBinarySfiApdu,
  selectByNameApdu,
  txnDateTime,
} from '@simtap/sdk/machines';
import { CLOSE_CODES, type OtaNoticeKind, type OtaParamsOf } from '@simtap/sdk/wire';
import type { CardRecord } from '../contactless';
import { KEYS_ERRORS } from '../keys';
import { LEDGER_ERRORS, LedgerError, requestHash } from '../ledger';
import { PLATFORM_ERRORS, type Platform, PlatformError } from '../platform';
import { TokenBucket } from '../server/limits';
import type { LoadStatus } from '../wallets';
import { LocalOtaBus, type OtaBus, type OtaBusMessage } from './bus';
import { OTA_ERRORS, OtaError } from './errors';
import { personalizationCommands } from './personalization';
import type { PhoneLink } from './phone-connection';

/** Where the service logs (a pino logger fits). APDUs, MACs and keys are never logged. */
export interface OtaLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

/** A load event for the server's `event.load` subscribers. */
export interface OtaLoadEvent {
  readonly loadId: string;
  readonly cardSerial: string;
  readonly status: 'posted' | 'voided' | 'pending';
  readonly amount: number;
}

/** Options of {@link OtaService}. */
export interface OtaServiceOptions {
  readonly platform: Platform;
  /** Between instances (default: a {@link LocalOtaBus}, one process). The service does not close it. */
  readonly bus?: OtaBus;
  readonly logger?: OtaLogger;
  /** The terminal ID the platform's air loads carry (12 hex digits). Default `000000000A1E`. */
  readonly terminalId?: string;
  /** The clock (epoch ms) of the loads' date and time. */
  readonly now?: () => number;
  /** How long `wallet.airTopUp` waits for the load to finish on the card before it answers `pending`. Default 10 s. */
  readonly airTopUpWaitMs?: number;
  /** How long another instance has to say it holds the card's phone. Default 500 ms. */
  readonly acceptWaitMs?: number;
  /** Called when an air load settles or is left pending (the server sends `event.load`). */
  readonly onLoad?: (event: OtaLoadEvent) => void;
}

/** The default terminal ID of air loads: a virtual terminal of the platform. */
export const OTA_TERMINAL_ID = '000000000A1E';

const SILENT: OtaLogger = { info() {}, warn() {}, debug() {} };
const REFUSALS = 'ota-refusals';
/** The challenge and the card's answer of an online charge over the air, under the call's key. */
const AIR_CHARGES = 'ota-charges';

interface AirCharge {
  readonly hash: string;
  readonly cardSerial: string;
  readonly challenge: string;
  readonly response: string;
}
const SW_OK = SW.OK;
const SL_CMAC_CDEC_RMAC_RENC = 0x33;
/** Attempts at one air load within one contact (a CREDIT answered with an error is followed by a proof). */
const ATTEMPTS_PER_CONTACT = 2;

interface Session {
  readonly link: PhoneLink;
  readonly card: CardRecord;
  /** The contact work runs here, one step after the other. */
  chain: Promise<void>;
  /** A run is queued behind the current one (runs coalesce). */
  queued: boolean;
  /** The air load on the card now, if any. */
  current: { loadId: string; amount: number } | undefined;
  /** The purse was checked at this contact (selected, personalized, not blocked): later runs go straight to loads. */
  checked: boolean;
}

/** The over-the-air service: phones' sessions, their cards' work, air top-ups. */
export class OtaService {
  readonly instance = randomUUID();
  readonly #platform: Platform;
  readonly #bus: OtaBus;
  readonly #log: OtaLogger;
  readonly #terminalId: Uint8Array;
  readonly #now: () => number;
  readonly #waitMs: number;
  readonly #acceptMs: number;
  readonly #onLoad: ((e: OtaLoadEvent) => void) | undefined;
  readonly #sessions = new Map<string, Session>();
  readonly #settledWaiters = new Map<string, Set<(s: 'posted' | 'voided' | 'pending') => void>>();
  readonly #acceptWaiters = new Map<string, () => void>();
  readonly #proofWaiters = new Map<string, (response: string | undefined) => void>();
  /** Refusals recorded in the ledger: at most 20 a second sustained, 200 at once. */
  readonly #refusalBudget = new TokenBucket(20, 200);
  #refusalsNotRecorded = 0;
  readonly #unsubscribe: () => void;
  #closed = false;

  constructor(options: OtaServiceOptions) {
    this.#platform = options.platform;
    this.#bus = options.bus ?? new LocalOtaBus();
    this.#log = options.logger ?? SILENT;
    this.#terminalId = fromHex(options.terminalId ?? OTA_TERMINAL_ID);
    if (this.#terminalId.length !== 6) throw new PlatformError('CARD_STATE', 'terminalId must be 12 hex digits');
    this.#now = options.now ?? Date.now;
    this.#waitMs = options.airTopUpWaitMs ?? 10_000;
    this.#acceptMs = options.acceptWaitMs ?? 500;
    this.#onLoad = options.onLoad;
    this.#unsubscribe = this.#bus.subscribe((m) => this.#onBus(m));
  }

  /** Refusals only logged, not recorded, because they came faster than the recording budget. */
  get refusalsNotRecorded(): number {
    return this.#refusalsNotRecorded;
  }

  /** Cards whose phone is connected to this instance. */
  get connectedCards(): string[] {
    return [...this.#sessions.keys()];
  }

  /** True when the card's phone is connected to this instance. */
  connected(cardSerial: string): boolean {
    return this.#sessions.has(cardSerial.toUpperCase());
  }

  // ---------------------------------------------------------------- phones

  /**
   * `phone.hello`: checks the claimed identity against the registry and the SIM's SCP03 authentication; answers
   * the card once it is proven, then starts its work.
   * @throws {OtaError} `IDENTITY_REFUSED` (recorded), `CARD_ABSENT`, `LINK_LOST`
   */
  async hello(link: PhoneLink, params: OtaParamsOf<'phone.hello'>): Promise<{ cardSerial: string; status: string }> {
    const { msisdn } = params;
    const iccid = params.iccid.toUpperCase();
    const card = await this.#platform.contactless.cardByIccid(iccid);
    if (!card) return this.#refuse(link, { iccid, msisdn }, 'unknown ICCID');
    if (card.msisdn !== msisdn)
      return this.#refuse(link, { iccid, msisdn, cardSerial: card.cardSerial }, 'the MSISDN is not the card holder’s');
    await this.#authenticate(link, card, { iccid, msisdn });
    const previous = this.#sessions.get(card.cardSerial);
    if (previous && previous.link !== link)
      previous.link.close(CLOSE_CODES.SUPERSEDED, 'the SIM connected again through another link');
    const session: Session = {
      link,
      card,
      chain: Promise.resolve(),
      queued: false,
      current: undefined,
      checked: false,
    };
    this.#sessions.set(card.cardSerial, session);
    (link as { cardSerial?: string }).cardSerial = card.cardSerial;
    this.#log.info({ conn: link.id, card: card.cardSerial, status: card.status }, 'phone authenticated');
    link.notice({
      kind: 'authenticated',
      message: `SIM of card ${card.cardSerial} authenticated over SCP03`,
      cardSerial: card.cardSerial,
    });
    // The work starts once the hello's answer is out.
    setImmediate(() => this.#kick(card.cardSerial));
    return { cardSerial: card.cardSerial, status: card.status };
  }

  /** `phone.topUp`: the customer tops up from the phone (client `phone:<card>`, from the phone account). */
  async topUp(link: PhoneLink, params: OtaParamsOf<'phone.topUp'>): Promise<{ loadId: string; status: LoadStatus }> {
    const session = [...this.#sessions.values()].find((s) => s.link === link);
    if (!session) throw new OtaError('LINK_LOST', 'the phone has no authenticated SIM');
    return this.#airLoad({
      client: `phone:${session.card.cardSerial}`,
      idempotencyKey: params.idempotencyKey,
      method: 'phone.topUp',
      msisdn: session.card.msisdn,
      amount: params.amount,
    });
  }

  /** The phone's connection closed. */
  gone(link: PhoneLink): void {
    for (const [serial, s] of this.#sessions) if (s.link === link) this.#sessions.delete(serial);
  }

  // ---------------------------------------------------------------- the platform's requests

  /**
   * `wallet.airTopUp`: holds the funds, then loads the card through its phone — here, or on the instance holding
   * it — and waits up to `airTopUpWaitMs` for the outcome (`pending` after that, or when no phone is connected).
   */
  airTopUp(params: { client: string; idempotencyKey: string; msisdn: string; amount: number }) {
    return this.#airLoad({ ...params, method: 'wallet.airTopUp' });
  }

  /**
   * `customers.chargeOverTheAir`: the online charge to the phone account with the card proving itself through its
   * phone — a fresh challenge (`customers.chargeChallenge`), INTERNAL AUTHENTICATE on the SIM wherever its phone is
   * connected, then `customers.chargePhoneAccount` with the answer. The challenge and the card's answer are recorded
   * under the call's key first, so a repeat completes or replays the same charge. Idempotent per (client, key).
   * @throws PlatformError `UNKNOWN_CUSTOMER`, `UNKNOWN_CARD`, `CARD_BLOCKED`, `PHONE_UNREACHABLE`, `BAD_CARD_PROOF`,
   *   `NO_MERCHANT`; LedgerError `INSUFFICIENT_FUNDS`, `IDEMPOTENCY_CONFLICT`
   */
  async chargeOverTheAir(params: { client: string; idempotencyKey: string; msisdn: string; amount: number }) {
    const p = this.#platform;
    const call = { msisdn: params.msisdn, amount: params.amount };
    const hash = requestHash('customers.chargeOverTheAir', call);
    const id = `${params.client.length}:${params.client}/${params.idempotencyKey}`;
    // The inner charge runs under a key of its own, so that its refusals and the outer call's stay apart.
    const innerKey = `ota-charge:${createHash('sha256').update(params.idempotencyKey).digest('hex').slice(0, 40)}`;
    const charge = async () => {
      let stored = (await p.ledger.getRecord<AirCharge>(AIR_CHARGES, id))?.value;
      if (!stored) {
        if (!(await p.customers.phoneAccount({ msisdn: params.msisdn }).catch(() => undefined)))
          throw new PlatformError('UNKNOWN_CUSTOMER', `no customer ${params.msisdn}`);
        const cards = await p.contactless.cardsOf(params.msisdn);
        const card = cards.find((c) => c.status === 'active') ?? cards[0];
        if (!card) throw new PlatformError('UNKNOWN_CARD', `customer ${params.msisdn} has no card`);
        if (card.status !== 'active')
          throw new PlatformError('CARD_BLOCKED', `card ${card.cardSerial} is ${card.status}, not active`);
        const { challenge } = await p.customers.chargeChallenge({ cardSerial: card.cardSerial });
        const response = await this.#proofOf(card.cardSerial, challenge);
        try {
          await p.ledger.writeRecords([
            {
              collection: AIR_CHARGES,
              id,
              value: { hash, cardSerial: card.cardSerial, challenge, response },
              expectVersion: 0,
            },
          ]);
        } catch (e) {
          if (!hasErrorCode(e, LEDGER_ERRORS, 'RECORD_CONFLICT')) throw e;
        }
        stored = (await p.ledger.getRecord<AirCharge>(AIR_CHARGES, id))!.value;
      }
      if (stored.hash !== hash)
        throw new LedgerError('IDEMPOTENCY_CONFLICT', 'this idempotency key was used for another call');
      return p.customers.chargePhoneAccount({
        client: params.client,
        idempotencyKey: innerKey,
        cardSerial: stored.cardSerial,
        amount: params.amount,
        challenge: stored.challenge,
        response: stored.response,
      });
    };
    return p.idempotency.run(params.client, params.idempotencyKey, 'customers.chargeOverTheAir', call, charge, charge);
  }

  /** The card's INTERNAL AUTHENTICATE answer to `challenge`, from its phone here or on another instance. */
  async #proofOf(cardSerial: string, challenge: string): Promise<string> {
    const local = this.#sessions.get(cardSerial);
    if (local) return this.#authenticateLocally(local, challenge);
    const request = randomUUID();
    const accepted = this.#accepted(request);
    const answer = new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.#proofWaiters.delete(request);
        resolve(undefined);
      }, this.#acceptMs + 10_000);
      this.#proofWaiters.set(request, (r) => {
        clearTimeout(timer);
        this.#proofWaiters.delete(request);
        resolve(r);
      });
    });
    await this.#bus.publish({ kind: 'authenticate', cardSerial, challenge, request, origin: this.instance });
    const response = (await accepted) ? await answer : undefined;
    this.#proofWaiters.get(request)?.(undefined);
    if (response === undefined)
      throw new PlatformError('PHONE_UNREACHABLE', `the phone of card ${cardSerial} is not connected`);
    return response;
  }

  /** INTERNAL AUTHENTICATE on the SIM, queued behind the card's other work. */
  #authenticateLocally(s: Session, challenge: string): Promise<string> {
    const run = s.chain.then(async () => {
      const aid = fromHex(this.#platform.config.issuance.epurseAid);
      if (swOf(await s.link.transmit(selectByNameApdu(aid))) !== SW_OK)
        throw new PlatformError('BAD_CARD_PROOF', 'the SIM did not select its e-purse');
      const c = fromHex(challenge);
      const r = await s.link.transmit(
        concat(Uint8Array.of(0x00, 0x88, 0x00, this.#platform.config.issuance.keyIndex, c.length), c, Uint8Array.of(0)),
      );
      if (swOf(r) !== SW_OK)
        throw new PlatformError('BAD_CARD_PROOF', `the SIM refused INTERNAL AUTHENTICATE (${hex4(swOf(r))})`);
      return toHex(r.subarray(0, r.length - 2));
    });
    s.chain = run.then(
      () => {},
      () => {},
    );
    return run.catch((e: unknown) => {
      if (hasErrorCode(e, OTA_ERRORS))
        throw new PlatformError('PHONE_UNREACHABLE', `the phone's link failed: ${(e as Error).message}`);
      throw e;
    });
  }

  /** A card's status changed (lost, blocked, active again): its phone, wherever connected, acts on it now. */
  cardChanged(cardSerial: string): void {
    void this.#dispatch(cardSerial.toUpperCase(), false);
  }

  /** Stops: sessions are forgotten (the server closes the sockets), the bus subscription removed. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#unsubscribe();
    this.#sessions.clear();
  }

  // ---------------------------------------------------------------- internals: requests

  async #airLoad(p: { client: string; idempotencyKey: string; method: string; msisdn: string; amount: number }) {
    const r = await this.#platform.wallets.holdAirLoad(p);
    if (r.status !== 'pending') return { loadId: r.loadId, status: r.status };
    const settled = this.#waitSettled(r.loadId, this.#waitMs);
    const reached = await this.#dispatch(r.cardSerial, true);
    if (!reached) {
      settled.cancel();
      return { loadId: r.loadId, status: 'pending' as const };
    }
    return { loadId: r.loadId, status: await settled.promise };
  }

  /** Runs the card's work where its phone is; resolves whether some instance holds it (when `ask`). */
  async #dispatch(cardSerial: string, ask: boolean): Promise<boolean> {
    if (this.#sessions.has(cardSerial)) {
      this.#kick(cardSerial);
      return true;
    }
    const request = ask ? randomUUID() : undefined;
    const accepted = request === undefined ? undefined : this.#accepted(request);
    await this.#bus.publish({ kind: 'run', cardSerial, origin: this.instance, ...(request ? { request } : {}) });
    return accepted === undefined ? false : accepted;
  }

  /** Whether an instance holding the card's phone says so (`accepted`) for `request` within `acceptWaitMs`. */
  #accepted(request: string): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.#acceptWaiters.delete(request);
        resolve(false);
      }, this.#acceptMs);
      this.#acceptWaiters.set(request, () => {
        clearTimeout(timer);
        this.#acceptWaiters.delete(request);
        resolve(true);
      });
    });
  }

  #onBus(m: OtaBusMessage): void {
    if (this.#closed) return;
    if (m.kind === 'run') {
      if (m.origin === this.instance || !this.#sessions.has(m.cardSerial)) return;
      if (m.request !== undefined)
        void this.#bus.publish({
          kind: 'accepted',
          cardSerial: m.cardSerial,
          origin: this.instance,
          request: m.request,
        });
      this.#kick(m.cardSerial);
    } else if (m.kind === 'accepted') {
      this.#acceptWaiters.get(m.request)?.();
    } else if (m.kind === 'authenticate') {
      const s = this.#sessions.get(m.cardSerial);
      if (m.origin === this.instance || !s) return;
      void this.#bus.publish({ kind: 'accepted', cardSerial: m.cardSerial, origin: this.instance, request: m.request });
      this.#authenticateLocally(s, m.challenge).then(
        (response) => this.#bus.publish({ kind: 'proof', request: m.request, response, origin: this.instance }),
        () => this.#bus.publish({ kind: 'proof', request: m.request, origin: this.instance }),
      );
    } else if (m.kind === 'proof') {
      this.#proofWaiters.get(m.request)?.(m.response);
    } else if (m.kind === 'settled' && m.origin !== this.instance) {
      this.#settledLocally(m.loadId, m.status);
    }
  }

  #waitSettled(loadId: string, ms: number) {
    let done!: (s: 'posted' | 'voided' | 'pending') => void;
    const promise = new Promise<'posted' | 'voided' | 'pending'>((resolve) => {
      done = resolve;
    });
    const set = this.#settledWaiters.get(loadId) ?? new Set();
    this.#settledWaiters.set(loadId, set);
    const finish = (s: 'posted' | 'voided' | 'pending') => {
      clearTimeout(timer);
      set.delete(finish);
      if (set.size === 0) this.#settledWaiters.delete(loadId);
      done(s);
    };
    const timer = setTimeout(() => finish('pending'), ms);
    set.add(finish);
    return { promise, cancel: () => finish('pending') };
  }

  #settledLocally(loadId: string, status: 'posted' | 'voided' | 'pending'): void {
    for (const f of [...(this.#settledWaiters.get(loadId) ?? [])]) f(status);
  }

  async #settled(card: CardRecord, loadId: string, amount: number, status: 'posted' | 'voided' | 'pending') {
    this.#settledLocally(loadId, status);
    await this.#bus.publish({ kind: 'settled', loadId, status, origin: this.instance });
    this.#onLoad?.({ loadId, cardSerial: card.cardSerial, status, amount });
  }

  // ---------------------------------------------------------------- internals: the card's work

  /** Queues a run of the card's work behind the current one (runs coalesce). */
  #kick(cardSerial: string): void {
    const s = this.#sessions.get(cardSerial);
    if (!s || s.queued) return;
    s.queued = true;
    s.chain = s.chain.then(async () => {
      s.queued = false;
      if (!s.link.open || this.#sessions.get(cardSerial) !== s) return;
      try {
        await this.#work(s);
      } catch (e) {
        this.#log.warn(
          {
            conn: s.link.id,
            card: cardSerial,
            err:
              e instanceof Error
                ? { name: e.name, code: (e as { code?: unknown }).code, message: e.message }
                : String(e),
          },
          'contact work stopped',
        );
        if (hasErrorCode(e, OTA_ERRORS, 'BAD_CARD_RESPONSE'))
          s.link.close(1008, 'the phone relays no valid card response');
        // A load torn on the card stays pending: whoever waits for it hears so now, not at its timeout.
        const torn = s.current;
        s.current = undefined;
        if (torn) await this.#settled(s.card, torn.loadId, torn.amount, 'pending').catch(() => {});
      }
    });
  }

  async #work(s: Session): Promise<void> {
    const p = this.#platform;
    const card = await p.contactless.mustRecord(s.card.cardSerial);
    if (s.checked && card.status === 'active') return this.#loads(s, card);
    const epurseAid = fromHex(p.config.issuance.epurseAid);
    const select = await s.link.transmit(selectByNameApdu(epurseAid));
    const selectSw = swOf(select);
    if (card.status === 'lost' || card.status === 'blocked') {
      if (selectSw === SW_OK && (await this.#purseSerial(s)) !== undefined) await this.#lineProtected(s, card, 'block');
      s.link.notice({
        kind: 'blocked',
        message: `card ${card.cardSerial} is ${card.status}: blocked on the SIM`,
        cardSerial: card.cardSerial,
      });
      return;
    }
    if (selectSw === SW_BLOCKED) {
      await this.#lineProtected(s, card, 'unblock');
      await s.link.transmit(selectByNameApdu(epurseAid));
    } else if (selectSw !== SW_OK) throw new OtaError('CARD_REFUSED', 'SELECT of the e-purse refused', selectSw);
    const serial = await this.#purseSerial(s);
    if (serial === undefined) {
      await this.#personalize(s, card);
    } else if (serial !== card.cardSerial) {
      await this.#record(
        s.link,
        { iccid: card.iccid, msisdn: card.msisdn, cardSerial: card.cardSerial },
        `the SIM's e-purse is card ${serial}`,
      );
      s.link.close(4403, 'the SIM holds another card');
      return;
    } else if (card.status === 'issued' || card.status === 'personalized') {
      // Personalized elsewhere (a bureau): recorded, then active — once the purse has proved the card's keys, for
      // EF 0x15 came through the phone in the clear (a phone could name the card on a blank SIM).
      if (!(await this.#purseProvesCard(s, card))) {
        await this.#record(
          s.link,
          { iccid: card.iccid, msisdn: card.msisdn, cardSerial: card.cardSerial },
          'the SIM’s e-purse names the card but does not prove its keys (INTERNAL AUTHENTICATE)',
        );
        s.link.close(4403, 'the SIM does not prove the card');
        return;
      }
      if (card.status === 'issued') await p.contactless.markPersonalized({ cardSerial: card.cardSerial });
      await p.contactless.activate({ cardSerial: card.cardSerial, reason: 'first contact over the air' });
    }
    s.checked = true;
    return this.#loads(s, card);
  }

  /** The air loads waiting for the card, oldest first; then `ready`. */
  async #loads(s: Session, card: CardRecord): Promise<void> {
    for (const load of await this.#platform.wallets.pendingAirLoads({ cardSerial: card.cardSerial })) {
      if (!s.link.open) return;
      s.current = { loadId: load.loadId, amount: load.amount };
      await this.#runAirLoad(s, card, load.loadId, load.amount);
      s.current = undefined;
    }
    s.link.notice({
      kind: 'ready',
      message: 'the platform has done what the card needed',
      cardSerial: card.cardSerial,
    });
  }

  /** INTERNAL AUTHENTICATE of a fresh challenge on the selected e-purse: true when the answer is the card's. */
  async #purseProvesCard(s: Session, card: CardRecord): Promise<boolean> {
    const challenge = randomBytes(8);
    const r = await s.link.transmit(
      concat(Uint8Array.of(0x00, 0x88, 0x00, this.#platform.config.issuance.keyIndex, 8), challenge, Uint8Array.of(0)),
    );
    if (swOf(r) !== SW_OK) return false;
    return this.#platform.keys.verifyInternalAuthenticate({
      cardSerial: fromHex(card.cardSerial),
      challenge,
      response: r.subarray(0, r.length - 2),
    });
  }

  /** Reads EF 0x15 of the selected e-purse: its serial, or `undefined` when the purse is blank (not personalized). */
  async #purseSerial(s: Session): Promise<string | undefined> {
    const r = await s.link.transmit(readBinarySfiApdu(EPURSE_SFI.EF15, 0, ef15.length));
    if (swOf(r) !== SW_OK) return undefined;
    if (r.length !== ef15.length + 2) throw new OtaError('BAD_CARD_RESPONSE', 'EF 0x15 of the wrong length');
    const serial = ef15.decode(r.subarray(0, r.length - 2)).applicationSerial;
    // Before personalization EF 0x15 is there, all zeros.
    return serial.every((b) => b === 0) ? undefined : toHex(serial);
  }

  async #personalize(s: Session, card: CardRecord): Promise<void> {
    const p = this.#platform;
    if (card.status !== 'issued' && card.status !== 'personalized' && card.status !== 'active')
      throw new OtaError('CARD_REFUSED', `card ${card.cardSerial} is ${card.status}: not personalized again`);
    // The purse starts with the card's float: 0 for a new card, what was moved to it for a lost card's replacement.
    const float = (await p.wallets.float({ cardSerial: card.cardSerial })).balance;
    const pending = await p.wallets.pendingLoads({ cardSerial: card.cardSerial });
    if (pending.length > 0 || float < 0 || float > p.config.maxBalance) {
      // A blank purse with loads in flight: for the back office, not automatic.
      await this.#record(
        s.link,
        { iccid: card.iccid, msisdn: card.msisdn, cardSerial: card.cardSerial },
        `blank e-purse with ${pending.length} loads in flight and a float of ${float} fen`,
      );
      throw new OtaError('CARD_REFUSED', `card ${card.cardSerial}: blank e-purse with loads in flight`);
    }
    const scp = await this.#openScp(s.link, card);
    try {
      for (const cmd of await personalizationCommands(p, card, float)) {
        const r = await scp.transmit(cmd.apdu);
        if (swOf(r) !== SW_OK) throw new OtaError('CARD_REFUSED', `${cmd.label} refused`, swOf(r));
      }
    } finally {
      scp.close();
    }
    if (card.status === 'issued') await p.contactless.markPersonalized({ cardSerial: card.cardSerial });
    if (card.status !== 'active')
      await p.contactless.activate({ cardSerial: card.cardSerial, reason: 'personalized over the air' });
    this.#log.info({ conn: s.link.id, card: card.cardSerial }, 'personalized over the air');
    s.link.notice({
      kind: 'personalized',
      message: `card ${card.cardSerial} personalized over the air and active${float > 0 ? `, purse ${(float / 100).toFixed(2)}` : ''}`,
      cardSerial: card.cardSerial,
    });
  }

  /** APPLICATION BLOCK / UNBLOCK on the selected e-purse: GET CHALLENGE, then the command with its line MAC. */
  async #lineProtected(s: Session, card: CardRecord, op: 'block' | 'unblock'): Promise<void> {
    const ch = await s.link.transmit(Uint8Array.of(0x00, 0x84, 0x00, 0x00, 0x04));
    if (swOf(ch) !== SW_OK || ch.length !== 6) throw new OtaError('CARD_REFUSED', 'GET CHALLENGE refused', swOf(ch));
    const header =
      op === 'block' ? Uint8Array.of(0x84, 0x1e, 0x00, 0x00, 0x04) : Uint8Array.of(0x84, 0x18, 0x00, 0x00, 0x04);
    const mac = await this.#platform.keys.lineProtectionMac({
      cardSerial: fromHex(card.cardSerial),
      challenge: ch.subarray(0, 4),
      header,
    });
    const r = await s.link.transmit(concat(header, mac));
    const sw = swOf(r);
    // Permanently locked already (answered before the MAC): nothing more to do.
    if (sw !== SW_OK && !(op === 'block' && sw === SW.APPLICATION_LOCKED))
      throw new OtaError('CARD_REFUSED', `APPLICATION ${op.toUpperCase()} refused`, sw);
    this.#log.info({ conn: s.link.id, card: card.cardSerial, op }, 'line-protected command on the card');
  }

  /** One air load on the card; never throws for a card refusal (the load stays for the card's proof). */
  async #runAirLoad(s: Session, card: CardRecord, loadId: string, amount: number): Promise<void> {
    const w = this.#platform.wallets;
    for (let attempt = 0; attempt < ATTEMPTS_PER_CONTACT; attempt++) {
      const session = await w.airSession(loadId);
      if (session?.cancelled) return;
      const purseAid = fromHex(this.#platform.config.issuance.epurseAid);
      if (swOf(await s.link.transmit(selectByNameApdu(purseAid))) !== SW_OK)
        return this.#leave(s, card, loadId, amount);
      if (session) {
        // Torn before: the card's proof of the recorded session first.
        const proof = await s.link.transmit(getTransactionProveApdu(TTI.EP_LOAD, session.onlineCounter));
        if (swOf(proof) === SW_OK && proof.length === transactionProveResponse.length + 2) {
          const { mac2, tac } = transactionProveResponse.decode(proof.subarray(0, proof.length - 2));
          try {
            await w.proveAirLoad({ loadId, mac2: toHex(mac2), tac: toHex(tac) });
            return this.#done(s, card, loadId, amount, 'posted', session.oldBalance + amount);
          } catch (e) {
            if (!hasErrorCode(e, PLATFORM_ERRORS, 'BAD_TAC')) throw e;
          }
        }
      }
      const init = await s.link.transmit(
        initializeApdu(INITIALIZE_P1.LOAD, this.#platform.config.issuance.keyIndex, amount, this.#terminalId),
      );
      if (swOf(init) !== SW_OK) {
        // The card refused the load (over its maximum, blocked…): refunded if it never had a session.
        if (!session)
          return this.#refund(s, card, loadId, amount, `the card refused INITIALIZE FOR LOAD (${hex4(swOf(init))})`);
        return this.#leave(s, card, loadId, amount);
      }
      if (init.length !== initForLoadResponse.length + 2)
        throw new OtaError('BAD_CARD_RESPONSE', 'INITIALIZE FOR LOAD answer of the wrong length');
      const i = initForLoadResponse.decode(init.subarray(0, init.length - 2));
      const { date, time } = txnDateTime({ now: () => new Date(this.#now()) });
      let start: Awaited<ReturnType<typeof w.beginAirSession>>;
      try {
        start = await w.beginAirSession({
          loadId,
          terminalId: toHex(this.#terminalId),
          oldBalance: i.oldBalance,
          onlineCounter: i.onlineCounter,
          random: toHex(i.random),
          mac1: toHex(i.mac1),
          date: toHex(date),
          time: toHex(time),
        });
      } catch (e) {
        if (hasErrorCode(e, KEYS_ERRORS, 'BAD_MAC1')) {
          this.#log.warn({ conn: s.link.id, card: card.cardSerial, loadId }, 'air load: MAC1 is not the card’s');
          if (!session) return this.#refund(s, card, loadId, amount, 'the card’s MAC1 did not verify');
          return this.#leave(s, card, loadId, amount);
        }
        if (hasErrorCode(e, PLATFORM_ERRORS, 'BALANCE_LIMIT') && !session)
          return this.#refund(s, card, loadId, amount, 'the load would take the purse over its maximum');
        if (hasErrorCode(e, PLATFORM_ERRORS, 'LOAD_STATE', 'BALANCE_LIMIT'))
          return this.#leave(s, card, loadId, amount);
        throw e;
      }
      if (start.kind === 'settled') return this.#done(s, card, loadId, amount, start.status, undefined);
      if (start.kind === 'unresolved') return this.#leave(s, card, loadId, amount);
      const mac2 = fromHex(start.mac2);
      const credit = await s.link.transmit(creditForLoadApdu(date, time, mac2));
      wipe(mac2);
      if (swOf(credit) !== SW_OK) continue; // the proof decides, now or at the next contact
      if (credit.length !== creditForLoadResponse.length + 2)
        throw new OtaError('BAD_CARD_RESPONSE', 'CREDIT FOR LOAD answer of the wrong length');
      const { tac } = creditForLoadResponse.decode(credit.subarray(0, credit.length - 2));
      try {
        await w.confirmLoad({ loadId, tac: toHex(tac) });
      } catch (e) {
        if (!hasErrorCode(e, PLATFORM_ERRORS, 'BAD_TAC')) throw e;
        continue;
      }
      return this.#done(s, card, loadId, amount, 'posted', i.oldBalance + amount);
    }
    return this.#leave(s, card, loadId, amount);
  }

  async #done(
    s: Session,
    card: CardRecord,
    loadId: string,
    amount: number,
    status: LoadStatus,
    balance: number | undefined,
  ) {
    const kind: OtaNoticeKind = status === 'posted' ? 'loaded' : status === 'voided' ? 'refunded' : 'pending';
    const yuan = (amount / 100).toFixed(2);
    s.link.notice({
      kind,
      message:
        status === 'posted'
          ? `loaded ${yuan} yuan over the air${balance === undefined ? '' : `, purse ${(balance / 100).toFixed(2)}`}`
          : status === 'voided'
            ? `load of ${yuan} yuan refunded to the phone account`
            : `load of ${yuan} yuan pending`,
      cardSerial: card.cardSerial,
      loadId,
      amount,
      ...(balance === undefined ? {} : { balance }),
    });
    this.#log.info({ conn: s.link.id, card: card.cardSerial, loadId, status }, 'air load');
    await this.#settled(card, loadId, amount, status);
  }

  async #refund(s: Session, card: CardRecord, loadId: string, amount: number, reason: string) {
    await this.#platform.wallets.cancelAirLoad({ loadId, reason: `refunded: ${reason}` });
    return this.#done(s, card, loadId, amount, 'voided', undefined);
  }

  async #leave(s: Session, card: CardRecord, loadId: string, amount: number) {
    return this.#done(s, card, loadId, amount, 'pending', undefined);
  }

  // ---------------------------------------------------------------- internals: identity

  /** SELECT ISD + SCP03 at level 33 with the claimed card's keys; the session is closed again. */
  async #authenticate(link: PhoneLink, card: CardRecord, claim: { iccid: string; msisdn: string }): Promise<void> {
    try {
      const scp = await this.#openScp(link, card);
      scp.close();
    } catch (e) {
      // A phone relaying no valid card response cannot complete the handshake either: refused (and recorded) like
      // a card whose cryptogram fails, not answered UNAVAILABLE and left connected.
      if (hasErrorCode(e, OTA_ERRORS, 'CARD_ABSENT', 'LINK_LOST')) throw e;
      const why =
        e instanceof OtaError && e.sw !== undefined
          ? `${e.message} (${hex4(e.sw)})`
          : hasErrorCode(e, GP_ERRORS, 'SCP_CARD_CRYPTOGRAM_INVALID')
            ? 'the card cryptogram does not verify under the card’s ISD keys'
            : e instanceof Error
              ? e.message
              : String(e);
      return this.#refuse(link, { ...claim, cardSerial: card.cardSerial }, `secure channel failed: ${why}`);
    }
  }

  async #openScp(link: PhoneLink, card: CardRecord): Promise<Scp03Host> {
    const isdAid = fromHex(this.#platform.config.issuance.isdAid);
    const sel = await link.transmit(
      concat(Uint8Array.of(0x00, 0xa4, 0x04, 0x00, isdAid.length), isdAid, Uint8Array.of(0)),
    );
    if (swOf(sel) !== SW_OK) throw new OtaError('CARD_REFUSED', 'SELECT of the ISD refused', swOf(sel));
    const kdd = fromHex(card.kdd);
    const keys = await this.#platform.keys.isdKeys(kdd);
    try {
      const scp = await Scp03Host.open((apdu) => link.transmit(apdu), {
        keys,
        securityLevel: SL_CMAC_CDEC_RMAC_RENC,
        hostChallenge: randomBytes(8),
      });
      if (!equalBytes(scp.cardInfo.kdd, kdd)) {
        scp.close();
        throw new OtaError('CARD_REFUSED', 'the ISD’s key diversification data is not the card’s');
      }
      return scp;
    } catch (e) {
      const sw = (e as { sw?: unknown }).sw;
      if (typeof sw === 'number' && !(e instanceof OtaError))
        throw new OtaError('CARD_REFUSED', 'the ISD refused the secure channel', sw);
      throw e;
    } finally {
      wipe(keys.enc);
      wipe(keys.mac);
      wipe(keys.dek);
    }
  }

  async #refuse(
    link: PhoneLink,
    claim: { iccid: string; msisdn: string; cardSerial?: string },
    reason: string,
  ): Promise<never> {
    await this.#record(link, claim, reason);
    throw new OtaError('IDENTITY_REFUSED', `the SIM is refused: ${reason}`);
  }

  /** Records a refusal for the back office (who claimed what, from where, why; no secrets). */
  async #record(link: PhoneLink, claim: { iccid: string; msisdn: string; cardSerial?: string }, reason: string) {
    const at = this.#now();
    this.#log.warn({ conn: link.id, remote: link.remote, ...claim, reason }, 'phone refused');
    // A flood of bogus hellos must not turn into a flood of database writes: past the budget, the log line only.
    if (!this.#refusalBudget.take()) {
      this.#refusalsNotRecorded++;
      return;
    }
    await this.#platform.ledger.writeRecords([
      {
        collection: REFUSALS,
        id: `${String(at).padStart(15, '0')}-${randomUUID()}`,
        value: { at, remote: link.remote, ...claim, reason },
      },
    ]);
  }
}

/** SELECT of a blocked application: selected, but invalidated. */
const SW_BLOCKED = SW.SELECTED_FILE_INVALIDATED;

function swOf(r: Uint8Array): number {
  if (r.length < 2) throw new OtaError('BAD_CARD_RESPONSE', 'a response without a status word');
  return (r[r.length - 2]! << 8) | r[r.length - 1]!;
}

function hex4(sw: number): string {
  return sw.toString(16).toUpperCase().padStart(4, '0');
}
