/** `aivmm models` (catalog + cache status), `--cached` (the whole cache), `models rm`. */
import Table from 'cli-table3';
import { findAlias, loadCatalog } from '../../core/hub/catalog.js';
import { listCached, removeCached } from '../../core/hub/models.js';
import { parseRepoId } from '../../core/hub/pull.js';
import { formatBytes } from '../../ui/format/units.js';
import { SCHEMAS, okEnvelope, toJson } from '../../ui/json.js';
import type { CliContext } from '../context.js';

export async function modelsCommand(ctx: CliContext, opts: { cached?: boolean }): Promise<void> {
  const settings = ctx.config.hub;
  const cached = await listCached(settings.cacheDir);
  const catalog = loadCatalog();
  const rows = catalog.models.map((m) => {
    const c = cached.find((x) => x.repo === m.repo);
    const hasFiles = c ? m.include.every((inc) => !inc.endsWith('.onnx') || c.onnxFiles.includes(inc)) : false;
    return { alias: m.alias, repo: m.repo, task: m.task, license: m.license, flags: m.flags ?? [], sizeBytes: m.sizeBytes ?? null, cached: hasFiles, ...(m.warning ? { warning: m.warning } : {}) };
  });
  if (ctx.flags.json) {
    ctx.io.stdout.write(toJson(okEnvelope(SCHEMAS.models, { cacheDir: settings.cacheDir, catalogVersion: catalog.version, catalog: rows, cached })));
    return;
  }
  const style = { head: [], border: [], compact: true };
  if (opts.cached) {
    const t = new Table({ head: ['Repository', 'Size', 'Refs', 'ONNX files'], style });
    for (const c of cached) t.push([c.repo, formatBytes(c.sizeBytes), Object.entries(c.refs).map(([r, sha]) => `${r} → ${sha.slice(0, 7)}`).join('\n') || '-', c.onnxFiles.join('\n') || '-']);
    ctx.io.stdout.write(`${settings.cacheDir}: ${cached.length} model(s), ${formatBytes(cached.reduce((a, c) => a + c.sizeBytes, 0))}\n${t.toString()}\n`);
    return;
  }
  const t = new Table({ head: ['Alias', 'Repository', 'Task', 'Size', 'Licence', 'Cached'], style });
  for (const r of rows) t.push([r.alias, r.repo, r.task, r.sizeBytes ? `~${formatBytes(r.sizeBytes)}` : '-', `${r.license}${r.flags.length ? ` ⚠ ${r.flags.join(', ')}` : ''}`, r.cached ? 'yes' : 'no']);
  ctx.io.stdout.write(`${t.toString()}\ncache: ${settings.cacheDir} (shared with huggingface_hub) · aivmm pull <alias> · aivmm models --cached\n`);
}

export async function modelsRmCommand(ctx: CliContext, model: string): Promise<void> {
  const settings = ctx.config.hub;
  const repo = findAlias(model)?.repo ?? parseRepoId(model).repo;
  const freed = await removeCached(settings.cacheDir, repo);
  if (ctx.flags.json) {
    ctx.io.stdout.write(toJson(okEnvelope(SCHEMAS.models, { removed: repo, freedBytes: freed, cacheDir: settings.cacheDir })));
    return;
  }
  ctx.io.stdout.write(`removed ${repo} (${formatBytes(freed)}) from ${settings.cacheDir}\n`);
}
