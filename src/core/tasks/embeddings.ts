/** Sentence embeddings (sentence-transformers style): mean of the token vectors under the attention mask, then L2 normalisation. */

/** hidden [N, T, H] (row-major), mask [N, T] → [N][H] unit vectors. */
export function meanPoolNormalize(hidden: Float32Array, dims: readonly number[], mask: ArrayLike<number | bigint>): Float32Array[] {
  const [n, t, h] = dims as [number, number, number];
  const out: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const v = new Float32Array(h);
    let count = 0;
    for (let j = 0; j < t; j++) {
      if (Number(mask[i * t + j]) === 0) continue;
      count++;
      const base = (i * t + j) * h;
      for (let k = 0; k < h; k++) v[k]! += hidden[base + k]!;
    }
    out.push(normalize(v.map((x) => x / Math.max(1, count))));
  }
  return out;
}

export function normalize(v: Float32Array): Float32Array {
  let s = 0;
  for (const x of v) s += x * x;
  const norm = Math.sqrt(s) || 1;
  return v.map((x) => x / norm);
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d += a[i]! * b[i]!;
  return d; // unit vectors
}
