// simtap-card run in-process against a fake vpcd listener, and as a child process for signal handling.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fromHex, hex, toHex } from '@simtap/sdk/core/bytes';
import { diversifyKdf3, parseScp03InitUpdateResponse, Scp03Host, type StaticKeys } from '@simtap/sdk/core/gp';
import { cardProfile, referenceProfile } from '@simtap/sdk/core/profile';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_ATS_HEX } from '../runtime/card';
import { pcscContactlessAtr } from './card-port';
import { type MainOptions, main } from './main';

const SELECT_ISD = hex`00 A4 04 00 08 A0 00 00 01 51 00 00 00 00`;
const INITIALIZE_UPDATE = hex`80 50 00 00 08 01 02 03 04 05 06 07 08 00`;
const SELECT_PURSE = hex`00 A4 04 00 08 A0 00 00 06 32 01 01 05 00`;
const GET_BALANCE = hex`80 5C 00 02 04`;
const REPO = path.resolve(import.meta.dirname, '../../..');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(probe: () => T | undefined | false, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** pcscd's side of the vpcd protocol: listens, accepts the card, sends framed control bytes and APDUs. */
class FakeVpcd {
  peer: net.Socket | null = null;
  private rx = Buffer.alloc(0);
  private waiter: (() => void) | null = null;

  private constructor(readonly server: net.Server) {
    server.on('connection', (s) => {
      this.peer?.destroy();
      this.peer = s;
      this.rx = Buffer.alloc(0);
      s.on('data', (d) => {
        this.rx = Buffer.concat([this.rx, d]);
        this.waiter?.();
      });
      s.on('error', () => {});
    });
  }

  static async listen(port = 0): Promise<FakeVpcd> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return new FakeVpcd(server);
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Sends one frame and returns the reply frame (none for POWER_ON/OFF/RESET control bytes). */
  async exchange(payload: Uint8Array): Promise<Uint8Array | undefined> {
    const peer = await until(() => this.peer ?? undefined, 'the card to connect');
    const frame = Buffer.alloc(2 + payload.length);
    frame.writeUInt16BE(payload.length, 0);
    frame.set(payload, 2);
    peer.write(frame);
    if (payload.length === 1 && payload[0] !== 0x04) return undefined;
    const deadline = Date.now() + 5000;
    for (;;) {
      if (this.rx.length >= 2 && this.rx.length >= 2 + this.rx.readUInt16BE(0)) {
        const n = this.rx.readUInt16BE(0);
        const out = new Uint8Array(this.rx.subarray(2, 2 + n));
        this.rx = this.rx.subarray(2 + n);
        return out;
      }
      if (Date.now() > deadline) throw new Error('no reply from the card');
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, 50);
      });
    }
  }

  async apdu(capdu: Uint8Array): Promise<Uint8Array> {
    return (await this.exchange(capdu))!;
  }

  async close(): Promise<void> {
    this.peer?.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function captureIo() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => void out.push(l), err: (l: string) => void err.push(l) } };
}

/** Starts main() against `fake`; returns the run's promise, its output and a stop function. */
function start(argv: string[], extra: Partial<MainOptions> = {}) {
  const cap = captureIo();
  const stop = new AbortController();
  const done = main(argv, {
    io: cap.io,
    signal: stop.signal,
    backoff: { initialDelayMs: 20, maxDelayMs: 100 },
    ...extra,
  });
  return { ...cap, done, stop: () => stop.abort() };
}

/** A port on 127.0.0.1 where nothing listens: bound once by the OS, then closed. */
async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function sequenceCounter(fake: FakeVpcd): Promise<number> {
  expect(toHex((await fake.apdu(SELECT_ISD)).subarray(-2))).toBe('9000');
  const rsp = await fake.apdu(INITIALIZE_UPDATE);
  expect(toHex(rsp.subarray(-2))).toBe('9000');
  const seq = parseScp03InitUpdateResponse(rsp.subarray(0, -2)).sequenceCounter!;
  return (seq[0]! << 16) | (seq[1]! << 8) | seq[2]!;
}

