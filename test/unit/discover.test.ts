import assert from 'node:assert/strict';
import { test } from 'node:test';
import { discoverDevices } from '../../src/core/devices/discover.js';
import { reachFor } from '../../src/core/devices/reach.js';
import { LibraryFinder } from '../../src/core/devices/libs.js';
import { nodeHost } from '../../src/core/devices/host.js';
import type { Device } from '../../src/core/devices/types.js';
import { fakeHost, merge, pciDevice, type FakeTree } from '../helpers/fake-host.js';

const PCI_IDS = `# fake pci.ids
10de  NVIDIA Corporation
\t2330  GH100 [H100 SXM5 80GB]
1002  Advanced Micro Devices, Inc. [AMD/ATI]
\t744c  Navi 31 [Radeon RX 7900 XT/7900 XTX]
8086  Intel Corporation
\t7d55  Meteor Lake-P [Intel Arc Graphics]
\t7d1d  Meteor Lake NPU
1a03  ASPEED Technology, Inc.
\t2000  ASPEED Graphics Family
C 00  Unclassified device
`;

const icd = (lib: string): string => JSON.stringify({ file_format_version: '1.0.0', ICD: { library_path: lib, api_version: '1.3.0' } });

/** A workstation: Intel iGPU + NPU, an AMD card, an NVIDIA H100, a BMC VGA, an AMD XDNA NPU, lavapipe. */
function workstation(): FakeTree {
  return merge(
    { files: { '/proc/cpuinfo': 'processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Core(TM) Ultra 7 155H\nphysical id\t: 0\ncore id\t: 0\nflags\t: avx2 fma avx_vnni\n' } },
    // listed in an order that is not the PCI order, to check sorting
    pciDevice('0000:17:00.0', { vendor: '0x10de', device: '0x2330', class: '0x030200', driver: 'nvidia' }),
    pciDevice('0000:03:00.0', { vendor: '0x1002', device: '0x744c', class: '0x030000', driver: 'amdgpu', vram: 24 * 1024 ** 3 }),
    pciDevice('0000:00:02.0', { vendor: '0x8086', device: '0x7d55', class: '0x030000', driver: 'i915' }),
    pciDevice('0000:02:00.0', { vendor: '0x1a03', device: '0x2000', class: '0x030000', driver: 'ast' }),
    pciDevice('0000:00:1f.3', { vendor: '0x8086', device: '0x7e28', class: '0x040300', driver: 'snd_hda_intel' }),
    // NPUs through the accel class
    pciDevice('0000:00:0b.0', { vendor: '0x8086', device: '0x7d1d', class: '0x120000', driver: 'intel_vpu' }),
    pciDevice('0000:c5:00.1', { vendor: '0x1022', device: '0x1502', class: '0x118000', driver: 'amdxdna' }),
    {
      links: {
        '/sys/class/accel/accel0/device': '../../../bus/pci/devices/0000:00:0b.0',
        '/sys/class/accel/accel1/device': '../../../bus/pci/devices/0000:c5:00.1',
      },
      files: {
        '/dev/accel/accel0': '',
        '/usr/share/misc/pci.ids': PCI_IDS,
        '/usr/lib/x86_64-linux-gnu/libvulkan.so.1': '',
        '/usr/share/vulkan/icd.d/nvidia_icd.json': icd('libGLX_nvidia.so.0'),
        '/usr/share/vulkan/icd.d/radeon_icd.x86_64.json': icd('/usr/lib/x86_64-linux-gnu/libvulkan_radeon.so'),
        '/usr/share/vulkan/icd.d/intel_icd.x86_64.json': icd('/usr/lib/x86_64-linux-gnu/libvulkan_intel.so'),
        '/usr/share/vulkan/icd.d/lvp_icd.x86_64.json': icd('/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so'),
        '/etc/vulkan/icd.d/nvidia_icd.json': icd('libGLX_nvidia.so.0'),
      },
      bin: {
        'nvidia-smi': `case "$1" in --query-gpu=*) echo "0, 00000000:17:00.0, NVIDIA H100 80GB HBM3, 81559, 1234, 550.54.15, 7, 34, 71.52, 700.00, 9.0";; *) exit 9;; esac`,
      },
    },
  );
}

function byId(devices: Device[], id: string): Device {
  const d = devices.find((x) => x.id === id);
  assert.ok(d, `no ${id} in ${devices.map((x) => x.id).join(', ')}`);
  return d;
}

