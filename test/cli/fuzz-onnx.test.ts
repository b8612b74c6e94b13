/**
 * Malformed ONNX, seeded (#15): a few hundred mutants of a tiny model (bytes flipped, truncated,
 * overwritten) opened in-process through the code the commands use — the ONNX reader (quantize) and
 * the task session opener (run) — then a handful through run, quantize and bench. Every malformed
 * model is one line and its documented exit code: 2 when onnxruntime cannot load it (in every command),
 * 8 when it loads but fails on inputs of the shapes it declares, 0 when the mutant is still valid; no
 * stack trace, no internal error, no onnxruntime log line.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { after, test } from 'node:test';
import sharp from 'sharp';
import { CPU_TARGET } from '../../src/core/backends/registry.js';
import { isAivmmError, UsageError } from '../../src/core/errors.js';
import { embeddedModel } from '../../src/core/models/embedded.js';
import { seededRandom } from '../../src/core/random.js';
import { OnnxFormatError, decodeModel } from '../../src/core/onnx/reader.js';
import { openModel } from '../../src/core/tasks/shared.js';
import { runCli, spawnCli } from '../helpers/run-cli.js';

const dir = mkdtempSync(join(os.tmpdir(), 'aivmm-fuzz-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const env = { AIVMM_CACHE_DIR: join(dir, 'cache') };
const base = embeddedModel('tiny-convnet').build();

/** The k-th mutant of `base` for a seeded stream: a few bytes changed, a truncation, or a 16-byte run overwritten. */
function mutant(rand: () => number, k: number): Uint8Array {
  const m = new Uint8Array(base);
  const at = (): number => Math.floor(rand() * m.length);
  switch (k % 3) {
    case 0:
      for (let j = 0, n = 1 + Math.floor(rand() * 8); j < n; j++) m[at()] = Math.floor(rand() * 256);
      return m;
    case 1:
      return m.subarray(0, at());
    default: {
      const i = Math.floor(rand() * (m.length - 16));
      for (let j = 0; j < 16; j++) m[i + j] = Math.floor(rand() * 256);
      return m;
    }
  }
}

const clean = (label: string, stderr: string): void => {
  assert.ok(!/\n\s+at |internal error/.test(stderr), `${label}: ${stderr}`);
  assert.ok(!/\[[EWFV]:onnxruntime:/.test(stderr), `${label}: an onnxruntime log line: ${stderr}`);
  assert.ok(stderr.trim().split('\n').length <= 2, `${label}: one error line and a hint: ${stderr}`);
};

test('300 mutants in-process: the reader throws OnnxFormatError only, the session opener a UsageError only', async () => {
  const rand = seededRandom(20261202);
  const seen = { decoded: 0, refused: 0, opened: 0, refusedOpen: 0 };
  const path = join(dir, 'm.onnx');
  for (let k = 0; k < 300; k++) {
    const bytes = mutant(rand, k);
    try {
      decodeModel(bytes);
      seen.decoded++;
    } catch (err) {
      assert.ok(err instanceof OnnxFormatError, `mutant ${k}: the reader threw ${String(err)}`);
      seen.refused++;
    }
    writeFileSync(path, bytes);
    try {
      await (await openModel(CPU_TARGET, path, undefined, true)).dispose();
      seen.opened++;
    } catch (err) {
      assert.ok(err instanceof UsageError, `mutant ${k}: opening threw ${isAivmmError(err) ? err.code : String(err)}`);
      seen.refusedOpen++;
    }
  }
  // The stream really exercises both sides.
  assert.ok(seen.refused > 50 && seen.decoded > 50 && seen.refusedOpen > 50 && seen.opened > 20, JSON.stringify(seen));
});

test('mutants through run and quantize (in-process) and bench and run (real processes): exit 0, 2 (cannot load) or 8 (cannot run), one line', { timeout: 300_000 }, async () => {
  const img = join(dir, 'a.png');
  await sharp({ create: { width: 20, height: 20, channels: 3, background: { r: 9, g: 99, b: 199 } } }).png().toFile(img);
  const rand = seededRandom(7);
  const codes: Record<string, number[]> = { run: [], quantize: [], bench: [], spawned: [] };
  const documented = (label: string, code: number, stderr: string): void => {
    if (code === 8) assert.match(stderr, /^error: inference failed: /, `${label}: exit 8 is a run that failed: ${stderr}`);
    else if (code !== 0) assert.equal(code, 2, `${label}: exit ${code}: ${stderr}`);
  };
  for (let k = 0; k < 24; k++) {
    const path = join(dir, `m${k}.onnx`);
    writeFileSync(path, mutant(rand, k));
    const r = await runCli(['run', path, '--input', img], { env });
    clean(`run mutant ${k}`, r.code === 0 ? '' : r.stderr);
    codes.run!.push(r.code);
    documented(`run mutant ${k}`, r.code, r.stderr);
    const q = await runCli(['quantize', path, '--no-latency', '--calibration', 'random:4', '-o', join(dir, `q${k}.onnx`)], { env });
    clean(`quantize mutant ${k}`, q.code === 0 ? '' : q.stderr);
    codes.quantize!.push(q.code);
    documented(`quantize mutant ${k}`, q.code, q.stderr);
    if (k % 6 === 1) {
      const b = spawnCli(['bench', path, '--backend', 'ort-cpu', '-n', '3', '--warmup', '0', '--no-reference'], env);
      clean(`bench mutant ${k}`, b.code === 0 ? '' : b.stderr);
      codes.bench!.push(b.code);
      documented(`bench mutant ${k}`, b.code, b.stderr);
      const s = spawnCli(['run', path, '--input', img], env);
      clean(`spawned run mutant ${k}`, s.code === 0 ? '' : s.stderr);
      codes.spawned!.push(s.code);
      documented(`spawned run mutant ${k}`, s.code, s.stderr);
    }
  }
  for (const [cmd, list] of Object.entries(codes)) for (const c of list) assert.ok(c === 0 || c === 2 || c === 8, `${cmd}: exit ${c} (${list.join(',')})`);
  assert.ok(codes.run!.includes(2) && codes.bench!.includes(2), JSON.stringify(codes));
});
