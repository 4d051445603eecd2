/** The files below a folder that the doc and boundary tests read (a folder that does not exist has none). */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Every file below `dir` (recursively) whose relative path passes `keep`, as absolute paths. */
export function filesUnder(dir: string, keep: (relativePath: string) => boolean): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir, { recursive: true, encoding: 'utf8' });
  } catch {
    return [];
  }
  return entries.filter(keep).map((f) => join(dir, f));
}
