/**
 * A door controller: a reader ({@link checkCard}), a lock, and a {@link MachineAgent} to the back office. It decides
 * offline from the config it runs — door rules and the platform's signed blacklist, both verified by the agent — and
 * its own clock; every decision goes into its audit journal and out to the back office.
 *
 * Each decision is an audit event, numbered by the door (`auditSeq` 1, 2, 3 …): appended to `audit.jsonl` in its
 * directory and flushed to the disk, then recorded with its agent as a machine event (`door.decision`, no money):
 * durable in the agent's buffer and delivered to the back office exactly once and in order, also when the door was
 * offline for a while or restarted. At start the door records its last journal event again (a crash may have come
 * between the journal and the agent); the back office stores events by (door, auditSeq), so that copy is dropped, and
 * it sees any gap.
 *
 * @module
 */
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Card } from '@simtap/applet-emu/runtime';
import { InProcessChannel } from '@simtap/sdk/card';
import { MachineAgent, type MachineEvent } from '@simtap/sdk/clients';
import type { RandomSource } from '@simtap/sdk/core/crypto';
import type { Clock } from '@simtap/sdk/machines';
import { type AccessReason, decide, localTime } from './policy';
import { checkCard } from './reader';

/** The errno of a journal that does not exist yet. */
const NO_FILE = new Set(['ENOENT']);

/** One decision of a door, as the audit log keeps it. */
export interface AccessEvent {
  /** The door's own sequence number, 1, 2, 3 … */
  readonly auditSeq: number;
  readonly machineId: string;
  readonly door: string;
  /** Local time, `YYYY-MM-DD hh:mm:ss`. */
  readonly at: string;
  /** The card's serial, `-` when the card could not be read. */
  readonly card: string;
  readonly granted: boolean;
  readonly reason: AccessReason;
  /** The blacklist version the door ran. */
  readonly blacklistVersion: number;
}

/** The name of a door's decision event on the machine link. */
export const DOOR_DECISION = 'door.decision';

/** A decision as the machine event the agent delivers. */
export function decisionRecord(e: AccessEvent): MachineEvent {
  return {
    event: DOOR_DECISION,
    at: e.at,
    data: {
      auditSeq: e.auditSeq,
      door: e.door,
      card: e.card,
      granted: e.granted,
      reason: e.reason,
      blacklistVersion: e.blacklistVersion,
    },
  };
}

/** Options of {@link DoorController}. */
export interface DoorOptions {
  /** The door's name in the door rules (`lobby`). */
  readonly door: string;
  /** The machine id the back office knows it by. */
  readonly machineId: string;
  /** The back office's `/v1/machine` URL. */
  readonly hubUrl: string;
  readonly secret: Uint8Array | string;
  /** The platform's blacklist key, set up with the door. */
  readonly blacklistPublicKey: string;
  /** The issuer's external-authentication master key, in the reader's secure element. */
  readonly masterKey: Uint8Array;
  /** The door's directory: the agent's buffer and config, and `audit.jsonl`. */
  readonly dir: string;
  readonly clock: Clock;
  readonly random?: RandomSource;
}

/** A door: taps in, decisions out (see the module's description). */
export class DoorController {
  readonly door: string;
  readonly machineId: string;
  readonly agent: MachineAgent;
  /** Every decision, in order. */
  readonly journal: AccessEvent[] = [];
  readonly #options: DoorOptions;

  constructor(options: DoorOptions) {
    this.#options = options;
    this.door = options.door;
    this.machineId = options.machineId;
    this.agent = new MachineAgent({
      url: options.hubUrl,
      machineId: options.machineId,
      secret: options.secret,
      blacklistPublicKey: options.blacklistPublicKey,
      bufferDir: join(options.dir, 'agent'),
      reconnect: { initialDelayMs: 50, maxDelayMs: 1000 },
    });
  }

  /**
   * Reads the journal back (numbering goes on after a restart; a torn last line of a crash is dropped), opens the
   * agent's buffer and connects in the background.
   */
  async start(): Promise<void> {
    await mkdir(this.#options.dir, { recursive: true });
    let text = '';
    try {
      text = await readFile(this.#journalPath, 'utf8');
    } catch (e) {
      if (!NO_FILE.has((e as NodeJS.ErrnoException).code ?? '')) throw e; // a new door has no journal yet
    }
    const complete = text.split('\n').slice(0, -1); // the last piece is '' or a torn line
    this.journal.splice(0, this.journal.length, ...complete.map((l) => JSON.parse(l) as AccessEvent));
    if (!text.endsWith('\n') && text.length > 0)
      await writeFile(this.#journalPath, complete.map((l) => `${l}\n`).join(''));
    await this.agent.start();
    // A crash between the journal and the agent would leave the last event undelivered: record it again (the back
    // office drops a copy it has by its auditSeq).
    const last = this.journal.at(-1);
    if (last !== undefined) await this.agent.record(decisionRecord(last));
  }

  get #journalPath(): string {
    return join(this.#options.dir, 'audit.jsonl');
  }

  /** Resolves once the door runs a config of at least `version`. */
  runs(version: number, timeoutMs = 5000): Promise<void> {
    if ((this.agent.config?.version ?? 0) >= version) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`${this.machineId}: no config ${version} within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.agent.on('config', (e) => {
        if (e.version < version) return;
        clearTimeout(timer);
        off();
        resolve();
      });
    });
  }

  /** The card is held to the reader: check it, decide, log, report. */
  async tap(card: Card): Promise<AccessEvent> {
    if (card.isPowered('contactless')) card.powerOff('contactless');
    card.powerOn('contactless');
    const channel = new InProcessChannel(
      { transmit: (c) => card.transmit('contactless', c) },
      { description: `${this.machineId} reader` },
    );
    let check: Awaited<ReturnType<typeof checkCard>>;
    try {
      check = await checkCard(channel, this.#options.masterKey, {
        ...(this.#options.random ? { random: this.#options.random } : {}),
      });
    } finally {
      card.powerOff('contactless');
    }
    const at = localTime(this.#options.clock.now());
    const config = this.agent.config;
    const { granted, reason } = decide({
      door: this.door,
      check,
      rules: config === undefined ? undefined : (config.doors ?? []),
      isBlacklisted: (serial) => this.agent.isBlacklisted(serial),
      at,
    });
    const event: AccessEvent = {
      auditSeq: this.journal.length + 1,
      machineId: this.machineId,
      door: this.door,
      at: at.stamp,
      card: check.kind === 'unreadable' ? '-' : check.serial,
      granted,
      reason,
      blacklistVersion: config?.blacklistVersion ?? 0,
    };
    this.journal.push(event);
    await this.#append(event);
    await this.agent.record(decisionRecord(event));
    return event;
  }

  /** Appends one event to the journal and flushes it to the disk. */
  async #append(event: AccessEvent): Promise<void> {
    const file = await open(this.#journalPath, 'a');
    try {
      await file.appendFile(`${JSON.stringify(event)}\n`);
      await file.datasync();
    } finally {
      await file.close();
    }
  }

  /** Closes the link; the journal stays in `audit.jsonl`. */
  async stop(): Promise<void> {
    await this.agent.stop();
  }
}
