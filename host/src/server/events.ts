/**
 * The event notifications of `simtap.v1` (`event.load`, `event.card`, `event.batch`, `event.tap`): made by the server after a
 * successful call and delivered to the connections subscribed to their topic (`events.subscribe`). An application
 * client gets the events of its own calls and every card event; the console gets everything. Delivery is at most
 * once per connection and best effort: a call repeated under its idempotency key may repeat its event, and a
 * subscriber that does not read is disconnected rather than buffered without bound.
 * @module
 */
import type { NotificationName, NotificationOf } from '@simtap/sdk/wire';

/** A topic of `events.subscribe`. */
export type EventTopic = 'loads' | 'cards' | 'clearing' | 'taps';

/** The topic of each event notification. */
export const EVENT_TOPICS = {
  'event.load': 'loads',
  'event.card': 'cards',
  'event.batch': 'clearing',
  'event.tap': 'taps',
} as const satisfies Partial<Record<NotificationName, EventTopic>>;

/** An event notification's name. */
export type EventName = keyof typeof EVENT_TOPICS;

/** One event: its notification, and the client whose call made it. */
export interface PlatformEvent<N extends EventName = EventName> {
  readonly name: N;
  readonly params: NotificationOf<N>;
  /** The client whose call made the event. */
  readonly origin: string;
}

/** A connection that may receive events. */
export interface EventSubscriber {
  /** The topics it subscribed to (empty: none). */
  readonly topics: ReadonlySet<EventTopic>;
  /** Its client, once authenticated. */
  readonly clientId: string | undefined;
  /** Operators (the console) get every event; applications their own and the cards'. */
  readonly role: 'application' | 'operator' | undefined;
  /** Sends the notification. */
  notify(name: EventName, params: unknown): void;
}

/** Whether `subscriber` gets `event`. */
export function wants(subscriber: EventSubscriber, event: PlatformEvent): boolean {
  const topic = EVENT_TOPICS[event.name];
  if (!subscriber.topics.has(topic) || subscriber.role === undefined) return false;
  if (subscriber.role === 'operator' || topic === 'cards') return true;
  return subscriber.clientId === event.origin;
}

/** The subscribers of one server. */
export class EventHub {
  readonly #subscribers = new Set<EventSubscriber>();

  /** Adds a subscriber (once; repeated adds are no-ops). */
  add(s: EventSubscriber): void {
    this.#subscribers.add(s);
  }

  delete(s: EventSubscriber): void {
    this.#subscribers.delete(s);
  }

  /** Whether anyone would get an event of one of `topics` (to skip the reads an event needs). */
  listening(topics: readonly EventTopic[]): boolean {
    for (const s of this.#subscribers) for (const t of topics) if (s.topics.has(t)) return true;
    return false;
  }

  publish(event: PlatformEvent): void {
    for (const s of this.#subscribers) if (wants(s, event)) s.notify(event.name, event.params);
  }
}
