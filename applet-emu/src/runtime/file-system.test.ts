import { hex } from '@simtap/sdk/core/bytes';
import { IsoException } from '@simtap/sdk/core/iso7816';
import { describe, expect, it } from 'vitest';
import { FileSystemError } from './errors';
import { FileSystem } from './file-system';
import { PersistentMemory } from './memory';

function fresh(): { mem: PersistentMemory; fs: FileSystem } {
  const mem = new PersistentMemory();
  return { mem, fs: new FileSystem(mem) };
}

function swOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof IsoException) return err.sw;
    throw err;
  }
  return undefined;
}

describe('FileSystem structure', () => {
  it('creates DFs and EFs and finds them by FID, SFI, name and path', () => {
    const { fs } = fresh();
    const df = fs.createDf(fs.mf, { fid: 0x3f01, name: hex`A0 00 00 06 32 01 01 05` });
    const ef = fs.createEf(df, { fid: 0x0015, sfi: 0x15, structure: 'transparent', size: 30 });
    expect(fs.child(fs.mf, 0x3f01)).toBe(df);
    expect(fs.bySfi(df, 0x15)).toBe(ef);
    expect(fs.findByName(hex`A0 00 00 06 32 01 01 05`)).toBe(df);
    expect(fs.resolvePath([0x3f00, 0x3f01, 0x0015])).toBe(ef);
    expect(fs.resolvePath([0x3f01, 0x0015])).toBe(ef);
    expect(fs.resolvePath([0x3f01, 0x0016])).toBeUndefined();
    expect(fs.resolvePath([0x3f01, 0x0015, 0x0001])).toBeUndefined();
    expect(ef.parent).toBe(df);
    expect(fs.readBinary(ef, 0, 100)).toEqual(new Uint8Array(30));
  });

  it('refuses duplicates and bad specifications', () => {
    const { fs } = fresh();
    const df = fs.createDf(fs.mf, { fid: 0x3f01, name: hex`A0 00 00 00 01` });
    fs.createEf(df, { fid: 0x0001, sfi: 1, structure: 'transparent', size: 1 });
    const code = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (err) {
        if (err instanceof FileSystemError) return err.code;
        throw err;
      }
      return undefined;
    };
    expect(code(() => fs.createDf(fs.mf, { fid: 0x3f01 }))).toBe('FILE_EXISTS');
    expect(code(() => fs.createDf(fs.mf, { name: hex`A0 00 00 00 01` }))).toBe('FILE_EXISTS');
    expect(code(() => fs.createEf(df, { fid: 0x0001, structure: 'transparent' }))).toBe('FILE_EXISTS');
    expect(code(() => fs.createEf(df, { fid: 0x0002, sfi: 1, structure: 'transparent' }))).toBe('FILE_EXISTS');
    expect(code(() => fs.createEf(df, { fid: 0x3f01, structure: 'transparent' }))).toBe('FILE_EXISTS'); // parent FID
    expect(code(() => fs.createEf(df, { fid: 0x3f00, structure: 'transparent' }))).toBe('FILE_SPEC_INVALID');
    expect(code(() => fs.createEf(df, { fid: 0x0003, sfi: 31, structure: 'transparent' }))).toBe('FILE_SPEC_INVALID');
    expect(code(() => fs.createEf(df, { fid: 0x0003, structure: 'cyclic', recordSize: 4 }))).toBe('FILE_SPEC_INVALID');
    expect(
      code(() => fs.createEf(df, { fid: 0x0003, structure: 'linear-fixed', recordSize: 300, maxRecords: 1 })),
    ).toBe('FILE_SPEC_INVALID');
    expect(
      code(() =>
        fs.createEf(df, { fid: 0x0003, structure: 'linear-fixed', recordSize: 2, maxRecords: 2, records: [hex`01`] }),
      ),
    ).toBe('FILE_SPEC_INVALID');
    expect(
      code(() => fs.createEf(df, { fid: 0x0003, structure: 'transparent', access: { read: 'maybe' as never } })),
    ).toBe('FILE_SPEC_INVALID');
    expect(code(() => fs.createDf(fs.mf, { name: new Uint8Array(17) }))).toBe('FILE_SPEC_INVALID');
    expect(code(() => fs.remove(fs.mf))).toBe('FILE_SPEC_INVALID');
    const other = fresh().fs;
    expect(code(() => other.createEf(df, { fid: 0x0009, structure: 'transparent' }))).toBe('FILE_NOT_IN_TREE');
  });

  it('undoes a creation when its transaction rolls back', () => {
    const { mem, fs } = fresh();
    expect(() =>
      mem.atomically(() => {
        fs.createDf(fs.mf, { fid: 0x1000, name: hex`A0 00 00 00 09` });
        throw new Error('abort');
      }),
    ).toThrow('abort');
    expect(fs.mf.children).toHaveLength(0);
    expect(fs.findByName(hex`A0 00 00 00 09`)).toBeUndefined();
    expect(mem.keys('fs/')).toEqual([]);
    fs.createDf(fs.mf, { fid: 0x1000, name: hex`A0 00 00 00 09` }); // the FID and name are free again
  });

  it('removes a subtree and restores it on rollback', () => {
    const { mem, fs } = fresh();
    const df = fs.createDf(fs.mf, { fid: 0x1000, name: hex`A0 00 00 00 09` });
    const ef = fs.createEf(df, { fid: 0x0001, structure: 'transparent', content: hex`01` });
    expect(() =>
      mem.atomically(() => {
        fs.remove(df);
        expect(fs.contains(ef)).toBe(false);
        throw new Error('abort');
      }),
    ).toThrow();
    expect(fs.contains(ef)).toBe(true);
    expect(fs.readBinary(ef, 0, 1)).toEqual(hex`01`);
    fs.remove(df);
    expect(fs.child(fs.mf, 0x1000)).toBeUndefined();
    expect(mem.keys('fs/n/')).toEqual([]);
  });

  it('rebuilds the same tree from persistent memory', () => {
    const { mem, fs } = fresh();
    const df = fs.createDf(fs.mf, { fid: 0x1000, name: hex`A0 00 00 00 09`, fci: hex`6F 00` });
    fs.createDf(df, { fid: 0x1001 });
    fs.createEf(df, {
      fid: 0x0001,
      sfi: 3,
      structure: 'cyclic',
      recordSize: 2,
      maxRecords: 2,
      access: { read: 'pin', update: 'sm', append: 'always' },
    });
    const mem2 = new PersistentMemory();
    mem2.load(mem.entries());
    const fs2 = new FileSystem(mem2);
    fs2.rebuild();
    const df2 = fs2.findByName(hex`A0 00 00 00 09`)!;
    expect(df2.fid).toBe(0x1000);
    expect(fs2.fci(df2)).toEqual(hex`6F 00`);
    expect(fs2.child(df2, 0x1001)?.kind).toBe('df');
    const ef2 = fs2.bySfi(df2, 3)!;
    expect([ef2.structure, ef2.size, ef2.maxRecords, ef2.access.append]).toEqual(['cyclic', 2, 2, 'always']);
  });
});

