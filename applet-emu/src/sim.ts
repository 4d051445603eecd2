/**
 * The virtual SIM as issued: {@link createSim} builds a {@link Card} for one card of the reference profile
 * (`sdk/profile/reference-profile.json`) with the issuer security domain installed, and {@link restoreSim} /
 * {@link loadSim} bring one back from a card image.
 *
 * **ISD as created.** AID `A000000151000000`, registry life cycle PERSONALIZED (0F), privileges `9E 00 00`
 * (security domain, card lock, card terminate, card reset, CVM management), default-selected on both
 * interfaces; card life cycle SECURED. Key sets: SCP03 KVN 30 (`i` 70, AES-128) first — so INITIALIZE UPDATE
 * with KVN 00 uses it — then SCP02 KVN 20 (`i` 55, 3DES). Keys: the KDF3 diversification of the profile's ISD
 * master key with the card's KDD (the same three 16-byte values serve both key sets), or with `defaultKeys` the
 * static keys 40..4F. KDD: the card's `isd.kdd`. CPLC from the ICCID and application serial, IIN = the first
 * three ICCID bytes (`89 86 00`), CIN = the ICCID.
 *
 * **UICC.** Every SIM carries the UICC files and the USIM application (`applets/usim`): EF.DIR, EF.ICCID, EF.PL,
 * EF.ARR, DF.TELECOM, DF.GSM and ADF.USIM with the card's IMSI and MSISDN, on the contact interface only.
 *
 * **E-purse.** With `epurse` the PBOC e-purse (AID and FID from the profile, listed in the PSE and PPSE) is
 * installed after the ISD, blank: the issuer personalizes it through the ISD (INSTALL [for personalization],
 * STORE DATA of `epurseDgis(...)`). With `personalized` it is also personalized at once from the card of the
 * profile — EF 0x15, keys, PIN, parameters, balance = the card's `initialBalance` (overridable) — the way the
 * issuer does it: real APDUs on the contact interface to the ISD, SCP03 SL 33 with the card's first key set,
 * INSTALL [for personalization], STORE DATA with the key and PIN DGIs encrypted under the DEK (EMV CPS; see
 * `personalizeThroughIsd`). The card is powered off again afterwards.
 *
 * **Extending.** `applets` runs extra installers after the ISD and the e-purse; their applet factories go in
 * `factories` (and in {@link SIM_FACTORIES} for built-in ones) so images can be restored.
 *
 * @module
 */
import { fromHex } from '@simtap/sdk/core/bytes';
import type { RandomSource } from '@simtap/sdk/core/crypto';
import { ArgumentError } from '@simtap/sdk/core/errors';
import { diversifyKdf3, type StaticKeys } from '@simtap/sdk/core/gp';
import { type CardProfile, cardProfile, referenceProfile, type SimtapProfile } from '@simtap/sdk/core/profile';
import {
  EPURSE_FACTORIES,
  type EpurseApplet,
  type EpursePersonalization,
  epurseDgis,
  type InstallEpurseOptions,
  installEpurse,
} from './applets/epurse';
import {
  buildCplc,
  type IsdChallengeHook,
  type IsdHooks,
  type IsdKeySetConfig,
  type IsdQuirks,
  type IsdStoreDataHook,
  IssuerSecurityDomain,
  isdFactory,
} from './applets/isd';
import { personalizeThroughIsd } from './applets/isd/sync-host';
import { PSAM_FACTORIES } from './applets/psam';
import { installUicc, USIM_FACTORIES } from './applets/usim';
import { type AppletFactory, LIFECYCLE, PRIVILEGE } from './runtime/applet';
import { Card, type CardLogger, type CardOptions, type CardSnapshot } from './runtime/card';
import { loadImage } from './runtime/image-file';

/** Privileges of the ISD as created: security domain, card lock, card terminate, card reset, CVM management. */
export const ISD_PRIVILEGES = Object.freeze([
  PRIVILEGE.SECURITY_DOMAIN |
    PRIVILEGE.CARD_LOCK |
    PRIVILEGE.CARD_TERMINATE |
    PRIVILEGE.CARD_RESET |
    PRIVILEGE.CVM_MANAGEMENT,
  0x00,
  0x00,
] as const);

