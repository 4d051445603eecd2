/**
 * Building PSAM cards as the issuer does: a PSAM card carries its own issuer security domain, and the PSAM applet
 * is personalized through it (SCP03, INSTALL [for personalization], STORE DATA with the key DGI encrypted under the
 * DEK, EMV CPS) from a PSAM of the profile: terminal ID, initial transaction sequence, master keys.
 *
 * Keys: a PSAM gets the issuer master keys its profile entry `holds` — for the reference PSAMs only
 * `purchaseMasterKey` — and optionally general-purpose encryption/MAC master keys. It never gets the TAC key or any
 * other purse key: the applet refuses them (see `PSAM_KEY_USAGE`), and so does {@link psamDgis}.
 *
 * The PSAM card's ISD: AID `A000000151000000`, one SCP03 key set (KVN 30, `i` 70) with the KDF3 diversification
 * of the profile's ISD master key with KDD = `0000 ‖ terminal ID ‖ 0000` ({@link psamIsdKeys}; a project
 * decision [K]), not default-selected (the PSAM is).
 *
 * @module
 */
import { concat, toHex, uintToBytes } from '@simtap/sdk/core/bytes';
import { ArgumentError } from '@simtap/sdk/core/errors';
import { type DgiItem, diversifyKdf3, type StaticKeys } from '@simtap/sdk/core/gp';
import {
  type MasterKeyName,
  type PsamProfile,
  psamProfile,
  referenceProfile,
  type SimtapProfile,
} from '@simtap/sdk/core/profile';
import type { AppletFactory } from '../../runtime/applet';
import { LIFECYCLE } from '../../runtime/applet';
import { Card, type CardOptions } from '../../runtime/card';
import { buildCplc, IssuerSecurityDomain, isdFactory } from '../isd';
import { personalizeThroughIsd } from '../isd/sync-host';
import { DIRECT_KEY_SLOT, PSAM_DGI, PSAM_KEY_USAGE, PSAM_TYPE, PsamApplet, type PsamOptions } from './psam';

/** Card-image factories of a PSAM card (pass to `Card.fromSnapshot({ factories })`): its ISD and the PSAM. */
export const PSAM_FACTORIES: Readonly<Record<string, AppletFactory>> = Object.freeze({
  [IssuerSecurityDomain.TYPE]: isdFactory(),
  [PSAM_TYPE]: (env) => PsamApplet.restore(env),
});

/** The PSAM key usage of each issuer master key a PSAM may hold: the purchase master key only. */
export const MASTER_KEY_USAGE: Readonly<Partial<Record<MasterKeyName, number>>> = Object.freeze({
  purchaseMasterKey: PSAM_KEY_USAGE.PURCHASE,
});

/** Options of {@link psamDgis} / {@link personalizePsam} / {@link createPsam}. */
export interface PsamPersonalization {
  /** Key version of the master keys (= the cards' key version), 1..255; default 1. */
  readonly keyVersion?: number;
  /** The purchase master key to use instead of the profile issuer's. */
  readonly masterKeys?: { readonly purchaseMasterKey?: Uint8Array };
  /** General-purpose master keys for `80 1A` / `80 FA` (usage 21 encryption, 22 MAC), 16 bytes each. */
  readonly generalKeys?: { readonly encryption?: Uint8Array; readonly mac?: Uint8Array };
  /** Terminal ID instead of the profile's (6 bytes). */
  readonly terminalId?: Uint8Array;
  /** First terminal transaction sequence number instead of the profile's. */
  readonly initialTerminalTxnSeq?: number;
}

/** A card key a test helper puts straight into a PSAM for one card (see {@link createPsam}'s `directPurchaseKeys`). */
export interface DirectPurchaseKey {
  /** The card's diversification data (8 bytes: the rightmost 8 of its application serial). */
  readonly diversificationData: Uint8Array;
  /** Key version the card announces in INITIALIZE FOR PURCHASE. */
  readonly keyVersion: number;
  /** The card's 16-byte purchase key DPK. */
  readonly key: Uint8Array;
}

/**
 * Installs the PSAM applet, default-selected on both interfaces (a PSAM card has no other application).
 * @throws {RegistryError} `AID_EXISTS` when it is already installed.
 */
export function installPsam(card: Card, options: PsamOptions = {}): PsamApplet {
  const applet = new PsamApplet(options);
  card.registry.install(applet, { default: true });
  return applet;
}

