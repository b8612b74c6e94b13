/** `--device auto` for bench and run: core's chooseAuto (probes, cache, choice), the choice said on stderr. */
import type { BenchEvent, PairRunner } from '../core/bench/index.js';
import { chooseAuto as choose, type AutoChoice, type Prefer, type Requirement } from '../core/bench/auto.js';
import type { DevicesReport } from '../core/devices/types.js';
import type { CliContext } from './context.js';
import { aivmmVersion } from './version.js';

export async function chooseAuto(
  ctx: CliContext,
  a: { model: { name: string; path: string; embedded: boolean }; devices: DevicesReport; cacheDir: string; modelSha: string; requirements: Requirement[]; prefer: Prefer; backends: string[]; runner: PairRunner; signal: AbortSignal; onEvent?: (e: BenchEvent) => void },
): Promise<AutoChoice> {
  const choice = await choose({ ...a, aivmmVersion: aivmmVersion(), log: (m) => ctx.log(m) });
  ctx.io.stderr.write(`auto: ${choice.device} ${choice.backend}: ${choice.reason}\n`);
  return choice;
}
