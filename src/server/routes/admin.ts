/**
 * Model management (Triton's model repository extension), placement (which device and backend runs each
 * model, and why) and the server event stream.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { checkModelName } from '../../core/serve/repository.js';
import { BadRequestError } from '../../core/serve/errors.js';
import type { ServerOptions, ServerState } from '../app.js';

const json = (reply: FastifyReply, status: number, body: unknown): FastifyReply => reply.code(status).type('application/json').send(JSON.stringify(body));
const modelParams = { type: 'object', properties: { name: { type: 'string', maxLength: 128 } }, required: ['name'] };

export function registerAdminRoutes(app: FastifyInstance, opts: ServerOptions, _state: ServerState): void {
  const reg = opts.registry;
  const repoTags = ['Model repository'];

  const index = async (req: FastifyRequest<{ Body?: { ready?: boolean } }>, reply: FastifyReply): Promise<FastifyReply> => {
    const ready = req.body?.ready;
    if (ready !== undefined && typeof ready !== 'boolean') throw new BadRequestError('"ready" must be true or false');
    await reg.scan().catch(() => undefined); // models added to the repository show up without waiting for a poll
    // Task-pipeline models (server/pipelines.ts) are listed beside the tensor models, by name.
    const tensors = new Set(reg.names()); // an image model served both ways is listed once, by the registry
    const pipelines = (opts.pipelines?.index(ready ? { ready } : {}) ?? []).filter((e) => !tensors.has(e.name));
    return json(reply, 200, [...reg.index(ready ? { ready } : {}), ...pipelines].sort((a, b) => a.name.localeCompare(b.name)));
  };
  const indexDoc = { summary: 'Every known model and version with its state (READY, LOADING, UNLOADING, UNAVAILABLE) and reason', tags: repoTags };
  app.get('/v2/repository/index', { schema: indexDoc }, index);
  app.post('/v2/repository/index', { schema: { ...indexDoc, body: { type: 'object', properties: { ready: { type: 'boolean' } } } } }, index);

  app.post(
    '/v2/repository/models/:name/load',
    { schema: { summary: 'Load (or reload) a model; answers when it is READY or has failed', tags: repoTags, params: modelParams } },
    async (req: FastifyRequest<{ Params: { name: string } }>, reply) => {
      const name = checkModelName(req.params.name);
      if (!reg.names().includes(name)) await reg.scan();
      await reg.load(name, { byUser: true });
      return json(reply, 200, {});
    },
  );
  app.post(
    '/v2/repository/models/:name/unload',
    { schema: { summary: 'Unload a model once its in-flight requests finish; polling does not reload it until it is loaded again', tags: repoTags, params: modelParams } },
    async (req: FastifyRequest<{ Params: { name: string } }>, reply) => {
      await reg.unload(checkModelName(req.params.name), 'unloaded through the API', { byUser: true });
      return json(reply, 200, {});
    },
  );

  const placement = (names: readonly string[]): unknown => ({
    models: names.flatMap((name) =>
      reg.served(name).map((v) => {
        const routing = v.routing();
        return { name, version: String(v.version), instances: v.instances.size, placement: v.placement, ...(routing ? { routing } : {}) };
      }),
    ),
    unavailable: opts.unavailableDevices?.() ?? [],
  });
  app.get('/v1/placement', { schema: { summary: 'Which device and backend each served model runs on, and why', tags: ['aivmm'] } }, async (_req, reply) => json(reply, 200, placement(reg.names())));
  app.get('/v1/placement/:name', { schema: { summary: 'Placement of one model', tags: ['aivmm'], params: modelParams } }, async (req: FastifyRequest<{ Params: { name: string } }>, reply) => {
    const name = checkModelName(req.params.name);
    reg.settings(name); // 404 for an unknown model
    return json(reply, 200, placement([name]));
  });

  app.get('/v1/ps', { schema: { summary: 'What runs: models with state, placement and queue counters; worker lanes with pid and memory (aivmm ps)', tags: ['aivmm'] } }, async (_req, reply) => {
    const stats = new Map(reg.stats().map((s) => [`${s.name}@${s.version}`, s]));
    const models = reg.index().map((e) => {
      const v = e.version && e.state === 'READY' ? reg.served(e.name).find((x) => String(x.version) === e.version) : undefined;
      const st = stats.get(`${e.name}@${e.version}`);
      return { ...e, ...(v ? { devices: v.placement.map((p) => `${p.device} ${p.backend}`), instances: v.instances.size } : {}), ...(st ? { queue: { pending: st.inference_stats.pending, running: st.inference_stats.running, success: st.inference_stats.success, failure: st.inference_stats.failure, rejected: st.inference_stats.rejected } } : {}) };
    });
    const mem = process.memoryUsage();
    return json(reply, 200, { models, pipelines: opts.pipelines?.list() ?? [], lanes: (await opts.lanes?.()) ?? [], server: { pid: process.pid, rssBytes: mem.rss, uptimeS: Math.round(process.uptime()), version: opts.serverVersion } });
  });

  app.get(
    '/v1/events',
    { schema: { summary: 'Server-Sent Events: model (load/unload/state), placement, and stats every few seconds', tags: ['aivmm'], 'x-responses': { 200: { description: 'text/event-stream' } } } },
    async (_req, reply) => {
      reply.hijack();
      opts.events.attach(reply.raw, { type: 'hello', models: reg.index(), at: Date.now() });
    },
  );
}
