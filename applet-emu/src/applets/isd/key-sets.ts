/**
 * The ISD's static key sets in persistent memory and the PUT KEY command (GPC 2.3 §11.8).
 *
 * **Storage** (the ISD's store namespace): `ks` — JSON list of `{ kvn, scp, len }` in key-set order (the first
 * one answers INITIALIZE UPDATE with KVN 00); `k/<kvn>` — the key bytes ENC ‖ MAC ‖ DEK (3 × `len`);
 * `seq/<kvn>` — the key set's sequence counter (number). Key identifiers are 1 ENC, 2 MAC, 3 DEK.
 *
 * **PUT KEY** `80 D8 P1 P2 Lc KVN′ keyData… 00`: P1 = 00 adds a key set, P1 = KVN replaces that key set (keys
 * and version, GPC §11.8.2.2); P1 b8 (more commands) is not supported. P2 b7..b1 = first key identifier, b8 =
 * several keys. A key data field is `type(1) ‖ L(1) ‖ value ‖ kcvLength(1) ‖ KCV`; for AES (type 88) the value is
 * `keyLength(1) ‖ encrypted key`, for DES (type 80) the 16-byte encrypted key. A new key set must carry all three
 * keys; a replaced key set keeps the keys not sent. The sequence counter of an added or replaced key set starts
 * at 0.
 *
 * @module
 */
import { equalCt, wipe } from '@simtap/sdk/core/bytes';
import { kcvAes, kcvDes } from '@simtap/sdk/core/crypto';
import type { StaticKeys } from '@simtap/sdk/core/gp';
import { IsoException, SW } from '@simtap/sdk/core/iso7816';
import type { ApduContext } from '../../runtime/applet';
import type { KeyInfo } from './card-data';

/** An applet's persistent store (the runtime's type, whatever its name). */
export type Store = ApduContext['store'];

/** GP key type byte: AES. */
export const KEY_TYPE_AES = 0x88;
/** GP key type byte: DES (2-key 3DES). */
export const KEY_TYPE_DES = 0x80;
/** At most this many key sets (PUT KEY of one more: 6A84). */
export const MAX_KEY_SETS = 8;

/** A key set's entry in the `ks` list. */
export type KeySetInfo = {
  readonly kvn: number;
  /** Secure channel protocol the keys serve: 2 (3DES) or 3 (AES). */
  readonly scp: 2 | 3;
  /** Length of each of the three keys in bytes. */
  readonly len: number;
};

/** Largest sequence counter of a protocol (SCP02 2 bytes, SCP03 3 bytes). */
export function maxSequenceCounter(scp: 2 | 3): number {
  return scp === 2 ? 0xffff : 0xffffff;
}

/** The key sets, in order (frozen). */
export function readKeySets(store: Store): readonly KeySetInfo[] {
  return store.getJson<KeySetInfo[]>('ks') ?? [];
}

/** The key set with `kvn`, if any. */
export function findKeySet(store: Store, kvn: number): KeySetInfo | undefined {
  for (const ks of readKeySets(store)) if (ks.kvn === kvn) return ks;
  return undefined;
}

/** The static keys of `ks` (fresh copies: wipe them after use). */
export function readKeys(store: Store, ks: KeySetInfo): StaticKeys {
  const all = store.getBytes(`k/${ks.kvn}`);
  if (all === undefined || all.length !== 3 * ks.len) throw new Error(`ISD key set ${ks.kvn} is missing`);
  const n = ks.len;
  return { enc: all.slice(0, n), mac: all.slice(n, 2 * n), dek: all.slice(2 * n, 3 * n) };
}

/** The sequence counter of `kvn` (0 when never used). */
export function readCounter(store: Store, kvn: number): number {
  return store.getNumber(`seq/${kvn}`) ?? 0;
}

/** Writes (adds or overwrites) one key set's keys and counter. Call inside `atomically`. */
export function writeKeySet(store: Store, info: KeySetInfo, keys: StaticKeys, counter: number): void {
  const n = info.len;
  const all = new Uint8Array(3 * n);
  all.set(keys.enc, 0);
  all.set(keys.mac, n);
  all.set(keys.dek, 2 * n);
  store.put(`k/${info.kvn}`, all);
  wipe(all);
  store.put(`seq/${info.kvn}`, counter);
}

/** Replaces the `ks` list. Call inside `atomically`. */
export function writeKeySetList(store: Store, list: readonly KeySetInfo[]): void {
  store.put(
    'ks',
    list.map((k) => ({ kvn: k.kvn, scp: k.scp, len: k.len })),
  );
}

