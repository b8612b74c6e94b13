/** pull against a real loopback server speaking the Hub protocol, with fault injection. */
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import os from 'node:os';
import { FakeHub, bytes, gitSha1, sha256 } from '../helpers/hub-server.js';
import { globToRegExp, pullModel, selectFiles, type PullOptions } from '../../src/core/hub/pull.js';
import { hubSettings } from '../../src/core/hub/settings.js';
import { AuthError, ConfigError, IntegrityError, NetworkError, NotFoundError, UsageError } from '../../src/core/errors.js';

const COMMIT = 'a'.repeat(40);
const OLD = 'b'.repeat(40);
const model = bytes(300_000, 1);
const data = bytes(700_000, 2);
const quant = bytes(90_000, 3);
const config = new TextEncoder().encode('{"model_type": "test"}');
const hub = new FakeHub();
let waits: number[] = [];

before(async () => {
  hub.addRepo('org/net', {
    commits: {
      [COMMIT]: { 'onnx/model.onnx': model, 'onnx/model.onnx_data': data, 'onnx/model_quantized.onnx': quant, 'config.json': config, 'README.md': new TextEncoder().encode('# net') },
      [OLD]: { 'onnx/model.onnx': bytes(1000, 9) },
    },
    refs: { main: COMMIT, v1: OLD },
  });
  hub.addRepo('org/gated', { commits: { [COMMIT]: { 'model.onnx': model } }, refs: { main: COMMIT }, gated: true });
  hub.addRepo('org/evil', { commits: { [COMMIT]: { 'model.onnx': quant } }, refs: { main: COMMIT }, extraTree: [{ type: 'file', path: '../../escape.onnx', size: 1, oid: '0'.repeat(40) }] });
  await hub.start();
});
after(() => hub.stop());
beforeEach(() => {
  hub.faults = {};
  hub.log.length = 0;
  waits = [];
});

async function opts(env: Record<string, string> = {}, over: Partial<PullOptions> = {}): Promise<PullOptions & { cacheDir: string }> {
  const home = await mkdtemp(join(os.tmpdir(), 'aivmm-hf-'));
  const settings = hubSettings({ HF_HOME: home, HF_ENDPOINT: hub.hubUrl, ...env });
  return { settings, userAgent: 'aivmm-test', connections: 4, chunkBytes: 64 * 1024, backoffMs: 1, maxRetries: 3, sleep: async (ms) => void waits.push(ms), cacheDir: settings.cacheDir, ...over };
}

test('pull org/name: fp32 ONNX + external data + config into huggingface_hub\'s exact cache layout', async () => {
  const o = await opts({ HF_TOKEN: hub.validToken });
  const r = await pullModel({ id: 'org/net' }, o);
  assert.equal(r.commit, COMMIT);
  assert.deepEqual(r.files.map((f) => [f.path, f.downloaded]), [['config.json', true], ['onnx/model.onnx', true], ['onnx/model.onnx_data', true]]);
  const root = join(o.cacheDir, 'models--org--net');
  assert.equal(await readFile(join(root, 'refs', 'main'), 'utf8'), COMMIT);
  assert.deepEqual((await readdir(join(root, 'blobs'))).sort(), [sha256(model), sha256(data), gitSha1(config)].sort());
  const link = join(root, 'snapshots', COMMIT, 'onnx', 'model.onnx');
  assert.ok((await lstat(link)).isSymbolicLink());
  assert.equal(await readlink(link), `../../../blobs/${sha256(model)}`);
  assert.equal(await readlink(join(root, 'snapshots', COMMIT, 'config.json')), `../../blobs/${gitSha1(config)}`);
  assert.deepEqual(new Uint8Array(await readFile(link)), model);
  assert.match(await readFile(join(o.cacheDir, 'CACHEDIR.TAG'), 'utf8'), /^Signature: 8a477f597d28d172789f06886806bc55/);
  // the tree listing was paginated (page size 2) and followed to the end
  assert.ok(hub.log.filter((l) => l.url.includes('/tree/')).length >= 3);
  // the token went to the Hub, never to the CDN
  assert.ok(hub.log.some((l) => l.server === 'hub' && l.auth === `Bearer ${hub.validToken}`));
  assert.ok(hub.log.filter((l) => l.server === 'cdn').every((l) => l.auth === undefined));
  // large files came down in parallel ranges
  assert.ok(hub.log.filter((l) => l.server === 'cdn' && l.range).length > 4);
  assert.equal(r.files.find((f) => f.path === 'onnx/model.onnx_data')?.download?.mode, 'parallel');

  hub.log.length = 0;
  const again = await pullModel({ id: 'org/net' }, o);
  assert.ok(again.files.every((f) => !f.downloaded));
  assert.equal(hub.log.filter((l) => l.server === 'cdn').length, 0, 'nothing downloaded twice');
});

