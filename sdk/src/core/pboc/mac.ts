/**
 * PBOC / JR/T 0025 e-purse MACs and TACs: single-DES CBC-MAC with ICV 00×8, ISO 9797-1 padding method 2,
 * leftmost 4 bytes (ISO 9797-1 MAC algorithm 1 with DES). Keyed with the session key (MAC1/MAC2) or with
 * the TAC key DTK_left ⊕ DTK_right.
 *
 * Amounts and balances are integer fen, encoded as 4 big-endian bytes; counters 2 bytes; the terminal ID
 * is 6 bytes; the date 4 BCD bytes (YYYYMMDD) and the time 3 BCD bytes (hhmmss).
 *
 * @module
 */
import { assertBytes, assertUint } from '../bytes';
import { DesCipher } from '../crypto';
import { ArgumentError } from '../errors';

/**
 * A single-DES PBOC MAC keyed once and reusable: {@link PbocMac.mac} for a whole message, or the streaming
 * {@link PbocMac.update} / {@link PbocMac.updateUint} / {@link PbocMac.digest} (no intermediate buffers).
 * @example new PbocMac(sessionKey).mac(data) // 4 bytes
 */
export class PbocMac {
  readonly #cipher: DesCipher;
  #state = new Uint8Array(8);
  #spare = new Uint8Array(8);
  #pos = 0;

  /** @throws {ArgumentError} `BAD_ARGUMENT` unless `key` is 8 bytes. */
  constructor(key: Uint8Array) {
    assertBytes(key, 'key', 8);
    this.#cipher = new DesCipher(key);
  }

  /** Starts a new MAC computation (ICV 00×8). */
  reset(): this {
    this.#state.fill(0);
    this.#pos = 0;
    return this;
  }

  #absorb(byte: number): void {
    this.#state[this.#pos++]! ^= byte;
    if (this.#pos === 8) this.#encrypt();
  }

  #encrypt(): void {
    const out = this.#spare;
    this.#cipher.encryptBlock(this.#state, 0, out, 0);
    this.#spare = this.#state;
    this.#state = out;
    this.#pos = 0;
  }

  /** Feeds message bytes. */
  update(data: Uint8Array): this {
    for (let i = 0; i < data.length; i++) this.#absorb(data[i]!);
    return this;
  }

  /** Feeds `value` as `length` (1..4) big-endian bytes; `value` must fit (checked by the public MAC functions). */
  updateUint(value: number, length: number): this {
    for (let shift = 8 * (length - 1); shift >= 0; shift -= 8) this.#absorb((value >>> shift) & 0xff);
    return this;
  }

  /** Pads (ISO 9797-1 method 2), returns the leftmost 4 bytes of the final block and resets. */
  digest(): Uint8Array {
    this.#absorb(0x80);
    if (this.#pos !== 0) this.#encrypt();
    const out = this.#state.slice(0, 4);
    this.reset();
    this.#spare.fill(0);
    return out;
  }

  /**
   * The 4-byte MAC of `data`.
   * @throws {ArgumentError} `BAD_ARGUMENT` if `data` is not a `Uint8Array`.
   */
  mac(data: Uint8Array): Uint8Array {
    assertBytes(data, 'data');
    return this.reset().update(data).digest();
  }

  /** Zeroes the state and the key schedule; later use throws `BAD_ARGUMENT`. */
  destroy(): void {
    this.reset();
    this.#spare.fill(0);
    this.#cipher.destroy();
  }

  /** Never exposes key material. */
  toJSON(): string {
    return 'PbocMac(key [redacted])';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toJSON();
  }
}

/**
 * PBOC MAC of `data` with an 8-byte DES key (session key or TAC key): 4 bytes.
 * @throws {ArgumentError} `BAD_ARGUMENT` unless `key` is 8 bytes and `data` a `Uint8Array`.
 */
