// The OpenAPI 3.1 document of the API, generated from the routes: each route declares its zod
// schemas once (`schema.params`, `querystring`, `body`, `response`), Fastify validates requests
// with them (validate.ts) and @fastify/swagger, through the zod type provider's transform, writes
// them into the document. What a route cannot say in zod (the headers of an answer, a request
// header that a guard checks) it declares as plain JSON Schema next to them; `documentRoute` below
// carries that over.
import type { FastifyInstance } from 'fastify';
import fastifySwagger, { type FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import { createJsonSchemaTransform, createJsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { faultSettingsSchema } from '@herald/orders-domain/faults.ts';
import {
  acceptedOrderSchema,
  analyticsSchema,
  catalogSchema,
  loyaltyAccountSchema,
  orderViewSchema,
  placeOrderBody,
  problemSchema,
  stockSchema,
} from '@herald/orders-domain/http/schemas.ts';
import { PROBLEM_MEDIA_TYPE } from '@herald/orders-domain/http/problem.ts';

/**
 * The schemas the document names under `components/schemas`: a route that uses one gets a `$ref`.
 * The names go into zod's global registry, beside the descriptions (`.describe`) the document
 * shows, so both reach it. Request bodies are documented as the client sends them (zod's input),
 * answers as the server sends them (its output).
 */
const NAMED_SCHEMAS: readonly (readonly [z.ZodType, string])[] = [
  [placeOrderBody, 'PlaceOrder'],
  [acceptedOrderSchema, 'AcceptedOrder'],
  [orderViewSchema, 'Order'],
  [problemSchema, 'Problem'],
  [catalogSchema, 'Catalog'],
  [stockSchema, 'Stock'],
  [loyaltyAccountSchema, 'LoyaltyAccount'],
  [analyticsSchema, 'Analytics'],
  [faultSettingsSchema, 'FaultSettings'],
];
for (const [schema, id] of NAMED_SCHEMAS) {
  if (z.globalRegistry.get(schema)?.id === undefined)
    z.globalRegistry.add(schema, { ...z.globalRegistry.get(schema), id });
}

/** A response header as the document states it. */
export interface DocumentedHeader {
  readonly description: string;
  readonly schema: Readonly<Record<string, unknown>>;
}

/** `Retry-After` of a 429 or 503: whole seconds to wait before retrying. */
export const RETRY_AFTER: DocumentedHeader = {
  description: 'Seconds to wait before retrying.',
  schema: { type: 'integer', minimum: 1 },
};

/** The headers every rate-limited answer carries (the IETF RateLimit header draft). */
const RATE_LIMIT_HEADERS: Readonly<Record<string, DocumentedHeader>> = {
  'RateLimit-Limit': {
    description: 'Requests this client may make in one window.',
    schema: { type: 'integer', minimum: 1 },
  },
  'RateLimit-Remaining': {
    description: 'Requests left in the current window.',
    schema: { type: 'integer', minimum: 0 },
  },
  'RateLimit-Reset': {
    description: 'Seconds until the window starts again.',
    schema: { type: 'integer', minimum: 0 },
  },
};

/** A problem+json answer of one status, with the headers it carries. */
export function problemResponse(description: string, headers: Record<string, DocumentedHeader> = {}) {
  return {
    description,
    content: { [PROBLEM_MEDIA_TYPE]: { schema: problemSchema } },
    ...(Object.keys(headers).length === 0 ? {} : { headers }),
  };
}

/** The 429 of every rate-limited route. */
export const RATE_LIMITED = problemResponse(
  'Too many requests from this client: wait as long as Retry-After says.',
  { 'Retry-After': RETRY_AFTER, ...RATE_LIMIT_HEADERS },
);

/** A JSON answer (`application/json`) of `schema`. */
export function jsonResponse<S extends z.ZodType>(description: string, schema: S) {
  return { description, content: { 'application/json': { schema } } };
}

/** An answer whose body is text of `mediaType` (metrics, event streams, pages). */
export function textResponse(description: string, mediaType: string) {
  return { description, content: { [mediaType]: { schema: z.string() } } };
}

/** An answer without a body. */
export function emptyResponse(description: string) {
  return z.undefined().describe(description);
}

const DESCRIPTION =
  'The reference order system on Herald. Placing an order answers 202 once OrderPlaced is durable in the log; ' +
  'the order converges as inventory, payment and fraud answer. Reads can wait for a final state (?wait) or ' +
  'for a consistency token (?consistentWith). Errors are RFC 9457 problem details whose `type` is an ' +
  'absolute URI of a page (served at /problems/{type}) that explains the problem.';

/**
 * Registers @fastify/swagger: `app.swagger()` then returns the document of the routes registered
 * after it. Register it before the routes.
 */
export function registerOpenApi(app: FastifyInstance): void {
  const transform = createJsonSchemaTransform({ skipList: [] });
  const transformObject = createJsonSchemaTransformObject({});
  const options: FastifyDynamicSwaggerOptions = {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Herald orders API',
        version: '1.0.0',
        description: DESCRIPTION,
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      // Relative: the server that serves this document.
      servers: [{ url: '/', description: 'The server that serves this document' }],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'The admin token (HERALD_ADMIN_TOKEN).' },
        },
      },
    },
    hideUntagged: false,
    transform: (route) => documentRoute(transform(route) as Transformed, route.schema),
    transformObject: (document) =>
      pruneComponents(transformObject(document) as OpenApiDocument) as ReturnType<typeof transformObject>,
  };
  void app.register(fastifySwagger, options);
}

