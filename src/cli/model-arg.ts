/** A command's model argument: embedded, file, catalog alias or Hub id — pulled into the shared cache when needed. */
import { resolveModel, type ResolvedModel } from '../core/hub/resolve-model.js';
import type { CliContext } from './context.js';
import { userAgent } from './version.js';

export async function resolveModelArg(ctx: CliContext, arg: string | undefined, cacheDir: string, opts: { multi?: boolean } = {}): Promise<ResolvedModel> {
  return resolveModel(
    arg,
    cacheDir,
    process.cwd(),
    async (id) => {
      const { pullModel } = await import('../core/hub/pull.js');
      const pulled = await pullModel({ id }, { settings: ctx.config.hub, userAgent: userAgent() });
      for (const w of pulled.warnings) ctx.io.stderr.write(`warning: ${w}\n`);
      ctx.log(`${id}: ${pulled.files.filter((f) => f.downloaded).length} file(s) downloaded into ${pulled.snapshotDir}`);
      return pulled;
    },
    opts,
  );
}
