// What `/metrics` serves is what Prometheus reads: the whole exposition of a running order
// system (the consumers', the API's, the producer's and the runtime's metrics) passes
// `promtool check metrics`, Prometheus' own parser and linter.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { OrderSystem } from '../src/system.ts';
import { GROUPS } from '@herald/orders-domain/topology.ts';
import {
  type TempFolder,
  apiOf,
  caughtUp,
  openTestSystem,
  placeOrder,
  settled,
  tempFolder,
} from './fixtures/order-system.ts';
import { unavailable } from './fixtures/test-postgres.ts';

/** The lint problems of prom-client's default metrics (gauges it names `nodejs_active_*_total`). */
const PROM_CLIENT_LINT =
  /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/;

/** Why promtool cannot run here, or undefined when it can. */
function promtoolMissing(): string | undefined {
  const probe = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return probe.error === undefined && probe.status === 0
    ? undefined
    : 'promtool is not installed (Debian: apt install prometheus)';
}

void describe('the /metrics exposition', { timeout: 60_000 }, () => {
  let folder: TempFolder;
  let system: OrderSystem;
  before(async () => {
    folder = tempFolder();
    system = await openTestSystem(folder);
  });
  after(async () => {
    await system.stop();
    folder[Symbol.dispose]();
  });

  void it('passes promtool check metrics, with request-duration buckets and the runtime metrics in it', async (t) => {
    const missing = promtoolMissing();
    if (missing !== undefined) return unavailable(t, missing);
    const app = apiOf(system);
    const { orderId } = await placeOrder(app, {
      customerId: 'metered',
      items: [{ sku: 'WIDGET', quantity: 1 }],
    });
    await settled(app, orderId);
    await caughtUp(system.log, Object.values(GROUPS));
    const { body, statusCode } = await app.inject('/metrics');
    assert.equal(statusCode, 200);
    assert.match(body, /^http_server_request_duration_seconds_bucket\{/m);
    assert.match(body, /^process_cpu_seconds_total /m);

    const check = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
    assert.equal(check.error, undefined);
    // Status 1 is a text promtool cannot parse; 3 means lint problems, and the only ones allowed
    // are prom-client's own default gauges, which it names with `_total` (not Herald's to rename).
    const problems = `${check.stdout}${check.stderr}`
      .split('\n')
      .filter((line) => line.trim() !== '')
      .filter((line) => !PROM_CLIENT_LINT.test(line));
    assert.deepEqual(
      problems,
      [],
      `promtool check metrics (status ${check.status}) says:\n${check.stdout}${check.stderr}`,
    );
    assert.ok(check.status === 0 || check.status === 3, `promtool check metrics exited with ${check.status}`);
  });
});
