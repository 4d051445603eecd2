// lockImage: the exclusive use of a card image, in one process and between real processes.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CardImageError } from './errors';
import { ImageLockedError, imageLockPath, lockImage } from './image-file';

const REPO = path.resolve(import.meta.dirname, '../../..');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let dir: string;
let image: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'simtap-lock-'));
  image = path.join(dir, 'card.img');
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The PID of a process that has run and exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

const lockRecord = (pid: number, host = hostname()) => `${JSON.stringify({ pid, host, since: 'then' })}\n`;

describe('lockImage', () => {
  it('creates <image>.lock holding this process, refuses a second hold, and is free again after release', async () => {
    const lock = await lockImage(image);
    expect(lock.lockPath).toBe(`${image}.lock`);
    expect(imageLockPath(image)).toBe(`${image}.lock`);
    expect(JSON.parse(readFileSync(lock.lockPath, 'utf8'))).toMatchObject({ pid: process.pid, host: hostname() });
    const err = await lockImage(image).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageLockedError);
    expect(err).toMatchObject({
      code: 'IMAGE_LOCKED',
      imagePath: image,
      lockPath: `${image}.lock`,
      holder: { pid: process.pid },
    });
    expect((err as Error).message).toBe(
      `card image ${image} is in use by process ${process.pid} (lock file ${image}.lock)`,
    );
    await lock.release();
    await lock.release(); // idempotent
    expect(existsSync(lock.lockPath)).toBe(false);
    const again = await lockImage(image);
    again.releaseSync();
    expect(existsSync(lock.lockPath)).toBe(false);
  });

  it('gives exactly one of many concurrent callers the lock', async () => {
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => lockImage(image)));
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'IMAGE_LOCKED' });
    await (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof lockImage>>>).value.release();
  });

  it('takes over a stale lock whose process is gone', async () => {
    const pid = await deadPid();
    writeFileSync(imageLockPath(image), lockRecord(pid));
    const lock = await lockImage(image);
    expect(JSON.parse(readFileSync(lock.lockPath, 'utf8'))).toMatchObject({ pid: process.pid });
    await lock.release();
  });

  it('takes over a lock file that is not a lock record once it is old', async () => {
    writeFileSync(imageLockPath(image), 'garbage');
    const past = new Date(Date.now() - 60_000);
    utimesSync(imageLockPath(image), past, past);
    const lock = await lockImage(image);
    expect(JSON.parse(readFileSync(lock.lockPath, 'utf8'))).toMatchObject({ pid: process.pid });
    await lock.release();
  });

  it('treats a lock of another host as held (its PID cannot be checked here)', async () => {
    writeFileSync(imageLockPath(image), lockRecord(process.pid, 'elsewhere.example'));
    const err = await lockImage(image).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'IMAGE_LOCKED', holder: { host: 'elsewhere.example' } });
    expect((err as Error).message).toContain(`in use by process ${process.pid} on host elsewhere.example`);
  });

  it('release leaves a lock that is no longer its own', async () => {
    const lock = await lockImage(image);
    writeFileSync(lock.lockPath, lockRecord(12345));
    await lock.release();
    expect(readFileSync(lock.lockPath, 'utf8')).toBe(lockRecord(12345));
  });

  it('fails with IMAGE_IO when the directory does not exist', async () => {
    const err = await lockImage(path.join(dir, 'missing', 'card.img')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CardImageError);
    expect(err).toMatchObject({ code: 'IMAGE_IO' });
  });
});

describe('lockImage between real processes', () => {
  /** A process that tries to lock the image, says `won` or `locked <pid>`, and holds until its stdin closes. */
  function contender(): ChildProcess & { said: () => string; exit: Promise<number | null> } {
    const script = `
      const { lockImage } = await import(${JSON.stringify(path.join(REPO, 'applet-emu/src/runtime/image-file.ts'))});
      try {
        const lock = await lockImage(${JSON.stringify(image)});
        process.stdout.write('won\\n');
        process.stdin.resume();
        process.stdin.on('end', async () => { await lock.release(); process.exit(0); });
      } catch (e) {
        process.stdout.write(e.code === 'IMAGE_LOCKED' ? 'locked ' + e.holder.pid + '\\n' : 'error ' + e.message + '\\n');
        process.exit(0);
      }`;
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script],
      {
        cwd: REPO,
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    let text = '';
    child.stdout!.on('data', (d: Buffer) => {
      text += d.toString();
    });
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return Object.assign(child, { said: () => text, exit });
  }

  it('lets exactly one of several processes take a stale lock; the others name the winner', async () => {
    writeFileSync(imageLockPath(image), lockRecord(await deadPid()));
    const children = Array.from({ length: 4 }, () => contender());
    const deadline = Date.now() + 30_000;
    while (children.some((c) => !c.said().endsWith('\n'))) {
      if (Date.now() > deadline) throw new Error(`no answer from every contender: ${children.map((c) => c.said())}`);
      await sleep(20);
    }
    const winners = children.filter((c) => c.said() === 'won\n');
    expect(winners).toHaveLength(1);
    const winner = winners[0]!;
    for (const c of children) if (c !== winner) expect(c.said()).toBe(`locked ${winner.pid}\n`);
    expect(JSON.parse(readFileSync(imageLockPath(image), 'utf8'))).toMatchObject({ pid: winner.pid });
    for (const c of children) c.stdin!.end();
    for (const c of children) expect(await c.exit).toBe(0);
    expect(existsSync(imageLockPath(image))).toBe(false);
  });
});
