/**
 * The Dockerfiles, checked without a Docker engine (none runs here): their install steps are .ci/run's
 * (so CI exercises what the images run), every copied path exists and survives .dockerignore, the
 * runtime stage is non-root with a health check on the readiness route, and that health check command
 * really tells a ready server from an unready or absent one (run with Node against loopback servers).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (p: string): string => readFileSync(join(root, p), 'utf8');

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name?: string;
  steps: Instruction[];
}
interface Dockerfile {
  args: Record<string, string>;
  stages: Stage[];
}

/** Instructions with line continuations joined and comments dropped; ARGs before the first FROM kept as defaults. */
function parseDockerfile(text: string): Dockerfile {
  const lines: string[] = [];
  let cur = '';
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw) && !cur) continue;
    if (/^\s*#/.test(raw)) continue; // a comment inside a continued instruction
    const l = raw.replace(/\s+$/, '');
    if (l.endsWith('\\')) {
      cur += l.slice(0, -1) + ' ';
      continue;
    }
    cur += l;
    if (cur.trim()) lines.push(cur.trim());
    cur = '';
  }
  const df: Dockerfile = { args: {}, stages: [] };
  for (const line of lines) {
    const m = /^(\w+)\s+([\s\S]*)$/.exec(line);
    if (!m) continue;
    const op = m[1]!.toUpperCase();
    const args = m[2]!.replace(/\s+/g, ' ').trim();
    if (op === 'FROM') {
      const f = /^(\S+)(?: AS (\S+))?$/i.exec(args.replace(/--platform=\S+ /, ''));
      assert.ok(f, `bad FROM: ${args}`);
      const from = f[1]!.replace(/^\$\{(\w+)\}$/, (_, a: string) => df.args[a] ?? a);
      df.stages.push({ from, ...(f[2] ? { name: f[2] } : {}), steps: [] });
    } else if (op === 'ARG' && df.stages.length === 0) {
      const [k, v] = args.split('=');
      df.args[k!] = v ?? '';
    } else {
      df.stages.at(-1)?.steps.push({ op, args });
    }
  }
  return df;
}

/** The npm install commands of a shell script, in order (`npm ci …`, `npm install …`). */
function npmInstallSteps(script: string): string[] {
  return script
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^npm (ci|install|i)\b/.test(l));
}

/** .dockerignore patterns that exclude a top-level path (only the simple forms this repo uses). */
function ignored(path: string, dockerignore: string): boolean {
  const clean = path.replace(/^\.\//, '');
  const top = clean.split('/')[0]!;
  let out = false;
  // Docker's rule: the last matching line wins; `!path` takes a path back in.
  for (const p of dockerignore.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))) {
    if (p.startsWith('!')) {
      if (p.slice(1) === clean) out = false;
    } else if (p === top || p === clean || (p.startsWith('**/*') && clean.endsWith(p.slice(4)))) out = true;
  }
  return out;
}

