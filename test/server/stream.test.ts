/**
 * GET /v1/stream/{model} over a real WebSocket (the `ws` client that @fastify/websocket brings): the
 * YOLO-shaped fixture opened as a detection pipeline in a real lane; each frame's boxes equal the same
 * pipeline run in-process on the same bytes; a burst of frames runs at most one at a time, the waiting
 * ones replaced by newer ones and counted as dropped; a bad frame is an error message and the stream goes
 * on; the API key is required (subprotocol or query), an unknown model closes with 4404.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { CPU_TARGET } from '../../src/core/backends/registry.js';
import { openPipeline, type DetectionPipeline } from '../../src/core/tasks/pipeline.js';
import { planTask } from '../../src/core/tasks/plan.js';
import { LaneExecutor, PIPELINE_JOB_MODULE } from '../../src/server/lane-executor.js';
import { PipelineService } from '../../src/server/pipelines.js';
import { yoloShapedModel } from '../helpers/yolo-shaped.js';
import { startTestServer, tmp } from './helpers.js';

/** The part of ws's client these tests use (ws ships no types; @types/ws is not a dependency). */
interface Ws {
  protocol: string;
  on(ev: 'message', f: (data: Buffer, isBinary: boolean) => void): void;
  on(ev: 'open', f: () => void): void;
  on(ev: 'close', f: (code: number, reason: Buffer) => void): void;
  on(ev: 'error', f: (e: Error) => void): void;
  on(ev: 'unexpected-response', f: (req: unknown, res: { statusCode: number }) => void): void;
  send(d: Uint8Array | string): void;
  close(): void;
}
const { WebSocket } = (await import('ws' as string)) as { WebSocket: new (url: string, protocols?: string[]) => Ws };

const KEY = 'k3y/with+odd=chars';
const bearer = (k: string): string => `aivmm.bearer.${Buffer.from(k).toString('base64url')}`;

/** A socket with its messages queued: next() resolves with the next JSON message (or the close). */
function connect(url: string, protocols?: string[]): Promise<{ ws: Ws; next: () => Promise<any>; closed: Promise<number> }> {
  const ws = new WebSocket(url, protocols);
  const queue: unknown[] = [];
  const waiters: ((v: unknown) => void)[] = [];
  const push = (v: unknown): void => {
    const w = waiters.shift();
    if (w) w(v);
    else queue.push(v);
  };
  const closed = new Promise<number>((r) => ws.on('close', (code) => (push({ type: 'closed', code }), r(code))));
  ws.on('message', (d) => push(JSON.parse(d.toString('utf8'))));
  return new Promise((resolve, reject) => {
    ws.on('open', () => resolve({ ws, next: () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r))), closed }));
    ws.on('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
    ws.on('error', reject);
  });
}

