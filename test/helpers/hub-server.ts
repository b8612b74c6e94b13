/**
 * A real HTTP server on 127.0.0.1 that speaks the Hugging Face Hub protocol (revision API, paginated tree
 * listing, HEAD/GET resolve with X-Repo-Commit / X-Linked-Etag / X-Linked-Size / ETag, 302 to a second
 * "CDN" server for LFS files, Range requests), with fault injection for the download path.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RepoSpec {
  /** commit sha → files */
  commits: Record<string, Record<string, Uint8Array>>;
  refs: Record<string, string>;
  gated?: boolean;
  private?: boolean;
  /** Tree entries added verbatim (e.g. hostile paths). */
  extraTree?: { type: 'file'; path: string; size: number; oid: string }[];
}

export interface Faults {
  /** CDN: close the connection after this many bytes, this many times. */
  cutAfterBytes?: number;
  cuts?: number;
  /** CDN: flip a byte in every response. */
  corrupt?: boolean;
  /** CDN: answer 200 with the whole file to Range requests. */
  ignoreRange?: boolean;
  /** Hub API + resolve: answer 503 this many times first. */
  fail5xx?: number;
  /** Hub API: answer 429 (Retry-After: 2) this many times first. */
  rateLimit?: number;
  /** CDN: the blob is this many bytes shorter than the Hub announces (X-Linked-Size). */
  shortBy?: number;
  /** CDN: bytes per second per connection (0: unlimited). */
  bytesPerSec?: number;
  /** CDN: send this many bytes of a response, then nothing more (the connection stays open), `stalls` times (default: always). */
  stallAfterBytes?: number;
  stalls?: number;
  /** Hub API (revision, tree): send the headers and half the body, then stall. */
  apiStall?: boolean;
  /** resolve: this etag (X-Linked-Etag for LFS files, ETag otherwise) instead of the real one. */
  etag?: string;
  /** resolve: this X-Repo-Commit instead of the real one. */
  repoCommit?: string;
}

export interface LogEntry {
  server: 'hub' | 'cdn';
  method: string;
  url: string;
  range?: string;
  auth?: string;
}

const memo = new WeakMap<Uint8Array, { sha256?: string; sha1?: string }>();
/** Hashes are memoised per buffer: the server must not spend its time re-hashing big files on every request. */
const sha256 = (b: Uint8Array): string => {
  const m = memo.get(b) ?? {};
  m.sha256 ??= createHash('sha256').update(b).digest('hex');
  memo.set(b, m);
  return m.sha256;
};
const gitSha1 = (b: Uint8Array): string => {
  const m = memo.get(b) ?? {};
  m.sha1 ??= createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
  memo.set(b, m);
  return m.sha1;
};
/** Files stored in LFS on the fake Hub: ONNX models and their external data, or anything over 1 KiB. */
const isLfs = (path: string, b: Uint8Array): boolean => /\.onnx($|_data|\.data)/.test(path) || b.length > 1024;

export class FakeHub {
  readonly repos = new Map<string, RepoSpec>();
  readonly log: LogEntry[] = [];
  faults: Faults = {};
  /** Body bytes the CDN has written (all responses, since start or the last reset by the test). */
  cdnBytes = 0;
  /** Called as CDN bytes go out (with the running total): kill points for tests. */
  onCdnBytes: ((total: number) => void) | undefined;
  pageSize = 2;
  validToken = 'hf_test_token_0123456789';
  private hub!: Server;
  private cdn!: Server;
  private blobs = new Map<string, Uint8Array>();
  hubUrl = '';
  cdnUrl = '';

  addRepo(id: string, spec: RepoSpec): void {
    this.repos.set(id, spec);
    for (const files of Object.values(spec.commits)) for (const b of Object.values(files)) this.blobs.set(sha256(b), b);
  }

