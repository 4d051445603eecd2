/** The host README's code sample must run as written and print what its comment says. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it, vi } from 'vitest';

const host = join(dirname(fileURLToPath(import.meta.url)), '..');

it('runs the host README sample: a phone-account top-up, its retry, then verify', async () => {
  const text = readFileSync(join(host, 'README.md'), 'utf8');
  const blocks = [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
  expect(blocks).toHaveLength(1);
  const dir = mkdtempSync(join(host, 'test', '.readme-'));
  const logs: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
    logs.push(a.map(String).join(' '));
  });
  try {
    const file = join(dir, 'sample.ts');
    writeFileSync(file, blocks[0]!);
    await import(file);
  } finally {
    spy.mockRestore();
    rmSync(dir, { recursive: true, force: true });
  }
  expect(logs).toEqual(['5000', '5000', 'true']);
});