test('GPUs of every vendor: integrated first, then PCI order, software adapters last; BMC VGA ignored', async () => {
  const f = fakeHost(workstation());
  try {
    const r = await discoverDevices(f.host);
    assert.deepEqual(
      r.devices.map((d) => `${d.id} ${d.name}`),
      [
        'CPU Intel(R) Core(TM) Ultra 7 155H',
        'GPU.0 Meteor Lake-P [Intel Arc Graphics]',
        'GPU.1 Navi 31 [Radeon RX 7900 XT/7900 XTX]',
        'GPU.2 NVIDIA H100 80GB HBM3',
        'GPU.3 llvmpipe (lavapipe, Mesa software Vulkan)',
        'NPU Meteor Lake NPU',
        'NPU.1 AMD XDNA NPU',
      ],
    );
    const [intel, amd, nvidia, lvp] = ['GPU.0', 'GPU.1', 'GPU.2', 'GPU.3'].map((id) => byId(r.devices, id)) as [Device, Device, Device, Device];
    assert.equal(intel.integrated, true);
    assert.equal(amd.integrated, false);
    assert.equal(amd.memoryBytes, 24 * 1024 ** 3);
    assert.equal(lvp.software, true);
    assert.deepEqual(r.ignored.map((i) => i.pciAddress), ['0000:02:00.0']);

    // nvidia-smi enrichment
    assert.equal(nvidia.memoryBytes, 81559 * 1024 * 1024);
    assert.equal(nvidia.driverVersion, '550.54.15');
    assert.equal(nvidia.computeCapability, '9.0');
    assert.deepEqual(nvidia.telemetry, { utilizationPct: 7, temperatureC: 34, powerW: 71.52, powerLimitW: 700, memoryUsedBytes: 1234 * 1024 * 1024 });

    // backends per vendor
    assert.deepEqual(nvidia.backends.map((b) => b.backend), ['ort-webgpu', 'ort-cuda', 'ort-tensorrt']);
    assert.deepEqual(intel.backends.map((b) => b.backend), ['ort-webgpu', 'openvino']);
    assert.deepEqual(amd.backends.map((b) => b.backend), ['ort-webgpu']);
    assert.deepEqual(lvp.backends.map((b) => b.backend), ['ort-webgpu']);
    const webgpu = nvidia.backends[0];
    assert.equal(webgpu?.available, true);
    assert.equal(webgpu?.verified, false, 'cheap checks are never reported as verified');
    assert.equal(nvidia.vulkanIcd?.endsWith('/etc/vulkan/icd.d/nvidia_icd.json'), true, 'the loader reads /etc before /usr/share; the copy there is the same driver');
    const cuda = nvidia.backends[1];
    assert.equal(cuda?.available, false);
    assert.match(cuda?.reason ?? '', /CUDA provider libraries not installed/);
    assert.match(cuda?.fix ?? '', /aivmm setup cuda/);

    const npu = byId(r.devices, 'NPU');
    assert.deepEqual(npu.backends.map((b) => b.backend), ['openvino']);
    assert.equal(npu.driver, 'intel_vpu');
    const xdna = byId(r.devices, 'NPU.1');
    assert.deepEqual(xdna.backends, []);
    assert.match(xdna.notes?.join(' ') ?? '', /Vitis AI/);
  } finally {
    f.cleanup();
  }
});

test('ids are stable across runs', async () => {
  const f = fakeHost(workstation());
  try {
    const a = await discoverDevices(f.host);
    const b = await discoverDevices(f.host);
    assert.deepEqual(a.devices.map((d) => [d.id, d.pciAddress]), b.devices.map((d) => [d.id, d.pciAddress]));
  } finally {
    f.cleanup();
  }
});

test('WebGPU unavailable without the Vulkan loader, or without a driver for the vendor: reason and fix', async () => {
  const tree = workstation();
  delete tree.files?.['/usr/lib/x86_64-linux-gnu/libvulkan.so.1'];
  const f = fakeHost(tree);
  try {
    const r = await discoverDevices(f.host);
    const w = byId(r.devices, 'GPU.2').backends[0];
    assert.equal(w?.available, false);
    assert.match(w?.reason ?? '', /Vulkan loader \(libvulkan\.so\.1\)/);
    assert.match(w?.fix ?? '', /libvulkan1/);
  } finally {
    f.cleanup();
  }
  const tree2 = workstation();
  delete tree2.files?.['/usr/share/vulkan/icd.d/nvidia_icd.json'];
  delete tree2.files?.['/etc/vulkan/icd.d/nvidia_icd.json'];
  const f2 = fakeHost(tree2);
  try {
    const r = await discoverDevices(f2.host);
    const w = byId(r.devices, 'GPU.2').backends[0];
    assert.equal(w?.available, false);
    assert.match(w?.reason ?? '', /no Vulkan driver for this NVIDIA GPU/);
    assert.match(w?.fix ?? '', /nvidia_icd\.json/);
  } finally {
    f2.cleanup();
  }
});

