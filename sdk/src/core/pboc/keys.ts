/**
 * PBOC / JR/T 0025 e-purse keys: issuer master key → card key diversification, and the per-transaction
 * session (process) keys SESLK and SESPK. All 3DES here is two-key EDE in ECB mode on one 8-byte block.
 *
 * @module
 */
import { assertBytes, assertUint } from '../bytes';
import { DesCipher } from '../crypto';
import { ArgumentError } from '../errors';

/** A 16-byte 3DES key as bytes, or an already keyed {@link DesCipher} (no key schedule per call). */
export type PbocKeyInput = Uint8Array | DesCipher;

function cipherOf(key: PbocKeyInput, name: string): DesCipher {
  if (key instanceof DesCipher) {
    if (key.keyLength !== 16) throw new ArgumentError(`${name}: expected a 2-key 3DES cipher, got ${key.variant}`);
    return key;
  }
  assertBytes(key, name, 16);
  return new DesCipher(key);
}

/**
 * An issuer master key ready to diversify many card keys (the key schedule is computed once).
 * @example new PbocKeyDiversifier(loadMasterKey).diversify(cardDiversificationData) // the card's DLK
 */
export class PbocKeyDiversifier {
  readonly #cipher: DesCipher;
  readonly #notData = new Uint8Array(8);
  readonly #owned: boolean;

  /** @throws {ArgumentError} `BAD_ARGUMENT` unless `master` is 16 bytes (or a 2-key 3DES `DesCipher`). */
  constructor(master: PbocKeyInput) {
    this.#cipher = cipherOf(master, 'master');
    this.#owned = !(master instanceof DesCipher);
  }

  /**
   * Card key = 3DES-ECB(MK, D) ‖ 3DES-ECB(MK, NOT D) (16 bytes).
   * @throws {ArgumentError} `BAD_ARGUMENT` unless `data` is 8 bytes.
   */
  diversify(data: Uint8Array): Uint8Array {
    assertBytes(data, 'data', 8);
    const out = new Uint8Array(16);
    const not = this.#notData;
    for (let i = 0; i < 8; i++) not[i] = ~data[i]! & 0xff;
    this.#cipher.encryptBlock(data, 0, out, 0);
    this.#cipher.encryptBlock(not, 0, out, 8);
    not.fill(0);
    return out;
  }

  /** Zeroes the key schedule (only when the diversifier built it from key bytes); later use throws `BAD_ARGUMENT`. */
  destroy(): void {
    if (this.#owned) this.#cipher.destroy();
  }

  /** Never exposes key material. */
  toJSON(): string {
    return 'PbocKeyDiversifier(key [redacted])';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toJSON();
  }
}

/**
 * PBOC one-level diversification: 3DES-ECB(MK, D) ‖ 3DES-ECB(MK, NOT D), D = the rightmost 8 bytes of the
 * application serial (or an issuer/city code for the first of two levels).
 * @throws {ArgumentError} `BAD_ARGUMENT` unless `master` is 16 bytes and `data` 8 bytes.
 */
export function diversifyPbocKey(master: PbocKeyInput, data: Uint8Array): Uint8Array {
  const div = new PbocKeyDiversifier(master);
  try {
    return div.diversify(data);
  } finally {
    div.destroy();
  }
}

/**
 * PBOC two-level diversification: the master is first diversified with `level1Data` (e.g. issuer/city
 * code) into an intermediate key, which is then diversified with `level2Data` (the card serial).
 * @throws {ArgumentError} `BAD_ARGUMENT` on wrong lengths (16 / 8 / 8 bytes).
 */
export function diversifyPbocKeyTwoLevel(
  master: PbocKeyInput,
  level1Data: Uint8Array,
  level2Data: Uint8Array,
): Uint8Array {
  assertBytes(level2Data, 'level2Data', 8);
  const intermediate = diversifyPbocKey(master, level1Data);
  try {
    return diversifyPbocKey(intermediate, level2Data);
  } finally {
    intermediate.fill(0);
  }
}

/** Runs `fn` with a cipher for `key`, destroying it afterwards when it was built here from key bytes. */
function withCipher<T>(key: PbocKeyInput, name: string, fn: (c: DesCipher) => T): T {
  const cipher = cipherOf(key, name);
  try {
    return fn(cipher);
  } finally {
    if (cipher !== key) cipher.destroy();
  }
}

function sessionKey(key: DesCipher, random: Uint8Array, counter: number, tail: number): Uint8Array {
  const input = new Uint8Array(8);
  input.set(random, 0);
  input[4] = counter >>> 8;
  input[5] = counter & 0xff;
  input[6] = tail >>> 8;
  input[7] = tail & 0xff;
  const out = new Uint8Array(8);
  key.encryptBlock(input, 0, out, 0);
  return out;
}

/**
 * SESLK, the load session key: 3DES-ECB(DLK, random(4) ‖ onlineCounter(2) ‖ 8000), with the online counter
 * before the load increments it.
 * @throws {ArgumentError} `BAD_ARGUMENT` on a bad DLK (16 bytes), random (4 bytes) or counter (0..65535).
 */
export function loadSessionKey(dlk: PbocKeyInput, random: Uint8Array, onlineCounter: number): Uint8Array {
  assertBytes(random, 'random', 4);
  assertUint(onlineCounter, 'onlineCounter', 0xffff);
  return withCipher(dlk, 'dlk', (c) => sessionKey(c, random, onlineCounter, 0x8000));
}

/**
 * SESPK, the purchase (and CAPP purchase) session key: 3DES-ECB(DPK, random(4) ‖ offlineCounter(2) ‖
 * the two low bytes of the terminal transaction sequence number).
 * @throws {ArgumentError} `BAD_ARGUMENT` on a bad DPK, random, counter (0..65535) or sequence (0..2³²−1).
 */
export function purchaseSessionKey(
  dpk: PbocKeyInput,
  random: Uint8Array,
  offlineCounter: number,
  terminalTxnSeq: number,
): Uint8Array {
  assertBytes(random, 'random', 4);
  assertUint(offlineCounter, 'offlineCounter', 0xffff);
  assertUint(terminalTxnSeq, 'terminalTxnSeq', 0xffffffff);
  return withCipher(dpk, 'dpk', (c) => sessionKey(c, random, offlineCounter, terminalTxnSeq & 0xffff));
}

/**
 * The EXTERNAL AUTHENTICATE cryptogram of the e-purse application: 3DES-ECB(key, challenge) where the
 * challenge is the 8-byte GET CHALLENGE response.
 * @throws {ArgumentError} `BAD_ARGUMENT` unless `key` is 16 bytes and `challenge` 8 bytes.
 */
export function pbocExternalAuthCryptogram(key: PbocKeyInput, challenge: Uint8Array): Uint8Array {
  assertBytes(challenge, 'challenge', 8);
  return withCipher(key, 'key', (c) => {
    const out = new Uint8Array(8);
    c.encryptBlock(challenge, 0, out, 0);
    return out;
  });
}
