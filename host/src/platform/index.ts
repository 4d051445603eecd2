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

export { ACCOUNT, PLATFORM_CLIENT, REF } from './accounts';
export {
  type CardConfig,
  type ClientConfig,
  type CustomerConfig,
  type MerchantConfig,
  type PlatformConfig,
  platformConfigFromProfile,
} from './config';
export { PLATFORM_ERRORS, PlatformError, type PlatformErrorCode } from './errors';

/** Options of {@link openPlatform}. */
export interface PlatformOptions {
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
  const contactless = new ContactlessManagement({ ledger, keys, now });
  const points = new Points({ ledger, config, now });
  const customers = new Customers({ ledger, keys, contactless, points, config, now });
  const wallets = new Wallets({ ledger, keys, contactless, points, config });
  const platform: Platform = {
    ledger,
    keys,
    config,
    customers,
    points,
    wallets,
    contactless,
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