test('VK_DRIVER_FILES restricts the Vulkan drivers, as it does for the loader', async () => {
  const f = fakeHost(workstation(), { env: {} });
  f.host.env = { ...f.host.env, VK_DRIVER_FILES: '/usr/share/vulkan/icd.d/lvp_icd.x86_64.json' };
  try {
    const r = await discoverDevices(f.host);
    assert.equal(byId(r.devices, 'GPU.2').backends[0]?.available, false);
    assert.equal(byId(r.devices, 'GPU.3').software, true);
  } finally {
    f.cleanup();
  }
});

test('a container: nvidia-smi sees GPUs that sysfs does not list', async () => {
  const tree = merge(
    { files: { '/proc/cpuinfo': 'processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: X\nflags\t: avx2\n', '/dev/nvidiactl': '' } },
    {
      bin: {
        'nvidia-smi': `case "$1" in *compute_cap*) echo "Field compute_cap is not a valid field" >&2; exit 2;; --query-gpu=*) printf '0, 00000000:0A:00.0, NVIDIA A100-SXM4-40GB, 40960, 0, 535.1, 0, 30, [N/A], [N/A]\\n1, 00000000:0B:00.0, NVIDIA A100-SXM4-40GB, 40960, 0, 535.1, 0, 31, [N/A], [N/A]\\n';; esac`,
      },
    },
  );
  const f = fakeHost(tree);
  try {
    const r = await discoverDevices(f.host);
    const gpus = r.devices.filter((d) => d.kind === 'gpu');
    assert.deepEqual(gpus.map((g) => [g.id, g.pciAddress, g.name]), [
      ['GPU.0', '0000:0a:00.0', 'NVIDIA A100-SXM4-40GB'],
      ['GPU.1', '0000:0b:00.0', 'NVIDIA A100-SXM4-40GB'],
    ]);
    assert.equal(gpus[0]?.computeCapability, undefined, 'older drivers: query retried without compute_cap');
    assert.equal(gpus[0]?.telemetry?.powerW, undefined, '[N/A] is not a number');
  } finally {
    f.cleanup();
  }
});

test('CUDA reach with provider libraries present: the missing CUDA/cuDNN libraries are named', async () => {
  const tree = merge(workstation(), { files: { '/usr/lib/x86_64-linux-gnu/libcuda.so.1': '', '/usr/local/cuda/lib64/libcudart.so.12': '', '/usr/local/cuda/lib64/libcublas.so.12': '' } });
  const f = fakeHost(tree);
  try {
    const r = await discoverDevices(f.host);
    const nvidia = byId(r.devices, 'GPU.2');
    const ctx = {
      host: f.host,
      libs: new LibraryFinder(f.host),
      ort: { installed: true, version: '1.30.0', bindingPresent: true, cudaProvider: true, tensorrtProvider: true },
      openvino: { installed: false },
      devices: r.devices,
    };
    const [, cuda, trt] = await reachFor(ctx, nvidia);
    assert.equal(cuda?.available, false);
    assert.match(cuda?.reason ?? '', /libraries not found: libcublasLt\.so\.12, libcufft\.so\.11, libcurand\.so\.10, libcudnn\.so\.9/);
    assert.match(trt?.reason ?? '', /libnvinfer\.so\.10/);

    // all present: reachable, with CUDA's device ordinal
    const all = merge(tree, {
      files: Object.fromEntries(
        ['libcublasLt.so.12', 'libcufft.so.11', 'libcurand.so.10', 'libcudnn.so.9'].map((l) => [`/usr/local/cuda/lib64/${l}`, '']),
      ),
    });
    const f2 = fakeHost(all);
    try {
      // there, but not where the dynamic loader looks: the directory is named, with the export that fixes it
      const ctx2 = { ...ctx, host: f2.host, libs: new LibraryFinder(f2.host) };
      const [, off] = await reachFor(ctx2, nvidia);
      assert.equal(off?.available, false);
      assert.match(off?.reason ?? '', /CUDA 12 \/ cuDNN 9 libraries are in \/usr\/local\/cuda\/lib64, which the dynamic loader does not search/);
      assert.match(off?.fix ?? '', /^export LD_LIBRARY_PATH=\/usr\/local\/cuda\/lib64/);
    } finally {
      f2.cleanup();
    }
    // on the loader's path (ld.so.conf.d, as NVIDIA's packages set it up): reachable, with CUDA's device ordinal
    const f3 = fakeHost(merge(all, { files: { '/etc/ld.so.conf': 'include /etc/ld.so.conf.d/*.conf\n', '/etc/ld.so.conf.d/988_cuda-12.conf': '/usr/local/cuda/lib64\n' } }));
    try {
      const [, cuda3] = await reachFor({ ...ctx, host: f3.host, libs: new LibraryFinder(f3.host) }, nvidia);
      assert.equal(cuda3?.available, true);
      assert.equal(cuda3?.target, 'cuda:0');
    } finally {
      f3.cleanup();
    }
  } finally {
    f.cleanup();
  }
});

