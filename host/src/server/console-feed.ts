/**
 * The operator console's live view (`console.snapshot`, `cards.list`'s `lastSeen`): a subscriber of every event the
 * server makes, kept in memory with bounded size — the newest taps, loads and clearing batches, counts per second
 * over the last minute, the tap-time histogram by machine kind, and the last purse balance a machine reported per
 * card. It holds no money and no secret: the ledger is the record; a restart starts the view again.
 * @module
 */
import type { NotificationOf, ResultOf } from '@simtap/sdk/wire';
import type { EventName, EventSubscriber, EventTopic } from './events';

/** Upper edges of the tap-time histogram's buckets, ms (the last bucket counts the taps above the last edge). */
export const TAP_TIME_BUCKETS_MS: readonly number[] = [25, 50, 75, 100, 150, 200, 300, 500, 750, 1000];

/** Rows the snapshot keeps of each kind. */
const MAX_TAPS = 100;
const MAX_LOADS = 100;
const MAX_BATCHES = 50;
/** Cards whose last balance is remembered (the oldest seen is forgotten first). */
const MAX_CARDS_SEEN = 100_000;
/** Tap times kept per machine kind for the percentiles. */
const TAP_TIME_SAMPLES = 2000;
/** Machine kinds with a histogram of their own (the kind is the machine's word): the rest count as `other`. */
const MAX_MACHINE_KINDS = 32;
/** Loads authorized and not yet settled whose card balance is remembered until they post. */
const MAX_OPEN_LOADS = 10_000;
const WINDOW_S = 60;

type Tap = NotificationOf<'event.tap'>;
type Batch = NonNullable<NotificationOf<'event.batch'>['batch']>;
type LoadItem = ResultOf<'console.snapshot'>['loads'][number];
type Snapshot = ResultOf<'console.snapshot'>;

/** The last purse balance a machine reported for a card. */
export interface LastSeen {
  readonly balance: number;
  readonly at: number;
  readonly source: 'tap' | 'load';
}

/** Per-second counters over a sliding window. */
class PerSecond {
  readonly #second = new Float64Array(WINDOW_S).fill(-1);
  readonly #count = new Float64Array(WINDOW_S);

  add(atMs: number, n = 1): void {
    const s = Math.floor(atMs / 1000);
    const i = s % WINDOW_S;
    if (this.#second[i] !== s) {
      this.#second[i] = s;
      this.#count[i] = 0;
    }
    this.#count[i] = this.#count[i]! + n;
  }

  /** The counts of the `WINDOW_S` seconds ending with the one of `nowMs`, oldest first. */
  series(nowMs: number): number[] {
    const now = Math.floor(nowMs / 1000);
    const out: number[] = [];
    for (let s = now - WINDOW_S + 1; s <= now; s++) {
      const i = ((s % WINDOW_S) + WINDOW_S) % WINDOW_S;
      out.push(this.#second[i] === s ? this.#count[i]! : 0);
    }
    return out;
  }
}

/** Tap times of one machine kind: the histogram since the start, and the latest samples for percentiles. */
class TapTimes {
  count = 0;
  readonly counts = new Array<number>(TAP_TIME_BUCKETS_MS.length + 1).fill(0);
  readonly #samples: number[] = [];
  #next = 0;
  max = 0;

