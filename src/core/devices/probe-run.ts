/**
 * One probe: open a session for a (device, backend) target on a tiny embedded model, run it, read the
 * runtime's own record of which provider ran each node, and compare the output with the CPU EP.
 * Meant to run in its own process (the 'probe' job of a src/runtime lane), with the environment that pins the device
 * (VK_DRIVER_FILES for WebGPU, CUDA_DEVICE_ORDER for CUDA), so native aborts or hangs cannot take the
 * caller down.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { RuntimeTarget } from '../backends/ep-map.js';
import type { HostTensor, TensorSpec } from '../backends/types.js';
import { CPU_TARGET, backendFor, openSession } from '../backends/registry.js';
import { embeddedModel } from '../models/embedded.js';
import { errorMessage } from '../errors.js';
import { tempDir } from '../config/paths.js';

export interface ProbeJob {
  target: RuntimeTarget;
  /** An embedded model's name (devices --probe uses probe-mlp) or a path to an .onnx file. */
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

function maxAbsDiff(a: HostTensor | undefined, b: HostTensor | undefined): number {
  if (!a || !b || a.data.length !== b.data.length) return Number.POSITIVE_INFINITY;
  let max = 0;
  for (let i = 0; i < a.data.length; i++) max = Math.max(max, Math.abs(Number(a.data[i]) - Number(b.data[i])));
  return max;
}

/** Float inputs of the session's shapes (symbolic dimensions as 1), filled with a fixed pattern. */
function feedsFor(inputs: readonly TensorSpec[]): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = {};
  for (const spec of inputs) {
    const dims = spec.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    const size = dims.reduce((n, d) => n * d, 1);
    feeds[spec.name] = { type: 'float32', dims, data: Float32Array.from({ length: size }, (_, i) => Math.sin(i)) };
  }
  return feeds;
}

/** `model` is an embedded model's name or a path to an .onnx file. */
async function modelBytes(model: string): Promise<Uint8Array> {
  return model.endsWith('.onnx') ? new Uint8Array(await readFile(model)) : embeddedModel(model).build();
}

export async function runProbe(job: ProbeJob): Promise<ProbeOutcome> {
  const outcome: ProbeOutcome = { ok: false };
  const profileDir = await mkdtemp(join(tempDir(), 'aivmm-probe-'));
  try {
    const bytes = await modelBytes(job.model);
    const backend = await backendFor(job.target);
    outcome.runtimeVersion = await backend.version();
    if (job.target.runtime === 'onnxruntime') {
      outcome.builtWith = await (await import('../backends/ort.js')).ortSupportedBackends();
    }
    const t0 = performance.now();
    const { session, fallback } = await openSession(job.target, bytes, { strict: 'prefer', profile: { dir: profileDir } });
    if (fallback) outcome.strictFailed = true;
    const t1 = performance.now();
    const feeds = feedsFor(session.inputs);
    const out = await session.run(feeds);
    const t2 = performance.now();
    outcome.sessionMs = Math.round((t1 - t0) * 10) / 10;
    outcome.runMs = Math.round((t2 - t1) * 10) / 10;
    const placement = await session.placement();
    if (placement) outcome.executedOn = placement;
    await session.dispose();

    // Reference: the same model and inputs on the ORT CPU EP.
    if (job.target.runtime === 'onnxruntime' && job.target.provider === 'cpu') {
      outcome.maxAbsDiff = 0;
    } else {
      const { session: ref } = await openSession(CPU_TARGET, bytes);
      const refOut = await ref.run(feeds);
      await ref.dispose();
      outcome.maxAbsDiff = Math.max(0, ...Object.keys(refOut).map((k) => maxAbsDiff(out[k], refOut[k])));
    }
    outcome.ok = true;
  } catch (err) {
    outcome.error = errorMessage(err);
  } finally {
    await rm(profileDir, { recursive: true, force: true });
  }
  return outcome;
}