/** Overrides of the ISD {@link createSim} installs (vector replays, other key sets). */
export interface SimIsdOverrides {
  /** ISD AID (default: the profile's `A000000151000000`). */
  readonly aid?: Uint8Array;
  /** Key sets instead of the profile's SCP03 KVN 30 + SCP02 KVN 20. */
  readonly keySets?: readonly IsdKeySetConfig[];
  /** Key diversification data (default: the card's KDD). */
  readonly kdd?: Uint8Array;
  /** SCP02 `i` (default: the profile's, 55). */
  readonly scp02I?: number;
  /** SCP03 `i` (default: the profile's, 70). */
  readonly scp03I?: number;
  readonly cplc?: Uint8Array;
  readonly iin?: Uint8Array;
  readonly cin?: Uint8Array;
  readonly quirks?: IsdQuirks;
}

/** What an extra installer gets besides the card. */
export interface SimInstallContext {
  readonly profile: SimtapProfile;
  readonly cardProfile: CardProfile;
  readonly options: SimOptions;
  /** The ISD as installed: its AID and the key set the issuer personalizes with (the first one). */
  readonly isd: { readonly aid: Uint8Array; readonly keySet: IsdKeySetConfig };
}

/** Installs one more applet on a card being created (runs after the ISD). */
export type SimInstaller = (card: Card, context: SimInstallContext) => void;

/** Runtime options shared by created and restored SIMs (not part of a card image). */
export interface SimRuntimeOptions {
  /** Profile (default: the reference profile). */
  readonly profile?: SimtapProfile;
  /** The card's random source (card challenges, …); inject a seeded one for reproducible runs. */
  readonly random?: RandomSource;
  /** Test hook: deterministic ISD card challenges. */
  readonly isdChallenge?: IsdChallengeHook;
  /** Extension hook: STORE DATA to the ISD itself that the ISD does not handle. */
  readonly isdStoreData?: IsdStoreDataHook;
  /** T=0 behaviour on the contact interface (61xx / 6Cxx). */
  readonly t0?: boolean;
  readonly logger?: CardLogger;
  /** Extra applet factories by type (for images holding applets other than the built-in ones). */
  readonly factories?: Readonly<Record<string, AppletFactory>>;
}

/** Options of {@link createSim}. */
export interface SimOptions extends SimRuntimeOptions {
  /** Card of the profile: `card-1` (default), `card-2`, `card-3`. */
  readonly card?: string;
  /** Static ISD keys 40..4F instead of the diversified ones. */
  readonly defaultKeys?: boolean;
  /** Initial card life cycle (default SECURED, 0F). */
  readonly cardLifecycle?: number;
  readonly isd?: SimIsdOverrides;
  /**
   * Install the e-purse after the ISD, not personalized (`true`: AID and FID of the profile; or installer
   * options). Implied by `personalized`.
   */
  readonly epurse?: boolean | InstallEpurseOptions;
  /**
   * Install the e-purse and personalize it from this card of the profile (`true`), or with DGI overrides
   * (e.g. `{ balance: 5000 }`).
   */
  readonly personalized?: boolean | EpursePersonalization;
  /** Extra installers, run in order after the ISD and the e-purse. */
  readonly applets?: readonly SimInstaller[];
}

/** The ISD's static keys on a card {@link createSim} makes: SCP03 (KVN 30) and SCP02 (KVN 20) key sets. */
export interface SimIsdKeys {
  readonly scp03: StaticKeys;
  readonly scp02: StaticKeys;
}

/**
 * The ISD keys of `card` as {@link createSim} installs them (what a host needs to authenticate).
 * @throws {ArgumentError} `BAD_ARGUMENT` on an unknown card label.
 * @example Scp03Host.open(transmit, { keys: simIsdKeys({ card: 'card-2' }).scp03, securityLevel: 0x33 })
 */
