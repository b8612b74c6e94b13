/** Runs onnxruntime-node's install script in its own Node process, for `aivmm setup cuda` (environment: core/backends/installer-env.ts). */
import { spawn } from 'node:child_process';
import type { InstallerRunner } from '../core/backends/cuda-setup.js';
import { installerEnv } from '../core/backends/installer-env.js';

export function installerRunner(env: Readonly<Record<string, string | undefined>>): InstallerRunner {
  const clean = installerEnv(env);
  return (script, args) =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: clean });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      const timer = setTimeout(() => child.kill('SIGTERM'), 15 * 60_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? 1, output });
      });
      child.on('error', (err) => resolve({ code: 1, output: String(err) }));
    });
}
