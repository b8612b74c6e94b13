/**
 * GET /v1/pipelines/{name}: a task-pipeline model's task and device, opening the pipeline in its lane if
 * it is not open yet (a model whose task is only known from its files says it once opened). `aivmm run
 * --server` asks this to pick the endpoint for its inputs.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { checkModelName } from '../../core/serve/repository.js';
import type { PipelineService } from '../pipelines.js';

export function registerPipelineInfoRoute(app: FastifyInstance, pipelines: PipelineService): void {
  app.get(
    '/v1/pipelines/:name',
    { schema: { summary: 'A task-pipeline model: its task (the pipeline is opened if need be) and device', tags: ['aivmm'], params: { type: 'object', properties: { name: { type: 'string', maxLength: 128 } }, required: ['name'] } } },
    async (req: FastifyRequest<{ Params: { name: string } }>, reply) => {
      const name = checkModelName(req.params.name);
      const task = await pipelines.task(name);
      const where = pipelines.where(name);
      return reply.type('application/json').send(JSON.stringify({ name, task, ...(where ?? {}) }));
    },
  );
}
