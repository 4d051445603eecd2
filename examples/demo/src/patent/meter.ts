/**
 * The tap meter of the whole-patent run: it watches emulated SIMs from outside ({@link Card.observe}) and turns
 * each contactless power-up into a tap — its card APDUs, its kind, told by what the machine asked the card
 * (INITIALIZE FOR LOAD → a load, INITIALIZE FOR CAPP PURCHASE → a metro gate, or a bus validator when it writes
 * the bus's travel record 2, INITIALIZE FOR PURCHASE → a till, INTERNAL / EXTERNAL AUTHENTICATE alone → a door) —
 * and its tap time under the model the machines use (`DEFAULT_TAP_TIME_OPTIONS`: the patent's Java Card SIM behind
 * SWP, 106 kbit/s, activation included) with the reader of the machine it was made at (a gate or a door: `gate`, the
 * bus: `bus-validator`, a till or a kiosk: `till`), split into reader, air, SWP and card time (docs/tap-time.md).
 * Over-the-air commands (the contact interface, through the phone) are counted apart.
 *
 * @module
 */
import type { Card, CardInterface } from '@simtap/applet-emu/runtime';
import {
  ISO14443_106,
  READERS,
  type ReaderName,
  type TapTimeEstimate,
  TapTimer,
  type TapTimeSplit,
} from '@simtap/sdk/core/iso14443';
import { DEFAULT_TAP_TIME_OPTIONS } from '@simtap/sdk/machines';

/** What a tap did at the machine, as the card saw it. */
export type TapKind = 'load' | 'composite purchase' | 'bus purchase' | 'purchase' | 'authentication' | 'read';

/** One finished tap. */
export interface MeteredTap {
  readonly system: string;
  readonly kind: TapKind;
  readonly apdus: number;
  /** Modelled tap time (106 kbit/s, the machine's reader), µs. */
  readonly tapTimeUs: number;
  /** Where that time goes, µs. */
  readonly split: TapTimeSplit;
}

/** Percentiles of one machine kind's tap times, ms, and where the median tap's time goes. */
export interface TapTimeLine {
  readonly machine: string;
  /** The reader profile its taps were modelled with. */
  readonly reader: ReaderName;
  readonly taps: number;
  readonly apdus: number;
  readonly p50: number;
  readonly p95: number;
  readonly max: number;
  /** The split of the p50 tap (the median tap itself), ms: adds up to `p50`. */
  readonly p50Split: { readonly reader: number; readonly air: number; readonly swp: number; readonly card: number };
}

const INS_INITIALIZE = 0x50;
const INS_INTERNAL_AUTHENTICATE = 0x88;
const INS_EXTERNAL_AUTHENTICATE = 0x82;
const INS_UPDATE_CAPP_DATA_CACHE = 0xdc;
/** The travel record a bus validator writes (the transit example's record 2; the metro's is record 1). */
const BUS_RECORD_ID = 2;

/** A machine of the report: its name and the reader its taps are modelled with. */
interface MachineKind {
  readonly name: string;
  readonly reader: ReaderName;
}

const MACHINES: Record<string, Partial<Record<TapKind, MachineKind>>> = {
  transit: {
    load: { name: 'recharge kiosk', reader: 'till' },
    'composite purchase': { name: 'metro gate', reader: 'gate' },
    'bus purchase': { name: 'bus validator', reader: 'bus-validator' },
  },
  'access-control': { authentication: { name: 'door controller', reader: 'gate' } },
  campus: {
    load: { name: 'top-up kiosk', reader: 'till' },
    purchase: { name: 'canteen till', reader: 'till' },
    authentication: { name: 'library / dorm door', reader: 'gate' },
  },
  supermarket: {
    load: { name: 'service-desk kiosk', reader: 'till' },
    purchase: { name: 'till (purse)', reader: 'till' },
    authentication: { name: 'till (online charge)', reader: 'till' },
  },
};

function machineOf(system: string, kind: TapKind): MachineKind {
  const m = MACHINES[system]?.[kind];
  if (m !== undefined) return m;
  // Anything else: a door or a gate when it only authenticates, a till (or a kiosk) otherwise.
  return { name: kind, reader: kind === 'authentication' ? 'gate' : 'till' };
}

/** The machine a (system, kind) tap was made at, in the report's words. */
export function machineName(system: string, kind: TapKind): string {
  return `${system} ${machineOf(system, kind).name}`;
}

/** The reader profile a (system, kind) tap is modelled with: gates and doors `gate`, the bus its own, tills and kiosks `till`. */
export function machineReader(system: string, kind: TapKind): ReaderName {
  return machineOf(system, kind).reader;
}

/** The estimate of a tap at a machine: the machines' model (`DEFAULT_TAP_TIME_OPTIONS`) with that machine's reader. */
export function machineTapTime(timer: TapTimer, system: string, kind: TapKind): TapTimeEstimate {
  return timer.estimate(ISO14443_106, { ...DEFAULT_TAP_TIME_OPTIONS, reader: READERS[machineReader(system, kind)] });
}