test('/v1/stream/{model}: frames in, boxes out as in-process; one in flight, older frames dropped; key and errors', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = await tmp('aivmm-stream-');
  const lane = new LaneExecutor({ name: 'CPU ort-cpu', target: CPU_TARGET, jobModules: [PIPELINE_JOB_MODULE] });
  try {
    const model = join(dir, 'det.onnx');
    await writeFile(model, yoloShapedModel());
    const plan = await planTask({ model, modelName: 'det', task: 'object-detection' });
    const pipelines = new PipelineService(async () => ({ executor: lane, placement: { device: 'CPU', backend: 'ort-cpu', reason: 'test' } }));
    pipelines.add({ name: 'det', plan, device: 'CPU', maxQueue: 4 });
    const raw = Buffer.alloc(160 * 120 * 3);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 31) % 253;
    const frame = await sharp(raw, { raw: { width: 160, height: 120, channels: 3 } }).jpeg().toBuffer();
    const local = (await openPipeline(plan, CPU_TARGET)) as DetectionPipeline;
    const want = await local.run(new Uint8Array(frame), { confidence: 0.5, iou: 0.45, name: 'frame' });
    await local.dispose();
    assert.equal(want.detections.length, 2, 'the fixture gives two boxes after NMS');

    const t = await startTestServer({ executor: lane, pipelines, server: { apiKey: KEY } });
    const base = t.url.replace(/^http/, 'ws');
    try {
      const s = await connect(`${base}/v1/stream/det`, ['aivmm', bearer(KEY)]);
      assert.equal(s.ws.protocol, 'aivmm', 'the server selects aivmm, never the token');
      assert.deepEqual(await s.next(), { type: 'ready', model: 'det', task: 'object-detection', device: 'CPU', backend: 'ort-cpu' });
      s.ws.send(JSON.stringify({ confidence: 0.5 }));
      s.ws.send(frame);
      const r1 = await s.next();
      assert.equal(r1.type, 'result');
      assert.equal(r1.frame, 1);
      assert.equal(r1.task, 'object-detection');
      assert.deepEqual({ width: r1.width, height: r1.height, detections: r1.detections }, want);
      assert.equal(r1.device, 'CPU');
      assert.equal(r1.backend, 'ort-cpu');
      assert.ok(r1.ms > 0);
      assert.equal(r1.dropped, 0);

      // A burst: at most one frame runs; each waiting one is replaced by the next, so the last frame
      // always runs and results + dropped = frames sent.
      for (let i = 0; i < 12; i++) s.ws.send(frame);
      const results: any[] = [];
      while (results.at(-1)?.frame !== 13) results.push(await s.next());
      assert.ok(results.every((r) => r.type === 'result' && r.detections.length === 2));
      const last = results.at(-1)!;
      assert.ok(last.dropped >= 1, `a burst of 12 drops some (dropped ${last.dropped})`);
      assert.equal(results.length + last.dropped, 12);
      assert.deepEqual(
        results.map((r) => r.frame),
        [...results.map((r) => r.frame)].sort((a, b) => a - b),
      );

      // A frame that is no image: an error for that frame, and the next frame still runs.
      s.ws.send(Buffer.from('not an image'));
      const bad = await s.next();
      assert.equal(bad.type, 'error');
      assert.equal(bad.frame, 14);
      assert.equal(bad.code, 'USAGE');
      assert.equal(typeof bad.error, 'string');
      s.ws.send('{"confidence": 7}');
      const badOpt = await s.next();
      assert.equal(badOpt.type, 'error');
      assert.match(badOpt.error, /confidence must be a number in \[0, 1\]/);
      s.ws.send(frame);
      assert.equal((await s.next()).frame, 15);
      s.ws.close();
      await s.closed;

      // The key: the query parameter works too; none or a wrong one is refused before the upgrade.
      const q = await connect(`${base}/v1/stream/det?api_key=${encodeURIComponent(KEY)}`);
      assert.equal((await q.next()).type, 'ready');
      q.ws.close();
      await q.closed;
      await assert.rejects(connect(`${base}/v1/stream/det`), (e: { status?: number }) => e.status === 401);
      await assert.rejects(connect(`${base}/v1/stream/det`, ['aivmm', bearer('wrong')]), (e: { status?: number }) => e.status === 401);

      // A frame over the server's body limit (8 MiB here) closes the socket with 1009 (message too big).
      const big = await connect(`${base}/v1/stream/det`, ['aivmm', bearer(KEY)]);
      assert.equal((await big.next()).type, 'ready');
      big.ws.send(Buffer.alloc(9 * 1024 * 1024));
      assert.equal(await big.closed, 1009);

      // An unknown model: the error, then close 4404.
      const u = await connect(`${base}/v1/stream/nope`, ['aivmm', bearer(KEY)]);
      const err = await u.next();
      assert.equal(err.type, 'error');
      assert.equal(err.code, 'NOT_FOUND');
      assert.equal(await u.closed, 4404);
    } finally {
      await t.close();
    }
  } finally {
    await lane.close();
    await cleanup();
  }
});
