/**
 * Library and dorm doors: no money moves. A door opens when
 *
 * 1. the card is genuine — INTERNAL AUTHENTICATE of a fresh reader random, answered under the card-unique key (the
 *    card's DEAK diversified once more with its serial), which the door recomputes from the issuer's
 *    external-authentication master key (held in the door's SAM in a real installation);
 * 2. the card accepts the door — GET CHALLENGE, then EXTERNAL AUTHENTICATE with 3DES-ECB(DEAK, challenge);
 * 3. the card is not on the platform's blacklist the door last received from the back office; and
 * 4. a door rule of the back office's config lets this card through this door now (residents only for a dorm,
 *    opening hours for the library).
 *
 * @module
 */
import type { Card } from '@simtap/applet-emu/runtime';
import { concat, equalCt, toHex, wipe } from '@simtap/sdk/core/bytes';
import { desEcbEncrypt, type RandomSource, randomBytes } from '@simtap/sdk/core/crypto';
import { parseResponseApdu } from '@simtap/sdk/core/iso7816';
import { diversificationDataOf, diversifyPbocKey, pbocExternalAuthCryptogram } from '@simtap/sdk/core/pboc';
import type { Clock } from '@simtap/sdk/machines';
import type { CampusMachine } from './machines';
import { type CampusReader, readCardSerial } from './reader';

/** Why a door opened or stayed shut. */
export const DOOR_REASONS = {
  granted: 'the card and the door authenticated each other and a rule lets the card through',
  notGenuine: "the card's INTERNAL AUTHENTICATE answer does not verify: not a card of this issuer",
  doorRefused: 'the card refused the door’s EXTERNAL AUTHENTICATE cryptogram',
  blacklisted: "the card is on the platform's blacklist",
  notPermitted: 'no rule of this door lists the card (a dorm: residents only)',
  outsideHours: 'the card may use this door, but not at this time',
  noConfig: 'the door has no config from the back office yet',
} as const;
/** A key of {@link DOOR_REASONS}. */
export type DoorReason = keyof typeof DOOR_REASONS;

/** A door rule as the back office pushes it (the `doors` of a machine config). */
export interface DoorRule {
  readonly door: string;
  readonly cards?: readonly string[] | undefined;
  readonly days?: readonly number[] | undefined;
  readonly from: string;
  readonly to: string;
}

/** What a door decided at one tap. */
export interface DoorDecision {
  readonly door: string;
  /** The card's application serial, hex. */
  readonly serial: string;
  readonly granted: boolean;
  readonly reason: DoorReason;
}

/** Minutes since midnight and weekday (0 Sunday) of `at` in the door's time zone (minutes east of UTC). */
function localTime(at: Date, offsetMinutes: number): { minutes: number; weekday: number } {
  const local = new Date(at.getTime() + offsetMinutes * 60_000);
  return { minutes: local.getUTCHours() * 60 + local.getUTCMinutes(), weekday: local.getUTCDay() };
}

function minutesOf(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(2, 4));
}

/** True when `minutes` lies in [from, to); a `to` before `from` runs past midnight. */
function within(minutes: number, from: string, to: string): boolean {
  const a = minutesOf(from);
  const b = minutesOf(to);
  return a <= b ? minutes >= a && minutes < b : minutes >= a || minutes < b;
}

/**
 * Whether the rules let card `serial` (hex) through `door` at `at`: `granted`, `outsideHours` (a rule names the
 * card, or every card, but not at this time or day), or `notPermitted` (no rule of the door covers the card).
 */
export function checkDoorRules(
  rules: readonly DoorRule[],
  door: string,
  serial: string,
  at: Date,
  offsetMinutes = 480,
): Extract<DoorReason, 'granted' | 'outsideHours' | 'notPermitted'> {
  const { minutes, weekday } = localTime(at, offsetMinutes);
  const serialUpper = serial.toUpperCase();
  const forCard = rules.filter(
    (r) => r.door === door && (r.cards === undefined || r.cards.some((c) => c.toUpperCase() === serialUpper)),
  );
  if (forCard.length === 0) return 'notPermitted';
  const now = forCard.some((r) => (r.days === undefined || r.days.includes(weekday)) && within(minutes, r.from, r.to));
  return now ? 'granted' : 'outsideHours';
}

/** Options of {@link CampusDoor}. */
export interface CampusDoorOptions {
  /** The door's name in the rules (`library`, `dorm-east`, …). */
  readonly door: string;
  /** The door's link to the back office (its config: rules and blacklist). */
  readonly machine: CampusMachine;
  readonly reader: CampusReader;
  /** The issuer's external-authentication master key (the door's SAM). */
  readonly externalAuthMasterKey: Uint8Array;
  readonly clock: Clock;
  /** DEAK key index (P2 of INTERNAL / EXTERNAL AUTHENTICATE); default 1. */
  readonly keyIndex?: number;
  /** Source of the door's INTERNAL AUTHENTICATE randoms; default the system's. */
  readonly random?: RandomSource;
}

/** A door reader of the campus. */
export class CampusDoor {
  readonly door: string;
  readonly #o: CampusDoorOptions;

  constructor(options: CampusDoorOptions) {
    this.door = options.door;
    this.#o = options;
  }

  /**
   * A card is held to the door.
   * @throws {Error} when the card has no e-purse or its EF 0x15 cannot be read (nothing this door can judge).
   */
  async tap(card: Card): Promise<DoorDecision> {
    const { reader, machine } = this.#o;
    reader.present(card);
    try {
      const serialBytes = await readCardSerial(reader);
      const serial = toHex(serialBytes).toUpperCase();
      const decide = (reason: DoorReason): DoorDecision => ({
        door: this.door,
        serial,
        granted: reason === 'granted',
        reason,
      });
      const kk = this.#o.keyIndex ?? 1;
      const d = diversificationDataOf(serialBytes);
      const deak = diversifyPbocKey(this.#o.externalAuthMasterKey, d);
      const cardKey = diversifyPbocKey(deak, d);
      try {
        // 1. the card proves itself
        const challenge = (this.#o.random ?? randomBytes)(8);
        const ia = await reader.transmit(
          concat(Uint8Array.of(0x00, 0x88, 0x00, kk, 0x08), challenge, Uint8Array.of(8)),
        );
        const answer = parseResponseApdu(ia);
        if (
          answer.sw !== 0x9000 ||
          answer.data.length !== 8 ||
          !equalCt(answer.data, desEcbEncrypt(cardKey, challenge))
        )
          return decide('notGenuine');
        // 2. the door proves itself to the card
        const gc = parseResponseApdu(await reader.transmit(Uint8Array.of(0x00, 0x84, 0x00, 0x00, 0x08)));
        if (gc.sw !== 0x9000 || gc.data.length !== 8) return decide('doorRefused');
        const cryptogram = pbocExternalAuthCryptogram(deak, gc.data);
        const ea = parseResponseApdu(
          await reader.transmit(concat(Uint8Array.of(0x00, 0x82, 0x00, kk, 0x08), cryptogram)),
        );
        if (ea.sw !== 0x9000) return decide('doorRefused');
      } finally {
        wipe(deak, cardKey);
      }
      // 3–4. the back office's word: blacklist and rules
      const config = machine.agent.config;
      if (config === undefined) return decide('noConfig');
      if (machine.agent.isBlacklisted(serial)) return decide('blacklisted');
      return decide(checkDoorRules(config.doors ?? [], this.door, serial, this.#o.clock.now()));
    } finally {
      reader.remove();
    }
  }
}
