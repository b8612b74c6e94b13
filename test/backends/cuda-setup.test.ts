/**
 * `aivmm setup cuda`: copying from a local directory (the offline path) into a provider directory, the
 * package's real installer failing offline (this machine reaches no NuGet feed) with what to fetch and
 * where to put it, and the CLI's exit codes.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { test } from 'node:test';
import { CUDA_PROVIDER_FILES, setupCuda } from '../../src/core/backends/cuda-setup.js';
import { NetworkError, NotFoundError, UsageError, BackendUnavailableError } from '../../src/core/errors.js';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { runCli } from '../helpers/run-cli.js';
import { installerRunner } from '../../src/cli/installer-runner.js';

function nupkgDir(files: readonly string[]): string {
  const root = mkdtempSync(join(os.tmpdir(), 'aivmm-nupkg-'));
  const native = join(root, 'runtimes', 'linux-x64', 'native');
  mkdirSync(native, { recursive: true });
  for (const f of files) writeFileSync(join(native, f), `ELF ${f}`);
  writeFileSync(join(root, 'Microsoft.ML.OnnxRuntime.Gpu.Linux.nuspec'), '<package/>');
  return root;
}

test('--from copies the provider libraries found under the directory; a second run finds them installed', async () => {
  const binDir = mkdtempSync(join(os.tmpdir(), 'aivmm-ortbin-'));
  const r = await setupCuda({ from: nupkgDir(CUDA_PROVIDER_FILES), binDir, platform: 'linux', arch: 'x64' });
  assert.equal(r.source, 'directory');
  assert.deepEqual(r.files.map((f) => f.name), [...CUDA_PROVIDER_FILES]);
  assert.deepEqual(readdirSync(binDir).sort(), [...CUDA_PROVIDER_FILES].sort()); // no temporary files left
  const again = await setupCuda({ binDir, platform: 'linux', arch: 'x64', runner: () => assert.fail('must not download again') });
  assert.equal(again.source, 'already-installed');
});

test('--from without the CUDA library, on another platform, or a failing installer: clear errors', async () => {
  const binDir = mkdtempSync(join(os.tmpdir(), 'aivmm-ortbin-'));
  await assert.rejects(setupCuda({ from: nupkgDir(['libonnxruntime_providers_shared.so']), binDir, platform: 'linux', arch: 'x64' }), (e: Error) => e instanceof NotFoundError && /lacks libonnxruntime_providers_cuda\.so/.test(e.message));
  await assert.rejects(setupCuda({ binDir, platform: 'darwin', arch: 'arm64' }), UsageError);
  await assert.rejects(setupCuda({ binDir, platform: 'linux', arch: 'x64', runner: async () => ({ code: 1, output: 'Error: certificate has expired' }) }), BackendUnavailableError);
  assert.deepEqual(readdirSync(binDir), []);
});

test('offline, the package installer fails with NetworkError naming the NuGet package and the directory', async () => {
  const err = await setupCuda({ platform: 'linux', arch: 'x64', binDir: mkdtempSync(join(os.tmpdir(), 'aivmm-ortbin-')), runner: installerRunner(process.env) }).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (err === undefined) return; // this machine reached NuGet and installed: nothing offline to check
  assert.ok(err instanceof NetworkError, String(err));
  assert.match(err.hint ?? '', /Microsoft\.ML\.OnnxRuntime\.Gpu\.Linux 1\.30\.0 .* aivmm setup cuda --from <dir>/);
});

test('CLI: exit 5 when --from lacks the libraries, one error line, JSON error document', async () => {
  const r = await runCli(['setup', 'cuda', '--from', mkdtempSync(join(os.tmpdir(), 'aivmm-empty-'))]);
  assert.equal(r.code, EXIT_CODES.NOT_FOUND);
  assert.match(r.stderr, /^error: .* lacks libonnxruntime_providers_shared\.so, libonnxruntime_providers_cuda\.so\nhint: /);
  const j = await runCli(['setup', 'cuda', '--from', '/nonexistent-dir', '--json']);
  assert.equal(j.code, EXIT_CODES.NOT_FOUND);
  assert.equal(JSON.parse(j.stdout).error.code, 'NOT_FOUND');
});
