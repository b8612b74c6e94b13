/**
 * The dashboard's live and task pages in a real browser (Debian's chromium through playwright-core, its
 * fake camera and microphone) against a real server on 127.0.0.1 whose pipelines run in a real lane: the
 * YOLO-shaped fixture as a detection pipeline (Webcam, over the /v1/stream WebSocket), the tiny CLIP pair
 * (CLIP) and the tiny Whisper pair (Speech); tiny-convnet twice as KServe models (Compare). Each page's
 * answer is checked against the same model run another way (in-process pipeline, or the HTTP route).
 * Screenshots go to test-artifacts/ and, when absent or AIVMM_UPDATE_SCREENSHOTS=1, to docs/images/.
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
import { CPU_TARGET } from '../../src/core/backends/registry.js';
import { listDevices, nodeHost } from '../../src/core/devices/index.js';
import { resolveModel } from '../../src/core/hub/resolve-model.js';
import { SAMPLE_RATE } from '../../src/core/tasks/audio.js';
import { openPipeline, type ZeroShotPipeline } from '../../src/core/tasks/pipeline.js';
import { planTask, type TaskPlan } from '../../src/core/tasks/plan.js';
import { LaneExecutor, PIPELINE_JOB_MODULE } from '../../src/server/lane-executor.js';
import { PipelineService } from '../../src/server/pipelines.js';
import { BenchService, benchModelResolver } from '../../src/server/routes/bench.js';
import { writeTinyClip } from '../helpers/tiny-clip.js';
import { WHISPER_TOKENIZER, tinyWhisperDecoder, tinyWhisperEncoder } from '../helpers/tiny-whisper.js';
import { wav } from '../helpers/wav.js';
import { yoloShapedModel } from '../helpers/yolo-shaped.js';
import { startTestServer, tmp, TINY, type TestServer } from '../server/helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ARTIFACTS = join(ROOT, 'test-artifacts');
const IMAGES = join(ROOT, 'docs/images');
const skip =
  !existsSync(CHROMIUM) && !process.env['AIVMM_REQUIRE_BROWSER']
    ? `${CHROMIUM} is absent (apt-get install chromium; AIVMM_REQUIRE_BROWSER=1 makes this a failure)`
    : false;

let t: TestServer;
let lane: LaneExecutor;
let bench: BenchService;
let ctx: BrowserContext;
let page: Page;
let profile: string;
let cleanup: () => Promise<void>;
let clipPlan: TaskPlan;
let tone: Uint8Array;
const consoleErrors: string[] = [];

async function shot(name: string): Promise<void> {
  await mkdir(ARTIFACTS, { recursive: true });
  await mkdir(IMAGES, { recursive: true });
  const file = join(ARTIFACTS, `dashboard-${name}.png`);
  await page.screenshot({ path: file });
  const readme = join(IMAGES, `dashboard-${name}.png`);
  if (process.env['AIVMM_UPDATE_SCREENSHOTS'] === '1' || !existsSync(readme)) await copyFile(file, readme);
}

/** To a tab with the keyboard: focus the current tab, then ArrowRight until `name` is selected. */
async function tab(name: string): Promise<void> {
  await page.locator('[role="tab"][aria-selected="true"]').focus();
  for (let i = 0; i < 12 && (await page.getByRole('tab', { name, exact: true }).getAttribute('aria-selected')) !== 'true'; i++) await page.keyboard.press('ArrowRight');
  await page.waitForFunction(`location.hash === '#${name.toLowerCase()}'`);
}

