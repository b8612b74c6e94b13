/**
 * `aivmm setup cuda`: onnxruntime-node's CUDA 12 / TensorRT provider libraries are too large for the npm
 * registry, so its installer fetches them from NuGet (and aivmm installs with that step skipped). Setup
 * runs the package's own installer (forced: `--onnxruntime-node-install`), or, offline, copies the
 * libraries from a directory the user brought (the unzipped NuGet package).
 */
import { copyFile, mkdir, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ortPackage } from './packages.js';
import { BackendUnavailableError, ConfigError, NetworkError, NotFoundError, UsageError, errorMessage } from '../errors.js';

export const CUDA_PROVIDER_FILES = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_tensorrt.so'] as const;
export const NUGET_PACKAGE = 'Microsoft.ML.OnnxRuntime.Gpu.Linux';

export interface InstallerRun {
  code: number;
  output: string;
}

/** Runs onnxruntime-node's install script (a separate Node process) and collects what it prints. */
export type InstallerRunner = (script: string, args: readonly string[]) => Promise<InstallerRun>;

export interface CudaSetupOptions {
  /** A directory holding the provider libraries (anywhere below it: the unzipped NuGet package works). */
  from?: string;
  /** Install again even when the libraries are there. */
  force?: boolean;
  /** Runs the installer (the CLI spawns Node with a cleaned environment). */
  runner?: InstallerRunner;
  /** Where the libraries go; default onnxruntime-node's bin/napi-v6/<platform>/<arch>. */
  binDir?: string;
  platform?: string;
  arch?: string;
}

export interface CudaSetupResult {
  binDir: string;
  source: 'already-installed' | 'installer' | 'directory';
  files: { name: string; bytes: number }[];
  ortVersion?: string;
}

async function present(binDir: string): Promise<{ name: string; bytes: number }[]> {
  const out: { name: string; bytes: number }[] = [];
  for (const name of CUDA_PROVIDER_FILES) {
    const st = await stat(join(binDir, name)).catch(() => undefined);
    if (st?.isFile()) out.push({ name, bytes: st.size });
  }
  return out;
}

/** The provider libraries under `dir` (searched a few levels deep), by file name. */
async function findLibraries(dir: string, depth = 6): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const walk = async (d: string, level: number): Promise<void> => {
    if (level > depth) return;
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p, level + 1);
      else if ((CUDA_PROVIDER_FILES as readonly string[]).includes(e.name) && !found.has(e.name)) found.set(e.name, p);
    }
  };
  await walk(dir, 0);
  return found;
}

export async function setupCuda(opts: CudaSetupOptions = {}): Promise<CudaSetupResult> {
  const platform = opts.platform ?? process.platform;
  const arch = opts.arch ?? process.arch;
  if (platform !== 'linux' || arch !== 'x64') {
    throw new UsageError(`onnxruntime-node ships CUDA provider libraries for linux-x64 only (this is ${platform}-${arch})`, platform === 'win32' ? 'on Windows, use the DirectML or WebGPU backends' : 'use the WebGPU backend here');
  }
  const pkg = ortPackage(platform, arch);
  const binDir = opts.binDir ?? pkg.binDir;
  if (!binDir) throw new BackendUnavailableError('onnxruntime-node is not installed', 'npm install');
  const version = pkg.version;
  const have = await present(binDir);
  if (!opts.force && !opts.from && have.length === CUDA_PROVIDER_FILES.length) return { binDir, source: 'already-installed', files: have, ...(version ? { ortVersion: version } : {}) };

  if (opts.from) {
    const st = await stat(opts.from).catch(() => undefined);
    if (!st) throw new NotFoundError(`--from ${opts.from} not found`);
    if (!st.isDirectory()) throw new UsageError(`--from ${opts.from} is not a directory`, `unzip the ${NUGET_PACKAGE} .nupkg (a zip file) and give its directory`);
    const found = await findLibraries(opts.from);
    const missing = CUDA_PROVIDER_FILES.filter((f) => !found.has(f) && f !== 'libonnxruntime_providers_tensorrt.so');
    if (missing.length > 0) throw new NotFoundError(`${opts.from} lacks ${missing.join(', ')}`, `expected runtimes/linux-x64/native/ of ${NUGET_PACKAGE} ${version ?? ''}`.trim());
    await mkdir(binDir, { recursive: true });
    for (const [name, src] of found) {
      // Copy beside the target and rename: a reader never sees half a library.
      const tmp = join(binDir, `.${name}.tmp-${process.pid}`);
      try {
        await copyFile(src, tmp);
        await rename(tmp, join(binDir, name));
      } catch (err) {
        await unlink(tmp).catch(() => undefined);
        throw new ConfigError(`cannot write ${join(binDir, name)}: ${errorMessage(err)}`, 'run with permission to write into node_modules');
      }
    }
    return { binDir, source: 'directory', files: await present(binDir), ...(version ? { ortVersion: version } : {}) };
  }

  const script = pkg.binDir ? join(pkg.binDir, '..', '..', '..', '..', 'script', 'install.js') : '';
  if (!(await stat(script).catch(() => undefined))) throw new BackendUnavailableError(`onnxruntime-node's installer is missing (${script})`, 'reinstall onnxruntime-node');
  if (!opts.runner) throw new BackendUnavailableError('no installer runner given');
  const run = await opts.runner(script, ['--onnxruntime-node-install']);
  const files = await present(binDir);
  if (run.code !== 0 || files.length < 2) {
    const line = run.output.split('\n').map((l) => l.trim()).find((l) => /ENOTFOUND|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|ECONNRESET|getaddrinfo|Error:/.test(l)) ?? run.output.trim().split('\n').pop() ?? `exit ${run.code}`;
    const offline = /ENOTFOUND|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|ECONNRESET|getaddrinfo|socket hang up/.test(run.output);
    const hint = `fetch the NuGet package ${NUGET_PACKAGE} ${version ?? '(the version of onnxruntime-node)'} on a connected machine, unzip it (.nupkg is a zip), bring the directory here and run: aivmm setup cuda --from <dir> (it copies runtimes/linux-x64/native/${CUDA_PROVIDER_FILES.join(', ')} into ${binDir})`;
    if (offline) throw new NetworkError(`cannot download the CUDA 12 provider libraries from NuGet: ${line.replace(/^Error:\s*/, '')}`, hint);
    throw new BackendUnavailableError(`onnxruntime-node's installer failed: ${line}`, hint);
  }
  return { binDir, source: 'installer', files, ...(version ? { ortVersion: version } : {}) };
}
