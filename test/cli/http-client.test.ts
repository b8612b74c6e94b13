/**
 * The load generator's minimal HTTP/1.1 client (src/cli/http-client.ts) against real servers on loopback:
 * node:http (keep-alive, chunked, close, 204, a keep-alive timeout) and raw TCP servers for answers split
 * into small pieces and read-to-close bodies.
 */
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { http1Client, loadClient } from '../../src/cli/http-client.js';

let server: Server;
let base: string;
let connections = 0;
const seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] = [];

before(async () => {
  server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts).toString();
      seen.push({ method: req.method as string, url: req.url as string, headers: req.headers, body });
      if (req.url === '/chunked') {
        res.setHeader('server-timing', 'queue;dur=1, compute;dur=2');
        res.write('hello ');
        setTimeout(() => res.end('world'), 5);
      } else if (req.url === '/close') {
        res.setHeader('connection', 'close');
        res.end('bye');
      } else if (req.url === '/empty') {
        res.statusCode = 204;
        res.end();
      } else if (req.url === '/missing') {
        res.statusCode = 404;
        res.setHeader('content-type', 'application/json');
        res.end('{"error":"no such model"}');
      } else if (req.url === '/big') {
        res.setHeader('content-length', String(1 << 20));
        res.end(Buffer.alloc(1 << 20, 7));
      } else {
        res.setHeader('X-Echo-Length', String(body.length));
        res.setHeader('set-cookie', ['a=1', 'b=2']);
        res.end(`echo:${body}`);
      }
    });
  });
  server.on('connection', () => connections++);
  server.keepAliveTimeout = 200;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

async function tcpServer(onSocket: (s: Socket) => void): Promise<{ url: string; close: () => Promise<void> }> {
  const s: TcpServer = createTcpServer(onSocket);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, close: () => new Promise<void>((r) => s.close(() => r())) };
}

test('POST: the body and headers arrive, the answer comes back; one keep-alive connection for sequential requests', async () => {
  const { client, close } = http1Client();
  const before0 = connections;
  const headers = { 'content-type': 'application/json', 'x-a': 'b' };
  const body = new Uint8Array(Buffer.from('{"x":1}'));
  for (let i = 0; i < 20; i++) {
    const r = await client(`${base}/infer`, { method: 'POST', headers, body });
    assert.equal(r.status, 200);
    assert.equal(Buffer.from(r.body).toString(), 'echo:{"x":1}');
    assert.equal(r.header('x-echo-length'), '7');
    assert.equal(r.header('X-Echo-Length'), '7', 'header names in any case');
    assert.equal(r.header('set-cookie'), 'a=1', 'a repeated header: its first value');
    assert.equal(r.header('server-timing'), undefined);
  }
  assert.equal(connections - before0, 1, 'sequential requests reuse one connection');
  const last = seen[seen.length - 1];
  assert.equal(last?.headers['content-type'], 'application/json');
  assert.equal(last?.headers['x-a'], 'b');
  assert.equal(last?.headers['content-length'], '7');
  assert.equal(last?.headers['host'], base.slice('http://'.length));
  // the same headers object with another body: the new body is sent, not the cached bytes
  const r2 = await client(`${base}/infer`, { method: 'POST', headers, body: new Uint8Array(Buffer.from('other')) });
  assert.equal(Buffer.from(r2.body).toString(), 'echo:other');
  await close();
});

test('GET without a body; concurrent requests open one connection each', async () => {
  const { client, close } = http1Client();
  const before0 = connections;
  const rs = await Promise.all(Array.from({ length: 6 }, () => client(`${base}/get?q=1`, { method: 'GET', headers: {} })));
  for (const r of rs) assert.equal(Buffer.from(r.body).toString(), 'echo:');
  assert.equal(connections - before0, 6);
  const last = seen[seen.length - 1];
  assert.equal(last?.url, '/get?q=1');
  assert.equal(last?.method, 'GET');
  assert.equal(last?.headers['content-length'], undefined);
  await close();
});