before(async () => {
  if (skip) return;
  const built = spawnSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', 'web'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(built.status, 0, `vite build web failed:\n${built.stdout}\n${built.stderr}`);
  const d = await tmp('aivmm-playgrounds-');
  cleanup = d.cleanup;
  await writeFile(join(d.dir, 'tiny.onnx'), TINY);
  await writeFile(join(d.dir, 'det.onnx'), yoloShapedModel());
  await mkdir(join(d.dir, 'clip'));
  writeTinyClip(join(d.dir, 'clip'));
  await mkdir(join(d.dir, 'whisper', 'onnx'), { recursive: true });
  const wfiles = [join(d.dir, 'whisper', 'onnx', 'encoder_model.onnx'), join(d.dir, 'whisper', 'onnx', 'decoder_model_merged.onnx')];
  await writeFile(wfiles[0]!, tinyWhisperEncoder());
  await writeFile(wfiles[1]!, tinyWhisperDecoder());
  await writeFile(join(d.dir, 'whisper', 'tokenizer.json'), JSON.stringify(WHISPER_TOKENIZER));
  tone = wav([Float32Array.from({ length: SAMPLE_RATE }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / SAMPLE_RATE))], SAMPLE_RATE);

  lane = new LaneExecutor({ name: 'CPU ort-cpu', target: CPU_TARGET, jobModules: [PIPELINE_JOB_MODULE] });
  const pipelines = new PipelineService(async () => ({ executor: lane, placement: { device: 'CPU', backend: 'ort-cpu', reason: 'test' } }));
  pipelines.add({ name: 'det', plan: await planTask({ model: join(d.dir, 'det.onnx'), modelName: 'det', task: 'object-detection' }), device: 'CPU', maxQueue: 4 });
  const cfiles = [join(d.dir, 'clip', 'vision_model.onnx'), join(d.dir, 'clip', 'text_model.onnx')];
  clipPlan = await planTask({ model: cfiles[0]!, files: cfiles, modelName: 'clip', task: 'zero-shot-image-classification' });
  pipelines.add({ name: 'clip', plan: clipPlan, device: 'CPU', maxQueue: 4 });
  pipelines.add({ name: 'whisper', plan: await planTask({ model: wfiles[0]!, files: wfiles, modelName: 'whisper', task: 'automatic-speech-recognition' }), device: 'CPU', maxQueue: 4 });
  // `aivmm serve` always has the bench service, and tab() walks past the Bench page (which lists the
  // saved runs from GET /v1/bench on open), so this server has it too, as the product does.
  const cacheDir = join(d.dir, 'cache');
  bench = new BenchService({
    cacheDir,
    devices: () => listDevices({ host: nodeHost(process.env), cacheDir }),
    resolveModel: benchModelResolver({ served: () => undefined, resolve: (n) => resolveModel(n, cacheDir, join(d.dir, 'no-cwd')) }),
    publish: (e) => t.server.events.publish(e),
    aivmmVersion: 'test',
  });
  t = await startTestServer({
    pipelines,
    models: [
      { name: 'tiny', path: join(d.dir, 'tiny.onnx') },
      { name: 'tiny-copy', path: join(d.dir, 'tiny.onnx') },
    ],
    server: { bench },
  });
  profile = await mkdtemp(join(tmpdir(), 'aivmm-chromium-'));
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required'],
  });
  page = ctx.pages()[0] ?? (await ctx.newPage());
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(`page error: ${e.message}`));
  await page.goto(`${t.url}/`);
  await page.getByTestId('connection').filter({ hasText: 'live' }).waitFor();
});

after(async () => {
  if (skip) return;
  await ctx?.close();
  await bench?.close();
  await t?.close();
  await lane?.close();
  await cleanup?.();
  if (profile) await rm(profile, { recursive: true, force: true });
});

