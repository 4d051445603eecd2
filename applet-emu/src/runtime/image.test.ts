import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromHex, hex, toHex } from '@simtap/sdk/core/bytes';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Card } from './card';
import { DirectoryDdf } from './directory';
import { CardImageError } from './errors';
import { crc32, decodeCardImage, encodeCardImage } from './image';
import { type ImageIo, loadImage, nodeImageIo, saveImage } from './image-file';
import { SampleApplet } from './sample-applet';

const AID = fromHex(SampleApplet.DEFAULT_AID_HEX);

function makeCard(): Card {
  const card = new Card();
  card.registry.install(new SampleApplet(), { default: true });
  const ppse = new DirectoryDdf(DirectoryDdf.PPSE);
  card.registry.install(ppse);
  ppse.addEntry(card, { aid: AID, label: 'SAMPLE' });
  card.registry.setCardLifecycle(0x0f);
  card.powerOn('contactless');
  card.transmit('contactless', hex`80 32 00 00 04 00 00 01 00`);
  return card;
}

function imageCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof CardImageError) return err.code;
    throw err;
  }
  return undefined;
}

describe('card image format', () => {
  it('computes the standard CRC-32', () => {
    expect(crc32(new TextEncoder().encode('123456789')).toString(16)).toBe('cbf43926');
    expect(crc32(new TextEncoder().encode('1234'), new TextEncoder().encode('56789'))).toBe(0xcbf43926);
  });

  it('round-trips a snapshot, with magic and version in the header', () => {
    const card = makeCard();
    const bytes = encodeCardImage(card.snapshot());
    expect(new TextDecoder().decode(bytes.subarray(0, 8))).toBe('SIMTAPCI');
    expect(toHex(bytes.subarray(8, 10))).toBe('0001');
    const snap = decodeCardImage(bytes);
    expect(snap).toEqual(card.snapshot());
  });

  it('refuses truncated, corrupt and other-version images', () => {
    const bytes = encodeCardImage(makeCard().snapshot());
    expect(imageCode(() => decodeCardImage(bytes.subarray(0, 5)))).toBe('IMAGE_TRUNCATED');
    expect(imageCode(() => decodeCardImage(bytes.subarray(0, 19)))).toBe('IMAGE_TRUNCATED');
    expect(imageCode(() => decodeCardImage(bytes.subarray(0, bytes.length - 1)))).toBe('IMAGE_TRUNCATED');
    expect(imageCode(() => decodeCardImage(new Uint8Array(0)))).toBe('IMAGE_TRUNCATED');
    const flipped = bytes.slice();
    flipped[40] = flipped[40]! ^ 0x01;
    expect(imageCode(() => decodeCardImage(flipped))).toBe('IMAGE_CORRUPT');
    const magic = bytes.slice();
    magic[0] = 0x00;
    expect(imageCode(() => decodeCardImage(magic))).toBe('IMAGE_CORRUPT');
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expect(imageCode(() => decodeCardImage(longer))).toBe('IMAGE_CORRUPT');
    const version = bytes.slice();
    version[9] = 2;
    expect(imageCode(() => decodeCardImage(version))).toBe('IMAGE_VERSION');
    const lengthCrc = bytes.slice();
    lengthCrc[11] = 1; // flags are covered by the checksum
    expect(imageCode(() => decodeCardImage(lengthCrc))).toBe('IMAGE_CORRUPT');
  });

  it('refuses well-formed images with a bad payload', () => {
    const frame = (json: string): Uint8Array => {
      const payload = new TextEncoder().encode(json);
      const out = new Uint8Array(20 + payload.length);
      out.set(new TextEncoder().encode('SIMTAPCI'));
      const dv = new DataView(out.buffer);
      dv.setUint16(8, 1);
      dv.setUint32(12, payload.length);
      out.set(payload, 20);
      dv.setUint32(16, crc32(out.subarray(8, 16), payload));
      return out;
    };
    expect(decodeCardImage(frame('{"format":"simtap-card-image","records":[]}')).records).toEqual([]);
    for (const bad of [
      'not json',
      '[]',
      '{"format":"other","records":[]}',
      '{"format":"simtap-card-image","records":[["k","x",1]]}',
      '{"format":"simtap-card-image","records":[["k","b","0G"]]}',
      '{"format":"simtap-card-image","records":[["","j",1]]}',
    ])
      expect(imageCode(() => decodeCardImage(frame(bad)))).toBe('IMAGE_CORRUPT');
    // Consistent frame, inconsistent content.
    const orphan = frame(
      '{"format":"simtap-card-image","records":[["fs/n/5","j",{"p":9,"k":"df","fid":1,"name":null}]]}',
    );
    expect(imageCode(() => Card.fromSnapshot(decodeCardImage(orphan)))).toBe('IMAGE_CORRUPT');
    expect(imageCode(() => Card.fromSnapshot({ version: 2 } as never))).toBe('IMAGE_CORRUPT');
  });

  it('needs a factory for every applet type', () => {
    const card = new Card();
    card.registry.install({
      aid: hex`A0 00 00 00 01`,
      type: 'vendor.x',
      select: () => undefined,
      process: () => undefined,
    });
    expect(imageCode(() => Card.fromSnapshot(card.snapshot()))).toBe('IMAGE_APPLET_UNKNOWN');
    const copy = Card.fromSnapshot(card.snapshot(), {
      factories: {
        'vendor.x': (env) => ({ aid: env.aid, type: 'vendor.x', select: () => undefined, process: () => undefined }),
      },
    });
    expect(copy.registry.list().map((e) => e.type)).toEqual(['vendor.x']);
  });
});

