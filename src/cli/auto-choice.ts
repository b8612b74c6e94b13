/** `--device auto` for bench and run: quick probes for the pairs the cache lacks, then the choice, said on stderr. */
import { runBench, type BenchEvent, type BenchSettings, type PairRunner } from '../core/bench/index.js';
import { autoCandidates, choose, recordMeasurements, unmeasured, type AutoChoice, type Prefer, type Requirement } from '../core/bench/auto.js';
import type { DevicesReport } from '../core/devices/types.js';
import { errorMessage } from '../core/errors.js';
import type { CliContext } from './context.js';
import { aivmmVersion } from './version.js';

/** Quick probes for the pairs the cache has not measured for this model, then the choice. */
export async function chooseAuto(
  ctx: CliContext,
  a: { model: { name: string; path: string; embedded: boolean }; devices: DevicesReport; cacheDir: string; modelSha: string; requirements: Requirement[]; prefer: Prefer; backends: string[]; runner: PairRunner; signal: AbortSignal; onEvent?: (e: BenchEvent) => void },
): Promise<AutoChoice> {
  let candidates = await autoCandidates(a.cacheDir, a.devices, a.modelSha, a.requirements);
  if (a.backends.length > 0) candidates = candidates.map((c) => (a.backends.includes(c.backend) || c.excluded ? c : { ...c, excluded: `--backend ${a.backends.join(',')}` }));
  const probed = new Set<string>();
  for (const c of unmeasured(candidates, a.prefer)) {
    if (a.signal.aborted) break;
    ctx.log(`auto: probing ${c.device} ${c.backend}`);
    const probe: BenchSettings = {
      batches: [a.prefer === 'latency' ? 1 : 16],
      shapes: [],
      inputFiles: [],
      seed: 1,
      concurrency: 1,
      warmup: { ms: 300 },
      durationMs: 1000,
      minIterations: 5,
      maxMs: 15_000,
      epOptions: {},
      repeat: 1,
      reference: false,
    };
    const r = await runBench({ model: a.model, devices: a.devices, device: c.device, backends: [c.backend], settings: probe, runner: a.runner, signal: a.signal, ...(a.onEvent ? { onEvent: a.onEvent } : {}), aivmmVersion: aivmmVersion() }).catch((err: unknown) => {
      ctx.log(`auto: ${c.device} ${c.backend} probe failed: ${errorMessage(err)}`);
      return undefined;
    });
    if (r && r.rows.length > 0) {
      await recordMeasurements(a.cacheDir, a.devices, a.modelSha, r.rows);
      probed.add(`${c.device} ${c.backend}`);
    } else if (r) {
      candidates = candidates.map((x) => (x === c ? { ...x, excluded: r.failed[0]?.error.message ?? 'probe failed' } : x));
    }
  }
  const fresh = await autoCandidates(a.cacheDir, a.devices, a.modelSha, a.requirements);
  const merged = fresh.map((c) => {
    const before = candidates.find((x) => x.device === c.device && x.backend === c.backend);
    const excluded = c.excluded ?? before?.excluded;
    return { ...c, ...(excluded ? { excluded } : {}), ...(probed.has(`${c.device} ${c.backend}`) ? { source: 'probe' as const } : {}) };
  });
  const choice = choose(merged, a.prefer, a.requirements);
  ctx.io.stderr.write(`auto: ${choice.device} ${choice.backend}: ${choice.reason}\n`);
  return choice;
}
