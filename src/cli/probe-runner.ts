/**
 * Runs each device probe in its own process lane (src/runtime), with the environment that pins the
 * device, a time limit, and crash containment: a native abort or hang becomes a failed probe.
 */
import type { ProbeRunner } from '../core/devices/probe.js';
import type { ProbeOutcome } from '../core/devices/probe-run.js';
import { errorMessage } from '../core/errors.js';
import { Lane } from '../runtime/lane.js';

export function processProbeRunner(baseEnv: Readonly<Record<string, string | undefined>>, log: (m: string) => void = () => undefined): ProbeRunner {
  return async (job, env, timeoutMs) => {
    const target = job.target.runtime === 'onnxruntime' ? job.target.provider : `openvino:${job.target.device}`;
    let lane: Lane;
    try {
      lane = await Lane.start({ name: `probe ${target}`, target: job.target, baseEnv, env: { ...env }, onStderr: (line) => log(`probe ${target}: ${line}`) });
    } catch (err) {
      return { ok: false, error: `could not start the probe process: ${errorMessage(err)}` };
    }
    try {
      return await lane.job<ProbeOutcome>('probe', job, undefined, { timeoutMs });
    } catch (err) {
      return { ok: false, error: errorMessage(err) };
    } finally {
      await lane.close();
    }
  };
}
