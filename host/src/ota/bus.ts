/**
 * How the platform's instances tell each other about phones: a phone is connected to one instance, while a top-up
 * for its card or a lost-card report may arrive at another. {@link LocalOtaBus} serves one process;
 * `PostgresOtaBus` (`./postgres-bus`) carries the same messages between processes sharing one PostgreSQL database
 * with LISTEN/NOTIFY — no other server needed.
 * @module
 */
import { EventEmitter } from 'node:events';

/** A message between instances. */
export type OtaBusMessage =
  /** Work waits for the card (an air load held, a status changed): the instance holding its phone runs it. */
  | { readonly kind: 'run'; readonly cardSerial: string; readonly origin: string; readonly request?: string }
  /** The instance holding the card's phone has taken a `run` request. */
  | { readonly kind: 'accepted'; readonly cardSerial: string; readonly origin: string; readonly request: string }
  /** An online charge needs the card's INTERNAL AUTHENTICATE of `challenge`: the instance holding its phone asks it. */
  | {
      readonly kind: 'authenticate';
      readonly cardSerial: string;
      readonly challenge: string;
      readonly request: string;
      readonly origin: string;
    }
  /** The card's answer to an `authenticate` request (hex), or why there is none. */
  | { readonly kind: 'proof'; readonly request: string; readonly response?: string; readonly origin: string }
  /** An air load was settled (or left pending) by the instance that ran it. */
  | {
      readonly kind: 'settled';
      readonly loadId: string;
      readonly status: 'posted' | 'voided' | 'pending';
      readonly origin: string;
    };

/** The bus. `publish` reaches every subscriber of every instance, the publisher's own included. */
export interface OtaBus {
  publish(message: OtaBusMessage): Promise<void>;
  /** Adds a subscriber; returns its removal. */
  subscribe(fn: (message: OtaBusMessage) => void): () => void;
  close(): Promise<void>;
}

/** The bus of one process (the embedded default, and tests that run several services in one process). */
export class LocalOtaBus implements OtaBus {
  readonly #emitter = new EventEmitter();

  constructor() {
    this.#emitter.setMaxListeners(0);
  }

  async publish(message: OtaBusMessage): Promise<void> {
    // Delivered on a later turn, as a database notification would be.
    setImmediate(() => this.#emitter.emit('message', message));
  }

  subscribe(fn: (message: OtaBusMessage) => void): () => void {
    this.#emitter.on('message', fn);
    return () => this.#emitter.off('message', fn);
  }

  async close(): Promise<void> {
    this.#emitter.removeAllListeners();
  }
}

/** Checks a message that came over a process boundary; `undefined` when it is not one. */
export function parseBusMessage(text: string): OtaBusMessage | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const m = v as Record<string, unknown>;
  const str = (x: unknown) => typeof x === 'string' && x.length > 0 && x.length <= 128;
  if (!str(m.origin)) return undefined;
  if (m.kind === 'run' && str(m.cardSerial) && (m.request === undefined || str(m.request)))
    return m as unknown as OtaBusMessage;
  if (m.kind === 'accepted' && str(m.cardSerial) && str(m.request)) return m as unknown as OtaBusMessage;
  const hex = (x: unknown, max: number) => typeof x === 'string' && x.length <= max * 2 && /^(?:[0-9A-F]{2})+$/.test(x);
  if (m.kind === 'authenticate' && str(m.cardSerial) && str(m.request) && hex(m.challenge, 8))
    return m as unknown as OtaBusMessage;
  if (m.kind === 'proof' && str(m.request) && (m.response === undefined || hex(m.response, 248)))
    return m as unknown as OtaBusMessage;
  if (
    m.kind === 'settled' &&
    str(m.loadId) &&
    (m.status === 'posted' || m.status === 'voided' || m.status === 'pending')
  )
    return m as unknown as OtaBusMessage;
  return undefined;
}