test('--dtype q8 picks model_quantized.onnx; --include globs; org/name/path one file; --revision a tag', async () => {
  const o = await opts();
  assert.deepEqual((await pullModel({ id: 'org/net', dtype: 'q8' }, o)).files.map((f) => f.path), ['config.json', 'onnx/model_quantized.onnx']);
  assert.deepEqual((await pullModel({ id: 'org/net', include: ['*.md'] }, o)).files.map((f) => f.path), ['README.md']);
  assert.deepEqual((await pullModel({ id: 'org/net/onnx/model.onnx' }, o)).files.map((f) => f.path), ['config.json', 'onnx/model.onnx', 'onnx/model.onnx_data']);
  const v1 = await pullModel({ id: 'org/net', revision: 'v1' }, o);
  assert.equal(v1.commit, OLD);
  assert.equal(await readFile(join(o.cacheDir, 'models--org--net', 'refs', 'v1'), 'utf8'), OLD);
  assert.throws(() => selectFiles([], { dtype: 'fp8' }), UsageError);
  assert.ok(globToRegExp('onnx/*.onnx').test('onnx/model.onnx'));
  assert.ok(globToRegExp('*.json').test('sub/dir/x.json')); // fnmatch: * spans slashes, as huggingface_hub
  assert.ok(!globToRegExp('model?.onnx').test('model.onnx'));
});

test('a cut connection resumes from the last byte; a server that ignores Range falls back to one stream', async () => {
  hub.faults = { cutAfterBytes: 20_000, cuts: 3 };
  const o = await opts({}, { connections: 1 });
  const r = await pullModel({ id: 'org/net/onnx/model.onnx', include: ['onnx/model.onnx'] }, o);
  const f = r.files[0];
  assert.ok(f && f.download && f.download.resumes >= 1, JSON.stringify(f?.download));
  assert.deepEqual(new Uint8Array(await readFile(f.localPath)), model);
  assert.ok(hub.log.some((l) => l.server === 'cdn' && l.range?.startsWith('bytes=20000-')), 'resumed with a Range from byte 20000');

  hub.faults = { ignoreRange: true };
  const o2 = await opts();
  const r2 = await pullModel({ id: 'org/net', include: ['onnx/model.onnx_data'] }, o2);
  assert.equal(r2.files[0]?.download?.mode, 'single (server ignored Range)');
  assert.deepEqual(new Uint8Array(await readFile(r2.files[0]?.localPath ?? '')), data);
});

test('wrong bytes: checksum mismatch, and nothing partial is left (no blob, no link, no temp file)', async () => {
  hub.faults = { corrupt: true };
  const o = await opts();
  await assert.rejects(pullModel({ id: 'org/net', include: ['onnx/model.onnx'] }, o), (e: Error) => e instanceof IntegrityError && /checksum mismatch/.test(e.message));
  const root = join(o.cacheDir, 'models--org--net');
  assert.deepEqual(await readdir(join(root, 'blobs')).catch(() => []), []);
  assert.deepEqual(await readdir(join(root, 'snapshots')).catch(() => []), []);
});

test('wrong size: a CDN with fewer bytes than announced is an integrity error, nothing kept', async () => {
  hub.faults = { shortBy: 1000 };
  const o = await opts({}, { connections: 1 });
  await assert.rejects(pullModel({ id: 'org/net', include: ['onnx/model.onnx'] }, o), (e: Error) => e instanceof IntegrityError && /fewer bytes than the 300000 announced/.test(e.message));
  assert.deepEqual(await readdir(join(o.cacheDir, 'models--org--net', 'blobs')).catch(() => []), []);
  assert.deepEqual(await readdir(join(o.cacheDir, 'models--org--net', 'snapshots')).catch(() => []), []);
});

