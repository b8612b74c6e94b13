/**
 * A real Prometheus (Debian's `prometheus` package) scrapes the serve metrics registry over loopback,
 * with the Bearer key the server will require, and its HTTP API answers the recorded values; every
 * query of the Grafana dashboard is run through the same API (so its PromQL parses and, where traffic
 * was recorded, returns data); and `promtool check metrics` finds nothing to lint in the exposition.
 * Prometheus is found on PATH or at AIVMM_PROMETHEUS (promtool beside it); without it these tests skip,
 * unless AIVMM_REQUIRE_PROMETHEUS=1 (CI) makes that a failure.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createServeMetrics, type ServeMetrics } from '../../src/core/serve-metrics/index.js';
import { prometheus, promtool, skipUnless as skip, startPrometheus, until, type RunningPrometheus } from '../helpers/prometheus.js';

const KEY = 'test-key-0123456789';

function traffic(m: ServeMetrics): void {
  for (let i = 0; i < 7; i++) m.recordRequest({ model: 'tiny', version: '1', outcome: 'success', queueS: 0.001, inputS: 0.0002, inferS: 0.003, outputS: 0.0001, batch: 2 });
  m.recordRequest({ model: 'tiny', version: '1', outcome: 'failure', reason: 'timeout', queueS: 0.5 });
  for (let i = 0; i < 7; i++) m.recordBatch({ model: 'tiny', version: '1', size: 2, device: 'CPU', inferS: 0.003 });
  m.setPending('tiny', '1', 4);
  m.recordLoad('tiny', '1', 'load');
  m.recordGeneration({ model: 'llm', ttftS: 0.12, tpotS: 0.03, tokens: 9 });
}

test('promtool check metrics: the exposition follows Prometheus naming conventions', { skip: skip(promtool, 'promtool') }, async () => {
  const m = createServeMetrics({ summaries: true });
  traffic(m);
  m.setDevice({ device: 'CPU', kind: 'cpu', vendor: 'Intel', name: 'CPU', at: 0, sources: {}, utilization: 0.5, frequencyRatio: 1, memoryUsedBytes: 1, memoryTotalBytes: 2, powerW: 10, powerLimitW: 20, temperatureC: 40, energyJ: 0 });
  const r = spawnSync(promtool!, ['check', 'metrics'], { input: await m.exposition(), encoding: 'utf8' });
  assert.equal(`${r.stdout}${r.stderr}`.trim(), '');
  assert.equal(r.status, 0);
  // and it does flag a bad name, so the empty answer means something
  const bad = spawnSync(promtool!, ['check', 'metrics'], { input: '# HELP x_summary_total a\n# TYPE x_summary_total counter\nx_summary_total 1\n', encoding: 'utf8' });
  assert.notEqual(bad.status, 0);
});

test('a real Prometheus scrapes the registry with the API key; its API returns the counters and runs every dashboard query', { skip: skip(prometheus, 'prometheus'), timeout: 180_000 }, async () => {
  const m = createServeMetrics();
  traffic(m);
  let scrapes = 0;
  let unauthorised = 0;
  const target: Server = createServer((req, res) => {
    if (req.url !== '/metrics') return void res.writeHead(404).end();
    if (req.headers.authorization !== `Bearer ${KEY}`) {
      unauthorised++;
      return void res.writeHead(401).end();
    }
    scrapes++;
    void m.exposition().then((text) => res.writeHead(200, { 'content-type': m.contentType }).end(text));
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  const targetPort = (target.address() as AddressInfo).port;
  let prom: RunningPrometheus | undefined;
  try {
    prom = await startPrometheus({ target: `127.0.0.1:${targetPort}`, key: KEY });
    const query = (q: string) => prom!.query(q);
    const success = await until('the request counter in Prometheus', async () => {
      const r = await query('aivmm_inference_request_success_total');
      return r.data?.result.length ? r.data.result : undefined;
    });
    assert.deepEqual(success.map((s) => [s.metric.model, s.metric.version, s.metric.job, s.value[1]]), [['tiny', '1', 'aivmm', '7']]);
    const failure = (await query('aivmm_inference_request_failure_total')).data!.result;
    assert.deepEqual(failure.map((s) => [s.metric.reason, s.value[1]]), [['timeout', '1']]);
    assert.equal((await query('up{job="aivmm"}')).data!.result[0]!.value[1], '1');
    assert.equal(unauthorised, 0, 'Prometheus sent the key on every scrape');

    // more traffic, a device sample, and a few scrapes so rate() has two points
    m.setDevice({ device: 'CPU', kind: 'cpu', vendor: 'Intel', name: 'CPU', at: 0, sources: {}, utilization: 0.4, memoryUsedBytes: 1e9, memoryTotalBytes: 4e9, powerW: 50, energyJ: 0 });
    traffic(m);
    m.setDevice({ device: 'CPU', kind: 'cpu', vendor: 'Intel', name: 'CPU', at: 1000, sources: {}, utilization: 0.4, memoryUsedBytes: 1e9, memoryTotalBytes: 4e9, powerW: 50, energyJ: 50 });
    const seen = scrapes;
    await until('three more scrapes', async () => (scrapes >= seen + 3 ? true : undefined));
    await until('the new counter value', async () => ((await query('aivmm_inference_request_success_total')).data?.result[0]?.value[1] === '14' ? true : undefined));

    const dashboard = JSON.parse(readFileSync(new URL('../../deploy/grafana/aivmm-dashboard.json', import.meta.url), 'utf8')) as { panels: { title: string; targets?: { expr: string }[] }[] };
    const subst = (e: string): string => e.replace(/\$model|\$device/g, '.*').replace(/\$__rate_interval/g, '1m').replace(/\$__range/g, '5m');
    const errors: string[] = [];
    const empty: string[] = [];
    for (const p of dashboard.panels) {
      let rows = 0;
      for (const t of p.targets ?? []) {
        const r = await query(subst(t.expr));
        if (r.status !== 'success') errors.push(`${p.title}: ${r.error} in ${t.expr}`);
        else rows += r.data!.result.length;
      }
      if (p.targets && rows === 0) empty.push(p.title);
    }
    assert.deepEqual(errors, [], 'every dashboard query parses and runs');
    // panels fed by this traffic have data (generation, summaries, temperature etc. need what was not recorded)
    for (const title of ['Requests per second', 'Failures per second by reason', 'Server latency p50 / p99', 'Mean time per stage', 'Pending requests', 'Batching: inferences per execution', 'Model load / unload events', 'Utilisation', 'Memory used / total']) {
      assert.ok(!empty.includes(title), `${title}: no data`);
    }
    const rate = Number((await query('rate(aivmm_inference_request_success_total[1m])')).data!.result[0]!.value[1]);
    assert.ok(rate > 0, `rate ${rate}`);
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message : String(e)}\nprometheus log:\n${prom?.log().slice(-2000) ?? ''}`);
  } finally {
    await prom?.stop();
    await new Promise((r) => target.close(r));
  }
});