class OpenTap {
  readonly timer = new TapTimer();
  apdus = 0;
  kind: TapKind = 'read';
  constructor(readonly system: string) {}

  see(capdu: Uint8Array, rapdu: Uint8Array): void {
    this.apdus++;
    this.timer.record(capdu, rapdu);
    const ins = capdu[1];
    if (ins === INS_INITIALIZE && (capdu[0]! & 0x80) !== 0) {
      const p1 = capdu[2];
      if (p1 === 0x00) this.kind = 'load';
      else if (p1 === 0x01) this.kind = 'purchase';
      else if (p1 === 0x03) this.kind = 'composite purchase';
    } else if ((ins === INS_INTERNAL_AUTHENTICATE || ins === INS_EXTERNAL_AUTHENTICATE) && this.kind === 'read')
      this.kind = 'authentication';
    else if (ins === INS_UPDATE_CAPP_DATA_CACHE && this.kind === 'composite purchase' && capdu[2] === BUS_RECORD_ID)
      this.kind = 'bus purchase';
  }
}

/** Counts and times the taps of the SIMs it watches. */
export class TapMeter {
  readonly taps: MeteredTap[] = [];
  /** Commands the platform sent to SIMs over the air (through their phones). */
  airApdus = 0;
  readonly #open = new Map<Card, OpenTap>();
  readonly #system = new Map<Card, string>();
  readonly #stops: (() => void)[] = [];
  /** Finished taps at machines (reads alone excluded) and their APDUs, kept as they close: read on every sale. */
  #finishedAtMachines = 0;
  #finishedApdus = 0;

  /** Watches `sim`, whose taps from now on belong to `system` (watching it again only changes the system). */
  watch(sim: Card, system: string): void {
    const known = this.#system.has(sim);
    this.#system.set(sim, system);
    if (known) return;
    this.#stops.push(
      sim.observe({
        powerOn: (iface: CardInterface) => {
          if (iface !== 'contactless') return;
          this.#close(sim);
          this.#open.set(sim, new OpenTap(this.#system.get(sim) ?? system));
        },
        exchange: (iface: CardInterface, capdu: Uint8Array, rapdu: Uint8Array) => {
          if (iface === 'contact') this.airApdus++;
          else this.#open.get(sim)?.see(capdu, rapdu);
        },
      }),
    );
  }

  /** Closes every open tap (the card left the field). */
  flush(): void {
    for (const sim of [...this.#open.keys()]) this.#close(sim);
  }

  /** Stops watching. */
  stop(): void {
    this.flush();
    for (const s of this.#stops.splice(0)) s();
    this.#system.clear();
  }

  /** Taps made so far at machines (reads alone excluded), open ones included. */
  get count(): number {
    let n = this.#finishedAtMachines;
    for (const t of this.#open.values()) if (t.kind !== 'read') n++;
    return n;
  }

  /** Contactless APDUs so far. */
  get apdus(): number {
    let n = this.#finishedApdus;
    for (const t of this.#open.values()) n += t.apdus;
    return n;
  }

  /** Tap-time percentiles by machine, read-only taps left out. */
  lines(): TapTimeLine[] {
    const by = new Map<string, MeteredTap[]>();
    for (const t of this.taps) {
      if (t.kind === 'read') continue;
      const m = machineName(t.system, t.kind);
      by.set(m, [...(by.get(m) ?? []), t]);
    }
    return [...by.entries()]
      .map(([machine, taps]) => {
        const sorted = [...taps].sort((a, b) => a.tapTimeUs - b.tapTimeUs);
        const ms = sorted.map((t) => t.tapTimeUs / 1000);
        const median = sorted[rank(sorted.length, 0.5)]!;
        const s = median.split;
        return {
          machine,
          reader: machineReader(median.system, median.kind),
          taps: taps.length,
          apdus: taps.reduce((sum, t) => sum + t.apdus, 0),
          p50: percentile(ms, 0.5),
          p95: percentile(ms, 0.95),
          max: ms.at(-1) ?? 0,
          p50Split: { reader: s.readerUs / 1000, air: s.airUs / 1000, swp: s.linkUs / 1000, card: s.cardUs / 1000 },
        };
      })
      .sort((a, b) => a.machine.localeCompare(b.machine));
  }

  #close(sim: Card): void {
    const t = this.#open.get(sim);
    if (t === undefined) return;
    this.#open.delete(sim);
    if (t.apdus === 0) return;
    this.#finishedApdus += t.apdus;
    if (t.kind !== 'read') this.#finishedAtMachines++;
    const e = machineTapTime(t.timer, t.system, t.kind);
    this.taps.push({ system: t.system, kind: t.kind, apdus: t.apdus, tapTimeUs: e.totalUs, split: e.split });
  }
}

/** The nearest-rank index of quantile `q` among `n` sorted values. */
function rank(n: number, q: number): number {
  return Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1));
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[rank(sorted.length, q)]!;
}