test('chunked, connection: close, 204, 404, a 1 MiB body', async () => {
  const { client, close } = http1Client();
  const c = await client(`${base}/chunked`, { method: 'POST', headers: {}, body: new Uint8Array(Buffer.from('x')) });
  assert.equal(Buffer.from(c.body).toString(), 'hello world');
  assert.equal(c.header('server-timing'), 'queue;dur=1, compute;dur=2');
  const before0 = connections;
  for (let i = 0; i < 3; i++) assert.equal(Buffer.from((await client(`${base}/close`, { method: 'GET', headers: {} })).body).toString(), 'bye');
  // the first /close goes over the connection /chunked left open; each answer closes its connection
  assert.equal(connections - before0, 2, 'connection: close is honoured: a new connection after each');
  const e = await client(`${base}/empty`, { method: 'GET', headers: {} });
  assert.equal(e.status, 204);
  assert.equal(e.body.byteLength, 0);
  const m = await client(`${base}/missing`, { method: 'POST', headers: {}, body: new Uint8Array(2) });
  assert.equal(m.status, 404);
  assert.equal(Buffer.from(m.body).toString(), '{"error":"no such model"}');
  const b = await client(`${base}/big`, { method: 'GET', headers: {} });
  assert.equal(b.body.byteLength, 1 << 20);
  assert.ok(b.body.every((x) => x === 7));
  // the connection still works after all of those
  assert.equal((await client(`${base}/infer`, { method: 'POST', headers: {}, body: new Uint8Array(Buffer.from('z')) })).status, 200);
  await close();
});

test("the server's keep-alive timeout closes an idle connection: the next request opens a new one", async () => {
  const { client, close } = http1Client();
  assert.equal((await client(`${base}/infer`, { method: 'GET', headers: {} })).status, 200);
  await sleep(1500); // keepAliveTimeout 200 ms (Node's server closes an idle socket up to a second later)
  const before0 = connections;
  assert.equal((await client(`${base}/infer`, { method: 'GET', headers: {} })).status, 200);
  assert.equal(connections - before0, 1);
  await close();
});

test('an answer split into small pieces, chunked with trailers, and a body read to the close', async () => {
  const answers = [
    'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nServer-Timing: compute;dur=3\r\nContent-Length: 11\r\n\r\nhello world',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n',
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
  ];
  let k = 0;
  const tcp = await tcpServer((s) => {
    let got = '';
    s.on('data', async (d) => {
      got += d.toString('latin1');
      if (!got.includes('\r\n\r\n')) return;
      got = '';
      const a = answers[k++ % answers.length] as string;
      for (let i = 0; i < a.length; i += 3) {
        s.write(a.slice(i, i + 3));
        await sleep(1);
      }
    });
  });
  const { client, close } = http1Client();
  const want = ['hello world', 'hello world', 'ok', 'hello world', 'hello world', 'ok'];
  for (const w of want) {
    const r = await client(`${tcp.url}/x`, { method: 'GET', headers: {} });
    assert.equal(r.status, 200);
    assert.equal(Buffer.from(r.body).toString(), w);
  }
  await close();
  await tcp.close();

  const toClose = await tcpServer((s) => {
    s.once('data', () => s.end('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end'));
  });
  const c2 = http1Client();
  for (let i = 0; i < 2; i++) assert.equal(Buffer.from((await c2.client(`${toClose.url}/`, { method: 'GET', headers: {} })).body).toString(), 'until the end');
  await c2.close();
  await toClose.close();
});

