import { describe, expect, it } from 'vitest';
import { hex, toHex } from '../bytes';
import { CORE_ERRORS, hasErrorCode } from '../errors';
import {
  decryptSecretDgi,
  encodeDgi,
  encryptSecretDgi,
  padSecretDgi,
  STORE_DATA_P1,
  scp02DgiCipher,
  scp03DgiCipher,
  storeDataCommands,
} from './cps';

const DEK = hex`404142434445464748494A4B4C4D4E4F`;
/** One DGI 8001 entry: DLK, index 1, version 1, algorithm 0, key. */
const KEYS = hex`01 01 01 00 00112233445566778899AABBCCDDEEFF`;
const PIN = hex`123456`;

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('storeDataCommands', () => {
  it('groups public DGIs, sends each secret DGI alone and DEK-encrypted, flags the last block', () => {
    const cipher = scp03DgiCipher(DEK);
    const cmds = storeDataCommands(
      [
        { dgi: 0x0101, data: hex`AA` },
        { dgi: 0x0201, data: hex`BBCC` },
        { dgi: 0x8001, data: KEYS },
        { dgi: 0x8010, data: PIN },
      ],
      { cipher },
    );
    expect(cmds.map((c) => toHex(c.subarray(0, 4)))).toEqual(['80E20000', '80E26001', '80E2E002']);
    expect(toHex(cmds[0]!.subarray(5))).toBe('010101AA020102BBCC');
    const encKeys = cmds[1]!.subarray(5 + 3);
    expect(toHex(decryptSecretDgi(cipher, encKeys))).toBe(toHex(KEYS) + toHex(padSecretDgi(KEYS, 16).subarray(20)));
    cipher.destroy();
  });

  it('sends a preEncrypted DGI as is, alone, P1 b7b6 = 11, without a cipher: the same bytes as encrypting here', () => {
    const cipher = scp03DgiCipher(DEK);
    const encKeys = encryptSecretDgi(cipher, KEYS);
    const encPin = encryptSecretDgi(cipher, PIN);
    const copy = encKeys.slice();
    const items = [
      { dgi: 0x0101, data: hex`AA` },
      { dgi: 0x8001, data: encKeys, preEncrypted: true },
      { dgi: 0x8010, data: encPin, preEncrypted: true },
    ];
    const pre = storeDataCommands(items);
    const here = storeDataCommands(
      [
        { dgi: 0x0101, data: hex`AA` },
        { dgi: 0x8001, data: KEYS },
        { dgi: 0x8010, data: PIN },
      ],
      { cipher },
    );
    expect(pre.map((b) => toHex(b))).toEqual(here.map((b) => toHex(b)));
    expect(pre[1]![2]! & STORE_DATA_P1.ENCRYPTED).toBe(STORE_DATA_P1.ENCRYPTED);
    expect(toHex(pre[1]!.subarray(5))).toBe(toHex(encodeDgi(0x8001, encKeys)));
    expect(toHex(encKeys)).toBe(toHex(copy)); // the caller's value is not wiped
    // With a cipher too (the other secrets of the same sequence encrypted here): still sent as is.
    expect(storeDataCommands(items, { cipher }).map((b) => toHex(b))).toEqual(here.map((b) => toHex(b)));
    // A public DGI may be pre-encrypted as well: alone, flagged encrypted.
    const pub = storeDataCommands([{ dgi: 0x0202, data: encPin, preEncrypted: true }]);
    expect(toHex(pub[0]!.subarray(0, 4))).toBe('80E2E000');
    cipher.destroy();
  });

  it('refuses a preEncrypted value that is empty or not whole cipher blocks, a secret DGI without cipher (BAD_ARGUMENT)', () => {
    const aes = scp03DgiCipher(DEK);
    const des = scp02DgiCipher(DEK);
    for (const f of [
      () => storeDataCommands([{ dgi: 0x8001, data: new Uint8Array(0), preEncrypted: true }]),
      () => storeDataCommands([{ dgi: 0x8001, data: new Uint8Array(12), preEncrypted: true }]),
      () => storeDataCommands([{ dgi: 0x8001, data: new Uint8Array(24), preEncrypted: true }], { cipher: aes }),
      () => storeDataCommands([{ dgi: 0x8001, data: 'AA' as unknown as Uint8Array, preEncrypted: true }]),
      () => storeDataCommands([{ dgi: 0x8010, data: PIN }]),
    ])
      expect(hasErrorCode(thrown(f), CORE_ERRORS, 'BAD_ARGUMENT')).toBe(true);
    expect(
      storeDataCommands([{ dgi: 0x8001, data: new Uint8Array(24), preEncrypted: true }], { cipher: des }),
    ).toHaveLength(1);
    aes.destroy();
    des.destroy();
  });
});
