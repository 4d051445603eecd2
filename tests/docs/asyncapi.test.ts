/**
 * docs/asyncapi.yaml is a valid AsyncAPI 3 document (checked with @asyncapi/parser: no error diagnostics) and covers
 * the catalogue: one operation per method and endpoint, with its example matching its own payload schema.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Parser } from '@asyncapi/parser';
import { ENDPOINT_PATHS, METHODS } from '@simtap/sdk/wire';
import { describe, expect, it } from 'vitest';
import { root } from '../../scripts/gen-docs';

describe('docs/asyncapi.yaml', () => {
  it('validates as AsyncAPI 3 and has every method on its endpoints', async () => {
    const text = readFileSync(join(root, 'docs', 'asyncapi.yaml'), 'utf8');
    const { document, diagnostics } = await new Parser().parse(text);
    const errors = diagnostics.filter((d) => d.severity === 0);
    expect(errors.map((d) => `${d.path.join('.')}: ${d.message}`)).toEqual([]);
    expect(document).toBeDefined();
    expect(document!.version()).toBe('3.0.0');
    const ops = new Set(
      document!
        .operations()
        .all()
        .map((o) => o.id()),
    );
    for (const [name, m] of Object.entries(METHODS))
      for (const e of m.endpoints) expect(ops.has(`${e}_${name.replace('.', '_')}`), `${e} ${name}`).toBe(true);
    const addresses = document!
      .channels()
      .all()
      .map((c) => c.address());
    expect(addresses.sort()).toEqual(Object.values(ENDPOINT_PATHS).sort());
  }, 60_000);
});