/**
 * The personalization DGIs of a PSAM of the profile, in order: 0101 terminal ID, 0102 sequence, 8001 keys (secret;
 * plaintext here — the personalization encrypts it under the DEK).
 * @throws {ArgumentError} `BAD_ARGUMENT` on a bad override, or when the profile entry `holds` a key a PSAM must
 *   not hold (anything but `purchaseMasterKey`).
 */
export function psamDgis(
  psam: PsamProfile,
  options: PsamPersonalization = {},
  profile: SimtapProfile = referenceProfile(),
): DgiItem[] {
  const version = options.keyVersion ?? 1;
  if (!Number.isInteger(version) || version < 1 || version > 0xff)
    throw new ArgumentError('keyVersion: expected 1..255');
  const entries: Array<[number, Uint8Array | undefined, string]> = [];
  for (const name of psam.holds) {
    const usage = MASTER_KEY_USAGE[name];
    if (usage === undefined) throw new ArgumentError(`${psam.label}: a PSAM never holds ${name}`);
    const key = name === 'purchaseMasterKey' ? options.masterKeys?.purchaseMasterKey : undefined;
    entries.push([usage, key ?? profile.issuer.masterKeys[name], name]);
  }
  if (options.generalKeys?.encryption !== undefined)
    entries.push([PSAM_KEY_USAGE.ENCRYPTION, options.generalKeys.encryption, 'generalKeys.encryption']);
  if (options.generalKeys?.mac !== undefined)
    entries.push([PSAM_KEY_USAGE.MAC, options.generalKeys.mac, 'generalKeys.mac']);
  const keys: Uint8Array[] = [];
  for (const [usage, key, name] of entries) {
    if (!(key instanceof Uint8Array) || key.length !== 16) throw new ArgumentError(`${name}: expected 16 bytes`);
    keys.push(concat(Uint8Array.of(usage, version), key));
  }
  if (keys.length === 0) throw new ArgumentError(`${psam.label}: no keys to load`);
  const terminalId = options.terminalId ?? psam.terminalId;
  if (!(terminalId instanceof Uint8Array) || terminalId.length !== 6)
    throw new ArgumentError('terminalId: expected 6 bytes');
  return [
    { dgi: PSAM_DGI.TERMINAL_ID, data: terminalId.slice() },
    { dgi: PSAM_DGI.TXN_SEQ, data: uintToBytes(options.initialTerminalTxnSeq ?? psam.initialTerminalTxnSeq, 4) },
    { dgi: PSAM_DGI.KEYS, data: concat(...keys) },
  ];
}

/** KDD of a PSAM card's ISD: `0000 ‖ terminal ID(6) ‖ 0000`. */
export function psamIsdKdd(terminalId: Uint8Array): Uint8Array {
  if (!(terminalId instanceof Uint8Array) || terminalId.length !== 6)
    throw new ArgumentError('terminalId: expected 6 bytes');
  return concat(new Uint8Array(2), terminalId, new Uint8Array(2));
}

/**
 * The static SCP03 keys of the ISD of the PSAM card of `psam` (label or profile entry): KDF3 of the profile's ISD
 * master key with {@link psamIsdKdd}.
 * @throws {ArgumentError} `BAD_ARGUMENT` on an unknown label.
 */
export function psamIsdKeys(
  psam: PsamProfile | string = 'pos-1',
  profile: SimtapProfile = referenceProfile(),
): StaticKeys {
  const p = typeof psam === 'string' ? psamProfile(psam, profile) : psam;
  return diversifyKdf3(profile.card.isd.scp03.diversified.masterKey, psamIsdKdd(p.terminalId));
}

/**
 * Installs the ISD of a PSAM card (module documentation), life cycle PERSONALIZED, not default-selected.
 * @throws {RegistryError} `AID_EXISTS` when one is installed.
 */
export function installPsamIsd(
  card: Card,
  psam: PsamProfile | string = 'pos-1',
  profile: SimtapProfile = referenceProfile(),
): IssuerSecurityDomain {
  const p = typeof psam === 'string' ? psamProfile(psam, profile) : psam;
  const isdProfile = profile.card.isd;
  const kdd = psamIsdKdd(p.terminalId);
  const isd = new IssuerSecurityDomain(isdProfile.aid, {
    keySets: [{ kvn: isdProfile.scp03.kvn, scp: 3, keys: psamIsdKeys(p, profile) }],
    kdd,
    cplc: buildCplc(`89860044${toHex(p.terminalId)}`, p.terminalId),
    scp03I: isdProfile.scp03.i,
  });
  card.registry.install(isd, { lifecycle: LIFECYCLE.PERSONALIZED });
  return isd;
}