export function simIsdKeys(opts: { card?: string; defaultKeys?: boolean; profile?: SimtapProfile } = {}): SimIsdKeys {
  const profile = opts.profile ?? referenceProfile();
  const isd = profile.card.isd;
  if (opts.defaultKeys === true) {
    const s3 = isd.scp03.staticKeysForDefaultCard;
    const s2 = isd.scp02.staticKeys;
    return {
      scp03: { enc: s3.enc.slice(), mac: s3.mac.slice(), dek: s3.dek.slice() },
      scp02: { enc: s2.enc.slice(), mac: s2.mac.slice(), dek: s2.dek.slice() },
    };
  }
  const c = cardProfile(opts.card ?? 'card-1', profile);
  const k = diversifyKdf3(isd.scp03.diversified.masterKey, c.isd.kdd);
  return { scp03: k, scp02: { enc: k.enc.slice(), mac: k.mac.slice(), dek: k.dek.slice() } };
}

/**
 * Applet factories of every built-in applet type, for restoring images (`loadImage(path, { factories })`).
 * Hooks are not part of an image: use {@link simFactories} to restore with hooks.
 */
export function simFactories(hooks: IsdHooks = {}): Record<string, AppletFactory> {
  return {
    ...EPURSE_FACTORIES,
    ...PSAM_FACTORIES,
    ...USIM_FACTORIES,
    // After PSAM_FACTORIES, whose ISD factory has no hooks.
    [IssuerSecurityDomain.TYPE]: isdFactory(hooks),
  };
}

/** {@link simFactories} without hooks. */
export const SIM_FACTORIES: Readonly<Record<string, AppletFactory>> = Object.freeze(simFactories());

/** The {@link CardOptions} of a SIM: the profile's ATR, random source, T=0, logger and factories. */
export function simCardOptions(opts: SimRuntimeOptions = {}): CardOptions {
  const profile = opts.profile ?? referenceProfile();
  return {
    atr: profile.card.atr,
    t0: opts.t0,
    logger: opts.logger,
    random: opts.random,
    factories: {
      ...simFactories({ challenge: opts.isdChallenge, storeData: opts.isdStoreData }),
      ...(opts.factories ?? {}),
    },
  };
}

/**
 * Installs the e-purse on a SIM being created (`opts.epurse` / `opts.personalized`, see the module
 * documentation) and personalizes it when asked. Returns the applet, or undefined when neither option is set.
 * @throws {ArgumentError} `BAD_ARGUMENT` on a personalization override out of range.
 * @throws {IsoException} with the STORE DATA status word when the profile's data is refused (6A80).
 */
export function installSimEpurse(card: Card, context: SimInstallContext): EpurseApplet | undefined {
  const { profile, cardProfile: cp, options } = context;
  const perso = options.personalized;
  const wanted = options.epurse;
  if ((perso === undefined || perso === false) && (wanted === undefined || wanted === false)) return undefined;
  const ep = profile.card.epurse;
  const installOptions: InstallEpurseOptions = {
    aid: ep.aid,
    fid: (ep.fid[0]! << 8) | ep.fid[1]!,
    ...(typeof wanted === 'object' ? wanted : {}),
  };
  const applet = installEpurse(card, installOptions);
  if (perso === undefined || perso === false) return applet;
  const items = epurseDgis(cp, perso === true ? {} : perso, profile);
  const ks = context.isd.keySet;
  const wasOn = card.isPowered('contact');
  if (!wasOn) card.powerOn('contact');
  try {
    personalizeThroughIsd(card, {
      iface: 'contact',
      isdAid: context.isd.aid,
      keySet: { scp: ks.scp, kvn: ks.kvn, keys: ks.keys, ...(ks.scp === 2 ? { i: profile.card.isd.scp02.i } : {}) },
      target: applet.aid,
      items,
      ...(options.random === undefined ? {} : { random: options.random }),
    });
  } finally {
    if (!wasOn) card.powerOff('contact');
  }
  return applet;
}

