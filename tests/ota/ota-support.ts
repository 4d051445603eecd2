/**
 * What the over-the-air tests share: a real `simtap.v1` server on 127.0.0.1 over a platform (SQLite, or the given
 * ledger), blank fleet SIMs issued to customers, virtual phones holding them, a PlatformClient, and reads of a
 * SIM's purse straight from the emulated card (what the card holds, not what the platform says).
 */
import { VirtualPhone, type VirtualPhoneOptions } from '@simtap/applet-emu/ota';
import type { Card } from '@simtap/applet-emu/runtime';
import { createSim } from '@simtap/applet-emu/sim';
import { SoftwareIssuerKeyStore } from '@simtap/host/keys';
import { type LedgerStore, openSqliteLedger } from '@simtap/host/ledger';
import type { OtaBus } from '@simtap/host/ota';
import { openPlatform, type Platform, platformConfigFromProfile } from '@simtap/host/platform';
import { createPlatformServer, type PlatformServer } from '@simtap/host/server';
import { PlatformClient } from '@simtap/sdk/clients';
import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import { type CardProfile, fleetCard, referenceProfile } from '@simtap/sdk/core/profile';

export const profile = referenceProfile();
export const APP = profile.platform.clients.find((c) => c.id === 'mart-1')!;
export const OPERATOR = profile.platform.clients.find((c) => c.role === 'operator')!;
/** What every fleet customer's phone account is opened with. */
export const OPENING = 100_000;

/** A running platform with its server. */
export interface OtaHarness {
  readonly platform: Platform;
  readonly server: PlatformServer;
  readonly url: string;
  /** Issues fleet card `n` blank (`issued`) to a new customer whose phone account holds {@link OPENING}. */
  issueBlank(n: number): Promise<CardProfile>;
  /** A phone holding `sim` (default: a blank SIM of `card`), claiming `card`'s identity unless told otherwise. */
  phone(card: CardProfile, o?: Partial<VirtualPhoneOptions> & { sim?: Card }): { phone: VirtualPhone; sim: Card };
  /** A connected application client (mart-1). */
  client(): Promise<PlatformClient>;
  /** A connected operator client (`/v1/console`). */
  console(): Promise<PlatformClient>;
  stop(): Promise<void>;
}

/** Starts a platform and its server on a free port. */
export async function startOta(
  o: {
    ledger?: LedgerStore;
    bus?: OtaBus;
    airTopUpWaitMs?: number;
    cardTimeoutMs?: number;
    acceptWaitMs?: number;
    /** The platform's `lostCardHoldMs` (default: the platform's, 7 days). */
    lostCardHoldMs?: number;
  } = {},
): Promise<OtaHarness> {
  const platform = await openPlatform({
    ledger: o.ledger ?? openSqliteLedger({ path: ':memory:' }),
    keys: SoftwareIssuerKeyStore.fromProfile(profile),
    config: {
      ...platformConfigFromProfile(profile),
      ...(o.lostCardHoldMs === undefined ? {} : { lostCardHoldMs: o.lostCardHoldMs }),
    },
  });
  const server = createPlatformServer({
    platform,
    clients: profile.platform.clients,
    port: 0,
    ...(o.bus ? { otaBus: o.bus } : {}),
    ota: {
      airTopUpWaitMs: o.airTopUpWaitMs ?? 10_000,
      cardTimeoutMs: o.cardTimeoutMs ?? 5_000,
      acceptWaitMs: o.acceptWaitMs ?? (o.bus ? 500 : 20),
    },
  });
  const { url } = await server.listen();
  const phones: VirtualPhone[] = [];
  const clients: PlatformClient[] = [];
  return {
    platform,
    server,
    url,
    async issueBlank(n) {
      const card = fleetCard(n, profile);
      await platform.customers.register({ msisdn: card.msisdn, openingBalance: OPENING });
      await platform.contactless.issue({
        cardSerial: toHex(card.applicationSerial),
        iccid: card.iccid,
        msisdn: card.msisdn,
        kdd: toHex(card.isd.kdd),
      });
      return card;
    },
    phone(card, options = {}) {
      const { sim: given, ...rest } = options;
      const sim =
        given ??
        createSim({ profile: { ...profile, cards: [...profile.cards, card] }, card: card.label, epurse: true });
      const phone = new VirtualPhone({
        card: sim,
        url,
        msisdn: card.msisdn,
        iccid: card.iccid,
        reconnect: { minMs: 10, maxMs: 100 },
        heartbeatMs: 0,
        ...rest,
      });
      phones.push(phone);
      return { phone, sim };
    },
    async client() {
      const c = new PlatformClient({ url, clientId: APP.id, secret: APP.secret, heartbeatMs: 0 });
      clients.push(c);
      await c.connect();
      return c;
    },
    async console() {
      const c = new PlatformClient({
        url,
        clientId: OPERATOR.id,
        secret: OPERATOR.secret,
        endpoint: 'console',
        heartbeatMs: 0,
      });
      clients.push(c);
      await c.connect();
      return c;
    },
    async stop() {
      await Promise.allSettled(phones.map((p) => p.close()));
      await Promise.allSettled(clients.map((c) => c.close()));
      await server.close();
      await platform.close();
    },
  };
}

/** The purse as the SIM holds it: EF 0x15's serial, the EP balance and online counter (contact interface). */
export function readPurse(sim: Card): { serial: string | undefined; balance: number; blocked: boolean } {
  const wasOn = sim.isPowered('contact');
  if (!wasOn) sim.powerOn('contact');
  try {
    const sel = sim.transmit('contact', fromHex('00A4040008A00000063201010500'));
    const sw = (sel[sel.length - 2]! << 8) | sel[sel.length - 1]!;
    const ef = sim.transmit('contact', fromHex('00B095001E'));
    const serial =
      ef.length === 32 && ef.subarray(10, 20).some((b) => b !== 0) ? toHex(ef.subarray(10, 20)) : undefined;
    const bal = sim.transmit('contact', fromHex('805C000204'));
    const balance = bal.length === 6 ? new DataView(bal.buffer, bal.byteOffset).getInt32(0) : Number.NaN;
    return { serial, balance, blocked: sw === 0x6283 };
  } finally {
    if (!wasOn) sim.powerOff('contact');
  }
}

/** Waits until `check` holds (polls every 10 ms), or fails after `ms`. */
export async function until(check: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
