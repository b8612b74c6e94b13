/**
 * Hugging Face settings read the way huggingface_hub reads them, so aivmm and Python share one cache and
 * one token: HF_ENDPOINT, HF_HOME, HF_HUB_CACHE (legacy HUGGINGFACE_HUB_CACHE), HF_TOKEN (legacy
 * HUGGING_FACE_HUB_TOKEN), HF_TOKEN_PATH (default $HF_HOME/token), HF_HUB_OFFLINE (or
 * TRANSFORMERS_OFFLINE), HF_HUB_DOWNLOAD_TIMEOUT, HF_HUB_ETAG_TIMEOUT. The CLI passes the environment in.
 * aivmm's own: AIVMM_PULL_CHUNK_BYTES (the size of one parallel range request; tests use small ones).
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
  /** For each metadata request (HEAD and API calls, body included), ms. */
  etagTimeoutMs: number;
  /** Bytes per parallel range request (default: the downloader's). */
  chunkBytes?: number;
}

/** The endpoint as the user gave it, with any password hidden: it goes into messages. */
function redact(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1***@');
}

/** HF_ENDPOINT must be a plain http(s) origin (and path): no credentials (they would be echoed and sent everywhere). */
function endpointOf(raw: string): string {
  const shown = redact(raw);
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ConfigError(`HF_ENDPOINT=${shown} is not a valid URL`, 'give the Hub address, e.g. https://huggingface.co');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(`HF_ENDPOINT=${shown} is not an http(s) URL`, 'give the Hub address, e.g. https://huggingface.co');
  if (u.username || u.password) throw new ConfigError(`HF_ENDPOINT=${shown} contains credentials`, 'remove them from the URL and put the token in HF_TOKEN');
  if (u.search || u.hash) throw new ConfigError(`HF_ENDPOINT=${shown} has a query or fragment`, 'give the Hub address only, e.g. https://huggingface.co');
  return `${u.origin}${u.pathname}`.replace(/\/+$/, '');
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
  const endpoint = endpointOf((env['HF_ENDPOINT'] || 'https://huggingface.co').trim());
  const chunkRaw = env['AIVMM_PULL_CHUNK_BYTES'];
  const chunkBytes = chunkRaw ? Number(chunkRaw) : undefined;
  if (chunkBytes !== undefined && (!Number.isSafeInteger(chunkBytes) || chunkBytes < 65_536)) throw new ConfigError(`AIVMM_PULL_CHUNK_BYTES=${chunkRaw} is not a byte count of at least 65536`);
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
    ...(chunkBytes !== undefined ? { chunkBytes } : {}),
  };
}
