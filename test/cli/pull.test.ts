/** `aivmm pull` end to end against the loopback Hub: paths on stdout, JSON schema, exit codes, no token leaks. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { mkdtemp, readFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { FakeHub, bytes, sha256 } from '../helpers/hub-server.js';
import { BIN, runCli } from '../helpers/run-cli.js';

const schema = (name: string): object => JSON.parse(readFileSync(fileURLToPath(new URL(`../../docs/schemas/${name}`, import.meta.url)), 'utf8')) as object;
const ajv = new Ajv({ allErrors: true, strict: false });
const validatePull = ajv.compile(schema('pull-1.schema.json'));
const validateError = ajv.compile(schema('error-1.schema.json'));

const COMMIT = 'c'.repeat(40);
const hub = new FakeHub();
const model = bytes(200_000, 5);
const big = bytes(16 * 1024 * 1024, 8);
before(async () => {
  hub.addRepo('org/big', { commits: { [COMMIT]: { 'model.onnx': big } }, refs: { main: COMMIT } });
  hub.addRepo('org/net', { commits: { [COMMIT]: { 'onnx/model.onnx': model, 'config.json': new TextEncoder().encode('{}') } }, refs: { main: COMMIT } });
  hub.addRepo('org/gated', { commits: { [COMMIT]: { 'model.onnx': model } }, refs: { main: COMMIT }, gated: true });
  await hub.start();
});
after(() => hub.stop());

const temps: string[] = [];
const tempDir = async (prefix: string): Promise<string> => {
  const d = await mkdtemp(prefix);
  temps.push(d);
  return d;
};
after(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});
const envFor = async (extra: Record<string, string> = {}): Promise<Record<string, string>> => ({ HF_HOME: await tempDir(join(os.tmpdir(), 'aivmm-pull-cli-')), HF_ENDPOINT: hub.hubUrl, ...extra });

test('pull prints the local paths, one per line; --json validates against aivmm/pull@1', async () => {
  const env = await envFor();
  const r = await runCli(['pull', 'org/net'], { env });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 2);
  assert.ok(lines.every((l) => l.startsWith(join(env['HF_HOME'] ?? '', 'hub', 'models--org--net', 'snapshots', COMMIT))));
  assert.deepEqual(new Uint8Array(await readFile(lines.find((l) => l.endsWith('model.onnx')) ?? '')), model);
  assert.match(r.stderr, /org\/net@main \(cccccccccccc\): 2 file\(s\), 2 downloaded/);
  const fresh = await runCli(['pull', 'org/net', '--json'], { env: await envFor() });
  assert.ok(validatePull(JSON.parse(fresh.stdout)), ajv.errorsText(validatePull.errors)); // with download details
  const j = await runCli(['pull', 'org/net', '--json'], { env });
  const doc = JSON.parse(j.stdout) as { data: { files: { downloaded: boolean }[] } };
  assert.ok(validatePull(doc), ajv.errorsText(validatePull.errors));
  assert.ok(doc.data.files.every((f) => !f.downloaded), 'second pull: all from the cache');
});

test('pull errors: one line, documented exit code; the token is never printed', async () => {
  const secret = 'hf_do_not_print_me_42';
  const cases: [string[], Record<string, string>, number, RegExp][] = [
    [['pull', 'org/missing'], {}, EXIT_CODES.NOT_FOUND, /org\/missing not found/],
    [['pull', 'org/net', '--revision', 'nope'], {}, EXIT_CODES.NOT_FOUND, /revision 'nope' not found/],
    [['pull', 'org/gated'], {}, EXIT_CODES.AUTH, /gated model/],
    [['pull', 'org/net'], { HF_TOKEN: secret }, EXIT_CODES.AUTH, /invalid credentials/],
    [['pull', 'org/net'], { HF_HUB_OFFLINE: '1' }, EXIT_CODES.NOT_FOUND, /offline .* not in the cache/],
    [['pull', 'just-a-name'], {}, EXIT_CODES.NOT_FOUND, /unknown model 'just-a-name'/],
    [['pull', 'org/bad name'], {}, EXIT_CODES.USAGE, /not a Hub model id/],
    [['pull', 'org/net', '--connections', '0'], {}, EXIT_CODES.USAGE, /invalid --connections/],
    [['pull', 'org/net', '--dtype', 'fp8'], {}, EXIT_CODES.USAGE, /unknown --dtype 'fp8'/],
    [['pull', 'org/../net'], {}, EXIT_CODES.USAGE, /not a Hub model id/],
    [['pull', 'org/net'], { HF_ENDPOINT: `http://user:${secret}@127.0.0.1:1` }, EXIT_CODES.CONFIG, /HF_ENDPOINT=http:\/\/\*\*\*@127\.0\.0\.1:1 contains credentials/],
    [['pull', 'org/net'], { HF_ENDPOINT: 'http://[::1' }, EXIT_CODES.CONFIG, /HF_ENDPOINT=.* is not a valid URL/],
  ];
  for (const [argv, extra, code, message] of cases) {
    const r = await runCli(argv, { env: await envFor(extra) });
    assert.equal(r.code, code, `${argv.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('error:')).length, 1);
    assert.ok(!r.stderr.includes(secret) && !r.stdout.includes(secret), 'token printed');
  }
  const gated = await runCli(['pull', 'org/gated', '--json'], { env: await envFor() });
  const e = JSON.parse(gated.stdout) as { error: { hint: string } };
  assert.ok(validateError(e), ajv.errorsText(validateError.errors));
  assert.match(e.error.hint, /HF_TOKEN=hf_… .*ask for access at http:\/\/127\.0\.0\.1:\d+\/org\/gated/);
});

const validateModels = ajv.compile(schema('models-1.schema.json'));

test('models: the catalog with cache status; --cached lists the cache with sizes; rm removes a repo', async () => {
  const env = await envFor();
  assert.equal((await runCli(['pull', 'org/net'], { env })).code, 0);
  const list = await runCli(['models', '--json'], { env });
  const doc = JSON.parse(list.stdout) as { data: { catalog: { alias: string; license: string }[]; cached: { repo: string; sizeBytes: number; onnxFiles: string[] }[] } };
  assert.ok(validateModels(doc), ajv.errorsText(validateModels.errors));
  assert.ok(doc.data.catalog.some((m) => m.alias === 'yolov8n' && m.license === 'AGPL-3.0'));
  assert.deepEqual(doc.data.cached.map((c) => [c.repo, c.onnxFiles]), [['org/net', ['onnx/model.onnx']]]);
  assert.ok((doc.data.cached[0]?.sizeBytes ?? 0) >= model.length);
  const plain = await runCli(['models', '--cached'], { env });
  assert.match(plain.stdout, /│ org\/net\s+│ 195 KiB/);
  const rm = await runCli(['models', 'rm', 'org/net'], { env });
  assert.equal(rm.code, 0, rm.stderr);
  assert.match(rm.stdout, /removed org\/net \(195 KiB\)/);
  const again = await runCli(['models', 'rm', 'org/net'], { env });
  assert.equal(again.code, EXIT_CODES.NOT_FOUND);
  const empty = JSON.parse((await runCli(['models', '--json'], { env })).stdout) as { data: { cached: unknown[] } };
  assert.deepEqual(empty.data.cached, []);
});

test('bench takes Hub ids and catalog aliases: pulled into the shared cache, then measured (offline: from the cache)', async () => {
  const { embeddedModel } = await import('../../src/core/models/embedded.js');
  const tiny = embeddedModel('tiny-convnet').build();
  hub.addRepo('org/tiny', { commits: { [COMMIT]: { 'onnx/model.onnx': tiny, 'onnx/model_fp16.onnx': tiny } }, refs: { main: COMMIT } });
  hub.addRepo('webml/yolov8n', { commits: { [COMMIT]: { 'onnx/yolov8n.onnx': tiny } }, refs: { main: COMMIT } });
  const env = { ...(await envFor()), AIVMM_CACHE_DIR: await tempDir(join(os.tmpdir(), 'aivmm-c-')) };
  const quick = ['-d', 'CPU', '-n', '10', '--warmup', '2', '--json'];
  const byId = await runCli(['bench', 'org/tiny', ...quick], { env });
  assert.equal(byId.code, 0, byId.stderr);
  const row = (JSON.parse(byId.stdout) as { data: { rows: { model: string }[]; model: { path: string } } }).data;
  assert.equal(row.rows[0]?.model, 'model.onnx');
  assert.match(row.model.path, /models--org--tiny\/snapshots\/c{40}\/onnx\/model\.onnx$/);
  const alias = await runCli(['bench', 'yolov8n', ...quick], { env });
  assert.equal(alias.code, 0, alias.stderr);
  assert.equal((JSON.parse(alias.stdout) as { data: { rows: { model: string }[] } }).data.rows[0]?.model, 'yolov8n');
  assert.match(alias.stderr, /warning: yolov8n: .*AGPL-3.0/);
  const offline = await runCli(['bench', 'org/tiny', ...quick], { env: { ...env, HF_HUB_OFFLINE: '1' } });
  assert.equal(offline.code, 0, offline.stderr);
  hub.addRepo('org/two', { commits: { [COMMIT]: { 'onnx/encoder_model.onnx': tiny, 'onnx/decoder_model.onnx': tiny } }, refs: { main: COMMIT } });
  const several = await runCli(['bench', 'org/two', ...quick], { env });
  assert.equal(several.code, EXIT_CODES.USAGE);
  assert.match(several.stderr, /org\/two has 2 ONNX files .*: name one/);
  const one = await runCli(['bench', 'org/two/onnx/encoder_model.onnx', ...quick], { env });
  assert.equal(one.code, 0, one.stderr);
});

/** Starts `aivmm pull org/big` as a real process, sends `sig` once the CDN has served `afterBytes`, and resolves with how it ended. */
async function interruptedPull(env: Record<string, string | undefined>, sig: NodeJS.Signals, afterBytes: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const { spawn } = await import('node:child_process');
  hub.faults = { bytesPerSec: 1_000_000 }; // 8 connections: ~8 MB/s, so the signal lands mid-transfer
  hub.cdnBytes = 0;
  const child = spawn(process.execPath, [BIN, 'pull', 'org/big'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  let sent = false;
  hub.onCdnBytes = (n) => {
    if (n >= afterBytes && !sent) {
      sent = true;
      child.kill(sig);
    }
  };
  const end = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('close', (code, signal) => r({ code, signal })));
  hub.onCdnBytes = undefined;
  hub.faults = {};
  return { ...end, stderr };
}

test('Ctrl-C (SIGINT) cancels a pull with exit 130, keeping what arrived; the next pull fetches the rest', { timeout: 120_000 }, async () => {
  const env = { ...process.env, ...(await envFor({ AIVMM_PULL_CHUNK_BYTES: String(512 * 1024) })) };
  const r = await interruptedPull(env, 'SIGINT', 4 * 1024 * 1024);
  assert.equal(r.code, EXIT_CODES.CANCELLED, r.stderr);
  assert.match(r.stderr, /cancelled/);
  const partial = join(env['HF_HOME'] ?? '', 'hub', 'models--org--big', 'blobs', `${sha256(big)}.incomplete`);
  const side = JSON.parse(await readFile(`${partial}.ranges`, 'utf8')) as { done: [number, number][] };
  const kept = side.done.reduce((a, [s, e]) => a + e - s, 0);
  assert.ok(kept > 0);
  hub.cdnBytes = 0;
  const again = await runCli(['pull', 'org/big'], { env });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(hub.cdnBytes, big.length - kept);
});

test('kill -9 in the middle of a parallel pull, then pull again: it verifies on the second run, having fetched only what was missing', { timeout: 120_000 }, async () => {
  const env = { ...process.env, ...(await envFor({ AIVMM_PULL_CHUNK_BYTES: String(512 * 1024) })) };
  const partial = join(env['HF_HOME'] ?? '', 'hub', 'models--org--big', 'blobs', `${sha256(big)}.incomplete`);
  const r = await interruptedPull(env, 'SIGKILL', 10 * 1024 * 1024);
  assert.equal(r.signal, 'SIGKILL');
  const side = (await readFile(`${partial}.ranges`, 'utf8').then(JSON.parse, () => undefined)) as { done: [number, number][] } | undefined;
  const kept = side?.done.reduce((a, [s, e]) => a + e - s, 0) ?? 0;
  hub.cdnBytes = 0;
  const again = await runCli(['pull', 'org/big', '--json', '--verbose'], { env });
  assert.equal(again.code, 0, again.stdout); // before the fix: 9, a checksum mismatch (resumed from the size of a file with gaps)
  assert.ok(kept > 0 && kept < big.length, `kept ${kept}`);
  assert.match(again.stderr, /model\.onnx: continuing an earlier download/);
  const doc = JSON.parse(again.stdout) as { data: { files: { localPath: string; download?: { resumedFrom: number } }[] } };
  assert.ok(validatePull(doc), ajv.errorsText(validatePull.errors));
  assert.equal(doc.data.files[0]?.download?.resumedFrom, kept);
  assert.equal(sha256(new Uint8Array(await readFile(doc.data.files[0]?.localPath ?? ''))), sha256(big));
  assert.equal(hub.cdnBytes, big.length - kept, 'the second run fetched exactly the missing bytes');
});

test('two concurrent pulls, the lock holder killed mid-transfer: the other takes the lock over, continues the partial and verifies', { timeout: 120_000 }, async () => {
  const { spawn } = await import('node:child_process');
  const env = { ...process.env, ...(await envFor({ AIVMM_PULL_CHUNK_BYTES: String(512 * 1024) })) };
  const lockDir = join(env['HF_HOME'] ?? '', 'hub', '.locks', 'models--org--big');
  const waiter = new Promise<{ code: number | null; stderr: string }>((resolve) => {
    // Started once the first process holds the lock, so it is the one that waits.
    const start = (): void => {
      const child = spawn(process.execPath, [BIN, 'pull', 'org/big'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      child.on('close', (code) => resolve({ code, stderr }));
    };
    const poll = setInterval(() => {
      void readFile(join(lockDir, `${sha256(big)}.lock`), 'utf8').then(
        () => (clearInterval(poll), start()),
        () => undefined,
      );
    }, 20);
  });
  const first = await interruptedPull(env, 'SIGKILL', 10 * 1024 * 1024);
  assert.equal(first.signal, 'SIGKILL');
  const second = await waiter;
  assert.equal(second.code, 0, second.stderr);
  const snap = join(env['HF_HOME'] ?? '', 'hub', 'models--org--big', 'snapshots', COMMIT, 'model.onnx');
  assert.equal(sha256(new Uint8Array(await readFile(snap))), sha256(big));
});
