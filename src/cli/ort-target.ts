/** --device / --backend for commands that run a model in this process: discovery, then core's resolveTarget, then the target's environment. */
import { resolveTarget, type ResolvedTarget } from '../core/backends/target.js';
import type { RuntimeTarget } from '../core/backends/ep-map.js';
import { listDevices, nodeHost } from '../core/devices/index.js';
import type { DevicesReport } from '../core/devices/types.js';
import type { CliContext } from './context.js';

export type OrtTarget = ResolvedTarget;

/** `known`: devices already discovered by the caller (discovery is not repeated). */
export async function resolveOrtTarget(ctx: CliContext, command: string, deviceFlag: string, backendFlag: string | undefined, cacheDir: string, known?: DevicesReport, runtimes?: readonly RuntimeTarget['runtime'][]): Promise<OrtTarget> {
  const env = ctx.io.env;
  const devices = known ?? (await listDevices({ host: nodeHost(env, env['AIVMM_SYSROOT'] || '/'), cacheDir }));
  const resolved = resolveTarget(devices, { command, device: deviceFlag, ...(backendFlag ? { backend: backendFlag } : {}), ...(runtimes ? { runtimes } : {}) });
  // The runtime reads these (e.g. the Vulkan driver to expose) when it loads: before any session.
  if (resolved.target.runtime === 'onnxruntime') for (const [k, v] of Object.entries(resolved.target.env)) process.env[k] = v;
  return resolved;
}
