/**
 * `pull` as a library: resolve a repository revision to its commit, list its files, pick the ONNX files
 * (with their external data and the small config/tokenizer files beside them), and bring each into the
 * shared Hugging Face cache: HEAD for etag/size/commit, download to a unique temp file, verify, rename to
 * the blob, link the snapshot, write the ref. A cross-process lock per blob makes concurrent pulls of
 * one file download it once. Offline (HF_HUB_OFFLINE), only the cache answers.
 */
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { CancelledError, ConfigError, IntegrityError, NetworkError, NotFoundError, UsageError } from '../errors.js';
import { checkRelativePath, ensureCacheTag, RepoCache } from './cache.js';
import { findAlias, loadCatalog } from './catalog.js';
import { downloadFile, rangesPathFor, type DownloadResult } from './download.js';
import { headersFor, hubError, nextLink, normalizeEtag, request, type HttpClient } from './http.js';
import type { HubSettings } from './settings.js';

export interface PullRequest {
  /** org/name, or org/name/path/in/repo.onnx for one file. */
  id: string;
  revision?: string;
  /** fnmatch-style globs (`*` spans `/`), as huggingface_hub's allow_patterns. */
  include?: readonly string[];
  /** transformers.js dtype suffix: fp32 (none), fp16, q8 (_quantized), int8, uint8, q4, q4f16, bnb4. */
  dtype?: string;
  force?: boolean;
}

export interface PullOptions {
  settings: HubSettings;
  userAgent: string;
  connections?: number;
  chunkBytes?: number;
  /** Files fetched at once. */
  parallelFiles?: number;
  backoffMs?: number;
  maxRetries?: number;
  sleep?: (ms: number) => Promise<void>;
  onEvent?: (e: PullEvent) => void;
  /** Cancels the pull (CancelledError); partial downloads are kept for the next run. */
  signal?: AbortSignal;
}

export type PullEvent =
  | { kind: 'plan'; files: { path: string; size: number }[] }
  | { kind: 'bytes'; path: string; n: number }
  /** Bytes of `path` kept from an earlier, interrupted run (counted as done, not transferred). */
  | { kind: 'kept'; path: string; n: number }
  | { kind: 'file-done'; path: string; downloaded: boolean }
  | { kind: 'retry'; path?: string; why: string }
  | { kind: 'waiting-lock'; path: string };

export interface PulledFile {
  path: string;
  localPath: string;
  size: number;
  etag: string;
  /** False when the blob was already in the cache. */
  downloaded: boolean;
  download?: DownloadResult;
}

export interface PullResult {
  /** The catalog alias pulled, if any. */
  alias?: string;
  repo: string;
  revision: string;
  commit: string;
  snapshotDir: string;
  cacheDir: string;
  offline: boolean;
  files: PulledFile[];
  warnings: string[];
}

interface TreeEntry {
  type: 'file' | 'directory';
  path: string;
  size: number;
  oid?: string;
  lfs?: { oid: string; size: number };
}

export function parseRepoId(id: string): { repo: string; path?: string } {
  const parts = id.split('/').filter((p) => p !== '');
  // '.' and '..' would be rewritten by URL normalisation into another repository's address.
  if (parts.length < 2 || parts.some((p) => !/^[\w.-]+$/.test(p) || p === '.' || p === '..')) {
    throw new UsageError(`'${id}' is not a Hub model id`, 'write org/name, e.g. onnx-community/whisper-tiny, or org/name/path/to/model.onnx');
  }
  const [org, name, ...rest] = parts as [string, string, ...string[]];
  const path = rest.join('/');
  if (path) checkRelativePath(path);
  return { repo: `${org}/${name}`, ...(path ? { path } : {}) };
}

