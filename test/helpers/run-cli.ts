/** Runs the CLI in-process (main) or as a real process (bin/aivmm.js) and captures what it prints. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

class Capture {
  text = '';
  isTTY: boolean;
  columns = 120;
  constructor(tty: boolean) {
    this.isTTY = tty;
  }
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

export async function runCli(argv: string[], opts: { env?: Record<string, string | undefined>; tty?: boolean } = {}): Promise<CliResult> {
  const stdout = new Capture(opts.tty ?? false);
  const stderr = new Capture(false);
  const code = await main(argv, { stdout, stderr, env: { ...process.env, CI: undefined, ...opts.env } });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

export const BIN = fileURLToPath(new URL('../../bin/aivmm.js', import.meta.url));

export function spawnCli(argv: string[], env: Record<string, string | undefined> = {}, cwd?: string): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...argv], { encoding: 'utf8', env: { ...process.env, ...env } as NodeJS.ProcessEnv, timeout: 120_000, ...(cwd ? { cwd } : {}) });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
