/**
 * The transit back office: serves its machines on `/v1/machine` (`MachineHub`), pushes them the fare config with
 * the platform's signed blacklist, stores their records exactly once by (machine, seq), clears them with the
 * platform every N records or T ms (`clearing.submitBatch`, one idempotency key per batch), audits every cleared
 * fare against its own replay of the rules, and exports the fare transactions in the TIDES `fare_transactions`
 * format.
 *
 * @module
 */

import {
  type ClearingRecord,
  isMachineEvent,
  type MachineEvent,
  MachineHub,
  type MachineKind,
  type MachineRecordEntry,
  type PlatformClient,
} from '@simtap/sdk/clients';
import { bcdToString, toHex } from '@simtap/sdk/core/bytes';
import type { LoadRecord, TransitRecord, TransitStation } from '@simtap/sdk/machines';
import {
  type CardDay,
  checkFareRules,
  type FareQuote,
  type FareRules,
  fareTable,
  isTransfer,
  type LoggedRide,
  metroFull,
  minutesOf,
  quote,
} from './fares';

/** A machine as the back office knows it. */
export interface Device {
  readonly id: string;
  readonly secret: string;
  readonly kind: MachineKind;
  readonly terminalId: string;
  readonly what: 'metro-entry' | 'metro-exit' | 'bus';
  /** Metro: the station; bus: the route in `line`, station 0. */
  readonly station: TransitStation;
}

/** Options of {@link BackOffice.open}. */
export interface BackOfficeOptions {
  readonly client: PlatformClient;
  readonly devices: readonly Device[];
  readonly rules: FareRules;
  /** Clear when this many records wait… */
  readonly clearEveryRecords: number;
  /** …or when the oldest has waited this long. */
  readonly clearEveryMs: number;
  /** Makes the batches' idempotency keys unique to this run (`<runId>/b<n>`). */
  readonly runId: string;
}

/** Why a batch went out. */
export type BatchReason = 'records' | 'time' | 'final';

/** One `clearing.submitBatch`. */
export interface BatchSummary {
  readonly key: string;
  readonly reason: BatchReason;
  readonly records: number;
  readonly accepted: number;
  /** Fen moved to the merchant. */
  readonly settled: number;
  readonly rejected: readonly string[];
}

/** A record the back office stored. */
export interface StoredRecord {
  readonly machineId: string;
  readonly seq: number;
  readonly record: ClearingRecord;
  /** `queued` until its batch answered; then `cleared` or the platform's rejection code. */
  status: string;
}

/** A record with what the back office's replay of the rules says of it. */
export interface AuditedRecord {
  readonly stored: StoredRecord;
  readonly device: Device;
  /** The replayed price (undefined for a metro entry: 0 fen). */
  readonly expected: FareQuote | undefined;
  /** The ride starts as a transfer (a metro entry: its trip's exit got the discount). */
  readonly transferStart: boolean;
  /** The card's cap was in effect at this ride (reached before it, or by it). */
  readonly capInEffect: boolean;
  /** The machine charged what the rules say. */
  readonly ok: boolean;
}

/** A kiosk load the back office keeps for the export. */
export interface LoadRow {
  readonly record: LoadRecord;
  readonly funding: 'cash' | 'phoneAccount';
}

export class BackOffice {
  readonly hub: MachineHub;
  readonly stored: StoredRecord[] = [];
  /** Events the machines recorded (no money moves with them), once each, in order. */
  readonly events: { readonly machineId: string; readonly seq: number; readonly event: MachineEvent }[] = [];
  readonly batches: BatchSummary[] = [];
  readonly loads: LoadRow[] = [];
  readonly #options: BackOfficeOptions;
  readonly #devices: Map<string, Device>;
  readonly #seqs = new Map<string, number>();
  readonly #queue: StoredRecord[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #chain: Promise<void> = Promise.resolve();
  #batchNo = 0;
  #failure: unknown;

  private constructor(options: BackOfficeOptions, blacklistPublicKey: string) {
    this.#options = options;
    this.#devices = new Map(options.devices.map((d) => [d.id, d]));
    this.hub = new MachineHub({
      machines: options.devices.map((d) => ({ id: d.id, secret: d.secret, kind: d.kind })),
      blacklistPublicKey,
      storedSeq: (id) => this.#seqs.get(id) ?? 0,
      onRecords: (id, entries) => this.#onRecords(id, entries),
    });
  }

  /**
   * Checks the rules, starts the hub and sets the config every machine is to run (fares, the whole blacklist).
   * @throws {ArgumentError} `BAD_ARGUMENT` for rules the card-based cap cannot keep (`checkFareRules`).
   */
  static async open(options: BackOfficeOptions): Promise<{ office: BackOffice; url: string }> {
    checkFareRules(options.rules);
    const { publicKey } = await options.client.cards.blacklistKey();
    const office = new BackOffice(options, publicKey);
    const { url } = await office.hub.listen();
    const blacklist = await options.client.cards.blacklist({});
    office.hub.pushConfig('all', { version: 1, fares: fareTable(options.rules), blacklist });
    return { office, url };
  }

  /** The machine `id`. */
  device(id: string): Device | undefined {
    return this.#devices.get(id);
  }