/** Every problem with one Dockerfile. */
function dockerfileProblems(text: string, ci: string, dockerignore: string, variant: 'cpu' | 'cuda'): string[] {
  const df = parseDockerfile(text);
  const problems: string[] = [];
  const ciSteps = npmInstallSteps(ci);
  if (ciSteps.length === 0) problems.push('.ci/run has no npm install step');
  const build = df.stages.find((s) => s.steps.some((i) => i.op === 'RUN' && /^npm (ci|install)\b/.test(i.args)));
  if (!build) return [...problems, 'no stage runs npm ci'];
  const runs = build.steps.filter((i) => i.op === 'RUN').map((i) => i.args);
  const dockerSteps = runs.filter((r) => /^npm (ci|install|i)\b/.test(r));
  if (JSON.stringify(dockerSteps) !== JSON.stringify(ciSteps)) problems.push(`install steps differ: Dockerfile ${JSON.stringify(dockerSteps)}, .ci/run ${JSON.stringify(ciSteps)}`);
  const firstInstall = build.steps.findIndex((i) => i.op === 'RUN' && /^npm (ci|install)\b/.test(i.args));
  const skipAt = build.steps.findIndex((i) => i.op === 'ENV' && /\bONNXRUNTIME_NODE_INSTALL=skip\b/.test(i.args));
  if (skipAt < 0 || skipAt > firstInstall) problems.push('ONNXRUNTIME_NODE_INSTALL=skip is not set before npm ci');
  if (!/^export ONNXRUNTIME_NODE_INSTALL=skip$/m.test(ci)) problems.push('.ci/run does not set ONNXRUNTIME_NODE_INSTALL=skip');
  if (!runs.some((r) => /^npm prune --omit=dev\b/.test(r))) problems.push('the build stage does not prune dev dependencies');
  // the machine .ci/run describes: Debian bookworm, and the Node major package.json's engines names
  const node = df.args['NODE_IMAGE'] ?? '';
  const major = /node\s*"?:\s*">=(\d+)/.exec(read('package.json'))?.[1];
  if (!/bookworm/.test(ci) || !/bookworm/.test(node)) problems.push(`build image ${node} is not the bookworm of .ci/run`);
  if (!node.startsWith(`node:${major}-`)) problems.push(`build image ${node} is not Node ${major} (package.json engines)`);
  if (build.from !== node) problems.push(`the build stage is FROM ${build.from}, not ${node}`);
  // every path the context provides exists and is not ignored
  for (const stage of df.stages) {
    for (const i of stage.steps.filter((s) => s.op === 'COPY' && !s.args.startsWith('--from'))) {
      const parts = i.args.split(' ');
      for (const src of parts.slice(0, -1)) {
        if (!existsSync(join(root, src))) problems.push(`COPY ${src}: no such path in the repository`);
        else if (ignored(src, dockerignore)) problems.push(`COPY ${src}: excluded by .dockerignore`);
      }
    }
  }
  const rt = df.stages.at(-1)!;
  if (rt === build) problems.push('the runtime stage is the build stage');
  if (variant === 'cpu' && rt.from !== 'node:20-bookworm-slim') problems.push(`runtime image ${rt.from}, not node:20-bookworm-slim`);
  if (variant === 'cuda') {
    const cuda = df.args['CUDA_IMAGE'] ?? '';
    if (rt.from !== cuda || !/^nvidia\/cuda:12\.[\d.]+-cudnn-runtime-/.test(cuda)) problems.push(`runtime image ${rt.from} is not NVIDIA's CUDA 12 runtime with cuDNN`);
    const nodeStage = df.stages.find((s) => s.from === node && s.steps.length === 0)?.name;
    if (!rt.steps.some((i) => i.op === 'COPY' && i.args === `--from=${nodeStage} /usr/local/bin/node /usr/local/bin/node`)) problems.push('Node is not copied from the Node image');
    const setup = rt.steps.findIndex((i) => i.op === 'RUN' && i.args === 'aivmm setup cuda');
    const user = rt.steps.findIndex((i) => i.op === 'USER');
    if (setup < 0 || setup > user) problems.push('`aivmm setup cuda` does not run (as root, before USER)');
  }
  const copied = rt.steps.filter((i) => i.op === 'COPY' && i.args.startsWith(`--from=${build.name}`)).map((i) => i.args.split(' ')[1]!.replace('/src/', ''));
  const allowed = new Set(['package.json', 'node_modules', 'dist', 'bin', 'catalog', 'vendor']);
  for (const c of copied) if (!allowed.has(c)) problems.push(`the runtime stage copies ${c} from the build`);
  for (const need of ['node_modules', 'dist', 'catalog', 'vendor']) if (!copied.includes(need)) problems.push(`the runtime stage lacks ${need}`);
  const user = rt.steps.filter((i) => i.op === 'USER').at(-1)?.args;
  if (!user || /^(root|0)(:|$)/.test(user)) problems.push(`the runtime user is ${user ?? 'root (no USER)'}`);
  const hc = rt.steps.find((i) => i.op === 'HEALTHCHECK')?.args ?? '';
  if (!/CMD \[/.test(hc) || !hc.includes('/v2/health/ready')) problems.push('no exec-form HEALTHCHECK on /v2/health/ready');
  if (/\bcurl\b|\bwget\b/.test(hc)) problems.push('the HEALTHCHECK needs a tool the slim image lacks');
  if (!rt.steps.some((i) => i.op === 'EXPOSE' && i.args.split(' ').includes('8080'))) problems.push('port 8080 is not exposed');
  const entry = rt.steps.find((i) => i.op === 'ENTRYPOINT')?.args ?? '';
  const cmd = rt.steps.find((i) => i.op === 'CMD')?.args ?? '';
  if (entry !== '["aivmm"]' || !/^\["serve", "--host", "0\.0\.0\.0"/.test(cmd)) problems.push(`the image does not run aivmm serve --host 0.0.0.0 (${entry} ${cmd})`);
  return problems;
}

const ci = read('.ci/run');
const dockerignore = read('.dockerignore');

test('Dockerfile and Dockerfile.cuda: .ci/run install steps, copied paths, non-root runtime, health check, serve', () => {
  assert.deepEqual(npmInstallSteps(ci), ['npm ci --no-audit --no-fund']);
  assert.deepEqual(dockerfileProblems(read('Dockerfile'), ci, dockerignore, 'cpu'), []);
  assert.deepEqual(dockerfileProblems(read('Dockerfile.cuda'), ci, dockerignore, 'cuda'), []);
});

test('the Dockerfile check fails on drift: another install step, root, the wrong probe, a missing path, an ignored path', () => {
  const good = read('Dockerfile');
  const cases: [string, string, RegExp][] = [
    ['RUN npm ci --no-audit --no-fund', 'RUN npm install', /install steps differ/],
    ['USER aivmm:aivmm', 'USER root', /runtime user is root/],
    ['/v2/health/ready', '/v2/health/live', /HEALTHCHECK on \/v2\/health\/ready/],
    ['COPY catalog ./catalog', 'COPY catalogue ./catalog', /COPY catalogue: no such path/],
    ['COPY bin ./bin', 'COPY bin ./bin\nCOPY scripts ./scripts', /COPY scripts: excluded by \.dockerignore/],
    ['ENV ONNXRUNTIME_NODE_INSTALL=skip', 'ENV ONNXRUNTIME_NODE_INSTALL=cuda12', /ONNXRUNTIME_NODE_INSTALL=skip is not set before npm ci/],
    ['COPY --from=build /src/vendor ./vendor', 'COPY --from=build /src/vendor ./vendor\nCOPY --from=build /src/src ./src', /copies src from the build/],
  ];
  for (const [from, to, want] of cases) {
    assert.ok(good.includes(from), `fixture text missing: ${from}`);
    const problems = dockerfileProblems(good.replace(from, to), ci, dockerignore, 'cpu');
    assert.ok(problems.some((p) => want.test(p)), `${to}: ${JSON.stringify(problems)}`);
  }
  const changedCi = ci.replace('npm ci --no-audit --no-fund', 'npm ci --no-audit --no-fund --ignore-scripts');
  assert.ok(dockerfileProblems(good, changedCi, dockerignore, 'cpu').some((p) => /install steps differ/.test(p)), 'a changed .ci/run is caught too');
  const cuda = read('Dockerfile.cuda');
  assert.ok(dockerfileProblems(cuda.replace('RUN aivmm setup cuda\n', ''), ci, dockerignore, 'cuda').some((p) => /setup cuda/.test(p)));
});

async function listen(status: number): Promise<Server> {
  const s = createServer((req, res) => {
    res.statusCode = req.url === '/v2/health/ready' ? status : 404;
    res.end();
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return s;
}

test('the HEALTHCHECK command: exit 0 for a ready server, 1 for 503 and for nothing listening', async () => {
  for (const file of ['Dockerfile', 'Dockerfile.cuda']) {
    const hc = parseDockerfile(read(file)).stages.at(-1)!.steps.find((i) => i.op === 'HEALTHCHECK')!.args;
    const argv = JSON.parse(hc.slice(hc.indexOf('CMD ') + 4)) as string[];
    assert.equal(argv[0], 'node');
    // asynchronously: the servers answer from this process's event loop
    const run = (port: number): Promise<number | null> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, argv.slice(1).map((a) => a.replace(':8080/', `:${port}/`)), { stdio: 'ignore', timeout: 20_000 });
        child.on('close', (code) => resolve(code));
      });
    const ready = await listen(200);
    const unready = await listen(503);
    try {
      assert.equal(await run((ready.address() as AddressInfo).port), 0, `${file}: ready`);
      assert.equal(await run((unready.address() as AddressInfo).port), 1, `${file}: 503`);
    } finally {
      await new Promise((r) => ready.close(r));
      const port = (unready.address() as AddressInfo).port;
      await new Promise((r) => unready.close(r));
      assert.equal(await run(port), 1, `${file}: nothing listening`);
    }
  }
});
