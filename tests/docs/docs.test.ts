/** Generated reference docs must match the code (run `npm run docs:gen` after changing a table). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { GENERATED, root } from '../../scripts/gen-docs';

for (const [file, gen] of Object.entries(GENERATED)) {
  it(`${file} is up to date with the code`, () => {
    expect(readFileSync(join(root, file), 'utf8')).toBe(gen());
  });
}
