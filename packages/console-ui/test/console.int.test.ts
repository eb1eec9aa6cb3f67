// The web console in a real browser (Debian's Chromium through playwright-core) against the real
// console server over the real order system: on the embedded SQLite log, and on Kafka with
// Postgres stores. Each scenario is what an operator does: sign in, find an order's events, watch
// a group's lag while its consumer is stopped, reset a group after a dry run, redrive a dead
// letter and see the order settle and the audit entry appear; a viewer is refused a mutation.
// Every page must load without a single Content Security Policy violation or script error.
//
// Without Chromium (or, for the second suite, without Kafka or Postgres) the tests fail in CI
// (CI=true) and are skipped elsewhere with the reason.
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { GROUPS } from '@herald/orders-domain/topology.ts';
import { TOPICS } from '@herald/orders-domain/events.ts';
import { isSettled } from '@herald/orders-domain/order-view.ts';
import { apiOf, getOrder, placeOrder, settled } from '../../../apps/orders/test/fixtures/order-system.ts';
import {
  chromiumUnavailable,
  launchBrowser,
  unavailable,
  type TestBrowser,
  type WatchedPage,
} from './fixtures/browser.ts';
import { apiFromPage, attributeWhen, HANG_MS, open, signIn, textWhen } from './fixtures/console-pages.ts';
import {
  kafkaPostgresUnavailable,
  openKafkaPostgresRig,
  openSqliteRig,
  type ConsoleRig,
  type RigUser,
} from './fixtures/console-rig.ts';

/** A signed-in browser tab; the browser (its own profile, its own cookies) closes with it. */
interface Tab extends AsyncDisposable {
  readonly page: WatchedPage['page'];
  readonly watched: WatchedPage;
}

async function signedIn(rig: ConsoleRig, user: RigUser): Promise<Tab> {
  const browser: TestBrowser = await launchBrowser();
  try {
    const watched = await browser.newPage();
    await signIn(watched.page, rig.url, user);
    return { page: watched.page, watched, [Symbol.asyncDispose]: () => browser.close() };
  } catch (error) {
    await browser.close();
    throw error;
  }
}

/** No CSP violation and no script error on the tab so far. */
function assertClean(tab: Tab): void {
  assert.deepEqual(tab.watched.cspViolations, [], 'the page met Content Security Policy violations');
  assert.deepEqual(tab.watched.pageErrors, [], 'the page threw');
}

const totalLag = (tab: Tab) => tab.page.getByTestId('group-total-lag');

/**
 * Places an order and waits until it settled, the customer told: the notification group has then
 * committed on its topics. A group that never committed has no partitions to show a lag on (on
 * Kafka), so the lag scenarios start from here.
 */
async function notifiedOnce(app: ReturnType<typeof apiOf>): Promise<void> {
  const { orderId } = await placeOrder(app, {
    customerId: 'console-warm-up',
    items: [{ sku: 'WIDGET', quantity: 1 }],
  });
  await settled(app, orderId, HANG_MS);
}

/**
 * The scenarios on one backend. `canReset`: whether the backend resets a group's offsets (the
 * embedded log does; Kafka's log does not yet, and the console must say so instead of a plan).
 */