test('the request goes out whole in one write: request line, host, the given headers, content-length, the body; on a new connection and on a reused one', async () => {
  // The raw server sees the bytes as sent; the writes are counted on the client's sockets as they are
  // made (net.client.socket), each passed on unchanged. Head and body written apart are two TCP segments
  // with TCP_NODELAY, which a server in another process may take in two reads.
  const received: Buffer[] = [];
  const tcp = await tcpServer((s) => {
    let mine: Buffer[] = [];
    s.on('data', (d: Buffer) => {
      mine.push(d);
      const b = Buffer.concat(mine);
      const end = b.indexOf('\r\n\r\n');
      if (end < 0 || b.length < end + 4 + Number(/\r\ncontent-length: (\d+)/.exec(b.toString('latin1', 0, end))?.[1] ?? 0)) return;
      received.push(b);
      mine = [];
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
  });
  const writes: number[] = [];
  const onSocket = (m: unknown): void => {
    const socket = (m as { socket: Socket }).socket;
    // Counts every write, passing it on to the write Node has in place (net's connect() and end() put their
    // own on the socket; a setter keeps them behind the count).
    let inner = socket.write as (...a: unknown[]) => boolean;
    const counted = function (this: Socket, ...a: unknown[]): boolean {
      writes.push((a[0] as Uint8Array).byteLength);
      return inner.apply(this, a);
    };
    Object.defineProperty(socket, 'write', { get: () => counted, set: (f: typeof inner) => void (inner = f), configurable: true });
  };
  subscribe('net.client.socket', onSocket);
  const { client, close } = http1Client();
  try {
    const body = new Uint8Array(Buffer.from(`{"inputs":[{"name":"input","shape":[1,3,32,32],"datatype":"FP32","data":[${Array.from({ length: 3072 }, (_, i) => Math.fround(Math.sin(i) * 0.5)).join(',')}]}]}`));
    const headers = { 'content-type': 'application/json' };
    for (let i = 0; i < 3; i++) assert.equal((await client(`${tcp.url}/v2/models/m/infer`, { method: 'POST', headers, body })).status, 200);
    const expected = Buffer.concat([Buffer.from(`POST /v2/models/m/infer HTTP/1.1\r\nhost: ${tcp.url.slice('http://'.length)}\r\ncontent-type: application/json\r\ncontent-length: ${body.byteLength}\r\n\r\n`), body]);
    assert.equal(received.length, 3);
    for (const [i, r] of received.entries()) assert.ok(r.equals(expected), `request ${i + 1}: byte for byte the request line, host, content-type, content-length and the body`);
    assert.deepEqual(writes, [expected.length, expected.length, expected.length], 'one socket write per request, head and body together');
  } finally {
    unsubscribe('net.client.socket', onSocket);
    await close();
    await tcp.close();
  }
});

test('a reused connection closed before any byte of the answer: sent once more on a new connection; a new one is not retried', async () => {
  let conns = 0;
  const tcp = await tcpServer((s) => {
    const n = ++conns;
    let requests = 0;
    s.on('data', () => {
      requests++;
      // the first connection answers its first request, then drops the second unanswered (a keep-alive race)
      if (n === 1 && requests === 2) s.destroy();
      else s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
  });
  const { client, close } = http1Client();
  for (let i = 0; i < 3; i++) assert.equal(Buffer.from((await client(`${tcp.url}/`, { method: 'GET', headers: {} })).body).toString(), 'ok');
  assert.equal(conns, 2);
  await close();
  await tcp.close();
});

test('failures: refused connection, a server that closes without answering, a malformed answer, a header with a line break', async () => {
  const { client, close } = http1Client();
  const dead = await tcpServer(() => {});
  const deadUrl = dead.url;
  await dead.close();
  await assert.rejects(client(`${deadUrl}/x`, { method: 'GET', headers: {} }), (e: Error & { cause?: { code?: string } }) => e.cause?.code === 'ECONNREFUSED');
  const hangup = await tcpServer((s) => s.once('data', () => s.destroy()));
  await assert.rejects(client(`${hangup.url}/x`, { method: 'GET', headers: {} }), /closed the connection|ECONNRESET/);
  await hangup.close();
  const junk = await tcpServer((s) => s.once('data', () => s.write('SSH-2.0-OpenSSH\r\n\r\n')));
  await assert.rejects(client(`${junk.url}/x`, { method: 'GET', headers: {} }), /invalid HTTP answer/);
  await junk.close();
  await assert.rejects(client(`${base}/x`, { method: 'GET', headers: { 'x-a': 'b\r\nx-injected: 1' } }), /line break/);
  await close();
});

test('loadClient: http: through the minimal client, an https: URL through undici (refused here: no TLS server)', async () => {
  const { client, close } = loadClient();
  assert.equal((await client(`${base}/infer`, { method: 'POST', headers: {}, body: new Uint8Array(Buffer.from('q')) })).status, 200);
  await assert.rejects(client(base.replace('http:', 'https:'), { method: 'GET', headers: {} }));
  await close();
});