test('retry waits: RateLimit "r=0;t=N" waits N+1 s; Retry-After in seconds or as a date', async () => {
  const { retryAfterMs } = await import('../../src/core/hub/http.js');
  const res = (h: Record<string, string>): Response => new Response(null, { status: 429, headers: h });
  assert.equal(retryAfterMs(res({ ratelimit: '"api";r=0;t=55' })), 56_000);
  assert.equal(retryAfterMs(res({ ratelimit: '"api";r=3;t=55', 'retry-after': '7' })), 7000);
  assert.equal(retryAfterMs(res({ 'retry-after': new Date(Date.UTC(2026, 0, 1, 0, 0, 30)).toUTCString() }), () => Date.UTC(2026, 0, 1, 0, 0, 0)), 30_000);
  assert.equal(retryAfterMs(res({})), undefined);
});

test('5xx bursts and 429 are retried (Retry-After honoured); 5xx forever is a network error', async () => {
  hub.faults = { fail5xx: 2, rateLimit: 1 };
  const o = await opts();
  const r = await pullModel({ id: 'org/net', include: ['config.json'] }, o);
  assert.equal(r.files.length, 1);
  assert.ok(waits.includes(2000), `waited ${waits.join(', ')} ms`); // Retry-After: 2
  hub.faults = { fail5xx: 100 };
  await assert.rejects(pullModel({ id: 'org/net' }, await opts()), (e: Error) => e instanceof NetworkError && /503/.test(e.message));
});

test('errors: unknown repo, revision or file are not-found; gated and bad tokens are auth errors that say what to do', async () => {
  const o = await opts();
  await assert.rejects(pullModel({ id: 'org/nope' }, o), (e: Error) => e instanceof NotFoundError && /org\/nope not found/.test(e.message));
  await assert.rejects(pullModel({ id: 'org/net', revision: 'v9' }, o), (e: Error) => e instanceof NotFoundError && /revision 'v9' not found/.test(e.message));
  await assert.rejects(pullModel({ id: 'org/net/onnx/missing.onnx' }, o), (e: Error) => e instanceof NotFoundError && /no file onnx\/missing.onnx/.test(e.message));
  assert.ok((await lstat(join(o.cacheDir, 'models--org--net', '.no_exist', COMMIT, 'onnx', 'missing.onnx'))).isFile(), '.no_exist marker written');
  await pullModel({ id: 'org/net', include: ['config.json'] }, o); // writes refs/main
  const offline = { ...o, settings: { ...o.settings, offline: true } };
  await assert.rejects(pullModel({ id: 'org/net/onnx/missing.onnx' }, offline), /does not exist in org\/net at aaaaaaaaaaaa \(known from an earlier pull\)/);
  await assert.rejects(pullModel({ id: 'org/gated' }, o), (e: AuthError) => e instanceof AuthError && /gated/.test(e.message) && /HF_TOKEN/.test(e.hint ?? '') && /ask for access at .*org\/gated/.test(e.hint ?? ''));
  const bad = await opts({ HF_TOKEN: 'hf_wrong_secret_value' });
  await assert.rejects(pullModel({ id: 'org/net' }, bad), (e: Error) => e instanceof AuthError && /invalid credentials/.test(e.message) && !e.message.includes('hf_wrong_secret_value'));
  await assert.rejects(pullModel({ id: 'not-a-model' }, o), (e: NotFoundError) => e instanceof NotFoundError && /unknown model 'not-a-model'/.test(e.message) && /mobilenetv2/.test(e.hint ?? ''));
  await assert.rejects(pullModel({ id: 'org/' }, o), UsageError);
});

test('an unknown host fails at once (no retries), as a network error that says what to do', async () => {
  const o = await opts({ HF_ENDPOINT: 'http://no-such-host.invalid' });
  await assert.rejects(pullModel({ id: 'org/net' }, o), (e: NetworkError) => e instanceof NetworkError && /cannot reach no-such-host.invalid/.test(e.message) && /HF_HUB_OFFLINE/.test(e.hint ?? ''));
  assert.deepEqual(waits, []);
});

