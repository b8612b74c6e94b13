/**
 * The web dashboard (issue #19): the front end built by `vite build web` into dist/web, served as static
 * files at `/` on the API's own origin. `GET /` (and any path without a dot under it that is not an API
 * route, for the app's client-side tabs) answers index.html, never cached; `/assets/*` are content-hashed
 * by Vite and cached for a year. Only files inside the built directory are ever read: the path is decoded,
 * normalised and checked to stay under it, and anything else is a 404.
 */
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** dist/server/dashboard.js → dist/web; src/server/dashboard.ts (tests through tsx) → dist/web too. */
export const DASHBOARD_DIR = resolve(fileURLToPath(new URL('../../dist/web', import.meta.url)));

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

/** The file under `root` that `urlPath` names, or undefined when it would leave `root` or is malformed. */
export function resolveStatic(root: string, urlPath: string): string | undefined {
  let p: string;
  try {
    p = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (p.includes('\0') || p.includes('\\')) return undefined;
  const full = normalize(join(root, p));
  return full === root || full.startsWith(root + sep) ? full : undefined;
}

export interface DashboardOptions {
  /** The built front end (default dist/web next to the package). */
  dir?: string;
}

export function registerDashboard(app: FastifyInstance, opts: DashboardOptions = {}): void {
  const root = resolve(opts.dir ?? DASHBOARD_DIR);
  const notBuilt = (reply: FastifyReply): FastifyReply =>
    reply
      .code(404)
      .type('application/json')
      .send(
        JSON.stringify({
          error: `the dashboard is not built (no ${join(root, 'index.html')})`,
          code: 'NOT_FOUND',
          hint: 'run `npm run build` (it runs `vite build web`)',
        }),
      );

  const index = async (reply: FastifyReply): Promise<FastifyReply> => {
    const html = await readFile(join(root, 'index.html')).catch(() => undefined);
    if (!html) return notBuilt(reply);
    return reply.code(200).header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff').type(TYPES['.html']!).send(html);
  };

  const hidden = { config: { hidden: true } };
  app.get('/', hidden, async (_req, reply) => index(reply));
  app.get('/dashboard/*', hidden, async (_req, reply) => index(reply));
  app.get('/assets/*', hidden, async (req, reply) => {
    const file = resolveStatic(root, (req.url.split('?')[0] ?? '').replace(/^\/+/, ''));
    const info = file ? await stat(file).catch(() => undefined) : undefined;
    if (!file || !info?.isFile()) {
      return reply
        .code(404)
        .type('application/json')
        .send(JSON.stringify({ error: `no dashboard asset ${req.url.split('?')[0]}`, code: 'NOT_FOUND' }));
    }
    const type = TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
    return reply
      .code(200)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('x-content-type-options', 'nosniff')
      .type(type)
      .send(await readFile(file));
  });
}