describe('FileSystem contents', () => {
  it('keeps cyclic records newest first within capacity', () => {
    const { fs } = fresh();
    const ef = fs.createEf(fs.mf, { fid: 0x0018, sfi: 0x18, structure: 'cyclic', recordSize: 2, maxRecords: 3 });
    expect(fs.recordCount(ef)).toBe(0);
    expect(swOf(() => fs.readRecord(ef, 1))).toBe(0x6a83);
    for (let i = 1; i <= 4; i++) expect(fs.appendRecord(ef, Uint8Array.of(i, i))).toBe(1);
    expect(fs.records(ef)).toEqual([hex`04 04`, hex`03 03`, hex`02 02`]);
    fs.updateRecord(ef, 2, hex`09 09`);
    expect(fs.readRecord(ef, 2)).toEqual(hex`09 09`);
    expect(swOf(() => fs.appendRecord(ef, hex`01`))).toBe(0x6700);
  });

  it('fills linear files and refuses beyond capacity', () => {
    const { fs } = fresh();
    const ef = fs.createEf(fs.mf, { fid: 0x0001, structure: 'linear-fixed', recordSize: 1, maxRecords: 2 });
    expect(fs.appendRecord(ef, hex`01`)).toBe(1);
    expect(fs.appendRecord(ef, hex`02`)).toBe(2);
    expect(swOf(() => fs.appendRecord(ef, hex`03`))).toBe(0x6a84);
    expect(swOf(() => fs.updateRecord(ef, 3, hex`03`))).toBe(0x6a83);
    expect(swOf(() => fs.readBinary(ef, 0, 1))).toBe(0x6981);
  });

  it('bounds binary reads and writes', () => {
    const { fs } = fresh();
    const ef = fs.createEf(fs.mf, {
      fid: 0x0001,
      structure: 'transparent',
      size: 4,
      access: { read: 'always', update: 'always' },
    });
    fs.updateBinary(ef, 2, hex`AA BB`);
    expect(fs.readBinary(ef, 1, 10)).toEqual(hex`00 AA BB`);
    expect(swOf(() => fs.updateBinary(ef, 3, hex`01 02`))).toBe(0x6700);
    expect(swOf(() => fs.updateBinary(ef, 5, hex`01`))).toBe(0x6b00);
    expect(swOf(() => fs.readBinary(ef, 5, 1))).toBe(0x6b00);
    expect(swOf(() => fs.recordCount(ef))).toBe(0x6981);
  });
});
