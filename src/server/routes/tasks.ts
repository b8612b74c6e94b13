/**
 * Task endpoints: an image in (raw bytes with an image/* or application/octet-stream Content-Type, or a
 * multipart/form-data upload), the task's answer out — classification top-k with labels, detection boxes,
 * CLIP zero-shot scores — with the pre- and post-processing of `aivmm run` done in the lane. A detection
 * model's answer can be the image itself with the boxes drawn on it (`annotate=true` or Accept: image/png).
 */
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BadRequestError } from '../../core/serve/errors.js';
import { checkModelName } from '../../core/serve/repository.js';
import { binaryOf } from '../app.js';
import type { PipelineService } from '../pipelines.js';
import { failureReason, type ServeMetrics } from '../../core/serve-metrics/index.js';
import { recordInference } from '../tracing.js';

interface TaskQuery {
  top_k?: string;
  confidence?: string;
  iou?: string;
  candidates?: string;
  hypothesis?: string;
  annotate?: string;
}

/**
 * An annotated PNG instead of JSON: `annotate=true` (or 1), or an Accept header that names image/png
 * without preferring JSON to it; `annotate=false` keeps JSON whatever Accept says.
 */
export function wantsPng(annotate: string | undefined, accept: string | undefined): boolean {
  if (annotate !== undefined) {
    if (annotate === 'true' || annotate === '1') return true;
    if (annotate === 'false' || annotate === '0') return false;
    throw new BadRequestError(`annotate must be true or false, not '${annotate.slice(0, 20)}'`);
  }
  const types = (accept ?? '').split(',').map((t) => {
    const [type = '', ...params] = t.split(';').map((x) => x.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    return { type, q: q ? Number(q.slice(2)) : 1 };
  });
  const png = types.find((t) => t.type === 'image/png' || t.type === 'image/*');
  if (!png || !(png.q > 0)) return false;
  const json = types.find((t) => t.type === 'application/json');
  return !json || png.q > json.q || (png.q === json.q && types.indexOf(png) < types.indexOf(json));
}

function num(v: string | undefined, what: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new BadRequestError(`${what} must be a number in [${min}, ${max}]`);
  return n;
}

/** Pipeline models have no versions: their series carry version "1", as a single-file v2 model's do. */
const TASK_VERSION = '1';

export async function registerTaskRoutes(app: FastifyInstance, pipelines: PipelineService, maxBodyBytes: number, metrics?: ServeMetrics): Promise<void> {
  /** Metrics like the v2 route's (input: reading the upload; infer: the lane job; output: encoding) and the trace's children. */
  const recordTask = (req: FastifyRequest, elapsedMs: number, t: { name: string; inputS: number; tRun: number; tOut: number; queueMs: number; computeMs: number; device: string }): void => {
    recordInference(req, { model: t.name, version: TASK_VERSION, startMs: t.tRun, endMs: t.tOut, queueMs: t.queueMs, computeMs: t.computeMs, device: t.device });
    if (!metrics) return;
    const labels = { model: t.name, version: TASK_VERSION };
    const inferS = t.computeMs / 1000;
    metrics.recordRequest({ ...labels, outcome: 'success', queueS: t.queueMs / 1000, inputS: t.inputS, inferS, outputS: (performance.now() - t.tOut) / 1000, totalS: elapsedMs / 1000 });
    metrics.recordBatch({ ...labels, size: 1, inferS, device: t.device });
  };
  await app.register(multipart, { limits: { fileSize: maxBodyBytes, files: 1, fields: 8, parts: 10, fieldSize: 64 * 1024 } });
  app.post(
    '/v1/tasks/:name',
    {
      schema: {
        summary: 'Run an image model\'s task on one image: classification top-k, detection boxes (JSON, or drawn on the image as a PNG), or CLIP zero-shot scores',
        tags: ['Tasks'],
        params: { type: 'object', properties: { name: { type: 'string', maxLength: 128 } }, required: ['name'] },
        querystring: { type: 'object', properties: { top_k: { type: 'string' }, confidence: { type: 'string' }, iou: { type: 'string' }, candidates: { type: 'string' }, hypothesis: { type: 'string' }, annotate: { type: 'string', description: 'true: answer with the image as a PNG, the detection boxes drawn on it (detection models); also Accept: image/png' } } },
        'x-content-types': ['image/jpeg', 'image/png', 'application/octet-stream', 'multipart/form-data'],
      },
      // failures are counted here (an unknown model is not: no series for names nobody serves, as on v2)
      onError: async (req: FastifyRequest<{ Params: { name: string } }>, reply, err) => {
        if (metrics && pipelines.has(req.params.name)) metrics.recordRequest({ model: req.params.name, version: TASK_VERSION, outcome: 'failure', reason: failureReason(err), totalS: reply.elapsedTime / 1000 });
      },
    },
    async (req: FastifyRequest<{ Params: { name: string }; Querystring: TaskQuery }>, reply) => {
      const name = checkModelName(req.params.name);
      const q = { ...req.query };
      let image: Uint8Array | undefined;
      if (req.isMultipart()) {
        const file = await req.file();
        if (!file) throw new BadRequestError('the multipart body has no file', 'send the image as a file part, e.g. curl -F image=@cat.jpg');
        image = new Uint8Array(await file.toBuffer());
        for (const [k, f] of Object.entries(file.fields)) {
          const v = (f as { value?: unknown } | undefined)?.value;
          if (typeof v === 'string' && ['top_k', 'confidence', 'iou', 'candidates', 'hypothesis', 'annotate'].includes(k)) (q as Record<string, string>)[k] ??= v;
        }
      } else {
        image = binaryOf(req);
      }
      if (!image?.length) throw new BadRequestError('no image in the request', 'send the image bytes as the body (Content-Type: image/jpeg, image/png or application/octet-stream) or as a multipart file');
      const topK = num(q.top_k, 'top_k', 1, 1000);
      const confidence = num(q.confidence, 'confidence', 0, 1);
      const iou = num(q.iou, 'iou', 0, 1);
      const annotate = wantsPng(q.annotate, req.headers.accept);
      const candidates = q.candidates?.split(',').map((s) => s.trim()).filter(Boolean);
      const ac = new AbortController();
      reply.raw.on('close', () => {
        if (!reply.raw.writableFinished) ac.abort();
      });
      const inputS = reply.elapsedTime / 1000;
      let timing: { queueMs: number; computeMs: number; device: string } | undefined;
      const tRun = performance.now();
      const result = await pipelines.runTask(
        name,
        image,
        { ...(topK !== undefined ? { topK } : {}), ...(confidence !== undefined ? { confidence } : {}), ...(iou !== undefined ? { iou } : {}), ...(candidates?.length ? { candidates } : {}), ...(q.hypothesis ? { hypothesis: q.hypothesis } : {}), ...(annotate ? { annotate } : {}) },
        ac.signal,
        (t) => (timing = t),
      );
      const png = (result as { png?: Uint8Array }).png;
      if (annotate && png) {
        if (timing) recordTask(req, reply.elapsedTime, { name, inputS, tRun, tOut: performance.now(), ...timing });
        // The boxes stay readable without parsing the image: how many, in a header (the JSON has them all).
        const count = (result as { detections?: unknown[] }).detections?.length ?? 0;
        return reply.type('image/png').header('x-aivmm-detections', String(count)).send(Buffer.from(png.buffer, png.byteOffset, png.byteLength));
      }
      const tOut = performance.now();
      const body = JSON.stringify({ model: name, ...(result as object) });
      if (timing) recordTask(req, reply.elapsedTime, { name, inputS, tRun, tOut, ...timing });
      return reply.type('application/json').send(body);
    },
  );
}