let dir: string;
let fake: FakeVpcd;

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'simtap-card-'));
  fake = await FakeVpcd.listen();
});

afterEach(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('main (in-process)', () => {
  it('prints the help and the version with status 0', async () => {
    const help = captureIo();
    expect(await main(['--help'], { io: help.io })).toBe(0);
    expect(help.out.join('\n')).toContain('--image PATH');
    const version = captureIo();
    expect(await main(['--version'], { io: version.io })).toBe(0);
    expect(version.out).toEqual([expect.stringMatching(/^simtap-card \d+\.\d+\.\d+/)]);
  });

  it('answers a bad option or value with status 2 and one line pointing to --help', async () => {
    for (const argv of [
      ['--bogus'],
      ['--card', 'card-7'],
      ['--vpcd', 'nowhere'],
      ['--vpcd', '256.1.1.1:35963'],
      ['--wait', 'soon'],
      ['--interface', 'usb'],
    ]) {
      const cap = captureIo();
      expect(await main(argv, { io: cap.io })).toBe(2);
      expect(cap.out).toEqual([]);
      expect(cap.err).toHaveLength(1);
      expect(cap.err[0]).toMatch(/^simtap-card: .+ \(see simtap-card --help\)$/);
    }
  });

  it('creates the image, saves it after a committing command, and reloads it on the next start', async () => {
    const image = path.join(dir, 'card.img');
    const argv = ['--card', 'card-2', '--image', image, '--vpcd', `127.0.0.1:${fake.port}`];
    const first = start(argv);
    await until(() => fake.peer ?? undefined, 'the card to connect');
    expect(first.out[0]).toMatch(/^simtap-card \S+: card-2 ICCID [0-9F]{19,20} on vpcd 127\.0\.0\.1:\d+ /);
    expect(first.out[0]).toContain(`image ${image} (created)`);
    await until(() => first.out.some((l) => l.includes('card inserted')), 'the connected line');
    const created = readFileSync(image);

    await fake.exchange(Uint8Array.of(0x01)); // power on
    expect(toHex((await fake.exchange(Uint8Array.of(0x04)))!)).toBe(
      toHex(pcscContactlessAtr(fromHex(DEFAULT_ATS_HEX))),
    );
    const seq1 = await sequenceCounter(fake);
    // Saved after the commit, while still running.
    await until(() => !readFileSync(image).equals(created), 'the image to be saved after INITIALIZE UPDATE');
    first.stop();
    expect(await first.done).toBe(0);
    expect(first.out.at(-1)).toBe(`simtap-card: stopped; card image saved to ${image}`);
    expect(first.err).toEqual([]);

    const second = start(['--card', 'card-3', '--default-keys', '--image', image, '--vpcd', `127.0.0.1:${fake.port}`]);
    await until(() => second.out.some((l) => l.includes('card inserted')), 'the second connection');
    expect(second.out.slice(0, 2)).toEqual([
      'simtap-card: note: the image holds card-2; --card card-3 applies to new images only',
      'simtap-card: note: the image keeps its ISD keys; --default-keys applies to new images only',
    ]);
    expect(second.out[2]).toMatch(/: card-2 ICCID /);
    expect(second.out[2]).toContain(`image ${image} (loaded)`);
    await fake.exchange(Uint8Array.of(0x01));
    expect(await sequenceCounter(fake)).toBe(seq1 + 1);
    second.stop();
    expect(await second.done).toBe(0);
  });

  it.each([
    ['KDF3-diversified keys by default', [] as string[], false],
    ['the static keys 40..4F with --default-keys', ['--default-keys'], true],
  ])('creates the ISD with %s', async (_, extra, defaults) => {
    const isd = referenceProfile().card.isd;
    const diversified = diversifyKdf3(isd.scp03.diversified.masterKey, cardProfile('card-2').isd.kdd);
    const [good, bad]: StaticKeys[] = defaults
      ? [isd.scp03.staticKeysForDefaultCard, diversified]
      : [diversified, isd.scp03.staticKeysForDefaultCard];
    const run = start(['--card', 'card-2', ...extra, '--vpcd', `127.0.0.1:${fake.port}`]);
    await fake.exchange(Uint8Array.of(0x01));
    expect(run.out[0]).toContain(defaults ? 'ISD default keys' : 'ISD diversified keys');
    expect(toHex((await fake.apdu(SELECT_ISD)).subarray(-2))).toBe('9000');
    const transmit = (apdu: Uint8Array) => fake.apdu(apdu);
    const scp = await Scp03Host.open(transmit, { keys: good!, securityLevel: 0x33 });
    const cplc = await scp.transmit(hex`80 CA 9F 7F 00`);
    expect(toHex(cplc.subarray(0, 3))).toBe('9F7F2A');
    expect(toHex(cplc.subarray(-2))).toBe('9000');
    await expect(Scp03Host.open(transmit, { keys: bad!, securityLevel: 0x33 })).rejects.toMatchObject({
      code: 'SCP_CARD_CRYPTOGRAM_INVALID',
    });
    run.stop();
    expect(await run.done).toBe(0);
  });

  it('--personalized: the e-purse answers SELECT and GET BALANCE (initial balance) through vpcd; kept in the image', async () => {
    const image = path.join(dir, 'card-1.img');
    const argv = ['--personalized', '--image', image, '--vpcd', `127.0.0.1:${fake.port}`];
    const run = start(argv);
    await until(() => run.out.some((l) => l.includes('card inserted')), 'the connected line');
    expect(run.out[0]).toMatch(/: card-1 ICCID \S+ with a personalized e-purse on vpcd .*\(created\), pid \d+$/);
    await fake.exchange(Uint8Array.of(0x01));
    const fci = await fake.apdu(SELECT_PURSE);
    expect(toHex(fci.subarray(-2))).toBe('9000');
    expect(toHex(fci.subarray(0, 12))).toMatch(/^6F..8408A000000632010105/);
    const initial = cardProfile('card-1').initialBalance;
    expect(toHex(await fake.apdu(GET_BALANCE))).toBe(`${initial.toString(16).padStart(8, '0')}9000`);
    expect(toHex(await fake.apdu(hex`00 B0 95 0A 0A`))).toBe('000044012026000000019000'); // application serial
    run.stop();
    expect(await run.done).toBe(0);
    expect(run.err).toEqual([]);

    const again = start(['--image', image, '--vpcd', `127.0.0.1:${fake.port}`]);
    await until(() => again.out.some((l) => l.includes('card inserted')), 'the reload');
    expect(again.out[0]).toContain('with a personalized e-purse');
    expect(again.out[0]).toContain('(loaded)');
    await fake.exchange(Uint8Array.of(0x01));
    expect(toHex((await fake.apdu(SELECT_PURSE)).subarray(-2))).toBe('9000');
    again.stop();
    expect(await again.done).toBe(0);
  });

  it('without --personalized the SIM has no e-purse; --personalized on an existing image is only a note', async () => {
    const image = path.join(dir, 'card.img');
    const first = start(['--image', image, '--vpcd', `127.0.0.1:${fake.port}`]);
    await fake.exchange(Uint8Array.of(0x01));
    expect(toHex(await fake.apdu(SELECT_PURSE))).toBe('6A82');
    first.stop();
    expect(await first.done).toBe(0);
    const second = start(['--personalized', '--image', image, '--vpcd', `127.0.0.1:${fake.port}`]);
    await until(() => second.out.some((l) => l.includes('card inserted')), 'the reload');
    expect(second.out[0]).toBe(
      'simtap-card: note: the image keeps its applications; --personalized applies to new images only',
    );
    second.stop();
    expect(await second.done).toBe(0);
  });

  it.each([
    ['pos-1', '440100000001'],
    ['gate-1', '440100000002'],
  ])('--psam %s: the PSAM answers SELECT and its terminal ID on the contact interface', async (label, tid) => {
    const image = path.join(dir, `${label}.img`);
    const run = start(['--psam', label, '--image', image, '--vpcd', `127.0.0.1:${fake.port}`]);
    await until(() => run.out.some((l) => l.includes('card inserted')), 'the connected line');
    expect(run.out[0]).toMatch(
      new RegExp(
        `: PSAM ${label} terminal ${tid} on vpcd \\S+ \\(contact\\), image .*\\(created\\), pid ${process.pid}$`,
      ),
    );
    await fake.exchange(Uint8Array.of(0x01)); // power on (contact: the ATR)
    expect(toHex((await fake.exchange(Uint8Array.of(0x04)))!)).toBe(toHex(referenceProfile().card.atr));
    const fci = await fake.apdu(hex`00 A4 04 00 08 A0 00 00 06 32 01 01 06 00`);
    expect(toHex(fci)).toBe('6F0A8408A0000006320101069000');
    expect(toHex(await fake.apdu(hex`00 B0 96 00 06`))).toBe(`${tid}9000`);
    // The PSAM card's own security domain, through which the issuer personalized it.
    expect(toHex(await fake.apdu(SELECT_ISD))).toMatch(/^6F..8408A000000151000000.*9000$/);
    run.stop();
    expect(await run.done).toBe(0);

    const again = start([
      '--psam',
      label === 'pos-1' ? 'gate-1' : 'pos-1',
      '--image',
      image,
      '--vpcd',
      `127.0.0.1:${fake.port}`,
    ]);
    await until(() => again.out.some((l) => l.includes('card inserted')), 'the reload');
    expect(again.out[0]).toMatch(new RegExp(`^simtap-card: note: the image holds PSAM ${label}; --psam `));
    expect(again.out[1]).toContain(`PSAM ${label} terminal ${tid}`);
    await fake.exchange(Uint8Array.of(0x01));
    await fake.apdu(hex`00 A4 04 00 08 A0 00 00 06 32 01 01 06 00`);
    expect(toHex(await fake.apdu(hex`00 B0 96 00 06`))).toBe(`${tid}9000`);
    again.stop();
    expect(await again.done).toBe(0);
  });

  it('refuses --psam with SIM options (status 2)', async () => {
    const cap = captureIo();
    expect(await main(['--psam', 'pos-1', '--personalized'], { io: cap.io })).toBe(2);
    expect(cap.err).toEqual([
      'simtap-card: --psam runs a PSAM, not a SIM: --personalized does not apply (see simtap-card --help)',
    ]);
  });

  it('keeps the card in memory without --image', async () => {
    const run = start(['--vpcd', `127.0.0.1:${fake.port}`]);
    await until(() => run.out.some((l) => l.includes('card inserted')), 'the connected line');
    expect(run.out[0]).toContain('card-1');
    expect(run.out[0]).toContain('no image');
    run.stop();
    expect(await run.done).toBe(0);
    expect(run.out.at(-1)).toBe('simtap-card: stopped');
  });

  it.each([
    ['garbage', (good: Buffer) => Buffer.concat([Buffer.from('not an image'), good.subarray(12)]), 'IMAGE_CORRUPT'],
    ['truncated', (good: Buffer) => good.subarray(0, good.length - 7), 'IMAGE_TRUNCATED'],
    [
      'bit-flipped',
      (good: Buffer) => Buffer.from(good.map((b, i) => (i === good.length - 3 ? b ^ 1 : b))),
      'IMAGE_CORRUPT',
    ],
  ])('refuses a %s image with status 1 and leaves the file untouched', async (_, damage, code) => {
    const image = path.join(dir, 'card.img');
    const run = start(['--image', image, '--vpcd', `127.0.0.1:${fake.port}`]);
    await until(() => run.out.some((l) => l.includes('card inserted')), 'the first run');
    run.stop();
    expect(await run.done).toBe(0);
    const bad = damage(readFileSync(image));
    writeFileSync(image, bad);

    const cap = captureIo();
    expect(await main(['--image', image, '--vpcd', `127.0.0.1:${fake.port}`], { io: cap.io })).toBe(1);
    expect(cap.err).toHaveLength(1);
    expect(cap.err[0]).toContain(`cannot load card image ${image}`);
    expect(cap.err[0]).toContain(code);
    expect(cap.err[0]).toContain('left untouched');
    expect(readFileSync(image).equals(bad)).toBe(true);
  });

  it('exits 1 when a new image cannot be written', async () => {
    const image = path.join(dir, 'missing-dir', 'card.img');
    const cap = captureIo();
    expect(await main(['--image', image, '--vpcd', `127.0.0.1:${fake.port}`], { io: cap.io })).toBe(1);
    // The lock file is the first thing written next to the image.
    expect(cap.err).toEqual([expect.stringMatching(/could not lock the card image .*IMAGE_IO/)]);
    expect(fake.peer).toBeNull();
  });

  it('traces one line per APDU with --trace, on the chosen interface', async () => {
    const run = start(['--trace', '--interface', 'contact', '--vpcd', `127.0.0.1:${fake.port}`]);
    await fake.exchange(Uint8Array.of(0x01));
    await fake.apdu(SELECT_ISD);
    await fake.apdu(hex`80 CA 9F 7F 00`);
    const trace = await until(() => {
      const lines = run.out.filter((l) => l.startsWith('contact '));
      return lines.length === 2 ? lines : undefined;
    }, 'two trace lines');
    expect(trace[0]).toMatch(/^contact {5}00A4040008A00000015100000000 → [0-9A-F]+ 9000 {2}\(\d+\.\d\d ms\)$/);
    expect(trace[1]).toMatch(/^contact {5}80CA9F7F00 → /);
    run.stop();
    expect(await run.done).toBe(0);
  });

  it('reports waiting for vpcd, then the insertion, then the loss of the connection', async () => {
    const port = fake.port;
    await fake.close();
    const run = start(['--vpcd', `127.0.0.1:${port}`]);
    await until(() => run.out.some((l) => l.includes("waiting for pcscd's vpcd")), 'the waiting line');
    fake = await FakeVpcd.listen(port);
    await until(() => run.out.some((l) => l.includes('card inserted')), 'the connected line');
    fake.peer!.destroy();
    await until(() => run.out.some((l) => l.includes('went away; reconnecting')), 'the lost line');
    await until(() => run.out.filter((l) => l.includes('card inserted')).length === 2, 'the reconnection');
    run.stop();
    expect(await run.done).toBe(0);
    expect(run.out.filter((l) => l.includes('(is pcscd running with vsmartcard-vpcd?)'))).toHaveLength(1);
  });
});

describe('main: one process per card image', () => {
  it('refuses a second run on the same image with status 1, naming the holder; free again after the first stops', async () => {
    const image = path.join(dir, 'card.img');
    const first = start(['--image', image, '--vpcd', `127.0.0.1:${fake.port}`]);
    await until(() => first.out.some((l) => l.includes('card inserted')), 'the first run');
    expect(JSON.parse(readFileSync(`${image}.lock`, 'utf8'))).toMatchObject({ pid: process.pid });

    const second = captureIo();
    expect(await main(['--image', image, '--vpcd', `127.0.0.1:${fake.port}`], { io: second.io })).toBe(1);
    expect(second.out).toEqual([]);
    expect(second.err).toEqual([
      `simtap-card: card image ${image} is in use by process ${process.pid} (lock file ${image}.lock); stop that ` +
        `process first (or, if no simtap-card runs as process ${process.pid}, delete ${image}.lock)`,
    ]);
    expect(fake.peer).not.toBeNull(); // the first run is still the card in the reader

    first.stop();
    expect(await first.done).toBe(0);
    expect(existsSync(`${image}.lock`)).toBe(false);
    const third = start(['--image', image, '--vpcd', `127.0.0.1:${fake.port}`]);
    await until(() => third.out.some((l) => l.includes('card inserted')), 'the third run');
    expect(third.out.some((l) => l.includes('(loaded)'))).toBe(true);
    third.stop();
    expect(await third.done).toBe(0);
  });

  it('releases the lock when the image cannot be loaded', async () => {
    const image = path.join(dir, 'card.img');
    writeFileSync(image, 'not an image');
    const cap = captureIo();
    expect(await main(['--image', image, '--vpcd', `127.0.0.1:${fake.port}`], { io: cap.io })).toBe(1);
    expect(cap.err[0]).toContain('IMAGE_CORRUPT');
    expect(existsSync(`${image}.lock`)).toBe(false);
  });
});

describe('main: bounded wait for vpcd', () => {
  it('gives up after --wait seconds with a real refused connection: status 1, the reason, image saved, lock released', async () => {
    const port = await deadPort();
    const image = path.join(dir, 'card.img');
    const cap = captureIo();
    const status = await main(['--image', image, '--vpcd', `127.0.0.1:${port}`, '--wait', '1'], { io: cap.io });
    expect(status).toBe(1);
    expect(cap.out).toContain(
      `simtap-card: waiting for pcscd's vpcd at 127.0.0.1:${port} (is pcscd running with vsmartcard-vpcd?); ` +
        'giving up after 1 s (--wait)',
    );
    expect(cap.err).toEqual([
      `simtap-card: gave up: pcscd's vpcd at 127.0.0.1:${port} not reachable for 1 s (ECONNREFUSED 127.0.0.1:${port}); ` +
        'start pcscd with the vsmartcard vpcd driver, or use --wait 0 to wait forever',
    ]);
    expect(cap.out.at(-1)).toBe(`simtap-card: gave up; card image saved to ${image}`);
    expect(existsSync(image)).toBe(true);
    expect(existsSync(`${image}.lock`)).toBe(false);
  });

  it('reports the wait every few seconds with the elapsed time and the reason; --wait 0 waits until stopped', async () => {
    const port = await deadPort();
    const run = start(['--vpcd', `127.0.0.1:${port}`, '--wait', '0'], { waitReportMs: 50 });
    const progress = await until(() => {
      const lines = run.out.filter((l) => /^simtap-card: waiting for pcscd's vpcd at .* \(\d+ s; /.test(l));
      return lines.length >= 3 ? lines : undefined;
    }, 'three progress lines');
    expect(progress[0]).toMatch(
      new RegExp(
        `^simtap-card: waiting for pcscd's vpcd at 127\\.0\\.0\\.1:${port} \\(\\d+ s; ECONNREFUSED 127\\.0\\.0\\.1:${port}\\)…$`,
      ),
    );
    expect(run.out.some((l) => l.includes('giving up'))).toBe(false);
    run.stop();
    expect(await run.done).toBe(0);
    expect(run.err).toEqual([]);
  });

  it('bounds the wait after vpcd goes away too', async () => {
    const run = start(['--vpcd', `127.0.0.1:${fake.port}`, '--wait', '1']);
    await until(() => run.out.some((l) => l.includes('card inserted')), 'the connection');
    const port = fake.port;
    await fake.close(); // pcscd gone for good
    expect(await run.done).toBe(1);
    expect(run.out).toContain(
      `simtap-card: vpcd at 127.0.0.1:${port} went away; reconnecting; giving up after 1 s (--wait)`,
    );
    expect(run.err).toEqual([expect.stringMatching(/^simtap-card: gave up: pcscd's vpcd at .* not reachable for 1 s/)]);
    fake = await FakeVpcd.listen(); // for afterEach
  });
});

describe('simtap-card as a process', () => {
  function spawnCli(argv: string[]): ChildProcess & { stdoutText: () => string; exit: Promise<number | null> } {
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', 'applet-emu/src/cli/simtap-card.ts', ...argv],
      { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let text = '';
    child.stdout.on('data', (d: Buffer) => {
      text += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      text += d.toString();
    });
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return Object.assign(child, { stdoutText: () => text, exit });
  }

  it('stops cleanly on SIGTERM: image saved, exit status 0', async () => {
    const image = path.join(dir, 'card.img');
    const child = spawnCli(['--image', image, '--vpcd', `127.0.0.1:${fake.port}`]);
    await until(() => child.stdoutText().includes('card inserted'), 'the child to connect', 30_000);
    await fake.exchange(Uint8Array.of(0x01));
    const seq = await sequenceCounter(fake);
    child.kill('SIGTERM');
    expect(await child.exit).toBe(0);
    expect(child.stdoutText()).toContain(`stopped; card image saved to ${image}`);

    const again = start(['--image', image, '--vpcd', `127.0.0.1:${fake.port}`]);
    await until(() => again.out.some((l) => l.includes('card inserted')), 'the reload');
    await fake.exchange(Uint8Array.of(0x01));
    expect(await sequenceCounter(fake)).toBe(seq + 1);
    again.stop();
    await again.done;
  });

  it('has saved every committed command before a SIGKILL', async () => {
    const image = path.join(dir, 'card.img');
    const child = spawnCli(['--image', image, '--vpcd', `127.0.0.1:${fake.port}`]);
    await until(() => child.stdoutText().includes('card inserted'), 'the child to connect', 30_000);
    await fake.exchange(Uint8Array.of(0x01));
    const created = readFileSync(image);
    const seq = await sequenceCounter(fake);
    await until(() => !readFileSync(image).equals(created), 'the save after the commit');
    child.kill('SIGKILL');
    await child.exit;

    const again = start(['--image', image, '--vpcd', `127.0.0.1:${fake.port}`]);
    await until(() => again.out.some((l) => l.includes('card inserted')), 'the reload');
    await fake.exchange(Uint8Array.of(0x01));
    expect(await sequenceCounter(fake)).toBe(seq + 1);
    again.stop();
    await again.done;
  });

  it('a second process on the same image exits 1 naming the first one; a killed holder leaves a stale lock that is taken over', async () => {
    const image = path.join(dir, 'card.img');
    const first = spawnCli(['--image', image, '--vpcd', `127.0.0.1:${fake.port}`]);
    await until(() => first.stdoutText().includes('card inserted'), 'the first process to connect', 30_000);
    const second = spawnCli(['--image', image, '--vpcd', `127.0.0.1:${fake.port}`]);
    expect(await second.exit).toBe(1);
    expect(second.stdoutText()).toBe(
      `simtap-card: card image ${image} is in use by process ${first.pid} (lock file ${image}.lock); stop that ` +
        `process first (or, if no simtap-card runs as process ${first.pid}, delete ${image}.lock)\n`,
    );
    first.kill('SIGKILL');
    await first.exit;
    expect(JSON.parse(readFileSync(`${image}.lock`, 'utf8'))).toMatchObject({ pid: first.pid }); // stale now

    const third = start(['--image', image, '--vpcd', `127.0.0.1:${fake.port}`]);
    await until(() => third.out.some((l) => l.includes('card inserted')), 'the takeover');
    expect(JSON.parse(readFileSync(`${image}.lock`, 'utf8'))).toMatchObject({ pid: process.pid });
    third.stop();
    expect(await third.done).toBe(0);
  });

  it('exits 1 after --wait when nothing listens at the vpcd address', async () => {
    const port = await deadPort();
    const child = spawnCli(['--vpcd', `127.0.0.1:${port}`, '--wait', '1']);
    expect(await child.exit).toBe(1);
    expect(child.stdoutText()).toContain(
      `simtap-card: gave up: pcscd's vpcd at 127.0.0.1:${port} not reachable for 1 s`,
    );
  });

  it('exits 2 at once for an address that cannot exist', async () => {
    const child = spawnCli(['--vpcd', '256.1.1.1:35963']);
    expect(await child.exit).toBe(2);
    expect(child.stdoutText()).toMatch(/^simtap-card: --vpcd expects HOST:PORT .*"256\.1\.1\.1" is none/);
  });

  it('exits 2 on a bad option', async () => {
    const child = spawnCli(['--interface', 'nfc']);
    expect(await child.exit).toBe(2);
    expect(child.stdoutText()).toMatch(/^simtap-card: --interface must be one of contactless, contact; got "nfc"/);
  });
});