type OpenApiDocument = Record<string, unknown> & {
  paths?: Record<string, unknown>;
  components?: { schemas?: Record<string, unknown> } & Record<string, unknown>;
};
type Transformed = { schema: Record<string, unknown>; url: string };

/**
 * Carries over what the zod transform leaves out: the headers of each response, and the request
 * headers a route documents under `schema.documentedHeaders` (checked by its guards, not by a
 * schema, so Fastify does not see them).
 */
function documentRoute(transformed: Transformed, original: unknown): Transformed {
  const source = (original ?? {}) as {
    response?: Record<string, { headers?: Record<string, DocumentedHeader> }>;
    documentedHeaders?: Record<string, unknown>;
  };
  const schema = { ...transformed.schema };
  const response = schema['response'] as Record<string, Record<string, unknown>> | undefined;
  if (response !== undefined) {
    for (const [status, answer] of Object.entries(source.response ?? {})) {
      if (answer.headers === undefined || response[status] === undefined) continue;
      response[status] = {
        ...response[status],
        headers: Object.fromEntries(
          Object.entries(answer.headers).map(([name, h]) => [
            name,
            { ...h.schema, description: h.description },
          ]),
        ),
      };
    }
  }
  if (source.documentedHeaders !== undefined) schema['headers'] = source.documentedHeaders;
  delete schema['documentedHeaders'];
  return { ...transformed, schema };
}

/**
 * Keeps only the components the operations reference. The zod transform writes an input and an
 * output variant of every named schema (`XInput`, `X`); a schema only ever sent by clients keeps
 * its plain name.
 */
function pruneComponents(document: OpenApiDocument): OpenApiDocument {
  const schemas = document.components?.schemas ?? {};
  const refsIn = (value: unknown, found: Set<string>): Set<string> => {
    if (Array.isArray(value)) for (const v of value) refsIn(v, found);
    else if (value !== null && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) {
        if (key === '$ref' && typeof inner === 'string' && inner.startsWith('#/components/schemas/')) {
          const name = inner.slice('#/components/schemas/'.length);
          if (!found.has(name)) {
            found.add(name);
            refsIn(schemas[name], found);
          }
        } else refsIn(inner, found);
      }
    }
    return found;
  };
  const used = refsIn(document.paths, new Set());
  const renamed = new Map<string, string>();
  for (const name of used) {
    const plain = name.endsWith('Input') ? name.slice(0, -'Input'.length) : name;
    renamed.set(name, plain !== name && !used.has(plain) ? plain : name);
  }
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [
        key,
        key === '$ref' && typeof inner === 'string' && inner.startsWith('#/components/schemas/')
          ? `#/components/schemas/${renamed.get(inner.slice('#/components/schemas/'.length)) ?? ''}`
          : rewrite(inner),
      ]),
    );
  };
  const kept = Object.fromEntries(
    [...used].sort().map((name) => [renamed.get(name)!, rewrite(schemas[name])]),
  );
  return {
    ...document,
    paths: rewrite(document.paths) as Record<string, unknown>,
    components: { ...document.components, schemas: kept },
  };
}
