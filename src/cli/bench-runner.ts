/**
 * Runs each bench pair in its own process: the device's environment applies (VK_DRIVER_FILES pins the
 * WebGPU adapter, CUDA_DEVICE_ORDER the CUDA ordinal), peak memory is that pair's alone, and a native
 * crash fails one pair instead of the whole run.
 */
import { spawn } from 'node:child_process';
import { workerArgs } from './worker-entry.js';
import type { PairRunner } from '../core/bench/index.js';
import type { PairEvent } from '../core/bench/run-pair.js';
import type { BenchRow } from '../core/bench/types.js';
import { BackendUnavailableError, errorFromCode } from '../core/errors.js';

export type WorkerMessage =
  | { type: 'event'; event: PairEvent }
  | { type: 'done'; rows: BenchRow[] }
  | { type: 'error'; error: { code: string; message: string; hint?: string } };

export function processBenchRunner(baseEnv: Readonly<Record<string, string | undefined>>, log: (m: string) => void = () => undefined): PairRunner {
  return (job, hooks) =>
    new Promise<BenchRow[]>((resolve, reject) => {
      const childEnv: NodeJS.ProcessEnv = { ...baseEnv, ...(job.target.runtime === 'onnxruntime' ? job.target.env : {}) };
      childEnv['XDG_RUNTIME_DIR'] ??= '/tmp'; // Dawn needs one on Linux
      const child = spawn(process.execPath, [...workerArgs('bench-worker'), JSON.stringify(job)], { env: childEnv, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
      let stderr = '';
      let settled = false;
      const finish = (f: () => void): void => {
        if (settled) return;
        settled = true;
        hooks.signal?.removeEventListener('abort', stop);
        f();
      };
      const stop = (): void => {
        if (child.connected) child.send({ type: 'stop' });
      };
      if (hooks.signal?.aborted) stop();
      hooks.signal?.addEventListener('abort', stop);
      child.stderr?.setEncoding('utf8').on('data', (c: string) => {
        stderr += c;
        if (stderr.length > 64_000) stderr = stderr.slice(-32_000);
      });
      child.on('message', (m: WorkerMessage) => {
        if (m.type === 'event') hooks.onEvent(m.event);
        else if (m.type === 'done') finish(() => resolve(m.rows));
        else finish(() => reject(errorFromCode(m.error.code, m.error.message, m.error.hint)));
      });
      child.on('error', (err) => finish(() => reject(new BackendUnavailableError(`could not start the bench process: ${err.message}`))));
      child.on('close', (code, signal) => {
        for (const line of stderr.split('\n').filter(Boolean)) log(`${job.device.id} ${job.backend}: ${line}`);
        const last = stderr.trim().split('\n').pop()?.replace(/\x1b\[[0-9;]*m/g, '').slice(0, 300);
        const why = signal ? `the runtime crashed (${signal})` : `the bench process exited with code ${code ?? '?'}`;
        finish(() => reject(new BackendUnavailableError(`${job.device.id} ${job.backend}: ${why}${last ? `: ${last}` : ''}`, 'run `aivmm devices --probe` to check this backend')));
      });
    });
}
