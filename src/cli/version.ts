import { readFileSync } from 'node:fs';

/** aivmm's version from its package.json (two levels up from both src/cli and dist/cli). */
export function aivmmVersion(): string {
  try {
    const url = new URL('../../package.json', import.meta.url);
    return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The User-Agent aivmm sends to the Hub. */
export function userAgent(): string {
  return `aivmm/${aivmmVersion()}; node/${process.versions.node}`;
}
