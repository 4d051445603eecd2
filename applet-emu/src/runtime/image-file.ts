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
 * @module
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
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