describe('saveImage / loadImage', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'simtap-image-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the balance, files, registry and defaults across a save and load', async () => {
    const card = makeCard();
    const path = join(dir, 'card.img');
    await saveImage(card, path);
    const loaded = await loadImage(path);
    expect(loaded.snapshot()).toEqual(card.snapshot());
    expect(loaded.registry.cardLifecycle).toBe(0x0f);
    loaded.powerOn('contactless');
    expect(toHex(loaded.transmit('contactless', hex`80 CA 00 00 04`))).toBe('000001009000');
    expect(toHex(loaded.transmit('contactless', hex`80 32 00 00 04 00 00 00 01`))).toBe('000001019000');
    const ppse = toHex(new TextEncoder().encode(DirectoryDdf.PPSE));
    expect(toHex(loaded.transmit('contactless', fromHex(`00 A4 04 00 0E ${ppse}`))).slice(-4)).toBe('9000');
    await saveImage(loaded, path); // overwrite
    expect(readdirSync(dir)).toEqual(['card.img']);
  });

  it('refuses truncated and corrupt files and reports a missing one', async () => {
    const path = join(dir, 'card.img');
    await saveImage(makeCard(), path);
    const good = readFileSync(path);
    writeFileSync(path, good.subarray(0, good.length - 10));
    await expect(loadImage(path)).rejects.toMatchObject({ code: 'IMAGE_TRUNCATED' });
    const bad = Buffer.from(good);
    bad[bad.length - 3] = bad[bad.length - 3]! ^ 0xff;
    writeFileSync(path, bad);
    await expect(loadImage(path)).rejects.toMatchObject({ code: 'IMAGE_CORRUPT' });
    await expect(loadImage(join(dir, 'none.img'))).rejects.toMatchObject({ code: 'IMAGE_NOT_FOUND' });
    await expect(loadImage(dir)).rejects.toMatchObject({ code: 'IMAGE_IO' });
  });

  it('leaves the last good image in place when a save fails', async () => {
    const path = join(dir, 'card.img');
    const card = makeCard();
    await saveImage(card, path);
    card.transmit('contactless', hex`80 32 00 00 04 00 00 00 05`);
    for (const failAt of ['write', 'sync', 'rename'] as const) {
      const io: ImageIo = {
        ...nodeImageIo,
        async open(p, flags, mode) {
          const fh = await nodeImageIo.open(p, flags, mode);
          return {
            write: async (d, o, l, pos) => {
              if (failAt === 'write') {
                await fh.write(d, o, Math.min(l, 7), pos); // a partial temp file
                throw Object.assign(new Error('ENOSPC: no space left'), { code: 'ENOSPC' });
              }
              return fh.write(d, o, l, pos);
            },
            sync: async () => {
              if (failAt === 'sync') throw Object.assign(new Error('EIO'), { code: 'EIO' });
              return fh.sync();
            },
            close: () => fh.close(),
          };
        },
        rename: async (a, b) => {
          if (failAt === 'rename') throw Object.assign(new Error('EXDEV'), { code: 'EXDEV' });
          return nodeImageIo.rename(a, b);
        },
      };
      await expect(saveImage(card, path, { io })).rejects.toMatchObject({ code: 'IMAGE_IO' });
      expect(readdirSync(dir)).toEqual(['card.img']); // no temp file left behind
      const loaded = await loadImage(path);
      loaded.powerOn('contact');
      expect(toHex(loaded.transmit('contact', hex`80 CA 00 00 04`))).toBe('000001009000');
    }
    await saveImage(card, path);
    const loaded = await loadImage(path);
    loaded.powerOn('contact');
    expect(toHex(loaded.transmit('contact', hex`80 CA 00 00 04`))).toBe('000001059000');
  });

  it('refuses to snapshot inside a transaction', () => {
    const card = makeCard();
    expect(() => card.atomically(() => card.snapshot())).toThrow(expect.objectContaining({ code: 'TRANSACTION_OPEN' }));
  });
});
