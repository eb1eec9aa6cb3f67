// The order system's AsyncAPI document is committed (apps/orders/asyncapi.json) and must be the
// one its system description generates: change a topic, an event or a consumer group and this
// test asks for the document to be regenerated.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Parser } from '@asyncapi/parser';
import { generateAsyncApi } from '@herald/schemas';
import orderSystemDescription from '../src/system-description.ts';

const COMMITTED = new URL('../asyncapi.json', import.meta.url);
const REGENERATE =
  'npm run herald -- asyncapi --system apps/orders/src/system-description.ts --output apps/orders/asyncapi.json && npx prettier --write apps/orders/asyncapi.json';

void describe('the order system AsyncAPI document', () => {
  void it('is the document the system description generates', () => {
    const committed = JSON.parse(readFileSync(COMMITTED, 'utf8')) as unknown;
    assert.deepEqual(
      committed,
      generateAsyncApi(orderSystemDescription),
      `apps/orders/asyncapi.json is stale; run: ${REGENERATE}`,
    );
  });

  void it('is valid against the AsyncAPI 3.0 specification', async () => {
    const diagnostics = await new Parser().validate(readFileSync(COMMITTED, 'utf8'));
    const errors = diagnostics
      .filter((d) => (d.severity as number) === 0)
      .map((d) => `${d.path.join('/')}: ${d.message}`);
    assert.deepEqual(errors, []);
  });

  void it('has a channel per topic and an operation per publisher and per consumer group and topic', () => {
    const document = generateAsyncApi(orderSystemDescription) as {
      channels: Record<string, unknown>;
      operations: Record<string, { action: string }>;
    };
    assert.deepEqual(Object.keys(document.channels), [
      'fraud',
      'inventory',
      'loyalty',
      'notifications',
      'orders',
      'payments',
    ]);
    const sends = Object.entries(document.operations)
      .filter(([, o]) => o.action === 'send')
      .map(([id]) => id);
    assert.deepEqual(sends, [
      'fraud.publish.fraud',
      'inventory.publish.inventory',
      'loyalty.publish.loyalty',
      'notification.publish.notifications',
      'orders.publish.orders',
      'payment.publish.payments',
    ]);
    assert.equal(document.operations['fraud.checks.consume.orders']?.action, 'receive');
  });
});
