/** `aivmm setup cuda`: install onnxruntime-node's CUDA/TensorRT provider libraries, then show what reaches the GPUs. */
import { setupCuda } from '../../core/backends/cuda-setup.js';
import { listDevices } from '../../core/devices/index.js';
import { formatBytes } from '../../ui/format/units.js';
import { SCHEMAS, okEnvelope, toJson } from '../../ui/json.js';
import type { CliContext } from '../context.js';
import { installerRunner } from '../installer-runner.js';
import { startSpinner } from '../spinner.js';

export async function setupCudaCommand(ctx: CliContext, opts: { from?: string; force?: boolean }): Promise<void> {
  const spinner = await startSpinner(ctx, opts.from ? `copying the CUDA provider libraries from ${opts.from}` : 'downloading the CUDA 12 provider libraries (onnxruntime-node installer)');
  let result;
  try {
    result = await setupCuda({ ...(opts.from ? { from: opts.from } : {}), ...(opts.force ? { force: true } : {}), runner: installerRunner(ctx.config.env) });
  } finally {
    spinner.stop();
  }
  const { cacheDir } = ctx.config.paths;
  const devices = await listDevices({ host: ctx.host(), cacheDir });
  const reach = devices.devices.flatMap((d) =>
    d.backends.filter((b) => b.backend === 'ort-cuda' || b.backend === 'ort-tensorrt').map((b) => ({ device: d.id, name: d.name, backend: b.backend, available: b.available, ...(b.reason ? { reason: b.reason } : {}), ...(b.fix ? { fix: b.fix } : {}) })),
  );
  const data = { ...result, devices: reach };
  if (ctx.flags.json) {
    ctx.io.stdout.write(toJson(okEnvelope(SCHEMAS.setup, data)));
    return;
  }
  const how = { 'already-installed': 'already installed', installer: "installed by onnxruntime-node's installer", directory: `copied from ${opts.from ?? ''}` }[result.source];
  ctx.io.stdout.write(`CUDA provider libraries for onnxruntime-node ${result.ortVersion ?? ''}: ${how}\n`);
  for (const f of result.files) ctx.io.stdout.write(`  ${result.binDir}/${f.name} (${formatBytes(f.bytes)})\n`);
  if (reach.length === 0) ctx.io.stdout.write('no NVIDIA GPU here: the CUDA and TensorRT backends will show up in `aivmm devices` on a machine with one\n');
  for (const r of reach) ctx.io.stdout.write(`${r.device} ${r.backend}: ${r.available ? 'reachable (verify: aivmm devices --probe)' : `not reachable: ${r.reason ?? ''}${r.fix ? ` — ${r.fix}` : ''}`}\n`);
}
