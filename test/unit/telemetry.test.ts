/** Device telemetry on fake hosts (real discovery + the real sampler over a fake /proc and /sys tree), and on this machine. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { discoverDevices } from '../../src/core/devices/discover.js';
import { nodeHost } from '../../src/core/devices/host.js';
import { counterDelta, createTelemetrySampler, parseProcStat, startTelemetry, type DeviceSample, type TelemetrySnapshot } from '../../src/core/devices/telemetry.js';
import { fakeHost, merge, pciDevice, type FakeTree } from '../helpers/fake-host.js';

const AMD = '/sys/bus/pci/devices/0000:03:00.0';
const INTEL = '/sys/bus/pci/devices/0000:00:02.0';
const XE = '/sys/bus/pci/devices/0000:04:00.0';
const NPU = '/sys/bus/pci/devices/0000:00:0b.0';
const RAPL = '/sys/class/powercap/intel-rapl:0';
const GiB = 1024 ** 3;

/** /proc/stat with `busy` and `idle` jiffies (user, nice, system, idle, iowait, irq, softirq, steal). */
const stat = (user: number, idle: number, iowait = 0): string => `cpu  ${user} 0 0 ${idle} ${iowait} 0 0 0 0 0\ncpu0 ${user} 0 0 ${idle} ${iowait} 0 0 0 0 0\n`;

function machine(): FakeTree {
  return merge(
    pciDevice('0000:00:02.0', { vendor: '0x8086', device: '0x7d55', class: '0x030000', driver: 'i915' }),
    pciDevice('0000:03:00.0', { vendor: '0x1002', device: '0x744c', class: '0x030000', driver: 'amdgpu', vram: 24 * GiB }),
    pciDevice('0000:04:00.0', { vendor: '0x8086', device: '0xe20b', class: '0x030000', driver: 'xe' }),
    pciDevice('0000:17:00.0', { vendor: '0x10de', device: '0x2330', class: '0x030200', driver: 'nvidia' }),
    pciDevice('0000:00:0b.0', { vendor: '0x8086', device: '0x7d1d', class: '0x120000', driver: 'intel_vpu' }),
    {
      links: { '/sys/class/accel/accel0/device': '../../../bus/pci/devices/0000:00:0b.0' },
      files: {
        '/dev/accel/accel0': '',
        '/proc/cpuinfo': 'processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Fake CPU\nphysical id\t: 0\ncore id\t: 0\nflags\t: avx2\n',
        '/proc/stat': stat(100, 900),
        '/proc/meminfo': 'MemTotal:       16384000 kB\nMemFree:         1000000 kB\nMemAvailable:    4096000 kB\n',
        [`${RAPL}/name`]: 'package-0\n',
        [`${RAPL}/energy_uj`]: '900000\n',
        [`${RAPL}/max_energy_range_uj`]: '1000000\n',
        '/sys/class/hwmon/hwmon0/name': 'coretemp\n',
        '/sys/class/hwmon/hwmon0/temp1_input': '47000\n',
        '/sys/class/hwmon/hwmon9/name': 'nvme\n',
        '/sys/class/hwmon/hwmon9/temp1_input': '30000\n',
        // amdgpu
        [`${AMD}/gpu_busy_percent`]: '37\n',
        [`${AMD}/mem_info_vram_used`]: `${2 * GiB}\n`,
        [`${AMD}/hwmon/hwmon1/power1_average`]: '150000000\n',
        [`${AMD}/hwmon/hwmon1/power1_cap`]: '300000000\n',
        [`${AMD}/hwmon/hwmon1/temp1_input`]: '61000\n',
        // i915 iGPU: frequencies, no hwmon (integrated parts have none)
        [`${INTEL}/drm/card0/gt_act_freq_mhz`]: '900\n',
        [`${INTEL}/drm/card0/gt_max_freq_mhz`]: '1800\n',
        // xe dGPU: energy counter, power limit, frequencies under tile0/gt0/freq0
        [`${XE}/hwmon/hwmon3/energy1_input`]: '5000000\n',
        [`${XE}/hwmon/hwmon3/power1_max`]: '190000000\n',
        [`${XE}/drm/card1/dev`]: '226:1\n',
        [`${XE}/tile0/gt0/freq0/act_freq`]: '2400\n',
        [`${XE}/tile0/gt0/freq0/max_freq`]: '2400\n',
        // NPU
        [`${NPU}/npu_busy_time_us`]: '1000000\n',
        '/smi.csv': '0, 00000000:17:00.0, NVIDIA H100 80GB HBM3, 81559, 1234, 550.54.15, 7, 34, 71.52, 700.00, 9.0\n',
      },
      bin: { 'nvidia-smi': 'case "$1" in --query-gpu=*) cat "$(dirname "$0")/../smi.csv";; *) exit 9;; esac' },
    },
  );
}