export function pbocMac(key: Uint8Array, data: Uint8Array): Uint8Array {
  return withMac(key, 'key', (m) => m.mac(data));
}

/** An 8-byte DES key as bytes, or a keyed {@link PbocMac} (no key schedule per call). */
export type PbocMacKey = Uint8Array | PbocMac;

/** Runs `fn` with a reset MAC for `key`, destroying it afterwards when it was built here from key bytes. */
function withMac<T>(key: PbocMacKey, name: string, fn: (m: PbocMac) => T): T {
  if (key instanceof PbocMac) return fn(key.reset());
  if (!(key instanceof Uint8Array) || key.length !== 8)
    throw new ArgumentError(`${name}: expected an 8-byte DES key or a PbocMac`);
  const m = new PbocMac(key);
  try {
    return fn(m);
  } finally {
    m.destroy();
  }
}

const MAX_U32 = 0xffffffff;

function checkTerminalFields(p: { amount: number; tti: number; terminalId: Uint8Array }): void {
  assertUint(p.amount, 'amount', MAX_U32);
  assertUint(p.tti, 'tti', 0xff);
  assertBytes(p.terminalId, 'terminalId', 6);
}

function checkDateTime(p: { date: Uint8Array; time: Uint8Array }): void {
  assertBytes(p.date, 'date', 4);
  assertBytes(p.time, 'time', 3);
}

/** Inputs of the load MAC1 (card → issuer) computed at INITIALIZE FOR LOAD. */
export interface LoadMac1Input {
  /** SESLK (8 bytes), see `loadSessionKey`. */
  sessionKey: PbocMacKey;
  oldBalance: number;
  amount: number;
  /** Transaction type: `TTI.ED_LOAD` or `TTI.EP_LOAD`. */
  tti: number;
  terminalId: Uint8Array;
}

/**
 * Load MAC1 = MAC(SESLK; oldBalance(4) ‖ amount(4) ‖ TTI(1) ‖ terminalId(6)).
 * @throws {ArgumentError} `BAD_ARGUMENT` on an out-of-range number or a wrong-length field.
 */
export function loadMac1(p: LoadMac1Input): Uint8Array {
  assertUint(p.oldBalance, 'oldBalance', MAX_U32);
  checkTerminalFields(p);
  return withMac(p.sessionKey, 'sessionKey', (m) =>
    m.updateUint(p.oldBalance, 4).updateUint(p.amount, 4).updateUint(p.tti, 1).update(p.terminalId).digest(),
  );
}

/** Inputs of the load MAC2 (issuer → card) sent in CREDIT FOR LOAD. */
export interface LoadMac2Input {
  /** SESLK (8 bytes). */
  sessionKey: PbocMacKey;
  amount: number;
  tti: number;
  terminalId: Uint8Array;
  /** YYYYMMDD, 4 BCD bytes. */
  date: Uint8Array;
  /** hhmmss, 3 BCD bytes. */
  time: Uint8Array;
}

/**
 * Load MAC2 = MAC(SESLK; amount(4) ‖ TTI(1) ‖ terminalId(6) ‖ date(4) ‖ time(3)).
 * @throws {ArgumentError} `BAD_ARGUMENT` on an out-of-range number or a wrong-length field.
 */
export function loadMac2(p: LoadMac2Input): Uint8Array {
  checkTerminalFields(p);
  checkDateTime(p);
  return withMac(p.sessionKey, 'sessionKey', (m) =>
    m.updateUint(p.amount, 4).updateUint(p.tti, 1).update(p.terminalId).update(p.date).update(p.time).digest(),
  );
}

/** Inputs of the purchase MAC1 (PSAM → card) sent in DEBIT FOR PURCHASE; same layout as load MAC2. */
export type PurchaseMac1Input = LoadMac2Input;

/**
 * Purchase MAC1 = MAC(SESPK; amount(4) ‖ TTI(1) ‖ terminalId(6) ‖ date(4) ‖ time(3)).
 * @throws {ArgumentError} `BAD_ARGUMENT` on an out-of-range number or a wrong-length field.
 */
