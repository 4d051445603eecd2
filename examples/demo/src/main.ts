/**
 * `npm start`: runs the walkthrough ({@link runDemo}) and exits 0, or prints which step failed and exits 1.
 *
 * @module
 */
import { performance } from 'node:perf_hooks';
import { runDemo } from './demo';

const started = performance.now();
try {
  await runDemo({ color: process.stdout.isTTY === true });
  console.log(`\ndone in ${((performance.now() - started) / 1000).toFixed(2)} s`);
  process.exitCode = 0;
} catch (e) {
  console.error(`\nsimtap demo failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
}
