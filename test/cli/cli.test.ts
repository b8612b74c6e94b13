/** The CLI contract: stdout carries only results, errors are one line + hint, exit codes as documented. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { runCli, spawnCli } from '../helpers/run-cli.js';

const schema = (name: string): object => JSON.parse(readFileSync(fileURLToPath(new URL(`../../docs/schemas/${name}`, import.meta.url)), 'utf8')) as object;
const ajv = new Ajv({ allErrors: true, strict: false });
const validateDevices = ajv.compile(schema('devices-1.schema.json'));
const validateError = ajv.compile(schema('error-1.schema.json'));

test('devices --json: one document on stdout that validates against aivmm/devices@1', async () => {
  const r = await runCli(['devices', '--json', '--no-cache']);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { data: { devices: { id: string }[] } };
  assert.ok(validateDevices(doc), ajv.errorsText(validateDevices.errors));
  assert.equal(doc.data.devices[0]?.id, 'CPU');
});

test('global flags work after the subcommand too, and AIVMM_JSON=1 means --json', async () => {
  const a = await runCli(['--json', 'devices', '--no-cache']);
  const b = await runCli(['devices', '--no-cache'], { env: { AIVMM_JSON: '1' } });
  assert.equal(JSON.parse(a.stdout).schema, 'aivmm/devices@1');
  assert.equal(JSON.parse(b.stdout).schema, 'aivmm/devices@1');
});

test('devices piped: a plain table with the CPU and the reasons for unavailable backends', async () => {
  const r = await runCli(['devices', '--no-cache']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /│ CPU\s+│/);
  assert.match(r.stdout, /ort-cpu: yes/);
  assert.match(r.stdout, /CPU openvino: openvino-node is not installed|openvino: yes/);
  assert.doesNotMatch(r.stdout, /\x1b\[/, 'no colour codes in a pipe');
  assert.equal(r.stderr, '');
});

test('devices on a terminal: the Ink screen', async () => {
  const r = await runCli(['devices', '--no-cache', '--no-color'], { tty: true });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /CPU\s+\S/);
  assert.match(r.stdout, /ort-cpu/);
  assert.match(r.stdout, /verified {2}○ reachable, not verified/);
});

test('--device selects one device; GPU means GPU.0; bad values are usage errors listing valid ids', async () => {
  const cpu = JSON.parse((await runCli(['devices', '--json', '--no-cache', '--device', 'cpu'])).stdout) as { data: { devices: { id: string }[] } };
  assert.deepEqual(cpu.data.devices.map((d) => d.id), ['CPU']);
  const bad = await runCli(['devices', '--device', 'TPU']);
  assert.equal(bad.code, EXIT_CODES.USAGE);
  assert.equal(bad.stdout, '');
  assert.match(bad.stderr, /^error: invalid device 'TPU'\nhint: use one of: all, CPU/);
  const missing = await runCli(['devices', '--json', '--device', 'GPU.7']);
  assert.equal(missing.code, EXIT_CODES.NOT_FOUND);
  const env = JSON.parse(missing.stdout) as { error: { code: string; exitCode: number } };
  assert.ok(validateError(env), ajv.errorsText(validateError.errors));
  assert.deepEqual([env.error.code, env.error.exitCode], ['NOT_FOUND', 5]);
});

test('usage errors: unknown command, unknown option, bad --timeout → exit 2', async () => {
  const unknown = await runCli(['frobnicate']);
  assert.equal(unknown.code, EXIT_CODES.USAGE);
  assert.match(unknown.stderr, /unknown command 'frobnicate'/);
  const opt = await runCli(['devices', '--bogus']);
  assert.equal(opt.code, EXIT_CODES.USAGE);
  const timeout = await runCli(['devices', '--probe', '--timeout', 'soon']);
  assert.equal(timeout.code, EXIT_CODES.USAGE);
  assert.match(timeout.stderr, /invalid --timeout 'soon'/);
});

test('--help shows examples and exit codes; --version prints the package version', async () => {
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Examples:/);
  assert.match(help.stdout, /11 not implemented/);
  const version = await runCli(['--version']);
  assert.equal(version.code, 0);
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string };
  assert.equal(version.stdout.trim(), pkg.version);
});

test('--help and plain devices --json load no native addon and no UI framework', () => {
  const script = (argv: string[]): string => `
    import { createRequire } from 'node:module';
    const { main } = await import(${JSON.stringify(fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url)))});
    const sink = { write: () => true };
    await main(${JSON.stringify(argv)}, { stdout: sink, stderr: sink, env: process.env });
    const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => /onnxruntime|openvino|[\\\\/]ink[\\\\/]|react/.test(k));
    console.log(JSON.stringify(loaded));`;
  const run = (argv: string[]): string[] => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script(argv)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '[]') as string[];
  };
  assert.deepEqual(run(['--help']), []);
  assert.deepEqual(run(['devices', '--json', '--no-cache']), []);
  // the check can fail: loading the backend really shows up
  const control = spawnSync(process.execPath, ['--input-type=module', '-e', `import { createRequire } from 'node:module'; await import(${JSON.stringify(fileURLToPath(new URL('../../dist/core/backends/ort.js', import.meta.url)))}).then((m) => m.loadOrt()); console.log(Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('onnxruntime')))`], { encoding: 'utf8' });
  assert.equal(control.stdout.trim(), 'true', control.stderr);
});

test('the real binary: devices --json parses and exits 0; bad input exits with its code and one clear line', () => {
  const ok = spawnCli(['devices', '--json', '--no-cache']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout).ok, true);
  const bad = spawnCli(['devices', '--device', 'GPU.x']);
  assert.equal(bad.code, EXIT_CODES.USAGE);
  assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
});

test('a reader that closes the pipe early gets no stack trace', () => {
  const r = spawnSync('sh', ['-c', `"${process.execPath}" "${fileURLToPath(new URL('../../bin/aivmm.js', import.meta.url))}" --help | true`], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  assert.doesNotMatch(r.stderr, /EPIPE|at /);
});