  /** Stores a machine's new records (in order, once: the hub skips what `storedSeq` says is stored) and queues them. */
  async #onRecords(machineId: string, entries: readonly MachineRecordEntry[]): Promise<void> {
    for (const e of entries) {
      this.#seqs.set(machineId, e.seq);
      // A machine's events (no money) are kept apart; the rides wait for clearing.
      if (isMachineEvent(e.record)) {
        this.events.push({ machineId, seq: e.seq, event: e.record });
        continue;
      }
      const s: StoredRecord = { machineId, seq: e.seq, record: e.record, status: 'queued' };
      this.stored.push(s);
      this.#queue.push(s);
    }
    if (this.#queue.length >= this.#options.clearEveryRecords) void this.#flush('records');
    else if (this.#timer === undefined && this.#queue.length > 0)
      this.#timer = setTimeout(() => void this.#flush('time'), this.#options.clearEveryMs);
  }

  #flush(reason: BatchReason): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#queue.splice(0, 1000);
    if (batch.length > 0) {
      const key = `${this.#options.runId}/b${++this.#batchNo}`;
      this.#chain = this.#chain.then(() =>
        this.#submit(key, reason, batch).catch((e) => {
          this.#failure ??= e;
        }),
      );
    }
    if (this.#queue.length >= this.#options.clearEveryRecords) return this.#flush(reason);
    return this.#chain;
  }

  /** One batch; a failed call is sent again with the same key (the platform applies it once). */
  async #submit(key: string, reason: BatchReason, batch: StoredRecord[]): Promise<void> {
    const records = batch.map((s) => s.record);
    let answer: Awaited<ReturnType<PlatformClient['clearing']['submitBatch']>> | undefined;
    for (let attempt = 0; answer === undefined; attempt++) {
      try {
        answer = await this.#options.client.clearing.submitBatch({ idempotencyKey: key, records });
      } catch (e) {
        if (attempt >= 4) throw e;
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
      }
    }
    const rejected = new Map(answer.rejected.map((r) => [r.index, r.code]));
    batch.forEach((s, i) => {
      s.status = rejected.get(i) ?? 'cleared';
    });
    this.batches.push({
      key,
      reason,
      records: batch.length,
      accepted: answer.accepted,
      settled: answer.settled,
      rejected: answer.rejected.map((r) => r.code),
    });
  }

  /** Records stored and not yet answered by the platform (queued or in a batch under way). */
  get unsettled(): number {
    return this.stored.filter((s) => s.status === 'queued').length;
  }

  /**
   * Clears what is queued and waits for every batch.
   * @throws the error of a batch the platform never answered.
   */
  async drain(): Promise<void> {
    await this.#flush('final');
    await this.#chain;
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** Keeps a kiosk load (for the export). */
  recordLoad(record: LoadRecord, funding: LoadRow['funding']): void {
    this.loads.push({ record, funding });
  }

  /**
   * Replays the fare rules over every card's stored rides in time order, with the whole day in view (the machines
   * saw only the card's log), and compares with what the machines charged.
   */
  audit(): AuditedRecord[] {
    const rules = this.#options.rules;
    const byCard = new Map<string, StoredRecord[]>();
    for (const s of this.stored) byCard.set(s.record.cardSerial, [...(byCard.get(s.record.cardSerial) ?? []), s]);
    const out: AuditedRecord[] = [];
    for (const list of byCard.values()) {
      list.sort((a, b) => order(a.record).localeCompare(order(b.record)));
      const rides: LoggedRide[] = [];
      let entry: { station: TransitStation; date: string; minutes: number; index: number } | undefined;
      for (const s of list) {
        const device = this.#devices.get(s.machineId)!;
        const date = s.record.date;
        const minutes = minutesOf(s.record.time);
        const today = rides.filter((r) => r.date === date).reverse();
        const total = today.reduce((t, r) => t + r.amount, 0);
        const day: CardDay = {
          total,
          capped: total >= rules.dailyCap || today.some((r) => r.amount === 0),
          rides: today,
        };
        if (device.what === 'metro-entry') {
          entry = { station: device.station, date, minutes, index: out.length };
          out.push({
            stored: s,
            device,
            expected: undefined,
            transferStart: false,
            capInEffect: day.capped,
            ok: s.record.amount === 0,
          });
          continue;
        }
        let expected: FareQuote;
        if (device.what === 'metro-exit') {
          const open: TransitRecord | undefined = entry && {
            type: 'entry',
            station: entry.station,
            terminalId: new Uint8Array(6),
            amount: 0,
            balance: 0,
            date: new Uint8Array(4),
            time: new Uint8Array(3),
          };
          const full = metroFull(rules, open, device.station);
          const transfer = entry !== undefined && entry.date === date && isTransfer(day, 'metro', entry.minutes, rules);
          expected = quote(full, transfer, day, rules);
          if (entry !== undefined && transfer) {
            const e = out[entry.index]!;
            out[entry.index] = { ...e, transferStart: true };
          }
          entry = undefined;
        } else {
          expected = quote(rules.busFlat, isTransfer(day, 'bus', minutes, rules), day, rules);
        }
        rides.push({ mode: device.what === 'bus' ? 'bus' : 'metro', amount: s.record.amount, date, minutes });
        out.push({
          stored: s,
          device,
          expected,
          transferStart: device.what === 'bus' && expected.transfer,
          capInEffect: day.capped || expected.capped,
          ok: expected.fare === s.record.amount,
        });
      }
    }
    return out;
  }

  /** Stops the hub (machines reconnect to the next one). */
  async close(): Promise<void> {
    clearTimeout(this.#timer);
    await this.hub.close();
  }
}

/** Sort key of a record: date, time, terminal, terminal sequence. */
function order(r: ClearingRecord): string {
  return `${r.date}${r.time}${r.terminalId}${String(r.terminalSeq).padStart(10, '0')}`;
}

/** The card serial and the TIDES date/time of a load. */
export function loadFields(r: LoadRecord): { serial: string; date: string; time: string; terminalId: string } {
  return {
    serial: toHex(r.cardSerial),
    date: bcdToString(r.date),
    time: bcdToString(r.time),
    terminalId: toHex(r.terminalId),
  };
}
