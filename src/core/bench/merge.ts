/**
 * `--repeat N`: the same pair measured in N fresh processes, one after another, pooled into one row per
 * batch. Per-process effects (memory layout, which cores a process lands on) then average out instead
 * of deciding a whole comparison.
 */
import { describe, histogram, median, noiseVerdict } from './stats.js';
import type { BenchRow, BenchSettings } from './types.js';

/** Each repeat's share of the measurement. */
export function splitSettings(s: BenchSettings): BenchSettings {
  const n = Math.max(1, s.repeat);
  if (n === 1) return s;
  return {
    ...s,
    ...(s.iterations !== undefined ? { iterations: Math.ceil(s.iterations / n) } : {}),
    ...(s.durationMs !== undefined ? { durationMs: s.durationMs / n } : {}),
    ...(s.maxMs !== undefined ? { maxMs: s.maxMs / n } : {}),
    minIterations: Math.ceil(s.minIterations / n),
  };
}

/** Rows of several runs of one pair → one row per batch, samples in run order. */
export function mergeRepeats(runs: readonly (readonly BenchRow[])[]): BenchRow[] {
  const first = runs[0];
  // Every row carries its processes' medians: the units the baseline gate compares (issue #21).
  if (!first || runs.length === 1) return first ? first.map((r) => ({ ...r, repeatMedians: r.repeatMedians ?? [r.stats.p50] })) : [];
  const out: BenchRow[] = [];
  for (const base of first) {
    const same = runs.map((rows) => rows.find((r) => r.batch === base.batch)).filter((r): r is BenchRow => r !== undefined);
    const samples = same.flatMap((r) => r.samples);
    const stats = describe(samples);
    const wallMs = same.reduce((a, r) => a + r.throughput.wallMs, 0);
    const row: BenchRow = {
      ...base,
      sessionMs: median(same.map((r) => r.sessionMs)),
      firstRunMs: median(same.map((r) => r.firstRunMs)),
      warmup: { iterations: same.reduce((a, r) => a + r.warmup.iterations, 0), ms: same.reduce((a, r) => a + r.warmup.ms, 0) },
      stats,
      throughput: {
        itemsPerSec: wallMs > 0 ? (samples.length * base.batch * 1000) / wallMs : 0,
        requestsPerSec: wallMs > 0 ? (samples.length * 1000) / wallMs : 0,
        wallMs,
      },
      noise: noiseVerdict(stats),
      histogram: histogram(samples),
      memory: { rssBytes: Math.max(...same.map((r) => r.memory.rssBytes)), peakRssBytes: Math.max(...same.map((r) => r.memory.peakRssBytes)) },
      interrupted: same.some((r) => r.interrupted),
      samples,
      repeats: same.length,
      repeatMedians: same.map((r) => r.stats.p50),
    };
    if (same.every((r) => r.paired)) {
      const ps = same.map((r) => r.paired as NonNullable<BenchRow['paired']>);
      const oldSamples = ps.flatMap((p) => p.oldSamples);
      const current = ps.flatMap((p) => p.current);
      // Each process looked (and stopped) on its own: the pooled blocks get one look, at the Bonferroni level of all their looks together.
      const maxLooks = ps.reduce((n, p) => n + Math.max(p.maxLooks ?? 1, p.looks?.length ?? 1), 0);
      row.paired = { model: ps[0]?.model ?? '', blockSize: ps[0]?.blockSize ?? 0, current, old: ps.flatMap((p) => p.old), looks: [current.length], maxLooks, oldP50: median(oldSamples), oldSamples };
    } else {
      delete row.paired;
    }
    if (same.every((r) => r.reference)) {
      let offset = 0;
      const refSamples: number[] = [];
      const at: number[] = [];
      for (const r of same) {
        refSamples.push(...(r.reference?.samples ?? []));
        at.push(...(r.reference?.at ?? []).map((x) => x + offset));
        offset += r.samples.length;
      }
      row.reference = { model: base.reference?.model ?? '', p50: median(refSamples), samples: refSamples, at };
    } else {
      delete row.reference;
    }
    const powered = same.flatMap((r) => (r.power ? [r.power] : []));
    if (powered.length === same.length && powered[0]) {
      const watts = powered.reduce((a, p) => a + p.watts, 0) / powered.length;
      row.power = { ...powered[0], watts, joulesPerItem: row.throughput.itemsPerSec > 0 ? watts / row.throughput.itemsPerSec : 0, samples: powered.reduce((a, p) => a + p.samples, 0) };
    } else {
      delete row.power;
    }
    const fell = same.find((r) => r.placement?.fallback)?.placement;
    if (fell) row.placement = fell;
    out.push(row);
  }
  return out;
}
