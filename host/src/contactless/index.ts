/**
 * (24) Contactless management (`@simtap/host/contactless`): the card registry from issuance and the life cycle
 * issued → personalized → active → blocked / lost; a versioned blacklist that machines fetch as deltas, each delta
 * signed by the platform's blacklist key (machines check it with `verifyBlacklistSignature` before applying it);
 * the replacement of a lost card, whose float moves to the new card.
 *
 * Cards and blacklist versions are ledger records (`writeRecords`): a status change and the blacklist version it
 * makes are written together under compare-and-set, so two platform instances that block cards at the same time
 * never give two changes one version.
 * @example
 * const cm = new ContactlessManagement({ ledger, keys });
 * await cm.reportLost({ cardSerial: '00004401202600000001' }); // { status: 'lost', blacklistVersion: 1 }
 * await cm.blacklist({ sinceVersion: 0 });                     // { version: 1, added: ['0000…0001'], removed: [] }
 * @module
 */
import { toHex } from '@simtap/sdk/core/bytes';
import { ArgumentError, hasErrorCode } from '@simtap/sdk/core/errors';
import type { IssuerKeyStore } from '../keys';
import { LEDGER_ERRORS, type LedgerStore } from '../ledger';
import { ACCOUNT, PLATFORM_CLIENT, REF } from '../platform/accounts';
import { PlatformError } from '../platform/errors';
import { cardSerialParam, hexParam, intParam, msisdnParam, paramsObject } from '../platform/params';

/** A card's life-cycle status (`simtap.v1`'s `cards.get`). */
export type CardStatus = 'issued' | 'personalized' | 'active' | 'blocked' | 'lost';

/** The statuses, in life-cycle order. */
export const CARD_STATUSES: readonly CardStatus[] = ['issued', 'personalized', 'active', 'blocked', 'lost'];

/** Which status may follow which. `lost` is final: the card is replaced. */
export const CARD_TRANSITIONS: Readonly<Record<CardStatus, readonly CardStatus[]>> = {
  issued: ['personalized', 'blocked', 'lost'],
  personalized: ['active', 'blocked', 'lost'],
  active: ['blocked', 'lost'],
  blocked: ['active', 'lost'],
  lost: [],
};

/** A card in the registry. */
export interface CardRecord {
  readonly cardSerial: string;
  readonly iccid: string;
  readonly msisdn: string;
  /** The ISD's key diversification data (hex), for the card's SCP03 keys. */
  readonly kdd: string;
  readonly status: CardStatus;
  /** Why the last status change was made. */
  readonly statusReason: string;
  /** Epoch ms of the last status change. */
  readonly statusAt: number;
  /** The blacklist version that listed the card, while it is listed. */
  readonly blacklistedIn: number | null;
  /** The card that replaced this lost one. */
  readonly replacedBy: string | null;
  /** The lost card this one replaced. */
  readonly replaces: string | null;
}

/** What `cards.get` answers. */
export interface CardView {
  readonly cardSerial: string;
  readonly msisdn: string;
  readonly iccid: string;
  readonly status: CardStatus;
}

/** A blacklist delta: the cards to add and to remove to go from `since` to `version`. */
export interface BlacklistDelta {
  readonly version: number;
  readonly added: readonly string[];
  readonly removed: readonly string[];
}

/** A delta signed by the platform: `signature` (hex, Ed25519) covers {@link blacklistMessage}. */
export interface SignedBlacklistDelta extends BlacklistDelta {
  readonly since: number;
  readonly signature: string;
}

/** One version of the blacklist as stored. */
interface BlacklistVersion {
  readonly version: number;
  readonly add: readonly string[];
  readonly remove: readonly string[];
  readonly at: number;
}

/**
 * The bytes a blacklist delta's signature covers: UTF-8 of
 * `simtap-blacklist-v1\n<since>\n<version>\n+<serial>…\n-<serial>…` with the serials sorted (what a machine
 * recomputes before applying a delta).
 */
export function blacklistMessage(delta: BlacklistDelta & { readonly since: number }): Uint8Array {
  const lines = [
    'simtap-blacklist-v1',
    String(delta.since),
    String(delta.version),
    ...[...delta.added].sort().map((s) => `+${s}`),
    ...[...delta.removed].sort().map((s) => `-${s}`),
  ];
  return new TextEncoder().encode(lines.join('\n'));
}