function consoleScenarios(
  name: string,
  open_: () => Promise<ConsoleRig>,
  why: () => Promise<string | undefined>,
  canReset: boolean,
): void {
  void describe(`the console on ${name}`, { timeout: 600_000 }, () => {
    let rig: ConsoleRig | undefined;
    let missing: string | undefined;

    before(async () => {
      missing = chromiumUnavailable() ?? (await why());
      if (missing === undefined) rig = await open_();
    });
    after(async () => {
      await rig?.close();
    });

    /** The rig, or the test ends here (skipped, or failed under CI=true). */
    const need = (t: TestContext): ConsoleRig | undefined => {
      if (rig === undefined) {
        unavailable(t, missing ?? 'the rig did not start');
        return undefined;
      }
      return rig;
    };

    void it('signs a viewer in, shows every page without a CSP violation, and disables mutations', async (t) => {
      const r = need(t);
      if (r === undefined) return;
      await using tab = await signedIn(r, r.users.viewer);
      assert.equal(await tab.page.getByTestId('signed-in-role').textContent(), 'viewer');
      await textWhen(
        tab.page.getByTestId('backend-system'),
        (text) => text !== '',
        'the backend on the overview',
      );
      for (const [hash, heading] of [
        ['#/topics', 'Topics'],
        [`#/topics/${TOPICS.orders}`, `Topic ${TOPICS.orders}`],
        ['#/groups', 'Consumer groups'],
        [`#/groups/${GROUPS.payment}`, `Group ${GROUPS.payment}`],
        ['#/dead-letters', 'Dead letters'],
        ['#/schemas', 'Schemas'],
        ['#/audit', 'Audit trail'],
      ] as const) {
        await open(tab.page, hash);
        assert.equal(await tab.page.getByRole('heading', { level: 1 }).textContent(), heading);
      }
      await open(tab.page, `#/groups/${GROUPS.payment}`);
      await tab.page.getByTestId('lag-chart').waitFor();
      assert.equal(
        await tab.page.getByTestId('reset-dry-run').isDisabled(),
        true,
        'a viewer cannot start a reset',
      );
      assert.equal(
        await tab.page.getByRole('link', { name: 'Users' }).count(),
        0,
        'a viewer sees no Users page',
      );
      assertClean(tab);
    });

    void it('signs an operator in, with mutations enabled', async (t) => {
      const r = need(t);
      if (r === undefined) return;
      await using tab = await signedIn(r, r.users.operator);
      assert.equal(await tab.page.getByTestId('signed-in-role').textContent(), 'operator');
      await open(tab.page, `#/groups/${GROUPS.payment}`);
      assert.equal(await tab.page.getByTestId('reset-dry-run').isEnabled(), true);
      assertClean(tab);
    });

    void it("finds an order's events by key, with its attributes, data as text and causation", async (t) => {
      const r = need(t);
      if (r === undefined) return;
      const app = apiOf(r.system);
      const { orderId } = await placeOrder(app, {
        customerId: 'console-find',
        items: [{ sku: 'WIDGET', quantity: 1 }],
      });
      await settled(app, orderId, HANG_MS);
      await using tab = await signedIn(r, r.users.viewer);
      await open(tab.page, `#/topics/${TOPICS.orders}`);
      await tab.page.getByLabel('Key').fill(orderId);
      await tab.page.getByRole('button', { name: 'Search' }).click();
      const rows = tab.page.getByTestId('event-row');
      await rows.first().waitFor();
      for (const text of await rows.allTextContents())
        assert.ok(text.includes(orderId), `a row of another key: ${text}`);
      await rows.first().getByRole('link').click();
      await tab.page.getByTestId('event-attributes').waitFor();
      assert.match((await tab.page.getByTestId('event-attributes').textContent()) ?? '', new RegExp(orderId));
      const data = (await tab.page.getByTestId('event-data').textContent()) ?? '';
      assert.ok(data.includes(orderId), `the data names the order: ${data}`);
      assert.equal(
        await tab.page.getByTestId('event-data').locator('*').count(),
        0,
        'the data is text, no element',
      );
      // The first event of the order (OrderPlaced) caused the rest of the flow.
      await tab.page.getByRole('table', { name: 'Caused', exact: true }).waitFor();
      assert.ok(
        (await tab.page
          .getByRole('table', { name: 'Caused', exact: true })
          .getByTestId('event-row')
          .count()) > 0,
      );
      assertClean(tab);
    });

    void it("shows a group's lag grow while its consumer is stopped and fall after", async (t) => {
      const r = need(t);
      if (r === undefined) return;
      const app = apiOf(r.system);
      await notifiedOnce(app);
      await using tab = await signedIn(r, r.users.viewer);
      await open(tab.page, `#/groups/${GROUPS.notification}`);
      await r.system.faults.update('notification', { outage: true });
      try {
        await textWhen(
          tab.page.getByTestId('group-state'),
          (s) => s === 'empty',
          'the stopped group to have no members',
        );
        for (let i = 0; i < 3; i++) {
          await placeOrder(app, { customerId: `console-lag-${i}`, items: [{ sku: 'WIDGET', quantity: 1 }] });
        }
        await textWhen(totalLag(tab), (lag) => Number(lag) > 0, 'the lag to grow');
        await attributeWhen(
          tab.page.getByTestId('lag-chart'),
          'data-latest-lag',
          (lag) => Number(lag) > 0,
          'the chart to show the lag',
        );
      } finally {
        await r.system.faults.update('notification', { outage: false });
      }
      await textWhen(totalLag(tab), (lag) => lag === '0', 'the lag to fall to 0');
      await attributeWhen(
        tab.page.getByTestId('lag-chart'),
        'data-latest-lag',
        (lag) => lag === '0',
        'the chart to fall to 0',
      );
      assertClean(tab);
    });

    /** Stops notification, lets one order's notice wait, and asks the page for a dry run to latest. */
    const dryRunWhileStopped = async (r: ConsoleRig, tab: Tab): Promise<void> => {
      await textWhen(
        tab.page.getByTestId('group-state'),
        (s) => s === 'empty',
        'the stopped group to have no members',
      );
      await placeOrder(apiOf(r.system), {
        customerId: 'console-reset',
        items: [{ sku: 'WIDGET', quantity: 1 }],
      });
      await textWhen(totalLag(tab), (lag) => Number(lag) > 0, 'a lag to skip');
      await tab.page.getByLabel('Reset to').selectOption('latest');
      await tab.page.getByTestId('reset-dry-run').click();
      await tab.page
        .getByRole('table', { name: 'Reset plan' })
        .or(tab.page.getByTestId('error'))
        .first()
        .waitFor();
    };

    if (canReset) {
      void it('resets a group only after showing the dry run, and the trail records it', async (t) => {
        const r = need(t);
        if (r === undefined) return;
        await notifiedOnce(apiOf(r.system));
        await using tab = await signedIn(r, r.users.operator);
        await open(tab.page, `#/groups/${GROUPS.notification}`);
        await r.system.faults.update('notification', { outage: true });
        try {
          await dryRunWhileStopped(r, tab);
          const error = tab.page.getByTestId('error');
          assert.equal(await error.count(), 0, (await error.allTextContents()).join('; '));
          const plan = tab.page.getByRole('table', { name: 'Reset plan' });
          assert.ok((await plan.locator('tbody tr').count()) > 0, 'the plan lists partitions');
          assert.ok(Number(await totalLag(tab).textContent()) > 0, 'the dry run changed nothing');
          await tab.page.getByTestId('reset-confirm').click();
          await tab.page.getByTestId('reset-result').filter({ hasText: 'Reset applied' }).waitFor();
          await textWhen(totalLag(tab), (lag) => lag === '0', 'the reset to skip the lag');
        } finally {
          await r.system.faults.update('notification', { outage: false });
        }
        await open(tab.page, '#/audit');
        await tab.page
          .locator('[data-testid="audit-row"][data-action="group.reset"][data-outcome="done"]')
          .filter({ hasText: GROUPS.notification })
          .first()
          .waitFor();
        assertClean(tab);
      });
    } else {
      void it("shows that the backend cannot reset a group's offsets, and offers nothing to confirm", async (t) => {
        const r = need(t);
        if (r === undefined) return;
        assert.equal(
          typeof r.system.log.resetGroup,
          'undefined',
          'the backend resets offsets now: run the reset scenario',
        );
        await notifiedOnce(apiOf(r.system));
        await using tab = await signedIn(r, r.users.operator);
        await open(tab.page, `#/groups/${GROUPS.notification}`);
        await r.system.faults.update('notification', { outage: true });
        try {
          await dryRunWhileStopped(r, tab);
          assert.match((await tab.page.getByTestId('error').textContent()) ?? '', /UNSUPPORTED/);
          assert.equal(await tab.page.getByTestId('reset-confirm').count(), 0);
        } finally {
          await r.system.faults.update('notification', { outage: false });
        }
        assertClean(tab);
      });
    }

    void it('redrives a dead letter after its dry run; the order settles and the trail records it', async (t) => {
      const r = need(t);
      if (r === undefined) return;
      const app = apiOf(r.system);
      await r.system.faults.update('payment', { errorRate: 1 });
      let orderId: string;
      try {
        ({ orderId } = await placeOrder(app, {
          customerId: 'console-redrive',
          items: [{ sku: 'WIDGET', quantity: 1 }],
        }));
        await using viewer = await signedIn(r, r.users.viewer);
        await open(viewer.page, `#/dead-letters/${TOPICS.orders}.dead-letter`);
        await viewer.page
          .locator(`[data-testid="dead-letter-row"][data-key="${orderId}"]`)
          .waitFor({ timeout: HANG_MS });
      } finally {
        await r.system.faults.update('payment', { errorRate: 0 });
      }
      assert.equal(isSettled(await getOrder(app, orderId)), false, 'the order waits for its payment');

      await using tab = await signedIn(r, r.users.operator);
      await open(tab.page, `#/dead-letters/${TOPICS.orders}.dead-letter`);
      const row = tab.page.locator(`[data-testid="dead-letter-row"][data-key="${orderId}"]`);
      await row.getByTestId('redrive-one').click();
      await tab.page.getByTestId('dead-letter-plan').waitFor();
      assert.equal(
        await row.getByTestId('dead-letter-state').textContent(),
        'parked',
        'the dry run redrove nothing',
      );
      await tab.page.getByTestId('dead-letter-confirm').click();
      await tab.page.getByTestId('dead-letter-result').waitFor();
      await textWhen(
        row.getByTestId('dead-letter-state'),
        (s) => s === 'redriven',
        'the entry to show as redriven',
      );
      await settled(app, orderId, HANG_MS);
      await open(tab.page, '#/audit');
      await tab.page
        .locator('[data-testid="audit-row"][data-action="dlq.redrive"][data-outcome="done"]')
        .first()
        .waitFor();
      assertClean(tab);
    });

    void it('discards a ticked dead letter after its dry run, and the trail records it', async (t) => {
      const r = need(t);
      if (r === undefined) return;
      const app = apiOf(r.system);
      await using tab = await signedIn(r, r.users.operator);
      await open(tab.page, `#/dead-letters/${TOPICS.orders}.dead-letter`);
      await r.system.faults.update('payment', { errorRate: 1 });
      let orderId: string;
      const row = () => tab.page.locator(`[data-testid="dead-letter-row"][data-key="${orderId}"]`);
      try {
        ({ orderId } = await placeOrder(app, {
          customerId: 'console-discard',
          items: [{ sku: 'WIDGET', quantity: 1 }],
        }));
        await row().waitFor({ timeout: HANG_MS });
      } finally {
        await r.system.faults.update('payment', { errorRate: 0 });
      }
      await row().getByRole('checkbox').check();
      await tab.page.getByTestId('discard-selected').click();
      await tab.page.getByTestId('dead-letter-plan').waitFor();
      assert.equal(
        await row().getByTestId('dead-letter-state').textContent(),
        'parked',
        'the dry run discarded nothing',
      );
      await tab.page.getByTestId('dead-letter-confirm').click();
      await tab.page.getByTestId('dead-letter-result').waitFor();
      await textWhen(
        row().getByTestId('dead-letter-state'),
        (s) => s === 'discarded',
        'the entry to show as discarded',
      );
      assert.equal(
        await row().getByTestId('redrive-one').isDisabled(),
        true,
        'a discarded entry is not redriven',
      );
      await open(tab.page, '#/audit');
      await tab.page
        .locator('[data-testid="audit-row"][data-action="dlq.discard"][data-outcome="done"]')
        .first()
        .waitFor();
      assertClean(tab);
    });

    void it('refuses a mutation to a viewer, and the trail records the refusal', async (t) => {
      const r = need(t);
      if (r === undefined) return;
      await using tab = await signedIn(r, r.users.viewer);
      await open(tab.page, `#/groups/${GROUPS.notification}`);
      assert.equal(await tab.page.getByTestId('reset-dry-run').isDisabled(), true);
      const refused = await apiFromPage(tab.page, 'POST', `groups/${GROUPS.notification}/reset`, {
        to: 'latest',
        dryRun: false,
      });
      assert.equal(refused.status, 403, JSON.stringify(refused.body));
      await open(tab.page, '#/audit');
      await tab.page
        .locator('[data-testid="audit-row"][data-action="group.reset"][data-outcome="refused"]')
        .filter({ hasText: r.users.viewer.name })
        .first()
        .waitFor();
      assertClean(tab);
    });
  });
}

consoleScenarios('the embedded SQLite log', openSqliteRig, async () => undefined, true);
consoleScenarios('Kafka with Postgres stores', openKafkaPostgresRig, kafkaPostgresUnavailable, true);
