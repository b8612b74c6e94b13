/**
 * The OpenAPI 3.1 document of the running server, built from the routes as registered (their JSON
 * schemas for params, query and body, and the summary/tags/response notes kept on each schema), so the
 * document cannot drift from what the server validates.
 */
export interface RouteDoc {
  method: string | string[];
  url: string;
  schema?: {
    summary?: string;
    description?: string;
    tags?: string[];
    params?: { properties?: Record<string, unknown> };
    querystring?: { properties?: Record<string, unknown> };
    body?: unknown;
    /** Documented responses: status → description (and optional schema), not used for serialisation. */
    'x-responses'?: Record<string, { description: string; schema?: unknown; contentType?: string }>;
    'x-content-types'?: string[];
  };
}

export function buildOpenApi(routes: readonly RouteDoc[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const methods = (Array.isArray(r.method) ? r.method : [r.method]).filter((m) => m !== 'HEAD');
    for (const m of methods) {
      const s = r.schema ?? {};
      const op: Record<string, unknown> = { summary: s.summary ?? `${m} ${path}` };
      if (s.description) op['description'] = s.description;
      if (s.tags) op['tags'] = s.tags;
      const params: unknown[] = [];
      for (const [name, schema] of Object.entries(s.params?.properties ?? {})) params.push({ name, in: 'path', required: true, schema });
      for (const [name, schema] of Object.entries(s.querystring?.properties ?? {})) params.push({ name, in: 'query', required: false, schema });
      if (params.length) op['parameters'] = params;
      if (s.body || s['x-content-types']) {
        const content: Record<string, unknown> = {};
        if (s.body) content['application/json'] = { schema: s.body };
        for (const t of s['x-content-types'] ?? []) content[t] = { schema: { type: 'string', format: 'binary' } };
        op['requestBody'] = { required: true, content };
      }
      const responses: Record<string, unknown> = {};
      for (const [status, d] of Object.entries(s['x-responses'] ?? { 200: { description: 'OK' } })) {
        responses[status] = { description: d.description, ...(d.schema ? { content: { [d.contentType ?? 'application/json']: { schema: d.schema } } } : {}) };
      }
      responses['default'] ??= { description: 'An error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
      op['responses'] = responses;
      (paths[path] ??= {})[m.toLowerCase()] = op;
    }
  }
  return {
    openapi: '3.1.0',
    info: { title: 'aivmm serve', version, description: 'KServe v2 (Open Inference Protocol) REST with the binary tensor extension and the model repository extension, plus aivmm\'s placement and event routes.' },
    components: {
      schemas: { Error: { type: 'object', required: ['error'], properties: { error: { type: 'string' }, code: { type: 'string' }, hint: { type: 'string' } } } },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
    security: [{ bearer: [] }, {}],
    paths,
  };
}

// Documentation keys on route schemas (as @fastify/swagger adds them): Fastify ignores them when it
// compiles validators; buildOpenApi reads them.
declare module 'fastify' {
  interface FastifySchema {
    summary?: string;
    description?: string;
    tags?: string[];
    'x-responses'?: Record<string, { description: string; schema?: unknown; contentType?: string }>;
    'x-content-types'?: string[];
  }
}
