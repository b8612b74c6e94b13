/**
 * HTTP to the Hub as huggingface_hub speaks it: retries with backoff on 408/429/5xx and network errors
 * (honouring Retry-After and the RateLimit header), errors classified by X-Error-Code into aivmm's error
 * codes, and the token sent only to the Hub's own host. The token never appears in a message.
 */
import { AuthError, CancelledError, NetworkError, NotFoundError, errorMessage, type AivmmError } from '../errors.js';

export interface HttpClient {
  endpoint: string;
  token?: string;
  userAgent: string;
  /** Retries after the first attempt for retryable answers (default 5, as huggingface_hub). */
  maxRetries: number;
  /** Backoff base; waits are base·1, 2, 4, 8, 8 (default 1000 ms). */
  backoffMs: number;
  /** Bounds each attempt whole: connection, headers and body (HF_HUB_ETAG_TIMEOUT). */
  timeoutMs: number;
  sleep: (ms: number) => Promise<void>;
  onRetry?: (why: string, waitMs: number) => void;
  signal?: AbortSignal;
}

/** Failures no retry heals: an unknown host, a port fetch refuses, a URL it cannot use, a bad certificate. */
function permanentFailure(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? '';
  const text = `${cause?.message ?? ''} ${(err as Error)?.message ?? ''}`;
  return ['ENOTFOUND', 'ERR_INVALID_URL', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN'].includes(code) || /bad port|credentials|invalid url/i.test(text);
}

const cancelled = (): CancelledError => new CancelledError('the pull was cancelled');

export const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);

/** Headers for a request to `url`: Authorization only when it goes to the Hub's own host. */
export function headersFor(client: HttpClient, url: string, extra: Record<string, string> = {}): Record<string, string> {
  const h: Record<string, string> = { 'user-agent': client.userAgent, ...extra };
  if (client.token && new URL(url).host === new URL(client.endpoint).host) h['authorization'] = `Bearer ${client.token}`;
  return h;
}

/** Seconds to wait on a 429/503: RateLimit `"bucket";r=0;t=55` (+1 s), else Retry-After (seconds or a date). */
export function retryAfterMs(res: Response, now: () => number = Date.now): number | undefined {
  const rl = res.headers.get('ratelimit');
  const t = rl ? /(?:^|;)\s*t=(\d+)/.exec(rl)?.[1] : undefined;
  const r = rl ? /(?:^|;)\s*r=(\d+)/.exec(rl)?.[1] : undefined;
  if (t !== undefined && r === '0') return (Number(t) + 1) * 1000;
  const ra = res.headers.get('retry-after');
  if (!ra) return undefined;
  if (/^\d+(\.\d+)?$/.test(ra.trim())) return Number(ra) * 1000;
  const at = Date.parse(ra);
  return Number.isFinite(at) ? Math.max(0, at - now()) : undefined;
}

/**
 * One request with retries. Returns the final response (ok or not) with its body already read, within
 * the same timeout as the headers: a body that stalls is a retried failure, never a hang. Throws
 * NetworkError when the network fails every time, CancelledError when `client.signal` fires.
 */
export async function request(client: HttpClient, url: string, init: RequestInit & { retry?: boolean }): Promise<Response> {
  const retries = init.retry === false ? 0 : client.maxRetries;
  const what = `${init.method ?? 'GET'} ${new URL(url).pathname}`;
  for (let attempt = 0; ; attempt++) {
    if (client.signal?.aborted) throw cancelled();
    let res: Response | undefined;
    let failure: string | undefined;
    let permanent = false;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), client.timeoutMs);
    const signal = client.signal ? AbortSignal.any([ac.signal, client.signal]) : ac.signal;
    try {
      const live = await fetch(url, { ...init, signal });
      // Small answers (JSON, HEAD): read whole under the timer.
      const body = live.status === 204 || live.status === 304 || (init.method ?? 'GET') === 'HEAD' ? null : await live.arrayBuffer();
      res = new Response(body && body.byteLength > 0 ? body : null, { status: live.status, statusText: live.statusText, headers: live.headers });
    } catch (err) {
      if (client.signal?.aborted) throw cancelled();
      const cause = (err as { cause?: unknown }).cause;
      permanent = permanentFailure(err);
      failure = ac.signal.aborted ? `${what} got no complete answer within ${client.timeoutMs / 1000} s (HF_HUB_ETAG_TIMEOUT)` : `${what}: ${errorMessage(cause ?? err)}`;
      res = undefined;
    } finally {
      clearTimeout(timer);
    }
    if (res && !RETRYABLE.has(res.status)) return res;
    if (attempt >= retries || permanent) {
      if (res) return res;
      throw new NetworkError(`cannot reach ${new URL(url).host}: ${failure ?? 'no answer'}${permanent ? '' : ` (${attempt + 1} attempts)`}`, permanent ? 'check HF_ENDPOINT and the network (retrying would not help), or set HF_HUB_OFFLINE=1 to use only what is cached' : 'check the network, or set HF_HUB_OFFLINE=1 to use only what is cached');
    }
    const backoff = client.backoffMs * Math.min(8, 2 ** attempt);
    const wait = res ? (retryAfterMs(res) ?? backoff) : backoff;
    client.onRetry?.(res ? `${what}: HTTP ${res.status}` : (failure ?? 'network error'), wait);
    await client.sleep(wait);
  }
}

