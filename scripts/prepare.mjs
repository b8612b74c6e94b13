#!/usr/bin/env node
// npm's `prepare` (npm install / npm ci in a clone, npm pack, npm publish): build dist/ with tsc. With
// `npm ci --omit=dev` TypeScript is not installed: say so and succeed, instead of failing the whole
// install on "tsc: not found" (the published package ships dist/, built when it was packed).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch {
  const built = existsSync(new URL('../dist/cli/main.js', import.meta.url));
  process.stderr.write(`aivmm: TypeScript is not installed (dev dependencies omitted): ${built ? 'keeping the dist/ already built' : 'dist/ not built; install the dev dependencies and run `npm run build`'}\n`);
  process.exit(0);
}
const run = (args) => spawnSync(process.execPath, args, { stdio: 'inherit' }).status ?? 1;
const path = (p) => new URL(p, import.meta.url).pathname;
let status = run([tsc, '-p', path('../tsconfig.build.json')]);
// tsc copies no .proto: the gRPC service (dist/server/grpc/proto.js) loads its definition from beside itself.
if (status === 0) {
  mkdirSync(path('../dist/server/grpc'), { recursive: true });
  copyFileSync(path('../src/server/grpc/grpc_predict_v2.proto'), path('../dist/server/grpc/grpc_predict_v2.proto'));
}
// The dashboard (web/ → dist/web) is built by Vite, a dev dependency too.
let vite;
try {
  vite = new URL('bin/vite.js', `file://${require.resolve('vite/package.json')}`).pathname;
} catch {
  process.stderr.write('aivmm: Vite is not installed (dev dependencies omitted): the dashboard in dist/web is not rebuilt\n');
}
if (status === 0 && vite) status = run([tsc, '-p', path('../web/tsconfig.json')]);
if (status === 0 && vite) status = run([vite, 'build', path('../web'), '--logLevel', 'warn']);
process.exit(status);
