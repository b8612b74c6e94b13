/** `aivmm ps`: what a running server holds — models, their state, devices and queues; lanes and memory. */
import { AuthError, NetworkError, errorMessage } from '../../core/errors.js';
import type { CliContext } from '../context.js';

export interface PsFlags {
  server?: string;
  apiKey?: string;
}

export const PS_SCHEMA = 'aivmm/ps@1';

interface PsDoc {
  models: { name: string; version?: string; state: string; reason?: string; devices?: string[]; instances?: number; queue?: { pending: number; running: number; success: number; failure: number; rejected: number } }[];
  pipelines: { name: string; task?: string }[];
  lanes: { device: string; backend: string; pid?: number; rssBytes?: number; instances?: number }[];
  server: { pid: number; rssBytes: number; uptimeS: number; version: string };
}

const mb = (b?: number): string => (b === undefined ? '-' : `${Math.round(b / 1048576)} MB`);

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

export async function psCommand(ctx: CliContext, opts: PsFlags): Promise<void> {
  const base = (opts.server ?? ctx.io.env['AIVMM_SERVER'] ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  const key = opts.apiKey ?? ctx.io.env['AIVMM_API_KEY'];
  let res: Response;
  try {
    res = await fetch(`${base}/v1/ps`, { headers: key ? { authorization: `Bearer ${key}` } : {}, signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw new NetworkError(`no aivmm server answers at ${base} (${errorMessage((err as { cause?: unknown }).cause ?? err)})`, 'start one with `aivmm serve`, or point --server / AIVMM_SERVER at it');
  }
  if (res.status === 401 || res.status === 403) throw new AuthError(`${base} refused the request (${res.status})`, 'pass --api-key or set AIVMM_API_KEY');
  if (!res.ok) throw new NetworkError(`${base}/v1/ps answered ${res.status}`, 'is this an aivmm server of this version?');
  const doc = (await res.json()) as PsDoc;
  if (ctx.flags.json) {
    ctx.io.stdout.write(`${JSON.stringify({ schema: PS_SCHEMA, ok: true, data: { url: base, ...doc }, warnings: [] }, null, 2)}\n`);
    return;
  }
  const rows = [['MODEL', 'VERSION', 'STATE', 'DEVICE', 'INSTANCES', 'QUEUED', 'RUNNING', 'OK', 'FAILED', 'REJECTED']];
  for (const m of doc.models) {
    rows.push([m.name, m.version ?? '-', m.state, m.devices?.join(', ') ?? '-', String(m.instances ?? '-'), String(m.queue?.pending ?? '-'), String(m.queue?.running ?? '-'), String(m.queue?.success ?? '-'), String(m.queue?.failure ?? '-'), String(m.queue?.rejected ?? '-')]);
  }
  for (const p of doc.pipelines) if (!doc.models.some((m) => m.name === p.name)) rows.push([p.name, '-', p.task ?? 'pipeline', '-', '-', '-', '-', '-', '-', '-']);
  let out = `${base}  (aivmm ${doc.server.version}, pid ${doc.server.pid}, ${mb(doc.server.rssBytes)}, up ${doc.server.uptimeS} s)\n\n${table(rows)}`;
  if (doc.lanes.length) out += `\n${table([['LANE', 'BACKEND', 'PID', 'MEMORY', 'INSTANCES'], ...doc.lanes.map((l) => [l.device, l.backend, String(l.pid ?? 'down'), mb(l.rssBytes), String(l.instances ?? '-')])])}`;
  for (const m of doc.models) if (m.reason) out += `${m.name}${m.version ? ` v${m.version}` : ''}: ${m.reason}\n`;
  ctx.io.stdout.write(out);
}
