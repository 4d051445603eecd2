/**
 * A card channel through PC/SC (pcsc-lite on Linux, WinSCard on Windows, CryptoTokenKit on macOS), using the
 * optional npm package `smartcard` (N-API). It is loaded on first use, so the SDK works without it.
 *
 * @module
 */
import { assertUint } from '../core/bytes';
import { ArgumentError, hasErrorCode, TRANSPORT_ERRORS } from '../core/errors';
import { assertOptionsObject } from './arguments';
import {
  assertCommandApdu,
  type CardChannel,
  isCardGoneError,
  type TransportErrorCode,
  transportError,
} from './channel';

/** Install hint used in `PCSC_UNAVAILABLE` messages. */
export const PCSC_INSTALL_HINT =
  'install the optional package with `npm i smartcard` (on Linux it builds against libpcsclite-dev: ' +
  '`apt-get install libpcsclite-dev pcscd`)';

// The subset of the `smartcard` package this module uses (kept local so the SDK type-checks without it).
interface PcscCard {
  readonly protocol: number;
  readonly atr: Uint8Array | null;
  transmit(command: Uint8Array, options?: { maxRecvLength?: number }): Promise<Uint8Array>;
  disconnect(disposition?: number): void;
}
interface PcscReader {
  readonly name: string;
  readonly state: number;
  readonly atr: Uint8Array | null;
  connect(shareMode?: number, protocol?: number): Promise<PcscCard>;
}
interface PcscContext {
  listReaders(): PcscReader[];
  close(): void;
}
interface SmartcardModule {
  Context: new () => PcscContext;
  SCARD_SHARE_SHARED: number;
  SCARD_SHARE_EXCLUSIVE: number;
  SCARD_PROTOCOL_T0: number;
  SCARD_PROTOCOL_T1: number;
  SCARD_LEAVE_CARD: number;
  SCARD_RESET_CARD: number;
  SCARD_UNPOWER_CARD: number;
  SCARD_STATE_PRESENT: number;
}

let loading: Promise<SmartcardModule> | null = null;

/** Loads `smartcard` once. A variable specifier keeps bundlers and tsc from requiring it. */
function loadSmartcard(): Promise<SmartcardModule> {
  if (loading === null) {
    const specifier = 'smartcard';
    loading = import(specifier).then(
      (mod: Record<string, unknown>) => {
        const lib = (typeof mod.Context === 'function' ? mod : mod.default) as SmartcardModule | undefined;
        if (typeof lib?.Context !== 'function') {
          throw transportError('PCSC_UNAVAILABLE', `the smartcard package has no PC/SC Context; ${PCSC_INSTALL_HINT}`);
        }
        return lib;
      },
      (e: unknown) => {
        loading = null;
        const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
        throw transportError('PCSC_UNAVAILABLE', `PC/SC support is not available (${why}); ${PCSC_INSTALL_HINT}`, e);
      },
    );
  }
  return loading;
}

/** Maps a PC/SC failure (the native binding rejects with plain `Error`s named by PC/SC's text) to a code. */
function pcscCode(e: unknown): TransportErrorCode {
  if (isCardGoneError(e)) return 'CARD_REMOVED';
  const name = e instanceof Error ? e.name : '';
  const msg = e instanceof Error ? e.message : String(e);
  if (name === 'TimeoutError' || /timed out/i.test(msg)) return 'TIMEOUT';
  if (name === 'ServiceNotRunningError' || /service (not running|stopped)/i.test(msg)) return 'PCSC_UNAVAILABLE';
  if (name === 'NoReadersError' || /unknown reader|reader unavailable|no readers/i.test(msg)) {
    return 'READER_NOT_FOUND';
  }
  if (/removed|no smart card|unpowered|unresponsive|was reset|transaction failed/i.test(msg)) return 'CARD_REMOVED';
  if (/not connected|invalid handle/i.test(msg)) return 'TRANSPORT_CLOSED';
  return 'PCSC_ERROR';
}

function toTransportError(e: unknown, what: string): Error {
  const msg = e instanceof Error ? e.message : String(e);
  return transportError(pcscCode(e), `${what}: ${msg}`, e);
}

/** A reader as PC/SC lists it. */
export interface PcscReaderInfo {
  name: string;
  /** A card is in the reader. */
  cardPresent: boolean;
  /** ATR of the card, when present. */
  atr: Uint8Array | null;
}

