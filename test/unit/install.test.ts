/**
 * Installing (#15): no npm config key npm does not know (`onnxruntime-node-install` in .npmrc made npm
 * warn on every `npx aivmm` and did not travel with the package); `npm ci --omit=dev` must not fail on
 * "tsc: not found" (prepare builds only where TypeScript is installed); the tarball ships dist/.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string>; files: string[] };

test('no .npmrc key that npm warns about', () => {
  const npmrc = join(root, '.npmrc');
  if (!existsSync(npmrc)) return;
  const keys = readFileSync(npmrc, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#') && !l.startsWith(';')).map((l) => l.split('=')[0]?.trim());
  assert.ok(!keys.includes('onnxruntime-node-install'), 'npm 10+ warns "Unknown project config" on every call');
});

test('prepare succeeds where TypeScript is not installed (npm ci --omit=dev), and the package ships dist/', () => {
  assert.ok(pkg.files.includes('dist'));
  const m = /^node (scripts\/[\w.-]+\.mjs)$/.exec(pkg.scripts['prepare'] ?? '');
  assert.ok(m, `prepare runs a script that checks for tsc, not tsc itself: ${pkg.scripts['prepare'] ?? ''}`);
  // Outside the checkout, so that no node_modules above it holds TypeScript.
  const dir = mkdtempSync(join(os.tmpdir(), 'aivmm-prepare-'));
  try {
    mkdirSync(join(dir, 'scripts'));
    copyFileSync(join(root, m[1] as string), join(dir, m[1] as string));
    const r = spawnSync(process.execPath, [join(dir, m[1] as string)], { encoding: 'utf8', cwd: dir });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /TypeScript is not installed/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
