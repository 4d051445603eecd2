/**
 * Recorded APDU traces: {@link TracePlayer} replays a list of `{ c, r }` hex exchanges as a card channel and
 * checks that the terminal sends the recorded commands; {@link TraceRecorder} wraps a channel and records.
 *
 * @module
 */
import { assertBytes, fromHex, toHex } from '../core/bytes';
import { ArgumentError } from '../core/errors';
import { decodeCla } from '../core/iso7816/cla';
import { assertCardChannel, assertOptionsObject } from './arguments';
import { assertCommandApdu, type CardChannel, transportError } from './channel';

/** One recorded exchange: `c` the C-APDU, `r` the R-APDU (`data ‖ SW`), both hex. Extra fields are ignored. */
export interface TraceExchange {
  c: string;
  r: string;
}

/** A recorded trace, as stored in `recorded-apdu-traces.json`. */
export interface RecordedTrace {
  id?: string;
  exchanges: readonly TraceExchange[];
}

/** A command that did not match the trace (collected when `strict` is false). */
export interface TraceMismatch {
  /** Index of the exchange in the trace. */
  index: number;
  expected: Uint8Array;
  actual: Uint8Array;
}

/** Options of {@link TracePlayer}. */
export interface TracePlayerOptions {
  /**
   * `true` (default): a command that does not match throws `TRACE_MISMATCH`. `false`: the mismatch is
   * collected in {@link TracePlayer.mismatches} and the recorded response is returned anyway.
   */
  strict?: boolean;
  /**
   * Compare only what a fresh run can reproduce: the data of commands carrying cryptograms, MACs, challenges
   * and the terminal date/time they cover is not compared (see {@link cryptoFieldRange}); headers and lengths
   * still are. Default `false` (byte-exact).
   */
  ignoreCryptoFields?: boolean;
  /** Custom matcher replacing the built-in comparison. */
  match?: (expected: Uint8Array, actual: Uint8Array, index: number) => boolean;
  /** Name for logs (default `trace <id>`). */
  description?: string;
}

/** Data bounds of a C-APDU (short or extended), or null when the command has no data or is malformed. */
function dataRange(c: Uint8Array): { start: number; end: number } | null {
  if (c.length <= 5) return null; // case 1 or 2S: no data
  if (c[4] !== 0) {
    const end = 5 + c[4]!;
    return end === c.length || end + 1 === c.length ? { start: 5, end } : null;
  }
  if (c.length < 7) return null;
  const lc = (c[5]! << 8) | c[6]!;
  if (lc === 0) return null; // case 2E
  const end = 7 + lc;
  return end === c.length || end + 2 === c.length ? { start: 7, end } : null;
}

/**
 * Byte range of `capdu` (start inclusive, end exclusive) that a replay cannot reproduce, or null. Rules:
 * - secure-messaging class byte (ISO 7816-4 §5.4.1, GP `84`/`04`): the whole data field (MAC, maybe encrypted);
 * - EXTERNAL / INTERNAL / GENERAL AUTHENTICATE (`82`, `88`, `86`): the whole data field (cryptogram, challenge);
 * - INITIALIZE UPDATE (`80 50` with 8 data bytes, GP): the host challenge;
 * - PBOC CREDIT FOR LOAD (`80 52`: date, time, MAC2) and DEBIT (`80 54`: terminal sequence, date, time, MAC1):
 *   the whole data field.
 * @throws {ArgumentError} `BAD_ARGUMENT` when `capdu` is not a `Uint8Array`.
 */
export function cryptoFieldRange(capdu: Uint8Array): { start: number; end: number } | null {
  assertBytes(capdu, 'capdu');
  const range = dataRange(capdu);
  if (range === null) return null;
  const cla = capdu[0]!;
  const ins = capdu[1]!;
  const info = decodeCla(cla);
  if (info.kind !== 'invalid' && info.sm !== 'none') return range;
  if (ins === 0x82 || ins === 0x88 || ins === 0x86) return range;
  if ((cla & 0x80) !== 0) {
    if (ins === 0x50 && range.end - range.start === 8) return range;
    if (ins === 0x52 || ins === 0x54) return range;
  }
  return null;
}

