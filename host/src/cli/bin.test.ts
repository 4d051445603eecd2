// The installed `simtap-host` bin: a committed launcher (npm links it before the build), the program built by tsup,
// runnable with npx from the repository root.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CLI_OPTIONS } from './options';

const run = promisify(execFile);
const REPO = path.resolve(import.meta.dirname, '../../..');
const BIN = path.join(REPO, 'host/dist/cli/simtap-host.js');

describe('simtap-host bin', () => {
  it('is declared in the package and built as an executable node script', async () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO, 'host/package.json'), 'utf8')) as {
      bin: Record<string, string>;
      files: string[];
    };
    // A committed launcher, so that `npm install` links it before the build (root `prepare`) creates dist/.
    expect(pkg.bin['simtap-host']).toBe('./bin/simtap-host.js');
    expect(pkg.files).toContain('bin');
    const launcher = path.join(REPO, 'host/bin/simtap-host.js');
    expect(readFileSync(launcher, 'utf8')).toMatch(
      /^#!\/usr\/bin\/env node\n[\s\S]*'\.\.\/dist\/cli\/simtap-host\.js'/,
    );
    expect(statSync(launcher).mode & 0o111).not.toBe(0);
    // `npm install` builds every workspace; build here only when a developer has no dist yet.
    if (!existsSync(BIN) || !existsSync(path.join(REPO, 'sdk/dist/wire/index.js')))
      await run('npm', ['run', 'build', '-w', 'sdk', '-w', 'host'], { cwd: REPO, maxBuffer: 1 << 24 });
    expect(readFileSync(BIN, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(statSync(BIN).mode & 0o111).not.toBe(0);
  }, 240_000);

  it('runs as `npx simtap-host` from the repository root: --help, --version, a bad option', async () => {
    expect(existsSync(BIN)).toBe(true);
    if (!existsSync(path.join(REPO, 'node_modules/.bin/simtap-host')))
      throw new Error('node_modules/.bin/simtap-host is missing: run `npm install` at the repository root');
    const { stdout } = await run('npx', ['--no-install', 'simtap-host', '--help'], { cwd: REPO });
    expect(stdout).toMatch(/^Usage: simtap-host \[options\]/);
    for (const def of CLI_OPTIONS) expect(stdout).toContain(`--${def.name}`);
    const version = await run('npx', ['--no-install', 'simtap-host', '--version'], { cwd: REPO });
    expect(version.stdout.trim()).toMatch(/^simtap-host \d+\.\d+\.\d+/);
    await expect(run('npx', ['--no-install', 'simtap-host', '--nope'], { cwd: REPO })).rejects.toMatchObject({
      code: 2,
      stderr: 'simtap-host: unknown option --nope (see simtap-host --help)\n',
    });
  }, 60_000);
});