/** The key information template entries of every key set (KIDs 1–3 each). */
export function keyInfos(store: Store): KeyInfo[] {
  const out: KeyInfo[] = [];
  for (const ks of readKeySets(store))
    for (let kid = 1; kid <= 3; kid++)
      out.push({ kid, kvn: ks.kvn, type: ks.scp === 3 ? KEY_TYPE_AES : KEY_TYPE_DES, length: ks.len });
  return out;
}

// ---------------------------------------------------------------- PUT KEY

/** One key data field of PUT KEY, still encrypted. */
export interface PutKeyField {
  readonly type: number;
  /** Clear key length. */
  readonly keyLength: number;
  /** The encrypted key (view). */
  readonly encrypted: Uint8Array;
  /** The KCV sent (empty when the host sent none). */
  readonly kcv: Uint8Array;
}

/** A parsed PUT KEY command. */
export interface PutKeyCommand {
  /** Key set to replace, or 0 to add one. */
  readonly replaceKvn: number;
  /** First key identifier (1..3). */
  readonly firstKid: number;
  /** Version number of the new/replaced key set. */
  readonly newKvn: number;
  readonly fields: readonly PutKeyField[];
}

/**
 * Parses PUT KEY P1, P2 and data.
 * @throws {IsoException} 6A86 (P1 b8 set, P2 KID 0 or > 3), 6A80 (malformed data, unknown key type, bad lengths,
 *   KID range beyond 3, a single-key P2 with several keys, mixed key types, KVN′ 00 or ≥ 80).
 */
export function parsePutKey(p1: number, p2: number, data: Uint8Array): PutKeyCommand {
  if ((p1 & 0x80) !== 0) IsoException.throwIt(SW.INCORRECT_P1P2);
  const firstKid = p2 & 0x7f;
  const multiple = (p2 & 0x80) !== 0;
  if (firstKid < 1 || firstKid > 3) IsoException.throwIt(SW.INCORRECT_P1P2);
  if (data.length < 1) IsoException.throwIt(SW.WRONG_DATA);
  const newKvn = data[0]!;
  if (newKvn === 0 || newKvn >= 0x80) IsoException.throwIt(SW.WRONG_DATA);
  const fields: PutKeyField[] = [];
  let pos = 1;
  while (pos < data.length) {
    if (pos + 2 > data.length) IsoException.throwIt(SW.WRONG_DATA);
    const type = data[pos]!;
    const len = data[pos + 1]!;
    pos += 2;
    if (pos + len + 1 > data.length) IsoException.throwIt(SW.WRONG_DATA);
    let keyLength: number;
    let encrypted: Uint8Array;
    if (type === KEY_TYPE_AES) {
      if (len < 1) IsoException.throwIt(SW.WRONG_DATA);
      keyLength = data[pos]!;
      encrypted = data.subarray(pos + 1, pos + len);
      if (![16, 24, 32].includes(keyLength)) IsoException.throwIt(SW.WRONG_DATA);
    } else if (type === KEY_TYPE_DES) {
      keyLength = 16;
      encrypted = data.subarray(pos, pos + len);
    } else return IsoException.throwIt(SW.WRONG_DATA);
    if (encrypted.length < keyLength || encrypted.length % (type === KEY_TYPE_AES ? 16 : 8) !== 0)
      IsoException.throwIt(SW.WRONG_DATA);
    pos += len;
    const kcvLength = data[pos]!;
    pos += 1;
    if ((kcvLength !== 0 && kcvLength !== 3) || pos + kcvLength > data.length) IsoException.throwIt(SW.WRONG_DATA);
    fields.push({ type, keyLength, encrypted, kcv: data.subarray(pos, pos + kcvLength) });
    pos += kcvLength;
  }
  if (fields.length === 0 || (!multiple && fields.length !== 1)) IsoException.throwIt(SW.WRONG_DATA);
  if (firstKid + fields.length - 1 > 3) IsoException.throwIt(SW.WRONG_DATA);
  const type = fields[0]!.type;
  const keyLength = fields[0]!.keyLength;
  for (const f of fields) if (f.type !== type || f.keyLength !== keyLength) IsoException.throwIt(SW.WRONG_DATA);
  return { replaceKvn: p1, firstKid, newKvn, fields };
}

