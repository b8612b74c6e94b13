/**
 * The load generator's HTTP client (`aivmm bench --server`). On a small machine where client and server
 * share the cores, every microsecond of client CPU per request is taken from the server under test, so
 * the client must cost little (issue #17; scripts/bench-server-vs-wrk.mjs compares it with wrk):
 *
 * - `http:` URLs: a minimal HTTP/1.1 client over keep-alive `net` sockets (reads through `onread`, not
 *   the stream's 'data' events: about half the user CPU of a read), one request per connection at
 *   a time (a closed loop of N workers holds N connections, as wrk's `-c N`). The request's bytes (request
 *   line, headers, body) are built once per (method, URL, headers object, body) and reused: the load loop
 *   sends the same prepared request every time, so a request costs one socket write. The answer is
 *   parsed from the socket's chunks (status line, headers kept as raw lines and looked up on demand,
 *   Content-Length, chunked or read-to-close bodies). About 4× less client CPU per request than
 *   undici's request() (itself several times cheaper than the platform's fetch).
 * - `https:` URLs: undici's request() over one keep-alive Agent.
 *
 * A request on a reused connection that the server closed before answering a byte (its keep-alive
 * timeout racing our write) is sent once more on a new connection, as browsers and undici do.
 */
import { connect, type Socket } from 'node:net';
import { Agent, request } from 'undici';
import type { HttpClient, HttpResponse } from '../core/bench/server-load.js';

/** No byte for this long on a request in flight: it fails (undici's headers/body timeouts are 300 s). */
const IDLE_TIMEOUT_MS = 300_000;
const MAX_HEAD_BYTES = 64 * 1024;
const CRLF2 = Buffer.from('\r\n\r\n');
/** Every connection reads into this (reads are synchronous callbacks, one at a time). */
const READ_BUFFER = Buffer.alloc(64 * 1024);

interface Target {
  host: string;
  port: number;
  path: string;
  /** host:port as the Host header gives it. */
  authority: string;
  /** The idle connections' key. */
  origin: string;
}

interface Pending {
  resolve(r: HttpResponse): void;
  reject(e: Error): void;
  /** No byte of the answer has arrived yet (a retry on a new connection is safe). */
  untouched: boolean;
  method: string;
}

type BodyMode = { kind: 'length'; left: number } | { kind: 'chunked' } | { kind: 'close' } | { kind: 'none' };

class ResponseError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
  }
}

/** One keep-alive connection: write a request, parse its answer, hand the socket back. */
class Conn {
  readonly socket: Socket;
  pending: Pending | undefined;
  reused = false;
  closed = false;
  private buf: Buffer | undefined;
  private status = 0;
  private headers: string[] = [];
  private keepAlive = true;
  private mode: BodyMode | undefined;
  private parts: Buffer[] = [];
  private chunkLeft = -1;

  constructor(t: Target, private readonly onFree: (c: Conn) => void, private readonly onGone: (c: Conn) => void) {
    // onread: reads land in one shared buffer and come to a callback, past the stream machinery (the
    // 'data' event path costs more than the parse); what is kept is copied out first.
    this.socket = connect({ port: t.port, host: t.host, onread: { buffer: READ_BUFFER, callback: (n: number, buf: Uint8Array) => (this.data(Buffer.from(buf.subarray(0, n))), true) } });
    this.socket.setNoDelay(true);
    // Armed once (Node refreshes it on every read and write): a request in flight with no byte for this
    // long fails; an idle connection that old is closed.
    this.socket.setTimeout(IDLE_TIMEOUT_MS);
    this.socket.on('error', (e) => this.gone(e));
    this.socket.on('close', () => this.gone(new ResponseError('the server closed the connection', 'UND_ERR_SOCKET')));
    this.socket.on('timeout', () => this.socket.destroy(new ResponseError(`no answer for ${IDLE_TIMEOUT_MS / 1000} s`, 'UND_ERR_HEADERS_TIMEOUT')));
  }

  send(bytes: Buffer, p: Pending): void {
    this.pending = p;
    this.socket.write(bytes);
  }

