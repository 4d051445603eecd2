/**
 * The supermarket's back office: it serves its tills on `/v1/machine` ({@link MachineHub}), stores their purchase
 * records once by (till, seq), clears them with the platform every few records (`clearing.submitBatch` — the
 * platform pays mart-1's merchant and awards the merchant's points), and makes the tills' online charges to phone
 * accounts (`customers.chargeChallenge` / `customers.chargePhoneAccount`) on its platform session.
 * @module
 */
import { createHash } from 'node:crypto';
import {
  type ClearingRecord,
  isMachineEvent,
  MachineHub,
  type MachineHubLimits,
  type MachineRecordEntry,
  type PlatformClient,
  PlatformLoadAuthorizer,
} from '@simtap/sdk/clients';
import { CHARGE_REQUESTS, type ChargeRequest, type ChargeService } from './till';

/** A till the back office knows. */
export interface TillSpec {
  readonly id: string;
  /** Its secret (hex). */
  readonly secret: string;
}

/** Options of {@link BackOffice.open}. */
export interface BackOfficeOptions {
  /** The back office's session with the platform (mart-1). */
  readonly platform: PlatformClient;
  readonly tills: readonly TillSpec[];
  /** Clear once this many records wait (default 4); {@link BackOffice.flush} clears the rest. */
  readonly clearEvery?: number;
  /** Also clear what waits every this many ms (default: only by count and on flush). */
  readonly clearIntervalMs?: number;
  /** Where it logs. */
  readonly log?: (line: string) => void;
  /**
   * Follow the platform's blacklist live (default false: config v1 at the start, later pushes are the caller's):
   * at every card status change the platform announces (`event.card`), the back office fetches the signed
   * blacklist and pushes it to every till as the next config version.
   */
  readonly followBlacklist?: boolean;
  /**
   * The hub's limits per till connection (`MachineHubLimits`; default the SDK's, 100 messages a second): a
   * simulated rush of many sales a second per till raises `ratePerSecond`.
   */
  readonly limits?: Partial<MachineHubLimits>;
}

/** One `clearing.submitBatch` of the back office. */
export interface ClearedBatch {
  readonly idempotencyKey: string;
  readonly records: readonly ClearingRecord[];
  readonly accepted: number;
  /** Fen paid to the merchant. */
  readonly settled: number;
  readonly points: number;
  readonly rejected: readonly { readonly index: number; readonly code: string }[];
}

/** One online charge the back office made (a retry with the same key is not a second one). */
export interface OnlineCharge {
  readonly request: ChargeRequest;
  readonly transferId: string;
  readonly points: number;
  /** Times the charge was sent (retries with the same key included). */
  readonly sent: number;
}

/**
 * The back office.
 * @example
 * const office = await BackOffice.open({ platform, tills: [{ id: 'till-1', secret }] });
 * // tills connect to office.url; at closing time:
 * await office.flush();
 */
export class BackOffice implements ChargeService {
  readonly hub: MachineHub;
  /** The `/v1/machine` URL the tills connect to. */
  readonly url: string;
  /** The platform's blacklist key (hex), which the tills are set up with. */
  readonly blacklistPublicKey: string;
  /** The kiosk's authorizer: loads paid in cash at the service desk, authorized by the platform. */
  readonly loads: PlatformLoadAuthorizer;
  /** Stored records by till, in seq order. */
  readonly records = new Map<string, MachineRecordEntry[]>();
  readonly batches: ClearedBatch[] = [];
  readonly #charges = new Map<string, OnlineCharge>();
  readonly #platform: PlatformClient;
  readonly #clearEvery: number;
  readonly #log: (line: string) => void;
  #waiting: ClearingRecord[] = [];
  #clearing: Promise<void> = Promise.resolve();
  #timer: ReturnType<typeof setInterval> | undefined;
  /** The config version last pushed to the tills. */
  #configVersion = 1;
  #following: Promise<void> = Promise.resolve();
  #unfollow: (() => void) | undefined;

  private constructor(o: {
    hub: MachineHub;
    url: string;
    key: string;
    platform: PlatformClient;
    clearEvery: number;
    log: (line: string) => void;
  }) {
    this.hub = o.hub;
    this.url = o.url;
    this.blacklistPublicKey = o.key;
    this.#platform = o.platform;
    this.#clearEvery = o.clearEvery;
    this.#log = o.log;
    this.loads = new PlatformLoadAuthorizer(o.platform);
  }

