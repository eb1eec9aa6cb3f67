// The HTTP contract's shapes, as zod schemas: they validate requests and generate the OpenAPI
// document, so the two cannot drift apart.
import { z } from 'zod';
import { SKU_PATTERN } from '../catalog.ts';
import { COUNTRY_CODES } from '../countries.ts';
import { CURRENCIES } from '../money.ts';
import { DEFAULT_PAYMENT_TOKEN, type OrderRequest } from '../order.ts';
import { DOWNSTREAM_SERVICES } from '../topology.ts';

/** Limits of `POST /orders`; the body limit keeps anything larger from being read at all. */
export const LIMITS = {
  bodyBytes: 16 * 1024,
  depth: 8,
  lines: 50,
  quantity: 1_000,
  idLength: 64,
  idempotencyKeyLength: 255,
  waitSeconds: 30,
} as const;

const CUSTOMER_ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$/;
const PAYMENT_TOKEN = /^tok_[a-z0-9_]{1,60}$/;
/** Order ids are lower-case UUIDs. */
export const ORDER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The body of `POST /orders`: strict (unknown properties are refused), with limits on every value. */
export const placeOrderBody = z
  .strictObject({
    customerId: z
      .string()
      .regex(CUSTOMER_ID, 'must be 1-64 letters, digits or . _ : @ -, starting with a letter or digit')
      .describe('Who orders. Opaque to the shop.'),
    items: z
      .array(
        z.strictObject({
          sku: z.string().regex(SKU_PATTERN, 'must be a catalog SKU (upper-case letters, digits, dashes)'),
          quantity: z.int().min(1).max(LIMITS.quantity),
        }),
      )
      .min(1)
      .max(LIMITS.lines)
      .describe('Each SKU at most once. Prices come from the catalog, never from the client.'),
    currency: z.enum(CURRENCIES).default('EUR'),
    paymentToken: z
      .string()
      .regex(PAYMENT_TOKEN, 'must look like tok_xxx')
      .default(DEFAULT_PAYMENT_TOKEN)
      .describe('A token from the payment provider; "tok_decline" is always declined.'),
    shippingCountry: z
      .enum([...COUNTRY_CODES] as [string, ...string[]])
      .optional()
      .describe('ISO 3166-1 alpha-2, upper case.'),
  })
  .describe('An order to place.');

export type PlaceOrderBody = z.output<typeof placeOrderBody>;

/** The order a valid `POST /orders` body asks for, as both order systems place it. */
export function orderRequestOf(body: PlaceOrderBody): OrderRequest {
  return {
    customerId: body.customerId,
    items: body.items,
    currency: body.currency,
    paymentToken: body.paymentToken,
    shippingCountry: body.shippingCountry ?? null,
  };
}

const stepsSchema = z.object({
  inventory: z.enum(['pending', 'reserved', 'failed', 'released']),
  payment: z.enum(['pending', 'authorized', 'declined', 'captured', 'voided']),
  fraud: z.enum(['pending', 'passed', 'failed']),
  notification: z.enum(['pending', 'sent']),
});

/** The 202 answer of `POST /orders`. */
export const acceptedOrderSchema = z.object({
  orderId: z.string(),
  status: z.literal('pending'),
  consistencyToken: z
    .string()
    .describe(
      'orders:<partition>:<offset>, where OrderPlaced is in the log (embedded store), or event:<event id>, ' +
        'OrderPlaced waiting in the outbox (Postgres store).',
    ),
  links: z.object({ self: z.string(), consistent: z.string(), events: z.string() }),
});

/** The answer of `GET /orders/:id`. */
export const orderViewSchema = z.object({
  orderId: z.string(),
  status: z.enum(['pending', 'confirmed', 'rejected']),
  reason: z.enum(['out-of-stock', 'payment-declined', 'fraud-suspected', 'decision-timeout']).optional(),
  detail: z.string().optional(),
  steps: stepsSchema,
  customerId: z.string().nullable(),
  currency: z.enum(CURRENCIES).nullable(),
  total: z.int().nullable(),
  items: z.array(
    z.object({
      sku: z.string(),
      name: z.string(),
      quantity: z.int(),
      unitPrice: z.int(),
      lineTotal: z.int(),
    }),
  ),
  createdAt: z.string().nullable(),
  updatedAt: z.string(),
  version: z.int().describe('Grows with every change the view applied.'),
  asOf: z.string().optional().describe('Present when the view was rebuilt as of this moment.'),
  links: z.object({ self: z.string(), events: z.string() }),
});