  private gone(e: Error): void {
    if (this.closed && !this.pending) return;
    this.closed = true;
    this.onGone(this);
    const p = this.pending;
    this.pending = undefined;
    if (!p) return;
    // An answer read to the connection's close ends here.
    if (this.mode?.kind === 'close' && e instanceof ResponseError && e.code === 'UND_ERR_SOCKET') {
      this.finish(p, Buffer.concat(this.parts));
      return;
    }
    p.reject(e);
  }

  private fail(message: string): void {
    this.socket.destroy(new ResponseError(`invalid HTTP answer: ${message}`, 'HPE_INVALID'));
  }

  private data(d: Buffer): void {
    const p = this.pending;
    if (!p) {
      // Bytes nobody asked for (an answer after ours, or a server's error before closing): not reusable.
      this.socket.destroy();
      return;
    }
    p.untouched = false;
    let b = this.buf ? Buffer.concat([this.buf, d]) : d;
    this.buf = undefined;
    while (b.length > 0 || this.mode?.kind === 'none') {
      if (!this.mode) {
        const end = b.indexOf(CRLF2);
        if (end < 0) {
          if (b.length > MAX_HEAD_BYTES) return this.fail(`headers longer than ${MAX_HEAD_BYTES} bytes`);
          this.buf = b;
          return;
        }
        if (!this.head(b.toString('latin1', 0, end), p.method)) return;
        b = b.subarray(end + 4);
        continue;
      }
      const m = this.mode;
      if (m.kind === 'none') {
        this.done(p, b, Buffer.alloc(0));
        return;
      }
      if (m.kind === 'length') {
        if (b.length < m.left) {
          this.parts.push(b);
          m.left -= b.length;
          return;
        }
        const last = b.subarray(0, m.left);
        const rest = b.subarray(m.left);
        const body = this.parts.length === 0 ? last : Buffer.concat([...this.parts, last]);
        this.done(p, rest, body);
        return;
      }
      if (m.kind === 'close') {
        this.parts.push(b);
        return;
      }
      // chunked: size line, data, CRLF; a 0 size, trailers, CRLF
      if (this.chunkLeft < 0) {
        const eol = b.indexOf('\r\n');
        if (eol < 0) {
          if (b.length > 1024) return this.fail('chunk size line too long');
          this.buf = b;
          return;
        }
        const size = Number.parseInt(b.toString('latin1', 0, eol).split(';')[0] as string, 16);
        if (!Number.isFinite(size) || size < 0) return this.fail('bad chunk size');
        b = b.subarray(eol + 2);
        if (size === 0) {
          const end = b.indexOf('\r\n') === 0 ? 0 : b.indexOf(CRLF2);
          if (end < 0) {
            // trailers not complete yet: keep the terminal chunk's line for the next read
            this.buf = Buffer.concat([Buffer.from('0\r\n'), b]);
            return;
          }
          this.done(p, b.subarray(end === 0 ? 2 : end + 4), Buffer.concat(this.parts));
          return;
        }
        this.chunkLeft = size + 2; // the data and its CRLF
      }
      const take = Math.min(this.chunkLeft, b.length);
      const dataPart = b.subarray(0, Math.min(take, Math.max(0, this.chunkLeft - 2)));
      if (dataPart.length > 0) this.parts.push(dataPart);
      this.chunkLeft -= take;
      b = b.subarray(take);
      if (this.chunkLeft === 0) this.chunkLeft = -1;
    }
  }