/**
 * Personalizes the installed PSAM of `card` from a PSAM of the profile (label or profile entry) through the card's
 * ISD, as the issuer does: SCP03 SL 33, INSTALL [for personalization], STORE DATA of {@link psamDgis} with DGI 8001
 * encrypted under the DEK. Powers the contact interface on for it when it is off (and off again).
 * @throws {ArgumentError} `BAD_ARGUMENT` when no PSAM or no ISD is installed or the label is unknown.
 * @throws {PersonalizationError} with the status word when a command is refused (6985 already personalized).
 */
export function personalizePsam(
  card: Card,
  psam: PsamProfile | string = 'pos-1',
  options: PsamPersonalization = {},
): PsamApplet {
  const p = typeof psam === 'string' ? psamProfile(psam) : psam;
  let applet: PsamApplet | undefined;
  let isd: IssuerSecurityDomain | undefined;
  for (const e of card.registry.list()) {
    if (e.applet instanceof PsamApplet) applet = e.applet;
    if (e.applet instanceof IssuerSecurityDomain) isd = e.applet;
  }
  if (applet === undefined) throw new ArgumentError('no PSAM applet is installed on this card');
  if (isd === undefined)
    throw new ArgumentError('no issuer security domain is installed on this card (installPsamIsd)');
  const profile = referenceProfile();
  const wasOn = card.isPowered('contact');
  if (!wasOn) card.powerOn('contact');
  try {
    personalizeThroughIsd(card, {
      iface: 'contact',
      isdAid: isd.aid,
      keySet: { scp: 3, kvn: profile.card.isd.scp03.kvn, keys: psamIsdKeys(p, profile) },
      target: applet.aid,
      items: psamDgis(p, options, profile),
    });
  } finally {
    if (!wasOn) card.powerOff('contact');
  }
  return applet;
}

/**
 * **Test helper only**: puts a card's purchase key DPK straight into a personalized PSAM, for exactly that card
 * (diversification data) and key version — how the published worked examples, which give a card key but no
 * master, are replayed. No APDU and no DGI can do this: an issuer never loads card keys into a terminal.
 * @throws {ArgumentError} `BAD_ARGUMENT` on a bad entry or no PSAM on the card.
 */
export function installDirectPurchaseKey(card: Card, entry: DirectPurchaseKey): void {
  const { diversificationData: div, keyVersion, key } = entry;
  if (!(div instanceof Uint8Array) || div.length !== 8)
    throw new ArgumentError('diversificationData: expected 8 bytes');
  if (!Number.isInteger(keyVersion) || keyVersion < 0 || keyVersion > 0xff)
    throw new ArgumentError('keyVersion: expected 0..255');
  if (!(key instanceof Uint8Array) || key.length !== 16) throw new ArgumentError('key: expected 16 bytes');
  const e = card.registry.list().find((x) => x.applet instanceof PsamApplet);
  if (e === undefined) throw new ArgumentError('no PSAM applet is installed on this card');
  const store = card.registry.storeOf(e.aid);
  card.atomically(() => store.put(`${DIRECT_KEY_SLOT}/${keyVersion}/${toHex(div)}`, key));
}

/** Options of {@link createPsam}. */
export interface CreatePsamOptions extends PsamPersonalization {
  readonly card?: CardOptions;
  /** **Test helper only**: card keys to load directly (see {@link installDirectPurchaseKey}). */
  readonly directPurchaseKeys?: readonly DirectPurchaseKey[];
}

/**
 * A new PSAM card for the profile's PSAM `label` (e.g. `pos-1`, `gate-1`): card, its ISD, the PSAM applet (AID and
 * FID from the profile, default-selected), personalization through the ISD. The card is powered off; power on the
 * contact interface to use it.
 * @throws {ArgumentError} `BAD_ARGUMENT` on an unknown label or a bad override.
 */
export function createPsam(label = 'pos-1', options: CreatePsamOptions = {}): Card {
  const p = psamProfile(label);
  const card = new Card({ ...options.card, factories: { ...PSAM_FACTORIES, ...options.card?.factories } });
  installPsamIsd(card, p);
  installPsam(card, { aid: p.aid, fid: (p.fid[0]! << 8) | p.fid[1]! });
  personalizePsam(card, p, options);
  for (const k of options.directPurchaseKeys ?? []) installDirectPurchaseKey(card, k);
  return card;
}