/** Every error answer. Open: RFC 9457 lets a problem type add extension members. */
export const problemSchema = z
  .looseObject({
    type: z
      .url()
      .describe('An absolute URI naming the problem type; it resolves to a page that explains it.'),
    title: z.string().describe('A short summary of the problem type.'),
    status: z.int().min(400).max(599),
    detail: z.string().describe('What went wrong with this request.'),
    instance: z.string().optional().describe('The path of the request that failed.'),
    errors: z
      .array(z.object({ pointer: z.string(), detail: z.string() }))
      .optional()
      .describe('What was wrong where: JSON pointers into the request.'),
  })
  .describe('RFC 9457 problem details.');

/** The answer of `GET /catalog`. */
export const catalogSchema = z.object({
  items: z.array(
    z.object({ sku: z.string(), name: z.string(), prices: z.partialRecord(z.enum(CURRENCIES), z.int()) }),
  ),
});

/** The answer of `GET /inventory/:sku`. */
export const stockSchema = z.object({ sku: z.string(), available: z.int(), reserved: z.int() });

/** The answer of `GET /loyalty/:customerId`. */
export const loyaltyAccountSchema = z.object({ customerId: z.string(), points: z.int(), orders: z.int() });

/** The answer of `GET /analytics`: the order funnel (null before the first order) and revenue. */
export const analyticsSchema = z.object({
  funnel: z
    .object({
      placed: z.int(),
      stockReserved: z.int(),
      stockFailed: z.int(),
      stockReleased: z.int(),
      paymentAuthorized: z.int(),
      paymentDeclined: z.int(),
      paymentCaptured: z.int(),
      paymentVoided: z.int(),
      fraudPassed: z.int(),
      fraudFailed: z.int(),
      confirmed: z.int(),
      rejected: z.partialRecord(
        z.enum(['out-of-stock', 'payment-declined', 'fraud-suspected', 'decision-timeout']),
        z.int(),
      ),
      notified: z.int(),
      pointsAwarded: z.int(),
    })
    .nullable()
    .describe('Orders at each step of the flow.'),
  revenue: z.array(
    z.object({
      currency: z.enum(CURRENCIES),
      confirmed: z.int(),
      captured: z.int(),
      voided: z.int(),
      confirmedOrders: z.int(),
    }),
  ),
});

/** A duration in seconds: digits with up to three decimals, at most `LIMITS.waitSeconds`. */
const seconds = z
  .string()
  .regex(/^\d{1,2}(\.\d{1,3})?$/, 'must be a number of seconds')
  .transform(Number)
  .refine((s) => s <= LIMITS.waitSeconds, `must be at most ${LIMITS.waitSeconds}`);

/** The query of `GET /orders/:id`: unknown parameters are refused. */
export const orderQuerySchema = z.strictObject({
  wait: seconds.optional().describe(`Long-poll until the order is final, at most this many seconds.`),
  consistentWith: z
    .string()
    .max(300)
    .optional()
    .describe('A consistency token: answer once the view has processed that position or event.'),
  asOf: z.iso
    .datetime({ offset: true })
    .optional()
    .describe('Rebuild the view as of this moment by replaying the log.'),
});

/** Path parameters, validated before anything is read. */
export const orderParamsSchema = z.strictObject({
  orderId: z.string().regex(ORDER_ID, 'must be an order id (UUID)'),
});

export const skuParamsSchema = z.strictObject({ sku: z.string().regex(SKU_PATTERN, 'must be a SKU') });

export const customerParamsSchema = z.strictObject({
  customerId: z.string().regex(CUSTOMER_ID, 'must be a customer id'),
});

export const faultServiceParamsSchema = z.strictObject({ service: z.enum(DOWNSTREAM_SERVICES) });