/** Options of {@link PcscChannel.open}. */
export interface PcscOpenOptions {
  /** Reader to use: a name (exact, else the first reader whose name contains it) or a pattern. Default: any. */
  reader?: string | RegExp;
  /** How long to wait for a matching reader holding a card (default 3000 ms; 0 = don't wait). */
  timeoutMs?: number;
  /** Per-transmit timeout in ms (default none); an expired transmit throws `TIMEOUT`. */
  transmitTimeoutMs?: number;
  /** Open the card in exclusive mode (default shared). */
  exclusive?: boolean;
  /** What `close()` does to the card: leave it (default), reset it or power it down. */
  disposition?: 'leave' | 'reset' | 'unpower';
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Checks {@link PcscOpenOptions} before anything is opened. */
function checkOpenOptions(options: PcscOpenOptions): void {
  assertOptionsObject(options, 'options');
  const { reader, timeoutMs, transmitTimeoutMs, exclusive, disposition } = options;
  if (reader !== undefined && typeof reader !== 'string' && !(reader instanceof RegExp))
    throw new ArgumentError('reader: expected a reader name or a RegExp');
  if (timeoutMs !== undefined) assertUint(timeoutMs, 'timeoutMs', 2 ** 31 - 1);
  if (transmitTimeoutMs !== undefined) assertUint(transmitTimeoutMs, 'transmitTimeoutMs', 2 ** 31 - 1);
  if (exclusive !== undefined && typeof exclusive !== 'boolean')
    throw new ArgumentError('exclusive: expected a boolean');
  if (disposition !== undefined && disposition !== 'leave' && disposition !== 'reset' && disposition !== 'unpower')
    throw new ArgumentError("disposition: expected 'leave', 'reset' or 'unpower'");
}

function matches(name: string, want: string | RegExp | undefined): boolean {
  if (want === undefined) return true;
  return typeof want === 'string' ? name.includes(want) : want.test(name);
}

function asBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * A {@link CardChannel} to a card in a PC/SC reader.
 * @example
 * const ch = await PcscChannel.open({ reader: /Virtual PCD/ });
 * const r = await ch.transmit(fromHex('00A4040008A000000151000000'));
 * await ch.close();
 */
export class PcscChannel implements CardChannel {
  readonly description: string;
  /** Name of the reader in use. */
  readonly readerName: string;
  /** ATR of the card when the channel was opened. */
  readonly atr: Uint8Array;
  /** Negotiated protocol, `T=0` or `T=1`. */
  readonly protocol: 'T=0' | 'T=1' | 'other';
  private context: PcscContext | null;
  private card: PcscCard | null;
  private readonly transmitTimeoutMs: number | undefined;
  private readonly disposition: number;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    lib: SmartcardModule,
    context: PcscContext,
    card: PcscCard,
    readerName: string,
    options: PcscOpenOptions,
  ) {
    this.context = context;
    this.card = card;
    this.readerName = readerName;
    this.description = `PC/SC reader "${readerName}"`;
    this.atr = card.atr ? asBytes(card.atr).slice() : new Uint8Array(0);
    this.protocol =
      card.protocol === lib.SCARD_PROTOCOL_T0 ? 'T=0' : card.protocol === lib.SCARD_PROTOCOL_T1 ? 'T=1' : 'other';
    this.transmitTimeoutMs = options.transmitTimeoutMs;
    this.disposition =
      options.disposition === 'reset'
        ? lib.SCARD_RESET_CARD
        : options.disposition === 'unpower'
          ? lib.SCARD_UNPOWER_CARD
          : lib.SCARD_LEAVE_CARD;
  }

  /**
   * Lists PC/SC readers and whether they hold a card.
   * @throws {TransportError} `PCSC_UNAVAILABLE` when `smartcard` is not installed or pcscd is not running.
   */
  static async listReaders(): Promise<PcscReaderInfo[]> {
    const lib = await loadSmartcard();
    const ctx = PcscChannel.establish(lib);
    try {
      return ctx.listReaders().map((r) => ({
        name: r.name,
        cardPresent: (r.state & lib.SCARD_STATE_PRESENT) !== 0,
        atr: r.atr ? asBytes(r.atr).slice() : null,
      }));
    } catch (e) {
      throw toTransportError(e, 'PC/SC list readers');
    } finally {
      ctx.close();
    }
  }

  private static establish(lib: SmartcardModule): PcscContext {
    try {
      return new lib.Context();
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw transportError('PCSC_UNAVAILABLE', `cannot reach the PC/SC service (${msg}); is pcscd running?`, e);
    }
  }