  async start(): Promise<this> {
    this.hub = createServer((req, res) => void this.onHub(req, res));
    this.cdn = createServer((req, res) => void this.onCdn(req, res));
    await Promise.all([this.hub, this.cdn].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))));
    this.hubUrl = `http://127.0.0.1:${(this.hub.address() as AddressInfo).port}`;
    this.cdnUrl = `http://localhost:${(this.cdn.address() as AddressInfo).port}`; // another host name: no token may go there
    return this;
  }

  async stop(): Promise<void> {
    for (const s of [this.hub, this.cdn]) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  }

  private error(res: ServerResponse, status: number, code?: string, message = ''): void {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (code) headers['x-error-code'] = code;
    if (message) headers['x-error-message'] = message;
    res.writeHead(status, headers).end(JSON.stringify({ error: message || code || String(status) }));
  }

  private authFails(req: IncomingMessage, res: ServerResponse, repo: RepoSpec, id: string): boolean {
    const auth = req.headers.authorization;
    if (auth && auth !== `Bearer ${this.validToken}`) {
      this.error(res, 401, undefined, 'Invalid credentials in Authorization header');
      return true;
    }
    if (repo.gated && !auth) {
      this.error(res, 401, 'GatedRepo', `Access to model ${id} is restricted. You must have access to it and be authenticated to access it. Please log in.`);
      return true;
    }
    if (repo.private && !auth) {
      this.error(res, 401, 'RepoNotFound', 'Repository not found');
      return true;
    }
    return false;
  }

  private commitOf(repo: RepoSpec, rev: string): string | undefined {
    return repo.commits[rev] ? rev : repo.refs[rev];
  }

  private async onHub(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.hubUrl);
    if (url.pathname === '/__faults' && req.method === 'POST') {
      // Control endpoint for a server running in another process (scripts/bench-pull.ts).
      let text = '';
      for await (const c of req) text += String(c);
      this.faults = JSON.parse(text) as Faults;
      res.writeHead(204).end();
      return;
    }
    this.log.push({ server: 'hub', method: req.method ?? '', url: url.pathname + url.search, ...(req.headers.authorization ? { auth: req.headers.authorization } : {}) });
    if (this.faults.fail5xx && this.faults.fail5xx > 0) {
      this.faults.fail5xx--;
      return this.error(res, 503, undefined, 'Service Unavailable');
    }
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/(revision|tree)\/([^/]+)(?:\/(.*))?$/.exec(url.pathname);
    if (api) {
      if (this.faults.rateLimit && this.faults.rateLimit > 0) {
        this.faults.rateLimit--;
        res.writeHead(429, { 'retry-after': '2', 'x-error-message': 'rate limited' }).end();
        return;
      }
      const [, id = '', kind, revRaw = ''] = api;
      const repo = this.repos.get(id);
      if (!repo) return this.error(res, 401, 'RepoNotFound', 'Repository not found');
      if (this.authFails(req, res, repo, id)) return;
      const rev = decodeURIComponent(revRaw);
      const commit = this.commitOf(repo, rev);
      if (!commit) return this.error(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
      if (kind === 'revision') {
        const text = JSON.stringify({ id, sha: commit, siblings: Object.keys(repo.commits[commit] ?? {}).map((rfilename) => ({ rfilename })) });
        if (this.faults.apiStall) {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(text.length) });
          res.write(text.slice(0, text.length >> 1)); // and never the rest
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(text);
        return;
      }
      const files = Object.entries(repo.commits[commit] ?? {}).map(([path, b]) => ({
        type: 'file' as const,
        path,
        size: b.length,
        oid: gitSha1(b),
        ...(isLfs(path, b) ? { lfs: { oid: sha256(b), size: b.length, pointerSize: 130 } } : {}),
      }));
      const all = [...files, ...(repo.extraTree ?? [])];
      const cursor = Number(url.searchParams.get('cursor') ?? '0');
      const page = all.slice(cursor, cursor + this.pageSize);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (cursor + this.pageSize < all.length) {
        const next = new URL(url);
        next.searchParams.set('cursor', String(cursor + this.pageSize));
        headers['link'] = `<${next.toString()}>; rel="next"`;
      }
      res.writeHead(200, headers).end(JSON.stringify(page));
      return;
    }
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (resolve) {
      const [, id = '', revRaw = '', pathRaw = ''] = resolve;
      const repo = this.repos.get(id);
      if (!repo) return this.error(res, 401, 'RepoNotFound', 'Repository not found');
      if (this.authFails(req, res, repo, id)) return;
      const commit = this.commitOf(repo, decodeURIComponent(revRaw));
      if (!commit) return this.error(res, 404, 'RevisionNotFound', 'Invalid rev id');
      const path = decodeURIComponent(pathRaw);
      const body = repo.commits[commit]?.[path];
      if (!body) {
        res.writeHead(404, { 'x-error-code': 'EntryNotFound', 'x-repo-commit': commit }).end();
        return;
      }
      const repoCommit = this.faults.repoCommit ?? commit;
      if (isLfs(path, body)) {
        const oid = sha256(body);
        res.writeHead(302, { location: `${this.cdnUrl}/blob/${oid}?signed=1`, 'x-repo-commit': repoCommit, 'x-linked-etag': `"${this.faults.etag ?? oid}"`, 'x-linked-size': String(body.length), etag: `"${gitSha1(body)}"` }).end();
        return;
      }
      res.writeHead(200, { 'x-repo-commit': repoCommit, etag: `"${this.faults.etag ?? gitSha1(body)}"`, 'content-length': String(body.length) });
      res.end(req.method === 'HEAD' ? undefined : Buffer.from(body));
      return;
    }
    this.error(res, 404);
  }

  private async onCdn(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.cdnUrl);
    this.log.push({ server: 'cdn', method: req.method ?? '', url: url.pathname, ...(req.headers.range ? { range: req.headers.range } : {}), ...(req.headers.authorization ? { auth: req.headers.authorization } : {}) });
    const m = /^\/blob\/([0-9a-f]{64})$/.exec(url.pathname);
    const full = m ? this.blobs.get(m[1] ?? '') : undefined;
    const blob = full && this.faults.shortBy ? full.subarray(0, full.length - this.faults.shortBy) : full;
    if (!blob) return this.error(res, 404);
    let start = 0;
    let end = blob.length - 1;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    let status = 200;
    if (range && !this.faults.ignoreRange) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), blob.length - 1) : blob.length - 1;
      if (start >= blob.length) {
        res.writeHead(416, { 'content-range': `bytes */${blob.length}` }).end();
        return;
      }
      status = 206;
    }
    let body = Buffer.from(blob.buffer, blob.byteOffset + start, end + 1 - start); // a view, not a copy
    if (this.faults.corrupt) {
      body = Buffer.from(body); // a copy, so the stored blob stays intact
      body[0] = (body[0] ?? 0) ^ 0xff;
    }
    const headers: Record<string, string> = { 'content-length': String(body.length), 'accept-ranges': 'bytes' };
    if (status === 206) headers['content-range'] = `bytes ${start}-${end}/${blob.length}`;
    res.writeHead(status, headers);
    const served = (n: number): void => {
      this.cdnBytes += n;
      this.onCdnBytes?.(this.cdnBytes);
    };
    const stallAt = this.faults.stallAfterBytes;
    if (stallAt !== undefined && (this.faults.stalls === undefined || this.faults.stalls > 0) && body.length > stallAt) {
      if (this.faults.stalls !== undefined) this.faults.stalls--;
      res.write(body.subarray(0, stallAt));
      served(stallAt);
      return; // the connection stays open, silent
    }
    const cut = this.faults.cuts && this.faults.cuts > 0 && this.faults.cutAfterBytes !== undefined && body.length > this.faults.cutAfterBytes;
    if (cut) {
      this.faults.cuts = (this.faults.cuts ?? 1) - 1;
      res.write(body.subarray(0, this.faults.cutAfterBytes));
      served(this.faults.cutAfterBytes ?? 0);
      setTimeout(() => res.destroy(), 20);
      return;
    }
    const rate = this.faults.bytesPerSec ?? 0;
    if (!rate) {
      res.end(body);
      served(body.length);
      return;
    }
    // Throttled: 10 slices per second.
    const slice = Math.max(1, Math.floor(rate / 10));
    for (let i = 0; i < body.length; i += slice) {
      if (res.destroyed) return;
      const part = body.subarray(i, i + slice);
      if (!res.write(part)) await new Promise((r) => res.once('drain', r));
      served(part.length);
      await new Promise((r) => setTimeout(r, 100));
    }
    res.end();
  }
}

/** Deterministic bytes. */
export function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export { sha256, gitSha1 };
