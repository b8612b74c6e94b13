/**
 * Hugging Face settings read the way huggingface_hub reads them, so aivmm and Python share one cache and
 * one token: HF_ENDPOINT, HF_HOME, HF_HUB_CACHE (legacy HUGGINGFACE_HUB_CACHE), HF_TOKEN (legacy
 * HUGGING_FACE_HUB_TOKEN), HF_TOKEN_PATH (default $HF_HOME/token), HF_HUB_OFFLINE (or
 * TRANSFORMERS_OFFLINE), HF_HUB_DOWNLOAD_TIMEOUT, HF_HUB_ETAG_TIMEOUT. The CLI passes the environment in.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { homeDir } from '../config/paths.js';
import { ConfigError } from '../errors.js';

export interface HubSettings {
  endpoint: string;
  /** The hub cache: models--org--name/{blobs,snapshots,refs} live here. */
  cacheDir: string;
  /** Never printed, logged or saved. */
  token?: string;
  offline: boolean;
  /** Per read on a download, ms. */
  downloadTimeoutMs: number;
  /** For the metadata HEAD, ms. */
  etagTimeoutMs: number;
}

const truthy = (v: string | undefined): boolean => /^(1|on|yes|true)$/i.test(v ?? '');

function seconds(env: Readonly<Record<string, string | undefined>>, name: string, def: number): number {
  const v = env[name];
  if (v === undefined || v === '') return def * 1000;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new ConfigError(`${name}=${v} is not a number of seconds`);
  return n * 1000;
}

export function hubSettings(env: Readonly<Record<string, string | undefined>>, home: string = homeDir()): HubSettings {
  const hfHome = env['HF_HOME'] || join(env['XDG_CACHE_HOME'] || join(home, '.cache'), 'huggingface');
  const cacheDir = env['HF_HUB_CACHE'] || env['HUGGINGFACE_HUB_CACHE'] || join(hfHome, 'hub');
  const endpoint = (env['HF_ENDPOINT'] || 'https://huggingface.co').replace(/\/+$/, '');
  if (!/^https?:\/\//.test(endpoint)) throw new ConfigError(`HF_ENDPOINT=${endpoint} is not an http(s) URL`);
  let token = env['HF_TOKEN'] || env['HUGGING_FACE_HUB_TOKEN'] || undefined;
  if (!token) {
    try {
      token = readFileSync(env['HF_TOKEN_PATH'] || join(hfHome, 'token'), 'utf8').trim() || undefined;
    } catch {
      token = undefined;
    }
  }
  return {
    endpoint,
    cacheDir,
    ...(token ? { token } : {}),
    offline: truthy(env['HF_HUB_OFFLINE']) || truthy(env['TRANSFORMERS_OFFLINE']),
    downloadTimeoutMs: seconds(env, 'HF_HUB_DOWNLOAD_TIMEOUT', 10),
    etagTimeoutMs: seconds(env, 'HF_HUB_ETAG_TIMEOUT', 10),
  };
}