const by = (s: TelemetrySnapshot, id: string): DeviceSample => {
  const d = s.devices.find((x) => x.device === id);
  assert.ok(d, `no ${id} in ${s.devices.map((x) => x.device).join(', ')}`);
  return d;
};

test('every vendor from discovery: CPU (/proc, RAPL with wrap, coretemp), NVIDIA, AMD, Intel i915/xe, Intel NPU', async () => {
  const f = fakeHost(machine());
  const put = (p: string, v: string): void => writeFileSync(join(f.root, p), v);
  try {
    const report = await discoverDevices(f.host);
    const ids = Object.fromEntries(report.devices.map((d) => [d.pciAddress ?? d.kind, d.id]));
    let t = 1_000_000;
    const sampler = createTelemetrySampler({ host: f.host, devices: report.devices, now: () => t });
    const first = await sampler.sample();
    assert.equal(first.at, 1_000_000);

    const cpu1 = by(first, 'CPU');
    assert.equal(cpu1.utilization, undefined, 'CPU utilisation needs two samples');
    assert.equal(cpu1.powerW, undefined, 'RAPL power needs two samples');
    assert.equal(cpu1.memoryTotalBytes, 16384000 * 1024);
    assert.equal(cpu1.memoryUsedBytes, (16384000 - 4096000) * 1024);
    assert.equal(cpu1.temperatureC, 47);
    assert.equal(cpu1.energyJ, 0);

    const amd = by(first, ids['0000:03:00.0']!);
    assert.deepEqual(
      { u: amd.utilization, used: amd.memoryUsedBytes, total: amd.memoryTotalBytes, w: amd.powerW, cap: amd.powerLimitW, t: amd.temperatureC },
      { u: 0.37, used: 2 * GiB, total: 24 * GiB, w: 150, cap: 300, t: 61 },
    );
    assert.equal(amd.sources.powerW, 'hwmon power1_average');

    const nv = by(first, ids['0000:17:00.0']!);
    assert.deepEqual(
      { u: nv.utilization, used: nv.memoryUsedBytes, total: nv.memoryTotalBytes, w: nv.powerW, cap: nv.powerLimitW, t: nv.temperatureC, e: nv.energyJ },
      { u: 0.07, used: 1234 * 1024 ** 2, total: 81559 * 1024 ** 2, w: 71.52, cap: 700, t: 34, e: 0 },
    );

    const igpu = by(first, ids['0000:00:02.0']!);
    assert.equal(igpu.frequencyRatio, 0.5);
    assert.equal(igpu.utilization, undefined, 'i915 has no busy counter: frequency is a separate reading');
    assert.deepEqual(Object.keys(igpu.sources), ['frequencyRatio'], 'nothing else is invented for an iGPU');
    const xe = by(first, ids['0000:04:00.0']!);
    assert.equal(xe.frequencyRatio, 1);
    assert.equal(xe.powerLimitW, 190);
    assert.equal(xe.powerW, undefined);

    // one second later
    t += 1000;
    put('/proc/stat', stat(400, 1500, 100)); // busy +300 of total +1000 (idle +600, iowait +100)
    put(`${RAPL}/energy_uj`, '100000\n'); // wrapped at 1 000 000: +200 000 µJ
    put(`${XE}/hwmon/hwmon3/energy_input`, 'ignored\n');
    put(`${XE}/hwmon/hwmon3/energy1_input`, '25000000\n'); // +20 J in 1 s
    put(`${NPU}/npu_busy_time_us`, '1250000\n'); // busy 250 ms of 1 s
    put('/smi.csv', '0, 00000000:17:00.0, NVIDIA H100 80GB HBM3, 81559, 2000, 550.54.15, 90, 50, 300.00, 700.00, 9.0\n');
    const second = await sampler.sample();

    const cpu2 = by(second, 'CPU');
    assert.equal(cpu2.utilization, 0.3);
    assert.ok(Math.abs(cpu2.powerW! - 0.2) < 1e-9, `RAPL wrap handled: ${cpu2.powerW} W`);
    assert.ok(Math.abs(cpu2.energyJ! - 0.2) < 1e-9);
    assert.equal(cpu2.sources.powerW, 'rapl');
    const xe2 = by(second, ids['0000:04:00.0']!);
    assert.equal(xe2.powerW, 20);
    assert.equal(xe2.energyJ, 20);

    // the xe counter resets (driver reload): that interval has no power and adds no energy
    t += 1000;
    put(`${XE}/hwmon/hwmon3/energy1_input`, '1000000\n');
    const third = by(await sampler.sample(), ids['0000:04:00.0']!);
    assert.equal(third.powerW, undefined);
    assert.equal(third.energyJ, 20);
    t += 1000;
    put(`${XE}/hwmon/hwmon3/energy1_input`, '11000000\n');
    assert.equal(by(await sampler.sample(), ids['0000:04:00.0']!).powerW, 10, 'and counts again from the new value');
    const npu = by(second, ids['0000:00:0b.0']!);
    assert.equal(npu.kind, 'npu');
    assert.equal(npu.utilization, 0.25);
    const nv2 = by(second, ids['0000:17:00.0']!);
    assert.equal(nv2.utilization, 0.9);
    assert.ok(Math.abs(nv2.energyJ! - 300) < 1e-9, 'NVIDIA energy: power x time between samples');
    const amd2 = by(second, ids['0000:03:00.0']!);
    assert.ok(Math.abs(amd2.energyJ! - 150) < 1e-9);
  } finally {
    f.cleanup();
  }
});

