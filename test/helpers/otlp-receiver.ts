/** A plain node:http OTLP/HTTP traces receiver for the tracing tests: what the official exporter sends, decoded. */
import { createServer, type IncomingMessage } from 'node:http';
import { gunzipSync } from 'node:zlib';

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: { key: string; value: Record<string, unknown> }[];
  status?: { code?: number };
}
export interface Received {
  spans: OtlpSpan[];
  resources: Record<string, unknown>[];
  requests: { path: string; contentType: string; headers: IncomingMessage['headers'] }[];
}

/** An OTLP/HTTP traces receiver: decodes ExportTraceServiceRequest JSON (gzip or not) and answers 200 {}. */
export async function receiver(): Promise<Received & { url: string; close(): Promise<void> }> {
  const got: Received = { spans: [], resources: [], requests: [] };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      got.requests.push({ path: req.url ?? '', contentType: String(req.headers['content-type']), headers: req.headers });
      const doc = JSON.parse(body.toString('utf8')) as { resourceSpans: { resource: { attributes: { key: string; value: Record<string, unknown> }[] }; scopeSpans: { spans: OtlpSpan[] }[] }[] };
      for (const rs of doc.resourceSpans) {
        got.resources.push(Object.fromEntries(rs.resource.attributes.map((a) => [a.key, Object.values(a.value)[0]])));
        for (const ss of rs.scopeSpans) got.spans.push(...ss.spans);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address() as { port: number };
  return Object.assign(got, { url: `http://127.0.0.1:${addr.port}`, close: () => new Promise<void>((r) => server.close(() => r())) });
}

export const attr = (s: OtlpSpan, key: string): unknown => {
  const a = s.attributes?.find((x) => x.key === key);
  return a ? Object.values(a.value)[0] : undefined;
};
