/**
 * The dashboard in Firefox: Debian's firefox-esr driven by puppeteer-core over WebDriver BiDi (headless,
 * a fresh profile, nothing downloaded) against a real server on 127.0.0.1 with metrics and the bench
 * service. Every page is loaded from its tab; Models shows the served model; Traffic shows the rolling
 * p50/p95/p99 and batch sizes of real requests; Bench starts two real benchmarks from the form (each pair
 * in a worker process), shows the result table and the latency distribution, and compares the two saved
 * runs; no console errors on any page.
 * Screenshots go to test-artifacts/firefox-*.png; the Bench and Traffic ones are copied to
 * docs/images/dashboard-{bench,traffic-quantiles}.png (the README's) when absent or AIVMM_UPDATE_SCREENSHOTS=1.
 *
 * Skips (with the reason) only when /usr/bin/firefox-esr is absent and AIVMM_REQUIRE_BROWSER is unset.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { listDevices, nodeHost } from '../../src/core/devices/index.js';
import { resolveModel } from '../../src/core/hub/resolve-model.js';
import { createServeMetrics, type ServeMetrics } from '../../src/core/serve-metrics/index.js';
import { BenchService, benchModelResolver } from '../../src/server/routes/bench.js';
import { postJson, startTestServer, tmp, TINY, type TestServer } from '../server/helpers.js';

const FIREFOX = '/usr/bin/firefox-esr';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ARTIFACTS = join(ROOT, 'test-artifacts');
const IMAGES = join(ROOT, 'docs/images');
const skip =
  !existsSync(FIREFOX) && !process.env['AIVMM_REQUIRE_BROWSER'] ? `${FIREFOX} is absent (apt-get install firefox-esr; AIVMM_REQUIRE_BROWSER=1 makes this a failure)` : false;
const TABS = ['models', 'playground', 'devices', 'traffic', 'bench', 'chat', 'webcam'] as const;

let t: TestServer;
let bench: BenchService;
let metrics: ServeMetrics;
let browser: Browser;
let page: Page;
let profile: string;
let cleanup: () => Promise<void>;
const consoleErrors: string[] = [];

async function shot(name: string, readme?: string): Promise<void> {
  await mkdir(ARTIFACTS, { recursive: true });
  const file = join(ARTIFACTS, `firefox-${name}.png`);
  await page.screenshot({ path: file });
  if (!readme) return;
  await mkdir(IMAGES, { recursive: true });
  const target = join(IMAGES, `dashboard-${readme}.png`);
  if (process.env['AIVMM_UPDATE_SCREENSHOTS'] === '1' || !existsSync(target)) await copyFile(file, target);
}

async function tab(id: (typeof TABS)[number]): Promise<void> {
  await page.click(`#tab-${id}`);
  await page.waitForFunction(`location.hash === '#${id}' && document.querySelector('#tab-${id}')?.getAttribute('aria-selected') === 'true'`);
}

const text = (sel: string): Promise<string> => page.$eval(sel, (el) => (el as unknown as { innerText: string }).innerText);

before(async () => {
  if (skip) return;
  const built = spawnSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', 'web'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(built.status, 0, `vite build web failed:\n${built.stdout}\n${built.stderr}`);
  const d = await tmp('aivmm-firefox-');
  cleanup = d.cleanup;
  const tiny = join(d.dir, 'tiny.onnx');
  await writeFile(tiny, TINY);
  const cacheDir = join(d.dir, 'cache');
  metrics = createServeMetrics();
  bench = new BenchService({
    cacheDir,
    devices: () => listDevices({ host: nodeHost(process.env), cacheDir }),
    resolveModel: benchModelResolver({ served: (n) => (n === 'tiny' ? tiny : undefined), resolve: (n) => resolveModel(n, cacheDir, join(d.dir, 'no-cwd')) }),
    publish: (e) => t.server.events.publish(e),
    aivmmVersion: 'test',
  });
  t = await startTestServer({ models: [{ name: 'tiny', path: tiny }], server: { metrics, bench, statsIntervalMs: 500 } });
  profile = await mkdtemp(join(tmpdir(), 'aivmm-firefox-profile-'));
  browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    userDataDir: profile,
    defaultViewport: { width: 1280, height: 800 },
    // Firefox's fake camera for the Webcam page, no permission prompt, nothing fetched in the background.
    extraPrefsFirefox: {
      'media.navigator.streams.fake': true,
      'media.navigator.permission.disabled': true,
      'app.update.enabled': false,
      'browser.shell.checkDefaultBrowser': false,
      'datareporting.policy.dataSubmissionEnabled': false,
    },
  });
  page = await browser.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(`page error: ${String((e as Error).message ?? e)}`));
});

after(async () => {
  if (skip) return;
  await browser?.close();
  await bench?.close();
  await t?.close();
  await cleanup?.();
  if (profile) await rm(profile, { recursive: true, force: true });
});

test('Firefox: every page loads from its tab; Models shows the served model', { skip, timeout: 60_000 }, async () => {
  await page.goto(`${t.url}/`);
  await page.waitForFunction(`/live/.test(document.querySelector('[data-testid="connection"]')?.textContent ?? '')`, { timeout: 20_000 });
  await page.waitForSelector('tr[data-model="tiny"] [data-state="READY"]');
  assert.match(await text('tr[data-model="tiny"]'), /CPU · ort-cpu/);
  for (const id of TABS) {
    await tab(id);
    await page.waitForSelector(`main[aria-labelledby="tab-${id}"] h2`);
    await shot(id);
  }
});

test('Firefox: Traffic shows the last minute p50/p95/p99 and batch sizes of real requests', { skip, timeout: 60_000 }, async () => {
  await tab('traffic');
  const x = [...new Float32Array(3 * 32 * 32).fill(0.5)];
  for (let i = 0; i < 30; i++) {
    const r = await postJson(`${t.url}/v2/models/tiny/infer`, { inputs: [{ name: 'input', shape: [1, 3, 32, 32], datatype: 'FP32', data: x }] });
    assert.equal(r.status, 200);
  }
  await page.waitForFunction(`/30 requests · p50 [\\d.]+ · p95 [\\d.]+ · p99 [\\d.]+ ms/.test(document.querySelector('[data-model="tiny@1"] [data-testid="quantiles"]')?.textContent ?? '')`, { timeout: 20_000 });
  // what the page shows is the server's window
  const w = metrics.traffic().find((m) => m.model === 'tiny');
  assert.ok(w && w.requestMs.p99 !== null);
  const shown = await text('[data-model="tiny@1"] [data-testid="quantiles"]');
  const p99 = Number(/p99 ([\d.]+)/.exec(shown)?.[1]);
  assert.ok(Math.abs(p99 - w.requestMs.p99) <= Math.max(0.01, 0.02 * w.requestMs.p99), `${shown} vs ${JSON.stringify(w.requestMs)}`);
  assert.match(await text('[data-model="tiny@1"] figure.bars tr[data-key="1"]'), /30/);
  await page.waitForFunction(`document.querySelectorAll('[data-model="tiny@1"] .uplot').length >= 3`);
  await shot('traffic', 'traffic-quantiles');
});

test('Firefox: Bench runs from the form, shows results and the distribution, and compares two saved runs', { skip, timeout: 240_000 }, async () => {
  await tab('bench');
  await page.waitForFunction(`document.querySelector('[data-testid="bench-model"]')?.value === 'tiny'`, { timeout: 20_000 });
  const secs = 'label:has(> input[type="number"][step]) input';
  await page.click(secs, { count: 3 });
  await page.keyboard.type('0.3');
  const runOnce = async (n: number): Promise<void> => {
    await page.click('.bench-form button[type="submit"]');
    await page.waitForSelector('[data-testid="bench-run"][data-state="running"]', { timeout: 20_000 });
    await page.waitForSelector('[data-testid="bench-run"][data-state="done"]', { timeout: 120_000 });
    await page.waitForFunction(`document.querySelectorAll('[data-testid="bench-runs"] tbody tr').length >= ${n}`, { timeout: 20_000 });
  };
  await runOnce(1);
  const row = await text('[data-testid="bench-result"] tr[data-row="CPU ort-cpu"]');
  assert.match(row, /1\.00×/);
  await page.waitForFunction(`[...document.querySelectorAll('[data-testid="bench-run"] figcaption')].some((f) => /Latency distribution/.test(f.textContent))`);
  await runOnce(2);
  await shot('bench', 'bench');
  const ids = await page.$$eval('[data-testid="bench-runs"] tbody tr', (trs) => trs.map((tr) => tr.getAttribute('data-run')));
  await page.click(`input[aria-label="baseline ${ids[1]}"]`);
  await page.click(`input[aria-label="current ${ids[0]}"]`);
  // the Bench page's own button (the nav has a "Compare" tab too, which comes first in the document)
  await page.click('[data-testid="bench-compare-runs"]');
  await page.waitForSelector('[data-testid="bench-compare"] tr[data-verdict]');
  // one process per side: the gate cannot estimate between-process noise, and says so rather than guess
  const verdicts = await page.$$eval('[data-testid="bench-compare"] tr[data-verdict]', (trs) => trs.map((tr) => tr.getAttribute('data-verdict')));
  assert.ok(verdicts.includes('too-noisy'), verdicts.join(','));
  assert.match(await text('[data-testid="bench-compare"]'), /cannot be estimated from one process/);
  await shot('bench-compare');
});

test('Firefox: no console errors on any page', { skip }, () => {
  assert.deepEqual(consoleErrors, []);
});
