import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readElfDynamic } from '../../src/core/backends/elf.js';
import { cudaFamilyNeeds, ortPackage } from '../../src/core/backends/packages.js';

const ort = ortPackage('linux', 'x64');

test('readElfDynamic: the libraries onnxruntime-node\'s own shared libraries are linked against, and their RUNPATH', { skip: process.platform !== 'linux' || process.arch !== 'x64' }, () => {
  assert.ok(ort.binDir);
  const core = readElfDynamic(join(ort.binDir, 'libonnxruntime.so.1'));
  assert.ok(core);
  assert.ok(core.needed.includes('libc.so.6'), core.needed.join(','));
  assert.deepEqual(core.runpath, ['$ORIGIN']);
  const binding = readElfDynamic(join(ort.binDir, 'onnxruntime_binding.node'));
  assert.ok(binding?.needed.includes('libonnxruntime.so.1'));
  assert.deepEqual(cudaFamilyNeeds(join(ort.binDir, 'libonnxruntime.so.1')), []);
});

test('readElfDynamic: not ELF, truncated or missing → undefined, never a throw', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aivmm-elf-'));
  try {
    writeFileSync(join(dir, 'text.so'), 'not an elf file at all, just text that is long enough to have a header of 64 bytes');
    assert.equal(readElfDynamic(join(dir, 'text.so')), undefined);
    assert.equal(readElfDynamic(join(dir, 'missing.so')), undefined);
    if (ort.binDir && process.platform === 'linux') {
      const head = readFileSync(join(ort.binDir, 'libonnxruntime.so.1')).subarray(0, 4096);
      writeFileSync(join(dir, 'cut.so'), head);
      assert.equal(readElfDynamic(join(dir, 'cut.so')), undefined);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
