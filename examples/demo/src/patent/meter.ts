/**
 * The tap meter of the whole-patent run: it watches emulated SIMs from outside ({@link Card.observe}) and turns
 * each contactless power-up into a tap — its card APDUs, its estimated tap time at 106 kbit/s (activation
 * included) and its kind, told by what the machine asked the card (INITIALIZE FOR LOAD → a load, INITIALIZE FOR
 * CAPP PURCHASE → a gate or a bus validator, INITIALIZE FOR PURCHASE → a till, INTERNAL / EXTERNAL AUTHENTICATE
 * alone → a door). Over-the-air commands (the contact interface, through the phone) are counted apart.
 *
 * @module
 */
import type { Card, CardInterface } from '@simtap/applet-emu/runtime';
import { ISO14443_106, TapTimer } from '@simtap/sdk/core/iso14443';

/** What a tap did at the machine, as the card saw it. */
export type TapKind = 'load' | 'composite purchase' | 'purchase' | 'authentication' | 'read';

/** One finished tap. */
export interface MeteredTap {
  readonly system: string;
  readonly kind: TapKind;
  readonly apdus: number;
  /** Estimated tap time at 106 kbit/s, µs. */
  readonly tapTimeUs: number;
}

/** Percentiles of one machine kind's tap times, ms. */
export interface TapTimeLine {
  readonly machine: string;
  readonly taps: number;
  readonly apdus: number;
  readonly p50: number;
  readonly p95: number;
  readonly max: number;
}

const INS_INITIALIZE = 0x50;
const INS_INTERNAL_AUTHENTICATE = 0x88;
const INS_EXTERNAL_AUTHENTICATE = 0x82;

/** The machine a (system, kind) tap was made at, in the report's words. */
export function machineName(system: string, kind: TapKind): string {
  const names: Record<string, Partial<Record<TapKind, string>>> = {
    transit: { load: 'recharge kiosk', 'composite purchase': 'metro gate / bus validator' },
    'access-control': { authentication: 'door controller' },
    campus: { load: 'top-up kiosk', purchase: 'canteen till', authentication: 'library / dorm door' },
    supermarket: { load: 'service-desk kiosk', purchase: 'till (purse)', authentication: 'till (online charge)' },
  };
  return `${system} ${names[system]?.[kind] ?? kind}`;
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
        const ms = taps.map((t) => t.tapTimeUs / 1000).sort((a, b) => a - b);
        return {
          machine,
          taps: taps.length,
          apdus: taps.reduce((s, t) => s + t.apdus, 0),
          p50: percentile(ms, 0.5),
          p95: percentile(ms, 0.95),
          max: ms.at(-1) ?? 0,
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
    this.taps.push({
      system: t.system,
      kind: t.kind,
      apdus: t.apdus,
      tapTimeUs: t.timer.estimate(ISO14443_106).totalUs,
    });
  }
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
