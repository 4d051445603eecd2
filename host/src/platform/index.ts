/**
 * The account operation platform's core (`@simtap/host/platform`): the ledger, the issuer's keys and the four
 * sub-platforms — (21) customers, (22) points, (23) wallets, (24) contactless management — wired together, and the
 * first-start seeding of the embedded default (the profile's merchants, clients' cash accounts, customers, and
 * cards registered `active`). The `simtap.v1` server is a thin layer over these methods: their names, fields and
 * error codes are the protocol's.
 * @example
 * const platform = await openPlatform({
 *   ledger: openSqliteLedger({ path: './data/simtap.db' }),
 *   keys: SoftwareIssuerKeyStore.fromProfile(referenceProfile()), // test keys: never real money
 *   config: platformConfigFromProfile(referenceProfile()),
 * });
 * await platform.customers.topUpPhoneAccount({ client: 'mart-1', idempotencyKey: 'k1', msisdn: '13800138001', amount: 5000 });
 * @module
 */
import { ContactlessManagement } from '../contactless';
import { Customers } from '../customers';
import type { IssuerKeyStore } from '../keys';
import type { LedgerStore, VerifyResult } from '../ledger';
import { Points } from '../points';
import { Wallets } from '../wallets';
import { ACCOUNT } from './accounts';
import type { PlatformConfig } from './config';
import { PlatformError } from './errors';
import { CallIdempotency } from './idempotency';

export { ACCOUNT, PLATFORM_CLIENT, REF } from './accounts';
export {
  type CardConfig,
  type ClientConfig,
  type CustomerConfig,
  type IssuanceConfig,
  type MerchantConfig,
  type PlatformConfig,
  platformConfigFromProfile,
} from './config';
export { PLATFORM_ERRORS, PlatformError, type PlatformErrorCode } from './errors';
export { CallIdempotency } from './idempotency';

/**
 * Where the platform logs: one line per operation at `debug` (`{ op, ms }`) and per refused one at `warn`
 * (`{ op, ms, code, message }`). A pino logger fits. Parameters and results are never logged: they carry MACs and
 * TACs, and nothing the platform logs may help an attacker; no key is ever in an error message.
 */
export interface PlatformLogger {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** Options of {@link openPlatform}. */
export interface PlatformOptions {
  /** Where operations are logged (default: nowhere). */
  readonly logger?: PlatformLogger;
  readonly ledger: LedgerStore;
  readonly keys: IssuerKeyStore;
  readonly config: PlatformConfig;
  /** The clock (epoch ms). Default `Date.now`. */
  readonly now?: () => number;
  /** Seed the configuration's merchants, customers and cards (default true; idempotent at every start). */
  readonly seed?: boolean;
}

/** The platform core: the sub-platforms over one ledger and one key store. */
export interface Platform {
  readonly ledger: LedgerStore;
  readonly keys: IssuerKeyStore;
  readonly config: PlatformConfig;
  readonly customers: Customers;
  readonly points: Points;
  readonly wallets: Wallets;
  readonly contactless: ContactlessManagement;
  /** Binds refusals made outside the sub-platforms (by the server) to their idempotency key. */
  readonly idempotency: CallIdempotency;
  /** `merchants.balance`: what the platform owes the client's merchant. */
  merchantBalance(params: { client: string }): Promise<{ payable: number }>;
  /** `ledger.verify`. */
  verify(): Promise<VerifyResult>;
  /** Closes the ledger and wipes the keys. */
  close(): Promise<void>;
}

/** Wires the sub-platforms and (unless `seed: false`) seeds the configuration, idempotently. */
export async function openPlatform(options: PlatformOptions): Promise<Platform> {
  const { ledger, keys, config } = options;
  const now = options.now ?? Date.now;
  const log = options.logger;
  const contactless = logged(
    'cards',
    new ContactlessManagement({ ledger, keys, now, lostCardHoldMs: config.lostCardHoldMs }),
    log,
  );
  const points = logged('points', new Points({ ledger, config, now }), log);
  const customers = logged('customers', new Customers({ ledger, keys, contactless, points, config, now }), log);
  const wallets = logged('wallet', new Wallets({ ledger, keys, contactless, points, config }), log);
  const platform: Platform = {
    ledger,
    keys,
    config,
    customers,
    points,
    wallets,
    contactless,
    idempotency: new CallIdempotency(ledger),
    async merchantBalance({ client }) {
      const merchantId = config.clients.find((c) => c.id === client)?.merchantId;
      if (!merchantId) throw new PlatformError('NO_MERCHANT', `client ${client} settles to no merchant`);
      return { payable: (await ledger.getAccount(ACCOUNT.merchant(merchantId)))?.balance ?? 0 };
    },
    verify: () => ledger.verify(),
    async close() {
      await ledger.close();
      await keys.destroy();
    },
  };
  if (options.seed !== false) await seedPlatform(platform);
  return platform;
}

/** Wraps every method of `target` so that each call is logged (name, duration, and the error code of a refusal). */
function logged<T extends object>(area: string, target: T, log: PlatformLogger | undefined): T {
  if (!log) return target;
  return new Proxy(target, {
    get(t, prop, receiver) {
      const value: unknown = Reflect.get(t, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      const op = `${area}.${prop}`;
      return (...args: unknown[]) => {
        const start = performance.now();
        const done = (extra: object) => ({ op, ms: Math.round((performance.now() - start) * 1000) / 1000, ...extra });
        let result: unknown;
        try {
          result = (value as (...a: unknown[]) => unknown).apply(t, args);
        } catch (e) {
          log.warn(done(errorFields(e)), 'refused');
          throw e;
        }
        if (!(result instanceof Promise)) return result;
        return result.then(
          (v: unknown) => {
            log.debug(done({}), 'done');
            return v;
          },
          (e: unknown) => {
            log.warn(done(errorFields(e)), 'refused');
            throw e;
          },
        );
      };
    },
  });
}

function errorFields(e: unknown): object {
  return e instanceof Error
    ? { code: (e as { code?: unknown }).code ?? e.name, message: e.message }
    : { code: 'UNKNOWN' };
}

/**
 * Opens the accounts every flow needs and registers the configuration's customers and cards (cards `active`, as
 * `simtap.v1` says of the embedded default). Safe to run at every start and from several instances at once.
 */
export async function seedPlatform(platform: Platform): Promise<void> {
  const { ledger, config } = platform;
  await ledger.openAccount(ACCOUNT.pointsFunding, 'POINTS_FUNDING');
  await ledger.openAccount(ACCOUNT.pointsRedemption, 'SETTLEMENT');
  for (const m of config.merchants) await ledger.openAccount(ACCOUNT.merchant(m.id), 'MERCHANT_PAYABLE');
  for (const c of config.clients) if (c.role === 'application') await ledger.openAccount(ACCOUNT.cash(c.id), 'CASH');
  for (const c of config.customers)
    await platform.customers.register({ msisdn: c.msisdn, openingBalance: c.phoneAccountOpeningBalance });
  for (const c of config.cards) await platform.contactless.issue({ ...c, status: 'active' });
}