/** fnmatch: `*` any run of characters (slashes included), `?` one, `[...]` a class. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const j = glob.indexOf(']', i + 1);
      if (j < 0) re += '\\[';
      else {
        re += `[${glob.slice(i + 1, j).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = j;
      }
    } else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

const DTYPE_SUFFIX: Readonly<Record<string, string>> = { fp32: '', fp16: '_fp16', int8: '_int8', uint8: '_uint8', q8: '_quantized', q4: '_q4', q4f16: '_q4f16', bnb4: '_bnb4' };
const KNOWN_SUFFIXES = Object.values(DTYPE_SUFFIX).filter(Boolean);
const SIDE_FILES = /(^|\/)(config\.json|generation_config\.json|preprocessor_config\.json|tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json|vocab\.txt|vocab\.json|merges\.txt|added_tokens\.json|labels\.txt|synset\.txt|.*\.names)$/;

/** External data files of an ONNX file: X.onnx_data, X.onnx_data_1, …, X.onnx.data. */
function isExternalDataOf(model: string, candidate: string): boolean {
  return candidate === `${model}_data` || candidate.startsWith(`${model}_data_`) || candidate === `${model}.data`;
}

/** Which files a pull takes: --include globs, or one named file, or the ONNX files of a dtype plus side files. */
export function selectFiles(tree: readonly TreeEntry[], req: { path?: string; include?: readonly string[]; dtype?: string }): TreeEntry[] {
  const files = tree.filter((e) => e.type === 'file');
  const withData = (models: readonly TreeEntry[]): TreeEntry[] => {
    const out = new Map<string, TreeEntry>();
    for (const m of models) {
      out.set(m.path, m);
      for (const f of files) if (isExternalDataOf(m.path, f.path)) out.set(f.path, f);
    }
    return [...out.values()];
  };
  if (req.include && req.include.length > 0) {
    const res = req.include.map(globToRegExp);
    return withData(files.filter((f) => res.some((r) => r.test(f.path))));
  }
  if (req.path) {
    const f = files.find((x) => x.path === req.path);
    if (!f) return [];
    const dir = posix.dirname(f.path);
    const side = files.filter((x) => SIDE_FILES.test(x.path) && (posix.dirname(x.path) === dir || posix.dirname(x.path) === '.' ));
    return withData([f, ...side]);
  }
  const dtype = req.dtype ?? 'fp32';
  const suffix = DTYPE_SUFFIX[dtype];
  if (suffix === undefined) throw new UsageError(`unknown --dtype '${dtype}'`, `use one of: ${Object.keys(DTYPE_SUFFIX).join(', ')}`);
  const onnx = files.filter((f) => f.path.endsWith('.onnx')).filter((f) => {
    const base = f.path.slice(0, -'.onnx'.length);
    return suffix === '' ? !KNOWN_SUFFIXES.some((s) => base.endsWith(s)) : base.endsWith(suffix);
  });
  const side = files.filter((f) => SIDE_FILES.test(f.path) && !f.path.includes('/'));
  return withData([...onnx, ...side]);
}

function client(opts: PullOptions): HttpClient {
  return {
    endpoint: opts.settings.endpoint,
    ...(opts.settings.token ? { token: opts.settings.token } : {}),
    userAgent: opts.userAgent,
    maxRetries: opts.maxRetries ?? 5,
    backoffMs: opts.backoffMs ?? 1000,
    timeoutMs: opts.settings.etagTimeoutMs,
    sleep: opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
    onRetry: (why, waitMs) => opts.onEvent?.({ kind: 'retry', why: `${why}; retrying in ${(waitMs / 1000).toFixed(waitMs < 1000 ? 1 : 0)} s` }),
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
}

const enc = (s: string): string => s.split('/').map(encodeURIComponent).join('/');

async function resolveCommit(c: HttpClient, repo: string, revision: string): Promise<string> {
  const res = await request(c, `${c.endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}`, { headers: headersFor(c, c.endpoint) });
  if (!res.ok) throw await hubError(c, res, { repo, revision });
  const info = (await jsonOf(res, c, 'the revision')) as { sha?: string };
  if (!info.sha || !/^[0-9a-f]{40}$/.test(info.sha)) throw new NotFoundError(`the Hub gave no commit for ${repo}@${revision}`);
  return info.sha;
}

async function listTree(c: HttpClient, repo: string, commit: string): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  let url: string | undefined = `${c.endpoint}/api/models/${repo}/tree/${commit}?recursive=true&expand=false`;
  for (let page = 0; url && page < 1000; page++) {
    const res = await request(c, url, { headers: headersFor(c, url) });
    if (!res.ok) throw await hubError(c, res, { repo, revision: commit });
    const page = await jsonOf(res, c, 'the file list');
    if (!Array.isArray(page)) throw new NetworkError(`the Hub's file list of ${repo} is not a list`, 'try again later');
    out.push(...(page as TreeEntry[]));
    const next = nextLink(res);
    url = next ? new URL(next, c.endpoint).toString() : undefined;
  }
  for (const e of out) checkRelativePath(e.path); // before anything is written
  return out;
}

