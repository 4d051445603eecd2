/**
 * Key check values (GlobalPlatform, EMV key ceremonies): the first 3 bytes of a fixed block encrypted under the
 * key. The cipher used here is built for the call and wiped after it, as in every function form of this module.
 *
 * @module
 */

import { ArgumentError } from '../errors';
import { AesCipher } from './aes';
import { DesCipher } from './des';

const ZERO8 = new Uint8Array(8);
const ONES16 = new Uint8Array(16).fill(0x01);

/**
 * DES / 3DES KCV: first 3 bytes of DES-ECB(key, 00×8) (3DES for 16/24-byte keys; the SCP02 rule).
 * @throws {ArgumentError} `BAD_ARGUMENT` unless the key is 8, 16 or 24 bytes.
 */
export function kcvDes(key: Uint8Array): Uint8Array {
  const c = new DesCipher(key);
  try {
    return c.ecbEncrypt(ZERO8).slice(0, 3);
  } finally {
    c.destroy();
  }
}

/**
 * AES KCV: first 3 bytes of AES-ECB(key, 01×16) (the GP SCP03 rule).
 * @throws {ArgumentError} `BAD_ARGUMENT` unless the key is 16, 24 or 32 bytes.
 */
export function kcvAes(key: Uint8Array): Uint8Array {
  const c = new AesCipher(key);
  try {
    return c.ecbEncrypt(ONES16).slice(0, 3);
  } finally {
    c.destroy();
  }
}

/**
 * The KCV of `key` by the DES or AES rule.
 * @throws {ArgumentError} `BAD_ARGUMENT` on an unknown key type or a key length the type does not allow.
 */
export function kcv(key: Uint8Array, type: 'des' | 'aes'): Uint8Array {
  if (type === 'des') return kcvDes(key);
  if (type === 'aes') return kcvAes(key);
  throw new ArgumentError(`kcv: unknown key type ${String(type)}`);
}
