/**
 * A plain node:http OTLP/HTTP traces receiver for the tracing tests: what the official exporters send,
 * decoded — JSON bodies (exporter-trace-otlp-http) or protobuf (exporter-trace-otlp-proto, by the
 * opentelemetry-proto schema, field numbers below) into the same OTLP/JSON shape (ids as hex, times as
 * decimal strings, attribute values as { stringValue | intValue | boolValue | doubleValue }).
 */
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

type KeyValue = { key: string; value: Record<string, unknown> };
interface Doc {
  resourceSpans: { resource: { attributes: KeyValue[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
}

/** The fields of one protobuf message: field number → values (a varint or fixed as bigint, a length-delimited field as bytes). */
function fields(b: Buffer): Map<number, (bigint | Buffer)[]> {
  const out = new Map<number, (bigint | Buffer)[]>();
  let i = 0;
  const varint = (): bigint => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      const c = b[i++];
      if (c === undefined) throw new Error('protobuf: truncated varint');
      v |= BigInt(c & 0x7f) << shift;
      if (!(c & 0x80)) return v;
      shift += 7n;
    }
  };
  while (i < b.length) {
    const tag = Number(varint());
    const wire = tag & 7;
    let v: bigint | Buffer;
    if (wire === 0) v = varint();
    else if (wire === 1) (v = b.readBigUInt64LE(i)), (i += 8);
    else if (wire === 5) (v = BigInt(b.readUInt32LE(i))), (i += 4);
    else if (wire === 2) {
      const len = Number(varint());
      v = b.subarray(i, i + len);
      i += len;
    } else throw new Error(`protobuf: wire type ${wire}`);
    const list = out.get(tag >>> 3) ?? [];
    list.push(v);
    out.set(tag >>> 3, list);
  }
  return out;
}

const bytesOf = (m: Map<number, (bigint | Buffer)[]>, f: number): Buffer[] => (m.get(f) ?? []) as Buffer[];
const oneBytes = (m: Map<number, (bigint | Buffer)[]>, f: number): Buffer | undefined => bytesOf(m, f)[0];
const oneInt = (m: Map<number, (bigint | Buffer)[]>, f: number): bigint | undefined => (m.get(f) as bigint[] | undefined)?.[0];

function anyValue(b: Buffer): Record<string, unknown> {
  const m = fields(b);
  if (m.has(1)) return { stringValue: oneBytes(m, 1)!.toString('utf8') };
  if (m.has(2)) return { boolValue: oneInt(m, 2) !== 0n };
  if (m.has(3)) return { intValue: Number(BigInt.asIntN(64, oneInt(m, 3)!)) };
  if (m.has(4)) {
    const d = Buffer.alloc(8);
    d.writeBigUInt64LE(oneInt(m, 4)!);
    return { doubleValue: d.readDoubleLE(0) };
  }
  return {};
}
const keyValues = (list: Buffer[]): KeyValue[] =>
  list.map((kv) => {
    const m = fields(kv);
    return { key: oneBytes(m, 1)?.toString('utf8') ?? '', value: anyValue(oneBytes(m, 2) ?? Buffer.alloc(0)) };
  });

/** ExportTraceServiceRequest (opentelemetry/proto/collector/trace/v1) in the OTLP/JSON shape. */
export function decodeProtobuf(body: Buffer): Doc {
  return {
    resourceSpans: bytesOf(fields(body), 1).map((rsb) => {
      const rs = fields(rsb);
      const resource = fields(oneBytes(rs, 1) ?? Buffer.alloc(0));
      return {
        resource: { attributes: keyValues(bytesOf(resource, 1)) },
        scopeSpans: bytesOf(rs, 2).map((ssb) => ({
          spans: bytesOf(fields(ssb), 2).map((sb): OtlpSpan => {
            const s = fields(sb);
            const parent = oneBytes(s, 4);
            const status = oneBytes(s, 15);
            const code = status ? oneInt(fields(status), 3) : undefined;
            return {
              traceId: oneBytes(s, 1)!.toString('hex'),
              spanId: oneBytes(s, 2)!.toString('hex'),
              ...(parent?.length ? { parentSpanId: parent.toString('hex') } : {}),
              name: oneBytes(s, 5)?.toString('utf8') ?? '',
              kind: Number(oneInt(s, 6) ?? 0n),
              startTimeUnixNano: String(oneInt(s, 7) ?? 0n),
              endTimeUnixNano: String(oneInt(s, 8) ?? 0n),
              attributes: keyValues(bytesOf(s, 9)),
              ...(status ? { status: code !== undefined ? { code: Number(code) } : {} } : {}),
            };
          }),
        })),
      };
    }),
  };
}

/** An OTLP/HTTP traces receiver: decodes ExportTraceServiceRequest, JSON or protobuf (gzip or not), and answers 200. */
export async function receiver(): Promise<Received & { url: string; close(): Promise<void> }> {
  const got: Received = { spans: [], resources: [], requests: [] };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      got.requests.push({ path: req.url ?? '', contentType: String(req.headers['content-type']), headers: req.headers });
      const json = String(req.headers['content-type']).startsWith('application/json');
      const doc = json ? (JSON.parse(body.toString('utf8')) as Doc) : decodeProtobuf(body);
      for (const rs of doc.resourceSpans) {
        got.resources.push(Object.fromEntries(rs.resource.attributes.map((a) => [a.key, Object.values(a.value)[0]])));
        for (const ss of rs.scopeSpans) got.spans.push(...ss.spans);
      }
      // an empty ExportTraceServiceResponse either way
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' }).end(json ? '{}' : undefined);
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
