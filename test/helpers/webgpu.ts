/**
 * WebGPU availability for tests: skip when no Vulkan adapter is installed, unless AIVMM_REQUIRE_WEBGPU=1
 * (set in CI), where a missing adapter is a failure.
 */
import { discoverDevices } from '../../src/core/devices/discover.js';
import { nodeHost } from '../../src/core/devices/host.js';
import type { Device } from '../../src/core/devices/types.js';

export async function webgpuDevice(): Promise<{ device?: Device; skip: string | false }> {
  process.env['XDG_RUNTIME_DIR'] ??= '/tmp';
  const report = await discoverDevices(nodeHost(process.env));
  const device = report.devices.find((d) => d.kind === 'gpu' && d.backends.some((b) => b.backend === 'ort-webgpu' && b.available));
  if (device) return { device, skip: false };
  const why = 'no WebGPU (Vulkan) adapter here: install mesa-vulkan-drivers from bookworm-backports (scripts/install-lavapipe.sh)';
  if (process.env['AIVMM_REQUIRE_WEBGPU'] === '1') throw new Error(`AIVMM_REQUIRE_WEBGPU=1: ${why}`);
  return { skip: why };
}
