/**
 * The campus back office: the `MachineHub` its tills, kiosk and doors connect to; its record store (each record once
 * by machine and sequence number); clearing with the platform (`clearing.submitBatch`) every few records and at the
 * end of the day; and the config it pushes to every machine — the canteen menu, the door rules and the platform's
 * signed blacklist.
 *
 * @module
 */
import {
  isMachineEvent,
  type MachineConfig,
  type MachineEvent,
  MachineHub,
  type MachinePurchaseRecord,
  type MachineRecordEntry,
  type MachineSpec,
  type PlatformClient,
} from '@simtap/sdk/clients';
import type { DoorRule } from './door';
import { CampusError } from './errors';

/** A record in the back office's store, and what clearing made of it. */
export interface StoredRecord {
  readonly machineId: string;
  readonly seq: number;
  readonly record: MachinePurchaseRecord;
  /** `stored`: not yet sent to clearing; `cleared`: the platform accepted it; `rejected`: refused (see `code`). */
  status: 'stored' | 'cleared' | 'rejected';
  /** The clearing batch it went in. */
  batch?: number;
  /** Why the platform rejected it. */
  code?: string;
}

/** One `clearing.submitBatch` the back office made. */
export interface ClearingBatch {
  readonly batch: number;
  readonly idempotencyKey: string;
  readonly records: number;
  readonly accepted: number;
  /** Fen the platform credited to the merchant for it. */
  readonly settled: number;
  readonly rejected: number;
  /** Why it was sent: enough records piled up, or the end of the day. */
  readonly trigger: 'threshold' | 'flush';
}

/** Options of {@link CampusBackOffice}. */
export interface CampusBackOfficeOptions {
  /** The platform, as the campus's client (`campus-1`). */
  readonly platform: PlatformClient;
  readonly machines: readonly MachineSpec[];
  /** Clear with the platform once this many records are stored and not yet cleared. */
  readonly clearEvery: number;
  /** Prefix of the clearing batches' idempotency keys (unique per run: a key names one batch for ever). */
  readonly runId: string;
}

/** The back office (see the module's description). */
export class CampusBackOffice {
  readonly records: StoredRecord[] = [];
  /** Events the machines recorded (no money moves with them), once each, in order. */
  readonly events: { readonly machineId: string; readonly seq: number; readonly event: MachineEvent }[] = [];
  readonly batches: ClearingBatch[] = [];
  /** Clearing failures that were retried later (the records stay stored). */
  readonly clearingErrors: string[] = [];
  readonly #o: CampusBackOfficeOptions;
  readonly #lastSeq = new Map<string, number>();
  #hub: MachineHub | undefined;
  #clearing: Promise<unknown> = Promise.resolve();
  #nextBatch = 1;
  #configVersion = 0;
  #blacklistVersion: number | undefined;

  constructor(options: CampusBackOfficeOptions) {
    this.#o = options;
  }

  /** The config version last pushed. */
  get configVersion(): number {
    return this.#configVersion;
  }

