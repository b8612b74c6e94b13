/**
 * One set of flag parsers (src/cli/flags.ts, #15): a time is written the same in every command
 * (`devices --timeout 10s` was refused while `bench --duration 10s` was the form), quantize has the
 * short flags run and bench have (-d, -b), and the same mistake is the same exit code everywhere.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { after, test } from 'node:test';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { duration } from '../../src/cli/flags.js';
import { UsageError } from '../../src/core/errors.js';
import { runCli } from '../helpers/run-cli.js';

const dir = mkdtempSync(join(os.tmpdir(), 'aivmm-flags-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const env = { AIVMM_CACHE_DIR: join(dir, 'cache') };

test('duration: 10s, 500ms, 2m and bare seconds; nothing else', () => {
  assert.equal(duration('--x', '10s'), 10_000);
  assert.equal(duration('--x', '500ms'), 500);
  assert.equal(duration('--x', '2m'), 120_000);
  assert.equal(duration('--x', '10'), 10_000);
  assert.equal(duration('--x', '0', true), 0);
  for (const bad of ['0', 'ten', '-1s', '5h']) assert.throws(() => duration('--x', bad), UsageError, bad);
});

test('devices --timeout takes a time like bench --duration; a bad one is exit 2 in each', async () => {
  const ok = await runCli(['devices', '--timeout', '10s', '--json'], { env });
  assert.equal(ok.code, 0, ok.stderr);
  for (const argv of [['devices', '--timeout', 'soon'], ['bench', '--duration', 'soon'], ['quantize', 'tiny-convnet', '--latency', 'soon']]) {
    const r = await runCli(argv, { env });
    assert.equal(r.code, EXIT_CODES.USAGE, `${argv.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /give a time: 10s, 500ms, 2m or a number of seconds/);
  }
});

test('quantize has -d and -b as run and bench do', async () => {
  const r = await runCli(['quantize', 'tiny-convnet', '-d', 'CPU', '-b', 'ort-cpux'], { env });
  assert.equal(r.code, EXIT_CODES.USAGE, r.stderr);
  assert.match(r.stderr, /unknown backend 'ort-cpux'/, 'the short flags parse (not "unknown option")');
});

test('one default seed and the same short flags across bench, quantize and run; --format json points at --json', async () => {
  const seeds: string[] = [];
  for (const cmd of ['bench', 'quantize', 'run']) {
    const help = await runCli([cmd, '--help']);
    assert.equal(help.code, 0, help.stderr);
    // the option's description may wrap onto the next lines of the help
    seeds.push(/--seed <n>[^]*?\(default: "(\d+)"\)/.exec(help.stdout)?.[1] ?? `none in ${cmd}`);
    for (const short of ['-d, --device', '-b, --backend']) assert.ok(help.stdout.includes(short), `${cmd} --help lacks ${short}`);
    if (cmd !== 'run') assert.ok(help.stdout.includes('-t, --threads'), `${cmd} --help lacks -t, --threads`);
  }
  assert.deepEqual(seeds, ['42', '42', '42']);
  const r = await runCli(['bench', 'tiny-convnet', '-d', 'CPU', '-b', 'ort-cpu', '--iterations', '20', '--warmup', '2', '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /--format json is the global --json/);
  assert.equal((JSON.parse(r.stdout) as { schema: string }).schema, 'aivmm/bench@1');
});