/** A body that is not JSON (a proxy's error page, a cut answer) is a network failure, not a crash. */
async function jsonOf(res: Response, c: HttpClient, what: string): Promise<unknown> {
  const text = await res.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new NetworkError(`the answer of ${new URL(c.endpoint).host} for ${what} is not JSON`, 'check HF_ENDPOINT (a proxy may be answering), or try again later');
  }
}

const HASH_ETAG = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/**
 * What the Hub says about a file must be usable before it is used: the etag names the blob and is the
 * checksum (git sha1 or sha256 in lowercase hex, nothing else), the size is a byte count, and the commit
 * is the one asked for (the snapshot goes under the commit the ref points to).
 */
function checkMeta(repo: string, path: string, commit: string, meta: FileMeta): FileMeta {
  if (!HASH_ETAG.test(meta.etag)) {
    throw new IntegrityError(`the Hub gave etag '${meta.etag.slice(0, 80)}' for ${repo}/${path}: not a sha256 or git sha1, so the file could not be verified`, 'the server is not the Hub or is misbehaving (check HF_ENDPOINT); nothing was written');
  }
  if (!Number.isSafeInteger(meta.size) || meta.size < 0) throw new IntegrityError(`the Hub gave size '${String(meta.size)}' for ${repo}/${path}`, 'the server is misbehaving (check HF_ENDPOINT); nothing was written');
  if (meta.commit !== commit) {
    throw new IntegrityError(`the Hub answered for commit '${meta.commit.slice(0, 80)}' when asked for ${commit} (${repo}/${path})`, 'the server is misbehaving (check HF_ENDPOINT); nothing was written');
  }
  return meta;
}

interface FileMeta {
  etag: string;
  size: number;
  commit: string;
  /** Where the bytes are: the CDN (Location of a 3xx) or the resolve URL itself. */
  url: string;
}

async function headFile(c: HttpClient, repo: string, commit: string, path: string): Promise<FileMeta> {
  let url = `${c.endpoint}/${repo}/resolve/${commit}/${enc(path)}`;
  for (let hop = 0; hop < 5; hop++) {
    const res = await request(c, url, { method: 'HEAD', redirect: 'manual', headers: headersFor(c, url, { 'accept-encoding': 'identity' }) });
    const location = res.headers.get('location');
    const repoCommit = res.headers.get('x-repo-commit') ?? commit;
    const etag = normalizeEtag(res.headers.get('x-linked-etag') ?? res.headers.get('etag'));
    const linkedSize = res.headers.get('x-linked-size');
    if (res.status >= 300 && res.status < 400 && location) {
      const target = new URL(location, url);
      if (target.host === new URL(c.endpoint).host && !etag) {
        url = target.toString(); // a relative redirect (renamed repo): follow it on the Hub
        continue;
      }
      if (!etag || !linkedSize) throw new NotFoundError(`the Hub gave no etag or size for ${repo}/${path}`);
      return { etag, size: Number(linkedSize), commit: repoCommit, url: target.toString() };
    }
    if (!res.ok) throw await hubError(c, res, { repo, revision: commit, path });
    const size = Number(linkedSize ?? res.headers.get('content-length'));
    if (!etag || !Number.isFinite(size)) throw new NotFoundError(`the Hub gave no etag or size for ${repo}/${path}`);
    return { etag, size, commit: repoCommit, url };
  }
  throw new NotFoundError(`too many redirects for ${repo}/${path}`);
}