  /** The hub (after {@link CampusBackOffice.start}). */
  get hub(): MachineHub {
    if (!this.#hub) throw new CampusError('NOT_STARTED', 'the back office is not started');
    return this.#hub;
  }

  /** Fetches the platform's blacklist key and serves the machines; resolves with the hub's URL. */
  async start(): Promise<{ url: string; blacklistPublicKey: string }> {
    const { publicKey } = await this.#o.platform.cards.blacklistKey();
    this.#hub = new MachineHub({
      machines: this.#o.machines,
      blacklistPublicKey: publicKey,
      storedSeq: (id) => this.#lastSeq.get(id) ?? 0,
      onRecords: (id, entries) => this.#onRecords(id, entries),
    });
    const { url } = await this.#hub.listen();
    return { url, blacklistPublicKey: publicKey };
  }

  /** Stores a batch of a machine (skipping what is stored already), then clears if enough records piled up. */
  async #onRecords(machineId: string, entries: readonly MachineRecordEntry[]): Promise<void> {
    let last = this.#lastSeq.get(machineId) ?? 0;
    for (const e of entries) {
      if (e.seq <= last) continue;
      // A machine's events (no money) are kept apart; the purchases wait for clearing.
      if (isMachineEvent(e.record)) this.events.push({ machineId, seq: e.seq, event: e.record });
      else this.records.push({ machineId, seq: e.seq, record: e.record, status: 'stored' });
      last = e.seq;
    }
    this.#lastSeq.set(machineId, last);
    if (this.records.filter((r) => r.status === 'stored').length >= this.#o.clearEvery) {
      // the records are stored: a clearing failure leaves them for the next attempt, it does not refuse the machine
      await this.#clear('threshold').catch((e: unknown) => {
        this.clearingErrors.push(e instanceof Error ? e.message : String(e));
      });
    }
  }

  /** Clears every stored record not yet cleared (the end of the day). */
  async flush(): Promise<void> {
    let left = this.records.filter((r) => r.status === 'stored').length;
    while (left > 0) {
      await this.#clear('flush');
      const now = this.records.filter((r) => r.status === 'stored').length;
      if (now >= left) throw new CampusError('CLEARING_INCOMPLETE', `${now} records could not be cleared`);
      left = now;
    }
  }

  /**
   * Sends one clearing batch (one at a time): the batch that failed last, unchanged and under its key, else up to
   * 1000 records not yet sent.
   */
  #clear(trigger: ClearingBatch['trigger']): Promise<void> {
    const run = this.#clearing.then(async () => {
      const stored = this.records.filter((r) => r.status === 'stored');
      const retry = stored.filter((r) => r.batch !== undefined);
      const members = retry.length > 0 ? retry : stored.slice(0, 1000);
      if (members.length === 0) return;
      const batch = members[0]!.batch ?? this.#nextBatch++;
      for (const r of members) r.batch = batch;
      const idempotencyKey = `${this.#o.runId}:clearing-${batch}`;
      const result = await this.#o.platform.clearing.submitBatch({
        idempotencyKey,
        records: members.map((r) => r.record),
      });
      const rejected = new Map(result.rejected.map((x) => [x.index, x.code]));
      members.forEach((r, i) => {
        const refusal = rejected.get(i);
        r.status = refusal === undefined ? 'cleared' : 'rejected';
        if (refusal !== undefined) r.code = refusal;
      });
      this.batches.push({
        batch,
        idempotencyKey,
        records: members.length,
        accepted: result.accepted,
        settled: result.settled,
        rejected: result.rejected.length,
        trigger,
      });
    });
    this.#clearing = run.catch(() => undefined);
    return run;
  }

  /**
   * Pushes the next config to every machine — menu, door rules and the platform's blacklist (the whole list the
   * first time, then the changes since the version the machines run) — and waits until every machine runs it.
   * @throws {CampusError} `CONFIG_REFUSED` when a machine refuses it, `CONFIG_TIMEOUT` when one does not answer.
   */
  async pushConfig(menu: Record<string, number>, doors: readonly DoorRule[], timeoutMs = 5000): Promise<number> {
    const hub = this.hub;
    const blacklist: MachineConfig['blacklist'] = await this.#o.platform.cards.blacklist(
      this.#blacklistVersion === undefined ? {} : { sinceVersion: this.#blacklistVersion },
    );
    const version = this.#configVersion + 1;
    const config: MachineConfig = {
      version,
      fares: menu,
      doors: doors.map((d) => ({
        door: d.door,
        from: d.from,
        to: d.to,
        ...(d.cards ? { cards: [...d.cards] } : {}),
        ...(d.days ? { days: [...d.days] } : {}),
      })),
      blacklist,
    };
    const running = new Promise<void>((resolve, reject) => {
      const done = (error?: Error) => {
        clearTimeout(timer);
        offAck();
        offRefused();
        if (error) reject(error);
        else resolve();
      };
      const check = () => {
        if (hub.machines.every((m) => m.configVersion === version)) done();
      };
      const offAck = hub.on('configAck', check);
      const offRefused = hub.on('configRefused', (e) => {
        if (e.version === version)
          done(new CampusError('CONFIG_REFUSED', `${e.machineId} refused config ${version}: ${e.reason}`));
      });
      const timer = setTimeout(() => {
        const behind = hub.machines.filter((m) => m.configVersion !== version).map((m) => m.id);
        done(new CampusError('CONFIG_TIMEOUT', `config ${version} not acknowledged by ${behind.join(', ')}`));
      }, timeoutMs);
      queueMicrotask(check);
    });
    hub.pushConfig('all', config);
    this.#configVersion = version;
    this.#blacklistVersion = blacklist.version;
    await running;
    return version;
  }

  async close(): Promise<void> {
    await this.#clearing;
    await this.#hub?.close();
  }
}