test('a file name that would escape the cache is refused before anything is written', async () => {
  const o = await opts();
  await assert.rejects(pullModel({ id: 'org/evil' }, o), (e: Error) => e instanceof IntegrityError && /escape the cache/.test(e.message));
  assert.deepEqual(await readdir(o.cacheDir).catch(() => []), []);
});

test('two concurrent pulls of the same files download each once and both succeed', async () => {
  const o = await opts({}, { connections: 1 });
  hub.faults = { bytesPerSec: 2_000_000 };
  const [a, b] = await Promise.all([pullModel({ id: 'org/net', include: ['onnx/model.onnx'] }, o), pullModel({ id: 'org/net', include: ['onnx/model.onnx'] }, o)]);
  assert.deepEqual(a.files.map((f) => f.localPath), b.files.map((f) => f.localPath));
  assert.equal(a.files.length, 2); // model.onnx and its external data
  assert.equal([...a.files, ...b.files].filter((f) => f.downloaded).length, 2, 'each file downloaded by one of the two');
  assert.equal(hub.log.filter((l) => l.server === 'cdn').length, 2);
  for (const f of a.files) assert.ok((await readFile(f.localPath)).length === f.size);
});

test('a cache filled by huggingface_hub is used as is; offline mode serves only the cache', async () => {
  const o = await opts();
  // The layout Python writes: blob, relative symlink, ref.
  const root = join(o.cacheDir, 'models--org--net');
  await mkdir(join(root, 'blobs'), { recursive: true });
  await mkdir(join(root, 'snapshots', COMMIT, 'onnx'), { recursive: true });
  await mkdir(join(root, 'refs'), { recursive: true });
  await writeFile(join(root, 'blobs', sha256(quant)), quant);
  await symlink(`../../../blobs/${sha256(quant)}`, join(root, 'snapshots', COMMIT, 'onnx', 'model_quantized.onnx'));
  await writeFile(join(root, 'refs', 'main'), COMMIT);
  const r = await pullModel({ id: 'org/net', include: ['onnx/model_quantized.onnx'] }, o);
  assert.equal(r.files[0]?.downloaded, false);
  assert.equal(hub.log.filter((l) => l.server === 'cdn').length, 0);

  const offline = await opts({ HF_HUB_OFFLINE: '1' });
  const off = await pullModel({ id: 'org/net', dtype: 'q8' }, { ...offline, settings: { ...offline.settings, cacheDir: o.cacheDir } });
  assert.equal(off.offline, true);
  assert.deepEqual(off.files.map((f) => f.path), ['onnx/model_quantized.onnx']);
  await assert.rejects(pullModel({ id: 'org/net' }, offline), (e: Error) => e instanceof NotFoundError && /offline/.test(e.message));
});

test('a cache directory that cannot be written is one clear configuration error', async () => {
  // A path under a regular file fails for every user, root included (permissions would not stop root).
  const o = await opts();
  const file = join(o.cacheDir, '..', 'not-a-dir');
  await writeFile(file, 'x');
  const bad = { ...o, settings: { ...o.settings, cacheDir: join(file, 'hub') } };
  await assert.rejects(pullModel({ id: 'org/net', include: ['config.json'] }, bad), (e: Error) => e instanceof ConfigError && /cannot write to the Hugging Face cache .*ENOTDIR/.test(e.message));
});