/** Offline: the ref and the snapshot's files, as huggingface_hub would serve them. */
async function fromCache(settings: HubSettings, repo: string, revision: string, req: PullRequest, path: string | undefined): Promise<PullResult> {
  const cache = new RepoCache(settings.cacheDir, repo);
  const commit = await cache.readRef(revision);
  const snapshotDir = commit ? join(cache.root, 'snapshots', commit) : '';
  const listed: TreeEntry[] = [];
  const walk = async (dir: string, prefix: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const rel = prefix ? `${prefix}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(join(dir, e.name), rel);
      else {
        const st = await stat(join(dir, e.name)).catch(() => undefined);
        if (st) listed.push({ type: 'file', path: rel, size: st.size });
      }
    }
  };
  if (commit) await walk(snapshotDir, '');
  if (commit && path && (await cache.knownMissing(commit, path))) {
    throw new NotFoundError(`file ${path} does not exist in ${repo} at ${commit.slice(0, 12)} (known from an earlier pull)`, `see the files at ${settings.endpoint}/${repo}/tree/${revision}`);
  }
  const chosen = selectFiles(listed, { ...(path ? { path } : {}), ...(req.include ? { include: req.include } : {}), ...(req.dtype ? { dtype: req.dtype } : {}) });
  if (!commit || chosen.length === 0) {
    throw new NotFoundError(`offline (HF_HUB_OFFLINE) and ${repo}${path ? `/${path}` : ''}@${revision} is not in the cache at ${settings.cacheDir}`, 'pull it once with network access, or unset HF_HUB_OFFLINE');
  }
  return {
    repo,
    revision,
    commit,
    snapshotDir,
    cacheDir: settings.cacheDir,
    offline: true,
    files: chosen.map((f) => ({ path: f.path, localPath: join(snapshotDir, f.path), size: f.size, etag: '', downloaded: false })),
    warnings: [],
  };
}

/** A catalog alias becomes its repo, revision and files; the result carries the alias and its warnings. */
export async function pullModel(req: PullRequest, opts: PullOptions): Promise<PullResult> {
  const entry = req.id.includes('/') ? undefined : findAlias(req.id);
  if (!entry) {
    if (!req.id.includes('/')) {
      throw new NotFoundError(`unknown model '${req.id}'`, `give a Hub id (org/name) or a catalog alias: ${loadCatalog().models.map((m) => m.alias).join(', ')}`);
    }
    return pullRepo(req, opts);
  }
  const result = await pullRepo({ ...req, id: entry.repo, revision: req.revision ?? entry.revision, include: req.include?.length ? req.include : entry.include }, opts);
  result.alias = entry.alias;
  if (entry.warning) result.warnings.push(`${entry.alias}: ${entry.warning}`);
  if (entry.commitPrefix && !result.offline && !result.commit.startsWith(entry.commitPrefix) && !req.revision) {
    result.warnings.push(`${entry.alias}: ${entry.repo}@${entry.revision} is now ${result.commit.slice(0, 12)}, not the ${entry.commitPrefix} the catalog describes; its files may differ`);
  }
  for (const f of result.files) {
    const known = entry.sha256?.[f.path];
    if (known && f.etag && /^[0-9a-f]{64}$/.test(f.etag) && f.etag !== known) result.warnings.push(`${entry.alias}: ${f.path} differs from the file the catalog describes (sha256 ${f.etag.slice(0, 12)} ≠ ${known.slice(0, 12)})`);
  }
  return result;
}

async function pullRepo(req: PullRequest, opts: PullOptions): Promise<PullResult> {
  const { repo, path } = parseRepoId(req.id);
  const revision = req.revision ?? 'main';
  const settings = opts.settings;
  if (settings.offline) return fromCache(settings, repo, revision, req, path);
  const c = client(opts);
  const cache = new RepoCache(settings.cacheDir, repo);
  const commit = await resolveCommit(c, repo, revision);
  const tree = await listTree(c, repo, commit);
  const chosen = selectFiles(tree, { ...(path ? { path } : {}), ...(req.include ? { include: req.include } : {}), ...(req.dtype ? { dtype: req.dtype } : {}) });
  if (chosen.length === 0) {
    if (path) await cache.markMissing(commit, path).catch(() => undefined); // as huggingface_hub records it
    const what = path ? `file ${path}` : req.include?.length ? `files matching ${req.include.join(', ')}` : `${req.dtype ?? 'fp32'} ONNX files`;
    throw new NotFoundError(`no ${what} in ${repo}@${revision}`, `see the files at ${settings.endpoint}/${repo}/tree/${revision}; pick with --include`);
  }
  opts.onEvent?.({ kind: 'plan', files: chosen.map((f) => ({ path: f.path, size: f.lfs?.size ?? f.size })) });
  try {
    await ensureCacheTag(settings.cacheDir);
  } catch (err) {
    throw storageError(err, settings.cacheDir);
  }

  const results: PulledFile[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < chosen.length) {
      const entry = chosen[next++] as TreeEntry;
      try {
        results.push(await pullFile(c, cache, commit, entry.path, req.force ?? false, opts));
      } catch (err) {
        next = chosen.length; // start nothing new
        throw err;
      }
    }
  };
  // Every transfer settles (and cleans up its temp file) before an error is reported.
  const settled = await Promise.allSettled(Array.from({ length: Math.min(opts.parallelFiles ?? 4, chosen.length) }, worker));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw storageError(failed.reason, settings.cacheDir);
  await cache.writeRef(revision, commit);
  results.sort((a, b) => a.path.localeCompare(b.path));
  return { repo, revision, commit, snapshotDir: join(cache.root, 'snapshots', commit), cacheDir: settings.cacheDir, offline: false, files: results, warnings: [] };
}

/** Disk full, read-only or forbidden cache directories become one clear line instead of a stack trace. */
function storageError(err: unknown, cacheDir: string): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return new ConfigError(`not enough disk space in ${cacheDir}`, 'free some space, or point HF_HUB_CACHE (or HF_HOME) at a bigger disk');
  if (code === 'EFBIG') return new ConfigError(`the file is too large to write in ${cacheDir} (a file-size limit or the file system's)`, 'check `ulimit -f`, or point HF_HUB_CACHE (or HF_HOME) at another file system');
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOTDIR') return new ConfigError(`cannot write to the Hugging Face cache ${cacheDir} (${code})`, 'fix its permissions, or point HF_HUB_CACHE (or HF_HOME) elsewhere');
  return err;
}

async function pullFile(c: HttpClient, cache: RepoCache, commit: string, path: string, force: boolean, opts: PullOptions): Promise<PulledFile> {
  const meta = checkMeta(cache.repo, path, commit, await headFile(c, cache.repo, commit, path));
  const done = async (downloaded: boolean, download?: DownloadResult): Promise<PulledFile> => {
    const localPath = await cache.link(meta.commit, path, meta.etag);
    opts.onEvent?.({ kind: 'file-done', path, downloaded });
    return { path, localPath, size: meta.size, etag: meta.etag, downloaded, ...(download ? { download } : {}) };
  };
  if (!force && (await cache.hasBlob(meta.etag, meta.size))) return done(false);
  const release = await cache.lock(meta.etag, () => opts.onEvent?.({ kind: 'waiting-lock', path }), opts.signal);
  try {
    // Another process may have fetched it while we waited for the lock.
    if (!force && (await cache.hasBlob(meta.etag, meta.size))) return await done(false);
    await mkdir(join(cache.root, 'blobs'), { recursive: true });
    // Under the lock the partial file can have a stable name, so a later run continues where this one stopped.
    const tmp = cache.partialFor(meta.etag);
    let keep = false;
    try {
      const download = await downloadFile({
        url: meta.url,
        headers: headersFor(c, meta.url), // no Authorization for the CDN: its URL is signed
        size: meta.size,
        etag: meta.etag,
        dest: tmp,
        connections: opts.connections ?? 8,
        chunkBytes: opts.chunkBytes ?? opts.settings.chunkBytes ?? 8 * 1024 * 1024,
        timeoutMs: opts.settings.downloadTimeoutMs,
        maxFailures: opts.maxRetries ?? 5,
        backoffMs: opts.backoffMs ?? 1000,
        sleep: c.sleep,
        resume: true,
        ...(opts.signal ? { signal: opts.signal } : {}),
        onBytes: (n) => opts.onEvent?.({ kind: 'bytes', path, n }),
        onKept: (n) => opts.onEvent?.({ kind: 'kept', path, n }),
        onRetry: (why) => opts.onEvent?.({ kind: 'retry', path, why }),
      });
      await rename(tmp, cache.blob(meta.etag));
      return await done(true, download);
    } catch (err) {
      // Bytes that arrived intact are worth keeping (their ranges are recorded beside them); wrong ones are not.
      keep = err instanceof NetworkError || err instanceof CancelledError;
      throw err;
    } finally {
      if (!keep) await Promise.all([rm(tmp, { force: true }), rm(rangesPathFor(tmp), { force: true })].map((p) => p.catch(() => undefined)));
    }
  } finally {
    await release();
  }
}
