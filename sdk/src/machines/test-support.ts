/**
 * Test seam of the machines: a scripted {@link CardChannel} that checks each command against an expected hex
 * prefix and answers with a scripted response or failure. Not part of the public API.
 *
 * @internal
 * @module
 */
import { type CardChannel, transportError } from '../card/channel';
import { fromHex, toHex } from '../core/bytes';

/** One scripted exchange: the command must start with `cmd` (hex, spaces allowed, `''` = anything). */
export type ScriptStep =
  | { readonly cmd: string; readonly rsp: string }
  | { readonly cmd: string; readonly fail: unknown }
  | { readonly cmd: string; readonly reply: (capdu: Uint8Array) => Uint8Array };

/** A channel that plays a script and records what it was sent (upper-case hex). */
export class ScriptedChannel implements CardChannel {
  readonly description = 'scripted channel';
  readonly sent: string[] = [];
  readonly #steps: ScriptStep[] = [];

  constructor(steps: readonly ScriptStep[] = []) {
    this.#steps.push(...steps);
  }

  /** Appends steps. */
  push(...steps: ScriptStep[]): this {
    this.#steps.push(...steps);
    return this;
  }

  /** Steps not played yet. */
  get remaining(): number {
    return this.#steps.length;
  }

  async transmit(capdu: Uint8Array): Promise<Uint8Array> {
    const hex = toHex(capdu).toUpperCase();
    this.sent.push(hex);
    const step = this.#steps.shift();
    if (step === undefined) throw transportError('TRACE_EXHAUSTED', `script exhausted at ${hex}`);
    const want = step.cmd.replace(/\s+/g, '').toUpperCase();
    if (!hex.startsWith(want)) throw transportError('TRACE_MISMATCH', `expected ${want}…, got ${hex}`);
    if ('fail' in step) throw step.fail;
    if ('reply' in step) return step.reply(capdu);
    return fromHex(step.rsp);
  }

  async close(): Promise<void> {}
}

/** The transport error a channel throws when the card leaves the field. */
export const cardRemoved = (): Error => transportError('CARD_REMOVED', 'card removed (scripted)');