test('catalog aliases: repo, revision and files from catalog/models.json, with licence and drift warnings', async () => {
  const zoo = 'validated/vision/classification/mobilenet/model/mobilenetv2-12.onnx';
  hub.addRepo('onnxmodelzoo/legacy_models', { commits: { [COMMIT]: { [zoo]: model, 'validated/other.onnx': quant } }, refs: { main: COMMIT } });
  hub.addRepo('webml/yolov8n', { commits: { [COMMIT]: { 'onnx/yolov8n.onnx': quant } }, refs: { main: COMMIT } });
  const o = await opts();
  const mb = await pullModel({ id: 'mobilenetv2' }, o);
  assert.equal(mb.alias, 'mobilenetv2');
  assert.equal(mb.repo, 'onnxmodelzoo/legacy_models');
  assert.deepEqual(mb.files.map((f) => f.path), [zoo]);
  // the fake file is not the real MobileNetV2: the catalog's sha256 says so
  assert.ok(mb.warnings.some((w) => /differs from the file the catalog describes/.test(w)), mb.warnings.join('\n'));
  const yolo = await pullModel({ id: 'YOLOv8n' }, o);
  assert.ok(yolo.warnings.some((w) => /AGPL-3.0/.test(w)));
});

test('the catalog file is valid: every alias unique, licences present, AGPL and non-commercial flagged', async () => {
  const { loadCatalog } = await import('../../src/core/hub/catalog.js');
  const c = loadCatalog();
  const aliases = c.models.map((m) => m.alias);
  assert.equal(new Set(aliases).size, aliases.length);
  for (const need of ['mobilenetv2', 'resnet50', 'yolov8n', 'tinyllama', 'clip-vit-b32', 'whisper-tiny', 'minilm']) assert.ok(aliases.includes(need), need);
  for (const m of c.models) {
    if (/agpl|nc|non-commercial/i.test(m.license)) assert.ok(m.warning && m.flags?.length, `${m.alias} must carry a warning`);
  }
});

test('across runs: a partial file left by an interrupted pull is continued, not restarted; a bad partial is downloaded again in the same run', async () => {
  const o = await opts({}, { connections: 1 });
  const blobs = join(o.cacheDir, 'models--org--net', 'blobs');
  await mkdir(blobs, { recursive: true });
  await writeFile(join(blobs, `${sha256(model)}.incomplete`), model.subarray(0, 100_000)); // what a killed run left
  const r = await pullModel({ id: 'org/net', include: ['onnx/model.onnx'] }, o);
  const f = r.files.find((x) => x.path === 'onnx/model.onnx');
  assert.equal(f?.download?.resumedFrom, 100_000);
  assert.ok(hub.log.some((l) => l.server === 'cdn' && l.range === `bytes=100000-${model.length - 1}`));
  assert.deepEqual(new Uint8Array(await readFile(f?.localPath ?? '')), model);

  const o2 = await opts({}, { connections: 1 });
  const blobs2 = join(o2.cacheDir, 'models--org--net', 'blobs');
  await mkdir(blobs2, { recursive: true });
  await writeFile(join(blobs2, `${sha256(model)}.incomplete`), bytes(100_000, 77)); // garbage, with no ranges file to vouch for it
  const retry = await pullModel({ id: 'org/net', include: ['onnx/model.onnx'] }, o2);
  assert.equal(retry.files.find((x) => x.path === 'onnx/model.onnx')?.download?.restarted, true, 'downloaded again in the same run, not failed');
  assert.deepEqual(new Uint8Array(await readFile(retry.files.find((x) => x.path === 'onnx/model.onnx')?.localPath ?? '')), model);
  assert.deepEqual((await readdir(blobs2)).filter((n) => n.startsWith(sha256(model))), [sha256(model)], 'no partial or ranges file left');
});

test('two aivmm processes pulling the same model at once download each file once', async () => {
  const { spawn } = await import('node:child_process');
  const { BIN } = await import('../helpers/run-cli.js');
  const home = await mkdtemp(join(os.tmpdir(), 'aivmm-hf-procs-'));
  hub.faults = { bytesPerSec: 1_000_000 };
  const run = (): Promise<number | null> =>
    new Promise((resolve) => spawn(process.execPath, [BIN, 'pull', 'org/net', '--include', 'onnx/model.onnx', '--connections', '1'], { env: { ...process.env, HF_HOME: home, HF_ENDPOINT: hub.hubUrl }, stdio: 'ignore' }).on('close', resolve));
  const codes = await Promise.all([run(), run()]);
  assert.deepEqual(codes, [0, 0]);
  assert.equal(hub.log.filter((l) => l.server === 'cdn').length, 2, 'model.onnx and model.onnx_data, once each');
});