  /** Status line and headers; sets the body mode. False when the answer is invalid (the socket is destroyed). */
  private head(text: string, method: string): boolean {
    const lines = text.split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] as string);
    if (!m) {
      this.fail(`status line '${(lines[0] as string).slice(0, 80)}'`);
      return false;
    }
    this.status = Number(m[2]);
    lines.shift();
    this.headers = lines;
    let length: number | undefined;
    let chunked = false;
    let connection = '';
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const c0 = line.charCodeAt(0) | 0x20;
      if (c0 !== 0x63 && c0 !== 0x74) continue; // c(ontent-length, onnection), t(ransfer-encoding)
      const name = line.slice(0, colon).trim().toLowerCase();
      if (name === 'content-length') length = Number(line.slice(colon + 1).trim());
      else if (name === 'transfer-encoding') chunked = /(^|,)\s*chunked\s*$/i.test(line.slice(colon + 1));
      else if (name === 'connection') connection = line.slice(colon + 1).trim().toLowerCase();
    }
    this.keepAlive = m[1] === '1' ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
    if (this.status >= 100 && this.status < 200) {
      // 100 Continue and the like: the real answer follows
      this.mode = undefined;
      return true;
    }
    if (method === 'HEAD' || this.status === 204 || this.status === 304) this.mode = { kind: 'none' };
    else if (chunked) this.mode = { kind: 'chunked' };
    else if (length !== undefined) {
      if (!Number.isSafeInteger(length) || length < 0) {
        this.fail('bad Content-Length');
        return false;
      }
      this.mode = length === 0 ? { kind: 'none' } : { kind: 'length', left: length };
    } else {
      this.mode = { kind: 'close' };
      this.keepAlive = false;
    }
    return true;
  }

  private done(p: Pending, rest: Buffer, body: Buffer): void {
    if (rest.length > 0) {
      // more than one answer to one request
      this.pending = undefined;
      this.socket.destroy();
      this.finish(p, body);
      return;
    }
    this.pending = undefined;
    this.finish(p, body);
    if (this.keepAlive) {
      this.onFree(this);
    } else {
      this.closed = true;
      this.onGone(this);
      this.socket.destroy();
    }
  }

  private finish(p: Pending, body: Buffer): void {
    const headers = this.headers;
    const status = this.status;
    this.mode = undefined;
    this.parts = [];
    this.chunkLeft = -1;
    this.reused = true;
    p.resolve({ status, body, header: (name) => headerValue(headers, name) });
  }
}

/** The first header line named `name` (any case), its value trimmed. */
export function headerValue(lines: readonly string[], name: string): string | undefined {
  const n = name.length;
  for (const line of lines) {
    if (line.length > n && line.charCodeAt(n) === 0x3a && line.slice(0, n).toLowerCase() === name.toLowerCase()) return line.slice(n + 1).trim();
  }
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === name.toLowerCase()) return line.slice(colon + 1).trim();
  }
  return undefined;
}

