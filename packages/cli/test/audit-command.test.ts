import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runHerald } from './run-herald.ts';

void describe('herald audit (command line)', () => {
  void it('prints its help with what it checks', async () => {
    const { status, stdout } = await runHerald(['audit', '--help']);
    assert.equal(status, 0);
    assert.match(stdout, /^Usage:\n {2}herald audit <group>/);
    assert.match(stdout, /out-of-order/);
    assert.match(stdout, /Parked events .* count as parked until released/);
  });

  void it('refuses a missing group and a bad --max-violations as usage errors', async () => {
    const missing = await runHerald(['audit']);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /<group>/);
    const bad = await runHerald(['audit', 'billing.invoices', '--max-violations', 'many']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--max-violations/);
    const since = await runHerald(['audit', 'billing.invoices', '--since', 'yesterday']);
    assert.equal(since.status, 2);
    assert.match(since.stderr, /--since must be an ISO timestamp/);
  });

  void it('says it needs the group store when the log has none of its own and HERALD_STORE is unset', async () => {
    const { status, stdout, stderr } = await runHerald(['audit', 'billing.invoices']);
    assert.equal(status, 1);
    assert.equal(stdout, '');
    assert.match(stderr, /^herald: herald audit needs the group's store: set HERALD_STORE/);
  });
});
