/**
 * The applet contract: what the card runtime calls ({@link Applet}), what an applet sees during a command
 * ({@link ApduContext}), and the GlobalPlatform life-cycle and privilege codes the registry keeps.
 *
 * @module
 */
import type { ClaInfo, CommandApdu } from '@simtap/sdk/core/iso7816';
import type { Card } from './card';
import type { FileAccess, SecurityStatus } from './file-commands';
import type { FileSystem } from './file-system';
import type { PersistentStore, TransientStore } from './memory';

/** The two interfaces of the dual-interface SIM: ISO 7816-3 contacts and ISO 14443 (or RF-SIM) contactless. */
export type CardInterface = 'contact' | 'contactless';

/** Both interfaces, in a fixed order. */
export const CARD_INTERFACES: readonly CardInterface[] = Object.freeze(['contact', 'contactless'] as const);

/**
 * Why an applet is being selected: `aid` SELECT by name (full or partial AID); `file` SELECT by FID or path
 * reached its ADF; `implicit` default selection at power-up/reset on the basic channel, or on a channel opened
 * by MANAGE CHANNEL (its FCI is discarded).
 */
export type SelectReason = 'aid' | 'file' | 'implicit';

/**
 * Everything an applet may use while it handles one command (or its selection/deselection). The object is
 * owned by the runtime and reused: it is valid only during the call, never keep it.
 *
 * **Where the command came from.** `iface` and `channel` tell the interface and logical channel (0–19); an
 * applet refuses per interface simply by throwing (`IsoException.throwIt(SW.CONDITIONS_NOT_SATISFIED)`) or
 * stays invisible on an interface with `Applet.acceptsInterface`. `apdu` is the raw command as received and
 * `cla` its decoded class byte (logical channel, chaining, SM indication).
 *
 * **Memory.** `store` is the applet's own namespace of persistent memory; every write must happen inside
 * `atomically(() => …)` (a write outside throws `NOT_IN_TRANSACTION`, answered 6F00). All writes of one
 * `atomically` land together or not at all, also under power loss; an exception escaping `fn` rolls them
 * back. `transient` is RAM for this (interface, channel) selection — cleared when the applet is deselected on
 * the channel, the channel closes, or the interface is reset or powered off (JavaCard CLEAR_ON_DESELECT).
 * `resetTransient` is RAM for this applet on this interface, shared by its channels and cleared only by reset
 * or power off (CLEAR_ON_RESET). Applets keep no persistent state in object fields: a card image restores only
 * the store, and the applet object is rebuilt by its factory.
 *
 * **Outcome.** Return the response data (or `undefined`) for SW 9000. `setStatus(sw)` selects another success
 * SW — a warning 62xx/63xx (e.g. 6283 when selecting a blocked application, 6310 more data), 91xx, or 9000
 * again — still with the returned data. Any failure is `throw new IsoException(sw)`; only the dispatcher turns
 * it into SW bytes. Any other exception is a bug: it is logged (header only, never data or keys) and answered
 * 6F00, and the card stays usable.
 *
 * **Files.** `files` is this channel's file cursor and ISO file-command handler (READ/UPDATE BINARY,
 * READ/UPDATE/APPEND RECORD with SFI and access conditions); `security` holds the per-channel flags those
 * access conditions check (`pinVerified`, `secureMessaging`), which the applet sets (cleared on deselect).
 *
 * **Card.** `random(n)` draws from the card's (injectable) random source; `card` exposes the registry (for
 * the security domain), the file system and the other applets' stores.
 */
export interface ApduContext {
  readonly iface: CardInterface;
  readonly channel: number;
  /** The raw command APDU bytes (empty during implicit selection). */
  readonly apdu: Uint8Array;
  /** The decoded class byte of `apdu`. */
  readonly cla: ClaInfo;
  /** This applet's persistent namespace. */
  readonly store: PersistentStore;
  /** Cleared on deselect (per interface and channel), reset and power off. */
  readonly transient: TransientStore;
  /** Cleared on reset and power off (per interface, shared by the applet's channels). */
  readonly resetTransient: TransientStore;
  /** Per-channel verification flags checked by file access conditions. */
  readonly security: SecurityStatus;
  /** This channel's file cursor and file-command handler. */
  readonly files: FileAccess;
  /** The card this applet is installed on. */
  readonly card: Card;
  /**
   * Success status word for this command instead of 9000: 9000, 62xx, 63xx or 91xx.
   * @throws {ArgumentError} `BAD_ARGUMENT` for any other value.
   */
  setStatus(sw: number): void;
  /** Runs `fn` as one persistent-memory transaction (joins an enclosing one). */
  atomically<T>(fn: () => T): T;
  /** `length` random bytes from the card's random source. */
  random(length: number): Uint8Array;
}

