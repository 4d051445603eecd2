/**
 * The operator console's page over plain HTTP on a real socket: its files only, from memory, with the strict
 * Content Security Policy; `/console` redirects, a POST is 405, a file it does not have 404 (also `..` paths), an
 * unchanged file 304; an unbuilt console 503 with the reason; `console: false` serves nothing; the WebSocket
 * endpoints are untouched. The page itself is driven in a real browser by `tests/console/console.browser.test.ts`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { referenceProfile } from '@simtap/sdk/core/profile';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPlatform } from '../platform/platform.test-support';
import { CONSOLE_HEADERS, defaultConsoleDir } from './console-assets';
import { createPlatformServer, type PlatformServer } from './server';
import { OPERATOR, RawClient } from './server.test-support';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(url: string, path: string, o: { method?: string; headers?: Record<string, string> } = {}) {
  return new Promise<Answer>((resolve, reject) => {
    const u = new URL(url.replace(/^ws/, 'http'));
    const req = request(
      { host: u.hostname, port: u.port, path, method: o.method ?? 'GET', headers: o.headers ?? {} },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const dirs: string[] = [];
const servers: Array<{ stop(): Promise<void> }> = [];

async function serve(console: boolean | { dir: string }): Promise<{ url: string; server: PlatformServer }> {
  const { platform } = await testPlatform();
  const server = createPlatformServer({ platform, clients: referenceProfile().platform.clients, port: 0, console });
  const { url } = await server.listen();
  servers.push({
    async stop() {
      await server.close();
      await platform.close();
    },
  });
  return { url, server };
}

let site: string;
beforeAll(() => {
  site = mkdtempSync(join(tmpdir(), 'simtap-console-'));
  dirs.push(site);
  writeFileSync(
    join(site, 'index.html'),
    '<!doctype html><title>simtap console</title><script src="console.js"></script>',
  );
  writeFileSync(join(site, 'console.js'), 'console.log("hi")');
  writeFileSync(join(site, 'console.css'), 'body{margin:0}');
  writeFileSync(join(site, 'notes.txt'), 'not a type the console serves');
});
afterAll(async () => {
  for (const s of servers) await s.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('the console page', () => {
  it('serves its files with the security headers, redirects /console, answers 304, 404, 405', async () => {
    const { url, server } = await serve({ dir: site });
    expect(server.console).toEqual({ ok: true });
    const index = await get(url, '/console/');
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.body).toContain('<title>simtap console</title>');
    for (const [k, v] of Object.entries(CONSOLE_HEADERS)) expect(index.headers[k]).toBe(v);
    expect(index.headers['content-security-policy']).toContain("connect-src 'self'");
    expect(index.headers['content-security-policy']).not.toContain('unsafe');
    const js = await get(url, '/console/console.js');
    expect(js).toMatchObject({ status: 200, body: 'console.log("hi")' });
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(
      (await get(url, '/console/console.js', { headers: { 'if-none-match': String(js.headers.etag) } })).status,
    ).toBe(304);
    expect((await get(url, '/console/console.js', { method: 'HEAD' })).body).toBe('');
    const moved = await get(url, '/console');
    expect(moved.status).toBe(301);
    expect(moved.headers.location).toBe('/console/');
    for (const path of ['/console/notes.txt', '/console/nothing.js', '/console/../package.json', '/console/%2e%2e/x'])
      expect((await get(url, path)).status, path).toBe(404);
    const post = await get(url, '/console/', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    // Elsewhere the server is as before: endpoints answer 426 to plain HTTP, the rest 404 naming the console.
    expect((await get(url, '/v1/console')).status).toBe(426);
    const other = await get(url, '/');
    expect(other.status).toBe(404);
    expect(other.body).toContain('/console/');
    // And the console's endpoint takes operators as ever.
    const op = await RawClient.session(url, '/v1/console', OPERATOR);
    expect((await op.call('ledger.verify', {})).result).toMatchObject({ ok: true });
    op.close();
  });

  it('answers 503 with the reason when the console is not built, and nothing at all when turned off', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'simtap-console-empty-'));
    dirs.push(empty);
    const unbuilt = await serve({ dir: empty });
    expect(unbuilt.server.console).toMatchObject({ ok: false, reason: expect.stringContaining('npm run build') });
    const a = await get(unbuilt.url, '/console/');
    expect(a.status).toBe(503);
    expect(a.body).toContain('not built');
    const off = await serve(false);
    expect(off.server.console).toMatchObject({ ok: false });
    expect((await get(off.url, '/console/')).status).toBe(404);
  });

  it('finds the build of the host package by default', () => {
    expect(defaultConsoleDir()).toMatch(/host[/\\]dist[/\\]console$/);
  });
});
