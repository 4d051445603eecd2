/**
 * Installing and personalizing the e-purse on a {@link Card}: the applet with its PSE/PPSE directory entries,
 * the DGI list for a card of the reference profile, and a direct personalization path for tests and tools that
 * do not go through the issuer security domain (the same `applyStoreData` code the ISD's STORE DATA reaches).
 *
 * @module
 */
import { ArgumentError } from '@simtap/sdk/core/errors';
import { type EpursePersonalizationOverrides, epursePersonalizationItems } from '@simtap/sdk/core/pboc';
import { type CardProfile, cardProfile, referenceProfile, type SimtapProfile } from '@simtap/sdk/core/profile';
import type { AppletFactory, CardInterface } from '../../runtime/applet';
import type { Card } from '../../runtime/card';
import { DirectoryDdf } from '../../runtime/directory';
import type { StoreDataItem } from '../personalization';
import { EPURSE_TYPE } from './constants';
import { EpurseApplet, type EpurseOptions } from './epurse';

/** Card-image factories of this module (pass to `Card.fromSnapshot({ factories })`). */
export const EPURSE_FACTORIES: Readonly<Record<string, AppletFactory>> = Object.freeze({
  [EPURSE_TYPE]: (env) => EpurseApplet.restore(env),
});

/** Options of {@link installEpurse}. */
export interface InstallEpurseOptions extends EpurseOptions {
  /** Install (if missing) the PSE and PPSE directories and list the purse in them; default true. */
  readonly directories?: boolean;
  /** Application label in the directory records (tag 50); default `"SIMTAP EPURSE"`. */
  readonly label?: string;
  /** Make the purse the default-selected application (both interfaces, or the listed ones); default none. */
  readonly default?: boolean | readonly CardInterface[];
}

const ASCII = new TextEncoder();

/**
 * Installs the e-purse applet (ADF, files, initial state) and lists it in the PSE `1PAY.SYS.DDF01` and PPSE
 * `2PAY.SYS.DDF01`, installing those directories when the card has none. Returns the applet.
 * @throws {RegistryError} `AID_EXISTS` when the purse AID is already installed.
 * @throws {FileSystemError} `FILE_EXISTS` when the ADF FID is taken.
 */
export function installEpurse(card: Card, options: InstallEpurseOptions = {}): EpurseApplet {
  const applet = new EpurseApplet(options);
  card.atomically(() => {
    if (options.directories !== false)
      for (const name of [DirectoryDdf.PSE, DirectoryDdf.PPSE]) {
        const existing = card.registry.get(ASCII.encode(name))?.applet;
        const ddf = existing instanceof DirectoryDdf ? existing : new DirectoryDdf(name);
        if (existing === undefined) card.registry.install(ddf);
        if (existing === undefined || existing instanceof DirectoryDdf)
          ddf.addEntry(card, { aid: applet.aid, label: options.label ?? 'SIMTAP EPURSE', priority: 1 });
      }
    card.registry.install(applet, options.default === undefined ? {} : { default: options.default });
  });
  return applet;
}

/**
 * Overrides of {@link epurseDgis} (everything else comes from the profile): the core's
 * `EpursePersonalizationOverrides`.
 */
export type EpursePersonalization = EpursePersonalizationOverrides;

/**
 * The personalization DGIs of a card of the profile: EF 0x15, parameters, EP state, keys (index, version and
 * algorithm from the card profile), PIN, plus the overrides — the core's `epursePersonalizationItems` as the ISD
 * hands them to the applet. The last item carries `last: true`.
 * @throws {ArgumentError} `BAD_ARGUMENT` on an override out of range.
 */
export function epurseDgis(
  card: CardProfile,
  overrides: EpursePersonalization = {},
  profile: SimtapProfile = referenceProfile(),
): StoreDataItem[] {
  const items = epursePersonalizationItems(card, overrides, profile);
  return items.map(({ dgi, data }, i) => ({ dgi, data, encrypted: true, last: i === items.length - 1 }));
}

/**
 * Personalizes the installed e-purse of `card` directly (no ISD, no secure channel) with {@link epurseDgis}
 * of `profileCard` (a card label or profile; default `card-1`), all in one transaction.
 * @throws {ArgumentError} `BAD_ARGUMENT` when no e-purse with `aid` is installed or the label is unknown.
 * @throws {IsoException} with the STORE DATA status word when a DGI is refused (e.g. 6985 already personalized).
 */
export function personalizeEpurse(
  card: Card,
  profileCard: CardProfile | string = 'card-1',
  overrides: EpursePersonalization = {},
  aid?: Uint8Array,
): EpurseApplet {
  const cp = typeof profileCard === 'string' ? cardProfile(profileCard) : profileCard;
  const applet = findEpurse(card, aid);
  const store = card.registry.storeOf(applet.aid);
  const env = { store, card, atomically: <T>(fn: () => T): T => card.atomically(fn) };
  const items = epurseDgis(cp, overrides);
  card.atomically(() => {
    for (const item of items) applet.applyStoreData(env, item);
  });
  return applet;
}

/**
 * The installed e-purse applet of `card` (by `aid`, default the first e-purse installed).
 * @throws {ArgumentError} `BAD_ARGUMENT` when there is none.
 */
export function findEpurse(card: Card, aid?: Uint8Array): EpurseApplet {
  const entries = aid === undefined ? card.registry.list() : [card.registry.get(aid)].filter((e) => e !== undefined);
  for (const e of entries) if (e.applet instanceof EpurseApplet) return e.applet;
  throw new ArgumentError('no e-purse applet is installed on this card');
}
