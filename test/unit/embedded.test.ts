import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EMBEDDED_MODELS, embeddedModel, ensureEmbeddedModel } from '../../src/core/models/embedded.js';
import { ProtoWriter } from '../../src/core/onnx/proto-writer.js';
import { UsageError } from '../../src/core/errors.js';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

test('protobuf varints: small, multi-byte and negative int64 (ten bytes)', () => {
  assert.deepEqual([...new ProtoWriter().int(1, 1).finish()], [0x08, 0x01]);
  assert.deepEqual([...new ProtoWriter().int(1, 300).finish()], [0x08, 0xac, 0x02]);
  const neg = new ProtoWriter().int(1, -1).finish();
  assert.equal(neg.length, 11);
  assert.equal(neg[10], 0x01);
  assert.deepEqual([...new ProtoWriter().string(2, 'hi').finish()], [0x12, 0x02, 0x68, 0x69]);
});

test('generated models are byte-identical on every build (seeded weights)', () => {
  for (const name of Object.keys(EMBEDDED_MODELS)) {
    const m = embeddedModel(name);
    assert.equal(sha(m.build()), sha(m.build()), name);
  }
});

test('the MobileNetV2-architecture model has MobileNetV2 size: ~3.5 M parameters, ~14 MB', () => {
  const bytes = embeddedModel('mobilenetv2-seeded').build();
  assert.ok(bytes.length > 13.5e6 && bytes.length < 14.5e6, `size ${bytes.length}`);
});

test('ensureEmbeddedModel writes once, atomically, and reuses the file', async () => {
  const dir = mkdtempSync(join(os.tmpdir(), 'aivmm-embedded-'));
  try {
    const a = await ensureEmbeddedModel('tiny-convnet', dir);
    const b = await ensureEmbeddedModel('tiny-convnet', dir);
    assert.equal(a.path, b.path);
    assert.equal(a.bytes, b.bytes);
    assert.deepEqual(readdirSync(dir), ['tiny-convnet.onnx'], 'no temp files left behind');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an unknown embedded model is a usage error listing the valid names', () => {
  assert.throws(() => embeddedModel('nope'), (e: unknown) => e instanceof UsageError && /tiny-convnet/.test(e.hint ?? ''));
});