test('CUDA reach follows the libraries the installed provider was linked against (a CUDA 13 build)', async () => {
  const cuda13 = ['libcublasLt.so.13', 'libcublas.so.13', 'libcurand.so.10', 'libcudart.so.13'];
  const dir = '/usr/local/cuda-13.0/targets/x86_64-linux/lib';
  const tree = merge(workstation(), { files: { '/usr/lib/x86_64-linux-gnu/libcuda.so.1': '', '/usr/lib/x86_64-linux-gnu/libcudnn.so.9': '', ...Object.fromEntries(cuda13.map((l) => [`${dir}/${l}`, ''])) } });
  const ort = { installed: true, version: '1.30.0', bindingPresent: true, cudaProvider: true, tensorrtProvider: true, cudaNeeds: cuda13, tensorrtNeeds: ['libcublas.so.13', 'libnvinfer.so.10', 'libnvonnxparser.so.10', 'libcudart.so.13', 'libcudnn.so.9'] };
  const f = fakeHost(tree, { env: {} });
  const f2 = fakeHost(tree, { env: { LD_LIBRARY_PATH: dir } });
  try {
    const r = await discoverDevices(f.host);
    const nvidia = byId(r.devices, 'GPU.2');
    const ctx = { host: f.host, libs: new LibraryFinder(f.host), ort, openvino: { installed: false }, devices: r.devices };
    const [, cuda, trt] = await reachFor(ctx, nvidia);
    // found in the versioned toolkit directory, which is off the loader's path here
    assert.equal(cuda?.available, false);
    assert.equal(cuda?.reason, `CUDA 13 / cuDNN 9 libraries are in ${dir}, which the dynamic loader does not search`);
    assert.equal(trt?.reason, 'CUDA 13 / cuDNN 9 / TensorRT 10 libraries not found: libnvinfer.so.10, libnvonnxparser.so.10');
    const [, cuda2] = await reachFor({ ...ctx, host: f2.host, libs: new LibraryFinder(f2.host) }, nvidia);
    assert.equal(cuda2?.available, true);
    assert.deepEqual(cuda2?.libraries, { stack: 'CUDA 13 / cuDNN 9', dirs: [dir, '/usr/lib/x86_64-linux-gnu'] });
  } finally {
    f.cleanup();
    f2.cleanup();
  }
});

test('the real machine: CPU first, reachable through ort-cpu; lavapipe appears as a software GPU when installed', async () => {
  const r = await discoverDevices(nodeHost(process.env));
  const cpu = r.devices[0];
  assert.equal(cpu?.id, 'CPU');
  assert.equal(cpu?.backends.find((b) => b.backend === 'ort-cpu')?.available, true);
  const openvino = cpu?.backends.find((b) => b.backend === 'openvino');
  assert.ok(openvino, 'openvino is always listed for the CPU');
  if (!openvino.available) assert.match(openvino.reason ?? '', /openvino-node is not installed/);
  const lavapipe = r.devices.find((d) => d.software);
  if (process.env['AIVMM_REQUIRE_WEBGPU'] === '1') assert.ok(lavapipe, 'AIVMM_REQUIRE_WEBGPU=1 but no software Vulkan adapter was found');
  if (lavapipe) assert.equal(lavapipe.backends[0]?.backend, 'ort-webgpu');
});
