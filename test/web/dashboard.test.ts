/**
 * The dashboard in a real browser: Debian's chromium driven by playwright-core against a real server on
 * 127.0.0.1 (tiny-convnet in-process, the tiny Llama fixture as a text-generation pipeline in a worker
 * lane, and a broken model whose load fails). Every page is loaded; a model is unloaded and loaded again
 * from its buttons; an image is uploaded and its top-5 compared with the same tensor run through
 * onnxruntime here; a chat is streamed and compared with the non-streamed answer; no console errors. (Webcam, CLIP, Speech and Compare: playgrounds.test.ts.)
 * Screenshots go to test-artifacts/; one per page is copied to docs/images/dashboard-*.png (the README's)
 * when that file is absent or AIVMM_UPDATE_SCREENSHOTS=1, so a test run does not dirty the tree.
 *
 * Skips (with the reason) only when /usr/bin/chromium is absent and AIVMM_REQUIRE_BROWSER is unset.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import sharp from 'sharp';
import { CPU_TARGET } from '../../src/core/backends/registry.js';
import { planTask } from '../../src/core/tasks/plan.js';
import { LaneExecutor, PIPELINE_JOB_MODULE } from '../../src/server/lane-executor.js';
import { PipelineService } from '../../src/server/pipelines.js';
import { yoloShapedModel } from '../helpers/yolo-shaped.js';
import { postJson, referenceRun, startTestServer, tmp, TINY, type TestServer } from '../server/helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LLAMA = join(ROOT, 'test/fixtures/tiny-llama/model.onnx');
const ARTIFACTS = join(ROOT, 'test-artifacts');
const IMAGES = join(ROOT, 'docs/images');
const skip =
  !existsSync(CHROMIUM) && !process.env['AIVMM_REQUIRE_BROWSER']
    ? `${CHROMIUM} is absent (apt-get install chromium; AIVMM_REQUIRE_BROWSER=1 makes this a failure)`
    : false;

let t: TestServer;
let lane: LaneExecutor;
let ctx: BrowserContext;
let page: Page;
let profile: string;
let cleanup: () => Promise<void>;
const consoleErrors: string[] = [];

async function shot(name: string): Promise<void> {
  await mkdir(ARTIFACTS, { recursive: true });
  await mkdir(IMAGES, { recursive: true });
  const file = join(ARTIFACTS, `dashboard-${name}.png`);
  await page.screenshot({ path: file });
  const readme = join(IMAGES, `dashboard-${name}.png`);
  if (process.env['AIVMM_UPDATE_SCREENSHOTS'] === '1' || !existsSync(readme)) await copyFile(file, readme);
}

async function tab(name: string): Promise<void> {
  await page.getByRole('tab', { name }).click();
  await page.waitForFunction(`location.hash === '#${name.toLowerCase()}'`);
}

before(async () => {
  if (skip) return;
  // The front end under test is the one in web/ now, not a stale dist/web.
  const built = spawnSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', 'web'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(built.status, 0, `vite build web failed:\n${built.stdout}\n${built.stderr}`);
  const d = await tmp('aivmm-dashboard-');
  cleanup = d.cleanup;
  await writeFile(join(d.dir, 'tiny.onnx'), TINY);
  await writeFile(join(d.dir, 'broken.onnx'), 'this is not an onnx model');
  await writeFile(join(d.dir, 'det.onnx'), yoloShapedModel());
  lane = new LaneExecutor({ name: 'CPU ort-cpu', target: CPU_TARGET, jobModules: [PIPELINE_JOB_MODULE] });
  const pipelines = new PipelineService(async () => ({ executor: lane, placement: { device: 'CPU', backend: 'ort-cpu', reason: 'test' } }));
  pipelines.add({ name: 'tiny-llama', plan: await planTask({ model: LLAMA, modelName: 'tiny-llama' }), device: 'CPU', maxQueue: 8 });
  t = await startTestServer({
    pipelines,
    models: [
      { name: 'tiny', path: join(d.dir, 'tiny.onnx') },
      { name: 'broken', path: join(d.dir, 'broken.onnx') },
      { name: 'det', path: join(d.dir, 'det.onnx') },
    ],
    server: { statsIntervalMs: 500 },
  });
  profile = await mkdtemp(join(tmpdir(), 'aivmm-chromium-'));
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
    ],
  });
  page = ctx.pages()[0] ?? (await ctx.newPage());
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(`page error: ${e.message}`));
});

after(async () => {
  if (skip) return;
  await ctx?.close();
  await t?.close();
  await lane?.close();
  await cleanup?.();
  if (profile) await rm(profile, { recursive: true, force: true });
});

test('the dashboard is served at / and its assets with cache headers', { skip }, async () => {
  const r = await fetch(`${t.url}/`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /text\/html/);
  const html = await r.text();
  const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  assert.ok(asset, html);
  const a = await fetch(`${t.url}${asset}`);
  assert.equal(a.status, 200);
  assert.match(a.headers.get('cache-control') ?? '', /immutable/);
  assert.match(a.headers.get('content-type') ?? '', /javascript/);
});

test('Models: live registry with placement and the failed load; unload and load from the buttons', { skip, timeout: 30_000 }, async () => {
  await page.goto(`${t.url}/`);
  await page.getByTestId('connection').filter({ hasText: 'live' }).waitFor();
  const tiny = page.locator('tr[data-model="tiny"]');
  await tiny.locator('[data-state="READY"]').waitFor();
  assert.match(await tiny.innerText(), /CPU · ort-cpu/);
  const broken = page.locator('tr[data-model="broken"]');
  await broken.locator('[data-state="UNAVAILABLE"]').waitFor();
  assert.match(await broken.innerText(), /load failed/);
  await page.getByText('tiny-llama').first().waitFor();
  await shot('models');

  await tiny.getByRole('button', { name: 'Unload', exact: true }).click();
  await tiny.locator('[data-state="UNAVAILABLE"]').waitFor();
  assert.equal(t.registry.isReady('tiny'), false);
  await tiny.getByRole('button', { name: 'Load', exact: true }).click();
  await tiny.locator('[data-state="READY"]').waitFor();
  assert.equal(t.registry.isReady('tiny'), true);

  // Loading the broken model again: the server's error is shown under its row. The browser logs the
  // failed request itself ("Failed to load resource"); that one line is expected, nothing else.
  const mark = consoleErrors.length;
  await broken.getByRole('button', { name: 'Load', exact: true }).click();
  const alert = broken.getByRole('alert');
  await alert.waitFor();
  assert.match(await alert.innerText(), /could not create a session|Protobuf|load/i);
  const added = consoleErrors.splice(mark);
  assert.ok(added.length <= 1 && added.every((m) => /Failed to load resource: the server responded with a status of [45]\d\d/.test(m)), added.join('\n'));

  // Keyboard: the tabs move with the arrow keys.
  await page.getByRole('tab', { name: 'Models' }).focus();
  await page.keyboard.press('ArrowRight');
  await page.waitForFunction(`location.hash === '#playground'`);
  await page.keyboard.press('ArrowLeft');
  await page.waitForFunction(`location.hash === '#models'`);
});

test('Playground: an uploaded image is classified; the top-5 match onnxruntime on the same tensor', { skip, timeout: 30_000 }, async () => {
  await tab('Playground');
  await page.locator('select[aria-label="model"]').selectOption('tiny');
  await page.getByText('input input: 1×3×32×32').waitFor();
  const png = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 40, b: 90 } } })
    .composite([
      {
        input: await sharp({ create: { width: 20, height: 20, channels: 3, background: { r: 20, g: 220, b: 60 } } })
          .png()
          .toBuffer(),
        left: 10,
        top: 10,
      },
    ])
    .png()
    .toBuffer();
  const sent = page.waitForRequest((r) => r.url().endsWith('/v2/models/tiny/infer'));
  await page.getByTestId('image-file').setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: png });
  const body = (await sent).postDataBuffer()!;
  const result = page.getByTestId('classify-result');
  await result.getByTestId('ran-on').waitFor();
  assert.equal(await result.getByTestId('ran-on').innerText(), 'CPU · ort-cpu');
  assert.match(await result.getByTestId('timing').innerText(), /compute \d+\.\d\d ms/);

  // The tensor the page sent, run here: the page's top-5 (order and percentages) must be the same.
  const n = Number((await (await sent).allHeaders())['inference-header-content-length']);
  const header = JSON.parse(body.subarray(0, n).toString('utf8')) as { inputs: { shape: number[] }[] };
  assert.deepEqual(header.inputs[0]!.shape, [1, 3, 32, 32]);
  const data = new Float32Array(body.buffer.slice(body.byteOffset + n, body.byteOffset + body.length));
  assert.equal(data.length, 3 * 32 * 32);
  const ref = (await referenceRun(TINY, { input: { type: 'float32', dims: [1, 3, 32, 32], data } }))['probabilities']!;
  const want = [...ref]
    .map((s, i) => ({ i, s }))
    .sort((a, b) => b.s - a.s)
    .slice(0, 5);
  // (The browser's DOM types are not in this project's lib: the callback's elements are typed loosely.)
  type El = { getAttribute(n: string): string | null; querySelector(s: string): { textContent: string | null } | null };
  const rows = await result
    .locator('ol.bars li')
    .evaluateAll((els) => (els as unknown as El[]).map((e) => ({ cls: Number(e.getAttribute('data-class')), pct: e.querySelector('.score')?.textContent })));
  assert.deepEqual(
    rows.map((r) => r.cls),
    want.map((w) => w.i),
  );
  assert.deepEqual(
    rows.map((r) => r.pct),
    want.map((w) => `${(w.s * 100).toFixed(1)}%`),
  );
  await shot('playground-classify');
});

test('Playground: a YOLO-layout output is drawn as boxes after NMS; the confidence slider filters them', { skip, timeout: 30_000 }, async () => {
  await page.locator('select[aria-label="model"]').selectOption('det');
  await page.getByText('input images: 1×3×64×64 FP32, RGB scaled to 0–1').waitFor();
  const sent = page.waitForRequest((r) => r.url().endsWith('/v2/models/det/infer'));
  await page.getByRole('button', { name: 'Sample: shapes' }).click();
  const body = (await sent).postDataBuffer()!;
  const n = Number((await (await sent).allHeaders())['inference-header-content-length']);
  const px = new Float32Array(body.buffer.slice(body.byteOffset + n, body.byteOffset + body.length));
  assert.equal(px.length, 3 * 64 * 64);
  assert.ok(px.every((v) => v >= 0 && v <= 1) && px.some((v) => v > 0.5), 'YOLO input is 0–1 pixels, not ImageNet-normalised');
  const list = page.getByTestId('detections');
  await list.locator('li').first().waitFor();
  assert.deepEqual(await list.locator('li').allInnerTexts(), ['class 0 · 90.0% · [12, 12, 28, 28]', 'class 1 · 70.0% · [35, 38, 55, 50]']);
  await shot('playground');
  await page.getByLabel('confidence').fill('0.75');
  assert.deepEqual(await list.locator('li').allInnerTexts(), ['class 0 · 90.0% · [12, 12, 28, 28]']);
  await page.getByLabel('IoU').fill('0.9'); // the two class-0 boxes overlap with IoU ≈ 0.88: both kept at 0.9
  await page.getByLabel('confidence').fill('0.5');
  assert.equal(await list.locator('li').count(), 3);
});

test('Devices: a card per device with its backends and the models placed on it', { skip, timeout: 30_000 }, async () => {
  await tab('Devices');
  const cpu = page.locator('[data-device="CPU"]');
  await cpu.waitFor();
  const text = await cpu.innerText();
  assert.match(text, /ort-cpu/);
  assert.match(text, /tiny v1 · ort-cpu × 1/);
  await page.waitForTimeout(1500); // a few samples on the charts
  await shot('devices');
});

test('Traffic: requests/s and queue vs compute time from the stats events', { skip, timeout: 30_000 }, async () => {
  await tab('Traffic');
  const x = new Float32Array(3 * 32 * 32).fill(0.5);
  const load = (async () => {
    for (let i = 0; i < 40; i++) {
      const r = await postJson(`${t.url}/v2/models/tiny/infer`, { inputs: [{ name: 'input', shape: [1, 3, 32, 32], datatype: 'FP32', data: [...x] }] });
      assert.equal(r.status, 200);
      await new Promise((res) => setTimeout(res, 50));
    }
  })();
  const card = page.locator('[data-model="tiny@1"]');
  await card.waitFor();
  await page.waitForFunction(`/[1-9]\\d*\\.\\d req\\/s/.test(document.querySelector('[data-model="tiny@1"] h3')?.textContent ?? '')`, undefined, {
    timeout: 15_000,
  });
  await load;
  await shot('traffic');
});

test('Chat: a streamed reply equal to the non-streamed completion, with tokens/s', { skip, timeout: 40_000 }, async () => {
  await tab('Chat');
  await page.getByLabel('message').fill('hello world');
  await page.getByRole('button', { name: 'Send' }).click();
  const stats = page.getByTestId('chat-stats');
  await stats.waitFor({ timeout: 30_000 });
  assert.match(await stats.innerText(), /\d+ tokens · [\d.]+ tokens\/s/);
  const want = await postJson(`${t.url}/v1/chat/completions`, { model: 'tiny-llama', messages: [{ role: 'user', content: 'hello world' }], max_tokens: 64 });
  assert.equal(want.status, 200);
  const reply = await page.locator('.msg.assistant div').innerText();
  assert.equal(reply, String(want.json.choices[0].message.content).trim());
  await shot('chat');
});

test('no console errors on any page', { skip }, () => {
  assert.deepEqual(consoleErrors, []);
});

test(
  'server down: the page says so and keeps retrying (after the console check: the browser logs the refused connections)',
  { skip, timeout: 30_000 },
  async () => {
    await tab('Models');
    // The listening socket closes at once; the close itself may wait (drain) while the page reconnects.
    const closing = t.server.close(1000);
    await page.getByText('The server does not answer the event stream').waitFor({ timeout: 15_000 });
    await closing;
    assert.match(await page.getByTestId('connection').innerText(), /○/);
  },
);
