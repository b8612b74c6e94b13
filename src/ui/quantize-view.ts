/** The quantize report as labelled lines, shared by the Ink screen and the plain renderer. */
import type { QuantizeReport } from '../core/quantize/index.js';
import { formatBytes, formatMs } from './format/units.js';

export type Tone = 'good' | 'bad' | 'warn' | 'plain';

export interface ViewLine {
  label: string;
  value: string;
  tone: Tone;
}

const pct = (x: number, digits = 1): string => `${(x * 100).toFixed(digits)}%`;

export function quantizeTitle(r: QuantizeReport): string {
  const mode = r.mode === 'fp16' ? 'FP16' : `INT8 ${r.mode}`;
  return `${r.model.name} → ${mode}: ${r.output.path}${r.output.dataPath ? ` (+ ${r.output.dataPath})` : ''}`;
}

export function quantizeLines(r: QuantizeReport): ViewLine[] {
  const lines: ViewLine[] = [];
  const s = r.settings;
  const how = [
    r.mode === 'fp16' ? (s.keepIoTypes ? 'float32 inputs/outputs kept' : 'float16 inputs/outputs') : s.perChannel ? 'per-channel weights' : 'per-tensor weights',
    s.method ? `${s.method}${s.percentile !== undefined ? ` ${s.percentile}` : ''} ranges` : '',
    s.exclude.length ? `excluding ${s.exclude.join(', ')}` : '',
  ].filter(Boolean);
  lines.push({ label: 'Mode', value: `${r.mode} (${how.join(', ')})${r.modeReason ? ` — chosen: ${r.modeReason}` : ''}`, tone: 'plain' });
  if (r.calibration) lines.push({ label: 'Calibration', value: `${r.calibration.samples} samples from ${r.calibration.source}; ${r.calibration.tensors} tensors`, tone: 'plain' });
  const ops = Object.entries(r.nodes.byOpType).sort((a, b) => b[1] - a[1]).map(([op, n]) => `${n} ${op}`).join(', ');
  const qdq = r.nodes.quantizeLinear + r.nodes.dequantizeLinear;
  lines.push({
    label: 'Nodes',
    value: `${r.nodes.quantized} ${r.mode === 'fp16' ? 'in float16' : 'quantized'} (${ops})${qdq ? `; ${r.nodes.quantizeLinear} Q + ${r.nodes.dequantizeLinear} DQ` : ''}${r.nodes.foldedActivations ? `; ${r.nodes.foldedActivations} Relu/Clip folded` : ''}${r.nodes.biasCorrected ? `; ${r.nodes.biasCorrected} biases corrected` : ''}${r.nodes.skippedCount ? `; ${r.nodes.skippedCount} left in float32` : ''}`,
    tone: 'plain',
  });
  lines.push({ label: 'Size', value: `${formatBytes(r.size.referenceBytes)} → ${formatBytes(r.size.quantizedBytes)} (${pct(r.size.ratio)})`, tone: r.size.ratio < 0.6 ? 'good' : 'plain' });
  const f = r.fidelity;
  const poor = f.cosine < 0.99 || (f.top1Agreement !== undefined && f.top1Agreement < 0.9);
  lines.push({
    label: 'Fidelity',
    value: `cosine ${f.cosine.toFixed(5)} · max |error| ${f.maxAbsError.toPrecision(3)}${f.top1Agreement !== undefined ? ` · top-1 agreement ${pct(f.top1Agreement)}` : ''} · ${r.evaluation.samples} held-back inputs (${r.evaluation.source})`,
    tone: poor ? 'bad' : f.cosine >= 0.999 ? 'good' : 'warn',
  });
  if (f.outputs.length > 1) {
    for (const o of f.outputs) lines.push({ label: `  ${o.name}`, value: `cosine ${o.cosine.toFixed(5)} · max |error| ${o.maxAbsError.toPrecision(3)}${o.top1Agreement !== undefined ? ` · top-1 ${pct(o.top1Agreement)}` : ''}`, tone: 'plain' });
  }
  if (f.worstLayers.length) {
    lines.push({ label: 'Worst layers', value: f.worstLayers.map((l) => `${l.tensor} ${l.relativeError.toFixed(4)}`).join(', '), tone: poor ? 'bad' : 'plain' });
  }
  if (r.latency) {
    const l = r.latency;
    lines.push({
      label: 'Latency',
      value: `${formatMs(l.referenceMs)} → ${formatMs(l.quantizedMs)} (${l.ratio.toFixed(2)}×, ${l.ratio < 1 ? 'faster' : 'slower'}) on ${l.device} ${l.backend}, median of ${l.runs} runs each, interleaved`,
      tone: l.ratio < 0.95 ? 'good' : l.ratio > 1.05 ? 'warn' : 'plain',
    });
  }
  for (const sk of r.nodes.skipped.slice(0, 5)) lines.push({ label: 'Kept float', value: `${sk.opType} ${sk.name}: ${sk.reason}`, tone: 'plain' });
  if (r.nodes.skippedCount > 5) lines.push({ label: 'Kept float', value: `… ${r.nodes.skippedCount - 5} more (see --json)`, tone: 'plain' });
  return lines;
}
