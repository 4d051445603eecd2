/**
 * Adapts a {@link Card} to the vpcd bridge's {@link VirtualCardPort}: one card interface, the answer-to-reset a
 * PC/SC reader reports for it, and a hook that fires after every command that committed persistent state.
 *
 * @module
 */
import { toHex } from '@simtap/sdk/core/bytes';
import { ParseError } from '@simtap/sdk/core/errors';
import type { VirtualCardPort } from '../bridges/vpcd';
import type { CardInterface } from '../runtime/applet';
import type { Card } from '../runtime/card';
import type { CliErrorCode } from './errors';

/**
 * The ATR a PC/SC reader reports for a contactless ISO 14443-4 type A card (PC/SC Part 3 §3.1.3.2.3.1):
 * `3B 8n 80 01 ‖ historical bytes of the ATS (n of them) ‖ TCK`, TCK = XOR of T0..last historical byte.
 * @throws {ParseError} `ATS_INVALID` when the ATS is empty, shorter than its TL says, or has more than 15
 *   historical bytes.
 */
export function pcscContactlessAtr(ats: Uint8Array): Uint8Array {
  const tl = ats[0];
  if (tl === undefined || tl < 1 || tl > ats.length)
    throw new ParseError<CliErrorCode>('ATS_INVALID', 'ATS shorter than its TL', 0);
  let off = 1;
  if (tl > 1) {
    const t0 = ats[1]!;
    off = 2 + ((t0 >> 4) & 1) + ((t0 >> 5) & 1) + ((t0 >> 6) & 1);
  }
  if (off > tl) throw new ParseError<CliErrorCode>('ATS_INVALID', 'ATS interface bytes run past TL', 1);
  const historical = ats.subarray(off, tl);
  if (historical.length > 15) throw new ParseError<CliErrorCode>('ATS_INVALID', 'more than 15 historical bytes', off);
  const out = new Uint8Array(5 + historical.length);
  out[0] = 0x3b;
  out[1] = 0x80 | historical.length;
  out[2] = 0x80;
  out[3] = 0x01;
  out.set(historical, 4);
  let tck = 0;
  for (let i = 1; i < out.length - 1; i++) tck ^= out[i]!;
  out[out.length - 1] = tck;
  return out;
}

/** INS codes whose command data can carry keys or PINs; `--trace` prints their length only. */
export const REDACTED_INS: ReadonlySet<number> = new Set([
  0x20, // VERIFY (PIN)
  0x24, // CHANGE REFERENCE DATA (PIN)
  0x2c, // RESET RETRY COUNTER (PIN)
  0x5e, // PBOC RELOAD/CHANGE PIN
  0xd8, // GP PUT KEY
  0xe2, // GP STORE DATA (personalization DGIs: keys, PIN)
]);

/**
 * One `--trace` line: `iface  C-APDU → R-APDU  (ms)`. Command data of {@link REDACTED_INS} commands is replaced by
 * its length, so no key or PIN reaches the terminal.
 */
export function formatTraceLine(
  iface: CardInterface,
  command: Uint8Array,
  response: Uint8Array,
  durationMs: number,
): string {
  let cmd: string;
  if (command.length > 5 && REDACTED_INS.has(command[1]!)) {
    cmd = `${toHex(command.subarray(0, 4))} [${command.length - 4} bytes redacted]`;
  } else cmd = toHex(command);
  const n = response.length;
  const rsp = n > 2 ? `${toHex(response.subarray(0, n - 2))} ${toHex(response.subarray(n - 2))}` : toHex(response);
  return `${iface.padEnd(11)} ${cmd} → ${rsp}  (${durationMs.toFixed(2)} ms)`;
}

/** Options of {@link CardPort}. */
export interface CardPortOptions {
  /** Called (synchronously, after the response is computed) when a command committed persistent state. */
  onCommit?: () => void;
}

/**
 * A {@link VirtualCardPort} over one interface of a {@link Card}. The reported ATR is the card's ATR on the
 * contact interface and the PC/SC pseudo-ATR built from the ATS on the contactless one.
 */
export class CardPort implements VirtualCardPort {
  /** The emulated card. */
  readonly card: Card;
  /** The interface pcscd talks to. */
  readonly iface: CardInterface;
  readonly #atr: Uint8Array;
  readonly #onCommit: (() => void) | undefined;
  #commits: number;

  /**
   * Reads the interface's answer-to-reset with one power cycle, leaving the interface powered off.
   * @throws {ParseError} `ATS_INVALID` when the card's ATS cannot be turned into an ATR.
   */
  constructor(card: Card, iface: CardInterface, options: CardPortOptions = {}) {
    this.card = card;
    this.iface = iface;
    this.#onCommit = options.onCommit;
    const answer = card.powerOn(iface);
    card.powerOff(iface);
    this.#atr = iface === 'contactless' ? pcscContactlessAtr(answer) : answer;
    this.#commits = card.commitCount;
  }

  atr(): Uint8Array {
    return this.#atr;
  }

  powerOn(): void {
    this.card.powerOn(this.iface);
    this.#checkCommits();
  }

  powerOff(): void {
    this.card.powerOff(this.iface);
  }

  reset(): void {
    this.card.reset(this.iface);
    this.#checkCommits();
  }

  transmit(capdu: Uint8Array): Uint8Array {
    try {
      return this.card.transmit(this.iface, capdu);
    } finally {
      this.#checkCommits();
    }
  }

  #checkCommits(): void {
    const n = this.card.commitCount;
    if (n === this.#commits) return;
    this.#commits = n;
    this.#onCommit?.();
  }
}
