/** `aivmm models` on a terminal fits its width (#15): the 154-character table wrapped every row at 80 columns. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { after, test } from 'node:test';
import { main } from '../../src/cli/main.js';
import { fitTable, keepColumns } from '../../src/ui/format/fit.js';

const dir = mkdtempSync(join(os.tmpdir(), 'aivmm-models-width-'));
after(() => rmSync(dir, { recursive: true, force: true }));

class Tty {
  text = '';
  isTTY = true;
  constructor(public columns: number) {}
  write(s: string): boolean {
    this.text += s;
    return true;
  }
}

test('keepColumns drops by priority until the rest fits', () => {
  assert.deepEqual(keepColumns([10, 10, 10], 30, [1, 2]), [true, true, true]);
  assert.deepEqual(keepColumns([10, 10, 10], 25, [1, 2]), [true, false, true]);
  assert.deepEqual(keepColumns([10, 10, 10], 5, [1, 2]), [true, false, false], 'never the last one standing');
  assert.deepEqual(fitTable(['a', 'bb'], [['x', 'yyyy']], undefined, [1]).head, ['a', 'bb']);
});

test('models at 80 columns: one line per row, within the width; the alias and the cache state stay', async () => {
  for (const columns of [80, 200]) {
    const stdout = new Tty(columns);
    const stderr = new Tty(columns);
    const code = await main(['models'], { stdout, stderr, env: { ...process.env, CI: undefined, HF_HUB_CACHE: join(dir, 'hub'), AIVMM_CACHE_DIR: join(dir, 'c') } });
    assert.equal(code, 0, stderr.text);
    const table = stdout.text.split('\n').filter((l) => !l.startsWith('cache:') && l.trim() !== '');
    const head = table.find((l) => l.includes('Alias')) ?? '';
    assert.match(head, /Cached/);
    assert.match(stdout.text, /mobilenetv2/);
    if (columns === 80) for (const l of table) assert.ok([...l].length <= 80, `${[...l].length}: ${l}`);
    else assert.match(head, /Repository/);
  }
});
