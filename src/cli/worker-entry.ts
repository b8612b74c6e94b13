/** Node arguments that start one of the CLI's worker scripts: the compiled one, or under tsx (tests run from source) the TypeScript one. */
import { fileURLToPath } from 'node:url';

export function workerArgs(name: 'probe-worker' | 'bench-worker'): string[] {
  if (import.meta.url.endsWith('.ts')) return ['--import', 'tsx', fileURLToPath(new URL(`./${name}.ts`, import.meta.url))];
  return [fileURLToPath(new URL(`./${name}.js`, import.meta.url))];
}