/** The minimal keep-alive HTTP/1.1 client for `http:` URLs (see the file's comment). */
export function http1Client(): { client: HttpClient; close: () => Promise<void> } {
  const targets = new Map<string, Target>();
  const idle = new Map<string, Conn[]>();
  const all = new Set<Conn>();
  // request bytes by headers object (the load loop reuses one), then by method and URL; hit when the body is the same object
  const built = new WeakMap<object, Map<string, { body: Uint8Array | undefined; bytes: Buffer }>>();
  // the last request's bytes: the load loop's hit, with no key to build
  let last: { url: string; method: string; headers: object; body: Uint8Array | undefined; bytes: Buffer } | undefined;
  let closing = false;

  const target = (url: string): Target => {
    let t = targets.get(url);
    if (!t) {
      const u = new URL(url);
      if (u.protocol !== 'http:') throw new TypeError(`not an http: URL: ${url}`);
      const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
      const port = u.port ? Number(u.port) : 80;
      t = { host, port, path: `${u.pathname}${u.search}`, authority: u.host, origin: `${host}:${port}` };
      targets.set(url, t);
    }
    return t;
  };

  const bytesFor = (url: string, t: Target, init: Parameters<HttpClient>[1]): Buffer => {
    if (last && last.url === url && last.headers === init.headers && last.body === init.body && last.method === init.method) return last.bytes;
    const bytes = build(url, t, init);
    last = { url, method: init.method, headers: init.headers, body: init.body, bytes };
    return bytes;
  };
  const build = (url: string, t: Target, init: Parameters<HttpClient>[1]): Buffer => {
    const key = `${init.method} ${url}`;
    let byUrl = built.get(init.headers);
    const hit = byUrl?.get(key);
    if (hit && hit.body === init.body) return hit.bytes;
    let head = `${init.method} ${t.path} HTTP/1.1\r\nhost: ${t.authority}\r\n`;
    for (const [k, v] of Object.entries(init.headers)) {
      const lk = k.toLowerCase();
      if (lk === 'host' || lk === 'content-length' || lk === 'connection' || lk === 'transfer-encoding') continue;
      if (/[\r\n]/.test(k) || /[\r\n]/.test(v)) throw new TypeError(`header '${k}' contains a line break`);
      head += `${k}: ${v}\r\n`;
    }
    if (init.body || init.method === 'POST') head += `content-length: ${init.body?.byteLength ?? 0}\r\n`;
    head += '\r\n';
    const h = Buffer.from(head, 'latin1');
    const bytes = init.body ? Buffer.concat([h, init.body]) : h;
    if (!byUrl) {
      byUrl = new Map();
      built.set(init.headers, byUrl);
    }
    byUrl.set(key, { body: init.body, bytes });
    return bytes;
  };

  const open = (t: Target): Conn => {
    const o = t.origin;
    const c: Conn = new Conn(
      t,
      (free) => {
        if (closing) return void free.socket.destroy();
        const list = idle.get(o);
        if (list) list.push(free);
        else idle.set(o, [free]);
      },
      (gone) => {
        all.delete(gone);
        const list = idle.get(o);
        const i = list ? list.indexOf(gone) : -1;
        if (list && i >= 0) list.splice(i, 1);
      },
    );
    all.add(c);
    return c;
  };

  const client: HttpClient = (url, init) => {
    let t: Target;
    let bytes: Buffer;
    try {
      t = target(url);
      bytes = bytesFor(url, t, init);
    } catch (err) {
      return Promise.reject(err);
    }
    if (init.signal?.aborted) return Promise.reject(init.signal.reason ?? new Error('aborted'));
    return new Promise<HttpResponse>((resolve, reject) => {
      let conn: Conn | undefined;
      const attempt = (retry: boolean): void => {
        conn = idle.get(t.origin)?.pop() ?? open(t);
        const c = conn;
        c.send(bytes, {
          method: init.method,
          untouched: true,
          resolve: init.signal
            ? (r) => {
                init.signal?.removeEventListener('abort', onAbort);
                resolve(r);
              }
            : resolve,
          reject(e) {
            if (retry && c.reused && this.untouched && !init.signal?.aborted) return attempt(false);
            if (init.signal) init.signal.removeEventListener('abort', onAbort);
            reject(Object.assign(new Error(`request to ${url} failed: ${e.message}`), { cause: e }));
          },
        });
      };
      const onAbort = (): void => {
        conn?.socket.destroy(init.signal?.reason instanceof Error ? init.signal.reason : new Error('aborted'));
      };
      if (init.signal) init.signal.addEventListener('abort', onAbort, { once: true });
      attempt(true);
    });
  };

  return {
    client,
    close: async () => {
      closing = true;
      // the load loop awaits its requests before closing; one still in flight fails here
      const waits = [...all].map((c) => new Promise<void>((r) => (c.socket.destroyed && c.closed ? r() : c.socket.once('close', () => r()))));
      for (const c of all) c.socket.destroy();
      idle.clear();
      await Promise.all(waits);
    },
  };
}

/** undici's request() over one keep-alive Agent (https:, where the minimal client does not go). */
export function undiciClient(): { client: HttpClient; close: () => Promise<void> } {
  const agent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000 });
  const client: HttpClient = async (url, init) => {
    const r = await request(url, {
      method: init.method,
      headers: init.headers,
      ...(init.body ? { body: Buffer.from(init.body.buffer, init.body.byteOffset, init.body.byteLength) } : {}),
      ...(init.signal ? { signal: init.signal } : {}),
      dispatcher: agent,
    });
    const body = new Uint8Array(await r.body.arrayBuffer());
    return {
      status: r.statusCode,
      header: (n) => {
        const v = r.headers[n.toLowerCase()];
        return Array.isArray(v) ? v[0] : v;
      },
      body,
    };
  };
  return { client, close: () => agent.close() };
}

/** The load generator's client: the minimal one for http: URLs, undici for the rest. */
export function loadClient(): { client: HttpClient; close: () => Promise<void> } {
  const fast = http1Client();
  const tls = undiciClient();
  const client: HttpClient = (url, init) => (/^http:/i.test(url) ? fast.client(url, init) : tls.client(url, init));
  return { client, close: async () => void (await Promise.all([fast.close(), tls.close()])) };
}
