/**
 * Card images on disk: {@link saveImage} writes crash-safe (temporary file in the same directory, write, fsync,
 * rename over the old image, fsync the directory), so a crash or a failed save leaves the last good image in
 * place; {@link loadImage} refuses anything corrupt or truncated.
 *
 * **Applets in images.** An image holds persistent memory only. Each registry entry records its applet's
 * `type`; loading calls the factory registered for that type (`options.factories`, plus the built-in types)
 * with the applet's AID and restored store, and the new applet object reads its state from that store. So an
 * applet must keep all persistent state in `ctx.store` (or the file system) and expose a `type`.
 *
 * **One user at a time.** {@link lockImage} takes an exclusive lock on an image (`<image>.lock`, created
 * atomically, holding the owner's PID and host) for as long as a process uses it, so two processes never run the
 * same card and overwrite each other's saves. A lock whose process is gone (on this host) is stale and taken over.
 *
 * @module
 */
import { readFileSync, unlinkSync } from 'node:fs';
import { link, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { SimtapError } from '@simtap/sdk/core/errors';
import { Card, type CardOptions } from './card';
import { CardImageError } from './errors';
import { decodeCardImage, encodeCardImage } from './image';

/** The part of a file handle {@link saveImage} uses (node's `FileHandle` fits). */
export interface ImageFileHandle {
  write(data: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** File-system operations used for images; inject to simulate failures in tests (default `node:fs/promises`). */
export interface ImageIo {
  open(path: string, flags: string, mode?: number): Promise<ImageFileHandle>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  readFile(path: string): Promise<Uint8Array>;
}

/** The default {@link ImageIo}: `node:fs/promises`. */
export const nodeImageIo: ImageIo = {
  open: (path, flags, mode) => open(path, flags, mode),
  rename,
  unlink,
  readFile: async (path) => new Uint8Array(await readFile(path)),
};

/** Options of {@link saveImage} and {@link loadImage}. */
export interface ImageFileOptions {
  readonly io?: ImageIo;
}

let tmpCounter = 0;

function errno(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as { code?: string }).code : undefined;
}

/**
 * Saves `card`'s persistent state to `path`, crash-safe. On failure the previous file at `path` is untouched and
 * the temporary file removed.
 * @throws {CardImageError} `IMAGE_IO` (with the file-system error as `cause`).
 * @throws {StoreError} `TRANSACTION_OPEN` when called inside `card.atomically`.
 */
export async function saveImage(card: Card, path: string, options: ImageFileOptions = {}): Promise<void> {
  const io = options.io ?? nodeImageIo;
  const bytes = encodeCardImage(card.snapshot());
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${++tmpCounter}.tmp`);
  let created = false;
  try {
    const fh = await io.open(tmp, 'wx', 0o600);
    created = true;
    try {
      let off = 0;
      while (off < bytes.length) {
        const { bytesWritten } = await fh.write(bytes, off, bytes.length - off, off);
        if (bytesWritten <= 0) throw new Error('write made no progress');
        off += bytesWritten;
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    await io.rename(tmp, path);
    created = false;
    await syncDir(io, dir);
  } catch (err) {
    if (created) await io.unlink(tmp).catch(() => undefined);
    throw new CardImageError('IMAGE_IO', `could not save the card image to ${path}`, undefined, { cause: err });
  }
}

/** fsync of the directory so the rename itself is durable; skipped where the platform cannot. */
async function syncDir(io: ImageIo, dir: string): Promise<void> {
  let dh: ImageFileHandle;
  try {
    dh = await io.open(dir, 'r');
  } catch (err) {
    const code = errno(err);
    if (code === 'EISDIR' || code === 'EPERM' || code === 'EACCES') return; // e.g. Windows
    throw err;
  }
  try {
    await dh.sync();
  } catch (err) {
    const code = errno(err);
    if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EPERM' && code !== 'EBADF') throw err;
  } finally {
    await dh.close();
  }
}

/**
 * Loads a card from the image at `path`.
 * @throws {CardImageError} `IMAGE_NOT_FOUND`, `IMAGE_IO`, `IMAGE_TRUNCATED`, `IMAGE_CORRUPT`, `IMAGE_VERSION`,
 *   `IMAGE_APPLET_UNKNOWN`.
 */
export async function loadImage(path: string, options: CardOptions & ImageFileOptions = {}): Promise<Card> {
  const io = options.io ?? nodeImageIo;
  let bytes: Uint8Array;
  try {
    bytes = await io.readFile(path);
  } catch (err) {
    if (errno(err) === 'ENOENT')
      throw new CardImageError('IMAGE_NOT_FOUND', `no card image at ${path}`, undefined, { cause: err });
    throw new CardImageError('IMAGE_IO', `could not read the card image ${path}`, undefined, { cause: err });
  }
  return Card.fromSnapshot(decodeCardImage(bytes), options);
}

// ---------------------------------------------------------------- exclusive use of an image

/** Who holds an image lock: what `<image>.lock` contains (one JSON line). */
export interface ImageLockHolder {
  /** Process ID of the holder. */
  readonly pid: number;
  /** Host name of the holder (a PID says nothing about a process on another host sharing the directory). */
  readonly host: string;
  /** When the lock was taken (ISO 8601). */
  readonly since: string;
}

/**
 * The card image is in use by another process (or by another run in this one). Code `IMAGE_LOCKED`; `holder` is
 * what the lock file says, `lockPath` the file to delete by hand if that process is not a simtap one.
 */
export class ImageLockedError extends SimtapError {
  declare readonly code: 'IMAGE_LOCKED';
  /** The image that is in use. */
  readonly imagePath: string;
  /** The lock file. */
  readonly lockPath: string;
  /** The process that holds it. */
  readonly holder: ImageLockHolder;
  constructor(imagePath: string, lockPath: string, holder: ImageLockHolder) {
    const where = holder.host === hostname() ? '' : ` on host ${holder.host}`;
    super('IMAGE_LOCKED', `card image ${imagePath} is in use by process ${holder.pid}${where} (lock file ${lockPath})`);
    this.imagePath = imagePath;
    this.lockPath = lockPath;
    this.holder = holder;
  }
}

/** An exclusive hold on a card image, from {@link lockImage}. */
export interface ImageLock {
  /** The image. */
  readonly imagePath: string;
  /** The lock file, `<image>.lock`. */
  readonly lockPath: string;
  /** Releases the lock (removes the lock file if it is still this lock's); idempotent. */
  release(): Promise<void>;
  /** {@link release} for `process.on('exit')` handlers, where nothing asynchronous runs. */
  releaseSync(): void;
}

/** The lock file of `imagePath`. */
export const imageLockPath = (imagePath: string): string => `${imagePath}.lock`;

/** A breaker lock older than this was left by a process that died while breaking a stale lock. */
const BREAKER_STALE_MS = 10_000;
/** How long {@link lockImage} keeps trying while other processes break a stale lock or write a record. */
const LOCK_PATIENCE_MS = 5000;

let lockCounter = 0;

function parseHolder(text: string): ImageLockHolder | undefined {
  try {
    const v = JSON.parse(text) as Partial<ImageLockHolder>;
    if (typeof v.pid !== 'number' || !Number.isInteger(v.pid) || v.pid <= 0 || typeof v.host !== 'string')
      return undefined;
    return { pid: v.pid, host: v.host, since: typeof v.since === 'string' ? v.since : '' };
  } catch {
    return undefined;
  }
}

/** The holder recorded in `lockPath`; `null` when the file is gone, `undefined` when it is not a lock record. */
async function readHolder(lockPath: string): Promise<ImageLockHolder | null | undefined> {
  try {
    return parseHolder(await readFile(lockPath, 'utf8'));
  } catch (err) {
    if (errno(err) === 'ENOENT') return null;
    throw err;
  }
}

/** Whether process `pid` of this host still runs (a zombie, exited but not reaped, counts as gone). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if (errno(err) !== 'EPERM') return false; // ESRCH: no such process
  }
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (macOS, Windows): kill(pid, 0) decided
  }
}

/** Whether `path` was modified within the last 2 s. */
async function young(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => Date.now() - s.mtimeMs < 2000,
    () => false,
  );
}

const lockIoError = (imagePath: string, err: unknown): CardImageError =>
  new CardImageError('IMAGE_IO', `could not lock the card image ${imagePath}`, undefined, { cause: err });

/**
 * Removes the stale lock `holder` left, under a short-lived breaker lock (`<lock>.break`) so that two processes
 * breaking the same stale lock cannot remove each other's fresh one. Returns when the caller should try again.
 */
async function breakStaleLock(lockPath: string, holder: ImageLockHolder | undefined): Promise<void> {
  const breaker = `${lockPath}.break`;
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(breaker, 'wx', 0o644);
  } catch (err) {
    if (errno(err) !== 'EEXIST') throw err;
    const age = await stat(breaker).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    if (age > BREAKER_STALE_MS) await unlink(breaker).catch(() => undefined);
    else await new Promise((r) => setTimeout(r, 5)); // another process is breaking it right now
    return;
  }
  try {
    await fh.close();
    // Still the same stale record? (Another process may have broken it and taken the lock meanwhile.)
    const again = await readHolder(lockPath);
    const same =
      again === undefined
        ? holder === undefined
        : again !== null && holder !== undefined && again.pid === holder.pid && again.since === holder.since;
    if (same)
      await unlink(lockPath).catch((err: unknown) => (errno(err) === 'ENOENT' ? undefined : Promise.reject(err)));
  } finally {
    await unlink(breaker).catch(() => undefined);
  }
}

/**
 * Takes the exclusive lock on the card image at `imagePath`: creates `<image>.lock` atomically (a complete record
 * linked into place, so nobody ever reads a half-written one) holding this process's PID and host. A lock left by a
 * process that no longer runs on this host is stale and taken over; a lock file that is not a lock record is
 * treated as stale too. Release it with {@link ImageLock.release} when done.
 * @throws {ImageLockedError} `IMAGE_LOCKED` when a running process (this one included) holds the image.
 * @throws {CardImageError} `IMAGE_IO` when the lock file cannot be created (e.g. no such directory).
 * @example
 * const lock = await lockImage('card-1.img');
 * try { … } finally { await lock.release(); }
 */
export async function lockImage(imagePath: string): Promise<ImageLock> {
  const lockPath = imageLockPath(imagePath);
  const me: ImageLockHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  const record = `${JSON.stringify({ ...me, seq: ++lockCounter })}\n`;
  const tmp = join(dirname(lockPath), `.${basename(lockPath)}.${process.pid}.${lockCounter}.tmp`);
  try {
    await writeFile(tmp, record, { flag: 'wx', mode: 0o644 });
  } catch (err) {
    throw lockIoError(imagePath, err);
  }
  try {
    const deadline = Date.now() + LOCK_PATIENCE_MS;
    while (Date.now() < deadline) {
      try {
        await link(tmp, lockPath); // atomic: fails with EEXIST when a lock exists
        return heldLock(imagePath, lockPath, record);
      } catch (err) {
        const code = errno(err);
        if (code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS') {
          // A file system without hard links: exclusive create, then the record.
          try {
            await writeFile(lockPath, record, { flag: 'wx', mode: 0o644 });
            return heldLock(imagePath, lockPath, record);
          } catch (err2) {
            if (errno(err2) !== 'EEXIST') throw lockIoError(imagePath, err2);
          }
        } else if (code !== 'EEXIST') throw lockIoError(imagePath, err);
      }
      let holder: ImageLockHolder | null | undefined;
      try {
        holder = await readHolder(lockPath);
      } catch (err) {
        throw lockIoError(imagePath, err);
      }
      if (holder === null) continue; // released meanwhile
      if (holder === undefined && (await young(lockPath))) {
        // Not a lock record yet: a lock written without link() (see below) may be half-written for a moment.
        await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      if (holder !== undefined && (holder.host !== me.host || processAlive(holder.pid)))
        throw new ImageLockedError(imagePath, lockPath, holder);
      try {
        await breakStaleLock(lockPath, holder);
      } catch (err) {
        throw lockIoError(imagePath, err);
      }
    }
    throw lockIoError(imagePath, new Error(`lock ${lockPath} kept changing hands`));
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

function heldLock(imagePath: string, lockPath: string, record: string): ImageLock {
  let released = false;
  return {
    imagePath,
    lockPath,
    async release(): Promise<void> {
      if (released) return;
      released = true;
      // Only our own record: never remove a lock another process took after ours was (wrongly) broken.
      const text = await readFile(lockPath, 'utf8').catch(() => '');
      if (text === record) await unlink(lockPath).catch(() => undefined);
    },
    releaseSync(): void {
      if (released) return;
      released = true;
      try {
        if (readFileSync(lockPath, 'utf8') === record) unlinkSync(lockPath);
      } catch {
        // gone already
      }
    },
  };
}