test('Webcam: fake-camera frames over the WebSocket come back as boxes drawn over the video, with fps and drops', { skip, timeout: 60_000 }, async () => {
  await tab('Webcam');
  await page.locator('select[aria-label="webcam model"]').selectOption('det');
  await page.getByRole('button', { name: 'Start camera' }).click();
  await page.waitForFunction(`Number(document.querySelector('[data-testid="webcam-frames"]')?.textContent ?? 0) >= 5`, undefined, { timeout: 40_000 });
  assert.equal(await page.getByTestId('webcam-ran-on').innerText(), 'CPU · ort-cpu');
  assert.match(await page.getByTestId('webcam-fps').innerText(), /^\d+\.\d fps$/);
  assert.notEqual(await page.getByTestId('webcam-fps').innerText(), '0.0 fps');
  // The fixture's two boxes after NMS (class 0 at 0.9, class 1 at 0.7), in the camera frame's pixels.
  assert.deepEqual(await page.getByTestId('webcam-detections').locator('li').allInnerTexts(), ['class 0 · 90.0%', 'class 1 · 70.0%']);
  assert.match(await page.getByTestId('webcam-dropped').innerText(), /^\d+$/);
  // Boxes are drawn: the overlay canvas has orange pixels.
  type Cv = { getContext(k: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null; width: number; height: number };
  const orange = await page.locator('.cam canvas').evaluate((c) => {
    const cv = c as unknown as Cv;
    const px = cv.getContext('2d')!.getImageData(0, 0, cv.width, cv.height).data;
    let n = 0;
    for (let i = 0; i < px.length; i += 4) if (px[i]! > 200 && px[i + 1]! > 120 && px[i + 1]! < 200 && px[i + 2]! < 80 && px[i + 3]! > 0) n++;
    return n;
  });
  assert.ok(orange > 100, `box outlines on the overlay (${orange} orange pixels)`);
  await shot('webcam');
  await page.getByRole('button', { name: 'Stop' }).click();
  await page.getByRole('button', { name: 'Start camera' }).waitFor();
});

test('CLIP: image + labels → scores equal to the pipeline run in-process on the bytes the page sent', { skip, timeout: 60_000 }, async () => {
  await tab('CLIP');
  await page.locator('select[aria-label="clip model"]').selectOption('clip');
  await page.getByLabel('labels').fill('hello, world, you');
  await page.getByLabel('hypothesis').fill('{}');
  await page.getByRole('button', { name: 'Sample: shapes' }).click();
  const sent = page.waitForRequest((r) => r.url().includes('/v1/tasks/clip'));
  await page.getByRole('button', { name: 'Score labels' }).click();
  const req = await sent;
  assert.match(req.url(), /candidates=hello%2Cworld%2Cyou/);
  const png = req.postDataBuffer()!;
  const result = page.getByTestId('clip-result');
  await result.locator('[data-testid="ran-on"], [role="alert"]').first().waitFor({ timeout: 40_000 });
  assert.equal(await result.getByRole('alert').count(), 0, await result.innerText());
  assert.equal(await result.getByTestId('ran-on').innerText(), 'CPU · ort-cpu');
  assert.match(await result.getByTestId('timing').innerText(), /round trip \d+\.\d ms/);
  const local = (await openPipeline(clipPlan, CPU_TARGET)) as ZeroShotPipeline;
  const want = await local.run(new Uint8Array(png), { candidates: ['hello', 'world', 'you'], hypothesis: '{}', name: 'page' });
  await local.dispose();
  type El = { getAttribute(n: string): string | null; querySelector(s: string): { textContent: string | null } | null };
  const rows = await result.locator('ol.bars li').evaluateAll((els) => (els as unknown as El[]).map((e) => ({ label: e.getAttribute('data-label'), pct: e.querySelector('.score')?.textContent })));
  assert.deepEqual(
    rows,
    want.scores.map((s) => ({ label: s.label, pct: `${(s.probability * 100).toFixed(1)}%` })),
  );
  await shot('clip');
  // Fewer than two labels: the server's 400 is shown.
  await page.getByLabel('labels').fill('hello');
  await page.getByRole('button', { name: 'Score labels' }).click();
  await result.getByRole('alert').waitFor();
  assert.match(await result.getByRole('alert').innerText(), /two/);
  consoleErrors.splice(0, consoleErrors.length, ...consoleErrors.filter((m) => !/Failed to load resource: the server responded with a status of 400/.test(m)));
});

test('Speech: an uploaded WAV and a fake-microphone recording are transcribed; the upload as the route answers it', { skip, timeout: 90_000 }, async () => {
  await tab('Speech');
  await page.locator('select[aria-label="speech model"]').selectOption('whisper');
  await page.getByLabel('max tokens').fill('6'); // the fixture's decoder has 64 positions
  await page.getByTestId('wav-file').setInputFiles({ name: 'tone.wav', mimeType: 'audio/wav', buffer: Buffer.from(tone) });
  await page.getByRole('button', { name: 'Transcribe' }).click();
  const result = page.getByTestId('speech-result');
  await result.getByTestId('ran-on').waitFor({ timeout: 60_000 });
  assert.equal(await result.getByTestId('ran-on').innerText(), 'CPU · ort-cpu');
  const form = new FormData();
  form.set('file', new Blob([tone]), 'a.wav');
  form.set('model', 'whisper');
  form.set('max_tokens', '6');
  const direct = (await (await fetch(`${t.url}/v1/audio/transcriptions`, { method: 'POST', body: form })).json()) as { text: string };
  assert.equal(await result.getByTestId('transcript').innerText(), direct.text.trim());
  assert.match(await result.getByTestId('timing').innerText(), /1\.00 s of audio · language \w+ · round trip \d+\.\d ms/);
  await shot('speech');

  // The fake microphone: record ~1 s, the page writes a WAV, the server transcribes it.
  await page.getByRole('button', { name: 'Record' }).click();
  await page.getByRole('button', { name: 'Stop recording' }).waitFor();
  await page.waitForTimeout(1200);
  await page.getByRole('button', { name: 'Stop recording' }).click();
  await page.getByTestId('audio-source').filter({ hasText: /recording \(\d\.\d s\)/ }).waitFor({ timeout: 10_000 });
  // (The server refuses anything but a WAV file: an answer with a duration is the recording's.)
  await page.getByRole('button', { name: 'Transcribe' }).click();
  await page.getByTestId('timing').filter({ hasText: /s of audio/ }).waitFor({ timeout: 60_000 });
  assert.match(await result.getByTestId('timing').innerText(), /^(0\.[5-9]\d|[1-9]\.\d\d) s of audio/);
});

test('Compare: the same tensor on two models side by side; with no model on another device, column B says why', { skip, timeout: 60_000 }, async () => {
  await tab('Compare');
  // Both served models are on CPU · ort-cpu: no model elsewhere, so B proposes none and lists each other device.
  const b = page.getByTestId('compare-b');
  await b.getByText('No second device').waitFor();
  await page.getByTestId('compare-reasons').locator('li').first().waitFor();
  const reasons = await page.getByTestId('compare-reasons').locator('li').allInnerTexts();
  assert.ok(reasons.length >= 1, 'at least one other device or a "no GPU" line');
  assert.ok(reasons.every((r) => /: (unavailable: .+|no served model is on it .+|no GPU on this machine)$/.test(r)), reasons.join('\n'));
  await page.getByRole('button', { name: 'Run on both' }).click();
  const a = page.getByTestId('compare-a');
  await a.getByTestId('ran-on').waitFor();
  assert.equal(await a.getByTestId('ran-on').innerText(), 'CPU · ort-cpu');
  await shot('compare');
  // The copy in column B: the same input, the same numbers.
  await page.locator('select[aria-label="model B"]').selectOption('tiny-copy');
  await page.getByRole('button', { name: 'Run on both' }).click();
  await b.getByTestId('ran-on').waitFor();
  assert.match(await b.getByTestId('timing').innerText(), /compute \d+\.\d\d ms · round trip/);
  assert.equal(await page.getByTestId('compare-diff').innerText(), 'top-1 agrees · max |A − B| = 0.00e+0');
  assert.deepEqual(await a.locator('ol.bars li').allInnerTexts(), await b.locator('ol.bars li').allInnerTexts());
});

test('no console errors on these pages', { skip }, () => {
  assert.deepEqual(consoleErrors, []);
});
