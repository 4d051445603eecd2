/**
 * EMV CPS personalization through a security domain: the STORE DATA commands that carry an application's data
 * groupings (DGIs), with the secret DGIs (≥ 0x8000: keys, PIN) encrypted under the secure channel's DEK on top
 * of the channel's own protection (EMV CPS v1.1 §2.4.3 encrypted DGIs, §3.2.7 STORE DATA; GPC 2.3.1 §11.11; docs/spec.md §10).
 *
 * - **Public DGIs** travel in plaintext STORE DATA commands, several per command up to {@link CPS_MAX_BLOCK}
 *   bytes, P1 b7b6 = 00.
 * - **Secret DGIs** travel one per command with P1 b7b6 = 11 ("encrypted data"). Their value is padded with
 *   ISO 9797-1 method 2 only when its length is not a multiple of the cipher block (CPS; the application knows
 *   its values' lengths and removes the padding), then encrypted: SCP02 3DES-ECB under the session S-DEK,
 *   SCP03 AES-CBC (ICV zero) under the static DEK (SCP03 has no session DEK, as for PUT KEY).
 * - **Pre-encrypted DGIs** (`preEncrypted`: a key store exported the value already encrypted under the card's
 *   DEK, so its plaintext never exists here) travel as given, one per command with P1 b7b6 = 11.
 * - Block numbers (P2) count 00, 01, … and the last command has P1 b8 set.
 *
 * The card side ({@link decryptSecretDgi}) is what the issuer security domain runs before it hands a secret
 * DGI to the application.
 *
 * @module
 */
import { assertBytes, assertUint, concat, wipe } from '../bytes';
import { AesCipher, DesCipher, padIso9797 } from '../crypto';
import { ArgumentError } from '../errors';

/** STORE DATA P1 bits (GPC 2.3.1 table 11-89; DGI format is sent as b5b4 = 00, which EMV CPS uses — docs/spec.md §15 D22). */
export const STORE_DATA_P1 = {
  /** b8: last block of the sequence. */
  LAST_BLOCK: 0x80,
  /** b7b6 = 11: the command's data (every DGI in it) is encrypted under the DEK. */
  ENCRYPTED: 0x60,
  /** b5b4 = 00: DGI format (EMV CPS). */
  DGI: 0x00,
  /** b5b4 = 10: BER-TLV format. */
  BER_TLV: 0x10,
} as const;

/** First DGI number of the secret range (keys, PIN), always DEK-encrypted. */
export const SECRET_DGI_MIN = 0x8000;

/** Largest STORE DATA data field this module builds (short APDU with room for a C-MAC and padding). */
export const CPS_MAX_BLOCK = 0xdf;

/** One data grouping: `DGI(2) ‖ L ‖ value`. */
export interface DgiItem {
  /** Data grouping identifier, 0x0000..0xFFFF. */
  readonly dgi: number;
  /** Plaintext value, or with `preEncrypted` the value already encrypted under the DEK. */
  readonly data: Uint8Array;
  /**
   * `data` is already DEK-encrypted ({@link encryptSecretDgi} under the channel's DEK, e.g. an issuer key store's
   * export of a card's keys): {@link storeDataCommands} sends it as is, alone in a command with P1 b7b6 = 11, and
   * needs no `cipher` for it. Default false.
   */
  readonly preEncrypted?: boolean;
}

/** How the DEK encrypts a secret DGI value (padded value in, ciphertext out). */
export interface SecretDgiCipher {
  /** Cipher block size: 8 (SCP02, 3DES) or 16 (SCP03, AES). */
  readonly blockSize: 8 | 16;
  encrypt(padded: Uint8Array): Uint8Array;
  decrypt(encrypted: Uint8Array): Uint8Array;
}

/**
 * The SCP03 DEK cipher: AES-CBC, ICV zero, under the key set's static DEK (16, 24 or 32 bytes; copied).
 * @throws {ArgumentError} `BAD_ARGUMENT` on a DEK of another length.
 */
export function scp03DgiCipher(staticDek: Uint8Array): SecretDgiCipher & { destroy(): void } {
  assertBytes(staticDek, 'staticDek', 16, 24, 32);
  const aes = new AesCipher(staticDek);
  return {
    blockSize: 16,
    encrypt: (padded) => aes.cbcEncrypt(padded),
    decrypt: (encrypted) => aes.cbcDecrypt(encrypted),
    destroy: () => aes.destroy(),
  };
}

/**
 * The SCP02 DEK cipher: 3DES-ECB under a session S-DEK (16 bytes; copied).
 * @throws {ArgumentError} `BAD_ARGUMENT` on a key of another length.
 */
export function scp02DgiCipher(sessionDek: Uint8Array): SecretDgiCipher & { destroy(): void } {
  assertBytes(sessionDek, 'sessionDek', 16);
  const des = new DesCipher(sessionDek);
  return {
    blockSize: 8,
    encrypt: (padded) => des.ecbEncrypt(padded),
    decrypt: (encrypted) => des.ecbDecrypt(encrypted),
    destroy: () => des.destroy(),
  };
}

/** A secret value padded as CPS pads it: ISO 9797-1 method 2 only when not already whole blocks (a copy). */
export function padSecretDgi(value: Uint8Array, blockSize: 8 | 16): Uint8Array {
  return value.length > 0 && value.length % blockSize === 0 ? value.slice() : padIso9797(value, 2, blockSize);
}

