/** The quantize report renders the same facts as an Ink frame and as plain text; poor fidelity stands out. */
import assert from 'node:assert/strict';
import { stripVTControlCharacters } from 'node:util';
import { test } from 'node:test';
import React from 'react';
import { render } from 'ink-testing-library';
import { QuantizeScreen } from '../../src/ui/screens/QuantizeScreen.js';
import { renderQuantizePlain } from '../../src/ui/plain/quantize.js';
import type { QuantizeReport } from '../../src/core/quantize/index.js';

function report(cosine: number, warnings: string[] = []): QuantizeReport {
  return {
    model: { name: 'mobilenetv2-seeded', path: '/m.onnx', bytes: 13_966_791, nodes: 100 },
    output: { path: '/out/m.int8.onnx', bytes: 3_757_378, nodes: 301 },
    mode: 'static',
    modeReason: '52 Conv vs 1 MatMul/Gemm with weights: a conv net, static QDQ',
    settings: { perChannel: true, method: 'minmax', exclude: [], quantizeOutputs: false, biasCorrection: true },
    calibration: { source: 'random:32', samples: 32, tensors: 101 },
    evaluation: { source: 'random:16 (fresh seeds)', samples: 16 },
    nodes: { quantized: 65, byOpType: { Conv: 52, Add: 10, Gemm: 1, GlobalAveragePool: 1, Flatten: 1 }, quantizeLinear: 65, dequantizeLinear: 171, foldedActivations: 35, biasCorrected: 53, skipped: [], skippedCount: 0 },
    size: { referenceBytes: 13_966_791, quantizedBytes: 3_757_378, ratio: 0.269 },
    fidelity: { samples: 16, cosine, maxAbsError: 0.159, top1Agreement: 0.9375, outputs: [{ name: 'output', cosine, maxAbsError: 0.159, meanAbsError: 0.03, top1Agreement: 0.9375 }], worstLayers: [{ tensor: 'conv_265', cosine: 0.99, relativeError: 0.0912 }] },
    latency: { referenceMs: 8.63, quantizedMs: 4.41, ratio: 0.511, runs: 400, device: 'CPU', backend: 'ort-cpu' },
    warnings,
    elapsedMs: 4200,
  };
}

test('Ink report and plain text carry the title, nodes, size, fidelity and latency', () => {
  const r = report(0.99967);
  const frame = stripVTControlCharacters(render(<QuantizeScreen report={r} />).lastFrame() ?? '');
  const plain = renderQuantizePlain(r);
  for (const text of [frame, plain].map((t) => t.replace(/\s+/g, ' '))) { // Ink wraps at the frame's width
    assert.match(text, /mobilenetv2-seeded → INT8 static: \/out\/m\.int8\.onnx/);
    assert.match(text, /65 quantized \(52 Conv, 10 Add, 1 Gemm, 1 GlobalAveragePool, 1 Flatten\); 65 Q \+ 171 DQ; 35 Relu\/Clip folded; 53 biases corrected/);
    assert.match(text, /13\.3 MiB → 3\.6 MiB \(26\.9%\)/);
    assert.match(text, /cosine 0\.99967 · max \|error\| 0\.159 · top-1 agreement 93\.8%/);
    assert.match(text, /8\.6 ms → 4\.4 ms \(0\.51×, faster\) on CPU ort-cpu/);
  }
});

test('poor fidelity: the warning is shown first and loud', () => {
  const r = report(0.95, ['POOR FIDELITY: cosine 0.9500; worst layers: conv_265 (rel. error 0.091)', 'activation ranges come from random inputs']);
  const frame = stripVTControlCharacters(render(<QuantizeScreen report={r} />).lastFrame() ?? '');
  assert.match(frame, /⚠ POOR FIDELITY: cosine 0\.9500; worst layers: conv_265/);
  assert.match(renderQuantizePlain(r), /^warning: POOR FIDELITY/m);
});
