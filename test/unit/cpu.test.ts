import assert from 'node:assert/strict';
import { test } from 'node:test';
import { discoverCpu, parseCpuinfo } from '../../src/core/devices/cpu.js';
import { fakeHost } from '../helpers/fake-host.js';

/** 2 sockets × 2 cores × 2 threads, Sapphire Rapids-like flags. */
function x86Cpuinfo(): string {
  const blocks: string[] = [];
  let n = 0;
  for (const socket of [0, 1]) {
    for (const core of [0, 1]) {
      for (let t = 0; t < 2; t++) {
        blocks.push(
          [
            `processor\t: ${n++}`,
            'vendor_id\t: GenuineIntel',
            'model name\t: Intel(R) Xeon(R) Platinum 8480+',
            `physical id\t: ${socket}`,
            `core id\t\t: ${core}`,
            'cpu cores\t: 2',
            'flags\t\t: fpu sse sse2 avx avx2 fma f16c avx512f avx512bw avx512vl avx512_vnni avx512_bf16 avx512_fp16 amx_tile amx_int8 amx_bf16 avx_vnni',
          ].join('\n'),
        );
      }
    }
  }
  return `${blocks.join('\n\n')}\n`;
}

test('x86: model, vendor, sockets, physical cores, threads and inference ISA features', async () => {
  const f = fakeHost({
    files: {
      '/proc/cpuinfo': x86Cpuinfo(),
      '/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq': '3800000\n',
    },
  });
  try {
    const cpu = await discoverCpu(f.host);
    assert.equal(cpu.model, 'Intel(R) Xeon(R) Platinum 8480+');
    assert.equal(cpu.vendor, 'Intel');
    assert.equal(cpu.sockets, 2);
    assert.equal(cpu.physicalCores, 4);
    assert.equal(cpu.logicalCores, 8);
    assert.equal(cpu.maxMHz, 3800);
    for (const f of ['avx2', 'avx512f', 'avx512_vnni', 'avx512_bf16', 'amx_tile', 'amx_int8', 'amx_bf16', 'avx_vnni']) {
      assert.ok(cpu.features.includes(f), `missing ${f}`);
    }
    assert.ok(!cpu.features.includes('sse2'), 'only inference-relevant features are listed');
  } finally {
    f.cleanup();
  }
});

test('x86 AMD without AVX-512: only what the flags say', async () => {
  const info = 'processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7763 64-Core Processor\nphysical id\t: 0\ncore id\t: 0\nflags\t: avx avx2 fma f16c\n';
  const f = fakeHost({ files: { '/proc/cpuinfo': info } });
  try {
    const cpu = await discoverCpu(f.host);
    assert.equal(cpu.vendor, 'AMD');
    assert.deepEqual(cpu.features, ['avx', 'avx2', 'fma', 'f16c']);
    assert.equal(cpu.physicalCores, 1);
  } finally {
    f.cleanup();
  }
});

test('arm64: NEON/SVE from Features, name from implementer/part, cores from sysfs topology', async () => {
  const block = (n: number): string =>
    `processor\t: ${n}\nBogoMIPS\t: 2000.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp asimddp sve sve2 i8mm bf16\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd4f\n`;
  const files: Record<string, string> = { '/proc/cpuinfo': [0, 1, 2, 3].map(block).join('\n') };
  for (const n of [0, 1, 2, 3]) {
    files[`/sys/devices/system/cpu/cpu${n}/topology/physical_package_id`] = '0\n';
    files[`/sys/devices/system/cpu/cpu${n}/topology/core_id`] = `${n}\n`;
  }
  const f = fakeHost({ files }, { arch: 'arm64' });
  try {
    const cpu = await discoverCpu(f.host);
    assert.equal(cpu.vendor, 'ARM');
    assert.equal(cpu.model, 'ARM Neoverse-V2');
    assert.equal(cpu.physicalCores, 4);
    assert.equal(cpu.logicalCores, 4);
    assert.deepEqual(cpu.features, ['neon', 'fp16', 'dotprod', 'i8mm', 'bf16', 'sve', 'sve2']);
  } finally {
    f.cleanup();
  }
});

test('without /proc (macOS, Windows) the CPU still comes from what Node reports', async () => {
  const f = fakeHost({}, { platform: 'win32', cpus: 8 });
  try {
    const cpu = await discoverCpu(f.host);
    assert.equal(cpu.logicalCores, 8);
    assert.equal(cpu.model, 'Fake CPU');
  } finally {
    f.cleanup();
  }
});

test('parseCpuinfo splits blocks and keeps keys with spaces', () => {
  const blocks = parseCpuinfo('processor : 0\nmodel name : X\n\nprocessor : 1\nmodel name : X\n');
  assert.equal(blocks.length, 2);
  assert.equal(blocks[1]?.['model name'], 'X');
});

test('the real machine: a CPU with at least one core and a model name', async () => {
  const { nodeHost } = await import('../../src/core/devices/host.js');
  const cpu = await discoverCpu(nodeHost(process.env));
  assert.ok(cpu.logicalCores >= 1);
  assert.ok(cpu.physicalCores >= 1 && cpu.physicalCores <= cpu.logicalCores);
  assert.ok(cpu.model.length > 0);
});
