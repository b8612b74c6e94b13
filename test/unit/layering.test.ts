/** The architecture rules, checked on the source: core is a library, native addons load in one place. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const src = fileURLToPath(new URL('../../src', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : /\.tsx?$/.test(n) ? [p] : [];
  });
}

/** Code without comments, so rules apply to what runs. */
const code = (p: string): string => readFileSync(p, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');

test('src/core never prints, exits, reads the environment, or imports the CLI/UI stack', () => {
  const offenders: string[] = [];
  for (const f of files(join(src, 'core'))) {
    const c = code(f);
    for (const [rule, re] of [
      ['console', /\bconsole\./],
      ['process.exit', /process\.exit/],
      ['process.env', /process\.env/],
      ['stdout/stderr', /process\.(stdout|stderr)/],
      ['cli/ui import', /from ['"][./]*\/(cli|ui)\//],
      ['UI/CLI package', /from ['"](commander|ink|react|ora|cli-table3|chalk)['"]/],
    ] as const) {
      if (re.test(c)) offenders.push(`${relative(src, f)}: ${rule}`);
    }
  }
  assert.deepEqual(offenders, []);
});

test('native addons are imported only in src/core/backends, and only dynamically', () => {
  const offenders: string[] = [];
  for (const f of files(src)) {
    const c = code(f);
    const statics = /^import (?!type)[^;]*from ['"](onnxruntime-node|openvino-node)['"]/m.test(c);
    const dynamic = /import\(['"](onnxruntime-node|openvino-node)['"]\)/.test(c);
    if (statics) offenders.push(`${relative(src, f)}: static import of a native addon`);
    if (dynamic && !relative(src, f).startsWith('core/backends/')) offenders.push(`${relative(src, f)}: loads a native addon outside core/backends`);
  }
  assert.deepEqual(offenders, []);
});

test('ui renders only: it imports core types, never core code', () => {
  const offenders = files(join(src, 'ui')).filter((f) => /^import (?!type)[^;]*from ['"][./]*\/core\//m.test(code(f)));
  assert.deepEqual(offenders.map((f) => relative(src, f)), []);
});

/** Value and type imports of a file (static, re-exports and dynamic), as written. */
const importsOf = (p: string): string[] => [...code(p).matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)].map((m) => m[1] ?? '');
/** The top-level folder of src/ that a relative import from `file` lands in (undefined for packages and node:). */
function layerOf(file: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  return relative(src, join(file, '..', spec)).split(/[\\/]/)[0];
}
function crossings(dir: string, allowed: readonly string[]): string[] {
  const root = join(src, dir);
  let entries: string[];
  try {
    entries = files(root);
  } catch {
    return []; // the layer does not exist yet
  }
  return entries.flatMap((f) =>
    importsOf(f)
      .map((s) => [s, layerOf(f, s)] as const)
      .filter(([, l]) => l !== undefined && l !== dir && !allowed.includes(l))
      .map(([s]) => `${relative(src, f)}: imports ${s}`),
  );
}

test('src/runtime hosts workers: it imports core (and node:/packages) only, never cli, ui or server', () => {
  assert.deepEqual(crossings('runtime', ['core']), []);
});

test('src/core stays pure: it never imports the runtime, cli, ui or server layers', () => {
  assert.deepEqual(crossings('core', []), []);
});

test('composition roots: cli and server may import core and runtime; the server never imports cli or ui', () => {
  assert.deepEqual(crossings('server', ['core', 'runtime']), []);
  // `aivmm serve` is the one command that starts the server: only its command file may import it.
  assert.deepEqual(crossings('cli', ['core', 'runtime', 'ui']).filter((c) => !c.startsWith('cli/commands/serve.ts: imports ../../server/')), []);
});
