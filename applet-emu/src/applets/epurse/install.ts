/**
 * Installing and personalizing the e-purse on a {@link Card}: the applet with its PSE/PPSE directory entries,
 * the DGI list for a card of the reference profile, and a direct personalization path for tests and tools that
 * do not go through the issuer security domain (the same `applyStoreData` code the ISD's STORE DATA reaches).
 *
 * @module
 */
import { ArgumentError } from '@simtap/sdk/core/errors';
import { encodeEf15 } from '@simtap/sdk/core/pboc';
import {
  CARD_KEY_NAMES,
  type CardProfile,
  cardEf15,
  cardProfile,
  referenceProfile,
  type SimtapProfile,
} from '@simtap/sdk/core/profile';
import type { AppletFactory, CardInterface } from '../../runtime/applet';
import type { Card } from '../../runtime/card';
import { DirectoryDdf } from '../../runtime/directory';
import type { StoreDataItem } from '../personalization';
import { EPURSE_DGI, EPURSE_TYPE } from './constants';
import {
  encodeKeys,
  encodeParameters,
  encodePin,
  encodePurseState,
  encodeRecordFile,
  type PurseParameters,
  type RecordFileSpec,
} from './dgi';
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

/** Overrides of {@link epurseDgis} (everything else comes from the profile). */
export interface EpursePersonalization {
  /** Purse parameters; default the profile's (`card.epurse`) with all interface rules on. */
  readonly parameters?: Partial<PurseParameters>;
  /** EP balance; default the card's `initialBalance`. */
  readonly balance?: number;
  /** EP online / offline counters; default 0. */
  readonly onlineCounter?: number;
  readonly offlineCounter?: number;
  /** EF 0x16 cardholder data; default 55 zero bytes (not sent). */
  readonly cardholder?: Uint8Array;
  /** Value of the FCI `A5` template (DGI 0103). */
  readonly fciProprietary?: Uint8Array;
  /** GET DATA `80 CA 00 00` value (DGI 0104). */
  readonly getData?: Uint8Array;
  /** Record files (DGI 03ss). */
  readonly recordFiles?: readonly RecordFileSpec[];
  /** Key entries replacing the profile's (DGI 8001). */
  readonly keys?: Parameters<typeof encodeKeys>[0];
}

/**
 * The personalization DGIs of a card of the profile: EF 0x15, parameters, EP state, keys (index, version and
 * algorithm from the card profile), PIN, plus the overrides. The last item carries `last: true`.
 * @throws {ArgumentError} `BAD_ARGUMENT` on an override out of range.
 */
export function epurseDgis(
  card: CardProfile,
  overrides: EpursePersonalization = {},
  profile: SimtapProfile = referenceProfile(),
): StoreDataItem[] {
  const ep = profile.card.epurse;
  const params: PurseParameters = {
    maxBalance: ep.maxBalance,
    overdraftLimit: ep.overdraftLimit,
    logRecords: ep.transactionLogRecords,
    macFailureLimit: ep.macFailureLimit,
    pinTryLimit: ep.pinTryLimit,
    rules: 0x0f,
    ...overrides.parameters,
  };
  const keys =
    overrides.keys ??
    CARD_KEY_NAMES.map((type) => ({
      type,
      index: card.keyIndex,
      version: card.keyVersion,
      algorithm: card.algorithmId,
      key: card.keys[type].key,
    }));
  const items: Array<{ dgi: number; data: Uint8Array }> = [
    { dgi: EPURSE_DGI.EF15, data: encodeEf15(cardEf15(card, profile)) },
    { dgi: EPURSE_DGI.PARAMETERS, data: encodeParameters(params) },
    {
      dgi: EPURSE_DGI.EP_STATE,
      data: encodePurseState({
        balance: overrides.balance ?? card.initialBalance,
        online: overrides.onlineCounter ?? 0,
        offline: overrides.offlineCounter ?? 0,
      }),
    },
  ];
  if (overrides.cardholder !== undefined) items.push({ dgi: EPURSE_DGI.EF16, data: overrides.cardholder });
  if (overrides.fciProprietary !== undefined)
    items.push({ dgi: EPURSE_DGI.FCI_PROPRIETARY, data: overrides.fciProprietary });
  if (overrides.getData !== undefined) items.push({ dgi: EPURSE_DGI.GET_DATA, data: overrides.getData });
  for (const f of overrides.recordFiles ?? [])
    items.push({ dgi: EPURSE_DGI.RECORD_FILE | f.sfi, data: encodeRecordFile(f) });
  items.push({ dgi: EPURSE_DGI.KEYS, data: encodeKeys(keys) });
  items.push({ dgi: EPURSE_DGI.PIN, data: encodePin(card.pin) });
  return items.map((it, i) => ({ ...it, encrypted: true, last: i === items.length - 1 }));
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
