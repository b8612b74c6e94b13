/**
 * Spawns one probe worker process per (device, backend) pair, with the environment that pins the
 * device, a time limit, and crash containment: a native abort or hang becomes a failed probe.
 */
import { spawn } from 'node:child_process';
import { workerArgs } from './worker-entry.js';
import type { ProbeRunner } from '../core/devices/probe.js';
import { PROBE_MARKER, type ProbeOutcome } from '../core/devices/probe-run.js';

export function processProbeRunner(baseEnv: Readonly<Record<string, string | undefined>>, log: (m: string) => void = () => undefined): ProbeRunner {
  return (job, env, timeoutMs) =>
    new Promise<ProbeOutcome>((resolve) => {
      const childEnv: NodeJS.ProcessEnv = { ...baseEnv, ...env };
      // Dawn needs a runtime dir on Linux; give it a private one when the session has none.
      childEnv['XDG_RUNTIME_DIR'] ??= '/tmp';
      const child = spawn(process.execPath, [...workerArgs('probe-worker'), JSON.stringify(job)], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
      child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      child.on('error', (err) => {
        clearTimeout(timer);
        resolve({ ok: false, error: `could not start the probe process: ${err.message}` });
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        const target = job.target.runtime === 'onnxruntime' ? job.target.provider : `openvino:${job.target.device}`;
        for (const line of stderr.split('\n').filter(Boolean)) log(`probe ${target}: ${line}`);
        const line = stdout.split('\n').find((l) => l.startsWith(PROBE_MARKER));
        if (line) {
          try {
            resolve(JSON.parse(line.slice(PROBE_MARKER.length)) as ProbeOutcome);
            return;
          } catch {
            // fall through to the failure below
          }
        }
        const lastErr = stderr.trim().split('\n').pop()?.replace(/\x1b\[[0-9;]*m/g, '').slice(0, 300);
        const why = timedOut
          ? `timed out after ${Math.round(timeoutMs / 1000)} s`
          : signal
            ? `the runtime crashed (${signal})`
            : `the probe process exited with code ${code ?? '?'}`;
        resolve({ ok: false, error: lastErr ? `${why}: ${lastErr}` : why });
      });
    });
}
