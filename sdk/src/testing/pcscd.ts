/**
 * Test helper: a real pcscd with vsmartcard's vpcd virtual reader driver, shared safely between test files.
 *
 * Only one pcscd can run per machine, and vitest runs test files in parallel processes, so the helper keeps a
 * small state directory (`$TMPDIR/simtap-pcscd`) guarded by a mkdir lock: the first caller starts pcscd, later
 * callers register as holders, and the last holder to stop kills the pcscd a simtap test started. A pcscd that was
 * already running (started by someone else) is reused and never stopped. Each test file also claims a vpcd slot
 * ({@link claimVpcdSlot}) so two files never plug their virtual cards into the same reader.
 *
 Each caller names the optional parts it needs besides pcscd and the vpcd driver (`needs`: the `smartcard` module
 * for `PcscChannel`, `opensc-tool`); when one is missing {@link startPcscd} returns `null` after one line naming the
 * Debian packages and the command that enables them (`./pcsc-parts`), and under `CI=true` it throws instead (CI
 * installs every part in `.ci/install-system-packages`).
 *
 * @example
 * const pcscd = await startPcscd({ subject: 'PcscChannel through pcscd', needs: ['smartcard'] });
 * describe.skipIf(pcscd === null)('through real pcscd', () => {
 *   afterAll(() => pcscd?.stop());
 *   // ...
 * });
 * @module
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  checkPcscParts,
  findExecutable,
  PCSC_PART_PACKAGES,
  PCSC_PARTS,
  type PcscPart,
  runningPcscdPids,
} from './pcsc-parts';

export { runningPcscdPids };

/** The Debian packages the PC/SC integration tests need, as an install command. */
export const PCSCD_INSTALL_HINT = `apt-get install ${PCSC_PARTS.map((p) => PCSC_PART_PACKAGES[p]).join(' ')}`;

/** pcscd's client socket. */
export const PCSCD_SOCKET = '/run/pcscd/pcscd.comm';

/** Number of vpcd slots of the Debian build (ports 35963 and 35964). */
export const VPCD_SLOT_COUNT = 2;

/**
 * Timeout for a test hook that claims a vpcd slot and connects a card: the claim may wait up to a minute for another
 * file to free a slot (there are {@link VPCD_SLOT_COUNT} and more PC/SC test files), then the card connects.
 */
export const VPCD_HOOK_TIMEOUT_MS = 120_000;

const STATE_DIR = path.join(tmpdir(), 'simtap-pcscd');
const LOCK_DIR = path.join(STATE_DIR, 'lock');
const OWNER_FILE = path.join(STATE_DIR, 'owner.json');
const HOLDERS_DIR = path.join(STATE_DIR, 'holders');
const LOG_FILE = path.join(STATE_DIR, 'pcscd.log');

/** A running pcscd this process may use. */
export interface PcscdHandle {
  /** Releases this process's hold; kills pcscd if a simtap test started it and no other holder remains. */
  stop(): Promise<void>;
  /** pcscd's output so far (`--apdu --debug`); empty when an externally started pcscd is reused. */
  readonly log: string;
  /** True when a simtap test started this pcscd (false: it was already running and is only reused). */
  readonly ours: boolean;
}

/** Options of {@link startPcscd}. */
export interface StartPcscdOptions {
  /** Start without `--apdu --debug` (for throughput measurements); ignored when pcscd is already running. */
  quiet?: boolean;
  /** Wait this long for pcscd's socket (default 10 s). */
  timeoutMs?: number;
  /**
   * Optional parts the caller needs besides pcscd and the vpcd driver (default `['opensc-tool']`, what the bridge
   * tests drive the reader with); `PcscChannel` needs `'smartcard'`.
   */
  needs?: readonly PcscPart[];
  /** What the skip line calls the caller (default `PC/SC tests`). */
  subject?: string;
}

interface OwnerRecord {
  pid: number;
}

let holderSeq = 0;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A zombie (exited, not reaped yet: its parent may be gone) counts as dead. */
function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return !isZombie(pid);
}

/** Runs `fn` under the cross-process lock (mkdir is atomic); breaks a lock left by a dead or stuck process. */
async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(STATE_DIR, { recursive: true });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      fs.mkdirSync(LOCK_DIR);
      fs.writeFileSync(path.join(LOCK_DIR, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let holder = 0;
      try {
        holder = Number(fs.readFileSync(path.join(LOCK_DIR, 'pid'), 'utf8'));
      } catch {
        // the holder has not written its pid yet
      }
      const age = Date.now() - (fs.statSync(LOCK_DIR, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if ((holder > 0 && !alive(holder)) || age > 30_000) fs.rmSync(LOCK_DIR, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`pcscd helper: lock ${LOCK_DIR} held by pid ${holder}`);
      else await sleep(25);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(LOCK_DIR, { recursive: true, force: true });
  }
}

function readOwner(): OwnerRecord | null {
  try {
    const rec = JSON.parse(fs.readFileSync(OWNER_FILE, 'utf8')) as OwnerRecord;
    return typeof rec.pid === 'number' ? rec : null;
  } catch {
    return null;
  }
}

/** Holder files are named `<pid>-<seq>`; drops those of dead processes and returns the live ones. */
function liveHolders(): string[] {
  fs.mkdirSync(HOLDERS_DIR, { recursive: true });
  const live: string[] = [];
  for (const name of fs.readdirSync(HOLDERS_DIR)) {
    const pid = Number(name.split('-')[0]);
    if (pid > 0 && alive(pid)) live.push(name);
    else fs.rmSync(path.join(HOLDERS_DIR, name), { force: true });
  }
  return live;
}

async function waitForSocket(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fs.existsSync(PCSCD_SOCKET)) {
    if (!alive(pid)) throw new Error(`pcscd exited during start-up; see ${LOG_FILE}`);
    if (Date.now() > deadline) throw new Error(`pcscd socket ${PCSCD_SOCKET} missing after ${timeoutMs} ms`);
    await sleep(20);
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      await sleep(100);
      return;
    }
    await sleep(25);
  }
}

