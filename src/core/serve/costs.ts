/**
 * The cost of a batch size nobody has measured yet, from the sizes that have been (pure). Shared by the
 * batcher (one table per model) and the router (one table per instance).
 *
 * One measured size b0: an optimistic sublinear prior, c(b0)·(b/b0)^0.7, so larger sizes get tried and
 * learned. Several: linear between the nearest measured sizes, extrapolated from the last two beyond them
 * (never falling with size).
 */
export function estimateCost(known: Iterable<readonly [number, number]>, b: number): number | undefined {
  const pts = [...known].sort((x, y) => x[0] - y[0]);
  const exact = pts.find((p) => p[0] === b);
  if (exact) return exact[1];
  if (pts.length === 0) return undefined;
  if (pts.length === 1) {
    const [b0, c0] = pts[0] as readonly [number, number];
    return c0 * (b / b0) ** 0.7;
  }
  let lo = pts[0] as readonly [number, number];
  let hi = pts[1] as readonly [number, number];
  for (let i = 0; i + 1 < pts.length; i++) {
    lo = pts[i] as readonly [number, number];
    hi = pts[i + 1] as readonly [number, number];
    if (b <= hi[0]) break;
  }
  const slope = (hi[1] - lo[1]) / (hi[0] - lo[0]);
  return Math.max(1e-6, lo[1] + (b - lo[0]) * Math.max(0, slope));
}