/**
 * Decrypts and checks every key of a PUT KEY (`decrypt(encrypted, keyLength)` is the session's key
 * decryption); returns the clear keys and their KCVs.
 * @throws {IsoException} 6A80 when a KCV sent does not match the decrypted key or the decryption fails.
 */
export function decryptPutKeyFields(
  cmd: PutKeyCommand,
  decrypt: (encrypted: Uint8Array, keyLength: number) => Uint8Array,
): { keys: Uint8Array[]; kcvs: Uint8Array[] } {
  const keys: Uint8Array[] = [];
  const kcvs: Uint8Array[] = [];
  try {
    for (const f of cmd.fields) {
      let key: Uint8Array;
      try {
        key = decrypt(f.encrypted, f.keyLength);
      } catch {
        return IsoException.throwIt(SW.WRONG_DATA);
      }
      keys.push(key);
      const kcv = f.type === KEY_TYPE_AES ? kcvAes(key) : kcvDes(key);
      if (f.kcv.length > 0 && !equalCt(kcv, f.kcv)) IsoException.throwIt(SW.WRONG_DATA);
      kcvs.push(kcv);
    }
  } catch (err) {
    wipe(...keys);
    throw err;
  }
  return { keys, kcvs };
}

/** What {@link applyPutKey} needs of the card. */
export interface PutKeyTarget {
  readonly store: Store;
  atomically<T>(fn: () => T): T;
}

/**
 * Executes a parsed PUT KEY in one transaction: decrypts and checks the keys, adds or replaces the key set
 * (counter reset to 0) and returns the response `KVN′ ‖ KCV(3)…`.
 * @throws {IsoException} 6A88 (key set to replace not found), 6A80 (new key set incomplete, KVN′ already used
 *   by another key set, key type or length not that of the key set, KCV mismatch), 6A84 (key set table full).
 */
export function applyPutKey(
  target: PutKeyTarget,
  cmd: PutKeyCommand,
  decrypt: (encrypted: Uint8Array, keyLength: number) => Uint8Array,
): Uint8Array {
  const store = target.store;
  const list = readKeySets(store);
  const first = cmd.fields[0]!;
  const scp: 2 | 3 = first.type === KEY_TYPE_AES ? 3 : 2;
  const len = first.keyLength;
  const complete = cmd.firstKid === 1 && cmd.fields.length === 3;
  let base: KeySetInfo | undefined;
  if (cmd.replaceKvn === 0) {
    if (!complete) IsoException.throwIt(SW.WRONG_DATA);
    if (list.some((k) => k.kvn === cmd.newKvn)) IsoException.throwIt(SW.WRONG_DATA);
    if (list.length >= MAX_KEY_SETS) IsoException.throwIt(SW.NOT_ENOUGH_MEMORY);
  } else {
    base = list.find((k) => k.kvn === cmd.replaceKvn);
    if (base === undefined) return IsoException.throwIt(SW.REFERENCED_DATA_NOT_FOUND);
    if (base.scp !== scp || (base.len !== len && !complete)) IsoException.throwIt(SW.WRONG_DATA);
    if (cmd.newKvn !== base.kvn && list.some((k) => k.kvn === cmd.newKvn)) IsoException.throwIt(SW.WRONG_DATA);
  }
  const { keys, kcvs } = decryptPutKeyFields(cmd, decrypt);
  const old = base !== undefined ? readKeys(store, base) : undefined;
  try {
    const slots: (Uint8Array | undefined)[] = [old?.enc, old?.mac, old?.dek];
    for (let j = 0; j < keys.length; j++) slots[cmd.firstKid - 1 + j] = keys[j];
    const info: KeySetInfo = { kvn: cmd.newKvn, scp, len };
    const next = base === undefined ? [...list, info] : list.map((k) => (k === base ? info : k));
    const replaced = base;
    target.atomically(() => {
      if (replaced !== undefined && replaced.kvn !== info.kvn) {
        store.delete(`k/${replaced.kvn}`);
        store.delete(`seq/${replaced.kvn}`);
      }
      writeKeySet(store, info, { enc: slots[0]!, mac: slots[1]!, dek: slots[2]! }, 0);
      writeKeySetList(store, next);
    });
    const out = new Uint8Array(1 + 3 * kcvs.length);
    out[0] = cmd.newKvn;
    for (let j = 0; j < kcvs.length; j++) out.set(kcvs[j]!, 1 + 3 * j);
    return out;
  } finally {
    wipe(...keys);
    if (old !== undefined) wipe(old.enc, old.mac, old.dek);
  }
}