/**
 * Encrypts a secret DGI value for STORE DATA.
 * @throws {ArgumentError} `BAD_ARGUMENT` on an empty value.
 */
export function encryptSecretDgi(cipher: SecretDgiCipher, value: Uint8Array): Uint8Array {
  assertBytes(value, 'value');
  if (value.length === 0) throw new ArgumentError('value: a secret DGI cannot be empty');
  const padded = padSecretDgi(value, cipher.blockSize);
  try {
    return cipher.encrypt(padded);
  } finally {
    wipe(padded);
  }
}

/**
 * Card side: decrypts a secret DGI value. The result may still end in the CPS padding, which only the
 * application can tell from its own value lengths.
 * @throws {ArgumentError} `BAD_ARGUMENT` when the value is empty or not whole cipher blocks.
 */
export function decryptSecretDgi(cipher: SecretDgiCipher, encrypted: Uint8Array): Uint8Array {
  assertBytes(encrypted, 'encrypted');
  if (encrypted.length === 0 || encrypted.length % cipher.blockSize !== 0)
    throw new ArgumentError(`encrypted: expected whole ${cipher.blockSize}-byte blocks, got ${encrypted.length} bytes`);
  return cipher.decrypt(encrypted);
}

/**
 * `DGI(2) ‖ L(1, or FF L1 L2 from 255 bytes on) ‖ value`.
 * @throws {ArgumentError} `BAD_ARGUMENT` on a DGI outside 0..FFFF or a value over 65535 bytes.
 */
export function encodeDgi(dgi: number, value: Uint8Array): Uint8Array {
  assertUint(dgi, 'dgi', 0xffff);
  assertBytes(value, 'value');
  const n = value.length;
  if (n > 0xffff) throw new ArgumentError(`DGI ${dgi.toString(16)}: value of ${n} bytes is too long`);
  const len = n < 0xff ? Uint8Array.of(n) : Uint8Array.of(0xff, n >> 8, n & 0xff);
  return concat(Uint8Array.of(dgi >> 8, dgi & 0xff), len, value);
}

/** Options of {@link storeDataCommands}. */
export interface StoreDataCommandOptions {
  /** The DEK cipher of the open secure channel; required when a DGI is secret and not `preEncrypted`. */
  readonly cipher?: SecretDgiCipher;
  /** Largest data field per command (default {@link CPS_MAX_BLOCK}). */
  readonly maxBlock?: number;
}

/**
 * The plaintext STORE DATA commands (`80 E2 P1 P2 Lc data`, before secure messaging) that personalize an
 * application with `items`, in order: public DGIs grouped up to `maxBlock` bytes, each secret DGI alone and
 * DEK-encrypted (P1 b7b6 = 11), each `preEncrypted` DGI alone as given (P1 b7b6 = 11), the last command flagged
 * (P1 b8). Wrap each with the secure channel.
 * @throws {ArgumentError} `BAD_ARGUMENT` on no items, a secret DGI without `cipher`, a `preEncrypted` value that is
 *   empty or not whole cipher blocks (of `cipher`, or of 8 bytes without one), a DGI that does not fit one command,
 *   or more than 256 commands.
 */
export function storeDataCommands(items: readonly DgiItem[], opts: StoreDataCommandOptions = {}): Uint8Array[] {
  if (items.length === 0) throw new ArgumentError('storeDataCommands: no DGIs');
  const max = opts.maxBlock ?? CPS_MAX_BLOCK;
  assertUint(max, 'maxBlock', 0xff);
  const blocks: Array<{ encrypted: boolean; parts: Uint8Array[]; size: number }> = [];
  for (const it of items) {
    const pre = it.preEncrypted === true;
    const secret = pre || it.dgi >= SECRET_DGI_MIN;
    let value = it.data;
    if (pre) {
      assertBytes(value, 'data');
      const block = opts.cipher?.blockSize ?? 8;
      if (value.length === 0 || value.length % block !== 0)
        throw new ArgumentError(
          `DGI ${it.dgi.toString(16).toUpperCase()}: a pre-encrypted value must be whole ${block}-byte blocks, got ${value.length} bytes`,
        );
    } else if (secret) {
      if (opts.cipher === undefined)
        throw new ArgumentError(
          `DGI ${it.dgi.toString(16).toUpperCase()} is secret: pass the secure channel's DEK cipher`,
        );
      value = encryptSecretDgi(opts.cipher, it.data);
    }
    const encoded = encodeDgi(it.dgi, value);
    if (secret && !pre) wipe(value);
    if (encoded.length > max)
      throw new ArgumentError(
        `DGI ${it.dgi.toString(16).toUpperCase()}: ${encoded.length} bytes do not fit one command`,
      );
    const last = blocks[blocks.length - 1];
    if (!secret && last !== undefined && !last.encrypted && last.size + encoded.length <= max) {
      last.parts.push(encoded);
      last.size += encoded.length;
    } else blocks.push({ encrypted: secret, parts: [encoded], size: encoded.length });
  }
  if (blocks.length > 256) throw new ArgumentError(`storeDataCommands: ${blocks.length} commands (at most 256)`);
  return blocks.map((b, i) => {
    const p1 = (i === blocks.length - 1 ? STORE_DATA_P1.LAST_BLOCK : 0) | (b.encrypted ? STORE_DATA_P1.ENCRYPTED : 0);
    const data = concat(...b.parts);
    return concat(Uint8Array.of(0x80, 0xe2, p1, i, data.length), data);
  });
}
