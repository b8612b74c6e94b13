/**
 * A real Prometheus (Debian's `prometheus` package) for tests: found on PATH or at AIVMM_PROMETHEUS
 * (promtool beside it). `skipUnless` gives node:test's skip message when it is absent, or throws when
 * AIVMM_REQUIRE_PROMETHEUS=1 (CI) makes that a failure. `startPrometheus` runs one scraping a loopback
 * target every second (with a Bearer key when given) and answers instant queries through its HTTP API.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as netServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import { delimiter, dirname, join } from 'node:path';

function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir && existsSync(join(dir, name))) return join(dir, name);
  return undefined;
}
const fromEnv = process.env.AIVMM_PROMETHEUS;
export const prometheus = fromEnv ? (existsSync(fromEnv) ? fromEnv : undefined) : which('prometheus');
export const promtool = prometheus && existsSync(join(dirname(prometheus), 'promtool')) ? join(dirname(prometheus), 'promtool') : which('promtool');
const required = process.env.AIVMM_REQUIRE_PROMETHEUS === '1';

export const skipUnless = (tool: string | undefined, what: string): string | false => {
  if (tool) return false;
  if (required) throw new Error(`AIVMM_REQUIRE_PROMETHEUS=1 but ${what} was not found (apt-get install prometheus, or set AIVMM_PROMETHEUS)`);
  return `${what} is not installed (Debian: apt-get install prometheus; or AIVMM_PROMETHEUS=/path/to/prometheus)`;
};

export async function freePort(): Promise<number> {
  const s = netServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

export interface QueryResult {
  status: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
  error?: string;
}

export async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

export interface RunningPrometheus {
  base: string;
  query(q: string): Promise<QueryResult>;
  /** What Prometheus printed so far (for a failure message). */
  log(): string;
  stop(): Promise<void>;
}

/** Starts Prometheus scraping `target` ("127.0.0.1:port", path /metrics) every second as job `job`. */
export async function startPrometheus(opts: { target: string; key?: string; job?: string }): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(os.tmpdir(), 'aivmm-prom-'));
  const lines = ['global: {scrape_interval: 1s, evaluation_interval: 1s}', 'scrape_configs:', `  - job_name: ${opts.job ?? 'aivmm'}`];
  if (opts.key !== undefined) {
    writeFileSync(join(dir, 'key'), opts.key);
    lines.push(`    authorization: {type: Bearer, credentials_file: ${join(dir, 'key')}}`);
  }
  lines.push(`    static_configs: [{targets: ["${opts.target}"]}]`, '');
  writeFileSync(join(dir, 'prometheus.yml'), lines.join('\n'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let log = '';
  const child: ChildProcess = spawn(prometheus!, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (c: Buffer) => (log += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  return {
    base,
    query: async (q) => (await (await fetch(`${base}/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as QueryResult,
    log: () => log,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
