/**
 * GET /v1/stream/{model} (WebSocket): live frames for an image-task pipeline (detection boxes or
 * classification top-k), e.g. a webcam. The client sends each frame as one binary message (the bytes of a
 * JPEG/PNG/WebP image); the server answers each frame it runs with one JSON text message:
 *   {"type":"result","frame":7,"task":"object-detection","width":640,"height":480,"detections":[…],
 *    "device":"CPU","backend":"ort-cpu","ms":12.3,"dropped":2}
 * `ms` is the frame's time in the server (queue, lane and pre/post-processing included). Back-pressure: at
 * most one frame is in flight per socket; a frame that arrives while one runs waits, and a newer one
 * replaces it (the older is dropped, counted in `dropped`), so a slow device runs the latest frame, never
 * a backlog. A text message {"confidence":0.3,"iou":0.5,"top_k":5} sets the options for the next frames.
 * The first message is {"type":"ready","model","task","device","backend"}; a frame that fails (not an
 * image) is answered {"type":"error","frame","error","code"} and the stream goes on. An unknown model
 * closes with 4404, a model that is not an image task with 4400 (after an error message saying why).
 *
 * API key: a browser cannot set headers on a WebSocket, so besides `Authorization: Bearer`, the key is
 * taken from the subprotocol `aivmm.bearer.<base64url(key)>` (offered next to `aivmm`, which the server
 * selects; the key stays out of URLs and logs) or, for clients that can do neither, `?api_key=<key>`.
 */
import websocket from '@fastify/websocket';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BadRequestError } from '../../core/serve/errors.js';
import { checkModelName } from '../../core/serve/repository.js';
import { errorReply } from '../http-errors.js';
import type { PipelineService } from '../pipelines.js';

export const STREAM_PROTOCOL = 'aivmm';
const TOKEN_PREFIX = 'aivmm.bearer.';
const IMAGE_TASKS = new Set(['object-detection', 'image-classification']);

/** The API key a WebSocket upgrade carries in its subprotocols or `api_key` query parameter, if any. */
export function streamToken(req: FastifyRequest): string | undefined {
  const offered = String(req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((s) => s.trim());
  const p = offered.find((s) => s.startsWith(TOKEN_PREFIX));
  if (p) return Buffer.from(p.slice(TOKEN_PREFIX.length), 'base64url').toString('utf8');
  const q = new URL(req.url, 'http://x').searchParams.get('api_key');
  return q ?? undefined;
}

interface StreamOptions {
  confidence?: number;
  iou?: number;
  topK?: number;
}

function parseOptions(text: string): StreamOptions {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    throw new BadRequestError('a text message must be JSON options, e.g. {"confidence":0.3}', 'send frames as binary messages');
  }
  if (!j || typeof j !== 'object' || Array.isArray(j)) throw new BadRequestError('the options must be a JSON object');
  const o = j as Record<string, unknown>;
  const out: StreamOptions = {};
  const num = (k: string, min: number, max: number): number | undefined => {
    if (o[k] === undefined) return undefined;
    const v = o[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new BadRequestError(`${k} must be a number in [${min}, ${max}]`);
    return v;
  };
  const c = num('confidence', 0, 1);
  const i = num('iou', 0, 1);
  const k = num('top_k', 1, 1000);
  if (c !== undefined) out.confidence = c;
  if (i !== undefined) out.iou = i;
  if (k !== undefined) out.topK = Math.round(k);
  return out;
}

function errorMessage(err: unknown, frame?: number): string {
  const { body } = errorReply(err);
  return JSON.stringify({ type: 'error', ...(frame !== undefined ? { frame } : {}), ...body });
}

/**
 * @fastify/websocket, registered before the auth hook: its own onRequest/onResponse hooks must see every
 * upgrade (it destroys the socket of an upgrade that got an HTTP answer, e.g. a 401), or a refused
 * upgrade's socket would stay open and hold the server's close.
 */
export async function registerWebsocket(app: FastifyInstance, maxFrameBytes: number): Promise<void> {
  await app.register(websocket, {
    options: {
      maxPayload: maxFrameBytes,
      // Select `aivmm` when offered (a browser fails the connection unless one of its offers is selected);
      // never echo the token.
      handleProtocols: (protocols: Set<string>) => (protocols.has(STREAM_PROTOCOL) ? STREAM_PROTOCOL : false),
    },
  });
}

/** Needs registerWebsocket first. */
export function registerStreamRoutes(app: FastifyInstance, pipelines: PipelineService): void {
  app.get(
    '/v1/stream/:name',
    {
      websocket: true,
      schema: {
        summary: 'Live frames (WebSocket): binary image messages in, one JSON result per frame run out (at most one in flight; older waiting frames dropped)',
        tags: ['Tasks'],
        params: { type: 'object', properties: { name: { type: 'string', maxLength: 128 } }, required: ['name'] },
      },
    },
    (socket, req: FastifyRequest<{ Params: { name: string } }>) => {
      // Listeners are attached at once: frames sent before the pipeline is open wait as `pending`.
      const ac = new AbortController();
      let options: StreamOptions = {};
      let received = 0;
      let dropped = 0;
      let pending: { frame: number; bytes: Uint8Array } | undefined;
      let busy = false;
      let ready: { task: string; device: string; backend: string } | undefined;
      const send = (s: string): void => {
        if (socket.readyState === socket.OPEN) socket.send(s);
      };
      const pump = async (): Promise<void> => {
        if (!ready) return;
        while (pending && !busy && !ac.signal.aborted) {
          const { frame, bytes } = pending;
          pending = undefined;
          busy = true;
          const t0 = performance.now();
          try {
            const r = await pipelines.runTask(name, bytes, { ...options }, ac.signal);
            send(JSON.stringify({ type: 'result', frame, ...(r as object), device: ready.device, backend: ready.backend, ms: Math.round((performance.now() - t0) * 1000) / 1000, dropped }));
          } catch (err) {
            if (!ac.signal.aborted) send(errorMessage(err, frame));
          } finally {
            busy = false;
          }
        }
      };
      let name: string;
      try {
        name = checkModelName(req.params.name);
      } catch (err) {
        send(errorMessage(err));
        socket.close(4400, 'bad model name');
        return;
      }
      socket.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
        const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
        if (!isBinary) {
          try {
            options = { ...options, ...parseOptions(buf.toString('utf8')) };
          } catch (err) {
            send(errorMessage(err));
          }
          return;
        }
        received++;
        if (pending) dropped++;
        pending = { frame: received, bytes: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) };
        void pump();
      });
      socket.on('close', () => ac.abort());
      void (async () => {
        try {
          if (!pipelines.has(name)) {
            send(errorMessage(await pipelines.task(name).then(() => undefined, (e: unknown) => e)));
            socket.close(4404, 'unknown model');
            return;
          }
          const task = await pipelines.task(name);
          if (!IMAGE_TASKS.has(task)) {
            send(errorMessage(new BadRequestError(`model '${name}' is a ${task} model; /v1/stream takes image models (object-detection, image-classification)`)));
            socket.close(4400, 'not an image model');
            return;
          }
          const where = pipelines.where(name);
          ready = { task, device: where?.device ?? 'unknown', backend: where?.backend ?? 'unknown' };
          send(JSON.stringify({ type: 'ready', model: name, ...ready }));
          await pump();
        } catch (err) {
          send(errorMessage(err));
          socket.close(1011, 'the model could not be opened');
        }
      })();
    },
  );
}
