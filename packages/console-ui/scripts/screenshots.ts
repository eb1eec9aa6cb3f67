// `npm run console:screenshots`: pictures of the console's main pages for docs/console.md,
// written to docs/console/*.png. Runs the order system on a temporary SQLite log with its console,
// gives it something to show (orders, a group held back by an outage, a dead letter), and shows
// each page to Debian's Chromium at 1400x900, signed in as an admin. Independent of the tests.
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GROUPS } from '@herald/orders-domain/topology.ts';
import { TOPICS } from '@herald/orders-domain/events.ts';
import { openSchemaRegistry } from '@herald/schemas';
import type { Page } from 'playwright-core';
import { apiOf, placeOrder, settled } from '../../../apps/orders/test/fixtures/order-system.ts';
import { chromiumUnavailable, launchBrowser } from '../test/fixtures/browser.ts';
import { HANG_MS, open, signIn, textWhen } from '../test/fixtures/console-pages.ts';
import { openSqliteRig } from '../test/fixtures/console-rig.ts';

const OUT = fileURLToPath(new URL('../../../docs/console/', import.meta.url));

const missing = chromiumUnavailable();
if (missing !== undefined) {
  console.error(missing);
  process.exit(1);
}
mkdirSync(OUT, { recursive: true });

await using rig = await openSqliteRig();
const app = apiOf(rig.system);
const say = (what: string) => console.log(what);

say('placing orders');
const orders: string[] = [];
for (let i = 0; i < 6; i++) {
  const { orderId } = await placeOrder(app, {
    customerId: `shopper-${i % 3}`,
    items: [{ sku: i % 2 === 0 ? 'WIDGET' : 'GADGET', quantity: 1 + (i % 2) }],
  });
  orders.push(orderId);
}
for (const orderId of orders) await settled(app, orderId, HANG_MS);

await using browser = await launchBrowser();
const { page } = await browser.newPage();
const shoot = async (name: string): Promise<void> => {
  // Tables scrolled sideways by a click on their last column are shown from their start.
  await page.evaluate(`for (const t of document.querySelectorAll('table')) t.scrollLeft = 0`);
  await page.screenshot({ path: `${OUT}${name}.png`, fullPage: true });
  say(`docs/console/${name}.png`);
};

await page.goto(rig.url);
await page.getByLabel('User name').waitFor();
await shoot('login');
await signIn(page, rig.url, rig.users.admin);

say('schemas: two versions of one subject');
const registry = await openSchemaRegistry({ log: rig.system.log });
const parcel = (properties: Record<string, unknown>) => ({
  type: 'object',
  properties,
  required: ['parcelId', 'orderId'],
  additionalProperties: false,
});
await registry.register({
  type: 'dev.herald.example.parcel-shipped.v1',
  jsonSchema: parcel({ parcelId: { type: 'string' }, orderId: { type: 'string' } }),
});
await registry.register({
  type: 'dev.herald.example.parcel-shipped.v2',
  jsonSchema: parcel({
    parcelId: { type: 'string' },
    orderId: { type: 'string' },
    carrier: { type: 'string' },
  }),
});

say('a dead letter: payment fails every call for one order');
await rig.system.faults.update('payment', { errorRate: 1 });
const { orderId: stuck } = await placeOrder(app, {
  customerId: 'shopper-dlq',
  items: [{ sku: 'WIDGET', quantity: 1 }],
});
await open(page, `#/dead-letters/${TOPICS.orders}.dead-letter`);
await page.locator(`[data-testid="dead-letter-row"][data-key="${stuck}"]`).waitFor({ timeout: HANG_MS });
await rig.system.faults.update('payment', { errorRate: 0 });

say('lag: notification stopped while orders arrive');
await open(page, `#/groups/${GROUPS.notification}`);
await rig.system.faults.update('notification', { outage: true });
await textWhen(page.getByTestId('group-state'), (s) => s === 'empty', 'the group to stop');
for (let i = 0; i < 4; i++) {
  await placeOrder(app, { customerId: `shopper-lag-${i}`, items: [{ sku: 'WIDGET', quantity: 1 }] });
  await page.waitForTimeout(400);
}
await textWhen(page.getByTestId('group-total-lag'), (lag) => Number(lag) >= 4, 'lag to build');
await page.waitForTimeout(1500);
await page.getByLabel('Reset to').selectOption('earliest');
await page.getByTestId('reset-dry-run').click();
await page.getByRole('table', { name: 'Reset plan' }).waitFor();
await shoot('group');
await page.getByRole('button', { name: 'Cancel' }).click();
await rig.system.faults.update('notification', { outage: false });
await textWhen(page.getByTestId('group-total-lag'), (lag) => lag === '0', 'lag to fall');
await page.waitForTimeout(1500);
await shoot('group-lag-fallen');

const pages: [string, string, (p: Page) => Promise<unknown>][] = [
  ['overview', '#/', (p) => textWhen(p.getByTestId('backend-system'), (t) => t !== '', 'overview')],
  ['topics', '#/topics', (p) => p.getByRole('table', { name: 'Topics' }).waitFor()],
  [
    'topic-events',
    `#/topics/${TOPICS.orders}?key=${encodeURIComponent(orders[0] ?? '')}`,
    (p) => p.getByTestId('event-row').first().waitFor(),
  ],
  ['groups', '#/groups', (p) => p.getByRole('table', { name: 'Consumer groups' }).waitFor()],
  ['dead-letters', '#/dead-letters', (p) => p.getByRole('table', { name: 'Dead-letter topics' }).waitFor()],
  ['schemas', '#/schemas', (p) => p.getByRole('heading', { level: 1 }).waitFor()],
  ['users', '#/users', (p) => p.getByRole('table', { name: 'Users' }).waitFor()],
];
for (const [name, hash, ready] of pages) {
  await open(page, hash);
  await ready(page);
  await shoot(name);
}

await open(page, `#/topics/${TOPICS.orders}?key=${encodeURIComponent(orders[0] ?? '')}`);
await page.getByTestId('event-row').first().getByRole('link').click();
await page.getByTestId('event-data').waitFor();
await page.getByRole('table', { name: 'Caused', exact: true }).waitFor();
await shoot('event');

await open(page, `#/dead-letters/${TOPICS.orders}.dead-letter`);
const row = page.locator(`[data-testid="dead-letter-row"][data-key="${stuck}"]`);
await row.getByTestId('redrive-one').click();
await page.getByTestId('dead-letter-plan').waitFor();
await shoot('dead-letter-redrive-plan');
await page.getByTestId('dead-letter-confirm').click();
await page.getByTestId('dead-letter-result').waitFor();
await settled(app, stuck, HANG_MS);

await open(page, '#/schemas');
const firstSubject = page.getByRole('table', { name: 'Schema subjects' }).getByRole('link').first();
if ((await firstSubject.count()) > 0) {
  await firstSubject.click();
  await page.getByTestId('schema-text').waitFor();
  await page.getByTestId('schema-diff').waitFor();
  await shoot('schema');
}

await open(page, '#/audit');
await page.locator('[data-testid="audit-row"]').first().waitFor();
await shoot('audit');
say('done');
