/** The README's code sample must run as written (docs stay true). */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it, vi } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

it('runs the README TypeScript sample and prints what its comments say', async () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
  expect(blocks.length).toBeGreaterThan(0);
  const dir = mkdtempSync(join(root, 'sdk', 'test', '.readme-'));
  const logs: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
    logs.push(a.map(String).join(' '));
  });
  try {
    for (const [i, code] of blocks.entries()) {
      const file = join(dir, `sample-${i}.ts`);
      writeFileSync(file, code);
      await import(file);
    }
  } finally {
    spy.mockRestore();
    rmSync(dir, { recursive: true, force: true });
  }
  expect(logs[0]).toBe('true');
  expect(logs[1]).toMatch(/^[0-9A-F]{8}$/);
});
