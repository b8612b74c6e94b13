// Helper of the compare experiments (cuda-compare.mjs, cuda-graph-compare.mjs): how far two outputs of the
// same model are apart: max |Δ|, cosine, and per row (the first dimension) whether the argmax agrees.
// Float16 data (Uint16Array bits) is widened first.
import { halfToFloat } from '../../dist/index.js'; // npm run build first

const widen = (type, data) => (type === 'float16' ? Float32Array.from(data, halfToFloat) : data);

export function outputAgreement(a, b, rows) {
  const x = widen(a.type, a.data), y = widen(b.type, b.data);
  let dot = 0, nx = 0, ny = 0, maxd = 0;
  for (let i = 0; i < x.length; i++) { dot += x[i] * y[i]; nx += x[i] * x[i]; ny += y[i] * y[i]; maxd = Math.max(maxd, Math.abs(x[i] - y[i])); }
  const cols = x.length / rows;
  let agree = 0;
  for (let r = 0; r < rows; r++) {
    let ia = 0, ib = 0;
    for (let c = 1; c < cols; c++) { if (x[r * cols + c] > x[r * cols + ia]) ia = c; if (y[r * cols + c] > y[r * cols + ib]) ib = c; }
    if (ia === ib) agree++;
  }
  return { maxAbsDiff: maxd, cosine: dot / Math.sqrt(nx * ny), argmaxAgreement: `${agree}/${rows}` };
}
