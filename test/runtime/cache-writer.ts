/**
 * One process of the concurrent-cache test: `node --import tsx cache-writer.ts <probe|auto> <cacheDir> <first> <count>`
 * records results for pairs first..first+count-1, one write per pair, each a full read-merge-write.
 */
import { probeDevices } from '../../src/core/devices/probe.js';
import { recordMeasurements } from '../../src/core/bench/auto.js';
import type { BenchRow } from '../../src/core/bench/types.js';
import type { DevicesReport } from '../../src/core/devices/types.js';

export const PAIRS = 40;

/** The same synthetic host in every process (so they share one fingerprint and one file). */
export function syntheticReport(): DevicesReport {
  return {
    host: { hostname: 'lock-test', platform: 'linux', arch: 'x64', release: '1', memoryBytes: 1, availableMemoryBytes: 1 },
    runtimes: [{ name: 'onnxruntime-node', installed: true, version: '1.0.0' }],
    devices: Array.from({ length: PAIRS }, (_, i) => ({ id: `D${i}`, kind: 'cpu' as const, name: `device ${i}`, vendor: 'test', backends: [{ backend: 'ort-cpu' as const, available: true, verified: false }] })),
    ignored: [],
    probed: false,
    warnings: [],
    elapsedMs: 0,
  } as DevicesReport;
}

async function main(): Promise<void> {
  const [kind, cacheDir, first, count] = process.argv.slice(2);
  const from = Number(first);
  for (let i = from; i < from + Number(count); i++) {
    if (kind === 'probe') {
      const report = syntheticReport();
      await probeDevices(report, { cacheDir: cacheDir!, deviceIds: [`D${i}`], runner: async () => (await new Promise((r) => setTimeout(r, 20)), { ok: true, sessionMs: i, runMs: 1, executedOn: { CPUExecutionProvider: 1 }, maxAbsDiff: 0 }) }); // a real probe takes seconds: the window between read and write
      if (report.warnings.length) throw new Error(report.warnings.join('; '));
    } else {
      const row = { model: 'm', device: `D${i}`, backend: 'ort-cpu', batch: 1, concurrency: 1, interrupted: false, stats: { p50: i }, throughput: { itemsPerSec: i } } as unknown as BenchRow;
      await recordMeasurements(cacheDir!, syntheticReport(), 'sha', [row]);
    }
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) await main();
