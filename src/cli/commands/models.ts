/** `aivmm models` (catalog + cache status), `--cached` (the whole cache), `models rm`. */
import Table from 'cli-table3';
import { findAlias, loadCatalog } from '../../core/hub/catalog.js';
import { listCached, removeCached } from '../../core/hub/models.js';
import { parseRepoId } from '../../core/hub/pull.js';
import { formatBytes } from '../../ui/format/units.js';
import { fitTable } from '../../ui/format/fit.js';
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
  // On a terminal the table fits its width: Repository goes first (the alias names it), then Size, Task, Licence.
  const cells = rows.map((r) => [r.alias, r.repo, r.task, r.sizeBytes ? `~${formatBytes(r.sizeBytes)}` : '-', `${r.license}${r.flags.length ? ` ⚠ ${r.flags.join(', ')}` : ''}`, r.cached ? 'yes' : 'no']);
  const fitted = fitTable(['Alias', 'Repository', 'Task', 'Size', 'Licence', 'Cached'], cells, ctx.io.stdout.isTTY ? ctx.io.stdout.columns : undefined, [1, 3, 2, 4]);
  const t = new Table({ head: fitted.head, style });
  for (const r of fitted.rows) t.push(r);
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
