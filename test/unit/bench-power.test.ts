/**
 * Power readings: RAPL counters from a sysfs-shaped tree (real files; the counter wraps), and the
 * nvidia-smi sampler against a stand-in executable on PATH that prints what nvidia-smi prints
 * (the real one runs on the GPU machine: scripts/gpu-levers.sh).
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { test } from 'node:test';
import { raplDomains, startPower } from '../../src/core/bench/power.js';
import { powerSourceFor } from '../../src/core/bench/index.js';
import type { Device } from '../../src/core/devices/types.js';

function raplTree(domains: { name: string; uj: number; max: number }[]): string {
  const root = mkdtempSync(join(os.tmpdir(), 'aivmm-rapl-'));
  domains.forEach((d, i) => {
    const dir = join(root, `intel-rapl:${i}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'name'), `${d.name}\n`);
    writeFileSync(join(dir, 'energy_uj'), `${d.uj}\n`);
    writeFileSync(join(dir, 'max_energy_range_uj'), `${d.max}\n`);
  });
  mkdirSync(join(root, 'intel-rapl:0:0')); // a sub-domain (core): not a package, skipped
  return root;
}

test('RAPL: joules from package counters across sockets, a wrapped counter included', async () => {
  const root = raplTree([
    { name: 'package-0', uj: 999_000_000, max: 1_000_000_000 },
    { name: 'package-1', uj: 5_000_000, max: 1_000_000_000 },
    { name: 'psys', uj: 0, max: 1_000_000_000 },
  ]);
  assert.equal(raplDomains(root).length, 2);
  let t = 0;
  const meter = startPower({ kind: 'rapl', root }, () => t);
  writeFileSync(join(root, 'intel-rapl:0', 'energy_uj'), '4000000\n'); // wrapped: +5 J
  writeFileSync(join(root, 'intel-rapl:1', 'energy_uj'), '15000000\n'); // +10 J
  t = 2000;
  const r = await meter.stop();
  assert.deepEqual(r, { source: 'rapl', scope: 'CPU package (2 sockets)', watts: 7.5, joules: 15, samples: 2 });
  assert.equal(await startPower({ kind: 'rapl', root: join(root, 'missing') }).stop(), undefined);
});

test('nvidia-smi: samples averaged over the measured phase; the GPU is named by its bus id', async () => {
  const bin = mkdtempSync(join(os.tmpdir(), 'aivmm-smi-'));
  const args = join(bin, 'args');
  const printed = join(bin, 'printed'); // written by the stand-in after its last sample
  writeFileSync(join(bin, 'nvidia-smi'), `#!/bin/sh\necho "$@" > ${args}\nfor w in 300.5 310.5 "[N/A]" 320.5 330.5 340.5; do echo "$w"; sleep 0.05; done\n: > ${printed}\nsleep 5\n`);
  chmodSync(join(bin, 'nvidia-smi'), 0o755);
  const path = process.env['PATH'];
  process.env['PATH'] = `${bin}:${path ?? ''}`;
  try {
    const meter = startPower({ kind: 'nvidia-smi', gpu: '00000000:65:00.0' });
    // At least 0.6 s measured, and every sample printed: on a loaded machine the stand-in's six lines can take
    // longer than that (a fixed 0.6 s wait once raced them); stop() then reads what is left in the pipe.
    const t0 = performance.now();
    while (!existsSync(printed) || performance.now() - t0 < 600) {
      assert.ok(performance.now() - t0 < 60_000, 'the stand-in nvidia-smi never printed its samples');
      await new Promise((r) => setTimeout(r, 20));
    }
    const r = await meter.stop();
    assert.equal(r?.source, 'nvidia-smi');
    assert.equal(r?.samples, 5);
    assert.equal(r?.watts, 320.5);
    assert.ok((r?.joules ?? 0) > 320.5 * 0.5);
    const { readFileSync } = await import('node:fs');
    assert.match(readFileSync(args, 'utf8'), /--query-gpu=power\.draw --format=csv,noheader,nounits -i 00000000:65:00\.0 -lms 100/);
  } finally {
    process.env['PATH'] = path;
  }
});

test('which devices get a power source', () => {
  const base = { name: 'x', vendor: 'x', backends: [] };
  assert.deepEqual(powerSourceFor({ ...base, id: 'CPU', kind: 'cpu' } as Device), { kind: 'rapl' });
  assert.deepEqual(powerSourceFor({ ...base, id: 'GPU.0', kind: 'gpu', vendorId: '0x10de', pciAddress: '0000:65:00.0' } as Device), { kind: 'nvidia-smi', gpu: '00000000:65:00.0' });
  assert.equal(powerSourceFor({ ...base, id: 'GPU.1', kind: 'gpu', vendorId: '0x1002', pciAddress: '0000:03:00.0' } as Device), undefined);
  assert.equal(powerSourceFor({ ...base, id: 'GPU.2', kind: 'gpu', vendorId: '0x10de', software: true } as Device), undefined);
});
