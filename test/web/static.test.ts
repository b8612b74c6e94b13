/**
 * The dashboard's static file serving (src/server/dashboard.ts) over real HTTP on loopback: index.html at
 * `/` and at client-side routes, assets with immutable cache headers and the right type, a clear 404 when
 * the front end is not built, and no way out of the built directory. And GET /v1/devices on a real server.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerDashboard, resolveStatic } from '../../src/server/dashboard.js';
import { startTestServer, tmp, TINY } from '../server/helpers.js';

let app: FastifyInstance;
let url: string;
let cleanup: () => Promise<void>;
let root: string;

/** A raw GET, so the path is sent exactly as written (fetch would normalise `..`). */
function rawGet(path: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  const d = await tmp('aivmm-web-');
  cleanup = d.cleanup;
  root = join(d.dir, 'web');
  await mkdir(join(root, 'assets'), { recursive: true });
  await writeFile(join(root, 'index.html'), '<!doctype html><title>t</title>');
  await writeFile(join(root, 'assets', 'app-abc.js'), 'console.log(1)');
  await writeFile(join(d.dir, 'secret.txt'), 'outside the web root');
  app = Fastify();
  registerDashboard(app, { dir: root });
  app.get('/v2', async () => ({ name: 'api' }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const a = app.server.address();
  url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
});
after(async () => {
  await app.close();
  await cleanup();
});

test('GET / and a client route answer index.html, not cached', async () => {
  for (const p of ['/', '/dashboard/models']) {
    const r = await rawGet(p);
    assert.equal(r.status, 200, p);
    assert.match(String(r.headers['content-type']), /text\/html/);
    assert.equal(r.headers['cache-control'], 'no-cache');
    assert.match(r.body, /<title>t<\/title>/);
  }
  assert.equal((await rawGet('/v2')).status, 200, 'API routes are untouched');
});

test('assets: type and immutable caching; a missing one is a JSON 404', async () => {
  const r = await rawGet('/assets/app-abc.js');
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /text\/javascript/);
  assert.match(String(r.headers['cache-control']), /max-age=31536000, immutable/);
  assert.equal(r.body, 'console.log(1)');
  const miss = await rawGet('/assets/nope.js');
  assert.equal(miss.status, 404);
  assert.equal(JSON.parse(miss.body).code, 'NOT_FOUND');
});

test('no directory traversal: encoded, double-dotted and backslashed paths stay inside the web root', async () => {
  for (const p of [
    '/assets/../../secret.txt',
    '/assets/..%2f..%2fsecret.txt',
    '/assets/%2e%2e/%2e%2e/secret.txt',
    '/assets/..%5c..%5csecret.txt',
    '/assets/%00',
    '/assets/%E0%A4%A',
  ]) {
    const r = await rawGet(p);
    assert.notEqual(r.status, 200, p);
    assert.doesNotMatch(r.body, /outside the web root/, p);
  }
  assert.equal(resolveStatic('/srv/web', '../secret'), undefined);
  assert.equal(resolveStatic('/srv/web', 'assets/%2e%2e/%2e%2e/x'), undefined);
  assert.equal(resolveStatic('/srv/web', 'assets/a.js'), '/srv/web/assets/a.js');
  assert.equal(resolveStatic('/srv/web', '%zz'), undefined);
});

test('not built: GET / is a 404 that says how to build it', async () => {
  const bare = Fastify();
  registerDashboard(bare, { dir: join(root, 'missing') });
  const r = await bare.inject({ method: 'GET', url: '/' });
  assert.equal(r.statusCode, 404);
  assert.match(r.json().hint, /npm run build/);
  await bare.close();
});

test('GET /v1/devices: the CPU with its backends, and the model placed on it', async () => {
  const d = await tmp();
  await writeFile(join(d.dir, 'tiny.onnx'), TINY);
  const t = await startTestServer({ models: [{ name: 'tiny', path: join(d.dir, 'tiny.onnx') }] });
  try {
    const r = await fetch(`${t.url}/v1/devices`);
    assert.equal(r.status, 200);
    const j = (await r.json()) as {
      devices: { id: string; backends: { backend: string; available: boolean }[] }[];
      placed: { device: string; model: string; version: string }[];
    };
    const cpu = j.devices.find((x) => x.id === 'CPU');
    assert.ok(cpu, JSON.stringify(j.devices.map((x) => x.id)));
    assert.ok(cpu.backends.some((b) => b.backend === 'ort-cpu' && b.available));
    assert.deepEqual(
      j.placed.map((p) => [p.device, p.model, p.version]),
      [['CPU', 'tiny', '1']],
    );
    const doc = (await (await fetch(`${t.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    assert.ok(doc.paths['/v1/devices'], 'documented in /openapi.json');
    assert.equal(doc.paths['/'], undefined, 'the dashboard routes are not API routes');
  } finally {
    await t.close();
    await d.cleanup();
  }
});
