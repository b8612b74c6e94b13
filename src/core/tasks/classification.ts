/** Image classification post-processing: probabilities (softmax unless the model already outputs them) and top-k. */

export interface ClassScore {
  index: number;
  label?: string;
  probability: number;
}

/** True when the row already looks like probabilities (non-negative, summing to ~1). */
function isDistribution(row: Float32Array): boolean {
  let sum = 0;
  for (const v of row) {
    if (v < 0 || v > 1) return false;
    sum += v;
  }
  return Math.abs(sum - 1) < 1e-3;
}

export function softmax(row: Float32Array): Float32Array {
  let max = -Infinity;
  for (const v of row) if (v > max) max = v;
  const out = new Float32Array(row.length);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += out[i] = Math.exp(row[i]! - max);
  for (let i = 0; i < row.length; i++) out[i]! /= sum;
  return out;
}

export function topK(row: Float32Array, k: number, labels?: readonly string[]): ClassScore[] {
  const probs = isDistribution(row) ? row : softmax(row);
  const idx = Array.from(probs.keys()).sort((a, b) => probs[b]! - probs[a]! || a - b).slice(0, Math.max(1, k));
  return idx.map((index) => ({ index, ...(labels?.[index] !== undefined ? { label: labels[index] } : {}), probability: probs[index]! }));
}