  /** Opens the back office: the platform's blacklist key, the hub listening on 127.0.0.1, config v1 pushed. */
  static async open(options: BackOfficeOptions): Promise<BackOffice> {
    const { publicKey } = await options.platform.cards.blacklistKey();
    let office: BackOffice | undefined;
    const hub = new MachineHub({
      machines: options.tills.map((t) => ({ id: t.id, secret: t.secret, kind: 'till' as const })),
      blacklistPublicKey: publicKey,
      storedSeq: (id) => office?.records.get(id)?.at(-1)?.seq ?? 0,
      onRecords: (id, entries) => (office ? office.#store(id, entries) : Promise.reject(new Error('not open'))),
      ...(options.limits ? { limits: options.limits } : {}),
      onRequest: (id, name, params) =>
        office ? office.#onRequest(id, name, params) : Promise.reject(new Error('not open')),
    });
    const { url } = await hub.listen();
    office = new BackOffice({
      hub,
      url,
      key: publicKey,
      platform: options.platform,
      clearEvery: options.clearEvery ?? 4,
      log: options.log ?? (() => {}),
    });
    hub.pushConfig('all', { version: 1, blacklist: await options.platform.cards.blacklist() });
    if (options.followBlacklist) {
      const platform = options.platform;
      const o = office;
      o.#unfollow = platform.on('event.card', () => {
        // One push at a time, in order; each fetches the newest list, so a burst of changes ends up current.
        o.#following = o.#following
          .then(async () => {
            const blacklist = await platform.cards.blacklist();
            o.#configVersion++;
            hub.pushConfig('all', { version: o.#configVersion, blacklist });
            o.#log(`blacklist v${blacklist.version} pushed to the tills (config v${o.#configVersion})`);
          })
          .catch((err: unknown) => o.#log(`blacklist not pushed: ${err instanceof Error ? err.message : String(err)}`));
      });
      await platform.events.subscribe(['cards']);
    }
    if (options.clearIntervalMs !== undefined) {
      office.#timer = setInterval(() => void office.flush().catch(() => undefined), options.clearIntervalMs);
      office.#timer.unref();
    }
    return office;
  }

  /** The online charges made, one per idempotency key. */
  get charges(): OnlineCharge[] {
    return [...this.#charges.values()];
  }

  /** Records stored and not yet cleared. */
  get waiting(): number {
    return this.#waiting.length;
  }

  chargeChallenge(cardSerial: string): Promise<{ readonly challenge: string }> {
    return this.#platform.customers.chargeChallenge({ cardSerial });
  }

  async chargePhoneAccount(request: ChargeRequest) {
    const answer = await this.#platform.customers.chargePhoneAccount(request);
    const known = this.#charges.get(request.idempotencyKey);
    this.#charges.set(request.idempotencyKey, {
      request,
      transferId: answer.transferId,
      points: answer.points,
      sent: (known?.sent ?? 0) + 1,
    });
    this.#log(`charged ${request.amount} fen to the phone account of ${request.cardSerial} (${answer.points} points)`);
    return answer;
  }

  /** Clears every stored record not yet cleared. */
  flush(): Promise<void> {
    return this.#clear(true);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#unfollow?.();
    await this.#following;
    await this.hub.close();
    await this.#clearing.catch(() => undefined);
  }

  /**
   * The hub's `onRequest`: a till's online charge (the till's `chargesOverLink`), made on the back office's platform
   * session. The platform's refusals go back to the till with their codes.
   */
  async #onRequest(tillId: string, name: string, params: unknown): Promise<unknown> {
    const p = (params ?? {}) as Record<string, unknown>;
    if (name === CHARGE_REQUESTS.challenge && typeof p.cardSerial === 'string')
      return this.chargeChallenge(p.cardSerial);
    if (name === CHARGE_REQUESTS.phoneAccount) {
      const { idempotencyKey, cardSerial, amount, challenge, response } = p;
      if (
        typeof idempotencyKey === 'string' &&
        idempotencyKey.startsWith(`charge:${tillId}:`) && // a till charges under its own keys only
        typeof cardSerial === 'string' &&
        Number.isSafeInteger(amount) &&
        typeof challenge === 'string' &&
        typeof response === 'string'
      )
        return this.chargePhoneAccount({ idempotencyKey, cardSerial, amount: amount as number, challenge, response });
    }
    throw new Error(`${tillId}: ${name} with these params is not a request of a till`);
  }

  /** The hub's `onRecords`: each record once by seq, then a clearing when enough wait. */
  async #store(id: string, entries: readonly MachineRecordEntry[]): Promise<void> {
    const list = this.records.get(id) ?? [];
    for (const e of entries) {
      if (e.seq <= (list.at(-1)?.seq ?? 0)) continue;
      list.push(e);
      if (!isMachineEvent(e.record)) this.#waiting.push(e.record); // a till's events move no money: stored only
    }
    this.records.set(id, list);
    if (this.#waiting.length >= this.#clearEvery) await this.#clear(false).catch(() => undefined);
  }

  /**
   * Submits what waits, one batch at a time. The batch's key is the hash of its records, so a batch sent again
   * (its answer lost) is answered, not cleared twice. A refused call leaves the records waiting.
   */
  #clear(all: boolean): Promise<void> {
    const run = this.#clearing.then(async () => {
      while (this.#waiting.length > 0 && (all || this.#waiting.length >= this.#clearEvery)) {
        const records = this.#waiting.slice(0, 1000);
        const idempotencyKey = `clear:${createHash('sha256').update(JSON.stringify(records)).digest('hex').slice(0, 48)}`;
        const r = await this.#platform.clearing.submitBatch({ idempotencyKey, records });
        this.#waiting = this.#waiting.slice(records.length);
        this.batches.push({ idempotencyKey, records, ...r });
        this.#log(
          `cleared ${r.accepted}/${records.length} records: ${r.settled} fen, ${r.points} points` +
            (r.rejected.length > 0 ? `, rejected ${r.rejected.map((x) => x.code).join(', ')}` : ''),
        );
      }
    });
    this.#clearing = run.catch(() => undefined);
    return run;
  }
}