/**
 * Starts pcscd (`--foreground --apdu --debug`) with the vpcd driver, or reuses the running one.
 * Returns `null` (after one skip line naming the packages and the enabling command) when pcscd, the vpcd driver or
 * a part in `needs` is missing; throws `PcscPartMissingError` with that line instead when `CI=true`.
 */
export async function startPcscd(options: StartPcscdOptions = {}): Promise<PcscdHandle | null> {
  const needs: PcscPart[] = ['pcscd', 'vpcd', ...(options.needs ?? ['opensc-tool'])];
  if ((await checkPcscParts(options.subject ?? 'PC/SC tests', needs)) !== null) return null;
  const holder = `${process.pid}-${++holderSeq}`;
  const ours = await withLock(async () => {
    const owner = readOwner();
    const running = runningPcscdPids();
    if (owner && !running.includes(owner.pid)) fs.rmSync(OWNER_FILE, { force: true });
    let weStarted = owner !== null && running.includes(owner.pid);
    if (running.length === 0) {
      fs.rmSync(PCSCD_SOCKET, { force: true }); // stale socket of a killed pcscd: would fool waitForSocket
      const bin = findExecutable('pcscd')!;
      const args = options.quiet ? ['--foreground'] : ['--foreground', '--apdu', '--debug'];
      const fd = fs.openSync(LOG_FILE, 'w');
      const child = spawn(bin, args, { detached: true, stdio: ['ignore', fd, fd] });
      fs.closeSync(fd);
      child.unref();
      if (child.pid === undefined) throw new Error('pcscd helper: could not spawn pcscd');
      fs.writeFileSync(OWNER_FILE, JSON.stringify({ pid: child.pid } satisfies OwnerRecord));
      await waitForSocket(child.pid, options.timeoutMs ?? 10_000);
      weStarted = true;
    }
    fs.mkdirSync(HOLDERS_DIR, { recursive: true });
    fs.writeFileSync(path.join(HOLDERS_DIR, holder), '');
    return weStarted;
  });
  let stopped = false;
  return {
    ours,
    get log(): string {
      if (!ours) return '';
      try {
        return fs.readFileSync(LOG_FILE, 'utf8');
      } catch {
        return '';
      }
    },
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      await withLock(async () => {
        fs.rmSync(path.join(HOLDERS_DIR, holder), { force: true });
        const owner = readOwner();
        if (!owner || liveHolders().length > 0) return;
        if (alive(owner.pid)) {
          process.kill(owner.pid, 'SIGTERM');
          await waitForExit(owner.pid, 5_000);
        }
        fs.rmSync(OWNER_FILE, { force: true });
      });
    },
  };
}

/** A vpcd slot claimed by this process: the port its virtual card connects to and the reader pcscd shows. */
export interface VpcdSlot {
  /** Slot number (0-based). */
  readonly slot: number;
  /** TCP port of pcscd's vpcd listener for this slot. */
  readonly port: number;
  /** Matches the PC/SC reader name of this slot (`Virtual PCD 00 0n`). */
  readonly readerPattern: RegExp;
  /** Frees the slot for other test files. */
  release(): Promise<void>;
}

/**
 * Claims a free vpcd slot for the calling test file (waits for one, up to `timeoutMs`), so parallel test files
 * never connect two virtual cards to the same reader.
 */
export async function claimVpcdSlot(timeoutMs = 60_000): Promise<VpcdSlot> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const slot = await withLock(async () => {
      for (let n = 0; n < VPCD_SLOT_COUNT; n++) {
        const file = path.join(STATE_DIR, `slot-${n}`);
        let pid = 0;
        try {
          pid = Number(fs.readFileSync(file, 'utf8'));
        } catch {
          // free
        }
        if (pid > 0 && alive(pid)) continue;
        fs.writeFileSync(file, String(process.pid));
        return n;
      }
      return -1;
    });
    if (slot >= 0) {
      let released = false;
      return {
        slot,
        port: 35963 + slot,
        readerPattern: new RegExp(`^Virtual PCD \\d\\d 0${slot}$`),
        async release(): Promise<void> {
          if (released) return;
          released = true;
          await withLock(async () => fs.rmSync(path.join(STATE_DIR, `slot-${slot}`), { force: true }));
        },
      };
    }
    if (Date.now() > deadline) throw new Error(`no free vpcd slot after ${timeoutMs} ms`);
    await sleep(100);
  }
}
