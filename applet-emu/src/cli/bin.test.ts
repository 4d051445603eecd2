// The installed `simtap-card` bin: built by tsup, linked by `npm install`, runnable with npx from the repository root.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CLI_OPTIONS } from './options';

const run = promisify(execFile);
const REPO = path.resolve(import.meta.dirname, '../../..');
const BIN = path.join(REPO, 'applet-emu/dist/cli/simtap-card.js');

describe('simtap-card bin', () => {
  it('is declared in the package and built as an executable node script', async () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO, 'applet-emu/package.json'), 'utf8')) as {
      bin: Record<string, string>;
    };
    // A committed launcher, so `npm install` can link it before the build creates dist/.
    expect(pkg.bin['simtap-card']).toBe('./bin/simtap-card.js');
    expect(readFileSync(path.join(REPO, 'applet-emu/bin/simtap-card.js'), 'utf8')).toContain(
      '../dist/cli/simtap-card.js',
    );
    // `npm install` builds every workspace (root `prepare`); build here only when a developer has no dist yet,
    // never underneath other test files that may be running the built CLI.
    if (!existsSync(BIN) || !existsSync(path.join(REPO, 'sdk/dist/index.js')))
      await run('npm', ['run', 'build', '-w', 'sdk', '-w', 'applet-emu'], { cwd: REPO, maxBuffer: 1 << 24 });
    expect(readFileSync(BIN, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(statSync(BIN).mode & 0o111).not.toBe(0);
  }, 240_000);

  it('runs as `npx simtap-card --help` from the repository root', async () => {
    expect(existsSync(BIN)).toBe(true);
    const linked = existsSync(path.join(REPO, 'node_modules/.bin/simtap-card'));
    if (!linked) throw new Error('node_modules/.bin/simtap-card is missing: run `npm install` at the repository root');
    const { stdout } = await run('npx', ['--no-install', 'simtap-card', '--help'], { cwd: REPO });
    expect(stdout).toMatch(/^Usage: simtap-card \[options\]/);
    for (const def of CLI_OPTIONS) expect(stdout).toContain(`--${def.name}`);
    const version = await run('npx', ['--no-install', 'simtap-card', '--version'], { cwd: REPO });
    expect(version.stdout.trim()).toMatch(/^simtap-card \d+\.\d+\.\d+/);
    await expect(run('npx', ['--no-install', 'simtap-card', '--nope'], { cwd: REPO })).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('unknown option --nope'),
    });
  }, 60_000);
});
