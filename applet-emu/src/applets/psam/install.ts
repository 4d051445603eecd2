/**
 * Building PSAM cards: install the applet, personalize it from a PSAM of the profile (terminal ID, initial
 * transaction sequence, master keys), or do both with {@link createPsam}.
 *
 * Keys: a PSAM gets the issuer master keys its profile entry `holds` (the reference PSAMs hold
 * `purchaseMasterKey`) **plus `tacMasterKey`**, so that a machine can recompute the TAC of a torn transaction
 * with `80 1A 44 …` / `80 FA …` — a project decision; pass `withTacKey: false` for a PSAM without it.
 *
 * @module
 */
import { concat, uintToBytes } from '@simtap/sdk/core/bytes';
import { ArgumentError } from '@simtap/sdk/core/errors';
import {
  type MasterKeyName,
  type PsamProfile,
  psamProfile,
  referenceProfile,
  type SimtapProfile,
} from '@simtap/sdk/core/profile';
import type { AppletFactory } from '../../runtime/applet';
import { Card, type CardOptions } from '../../runtime/card';
import type { StoreDataItem } from '../personalization';
import { PSAM_DGI, PSAM_KEY_USAGE, PSAM_TYPE, PsamApplet, type PsamOptions } from './psam';

/** Card-image factories of this module (pass to `Card.fromSnapshot({ factories })`). */
export const PSAM_FACTORIES: Readonly<Record<string, AppletFactory>> = Object.freeze({
  [PSAM_TYPE]: (env) => PsamApplet.restore(env),
});

/** The PSAM key usage under which each issuer master key is stored. */
export const MASTER_KEY_USAGE: Readonly<Record<MasterKeyName, number>> = Object.freeze({
  purchaseMasterKey: PSAM_KEY_USAGE.PURCHASE,
  loadMasterKey: PSAM_KEY_USAGE.LOAD,
  externalAuthMasterKey: PSAM_KEY_USAGE.EXTERNAL_AUTH,
  lineProtectMasterKey: PSAM_KEY_USAGE.LINE_PROTECT,
  pinUnblockMasterKey: PSAM_KEY_USAGE.PIN_UNBLOCK,
  tacMasterKey: PSAM_KEY_USAGE.TAC,
});

/** Options of {@link psamDgis} / {@link personalizePsam} / {@link createPsam}. */
export interface PsamPersonalization {
  /** Key version of the master keys (= the cards' key version); default 1. */
  readonly keyVersion?: number;
  /** Also load `tacMasterKey` (default true; see the module documentation). */
  readonly withTacKey?: boolean;
  /** Master keys to use instead of the profile issuer's. */
  readonly masterKeys?: Partial<Record<MasterKeyName, Uint8Array>>;
  /** Terminal ID instead of the profile's (6 bytes). */
  readonly terminalId?: Uint8Array;
  /** First terminal transaction sequence number instead of the profile's. */
  readonly initialTerminalTxnSeq?: number;
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
 * The personalization DGIs of a PSAM of the profile; the last item carries `last: true`.
 * @throws {ArgumentError} `BAD_ARGUMENT` on a bad override or a master key the profile does not have.
 */
export function psamDgis(
  psam: PsamProfile,
  options: PsamPersonalization = {},
  profile: SimtapProfile = referenceProfile(),
): StoreDataItem[] {
  const version = options.keyVersion ?? 1;
  const names = new Set<MasterKeyName>(psam.holds);
  if (options.withTacKey !== false) names.add('tacMasterKey');
  const keys: Uint8Array[] = [];
  for (const name of names) {
    const key = options.masterKeys?.[name] ?? profile.issuer.masterKeys[name];
    if (!(key instanceof Uint8Array) || key.length !== 16) throw new ArgumentError(`${name}: expected 16 bytes`);
    const entry = new Uint8Array(18);
    entry[0] = MASTER_KEY_USAGE[name];
    entry[1] = version;
    entry.set(key, 2);
    keys.push(entry);
  }
  const terminalId = options.terminalId ?? psam.terminalId;
  if (!(terminalId instanceof Uint8Array) || terminalId.length !== 6)
    throw new ArgumentError('terminalId: expected 6 bytes');
  const joined = concat(...keys);
  const items = [
    { dgi: PSAM_DGI.TERMINAL_ID, data: terminalId.slice() },
    { dgi: PSAM_DGI.TXN_SEQ, data: uintToBytes(options.initialTerminalTxnSeq ?? psam.initialTerminalTxnSeq, 4) },
    { dgi: PSAM_DGI.KEYS, data: joined },
  ];
  return items.map((it, i) => ({ ...it, encrypted: true, last: i === items.length - 1 }));
}

/**
 * Personalizes the installed PSAM of `card` from a PSAM of the profile (label or profile entry) in one
 * transaction.
 * @throws {ArgumentError} `BAD_ARGUMENT` when no PSAM is installed or the label is unknown.
 * @throws {IsoException} with the STORE DATA status word when a DGI is refused (6985 already personalized).
 */
export function personalizePsam(
  card: Card,
  psam: PsamProfile | string = 'pos-1',
  options: PsamPersonalization = {},
): PsamApplet {
  const p = typeof psam === 'string' ? psamProfile(psam) : psam;
  let applet: PsamApplet | undefined;
  for (const e of card.registry.list()) if (e.applet instanceof PsamApplet) applet = e.applet;
  if (applet === undefined) throw new ArgumentError('no PSAM applet is installed on this card');
  const a = applet;
  const env = { store: card.registry.storeOf(a.aid), card, atomically: <T>(fn: () => T): T => card.atomically(fn) };
  card.atomically(() => {
    for (const item of psamDgis(p, options)) a.applyStoreData(env, item);
  });
  return a;
}

/**
 * A new PSAM card for the profile's PSAM `label` (e.g. `pos-1`, `gate-1`): card, applet (AID and FID from the
 * profile), personalization. The card is powered off; power on the contact interface to use it.
 * @throws {ArgumentError} `BAD_ARGUMENT` on an unknown label or a bad override.
 */
export function createPsam(label = 'pos-1', options: PsamPersonalization & { readonly card?: CardOptions } = {}): Card {
  const p = psamProfile(label);
  const card = new Card(options.card);
  installPsam(card, { aid: p.aid, fid: (p.fid[0]! << 8) | p.fid[1]! });
  personalizePsam(card, p, options);
  return card;
}
