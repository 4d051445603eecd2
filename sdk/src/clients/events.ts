/**
 * The events of {@link PlatformClient}: the platform's notifications (`event.load`, `event.card`, `event.batch`, `event.tap`)
 * and the client's connection state, as listeners and as async iterators.
 * @module
 */
import { NOTIFICATIONS, type NotificationOf, type ParamsOf } from '../wire';
import type { PlatformClientError } from './errors';

/** A topic of `events.subscribe`: `loads`, `cards`, `clearing` or `taps`. */
export type EventTopic = ParamsOf<'events.subscribe'>['topics'][number];

/**
 * The notification each topic brings.
 * @example
 * import { TOPIC_EVENTS } from '@simtap/sdk/clients';
 * TOPIC_EVENTS.clearing; // 'event.batch'
 */
export const TOPIC_EVENTS = {
  loads: 'event.load',
  cards: 'event.card',
  clearing: 'event.batch',
  taps: 'event.tap',
} as const satisfies Record<EventTopic, keyof typeof NOTIFICATIONS>;

/** The name of a platform event notification: `event.load`, `event.card`, `event.batch` or `event.tap`. */
export type PlatformEventName = (typeof TOPIC_EVENTS)[EventTopic];

/** A platform event as the iterator yields it: its notification name and its params. */
export type PlatformEvent = {
  [N in PlatformEventName]: { readonly type: N; readonly data: NotificationOf<N> };
}[PlatformEventName];

/**
 * The client's connection state.
 * - `connecting`: opening the first session (or again after `disconnected`).
 * - `connected`: the session is authenticated (`resumed`: after a drop; event topics were subscribed again).
 * - `reconnecting`: the connection dropped or an attempt failed; the next attempt starts in `delayMs`.
 * - `disconnected`: reconnecting gave up (`reconnect.maxAttempts`); the next call or `connect()` starts again.
 * - `closed`: `close()` was called, or the platform refused the session (`error` is the
 *   {@link AuthenticationError}); final.
 */
export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'disconnected' | 'closed';

/** A change of the client's connection state. */
export interface ConnectionEvent {
  /** The new state. */
  readonly state: ConnectionState;
  /** Failed attempts in a row so far (0 once connected). */
  readonly attempt: number;
  /** `reconnecting`: the wait before the next attempt, in ms. */
  readonly delayMs?: number;
  /** `connected`: `true` when the session replaces one that dropped. */
  readonly resumed?: boolean;
  /** What made the connection drop, an attempt fail, or the client close. */
  readonly error?: PlatformClientError | Error;
  /** The WebSocket close code of the connection that dropped, when known. */
  readonly closeCode?: number;
}

/** The events `client.on(…)` takes: the platform's notifications by name, and `connection`. */
export interface PlatformClientEventMap {
  /** A load was authorized, posted or voided (topic `loads`). */
  'event.load': NotificationOf<'event.load'>;
  /** A card's status changed (topic `cards`). */
  'event.card': NotificationOf<'event.card'>;
  /** A clearing batch was cleared (topic `clearing`). */
  'event.batch': NotificationOf<'event.batch'>;
  /** A purchase record reached clearing, cleared or rejected (topic `taps`). */
  'event.tap': NotificationOf<'event.tap'>;
  /** The connection state changed. */
  connection: ConnectionEvent;
}

/** A listener of event `K`. */
export type Listener<K extends keyof PlatformClientEventMap> = (event: PlatformClientEventMap[K]) => void;

/**
 * A small typed emitter; a listener that throws does not stop the others.
 * @internal
 */
export class Emitter {
  readonly #listeners = new Map<string, Set<(e: never) => void>>();

  on<K extends keyof PlatformClientEventMap>(name: K, listener: Listener<K>): () => void {
    const set = this.#listeners.get(name) ?? new Set();
    this.#listeners.set(name, set);
    set.add(listener as (e: never) => void);
    return () => this.off(name, listener);
  }

  off<K extends keyof PlatformClientEventMap>(name: K, listener: Listener<K>): void {
    this.#listeners.get(name)?.delete(listener as (e: never) => void);
  }

  emit<K extends keyof PlatformClientEventMap>(name: K, event: PlatformClientEventMap[K]): void {
    for (const fn of [...(this.#listeners.get(name) ?? [])]) {
      try {
        (fn as Listener<K>)(event);
      } catch {
        // a listener's failure is its own; the others still get the event
      }
    }
  }
}

/**
 * An async iterator fed by pushes, ended (or failed) by `end()`.
 * @internal
 */
export class EventQueue<T> implements AsyncIterableIterator<T> {
  readonly #items: T[] = [];
  readonly #waiters: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }[] = [];
  readonly #limit: number;
  readonly #onDone: () => void;
  #done = false;
  #error: unknown;
  /** Events dropped because the buffer was full (the oldest go first). */
  dropped = 0;

  constructor(limit: number, onDone: () => void) {
    this.#limit = limit;
    this.#onDone = onDone;
  }

  push(item: T): void {
    if (this.#done) return;
    const w = this.#waiters.shift();
    if (w) {
      w.resolve({ value: item, done: false });
      return;
    }
    this.#items.push(item);
    if (this.#items.length > this.#limit) {
      this.#items.shift();
      this.dropped++;
    }
  }

  end(error?: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#error = error;
    this.#onDone();
    for (const w of this.#waiters.splice(0)) {
      if (error === undefined) w.resolve({ value: undefined, done: true });
      else w.reject(error);
    }
  }

  next(): Promise<IteratorResult<T>> {
    const item = this.#items.shift();
    if (item !== undefined) return Promise.resolve({ value: item, done: false });
    if (this.#done) {
      const error = this.#error;
      this.#error = undefined;
      return error === undefined ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(error);
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    this.#items.length = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}

/**
 * The notification schemas of the events.
 * @internal
 */
export const EVENT_SCHEMAS = {
  'event.load': NOTIFICATIONS['event.load'].params,
  'event.card': NOTIFICATIONS['event.card'].params,
  'event.batch': NOTIFICATIONS['event.batch'].params,
  'event.tap': NOTIFICATIONS['event.tap'].params,
} as const;
