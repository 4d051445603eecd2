/**
 * GlobalPlatform static-key diversification: a card's ENC/MAC/DEK keys derived from an issuer master key
 * and the card's 10-byte key diversification data (KDD, the first 10 bytes of the INITIALIZE UPDATE
 * response). Three schemes as GlobalPlatform tools name them: EMV CPS and VISA2 (3DES, for SCP02) and
 * KDF3 (AES-CMAC SP 800-108, for SCP03).
 *
 * @module
 */
import { assertBytes } from '../bytes';
import { AesCmac, DesCipher } from '../crypto';
import { ArgumentError } from '../errors';

/** The three static keys of a GlobalPlatform key set. */
export type StaticKeys = { enc: Uint8Array; mac: Uint8Array; dek: Uint8Array };

/** Diversification schemes understood by {@link diversifyStaticKeys}. */
export type GpDiversificationMethod = 'emv' | 'visa2' | 'kdf3';

/** Key type byte `t` placed in the diversification input: ENC 01, MAC 02, DEK 03. */
export const GP_KEY_TYPE = { ENC: 0x01, MAC: 0x02, DEK: 0x03 } as const;

const TYPES = [GP_KEY_TYPE.ENC, GP_KEY_TYPE.MAC, GP_KEY_TYPE.DEK] as const;

function toStaticKeys(keys: Uint8Array[]): StaticKeys {
  return { enc: keys[0]!, mac: keys[1]!, dek: keys[2]! };
}

/** 3DES-ECB of the 16-byte input `prefix6 ‖ F0 ‖ t ‖ prefix6 ‖ 0F ‖ t` for t = 1, 2, 3. */
function desDiversify(master: Uint8Array, prefix: Uint8Array): StaticKeys {
  const cipher = new DesCipher(master);
  const input = new Uint8Array(16);
  input.set(prefix, 0);
  input[6] = 0xf0;
  input.set(prefix, 8);
  input[14] = 0x0f;
  try {
    return toStaticKeys(
      TYPES.map((t) => {
        input[7] = t;
        input[15] = t;
        return cipher.ecbEncrypt(input);
      }),
    );
  } finally {
    cipher.destroy();
  }
}

/**
 * EMV CPS diversification: key_t = 3DES-ECB(master, KDD[4:10] ‖ F0 ‖ t ‖ KDD[4:10] ‖ 0F ‖ t).
 * @throws {ArgumentError} `BAD_ARGUMENT` unless `master` is 16 bytes and `kdd` 10 bytes.
 */
export function diversifyEmvCps(master: Uint8Array, kdd: Uint8Array): StaticKeys {
  assertBytes(master, 'master', 16);
  assertBytes(kdd, 'kdd', 10);
  return desDiversify(master, kdd.subarray(4, 10));
}

/**
 * VISA2 diversification: key_t = 3DES-ECB(master, KDD[0:2] ‖ KDD[4:8] ‖ F0 ‖ t ‖ KDD[0:2] ‖ KDD[4:8] ‖ 0F ‖ t).
 * @throws {ArgumentError} `BAD_ARGUMENT` unless `master` is 16 bytes and `kdd` 10 bytes.
 */
export function diversifyVisa2(master: Uint8Array, kdd: Uint8Array): StaticKeys {
  assertBytes(master, 'master', 16);
  assertBytes(kdd, 'kdd', 10);
  const prefix = new Uint8Array(6);
  prefix.set(kdd.subarray(0, 2), 0);
  prefix.set(kdd.subarray(4, 8), 2);
  return desDiversify(master, prefix);
}

/**
 * KDF3 diversification (GlobalPlatformPro template): SP 800-108 counter-mode KDF with AES-CMAC keyed by
 * the master, PRF input `i(1) ‖ 00 00 00 ‖ t ‖ 00 ‖ KDD`, output as long as the master key.
 * @throws {ArgumentError} `BAD_ARGUMENT` unless `master` is 16, 24 or 32 bytes and `kdd` 10 bytes.
 */
export function diversifyKdf3(master: Uint8Array, kdd: Uint8Array): StaticKeys {
  assertBytes(master, 'master', 16, 24, 32);
  assertBytes(kdd, 'kdd', 10);
  const prf = new AesCmac(master);
  const input = new Uint8Array(16);
  input.set(kdd, 6);
  const block = new Uint8Array(16);
  try {
    return toStaticKeys(
      TYPES.map((t) => {
        input[4] = t;
        const key = new Uint8Array(master.length);
        for (let i = 1, off = 0; off < key.length; i++, off += 16) {
          input[0] = i;
          prf.macInto(input, block);
          key.set(block.subarray(0, Math.min(16, key.length - off)), off);
        }
        return key;
      }),
    );
  } finally {
    block.fill(0);
    prf.destroy();
  }
}

/**
 * Diversifies a master key with `method`; see {@link diversifyEmvCps}, {@link diversifyVisa2}, {@link diversifyKdf3}.
 * @throws {ArgumentError} `BAD_ARGUMENT` on an unknown method or a bad key/KDD length.
 * @example diversifyStaticKeys('kdf3', master, initUpdateResponse.subarray(0, 10)).enc
 */
export function diversifyStaticKeys(method: GpDiversificationMethod, master: Uint8Array, kdd: Uint8Array): StaticKeys {
  switch (method) {
    case 'emv':
      return diversifyEmvCps(master, kdd);
    case 'visa2':
      return diversifyVisa2(master, kdd);
    case 'kdf3':
      return diversifyKdf3(master, kdd);
    default:
      throw new ArgumentError(`diversifyStaticKeys: unknown method ${JSON.stringify(method as unknown)}`);
  }
}
