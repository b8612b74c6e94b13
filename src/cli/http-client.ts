/**
 * The load generator's HTTP client (`aivmm bench --server`): undici's request() over one keep-alive Agent.
 * The platform's fetch (also undici underneath) costs several times more client CPU per request (WHATWG
 * streams, Headers and Response objects); on a small machine where client and server share the cores that
 * CPU is taken from the server under test, so the cheaper client measures the server, not itself
 * (scripts/bench-server-vs-wrk.mjs compares it with wrk).
 */
import { Agent, request } from 'undici';
import type { HttpClient } from '../core/bench/server-load.js';

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
