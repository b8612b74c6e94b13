/** loadConfig: one object from the environment, each variable over its default; flags over both. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ENV_VARS, loadConfig, resolveOutput } from '../../src/core/config/load.js';

const home = '/home/u';

test('defaults: the XDG cache, the Hugging Face cache under it, sysroot /, no JSON, colour, not CI', () => {
  const c = loadConfig({}, { platform: 'linux', home });
  assert.equal(c.paths.cacheDir, join(home, '.cache', 'aivmm'));
  assert.equal(c.hub.cacheDir, join(home, '.cache', 'huggingface', 'hub'));
  assert.equal(c.hub.endpoint, 'https://huggingface.co');
  assert.equal(c.hub.offline, false);
  assert.equal(c.sysroot, '/');
  assert.deepEqual(c.output, { json: false, noColor: false, ci: false });
});

test('environment over defaults, and the more specific variable over the general one', () => {
  const c = loadConfig(
    {
      XDG_CACHE_HOME: '/x',
      AIVMM_CACHE_DIR: '/a',
      HF_HOME: '/hf',
      HF_HUB_CACHE: '/hubcache',
      HUGGINGFACE_HUB_CACHE: '/legacy',
      HF_ENDPOINT: 'http://127.0.0.1:9/',
      HF_TOKEN: 'tok',
      HUGGING_FACE_HUB_TOKEN: 'old',
      HF_HUB_OFFLINE: 'yes',
      HF_HUB_DOWNLOAD_TIMEOUT: '2.5',
      AIVMM_SYSROOT: '/fake-root',
      AIVMM_JSON: '1',
      NO_COLOR: '1',
      CI: 'true',
    },
    { platform: 'linux', home },
  );
  assert.equal(c.paths.cacheDir, '/a');
  assert.equal(c.hub.cacheDir, '/hubcache');
  assert.equal(c.hub.endpoint, 'http://127.0.0.1:9');
  assert.equal(c.hub.token, 'tok');
  assert.equal(c.hub.offline, true);
  assert.equal(c.hub.downloadTimeoutMs, 2500);
  assert.equal(c.sysroot, '/fake-root');
  assert.deepEqual(c.output, { json: true, noColor: true, ci: true });
  // XDG_CACHE_HOME is the base when the specific variables are absent
  const x = loadConfig({ XDG_CACHE_HOME: '/x' }, { platform: 'linux', home });
  assert.equal(x.paths.cacheDir, '/x/aivmm');
  assert.equal(x.hub.cacheDir, '/x/huggingface/hub');
});

test('CI=false / CI=0 and an empty NO_COLOR count as unset', () => {
  for (const CI of ['false', '0', '']) assert.equal(loadConfig({ CI }, { home }).output.ci, false, `CI=${CI}`);
  assert.equal(loadConfig({ NO_COLOR: '' }, { home }).output.noColor, false);
});

test('a malformed hub variable fails only when the hub settings are used, with a ConfigError', () => {
  const c = loadConfig({ HF_ENDPOINT: 'ftp://nope' }, { platform: 'linux', home });
  assert.equal(c.paths.cacheDir, join(home, '.cache', 'aivmm')); // the rest of the config is fine
  assert.throws(() => c.hub, (e: Error & { code?: string }) => e.code === 'CONFIG' && /HF_ENDPOINT/.test(e.message));
});

test('output mode: --json over AIVMM_JSON over the terminal; colour off with --no-color, NO_COLOR or JSON', () => {
  const none = { json: false, noColor: false, ci: false };
  assert.equal(resolveOutput(none, {}, true).mode, 'tty');
  assert.equal(resolveOutput(none, {}, false).mode, 'plain');
  assert.equal(resolveOutput({ ...none, ci: true }, {}, true).mode, 'plain');
  assert.equal(resolveOutput(none, { json: true }, true).mode, 'json');
  assert.equal(resolveOutput({ ...none, json: true }, {}, true).mode, 'json');
  assert.equal(resolveOutput(none, {}, true).color, true);
  assert.equal(resolveOutput(none, { color: false }, true).color, false);
  assert.equal(resolveOutput({ ...none, noColor: true }, {}, true).color, false);
  assert.equal(resolveOutput(none, { json: true }, false).color, false);
});

test('every variable the source reads is in ENV_VARS, and docs/configuration.md lists every one', () => {
  const src = new URL('../../src', import.meta.url).pathname;
  const read = new Set(
    execFileSync('grep', ['-rhoE', "env(\\[['\"][A-Z_0-9]+['\"]\\]|\\.[A-Z_][A-Z_0-9]+)", src], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((m: string) => m.replace(/^env(\[['"]|\.)/, '').replace(/['"]\]$/, '')),
  );
  // names read through a helper (seconds(env, NAME, …)) rather than env[...]
  for (const n of ['HF_HUB_DOWNLOAD_TIMEOUT', 'HF_HUB_ETAG_TIMEOUT']) read.add(n);
  read.delete('FORCE_COLOR'); // written for Ink/chalk, not read
  const table = new Set(ENV_VARS.map((v) => v.name));
  assert.deepEqual([...read].filter((n) => !table.has(n)).sort(), [], 'read but not in ENV_VARS');
  const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  assert.deepEqual([...table].filter((n) => !doc.includes(`\`${n}\``)), [], 'in ENV_VARS but not in docs/configuration.md');
});
