/**
 * The cards of the example: five SIMs of the reference profile's fleet (`fleet-4401` … `fleet-4405`: numbers no other
 * example uses, so reporting one lost leaves the others' cards alone), issued active on the platform with phone
 * accounts at 0 and purses at 0 — purse = float holds without a load. Plus two cards that are not what they claim: a
 * clone of Alice's card (her serial, a DEAK of its own) and a SIM without an e-purse.
 *
 * @module
 */
import type { Card } from '@simtap/applet-emu/runtime';
import { createSim } from '@simtap/applet-emu/sim';
import type { Platform } from '@simtap/host/platform';
import { toHex } from '@simtap/sdk/core/bytes';
import { randomBytes } from '@simtap/sdk/core/crypto';
import { EPURSE_KEY_TYPE, type EpurseKeyName } from '@simtap/sdk/core/pboc';
import { type CardProfile, fleetCard, referenceProfile, type SimtapProfile } from '@simtap/sdk/core/profile';

/** The card holders and their fleet numbers. */
export const HOLDERS = {
  alice: 4401,
  bob: 4402,
  guard: 4403,
  admin: 4404,
  visitor: 4405,
} as const;
/** A card holder. */
export type Holder = keyof typeof HOLDERS;

/** The card profile of a holder's card. */
export function holderCard(holder: Holder): CardProfile {
  return fleetCard(HOLDERS[holder]);
}

/** A holder's card serial, 20 uppercase hex digits. */
export function serialOf(holder: Holder): string {
  return toHex(holderCard(holder).applicationSerial).toUpperCase();
}

/** The reference profile with the holders' cards. */
export function accessProfile(): SimtapProfile {
  const profile = referenceProfile();
  return { ...profile, cards: [...profile.cards, ...Object.keys(HOLDERS).map((h) => holderCard(h as Holder))] };
}

/**
 * Registers the holders as customers (phone account 0) and issues their cards active, on the platform itself (the
 * application system has no console). Idempotent: issuing again answers the same.
 */
export async function issueAccessCards(platform: Platform): Promise<void> {
  for (const holder of Object.keys(HOLDERS) as Holder[]) {
    const c = holderCard(holder);
    await platform.customers.register({ msisdn: c.msisdn, openingBalance: 0 });
    await platform.contactless.issue({
      cardSerial: toHex(c.applicationSerial),
      iccid: c.iccid,
      msisdn: c.msisdn,
      kdd: toHex(c.isd.kdd),
      status: 'active',
    });
  }
}

/** The emulated SIMs: the holders', a clone of Alice's, and one without an e-purse. */
export interface AccessSims {
  readonly holders: Readonly<Record<Holder, Card>>;
  /** Alice's serial, personalized with a DEAK that is not the issuer's. */
  readonly clone: Card;
  /** A SIM with no e-purse (a card of another scheme). */
  readonly foreign: Card;
}

/** Personalizes the SIMs (purses at 0). */
export function createAccessSims(): AccessSims {
  const profile = accessProfile();
  const holders = Object.fromEntries(
    (Object.keys(HOLDERS) as Holder[]).map((h) => [
      h,
      createSim({ profile, card: holderCard(h).label, personalized: { balance: 0 } }),
    ]),
  ) as Record<Holder, Card>;
  const alice = holderCard('alice');
  const forgedKeys = (Object.keys(EPURSE_KEY_TYPE) as EpurseKeyName[]).map((type) => ({
    type,
    index: alice.keyIndex,
    version: alice.keyVersion,
    algorithm: alice.algorithmId,
    key: type === 'DEAK' ? randomBytes(16) : alice.keys[type].key,
  }));
  const clone = createSim({ profile, card: alice.label, personalized: { balance: 0, keys: forgedKeys } });
  const foreign = createSim({ profile, card: 'card-1' });
  return { holders, clone, foreign };
}
