/**
 * Test helper: a real pcscd with vsmartcard's vpcd virtual reader driver, shared safely between test files.
 *
 * Only one pcscd can run per machine, and vitest runs test files in parallel processes, so the helper keeps a
 * small state directory (`$TMPDIR/simtap-pcscd`) guarded by a mkdir lock: the first caller starts pcscd, later
 * callers register as holders, and the last holder to stop kills the pcscd a simtap test started. A pcscd that was
 * already running (started by someone else) is reused and never stopped. Each test file also claims a vpcd slot
 * ({@link claimVpcdSlot}) so two files never plug their virtual cards into the same reader.
 *
 * When pcscd or the vpcd driver is missing, {@link startPcscd} returns `null` and prints one line naming the Debian
 * packages; under `CI=true` a missing pcscd is an error instead (CI installs them in `.ci/install-system-packages`).
 *
 * @example
 * const pcscd = await startPcscd();
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

/** The Debian packages the PC/SC integration tests need. */
export const PCSCD_INSTALL_HINT = 'apt-get install pcscd vsmartcard-vpcd opensc libpcsclite-dev';

/** pcscd's client socket. */
export const PCSCD_SOCKET = '/run/pcscd/pcscd.comm';

/** vsmartcard's reader.conf entry that makes pcscd load the vpcd driver. */
const VPCD_READER_CONF = '/etc/reader.conf.d/vpcd';

/** Number of vpcd slots of the Debian build (ports 35963 and 35964). */
export const VPCD_SLOT_COUNT = 2;

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
}

interface OwnerRecord {
  pid: number;
}

let skipNoticePrinted = false;
let holderSeq = 0;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function findPcscdBinary(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = path.join(dir, 'pcscd');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** Reads the LIBPATH of the vpcd reader.conf entry and checks the driver exists. */
function vpcdDriverInstalled(): boolean {
  let conf: string;
  try {
    conf = fs.readFileSync(VPCD_READER_CONF, 'utf8');
  } catch {
    return false;
  }
  const lib = /^\s*LIBPATH\s+(\S+)/m.exec(conf)?.[1];
  return lib !== undefined && fs.existsSync(lib);
}

/** PIDs of running processes named `pcscd` (what `pgrep -x pcscd` prints, minus zombies). */
export function runningPcscdPids(): number[] {
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return pids;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const pid = Number(entry);
      if (fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'pcscd' && !isZombie(pid)) pids.push(pid);
    } catch {
      // process gone
    }
  }
  return pids;
}

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

/** Why pcscd cannot be used here, or null when it can. */
function unavailableReason(): string | null {
  if (process.platform !== 'linux') return `PC/SC integration tests need Linux (this is ${process.platform})`;
  if (!findPcscdBinary()) return 'pcscd is not installed';
  if (!vpcdDriverInstalled()) return `the vpcd driver is not installed (${VPCD_READER_CONF})`;
  if (runningPcscdPids().length === 0 && typeof process.getuid === 'function' && process.getuid() !== 0) {
    return 'pcscd is not running and starting it needs root';
  }
  return null;
}

/**
 * Starts pcscd (`--foreground --apdu --debug`) with the vpcd driver, or reuses the running one.
 * Returns `null` (after one notice line) when pcscd or vpcd is not installed; throws instead when `CI=true`.
 */
export async function startPcscd(options: StartPcscdOptions = {}): Promise<PcscdHandle | null> {
  const reason = unavailableReason();
  if (reason !== null) {
    const line = `${reason}: PC/SC tests skipped; install with \`${PCSCD_INSTALL_HINT}\``;
    if (process.env.CI === 'true') throw new Error(`CI=true but ${line.replace('skipped', 'cannot run')}`);
    if (!skipNoticePrinted) console.warn(line);
    skipNoticePrinted = true;
    return null;
  }
  const holder = `${process.pid}-${++holderSeq}`;
  const ours = await withLock(async () => {
    const owner = readOwner();
    const running = runningPcscdPids();
    if (owner && !running.includes(owner.pid)) fs.rmSync(OWNER_FILE, { force: true });
    let weStarted = owner !== null && running.includes(owner.pid);
    if (running.length === 0) {
      fs.rmSync(PCSCD_SOCKET, { force: true }); // stale socket of a killed pcscd: would fool waitForSocket
      const bin = findPcscdBinary()!;
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
