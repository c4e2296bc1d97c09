import { z } from 'zod';
import { GATEWAY_ERROR_CODES, HTTP_STATUS, errorResponse } from './errors.js';
import type { RouteDef } from './routes.js';

type JsonSchema = Record<string, unknown>;

/** A zod schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect), as a request (`input`) or a response (`output`). */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

function parameters(obj: z.ZodObject | undefined, where: 'path' | 'query'): JsonSchema[] {
  if (!obj) return [];
  return Object.entries(obj.shape).map(([name, field]) => {
    const { description, ...schema } = jsonSchema(field as z.ZodType, 'input');
    const required = where === 'path' || !(field as z.ZodType).safeParse(undefined).success;
    return { name, in: where, required, schema, ...(description !== undefined ? { description } : {}) };
  });
}

const ERROR_REF = { $ref: '#/components/responses/Error' };

/**
 * The OpenAPI 3.1 document of `routes`, generated from the same zod schemas the handlers
 * validate with (docs/gateway.md, "OpenAPI"): every route the server registers, and only those.
 */
export function openApiDocument(routes: readonly RouteDef[], info: { version: string; serverUrl?: string }): JsonSchema {
  const paths: Record<string, Record<string, unknown>> = {};
  const errorStatuses = [...new Set(GATEWAY_ERROR_CODES.map((c) => HTTP_STATUS[c]))].sort();
  for (const r of routes) {
    const responses: Record<string, unknown> = {
      [String(r.response.status)]: { description: r.response.description, content: { 'application/json': { schema: jsonSchema(r.response.schema, 'output') } } },
    };
    if (r.alsoReturns) responses[String(r.alsoReturns.status)] = { ...(responses[String(r.response.status)] as object), description: r.alsoReturns.description };
    // Probes and the document answer no errors of their own; every other route may answer any.
    const statuses = r.public ? [] : [...errorStatuses, ...(r.body ? [415] : [])];
    for (const st of statuses) if (!(String(st) in responses)) responses[String(st)] = ERROR_REF;
    if (!('default' in responses)) responses.default = ERROR_REF;
    (paths[r.path] ??= {})[r.method.toLowerCase()] = {
      operationId: r.operationId,
      summary: r.summary,
      security: r.public ? [] : [{ bearer: [] }],
      parameters: [...parameters(r.params, 'path'), ...parameters(r.query, 'query')],
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(r.body, 'input') } } } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'synod HTTP gateway',
      version: info.version,
      description: 'HTTP/JSON over the synod client: reads, scans, writes and transactions. Errors are JSON {code, message, hint?} with stable codes (docs/gateway.md).',
    },
    ...(info.serverUrl ? { servers: [{ url: info.serverUrl }] } : {}),
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A token from the gateway\'s --token-file' } },
      schemas: { Error: jsonSchema(errorResponse, 'output') },
      responses: {
        Error: {
          description: 'An error: 400 INVALID_ARGUMENT, 401 UNAUTHENTICATED, 404 NOT_FOUND, 409 TXN_ABORTED/CONDITION_FAILED, 410 SNAPSHOT_TOO_OLD, 413 *_TOO_LARGE, 415, 429 RATE_LIMITED (Retry-After), 500 INTERNAL, 503 NOT_LEADER/UNAVAILABLE/TIMEOUT (Retry-After)',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
      },
    },
  };
}