export function purchaseMac1(p: PurchaseMac1Input): Uint8Array {
  return loadMac2(p);
}

/**
 * Purchase MAC2 (card → PSAM) = MAC(SESPK; amount(4)).
 * @throws {ArgumentError} `BAD_ARGUMENT` on an out-of-range amount or a bad key.
 */
export function purchaseMac2(p: { sessionKey: PbocMacKey; amount: number }): Uint8Array {
  assertUint(p.amount, 'amount', MAX_U32);
  return withMac(p.sessionKey, 'sessionKey', (m) => m.updateUint(p.amount, 4).digest());
}

/**
 * The single-DES TAC key: left 8 bytes of DTK ⊕ right 8 bytes.
 * @throws {ArgumentError} `BAD_ARGUMENT` unless `dtk` is 16 bytes.
 */
export function tacKey(dtk: Uint8Array): Uint8Array {
  assertBytes(dtk, 'dtk', 16);
  const out = new Uint8Array(8);
  for (let i = 0; i < 8; i++) out[i] = dtk[i]! ^ dtk[i + 8]!;
  return out;
}

/** Inputs of the purchase TAC. */
export interface PurchaseTacInput {
  /** The 8-byte TAC key ({@link tacKey}) or a `PbocMac` keyed with it. */
  tacKey: PbocMacKey;
  amount: number;
  tti: number;
  terminalId: Uint8Array;
  terminalTxnSeq: number;
  date: Uint8Array;
  time: Uint8Array;
}

/**
 * Purchase TAC = MAC(K_tac; amount(4) ‖ TTI(1) ‖ terminalId(6) ‖ terminalTxnSeq(4) ‖ date(4) ‖ time(3)).
 * @throws {ArgumentError} `BAD_ARGUMENT` on an out-of-range number or a wrong-length field.
 */
export function purchaseTac(p: PurchaseTacInput): Uint8Array {
  checkTerminalFields(p);
  assertUint(p.terminalTxnSeq, 'terminalTxnSeq', MAX_U32);
  checkDateTime(p);
  return withMac(p.tacKey, 'tacKey', (m) =>
    m
      .updateUint(p.amount, 4)
      .updateUint(p.tti, 1)
      .update(p.terminalId)
      .updateUint(p.terminalTxnSeq, 4)
      .update(p.date)
      .update(p.time)
      .digest(),
  );
}

/** Inputs of the load TAC (docs/spec.md §15 D1). */
export interface LoadTacInput {
  tacKey: PbocMacKey;
  /** The balance after the load. */
  newBalance: number;
  /** The online counter before the load incremented it. */
  onlineCounter: number;
  amount: number;
  tti: number;
  terminalId: Uint8Array;
  date: Uint8Array;
  time: Uint8Array;
}

/**
 * Load TAC = MAC(K_tac; newBalance(4) ‖ onlineCounter(2, pre-increment) ‖ amount(4) ‖ TTI(1) ‖
 * terminalId(6) ‖ date(4) ‖ time(3)) — the project's choice where the specs are open (docs/spec.md §15 D1).
 * @throws {ArgumentError} `BAD_ARGUMENT` on an out-of-range number or a wrong-length field.
 */
export function loadTac(p: LoadTacInput): Uint8Array {
  assertUint(p.newBalance, 'newBalance', MAX_U32);
  assertUint(p.onlineCounter, 'onlineCounter', 0xffff);
  checkTerminalFields(p);
  checkDateTime(p);
  return withMac(p.tacKey, 'tacKey', (m) =>
    m
      .updateUint(p.newBalance, 4)
      .updateUint(p.onlineCounter, 2)
      .updateUint(p.amount, 4)
      .updateUint(p.tti, 1)
      .update(p.terminalId)
      .update(p.date)
      .update(p.time)
      .digest(),
  );
}