/**
 * Builds the SIM of one profile card: a {@link Card} (powered off) with the ISD installed as described in the
 * module documentation, then the e-purse (`epurse` / `personalized`), then the `applets` installers.
 * @throws {ArgumentError} `BAD_ARGUMENT` on an unknown card label, invalid ISD overrides or an e-purse
 *   personalization override out of range.
 * @throws {RegistryError} `LIFECYCLE_INVALID` on a `cardLifecycle` that is not a byte.
 * @example
 * const card = createSim({ card: 'card-1', personalized: { balance: 5000 } });
 * card.powerOn('contactless');
 * card.transmit('contactless', hex`00 A4 04 00 08 A000000632010105 00`); // FCI 90 00
 * card.transmit('contactless', hex`80 5C 00 02 04`); // 00 00 13 88 90 00
 */
export function createSim(opts: SimOptions = {}): Card {
  const profile = opts.profile ?? referenceProfile();
  const cp = cardProfile(opts.card ?? 'card-1', profile);
  const isdProfile = profile.card.isd;
  const o = opts.isd ?? {};
  const keys = simIsdKeys({ card: cp.label, defaultKeys: opts.defaultKeys, profile });
  const keySets: readonly IsdKeySetConfig[] = o.keySets ?? [
    { kvn: isdProfile.scp03.kvn, scp: 3, keys: keys.scp03 },
    { kvn: isdProfile.scp02.kvn, scp: 2, keys: keys.scp02 },
  ];
  const iccid = fromHex(cp.iccid.length % 2 === 0 ? cp.iccid : `${cp.iccid}F`);
  const card = new Card(simCardOptions(opts));
  const isd = new IssuerSecurityDomain(
    o.aid ?? isdProfile.aid,
    {
      keySets,
      kdd: o.kdd ?? cp.isd.kdd,
      cplc: o.cplc ?? buildCplc(cp.iccid, cp.applicationSerial),
      scp02I: o.scp02I ?? isdProfile.scp02.i,
      scp03I: o.scp03I ?? isdProfile.scp03.i,
      iin: o.iin ?? iccid.slice(0, 3),
      cin: o.cin ?? iccid,
      quirks: o.quirks,
    },
    { challenge: opts.isdChallenge, storeData: opts.isdStoreData },
  );
  card.registry.install(isd, {
    lifecycle: LIFECYCLE.PERSONALIZED,
    privileges: Uint8Array.from(ISD_PRIVILEGES),
    default: true,
  });
  // The UICC's files and the USIM (TS 102 221, TS 31.102): what a phone and a SIM tool read first.
  installUicc(card, profile, cp);
  const isdKeySet = keySets[0];
  if (isdKeySet === undefined) throw new ArgumentError('isd.keySets: at least one key set');
  const context: SimInstallContext = {
    profile,
    cardProfile: cp,
    options: opts,
    isd: { aid: isd.aid, keySet: isdKeySet },
  };
  installSimEpurse(card, context);
  for (const install of opts.applets ?? []) install(card, context);
  // Last: a locked or terminated card no longer accepts the issuer's personalization.
  if (opts.cardLifecycle !== undefined) card.registry.setCardLifecycle(opts.cardLifecycle);
  return card;
}

/**
 * Rebuilds a SIM from a snapshot (`card.snapshot()` or a decoded image) with the given runtime options.
 * @throws {CardImageError} `IMAGE_CORRUPT`, `IMAGE_APPLET_UNKNOWN`.
 */
export function restoreSim(snapshot: CardSnapshot, opts: SimRuntimeOptions = {}): Card {
  return Card.fromSnapshot(snapshot, simCardOptions(opts));
}

/**
 * Loads a SIM from the card image at `path`.
 * @throws {CardImageError} `IMAGE_NOT_FOUND`, `IMAGE_IO`, `IMAGE_TRUNCATED`, `IMAGE_CORRUPT`, `IMAGE_VERSION`,
 *   `IMAGE_APPLET_UNKNOWN`.
 */
export async function loadSim(path: string, opts: SimRuntimeOptions = {}): Promise<Card> {
  return loadImage(path, simCardOptions(opts));
}
