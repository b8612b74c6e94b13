#!/usr/bin/env node
// npm test: lint src/ (eslint, cached in .eslintcache, so an unchanged tree takes about a second), build
// (the CLI tests spawn bin/aivmm.js, which runs dist/), then run every test file under test/ with Node's
// test runner, TypeScript loaded through tsx. `node scripts/test.mjs a.test.ts b.test.ts` runs only those.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const lint = spawnSync(process.execPath, [join(root, 'node_modules/eslint/bin/eslint.js'), '--cache', '--cache-location', join(root, '.eslintcache'), 'src'], { stdio: 'inherit', cwd: root });
if (lint.status !== 0) {
  process.stderr.write('npm test: the lint failed (npm run lint to see it alone)\n');
  process.exit(lint.status ?? 1);
}
const build = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (/\.test\.tsx?$/.test(name)) out.push(p);
  }
  return out;
}
const only = process.argv.slice(2);
const files = only.length > 0 ? only : find(join(root, 'test'));
// Every test's temporary files go to one directory removed at the end (tests that forget to clean up
// used to leave ~70 directories, 30 MB, per run); onnxruntime's telemetry is off as bin/aivmm.js has it.
const tmp = mkdtempSync(join(os.tmpdir(), 'aivmm-test-'));
const run = spawnSync(process.execPath, ['--import', 'tsx', '--test', ...files], { stdio: 'inherit', cwd: root, env: { ...process.env, TMPDIR: tmp, ORT_DISABLE_TELEMETRY: '1' } });
const left = readdirSync(tmp).length;
rmSync(tmp, { recursive: true, force: true });
if (left > 0 && process.env.AIVMM_TEST_VERBOSE) process.stderr.write(`npm test: removed ${left} entries the tests left in ${tmp}\n`);
process.exit(run.status ?? 1);