test('links planted in the cache are never followed: at blobs/<sha>.incomplete the pull refuses (outside file untouched); at blobs/<sha> it is replaced by the real blob', async () => {
  const o = await opts();
  const blobs = join(o.cacheDir, 'models--org--net', 'blobs');
  await mkdir(blobs, { recursive: true });
  const outside = join(o.cacheDir, '..', 'outside.bin');
  await writeFile(outside, 'precious');
  await symlink(outside, join(blobs, `${sha256(model)}.incomplete`));
  await assert.rejects(pullModel({ id: 'org/net', include: ['onnx/model.onnx'] }, o), (e: Error) => e instanceof IntegrityError && /not a regular file/.test(e.message));
  assert.equal(await readFile(outside, 'utf8'), 'precious');
  // The blob itself a link to a file of the right size outside the cache: not taken as cached.
  const fake = join(o.cacheDir, '..', 'fake.bin');
  await writeFile(fake, Buffer.alloc(model.length));
  await rm(join(blobs, `${sha256(model)}.incomplete`), { force: true });
  await symlink(fake, join(blobs, sha256(model)));
  const r = await pullModel({ id: 'org/net', include: ['onnx/model.onnx'] }, o);
  assert.equal(r.files[0]?.downloaded, true);
  assert.ok((await lstat(join(blobs, sha256(model)))).isFile(), 'the blob is a regular file now');
  assert.deepEqual(new Uint8Array(await readFile(r.files[0]?.localPath ?? '')), model);
  assert.deepEqual(new Uint8Array(await readFile(fake)), new Uint8Array(model.length), 'the outside file is untouched');
});

test('server values are validated: a non-hex etag or one with "/" is refused (never "verified"), X-Repo-Commit must be the commit asked for', async () => {
  for (const etag of ['not-a-hash', 'ab/cd', 'A'.repeat(64)]) {
    const o = await opts();
    hub.faults = { etag };
    await assert.rejects(pullModel({ id: 'org/net', include: ['config.json'] }, o), (e: Error) => e instanceof IntegrityError && /not a sha256 or git sha1/.test(e.message), etag);
    assert.equal(await readdir(join(o.cacheDir, 'models--org--net', 'blobs')).catch(() => []).then((l) => l.length), 0);
  }
  const o = await opts();
  hub.faults = { repoCommit: 'abc/def' };
  await assert.rejects(pullModel({ id: 'org/net', include: ['config.json'] }, o), (e: Error) => e instanceof IntegrityError && /answered for commit 'abc\/def'/.test(e.message));
  assert.deepEqual(await readdir(join(o.cacheDir, 'models--org--net', 'snapshots')).catch(() => []), []);
});

test('a repo id with . or .. segments is refused locally, before any request', async () => {
  const o = await opts();
  for (const id of ['org/../other', 'org/net/../x.onnx', './net', 'org/.']) {
    await assert.rejects(pullModel({ id }, o), (e: Error) => e instanceof UsageError || e instanceof IntegrityError, id);
  }
  assert.equal(hub.log.length, 0);
});

test('a Hub API answer whose body stalls times out within HF_HUB_ETAG_TIMEOUT per attempt, a bounded number of times, saying what timed out', { timeout: 30_000 }, async () => {
  const o = await opts({ HF_HUB_ETAG_TIMEOUT: '0.3' }, { maxRetries: 2 });
  hub.faults = { apiStall: true };
  const t0 = Date.now();
  await assert.rejects(pullModel({ id: 'org/net' }, o), (e: Error) => e instanceof NetworkError && /GET \/api\/models\/org\/net\/revision\/main got no complete answer within 0.3 s \(HF_HUB_ETAG_TIMEOUT\) \(3 attempts\)/.test(e.message));
  assert.ok(Date.now() - t0 < 10_000);
  assert.equal(waits.length, 2, 'each retry waited (and was announced)');
});