/**
 * An application on the card (JavaCard-style). The runtime handles SELECT by AID/FID/path, MANAGE CHANNEL and
 * (in T=0 mode) GET RESPONSE; every other command on a channel where the applet is selected reaches `process`.
 */
export interface Applet {
  /** The application identifier, 5..16 bytes. */
  readonly aid: Uint8Array;
  /**
   * Factory key used to rebuild the applet from a card image (e.g. `'simtap.isd'`); an applet without a type
   * cannot be restored from an image.
   */
  readonly type?: string;
  /** False to stay invisible (not selectable, never default-selected) on an interface. Default: both. */
  acceptsInterface?(iface: CardInterface): boolean;
  /** Called once inside the install transaction: create the ADF and files, initial store records. */
  onInstall?(env: AppletEnv): void;
  /**
   * The applet is being selected; returns its FCI (response data of SELECT). Throw an `IsoException` to refuse
   * selection (the channel is then left with no applet selected).
   */
  select(ctx: ApduContext, reason: SelectReason): Uint8Array | undefined;
  /**
   * The applet is being deselected (another selection on the channel, or the channel closes). Not called on
   * reset, power off or a tear: no code runs when power goes; transient memory is simply lost.
   */
  deselect?(ctx: ApduContext): void;
  /** Handles one command; returns the response data for SW 9000 (or the SW set with `ctx.setStatus`). */
  process(ctx: ApduContext, cmd: CommandApdu): Uint8Array | undefined;
}

/** What an applet gets at install time and what a factory gets to rebuild it. */
export interface AppletEnv {
  readonly aid: Uint8Array;
  /** The applet's persistent namespace (writes inside `atomically`; install already runs in one). */
  readonly store: PersistentStore;
  /** The card's file system. */
  readonly files: FileSystem;
  readonly card: Card;
}

/**
 * Rebuilds an applet of one type from a card image: it receives the AID and the applet's restored store and
 * returns a fresh applet object that reads its state from that store.
 */
export type AppletFactory = (env: AppletEnv) => Applet;

/**
 * GlobalPlatform application / security-domain life-cycle states (GPC 2.3.1 §11.1.1, tables 11-4 and 11-5). An
 * applet is selectable when b8 = 0 and b3..b1 = 111; `LOCKED` sets b8 on top of the previous state.
 */
export const LIFECYCLE = {
  /** GPC §5.3.1.1: installed, not yet selectable. */
  INSTALLED: 0x03,
  /** GPC §5.3.1.2: selectable. */
  SELECTABLE: 0x07,
  /** GPC §5.3.2.3: security domain personalized (also usable as an application-specific state). */
  PERSONALIZED: 0x0f,
  /** GPC §5.3.1.4: locked (b8 set), from SELECTABLE. */
  LOCKED: 0x83,
} as const;

/** GlobalPlatform card life-cycle states (GPC 2.3.1 §5.1, table 11-6). */
export const CARD_LIFECYCLE = {
  OP_READY: 0x01,
  INITIALIZED: 0x07,
  SECURED: 0x0f,
  CARD_LOCKED: 0x7f,
  TERMINATED: 0xff,
} as const;

/** GlobalPlatform privileges, first byte (GPC 2.3 §11.1.2, Table 6-1); the registry keeps all 3 bytes. */
export const PRIVILEGE = {
  SECURITY_DOMAIN: 0x80,
  DAP_VERIFICATION: 0x40,
  DELEGATED_MANAGEMENT: 0x20,
  CARD_LOCK: 0x10,
  CARD_TERMINATE: 0x08,
  /** Card Reset: default selected on the basic channel. */
  CARD_RESET: 0x04,
  CVM_MANAGEMENT: 0x02,
  MANDATED_DAP_VERIFICATION: 0x01,
} as const;

/** True when a GP life-cycle byte allows selection (b8 = 0 and b3..b1 = 111). */
export function isSelectableLifecycle(lifecycle: number): boolean {
  return (lifecycle & 0x80) === 0 && (lifecycle & 0x07) === 0x07;
}