/**
 * Compares a recorded command with the one sent; with `ignoreCryptoFields`, bytes in {@link cryptoFieldRange}
 * of the recorded command are skipped (lengths must still agree).
 * @throws {ArgumentError} `BAD_ARGUMENT` when a command is not a `Uint8Array`.
 */
export function commandsMatch(expected: Uint8Array, actual: Uint8Array, ignoreCryptoFields = false): boolean {
  assertBytes(expected, 'expected');
  assertBytes(actual, 'actual');
  if (expected.length !== actual.length) return false;
  const skip = ignoreCryptoFields ? cryptoFieldRange(expected) : null;
  for (let i = 0; i < expected.length; i++) {
    if (skip !== null && i >= skip.start && i < skip.end) continue;
    if (expected[i] !== actual[i]) return false;
  }
  return true;
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

/**
 * A {@link CardChannel} that replays a recorded trace: each `transmit` must send the next recorded command and
 * gets the recorded response.
 * @example
 * const card = new TracePlayer(trace.exchanges, { ignoreCryptoFields: true });
 * await card.transmit(fromHex('00B2013C10')); // recorded response
 * card.assertDone();
 */
export class TracePlayer implements CardChannel {
  readonly description: string;
  /** Commands that did not match (only filled when `strict` is false). */
  readonly mismatches: TraceMismatch[] = [];
  private readonly commands: Uint8Array[];
  private readonly responses: Uint8Array[];
  private readonly strict: boolean;
  private readonly ignoreCryptoFields: boolean;
  private readonly match: TracePlayerOptions['match'];
  private next = 0;
  private closed = false;

  /**
   * @throws {ParseError} `HEX_INVALID` when an exchange is not hex.
   * @throws {ArgumentError} `BAD_ARGUMENT` when an exchange lacks `c` or `r`, or a response is shorter than a SW.
   */
  constructor(exchanges: readonly TraceExchange[], options: TracePlayerOptions = {}) {
    if (!Array.isArray(exchanges)) throw new ArgumentError('TracePlayer: exchanges must be an array');
    assertOptionsObject(options, 'options');
    if (options.match !== undefined && typeof options.match !== 'function')
      throw new ArgumentError('match: expected a function');
    this.commands = [];
    this.responses = [];
    exchanges.forEach((x, i) => {
      if (typeof x?.c !== 'string' || typeof x.r !== 'string') {
        throw new ArgumentError(`TracePlayer: exchange ${i} needs hex strings "c" and "r"`);
      }
      const r = fromHex(x.r);
      if (r.length < 2) throw new ArgumentError(`TracePlayer: response ${i} is shorter than a status word`);
      this.commands.push(fromHex(x.c));
      this.responses.push(r);
    });
    this.strict = options.strict ?? true;
    this.ignoreCryptoFields = options.ignoreCryptoFields ?? false;
    this.match = options.match;
    this.description = options.description ?? 'recorded trace';
  }

  /**
   * Builds a player from a stored trace (`{ id, exchanges }`); the description names the trace id.
   * @throws {ParseError} `HEX_INVALID` / {@link ArgumentError} `BAD_ARGUMENT` as the constructor, and when `trace`
   *   is not an object.
   */
  static fromTrace(trace: RecordedTrace, options: TracePlayerOptions = {}): TracePlayer {
    assertOptionsObject(trace, 'trace', false);
    assertOptionsObject(options, 'options');
    const description = options.description ?? `trace ${trace.id ?? '(unnamed)'}`;
    return new TracePlayer(trace.exchanges, { ...options, description });
  }

  /** Index of the next exchange to replay. */
  get position(): number {
    return this.next;
  }

  /** Exchanges not replayed yet. */
  get remaining(): number {
    return this.commands.length - this.next;
  }

  /** True once every exchange was replayed. */
  get done(): boolean {
    return this.next === this.commands.length;
  }

  /**
   * Replays the next exchange.
   * @throws {TransportError} `TRACE_MISMATCH` (strict) when the command differs from the recording;
   *   `TRACE_EXHAUSTED` past the end; `TRANSPORT_CLOSED` after `close()`.
   * @throws {ArgumentError} `BAD_ARGUMENT` when `capdu` is not a 4–65544 byte array.
   */
  async transmit(capdu: Uint8Array): Promise<Uint8Array> {
    if (this.closed) throw transportError('TRANSPORT_CLOSED', `${this.description}: channel is closed`);
    assertCommandApdu(capdu);
    const index = this.next;
    const expected = this.commands[index];
    const response = this.responses[index];
    if (expected === undefined || response === undefined) {
      throw transportError(
        'TRACE_EXHAUSTED',
        `${this.description}: all ${this.commands.length} exchanges replayed, got another command ${toHex(capdu)}`,
      );
    }
    const ok = this.match
      ? this.match(expected, capdu, index)
      : commandsMatch(expected, capdu, this.ignoreCryptoFields);
    if (!ok) {
      if (this.strict) {
        throw transportError(
          'TRACE_MISMATCH',
          `${this.description}: exchange ${index} expected ${toHex(expected)}, got ${toHex(capdu)} ` +
            `(first difference at byte ${firstDifference(expected, capdu)})`,
        );
      }
      this.mismatches.push({ index, expected, actual: capdu.slice() });
    }
    this.next = index + 1;
    return response.slice();
  }

  /**
   * Checks that the whole trace was replayed.
   * @throws {TransportError} `TRACE_MISMATCH` when exchanges remain (the terminal stopped early).
   */
  assertDone(): void {
    if (!this.done) {
      throw transportError(
        'TRACE_MISMATCH',
        `${this.description}: ${this.remaining} of ${this.commands.length} exchanges not replayed ` +
          `(next expected ${toHex(this.commands[this.next]!)})`,
      );
    }
  }

  /** Rewinds to the first exchange and clears collected mismatches. */
  rewind(): void {
    this.next = 0;
    this.mismatches.length = 0;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** Options of {@link TraceRecorder}. */
export interface TraceRecorderOptions {
  /** Called after each recorded exchange. */
  onExchange?: (exchange: TraceExchange) => void;
}

/**
 * Wraps a channel and records every successful exchange as `{ c, r }` hex, in the format {@link TracePlayer}
 * replays. Failed transmits are not recorded and their error propagates.
 */
export class TraceRecorder implements CardChannel {
  /** Exchanges recorded so far. */
  readonly exchanges: TraceExchange[] = [];
  private readonly inner: CardChannel;
  private readonly onExchange: TraceRecorderOptions['onExchange'];

  /** @throws {ArgumentError} `BAD_ARGUMENT` when `inner` is not a channel or an option is malformed. */
  constructor(inner: CardChannel, options: TraceRecorderOptions = {}) {
    assertCardChannel(inner, 'inner');
    assertOptionsObject(options, 'options');
    if (options.onExchange !== undefined && typeof options.onExchange !== 'function')
      throw new ArgumentError('onExchange: expected a function');
    this.inner = inner;
    this.onExchange = options.onExchange;
  }

  get description(): string {
    return `recording ${this.inner.description}`;
  }

  /**
   * Forwards to the wrapped channel and records the exchange.
   * @throws {TransportError} whatever the wrapped channel throws.
   * @throws {ArgumentError} `BAD_ARGUMENT` when `capdu` is not a 4–65544 byte array.
   */
  async transmit(capdu: Uint8Array): Promise<Uint8Array> {
    assertCommandApdu(capdu);
    const response = await this.inner.transmit(capdu);
    const exchange: TraceExchange = { c: toHex(capdu), r: toHex(response) };
    this.exchanges.push(exchange);
    this.onExchange?.(exchange);
    return response;
  }

  /**
   * The recording as a trace object (`JSON.stringify` friendly).
   * @throws {ArgumentError} `BAD_ARGUMENT` when `id` is given and not a string.
   */
  toTrace(id?: string): RecordedTrace {
    if (id !== undefined && typeof id !== 'string') throw new ArgumentError('id: expected a string');
    const exchanges = this.exchanges.map((x) => ({ ...x }));
    return id === undefined ? { exchanges } : { id, exchanges };
  }

  /** Closes the wrapped channel. */
  close(): Promise<void> {
    return this.inner.close();
  }
}
