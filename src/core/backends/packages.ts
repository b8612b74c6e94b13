/**
 * Where the runtime packages are and what they ship, found without loading their native addons
 * (`aivmm devices` must stay fast; `--help` must never load them).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { readElfDynamic } from './elf.js';

const require = createRequire(import.meta.url);

function packageDir(name: string): string | undefined {
  let dir: string;
  try {
    dir = dirname(require.resolve(`${name}/package.json`));
  } catch {
    try {
      // packages whose "exports" hide package.json: walk up from the main entry
      dir = dirname(require.resolve(name));
      while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
    } catch {
      return undefined;
    }
  }
  // a resolver with path aliases (tsx reads tsconfig "paths") may land elsewhere: trust only the real package
  return packageName(dir) === name ? dir : undefined;
}

function packageName(dir: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }).name;
  } catch {
    return undefined;
  }
}

function packageVersion(dir: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

export interface OrtPackage {
  installed: boolean;
  version?: string;
  /** bin/napi-v6/<platform>/<arch>: the binding and provider libraries. */
  binDir?: string;
  bindingPresent: boolean;
  /** Whether the optional provider libraries (downloaded by the package's installer) are there. */
  cudaProvider: boolean;
  tensorrtProvider: boolean;
  /**
   * The CUDA-family libraries (libcu*, libnv*) each installed provider library was linked against, read
   * from its ELF dynamic section: CUDA 12 for onnxruntime-node's own NuGet package, CUDA 13 for others.
   * Absent when the provider is not installed or cannot be read.
   */
  cudaNeeds?: string[];
  tensorrtNeeds?: string[];
}

/** The libcu* / libnv* libraries `file` names in DT_NEEDED, except the driver's libcuda.so.1. */
export function cudaFamilyNeeds(file: string): string[] | undefined {
  const dyn = readElfDynamic(file);
  return dyn?.needed.filter((n) => /^lib(cu|nv)/.test(n) && n !== 'libcuda.so.1');
}

/** Platforms whose prebuilt onnxruntime-node binding bundles the WebGPU EP (per the package README). */
export function ortBundlesWebgpu(platform: string, arch: string): boolean {
  if (platform === 'linux') return arch === 'x64';
  return platform === 'win32' || platform === 'darwin';
}

export function ortPackage(platform: string = process.platform, arch: string = process.arch): OrtPackage {
  const dir = packageDir('onnxruntime-node');
  if (!dir) return { installed: false, bindingPresent: false, cudaProvider: false, tensorrtProvider: false };
  const binDir = join(dir, 'bin', 'napi-v6', platform, arch);
  const has = (f: string): boolean => existsSync(join(binDir, f));
  const out: OrtPackage = {
    installed: true,
    binDir,
    bindingPresent: has('onnxruntime_binding.node'),
    cudaProvider: has('libonnxruntime_providers_cuda.so') && has('libonnxruntime_providers_shared.so'),
    tensorrtProvider: has('libonnxruntime_providers_tensorrt.so') && has('libonnxruntime_providers_shared.so'),
  };
  if (out.cudaProvider) {
    const needs = cudaFamilyNeeds(join(binDir, 'libonnxruntime_providers_cuda.so'));
    if (needs) out.cudaNeeds = needs;
  }
  if (out.tensorrtProvider) {
    const needs = cudaFamilyNeeds(join(binDir, 'libonnxruntime_providers_tensorrt.so'));
    if (needs) out.tensorrtNeeds = needs;
  }
  const version = packageVersion(dir);
  if (version) out.version = version;
  return out;
}

export interface OpenvinoPackage {
  installed: boolean;
  version?: string;
}

export function openvinoPackage(): OpenvinoPackage {
  const dir = packageDir('openvino-node');
  if (!dir) return { installed: false };
  const version = packageVersion(dir);
  return version ? { installed: true, version } : { installed: true };
}
