/**
 * Runs each bench pair in its own, fresh process lane (src/runtime): the device's environment applies
 * (VK_DRIVER_FILES pins the WebGPU adapter, CUDA_DEVICE_ORDER the CUDA ordinal), peak memory is that
 * pair's alone (process.resourceUsage().maxRSS in the lane), and a native crash fails one pair instead
 * of the whole run. Ctrl-C reaches the lane's process group and ends its timed loop early; an aborted
 * signal does the same through a 'cancel' request.
 */
import type { PairRunner } from '../core/bench/index.js';
import type { PairEvent } from '../core/bench/run-pair.js';
import type { BenchRow } from '../core/bench/types.js';
import { BackendUnavailableError, isAivmmError, errorMessage } from '../core/errors.js';
import { Lane } from './lane.js';

const HINT = 'run `aivmm devices --probe` to check this backend';

/** A lane that died under a pair is that backend failing here, as before the runtime existed. */
const asPairError = (err: unknown): Error =>
  isAivmmError(err) && err.code !== 'LANE_CRASHED' ? err : new BackendUnavailableError(errorMessage(err), HINT);

/** `prefix` names the lane in logs (the server's: 'bench '). Used by `aivmm bench`, `run --device auto` and the server's /v1/bench. */
export function processBenchRunner(baseEnv: Readonly<Record<string, string | undefined>>, log: (m: string) => void = () => undefined, prefix = ''): PairRunner {
  return async (job, hooks) => {
    const name = `${prefix}${job.device.id} ${job.backend}`;
    const lane = await Lane.start({ name, target: job.target, baseEnv, onStderr: (line) => log(`${name}: ${line}`) }).catch((err: unknown) => {
      throw asPairError(err);
    });
    try {
      return await lane.job<BenchRow[]>('bench-pair', job, (e) => hooks.onEvent(e as PairEvent), hooks.signal ? { signal: hooks.signal } : {});
    } catch (err) {
      throw asPairError(err);
    } finally {
      await lane.close();
    }
  };
}