test('errors that cannot heal fail at once: a port fetch refuses; HF_ENDPOINT malformed or with credentials is a config error that does not echo them', async () => {
  const o = await opts({ HF_ENDPOINT: 'http://127.0.0.1:9' });
  await assert.rejects(pullModel({ id: 'org/net' }, o), (e: Error) => e instanceof NetworkError && /bad port/.test(e.message));
  assert.equal(waits.length, 0, 'no retries');
  assert.throws(() => hubSettings({ HF_ENDPOINT: 'https://user:s3cret-pw@hub.example' }), (e: Error) => e instanceof ConfigError && /credentials/.test(e.message) && !e.message.includes('s3cret-pw'));
  assert.throws(() => hubSettings({ HF_ENDPOINT: 'http://exa mple' }), (e: Error) => e instanceof ConfigError && /not a valid URL/.test(e.message));
  assert.throws(() => hubSettings({ HF_ENDPOINT: 'ftp://hub.example' }), ConfigError);
  assert.equal(hubSettings({ HF_ENDPOINT: 'https://hub.example/mirror/' }).endpoint, 'https://hub.example/mirror');
});

test('the blob lock: a live owner is waited for however old its lock file; a dead owner (this host) or a silent other host is taken over', async () => {
  const { RepoCache } = await import('../../src/core/hub/cache.js');
  const dir = await mkdtemp(join(os.tmpdir(), 'aivmm-lock-'));
  const cache = new RepoCache(dir, 'org/net');
  const lockFile = join(dir, '.locks', 'models--org--net', 'e.lock');
  await mkdir(join(dir, '.locks', 'models--org--net'), { recursive: true });
  const old = new Date(Date.now() - 60 * 60_000);
  // Alive (this process), an hour old: waited for.
  await writeFile(lockFile, JSON.stringify({ pid: process.pid, host: os.hostname(), started: 0 }));
  await utimes(lockFile, old, old);
  const ac = new AbortController();
  const waiting = cache.lock('e', undefined, ac.signal);
  const outcome = await Promise.race([waiting.then(() => 'taken'), new Promise((r) => setTimeout(() => r('waiting'), 400))]);
  assert.equal(outcome, 'waiting');
  ac.abort();
  await assert.rejects(waiting, /cancelled/);
  // Dead pid on this host: taken over at once.
  const { spawnSync } = await import('node:child_process');
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
  await writeFile(lockFile, JSON.stringify({ pid: Number(dead), host: os.hostname(), started: 0 }));
  const release = await cache.lock('e');
  assert.equal((JSON.parse(await readFile(lockFile, 'utf8')) as { pid: number }).pid, process.pid);
  await release();
  // Another host: alive while refreshed, abandoned after 5 minutes of silence.
  await writeFile(lockFile, JSON.stringify({ pid: 1, host: 'other-host.invalid', started: 0 }));
  const { isStale } = await import('../../src/core/hub/cache.js');
  assert.equal(await isStale(lockFile), false);
  await utimes(lockFile, old, old);
  assert.equal(await isStale(lockFile), true);
  await rm(dir, { recursive: true, force: true });
});

test('cut connections until the pull gives up, then pull again: the ranges that arrived are kept and only the rest is fetched', async () => {
  const o = await opts({}, { maxRetries: 1 });
  hub.faults = { cutAfterBytes: 30_000, cuts: 1000 }; // every response cut: parallel ranges end with gaps between them
  await assert.rejects(pullModel({ id: 'org/net', include: ['onnx/model.onnx_data'] }, o), NetworkError);
  const partial = join(o.cacheDir, 'models--org--net', 'blobs', `${sha256(data)}.incomplete`);
  const side = JSON.parse(await readFile(`${partial}.ranges`, 'utf8')) as { done: [number, number][] };
  const kept = side.done.reduce((a, [s, e]) => a + e - s, 0);
  assert.ok(kept > 0 && side.done.length > 1, JSON.stringify(side.done));
  hub.faults = {};
  hub.cdnBytes = 0;
  const r = await pullModel({ id: 'org/net', include: ['onnx/model.onnx_data'] }, o);
  const f = r.files.find((x) => x.path === 'onnx/model.onnx_data');
  assert.equal(f?.download?.resumedFrom, kept); // before the fix: a checksum mismatch (resumed from the size of a file with gaps)
  assert.deepEqual(new Uint8Array(await readFile(f?.localPath ?? '')), data);
  assert.equal(hub.cdnBytes, data.length - kept);
});
