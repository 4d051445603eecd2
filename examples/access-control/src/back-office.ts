/**
 * The access-control back office: a {@link MachineHub} its doors connect to, and a {@link PlatformClient} to the
 * platform (client `access-1`, no merchant). It pushes the doors their config — door rules made from the groups,
 * and the platform's signed blacklist — polls `cards.blacklist` from the version it has and pushes each delta, and
 * keeps the audit log of the decisions the doors record (machine events, delivered once and in order).
 *
 * A door that missed a delta (offline) refuses the next one as `blacklistGap`; the back office then sends that door
 * the whole list. Doors never record purchases: a `machine.records` batch is stored (and counted) but none comes.
 *
 * @module
 */
import {
  isMachineEvent,
  type MachineEvent,
  MachineHub,
  type MachineRecordEntry,
  type PlatformClient,
  type SignedBlacklistDelta,
} from '@simtap/sdk/clients';
import { type AccessEvent, DOOR_DECISION } from './door';
import { ACCESS_REASONS, type AccessGroup, type AccessReason, doorRules } from './policy';

/** A door the back office runs. */
export interface DoorSpec {
  readonly machineId: string;
  readonly door: string;
  readonly secret: Uint8Array | string;
}

/** What one blacklist poll did. */
export interface PollResult {
  readonly from: number;
  readonly to: number;
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /** The config version pushed (`undefined`: nothing changed, nothing pushed). */
  readonly configVersion: number | undefined;
  /** Doors that acknowledged it; the others get it when they reconnect. */
  readonly acked: readonly string[];
  readonly pending: readonly string[];
}

/** Options of {@link BackOffice.open}. */
export interface BackOfficeOptions {
  readonly platform: PlatformClient;
  readonly doors: readonly DoorSpec[];
  readonly groups: readonly AccessGroup[];
  /** How long a push waits for the connected doors' acknowledgements (default 5000 ms). */
  readonly ackTimeoutMs?: number;
}

const isReason = (r: unknown): r is AccessReason => typeof r === 'string' && Object.hasOwn(ACCESS_REASONS, r);

/** The back office (see the module's description). */
export class BackOffice {
  readonly hub: MachineHub;
  readonly url: string;
  readonly blacklistPublicKey: string;
  /** The audit log: every door decision reported, once, in the order it arrived. */
  readonly audit: AccessEvent[] = [];
  /** Reports whose audit sequence skipped numbers: (door, first missing, next received). */
  readonly gaps: { machineId: string; missingFrom: number; next: number }[] = [];
  /** Other records the doors sent (none expected: a door records its decisions only). */
  readonly records: MachineRecordEntry[] = [];
  readonly #platform: PlatformClient;
  readonly #doors: Map<string, DoorSpec>;
  readonly #ackTimeoutMs: number;
  readonly #lastAudit = new Map<string, number>();
  #groups: readonly AccessGroup[];
  #configVersion = 0;
  #blacklist: SignedBlacklistDelta | undefined;
  #polls = 0;

  private constructor(
    options: BackOfficeOptions,
    hub: MachineHub,
    url: string,
    key: string,
    blacklist: SignedBlacklistDelta,
  ) {
    this.#platform = options.platform;
    this.#doors = new Map(options.doors.map((d) => [d.machineId, d]));
    this.#groups = options.groups;
    this.#ackTimeoutMs = options.ackTimeoutMs ?? 5000;
    this.hub = hub;
    this.url = url;
    this.blacklistPublicKey = key;
    this.#blacklist = blacklist;
    hub.on('configRefused', (e) => {
      // a failed fetch leaves the door on its list; it refuses the next delta again and the back office retries
      if (e.reason === 'blacklistGap') this.#sendWholeList(e.machineId).catch(() => undefined);
    });
  }

  /**
   * Fetches the platform's blacklist key and whole list, starts the hub and sets the first config (the whole list,
   * the groups' door rules); doors get it as they connect.
   */
  static async open(options: BackOfficeOptions): Promise<BackOffice> {
    const { publicKey } = await options.platform.cards.blacklistKey();
    const whole = await options.platform.cards.blacklist({ sinceVersion: 0 });
    let office: BackOffice | undefined;
    const hub = new MachineHub({
      machines: options.doors.map((d) => ({ id: d.machineId, secret: d.secret, kind: 'door' as const })),
      blacklistPublicKey: publicKey,
      onRecords: async (id, records) => {
        if (office === undefined) throw new Error('the back office is not open yet'); // the hub sends them again
        for (const r of records) {
          if (isMachineEvent(r.record) && r.record.event === DOOR_DECISION) office.#onDecision(id, r.record);
          else office.records.push(r);
        }
      },
    });
    const { url } = await hub.listen();
    office = new BackOffice(options, hub, url, publicKey, whole);
    office.#push('all', whole);
    return office;
  }