const CARDS = 'cards';
/** Index: ICCID → card serial (what a phone's hello names). */
const BY_ICCID = 'cards-by-iccid';
/** Index: `msisdn:serial` → card serial (a customer's cards). */
const BY_MSISDN = 'cards-by-msisdn';
const BLACKLIST = 'blacklist';
const HEAD = 'head';
const versionId = (v: number) => `v${String(v).padStart(12, '0')}`;

/** Options of {@link ContactlessManagement}. */
export interface ContactlessOptions {
  readonly ledger: LedgerStore;
  readonly keys: IssuerKeyStore;
  /** The clock (epoch ms). Default `Date.now`. */
  readonly now?: () => number;
  /** How long a lost card's float is held for its late offline records (`PlatformConfig.lostCardHoldMs`). */
  readonly lostCardHoldMs?: number;
}

/** The default hold of a lost card's float: 7 days, for the offline records its machines have not uploaded yet. */
export const DEFAULT_LOST_CARD_HOLD_MS = 7 * 24 * 3600 * 1000;

/** What `cards.replace` answers. */
export interface ReplaceOutcome {
  /** The replacement. */
  readonly cardSerial: string;
  /** Fen moved out of the lost card's float (to the replacement's float, or after a hold to the phone account). */
  readonly moved: number;
  /** Where they went: `card` (the replacement's float, onto its purse at personalization), `phoneAccount`; null while held. */
  readonly movedTo: 'card' | 'phoneAccount' | null;
  /** Fen still held in the lost card's float for its late offline records (0 once moved). */
  readonly held: number;
  /** When the hold ends (ISO 8601), null once moved; then the hourly sweep, or `cards.replace` asked again, moves it. */
  readonly heldUntil: string | null;
}

/** Issue a card: its identities. */
export interface IssueCardRequest {
  readonly cardSerial: string;
  readonly iccid: string;
  readonly msisdn: string;
  readonly kdd: string;
  /** The status it starts in (default `issued`; the embedded default registers the profile's cards `active`). */
  readonly status?: CardStatus;
}

/** The card registry, the life cycle and the blacklist. */
export class ContactlessManagement {
  readonly #ledger: LedgerStore;
  readonly #keys: IssuerKeyStore;
  readonly #now: () => number;
  readonly #holdMs: number;
  #sweeps: Promise<unknown> = Promise.resolve();

  constructor(options: ContactlessOptions) {
    this.#ledger = options.ledger;
    this.#keys = options.keys;
    this.#now = options.now ?? Date.now;
    const hold = options.lostCardHoldMs ?? DEFAULT_LOST_CARD_HOLD_MS;
    if (!Number.isSafeInteger(hold) || hold < 0) throw new ArgumentError('lostCardHoldMs: a non-negative integer');
    this.#holdMs = hold;
  }