  add(ms: number): void {
    this.count++;
    let b = TAP_TIME_BUCKETS_MS.findIndex((edge) => ms <= edge);
    if (b < 0) b = TAP_TIME_BUCKETS_MS.length;
    this.counts[b]!++;
    if (ms > this.max) this.max = ms;
    if (this.#samples.length < TAP_TIME_SAMPLES) this.#samples.push(ms);
    else {
      this.#samples[this.#next] = ms;
      this.#next = (this.#next + 1) % TAP_TIME_SAMPLES;
    }
  }

  percentile(p: number): number {
    if (this.#samples.length === 0) return 0;
    const sorted = [...this.#samples].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
  }
}

/** Keeps the newest `max` items, newest first. */
function pushNewest<T>(list: T[], item: T, max: number): void {
  list.unshift(item);
  if (list.length > max) list.length = max;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** What the snapshot adds from the server: connections and traffic by endpoint. */
export interface ServerView {
  connections(): Snapshot['connections'];
  traffic(): Snapshot['traffic'];
}

/**
 * The console's view. Add it to the server's `EventHub` (it subscribes to every topic as an operator); the
 * handlers of load calls tell it the card balances they saw (`sawLoad`).
 */
export class ConsoleFeed implements EventSubscriber {
  readonly topics: ReadonlySet<EventTopic> = new Set<EventTopic>(['loads', 'cards', 'clearing', 'taps']);
  readonly clientId = '(console feed)';
  readonly role = 'operator' as const;
  readonly startedAt: number;
  readonly #now: () => number;
  readonly #taps: Tap[] = [];
  readonly #loads: LoadItem[] = [];
  readonly #batches: Batch[] = [];
  readonly #perSecond = {
    taps: new PerSecond(),
    loads: new PerSecond(),
    cleared: new PerSecond(),
    fen: new PerSecond(),
  };
  readonly #tapTimes = new Map<string, TapTimes>();
  readonly #seen = new Map<string, LastSeen>();
  /** loadId → the card's balance after the load, remembered until it posts. */
  readonly #openLoads = new Map<string, { cardSerial: string; balanceAfter: number }>();

  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.startedAt = now();
  }

  notify(name: EventName, params: unknown): void {
    const at = this.#now();
    if (name === 'event.tap') this.#tap(params as Tap);
    else if (name === 'event.batch') {
      const b = (params as NotificationOf<'event.batch'>).batch;
      if (b) pushNewest(this.#batches, b, MAX_BATCHES);
    } else if (name === 'event.load') {
      const l = params as NotificationOf<'event.load'>;
      const item: LoadItem = {
        at: l.at ?? at,
        loadId: l.loadId,
        cardSerial: l.cardSerial,
        amount: l.amount,
        status: l.status,
        air: l.air ?? null,
        clientId: null,
      };
      // One row per load: its latest status, moved to the top.
      const i = this.#loads.findIndex((x) => x.loadId === l.loadId);
      if (i >= 0) this.#loads.splice(i, 1);
      pushNewest(this.#loads, item, MAX_LOADS);
      if (l.status === 'posted') this.#perSecond.loads.add(item.at);
      const open = this.#openLoads.get(l.loadId);
      if (open && l.status !== 'pending') {
        this.#openLoads.delete(l.loadId);
        if (l.status === 'posted') this.#see(open.cardSerial, { balance: open.balanceAfter, at, source: 'load' });
      }
    }
  }

  /**
   * A load the card asked for: its balance before (what INITIALIZE FOR LOAD answered) is the card's word now, and
   * the balance after is the card's once the load posts.
   */
  sawLoad(loadId: string, cardSerial: string, oldBalance: number, amount: number): void {
    const serial = cardSerial.toUpperCase();
    this.#see(serial, { balance: oldBalance, at: this.#now(), source: 'load' });
    if (this.#openLoads.size >= MAX_OPEN_LOADS) this.#openLoads.delete(this.#openLoads.keys().next().value!);
    this.#openLoads.set(loadId, { cardSerial: serial, balanceAfter: oldBalance + amount });
  }

  /** The last balance a machine reported for the card since the start, or null. */
  lastSeen(cardSerial: string): LastSeen | null {
    return this.#seen.get(cardSerial.toUpperCase()) ?? null;
  }

  #see(cardSerial: string, seen: LastSeen): void {
    this.#seen.delete(cardSerial); // re-inserted: the Map's order is the order last seen
    this.#seen.set(cardSerial, seen);
    if (this.#seen.size > MAX_CARDS_SEEN) this.#seen.delete(this.#seen.keys().next().value!);
  }

  #tap(t: Tap): void {
    pushNewest(this.#taps, t, MAX_TAPS);
    this.#perSecond.taps.add(t.at);
    if (t.status !== 'cleared') return;
    this.#perSecond.cleared.add(t.at);
    this.#perSecond.fen.add(t.at, t.amount);
    if (t.balance !== null) this.#see(t.cardSerial, { balance: t.balance, at: t.at, source: 'tap' });
    if (t.tapUs !== null) {
      let kind = t.machine ?? 'unknown';
      if (!this.#tapTimes.has(kind) && this.#tapTimes.size >= MAX_MACHINE_KINDS) kind = 'other';
      let times = this.#tapTimes.get(kind);
      if (!times) {
        times = new TapTimes();
        this.#tapTimes.set(kind, times);
      }
      times.add(t.tapUs / 1000);
    }
  }

  /** `console.snapshot`. */
  snapshot(server: ServerView): Snapshot {
    const now = this.#now();
    const series = {
      taps: this.#perSecond.taps.series(now),
      loads: this.#perSecond.loads.series(now),
      cleared: this.#perSecond.cleared.series(now),
    };
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    return {
      now,
      startedAt: this.startedAt,
      connections: server.connections(),
      traffic: server.traffic(),
      rates: {
        taps: sum(series.taps),
        loads: sum(series.loads),
        cleared: sum(series.cleared),
        fen: sum(this.#perSecond.fen.series(now)),
      },
      series: { start: (Math.floor(now / 1000) - WINDOW_S + 1) * 1000, ...series },
      taps: [...this.#taps],
      loads: [...this.#loads],
      batches: [...this.#batches],
      tapTimes: {
        bucketsMs: [...TAP_TIME_BUCKETS_MS],
        machines: [...this.#tapTimes]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([machine, t]) => ({
            machine,
            count: t.count,
            counts: [...t.counts],
            p50Ms: round1(t.percentile(50)),
            p95Ms: round1(t.percentile(95)),
            maxMs: round1(t.max),
          })),
      },
    };
  }
}