  /** The blacklist version the doors are being sent. */
  get blacklistVersion(): number {
    return this.#blacklist?.version ?? 0;
  }

  /** The config version last pushed. */
  get configVersion(): number {
    return this.#configVersion;
  }

  /** Blacklist polls made. */
  get polls(): number {
    return this.#polls;
  }

  /** New groups: a new config for every door (the blacklist as the doors have it). */
  async setGroups(groups: readonly AccessGroup[]): Promise<number> {
    this.#groups = groups;
    const bl = await this.#platform.cards.blacklist({ sinceVersion: this.blacklistVersion });
    const version = this.#push('all', bl);
    await this.#acks(version);
    return version;
  }

  /**
   * One poll of the platform's blacklist: the signed delta since the version the doors have; when it changes
   * something, a new config for every door, and the connected doors' acknowledgements awaited.
   */
  async pollBlacklist(): Promise<PollResult> {
    this.#polls++;
    const from = this.blacklistVersion;
    const delta = await this.#platform.cards.blacklist({ sinceVersion: from });
    const base = { from, to: delta.version, added: delta.added, removed: delta.removed };
    if (delta.version === from) return { ...base, configVersion: undefined, acked: [], pending: [] };
    const version = this.#push('all', delta);
    return { ...base, configVersion: version, ...(await this.#acks(version)) };
  }

  /** Polls every `ms` until the back office closes. */
  startPolling(ms: number): () => void {
    const timer = setInterval(() => void this.pollBlacklist().catch(() => undefined), ms);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Resolves when the audit log holds `count` events (or rejects after `timeoutMs`). */
  async auditCount(count: number, timeoutMs = 5000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.audit.length < count) {
      if (Date.now() > until)
        throw new Error(`audit log: ${this.audit.length} of ${count} events after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Closes the hub (the doors reconnect to the next one). */
  async close(): Promise<void> {
    await this.hub.close();
  }

  #push(target: string, blacklist: SignedBlacklistDelta): number {
    const version = ++this.#configVersion;
    if (target === 'all') this.#blacklist = blacklist;
    this.hub.pushConfig(target, { version, doors: doorRules(this.#groups), blacklist });
    return version;
  }

  async #sendWholeList(machineId: string): Promise<void> {
    const whole = await this.#platform.cards.blacklist({ sinceVersion: 0 });
    this.#push(machineId, whole);
  }

  /** Waits for the connected doors to run `version` (or a later one). */
  async #acks(version: number): Promise<{ acked: string[]; pending: string[] }> {
    const runs = () =>
      this.hub.machines.filter((m) => this.#doors.has(m.id) && m.connected && (m.configVersion ?? 0) >= version);
    const until = Date.now() + this.#ackTimeoutMs;
    while (Date.now() < until) {
      const connected = this.hub.machines.filter((m) => this.#doors.has(m.id) && m.connected);
      if (runs().length >= connected.length) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const acked = new Set(runs().map((m) => m.id));
    return { acked: [...acked], pending: [...this.#doors.keys()].filter((id) => !acked.has(id)) };
  }

  /** A door's decision event: into the audit log once by (door, auditSeq), a skipped number noted as a gap. */
  #onDecision(machineId: string, event: MachineEvent): void {
    const d = event.data;
    const door = this.#doors.get(machineId);
    if (!door || typeof d.auditSeq !== 'number') return;
    const last = this.#lastAudit.get(machineId) ?? 0;
    if (d.auditSeq <= last) return; // the same event again (a door records its last one again at each start)
    if (d.auditSeq > last + 1) this.gaps.push({ machineId, missingFrom: last + 1, next: d.auditSeq });
    if (!isReason(d.reason)) return;
    this.#lastAudit.set(machineId, d.auditSeq);
    this.audit.push({
      auditSeq: d.auditSeq,
      machineId,
      door: door.door,
      at: event.at,
      card: String(d.card),
      granted: d.granted === true,
      reason: d.reason,
      blacklistVersion: typeof d.blacklistVersion === 'number' ? d.blacklistVersion : 0,
    });
  }
}
