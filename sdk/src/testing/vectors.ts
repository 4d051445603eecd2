/**
 * The public test vectors the project replays (`sdk/test/vectors/*.json`, each naming its public `source`), for
 * tests in any package: `vector('pboc-ep-mac')` instead of a relative path into this package.
 *
 * @module
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArgumentError } from '../core/errors';

/** The vector files shipped with the package. */
export const VECTOR_NAMES = [
  'aes-cmac',
  'etsi-scp80-ota',
  'gp-key-diversification',
  'gp-scp02',
  'gp-scp03',
  'iso9797-1-mac',
  'nist-sp800-108-kdf-ctr-cmac',
  'pboc-ep-mac',
  'recorded-apdu-traces',
] as const;

/** Name of a vector file (without `.json`). */
export type VectorName = (typeof VECTOR_NAMES)[number];

/** The fields every vector file has; `T` types the rest (e.g. its `cases`). */
export type VectorFile<T = Record<string, unknown>> = {
  readonly name?: string;
  readonly source: unknown;
  readonly license?: string;
  readonly verified?: unknown;
} & T;

let dir: string | undefined;

/** `sdk/test/vectors`, found from this module whether it runs from `src/` or from a build in `dist/`. */
export function vectorsDir(): string {
  if (dir !== undefined) return dir;
  let d = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(d, 'test', 'vectors');
    if (fs.existsSync(path.join(d, 'package.json')) && fs.existsSync(candidate)) {
      dir = candidate;
      return candidate;
    }
    d = path.dirname(d);
  }
  throw new ArgumentError('the @simtap/sdk test vectors are not installed next to this module (test/vectors)');
}

/**
 * One vector file, parsed.
 * @throws {ArgumentError} `BAD_ARGUMENT` on a name not in {@link VECTOR_NAMES}.
 */
export function vector<T = Record<string, unknown>>(name: VectorName): VectorFile<T> {
  if (!(VECTOR_NAMES as readonly string[]).includes(name))
    throw new ArgumentError(`vector: unknown vector file ${JSON.stringify(name)} (one of ${VECTOR_NAMES.join(', ')})`);
  return JSON.parse(fs.readFileSync(path.join(vectorsDir(), `${name}.json`), 'utf8')) as VectorFile<T>;
}