  /**
   * Connects to the card in the first matching reader, waiting up to `timeoutMs` for reader and card.
   * @throws {TransportError} `PCSC_UNAVAILABLE` (no `smartcard` package, no PC/SC service); `READER_NOT_FOUND`
   *   (no reader matches); `CARD_REMOVED` (the reader holds no card); `PCSC_ERROR` (e.g. sharing violation).
   * @throws {ArgumentError} `BAD_ARGUMENT` on a malformed option (checked before PC/SC is touched).
   */
  static async open(options: PcscOpenOptions = {}): Promise<PcscChannel> {
    checkOpenOptions(options);
    const lib = await loadSmartcard();
    const ctx = PcscChannel.establish(lib);
    const deadline = Date.now() + (options.timeoutMs ?? 3000);
    const want = options.reader;
    const share = options.exclusive ? lib.SCARD_SHARE_EXCLUSIVE : lib.SCARD_SHARE_SHARED;
    let lastError: unknown;
    try {
      for (;;) {
        let readers: PcscReader[];
        try {
          readers = ctx.listReaders();
        } catch (e) {
          throw toTransportError(e, 'PC/SC list readers');
        }
        const exact = typeof want === 'string' ? readers.filter((r) => r.name === want) : [];
        const candidates = exact.length > 0 ? exact : readers.filter((r) => matches(r.name, want));
        for (const reader of candidates) {
          if ((reader.state & lib.SCARD_STATE_PRESENT) === 0) continue;
          try {
            const card = await reader.connect(share, lib.SCARD_PROTOCOL_T0 | lib.SCARD_PROTOCOL_T1);
            return new PcscChannel(lib, ctx, card, reader.name, options);
          } catch (e) {
            lastError = e;
            if (pcscCode(e) !== 'CARD_REMOVED') throw toTransportError(e, `PC/SC connect to "${reader.name}"`);
          }
        }
        if (Date.now() >= deadline) {
          const names = readers.map((r) => `"${r.name}"`).join(', ') || 'none';
          if (candidates.length === 0) {
            throw transportError('READER_NOT_FOUND', `no PC/SC reader matches ${String(want)} (readers: ${names})`);
          }
          throw transportError(
            'CARD_REMOVED',
            `no card in ${candidates.map((r) => `"${r.name}"`).join(', ')}`,
            lastError,
          );
        }
        await sleep(Math.min(50, Math.max(0, deadline - Date.now())));
      }
    } catch (e) {
      ctx.close();
      throw e;
    }
  }

  /**
   * Sends one C-APDU (calls are queued; PC/SC handles one at a time).
   * @throws {TransportError} `CARD_REMOVED`, `TIMEOUT`, `TRANSPORT_CLOSED`, `PCSC_UNAVAILABLE` or `PCSC_ERROR`.
   * @throws {ArgumentError} `BAD_ARGUMENT` when `capdu` is not a 4–65544 byte array.
   */
  transmit(capdu: Uint8Array): Promise<Uint8Array> {
    assertCommandApdu(capdu);
    const run = this.queue.then(() => this.transmitNow(capdu));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async transmitNow(capdu: Uint8Array): Promise<Uint8Array> {
    const card = this.card;
    if (card === null) throw transportError('TRANSPORT_CLOSED', `${this.description}: channel is closed`);
    // Room for a full short response, or a full extended one when the command is extended (byte 4 = 00).
    const maxRecvLength = capdu.length > 5 && capdu[4] === 0 ? 65538 : 258;
    const pending = card.transmit(Buffer.from(capdu.buffer, capdu.byteOffset, capdu.byteLength), { maxRecvLength });
    let response: Uint8Array;
    try {
      response = this.transmitTimeoutMs === undefined ? await pending : await this.withTimeout(pending);
    } catch (e) {
      if (hasErrorCode(e, TRANSPORT_ERRORS, 'TIMEOUT')) throw e;
      throw toTransportError(e, `${this.description} transmit`);
    }
    return asBytes(response);
  }

  private withTimeout(pending: Promise<Uint8Array>): Promise<Uint8Array> {
    const ms = this.transmitTimeoutMs!;
    let timer: NodeJS.Timeout | undefined;
    const expiry = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(transportError('TIMEOUT', `${this.description}: no response after ${ms} ms`)),
        ms,
      );
    });
    pending.catch(() => undefined); // a late failure after the timeout is not unhandled
    return Promise.race([pending, expiry]).finally(() => clearTimeout(timer));
  }

  /** Disconnects from the card (per `disposition`) and releases the PC/SC context; idempotent. */
  async close(): Promise<void> {
    const card = this.card;
    const ctx = this.context;
    this.card = null;
    this.context = null;
    await this.queue;
    try {
      card?.disconnect(this.disposition);
    } catch {
      // the card may already be gone
    }
    try {
      ctx?.close();
    } catch {
      // already closed
    }
  }
}
