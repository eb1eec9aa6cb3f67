// The OpenAPI 3.1 document of the API, generated from the same zod schemas that validate
// requests (`z.toJSONSchema`, JSON Schema 2020-12: OpenAPI 3.1's dialect).
import { z } from 'zod';
import { faultSettingsSchema } from '@herald/orders-domain/faults.ts';
import {
  acceptedOrderSchema,
  catalogSchema,
  orderViewSchema,
  placeOrderBody,
  problemSchema,
  stockSchema,
} from '@herald/orders-domain/http/schemas.ts';

type JsonSchema = Record<string, unknown>;

function schemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
  });
  return rest;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: JsonSchema) => ({ 'application/json': { schema } });
const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: ref('Problem') } },
});

const orderIdParameter = {
  name: 'orderId',
  in: 'path',
  required: true,
  schema: { type: 'string', format: 'uuid' },
};

/** The OpenAPI document served at `/openapi.json`. */
export function buildOpenApiDocument(): JsonSchema {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Herald orders API',
      version: '1.0.0',
      description:
        'The reference order system on Herald. Placing an order answers 202 once OrderPlaced is durable in the log; ' +
        'the order converges as inventory, payment and fraud answer. Reads can wait for a final state (?wait) or ' +
        'for a consistency token (?consistentWith). Errors are RFC 9457 problem details.',
    },
    paths: {
      '/orders': {
        post: {
          summary: 'Place an order',
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              description:
                'Same key and body: the original answer. Same key, other body: 422. Same key while the first is in progress: 409.',
              schema: { type: 'string', maxLength: 255 },
            },
          ],
          requestBody: { required: true, content: json(ref('PlaceOrder')) },
          responses: {
            '202': {
              description: 'Accepted: stored pending, OrderPlaced appended durably.',
              headers: { Location: { schema: { type: 'string' } } },
              content: json(ref('AcceptedOrder')),
            },
            '400': problem('Malformed JSON, a body nested too deeply, a forbidden property or a bad header.'),
            '409': problem('A request with the same Idempotency-Key is in progress.'),
            '413': problem('The body is larger than 16 KiB.'),
            '415': problem('The body is not application/json (UTF-8).'),
            '422': problem('The body breaks the schema, names unknown SKUs, or reuses an Idempotency-Key.'),
            '429': problem('Too many requests from this client.'),
            '503': problem('The log could not take the order; nothing was stored.'),
          },
        },
      },
      '/orders/{orderId}': {
        get: {
          summary: 'An order and the state of each step',
          parameters: [
            orderIdParameter,
            {
              name: 'wait',
              in: 'query',
              schema: { type: 'number', minimum: 0, maximum: 30 },
              description: 'Long-poll up to this many seconds for a final state.',
            },
            {
              name: 'consistentWith',
              in: 'query',
              schema: { type: 'string' },
              description: 'Answer once the view processed this consistency token.',
            },
            {
              name: 'asOf',
              in: 'query',
              schema: { type: 'string', format: 'date-time' },
              description: 'Rebuild the view as of this moment from the log.',
            },
          ],
          responses: {
            '200': { description: 'The order as far as it converged.', content: json(ref('Order')) },
            '400': problem('A malformed id or parameter.'),
            '404': problem('No such order.'),
            '422': problem('The consistency token names no position in the log, or no placed order.'),
            '429': problem(
              'Too many requests, or this client already holds its share of waiting reads (wait, consistentWith, event streams).',
            ),
            '503': problem(
              'The view did not reach the consistency token in time, or the server holds as many waiting reads as it allows.',
            ),
          },
        },
      },
      '/orders/{orderId}/events': {
        get: {
          summary: 'Server-Sent Events: the order view after each change, until final',
          parameters: [orderIdParameter],
          responses: {
            '200': {
              description: '`event: order` messages whose data is the Order.',
              content: { 'text/event-stream': { schema: { type: 'string' } } },
            },
            '404': problem('No such order.'),
            '429': problem(
              'Too many requests, or this client already holds its share of waiting reads and streams.',
            ),
            '503': problem('The server holds as many waiting reads and streams as it allows.'),
          },
        },
      },
      '/catalog': {
        get: {
          summary: 'The catalog',
          responses: {
            '200': { description: 'Items and prices (minor units).', content: json(ref('Catalog')) },
          },
        },
      },
      '/inventory/{sku}': {
        get: {
          summary: 'Stock of one SKU',
          parameters: [{ name: 'sku', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '200': { description: 'Stock.', content: json(ref('Stock')) },
            '404': problem('No such SKU.'),
          },
        },
      },
      '/healthz': {
        get: { summary: 'Liveness', responses: { '200': { description: 'The process is alive.' } } },
      },
      '/readyz': {
        get: {
          summary: 'Readiness',
          responses: {
            '200': { description: 'Ready for traffic.' },
            '503': problem('Starting or stopping.'),
          },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics (handlers, retries, dead letters, lag, HTTP)',
          responses: { '200': { description: 'Text exposition format.' } },
        },
      },
      '/admin/faults': {
        get: {
          summary: 'Injected faults per service',
          security: [{ bearer: [] }],
          responses: { '200': { description: 'Settings.' }, '401': problem('No or wrong token.') },
        },
        delete: {
          summary: 'Remove every fault',
          security: [{ bearer: [] }],
          responses: { '204': { description: 'Removed.' }, '401': problem('No or wrong token.') },
        },
      },
      '/admin/faults/{service}': {
        put: {
          summary: "Change one service's faults (latency, tail, error rate, outage)",
          security: [{ bearer: [] }],
          parameters: [{ name: 'service', in: 'path', required: true, schema: { type: 'string' } }],
          requestBody: { required: true, content: json(ref('FaultSettings')) },
          responses: {
            '200': { description: 'The new settings.' },
            '401': problem('No or wrong token.'),
            '404': problem('No such service.'),
            '422': problem('Invalid settings.'),
          },
        },
      },
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        PlaceOrder: schemaOf(placeOrderBody, 'input'),
        AcceptedOrder: schemaOf(acceptedOrderSchema, 'output'),
        Order: schemaOf(orderViewSchema, 'output'),
        Problem: schemaOf(problemSchema, 'output'),
        Catalog: schemaOf(catalogSchema, 'output'),
        Stock: schemaOf(stockSchema, 'output'),
        FaultSettings: schemaOf(faultSettingsSchema, 'input'),
      },
    },
  };
}
