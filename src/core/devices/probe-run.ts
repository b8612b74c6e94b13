/**
 * One probe: open a session for a (device, backend) target on a tiny embedded model, run it, read the
 * runtime's own record of which provider ran each node, and compare the output with the CPU EP.
 * Meant to run in its own process (src/cli/probe-worker.ts), with the environment that pins the device
 * (VK_DRIVER_FILES for WebGPU, CUDA_DEVICE_ORDER for CUDA), so native aborts or hangs cannot take the
 * caller down.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { RuntimeTarget } from '../backends/ep-map.js';
import type { Backend, HostTensor } from '../backends/types.js';
import { embeddedModel } from '../hub/embedded.js';
import { errorMessage } from '../errors.js';
import { tempDir } from '../config/paths.js';

export interface ProbeJob {
  target: RuntimeTarget;
  model: string;
}

export interface ProbeOutcome {
  ok: boolean;
  sessionMs?: number;
  runMs?: number;
  executedOn?: Record<string, number>;
  maxAbsDiff?: number;
  /** Session creation with CPU fallback disabled failed, but it ran with fallback allowed. */
  strictFailed?: boolean;
  runtimeVersion?: string;
  builtWith?: { name: string; bundled: boolean }[];
  error?: string;
}

async function backendFor(target: RuntimeTarget): Promise<Backend> {
  if (target.runtime === 'openvino') return (await import('../backends/openvino.js')).openvinoBackend;
  return (await import('../backends/ort.js')).ortBackend;
}

function maxAbsDiff(a: HostTensor | undefined, b: HostTensor | undefined): number {
  if (!a || !b || a.data.length !== b.data.length) return Number.POSITIVE_INFINITY;
  let max = 0;
  for (let i = 0; i < a.data.length; i++) max = Math.max(max, Math.abs(Number(a.data[i]) - Number(b.data[i])));
  return max;
}

export async function runProbe(job: ProbeJob): Promise<ProbeOutcome> {
  const spec = embeddedModel(job.model);
  const bytes = spec.build();
  const input: HostTensor = {
    type: 'float32',
    dims: spec.input.shape.map((d) => (typeof d === 'number' ? d : 1)),
    data: Float32Array.from({ length: spec.input.shape.reduce<number>((n, d) => n * (typeof d === 'number' ? d : 1), 1) }, (_, i) => Math.sin(i)),
  };
  const feeds = { [spec.input.name]: input };
  const backend = await backendFor(job.target);
  const outcome: ProbeOutcome = { ok: false };
  const profileDir = await mkdtemp(join(tempDir(), 'aivmm-probe-'));
  try {
    outcome.runtimeVersion = await backend.version();
    if (job.target.runtime === 'onnxruntime') {
      outcome.builtWith = await (await import('../backends/ort.js')).ortSupportedBackends();
    }
    const t0 = performance.now();
    let session;
    try {
      session = await backend.load(bytes, job.target, { strictPlacement: true, profile: { dir: profileDir } });
    } catch (err) {
      if (!/fallback to CPU EP has been explicitly disabled|assigned to the default CPU EP/i.test(errorMessage(err))) throw err;
      outcome.strictFailed = true;
      session = await backend.load(bytes, job.target, { profile: { dir: profileDir } });
    }
    const t1 = performance.now();
    const out = await session.run(feeds);
    const t2 = performance.now();
    outcome.sessionMs = Math.round((t1 - t0) * 10) / 10;
    outcome.runMs = Math.round((t2 - t1) * 10) / 10;
    const placement = await session.placement();
    if (placement) outcome.executedOn = placement;
    await session.dispose();

    // Reference: the same model on the ORT CPU EP.
    if (!(job.target.runtime === 'onnxruntime' && job.target.provider === 'cpu')) {
      const { ortBackend } = await import('../backends/ort.js');
      const ref = await ortBackend.load(bytes, { runtime: 'onnxruntime', provider: 'cpu', env: {}, profileName: 'CPUExecutionProvider' });
      const refOut = await ref.run(feeds);
      await ref.dispose();
      outcome.maxAbsDiff = maxAbsDiff(out[spec.output.name], refOut[spec.output.name]);
    } else {
      outcome.maxAbsDiff = 0;
    }
    outcome.ok = true;
  } catch (err) {
    outcome.error = errorMessage(err);
  } finally {
    await rm(profileDir, { recursive: true, force: true });
  }
  return outcome;
}

