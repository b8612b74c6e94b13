#!/usr/bin/env node
// npm's `prepare` (npm install / npm ci in a clone, npm pack, npm publish): build dist/ with tsc. With
// `npm ci --omit=dev` TypeScript is not installed: say so and succeed, instead of failing the whole
// install on "tsc: not found" (the published package ships dist/, built when it was packed).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
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
const r = spawnSync(process.execPath, [tsc, '-p', new URL('../tsconfig.build.json', import.meta.url).pathname], { stdio: 'inherit' });
process.exit(r.status ?? 1);