  /**
   * Registers a card and opens its float. Issuing the same card again with the same identities returns it (the
   * embedded default seeds the profile's cards at every start); other identities under its serial fail with
   * `CARD_STATE`.
   */
  async issue(req: IssueCardRequest): Promise<CardRecord> {
    paramsObject(req);
    const cardSerial = cardSerialParam(req.cardSerial);
    if (typeof req.iccid !== 'string' || !/^[0-9A-Fa-f]{18,20}$/.test(req.iccid))
      throw new ArgumentError('iccid must be 18–20 hex digits');
    const msisdn = msisdnParam(req.msisdn);
    const kdd = hexParam(req.kdd, 'kdd', 10);
    const status = req.status ?? 'issued';
    if (!CARD_STATUSES.includes(status) || status === 'lost' || status === 'blocked')
      throw new ArgumentError('status must be issued, personalized or active');
    await this.#ledger.openAccount(ACCOUNT.float(cardSerial), 'CARD_FLOAT');
    const card: CardRecord = {
      cardSerial,
      iccid: req.iccid.toUpperCase(),
      msisdn,
      kdd,
      status,
      statusReason: 'issued',
      statusAt: this.#now(),
      blacklistedIn: null,
      replacedBy: null,
      replaces: null,
    };
    const byIccid = await this.#ledger.getRecord<{ cardSerial: string }>(BY_ICCID, card.iccid);
    if (byIccid && byIccid.value.cardSerial !== cardSerial)
      throw new PlatformError('CARD_STATE', `ICCID ${card.iccid} belongs to card ${byIccid.value.cardSerial}`);
    try {
      await this.#ledger.writeRecords([
        { collection: CARDS, id: cardSerial, value: card, expectVersion: 0 },
        ...this.#indexWrites(card),
      ]);
      return card;
    } catch (e) {
      if (!hasErrorCode(e, LEDGER_ERRORS, 'RECORD_CONFLICT')) throw e;
      const existing = await this.record(cardSerial);
      if (existing && existing.iccid === card.iccid && existing.msisdn === msisdn && existing.kdd === kdd) {
        // A card issued before the indexes existed (or a concurrent issue of the same card): index it now.
        for (const w of this.#indexWrites(existing))
          await this.#ledger.writeRecords([w]).catch((x: unknown) => {
            if (!hasErrorCode(x, LEDGER_ERRORS, 'RECORD_CONFLICT')) throw x;
          });
        return existing;
      }
      throw new PlatformError('CARD_STATE', `card ${cardSerial} is already issued with other identities`);
    }
  }

  #indexWrites(card: CardRecord) {
    const value = { cardSerial: card.cardSerial };
    return [
      { collection: BY_ICCID, id: card.iccid, value, expectVersion: 0 },
      { collection: BY_MSISDN, id: `${card.msisdn}:${card.cardSerial}`, value, expectVersion: 0 },
    ];
  }

  /** The card whose SIM has this ICCID, or `undefined`. */
  async cardByIccid(iccid: string): Promise<CardRecord | undefined> {
    if (typeof iccid !== 'string' || !/^[0-9A-Fa-f]{18,20}$/.test(iccid)) return undefined;
    const ref = await this.#ledger.getRecord<{ cardSerial: string }>(BY_ICCID, iccid.toUpperCase());
    return ref ? this.record(ref.value.cardSerial) : undefined;
  }

  /** The customer's cards, in serial order (a lost card and its replacement both). */
  async cardsOf(msisdn: string): Promise<CardRecord[]> {
    const m = msisdnParam(msisdn);
    const refs = await this.#ledger.listRecords<{ cardSerial: string }>(BY_MSISDN, `${m}:`);
    const cards: CardRecord[] = [];
    for (const r of refs) {
      const c = await this.record(r.value.cardSerial);
      if (c && c.msisdn === m) cards.push(c);
    }
    return cards;
  }

  /** The card's registry record, or `undefined`. */
  async record(cardSerial: string): Promise<CardRecord | undefined> {
    return (await this.#ledger.getRecord<CardRecord>(CARDS, cardSerialParam(cardSerial)))?.value;
  }

  /**
   * The card's registry record.
   * @throws PlatformError `UNKNOWN_CARD`
   */
  async mustRecord(cardSerial: string): Promise<CardRecord> {
    const card = await this.record(cardSerial);
    if (!card) throw new PlatformError('UNKNOWN_CARD', `no card ${cardSerial}`);
    return card;
  }

  /**
   * The card when it is active (what loads, charges and clearing require).
   * @throws PlatformError `UNKNOWN_CARD`, `CARD_BLOCKED` (blocked, lost, or not yet active)
   */
  async mustBeActive(cardSerial: string): Promise<CardRecord> {
    const card = await this.mustRecord(cardSerial);
    if (card.status !== 'active')
      throw new PlatformError('CARD_BLOCKED', `card ${card.cardSerial} is ${card.status}, not active`);
    return card;
  }

  /** `cards.get`: the card's identities and status. @throws PlatformError `UNKNOWN_CARD` */
  async get(params: { cardSerial: string }): Promise<CardView> {
    paramsObject(params);
    const c = await this.mustRecord(params.cardSerial);
    return { cardSerial: c.cardSerial, msisdn: c.msisdn, iccid: c.iccid, status: c.status };
  }

  /** `cards.list`: the registry with each card's float, filtered by status, MSISDN or serial prefix. */
  async list(
    params: { status?: CardStatus; msisdn?: string; cardSerial?: string; limit?: number } = {},
  ): Promise<{ cards: Array<CardView & { float: number }>; truncated: boolean }> {
    paramsObject(params);
    if (params.status !== undefined && !CARD_STATUSES.includes(params.status))
      throw new ArgumentError(`status must be one of ${CARD_STATUSES.join(', ')}`);
    const limit = params.limit === undefined ? Number.POSITIVE_INFINITY : intParam(params.limit, 'limit', 1, 1000);
    const prefix = params.cardSerial === undefined ? '' : String(params.cardSerial).toUpperCase();
    if (!/^[0-9A-F]{0,20}$/.test(prefix)) throw new ArgumentError('cardSerial must be up to 20 hex digits');
    // A customer's cards through the MSISDN index; otherwise the registry by serial prefix.
    const records =
      params.msisdn === undefined
        ? (await this.#ledger.listRecords<CardRecord>(CARDS, prefix)).map((r) => r.value)
        : (await this.cardsOf(params.msisdn)).filter((c) => c.cardSerial.startsWith(prefix));
    const cards: Array<CardView & { float: number }> = [];
    let truncated = false;
    for (const c of records) {
      if (params.status !== undefined && c.status !== params.status) continue;
      if (cards.length >= limit) {
        truncated = true;
        break;
      }
      const float = (await this.#ledger.getAccount(ACCOUNT.float(c.cardSerial)))?.balance ?? 0;
      cards.push({ cardSerial: c.cardSerial, msisdn: c.msisdn, iccid: c.iccid, status: c.status, float });
    }
    return { cards, truncated };
  }

  /** issued → personalized (the ISD has taken the e-purse's keys). */
  markPersonalized(params: { cardSerial: string; reason?: string }): Promise<CardRecord> {
    return this.#change(params, 'personalized', 'personalized over SCP03');
  }

  /** personalized (or blocked) → active. An unblock takes the card off the blacklist. */
  activate(params: { cardSerial: string; reason?: string }): Promise<CardRecord> {
    return this.#change(params, 'active', 'activated');
  }

  /** → blocked, and onto the blacklist. */
  block(params: { cardSerial: string; reason?: string }): Promise<CardRecord> {
    return this.#change(params, 'blocked', 'blocked by the back office');
  }

  /**
   * `cards.reportLost`: → lost, and onto the blacklist. Reporting a lost card again answers the same.
   * @throws PlatformError `UNKNOWN_CARD`
   */
  async reportLost(params: {
    cardSerial: string;
    reason?: string;
  }): Promise<{ status: 'lost'; blacklistVersion: number }> {
    const card = await this.#change(params, 'lost', 'reported lost');
    return { status: 'lost', blacklistVersion: card.blacklistedIn ?? 0 };
  }

  /**
   * Replaces a lost card: issues `replacement` (for the same customer) at once, and moves the lost card's float
   * exactly once. Offline machines keep accepting a lost card until their blacklist catches up, and upload what it
   * paid later; so the float stays with the lost card for the hold (`lostCardHoldMs`, default 7 days from the loss
   * report), its late records clear from it, and what is left then goes to the customer's phone account (from which
   * any card is topped up) by {@link ContactlessManagement.releaseEndedHolds} or this call asked again. Without a hold (`lostCardHoldMs: 0`) the float moves
   * to the replacement's float at once and goes onto its purse when it is personalized; a record of the lost card
   * that arrives later is refused `FLOAT_SHORT`. Repeating the call answers the same, with what changed.
   * @throws PlatformError `UNKNOWN_CARD`, `CARD_STATE` (the old card is not lost, or was replaced by another)
   */
  async replaceCard(params: {
    lostCardSerial: string;
    replacement: Omit<IssueCardRequest, 'msisdn'>;
  }): Promise<ReplaceOutcome> {
    paramsObject(params);
    const old = await this.mustRecord(params.lostCardSerial);
    paramsObject(params.replacement, 'replacement');
    const serial = cardSerialParam(params.replacement.cardSerial, 'replacement.cardSerial');
    if (old.status !== 'lost')
      throw new PlatformError('CARD_STATE', `card ${old.cardSerial} is ${old.status}, not lost`);
    if (old.replacedBy !== null && old.replacedBy !== serial)
      throw new PlatformError('CARD_STATE', `card ${old.cardSerial} was replaced by ${old.replacedBy}`);
    await this.issue({ ...params.replacement, msisdn: old.msisdn });
    await this.#update(serial, (c) => ({ ...c, replaces: old.cardSerial }));
    await this.#update(old.cardSerial, (c) => ({ ...c, replacedBy: serial }));
    const moved = (to: 'card' | 'phoneAccount', amount: number): ReplaceOutcome => ({
      cardSerial: serial,
      moved: amount,
      movedTo: to,
      held: 0,
      heldUntil: null,
    });
    const prior = (await this.#ledger.listTransfers({ ref: REF.replace(old.cardSerial) }))[0];
    if (prior) return moved(prior.to === ACCOUNT.float(serial) ? 'card' : 'phoneAccount', prior.amount);
    const float = (await this.#ledger.getAccount(ACCOUNT.float(old.cardSerial)))?.balance ?? 0;
    // `lost` is final, so the card's status time is the loss report's.
    const until = old.statusAt + this.#holdMs;
    if (this.#holdMs > 0 && this.#now() < until)
      return { cardSerial: serial, moved: 0, movedTo: null, held: float, heldUntil: new Date(until).toISOString() };
    if (this.#holdMs > 0) return moved('phoneAccount', await this.#release(old, float));
    return moved('card', await this.#moveFloat(old, float, ACCOUNT.float(serial), 'to its replacement'));
  }

  /** Moves `float` fen of a lost card whose hold has ended to its customer's phone account, once. */
  async #release(card: CardRecord, float: number): Promise<number> {
    if (float > 0) await this.#ledger.openAccount(ACCOUNT.phone(card.msisdn), 'PHONE');
    return this.#moveFloat(card, float, ACCOUNT.phone(card.msisdn), 'after its hold, to the phone account');
  }

  /** The one move of a lost card's float (`float` fen to `to`; nothing when 0): platform key `replace:<card>`. */
  async #moveFloat(card: CardRecord, float: number, to: string, why: string): Promise<number> {
    if (float <= 0) return 0;
    const r = await this.#ledger.transfer({
      client: PLATFORM_CLIENT,
      idempotencyKey: `replace:${card.cardSerial}`,
      from: ACCOUNT.float(card.cardSerial),
      to,
      amount: float,
      memo: `float of lost card ${card.cardSerial} ${why}`,
      ref: REF.replace(card.cardSerial),
    });
    return r.transfer.amount;
  }

  /**
   * Releases the floats of lost cards whose hold has ended — replaced or not — to their customers' phone accounts,
   * once each: what `cards.replace` asked again after the hold does, without anyone asking (`simtap-host` runs it
   * every hour). Nothing with `lostCardHoldMs: 0`. Sweeps of one instance run one at a time; two instances sweeping
   * at once move a card's float once (the transfer's idempotency key) though both may list it. A card that fails is
   * left for the next sweep. Reads the whole registry.
   */
  releaseEndedHolds(): Promise<Array<{ cardSerial: string; moved: number }>> {
    // One sweep at a time in this instance (another instance's sweep moves nothing twice: the transfer's key).
    const run = this.#sweeps.then(() => this.#releaseEndedHolds());
    this.#sweeps = run.catch(() => undefined);
    return run;
  }

  async #releaseEndedHolds(): Promise<Array<{ cardSerial: string; moved: number }>> {
    if (this.#holdMs === 0) return [];
    const now = this.#now();
    const released: Array<{ cardSerial: string; moved: number }> = [];
    for (const { value: card } of await this.#ledger.listRecords<CardRecord>(CARDS, '')) {
      if (card.status !== 'lost' || now < card.statusAt + this.#holdMs) continue;
      if ((await this.#ledger.listTransfers({ ref: REF.replace(card.cardSerial) })).length > 0) continue;
      const float = (await this.#ledger.getAccount(ACCOUNT.float(card.cardSerial)))?.balance ?? 0;
      if (float <= 0) continue;
      try {
        released.push({ cardSerial: card.cardSerial, moved: await this.#release(card, float) });
      } catch {
        // a concurrent release or a record cleared meanwhile (another amount under the key): the next sweep sees it
      }
    }
    return released;
  }

  /** The current blacklist version (0: nothing was ever listed). */
  async blacklistVersion(): Promise<number> {
    return (await this.#ledger.getRecord<{ version: number }>(BLACKLIST, HEAD))?.value.version ?? 0;
  }

  /**
   * `cards.blacklist`: what changed since `sinceVersion` (default 0: the whole list as `added`). A card listed and
   * delisted within the range appears in neither list.
   */
  async blacklist(params: { sinceVersion?: number } = {}): Promise<BlacklistDelta> {
    paramsObject(params);
    const since = params.sinceVersion === undefined ? 0 : intParam(params.sinceVersion, 'sinceVersion', 0, 2 ** 40);
    const versions = await this.#ledger.listRecords<BlacklistVersion>(BLACKLIST, 'v');
    const state = new Map<string, boolean>();
    let version = 0;
    for (const { value: v } of versions) {
      version = Math.max(version, v.version);
      if (v.version <= since) continue;
      for (const s of v.add) state.set(s, true);
      for (const s of v.remove) state.set(s, false);
    }
    if (since > version)
      throw new ArgumentError(`sinceVersion ${since} is ahead of the blacklist (version ${version})`);
    // A card added and removed within the range is in neither list; the net change is what a machine applies.
    const before = new Set<string>();
    for (const { value: v } of versions) {
      if (v.version > since) break;
      for (const s of v.add) before.add(s);
      for (const s of v.remove) before.delete(s);
    }
    const added: string[] = [];
    const removed: string[] = [];
    for (const [s, listed] of state) {
      if (listed && !before.has(s)) added.push(s);
      if (!listed && before.has(s)) removed.push(s);
    }
    return { version, added: added.sort(), removed: removed.sort() };
  }

  /** {@link blacklist}, signed: what machines fetch. */
  async signedBlacklist(params: { sinceVersion?: number } = {}): Promise<SignedBlacklistDelta> {
    const delta = await this.blacklist(params);
    const since = params.sinceVersion ?? 0;
    const signature = await this.#keys.signBlacklist(blacklistMessage({ ...delta, since }));
    return { ...delta, since, signature: toHex(signature) };
  }

  /** The public key (hex, raw Ed25519) machines verify blacklist deltas with. */
  async blacklistPublicKey(): Promise<string> {
    return toHex(await this.#keys.blacklistPublicKey());
  }

  // ---------------------------------------------------------------- internals

  /** Changes a card's status (and the blacklist with it), retrying on a concurrent writer. */
  async #change(
    params: { cardSerial: string; reason?: string },
    to: CardStatus,
    defaultReason: string,
  ): Promise<CardRecord> {
    paramsObject(params);
    const serial = cardSerialParam(params.cardSerial);
    if (params.reason !== undefined && (typeof params.reason !== 'string' || params.reason.length > 256))
      throw new ArgumentError('reason must be a string of at most 256 characters');
    const reason = params.reason ?? defaultReason;
    for (let attempt = 0; ; attempt++) {
      const stored = await this.#ledger.getRecord<CardRecord>(CARDS, serial);
      if (!stored) throw new PlatformError('UNKNOWN_CARD', `no card ${serial}`);
      const card = stored.value;
      if (card.status === to) return card;
      if (!CARD_TRANSITIONS[card.status].includes(to))
        throw new PlatformError('CARD_STATE', `card ${serial} is ${card.status}; it cannot become ${to}`);
      const listed = to === 'blocked' || to === 'lost';
      const wasListed = card.blacklistedIn !== null;
      const writes = [];
      let blacklistedIn = card.blacklistedIn;
      if (listed !== wasListed) {
        const head = await this.#ledger.getRecord<{ version: number }>(BLACKLIST, HEAD);
        const version = (head?.value.version ?? 0) + 1;
        const entry: BlacklistVersion = {
          version,
          add: listed ? [serial] : [],
          remove: listed ? [] : [serial],
          at: this.#now(),
        };
        writes.push(
          { collection: BLACKLIST, id: versionId(version), value: entry, expectVersion: 0 },
          { collection: BLACKLIST, id: HEAD, value: { version }, expectVersion: head?.version ?? 0 },
        );
        blacklistedIn = listed ? version : null;
      }
      const next: CardRecord = { ...card, status: to, statusReason: reason, statusAt: this.#now(), blacklistedIn };
      writes.push({ collection: CARDS, id: serial, value: next, expectVersion: stored.version });
      try {
        await this.#ledger.writeRecords(writes);
        return next;
      } catch (e) {
        if (!hasErrorCode(e, LEDGER_ERRORS, 'RECORD_CONFLICT') || attempt >= 20) throw e;
      }
    }
  }

  async #update(serial: string, f: (c: CardRecord) => CardRecord): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const stored = await this.#ledger.getRecord<CardRecord>(CARDS, serial);
      if (!stored) throw new PlatformError('UNKNOWN_CARD', `no card ${serial}`);
      try {
        await this.#ledger.writeRecords([
          { collection: CARDS, id: serial, value: f(stored.value), expectVersion: stored.version },
        ]);
        return;
      } catch (e) {
        if (!hasErrorCode(e, LEDGER_ERRORS, 'RECORD_CONFLICT') || attempt >= 20) throw e;
      }
    }
  }
}