test('a bare host: every reading absent, never 0', async () => {
  const f = fakeHost({});
  try {
    const sampler = createTelemetrySampler({
      host: f.host,
      devices: [
        { id: 'CPU', kind: 'cpu', vendor: 'Intel', name: 'CPU' },
        { id: 'GPU.0', kind: 'gpu', vendor: 'AMD', vendorId: '0x1002', name: 'gpu', pciAddress: '0000:03:00.0', driver: 'amdgpu' },
        { id: 'GPU.1', kind: 'gpu', vendor: 'NVIDIA', vendorId: '0x10de', name: 'gpu', pciAddress: '0000:17:00.0', driver: 'nvidia' },
      ],
      now: () => 5,
    });
    await sampler.sample();
    const s = await sampler.sample();
    for (const d of s.devices) {
      const readings = Object.keys(d).filter((k) => !['device', 'kind', 'vendor', 'name', 'at', 'sources'].includes(k));
      assert.deepEqual(readings, [], `${d.device} has ${readings.join(', ')}`);
      assert.deepEqual(d.sources, {});
    }
  } finally {
    f.cleanup();
  }
});

test('counters: /proc/stat busy excludes idle and iowait; wrap-around deltas', () => {
  assert.deepEqual(parseProcStat('cpu  10 2 3 80 5 0 0 0 0 0\n'), { busy: 15, total: 100 });
  assert.equal(parseProcStat('intr 1 2 3\n'), undefined);
  assert.equal(counterDelta(10, 30, 100), 20);
  assert.equal(counterDelta(90, 10, 100), 20);
  assert.equal(counterDelta(90, 10, undefined), undefined, 'a counter without a range went back: reset, no delta');
});

test('startTelemetry: samples at once and every period, never overlapping, stops cleanly', async () => {
  let fire: (() => void) | undefined;
  let cleared = false;
  let calls = 0;
  let release: (() => void) | undefined;
  const sampler = {
    sample: async (): Promise<TelemetrySnapshot> => {
      calls++;
      if (calls === 2) await new Promise<void>((r) => (release = r));
      return { at: calls, devices: [] };
    },
  };
  const got: number[] = [];
  const loop = startTelemetry(sampler, {
    periodMs: 500,
    onSample: (s) => got.push(s.at),
    timers: { setInterval: (fn, ms) => ((fire = fn), assert.equal(ms, 500), 1), clearInterval: () => (cleared = true) },
  });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(got, [1]);
  fire!(); // second sample starts and hangs
  fire!(); // skipped: the second is still running
  assert.equal(calls, 2);
  release!();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(got, [1, 2]);
  loop.stop();
  assert.equal(cleared, true);
  assert.throws(() => startTelemetry(sampler, { periodMs: 0, onSample: () => undefined }), /positive number of milliseconds/);
  fire!();
  assert.equal(calls, 2, 'no sample after stop');
});

test('this machine: CPU memory and (after two samples) utilisation from the real /proc', { skip: process.platform !== 'linux' }, async () => {
  const sampler = createTelemetrySampler({ host: nodeHost(process.env), devices: [{ id: 'CPU', kind: 'cpu', vendor: 'x', name: 'x' }] });
  await sampler.sample();
  await new Promise((r) => setTimeout(r, 200));
  const cpu = (await sampler.sample()).devices[0]!;
  assert.ok(cpu.memoryTotalBytes! > 0 && cpu.memoryUsedBytes! > 0 && cpu.memoryUsedBytes! <= cpu.memoryTotalBytes!);
  assert.ok(cpu.utilization !== undefined && cpu.utilization >= 0 && cpu.utilization <= 1, `utilisation ${cpu.utilization}`);
});
