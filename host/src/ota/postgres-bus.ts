/**
 * {@link OtaBus} between platform instances on one PostgreSQL database: LISTEN/NOTIFY on one channel, on a
 * connection of its own (reconnected with backoff when it drops). A notification lost while the connection is
 * down costs nothing but time: the phone's next contact runs whatever waits for its card, and `wallet.airTopUp`
 * answers `pending` meanwhile.
 * @module
 */
import { ArgumentError } from '@simtap/sdk/core/errors';
import pg from 'pg';
import type { OtaBus, OtaBusMessage } from './bus';
import { parseBusMessage } from './bus';

/** Options of {@link openPostgresOtaBus}. */
export interface PostgresOtaBusOptions {
  /** `postgres://…` (what `SIMTAP_DATABASE_URL` holds). */
  readonly connectionString: string;
  /** The NOTIFY channel: lower-case letters, digits, `_` (default `simtap_ota`). Instances of one fleet share it. */
  readonly channel?: string;
  /** Where connection trouble is logged. */
  readonly logger?: { warn(obj: object, msg?: string): void };
}

/**
 * Opens the bus: resolves once the channel is listened to.
 * @throws {ArgumentError} on a bad channel name; the connection's error when the database cannot be reached.
 */
export async function openPostgresOtaBus(options: PostgresOtaBusOptions): Promise<OtaBus> {
  const channel = options.channel ?? 'simtap_ota';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) throw new ArgumentError('channel: lower-case letters, digits and _');
  const subscribers = new Set<(m: OtaBusMessage) => void>();
  let closed = false;
  let client: pg.Client | undefined;
  let connecting: Promise<pg.Client> | undefined;
  let retry: NodeJS.Timeout | undefined;

  const connect = async (): Promise<pg.Client> => {
    const c = new pg.Client({ connectionString: options.connectionString });
    c.on('notification', (n) => {
      if (n.channel !== channel || n.payload === undefined) return;
      const m = parseBusMessage(n.payload);
      if (m) for (const fn of subscribers) fn(m);
    });
    c.on('error', (e) => {
      options.logger?.warn({ err: e.message }, 'OTA bus connection lost');
      if (client === c) client = undefined;
      c.end().catch(() => {});
      schedule(500);
    });
    await c.connect();
    await c.query(`LISTEN ${channel}`);
    return c;
  };
  const ensure = (): Promise<pg.Client> => {
    if (client) return Promise.resolve(client);
    connecting ??= connect().then(
      (c) => {
        connecting = undefined;
        if (closed) {
          void c.end();
          throw new ArgumentError('the OTA bus is closed');
        }
        client = c;
        return c;
      },
      (e: unknown) => {
        connecting = undefined;
        throw e;
      },
    );
    return connecting;
  };
  const schedule = (ms: number) => {
    if (closed || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      ensure().catch(() => schedule(Math.min(ms * 2, 10_000)));
    }, ms);
    retry.unref();
  };

  await ensure();
  return {
    async publish(message) {
      if (closed) return;
      try {
        const c = await ensure();
        await c.query('SELECT pg_notify($1, $2)', [channel, JSON.stringify(message)]);
      } catch (e) {
        options.logger?.warn({ err: (e as Error).message }, 'OTA bus: a message was not sent');
        schedule(500);
      }
    },
    subscribe(fn) {
      subscribers.add(fn);
      return () => subscribers.delete(fn);
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      subscribers.clear();
      const c = client ?? (await connecting?.catch(() => undefined));
      client = undefined;
      await c?.end().catch(() => {});
    },
  };
}
