/**
 * RecordBuffer on a real disk: records survive reopening, a torn last line is cut off and nothing else is, a
 * corrupt line is refused, acknowledged records are dropped (and stay dropped across reopening), concurrent appends
 * keep their order, and a buffer meeting the hub for the first time renumbers above what the hub stored.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CORE_ERRORS, hasErrorCode } from '@simtap/sdk/core/errors';
import { afterEach, describe, expect, it } from 'vitest';
import { purchase } from '../../test/machine-support';
import { MACHINE_LINK_ERRORS, RecordBuffer } from './index';
import type { MachinePurchaseRecord } from './machine-protocol';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'simtap-buffer-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const seqs = (b: RecordBuffer) => b.peek(10_000).map((e) => e.seq);
const terminalSeqs = (b: RecordBuffer) => b.peek(10_000).map((e) => (e.record as MachinePurchaseRecord).terminalSeq);

describe('RecordBuffer', () => {
  it('keeps appended records across reopening, in order, with their sequence numbers', async () => {
    const dir = tempDir();
    const a = await RecordBuffer.open(dir);
    expect(await a.append(purchase(1))).toBe(1);
    expect(await Promise.all([2, 3, 4, 5].map((n) => a.append(purchase(n))))).toEqual([2, 3, 4, 5]);
    await a.close();
    const b = await RecordBuffer.open(dir);
    expect(seqs(b)).toEqual([1, 2, 3, 4, 5]);
    expect(terminalSeqs(b)).toEqual([1, 2, 3, 4, 5]);
    expect(b.lastSeq).toBe(5);
    expect(b.peek(2, 3).map((e) => e.seq)).toEqual([4, 5]);
    await b.close();
  });

  it('cuts off a torn last line (a crash mid-write) and nothing before it', async () => {
    const dir = tempDir();
    const a = await RecordBuffer.open(dir);
    for (let n = 1; n <= 3; n++) await a.append(purchase(n));
    await a.close();
    const file = join(dir, 'records.jsonl');
    const whole = readFileSync(file).length;
    appendFileSync(file, '{"seq":4,"record":{"cardSerial":"0000'); // no newline: never acknowledged
    const b = await RecordBuffer.open(dir);
    expect(seqs(b)).toEqual([1, 2, 3]);
    expect(statSync(file).size).toBe(whole);
    expect(await b.append(purchase(4))).toBe(4);
    await b.close();
    const c = await RecordBuffer.open(dir);
    expect(terminalSeqs(c)).toEqual([1, 2, 3, 4]);
    await c.close();
  });

  it('refuses a corrupt complete line and a corrupt state file (BUFFER_CORRUPT)', async () => {
    const dir = tempDir();
    const a = await RecordBuffer.open(dir);
    await a.append(purchase(1));
    await a.close();
    appendFileSync(join(dir, 'records.jsonl'), 'garbage\n');
    await expect(RecordBuffer.open(dir)).rejects.toSatisfy((e) =>
      hasErrorCode(e, MACHINE_LINK_ERRORS, 'BUFFER_CORRUPT'),
    );
    const other = tempDir();
    writeFileSync(join(other, 'state.json'), '{"ackedSeq":"x"}');
    await expect(RecordBuffer.open(other)).rejects.toSatisfy((e) =>
      hasErrorCode(e, MACHINE_LINK_ERRORS, 'BUFFER_CORRUPT'),
    );
  });

  it('refuses a record that is not a purchase record (BAD_ARGUMENT) and appends after close (AGENT_STOPPED)', async () => {
    const b = await RecordBuffer.open(tempDir());
    await expect(b.append({ ...purchase(1), tac: 'XYZ' })).rejects.toSatisfy((e) =>
      hasErrorCode(e, CORE_ERRORS, 'BAD_ARGUMENT'),
    );
    await b.close();
    await expect(b.append(purchase(1))).rejects.toSatisfy((e) => hasErrorCode(e, MACHINE_LINK_ERRORS, 'AGENT_STOPPED'));
  });

  it('drops acknowledged records, empties the file when nothing is pending, keeps numbering after it', async () => {
    const dir = tempDir();
    const a = await RecordBuffer.open(dir);
    for (let n = 1; n <= 5; n++) await a.append(purchase(n));
    await a.sync(0);
    await a.ack(3);
    expect(seqs(a)).toEqual([4, 5]);
    await a.close();
    const b = await RecordBuffer.open(dir);
    expect(b.ackedSeq).toBe(3);
    expect(seqs(b)).toEqual([4, 5]);
    await b.ack(5);
    await b.close(); // the file shrinks when the buffer closes (or enough acknowledged lines pile up)
    expect(statSync(join(dir, 'records.jsonl')).size).toBe(0);
    const c = await RecordBuffer.open(dir);
    expect(c.pending).toBe(0);
    expect(await c.append(purchase(6))).toBe(6);
    await c.close();
  });

  it('loses nothing when a crash forgets an acknowledgement: the storedSeq of the hub acknowledges again', async () => {
    const dir = tempDir();
    const a = await RecordBuffer.open(dir);
    await a.sync(0);
    for (let n = 1; n <= 5; n++) await a.append(purchase(n));
    await a.ack(3); // in memory only: the process dies before the buffer closes
    expect(seqs(a)).toEqual([4, 5]);
    const b = await RecordBuffer.open(dir); // what the restarted machine finds
    expect(b.ackedSeq).toBe(0);
    expect(seqs(b)).toEqual([1, 2, 3, 4, 5]); // every line still there
    await b.sync(3); // the hub's hello: it stored 1…3
    expect(seqs(b)).toEqual([4, 5]);
    expect(await b.append(purchase(6))).toBe(6); // numbering goes on: nothing stored twice, nothing renumbered
    await b.close();
    await a.close().catch(() => undefined);
  });

  it('rewrites the file once enough acknowledged lines pile up', async () => {
    const dir = tempDir();
    const a = await RecordBuffer.open(dir);
    await a.sync(0);
    await Promise.all(Array.from({ length: 1100 }, (_, i) => a.append(purchase(i + 1))));
    const before = statSync(join(dir, 'records.jsonl')).size;
    await a.ack(1050);
    expect(statSync(join(dir, 'records.jsonl')).size).toBeLessThan(before / 10);
    expect(await a.append(purchase(1101))).toBe(1101);
    await a.close();
    const b = await RecordBuffer.open(dir);
    expect(seqs(b)).toEqual(Array.from({ length: 51 }, (_, i) => 1051 + i));
    await b.close();
  });

  it('renumbers the records of a buffer that never met the hub above what the hub stored', async () => {
    const dir = tempDir();
    const a = await RecordBuffer.open(dir);
    for (let n = 1; n <= 3; n++) await a.append(purchase(n));
    expect(a.synced).toBe(false);
    await a.sync(40); // another disk of this machine delivered 1…40
    expect(seqs(a)).toEqual([41, 42, 43]);
    expect(a.ackedSeq).toBe(40);
    expect(await a.append(purchase(4))).toBe(44);
    await a.sync(42); // a lost answer: the hub stored up to 42
    expect(seqs(a)).toEqual([43, 44]);
    await a.close();
    const b = await RecordBuffer.open(dir);
    expect(b.synced).toBe(true);
    expect(terminalSeqs(b)).toEqual([3, 4]);
    expect(seqs(b)).toEqual([43, 44]);
    await b.sync(100); // the hub is ahead of everything this disk ever numbered
    expect(seqs(b)).toEqual([101, 102]);
    await b.close();
  });
});