/** The Hub's error for a non-ok response, as huggingface_hub classifies it (X-Error-Code first). */
export async function hubError(client: HttpClient, res: Response, what: { repo: string; revision?: string; path?: string }): Promise<AivmmError> {
  const code = res.headers.get('x-error-code') ?? '';
  let message = res.headers.get('x-error-message') ?? '';
  if (!message) {
    const body = await res.text().catch(() => '');
    try {
      const j = JSON.parse(body) as { error?: string | string[]; message?: string };
      message = (Array.isArray(j.error) ? j.error.join('; ') : j.error) ?? j.message ?? '';
    } catch {
      message = body.slice(0, 200);
    }
  }
  const page = `${client.endpoint}/${what.repo}`;
  const tokenHint = client.token ? 'the token in HF_TOKEN (or $HF_HOME/token) was sent' : 'set HF_TOKEN=hf_… (a read token from https://huggingface.co/settings/tokens)';
  if (code === 'GatedRepo') {
    return new AuthError(`${what.repo} is a gated model: ${res.status === 403 ? 'your account is not in its authorized list' : 'it needs an authenticated account'}`, `${client.token ? '' : `${tokenHint}; `}ask for access at ${page}`);
  }
  if (res.status === 401 && /invalid credentials/i.test(message)) {
    return new AuthError('the Hugging Face token was refused (invalid credentials)', 'replace HF_TOKEN (or $HF_HOME/token) with a valid read token');
  }
  if (code === 'RepoNotFound' || (res.status === 401 && !code)) {
    return new NotFoundError(`model repository ${what.repo} not found on ${new URL(client.endpoint).host}`, `check the name; if it is private, ${tokenHint}`);
  }
  if (code === 'RevisionNotFound') return new NotFoundError(`revision '${what.revision ?? ''}' not found in ${what.repo}`, `see the branches and tags at ${page}`);
  if (code === 'EntryNotFound' || (res.status === 404 && what.path)) return new NotFoundError(`file ${what.path ?? ''} not found in ${what.repo}${what.revision ? ` at ${what.revision}` : ''}`, `see the files at ${page}/tree/${what.revision ?? 'main'}`);
  if (res.status === 403) return new AuthError(`access to ${what.repo} refused (403)${message ? `: ${message}` : ''}`, `check that the token has read access; ${page}`);
  if (res.status === 404) return new NotFoundError(`model repository ${what.repo} not found on ${new URL(client.endpoint).host}`, `check the name; if it is private, ${tokenHint}`);
  if (res.status === 429) return new NetworkError(`the Hub's rate limit was reached and stayed so after ${client.maxRetries} retries`, 'wait a few minutes; a token (HF_TOKEN) has higher limits');
  return new NetworkError(`the Hub answered ${res.status}${message ? `: ${message}` : ''} (after ${client.maxRetries} retries)`, 'try again later');
}

/** `W/"abc"` → `abc`. */
export function normalizeEtag(etag: string | null): string | undefined {
  if (!etag) return undefined;
  return etag.replace(/^W\//, '').replace(/^"|"$/g, '');
}

/** The next page from a GitHub-style Link header. */
export function nextLink(res: Response): string | undefined {
  const link = res.headers.get('link');
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (m?.[1]) return m[1];
  }
  return undefined;
}
