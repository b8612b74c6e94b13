/**
 * The lint's own rules fire (eslint.config.js, through the ESLint Node API on snippets placed at the
 * paths they would have): no console in core or the runtime layer; homedir/tmpdir of node:os only in
 * src/core/config/paths.ts. And the layering test's sibling: the rules do not fire where they are allowed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const cwd = fileURLToPath(new URL('../../', import.meta.url));
const eslint = new ESLint({ cwd });

async function rules(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  assert.ok(result, 'no lint result');
  return result.messages.map((m) => m.ruleId ?? `fatal: ${m.message}`);
}

test('no-console in src/core and src/runtime, not in src/cli', async () => {
  const code = "export function f(): void {\n  console.log('x');\n}\n";
  assert.deepEqual(await rules(code, 'src/core/devices/snippet.ts'), ['no-console']);
  assert.deepEqual(await rules(code, 'src/runtime/snippet.ts'), ['no-console']);
  assert.deepEqual(await rules(code, 'src/cli/snippet.ts'), []);
});

test('homedir/tmpdir of node:os: a named import is refused outside config/paths.ts', async () => {
  for (const code of ["import { homedir } from 'node:os';\nexport const h = homedir();\n", "import { tmpdir } from 'os';\nexport const t = tmpdir();\n"]) {
    assert.deepEqual(await rules(code, 'src/core/hub/snippet.ts'), ['no-restricted-imports'], code);
    assert.deepEqual(await rules(code, 'src/cli/snippet.ts'), ['no-restricted-imports'], code);
    assert.deepEqual(await rules(code, 'src/core/config/paths.ts'), [], code);
  }
  // other node:os functions stay allowed everywhere
  assert.deepEqual(await rules("import { cpus } from 'node:os';\nexport const n = cpus().length;\n", 'src/core/bench/snippet.ts'), []);
});

test('homedir/tmpdir through a namespace or default import is refused too (os.homedir(), o.tmpdir())', async () => {
  const a = "import os from 'node:os';\nexport const h = os.homedir();\n";
  const b = "import * as o from 'node:os';\nexport const t = o.tmpdir();\n";
  assert.deepEqual(await rules(a, 'src/core/hub/snippet.ts'), ['no-restricted-syntax']);
  // ESLint also refuses the namespace import itself, since it brings the restricted names in
  assert.deepEqual(await rules(b, 'src/core/hub/snippet.ts'), ['no-restricted-imports', 'no-restricted-syntax']);
  for (const code of [a, b]) assert.deepEqual(await rules(code, 'src/core/config/paths.ts'), [], code);
});

test("typescript-eslint's recommended set is on for src (an unused import fails)", async () => {
  assert.deepEqual(await rules("import { join } from 'node:path';\nexport const x = 1;\n", 'src/cli/snippet.ts'), ['@typescript-eslint/no-unused-vars']);
});
