// The order system's data-backed compatibility gate, as its CI runs it: `herald schema check`
// (a real process) decodes the events a real run of the system stored with every consumer's
// reader schema and upcasters — all of them, and a repeatable sample.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
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

const HERALD = fileURLToPath(new URL('../../../packages/cli/bin/herald.js', import.meta.url));
const SYSTEM = fileURLToPath(new URL('../src/system-description.ts', import.meta.url));

async function schemaCheck(logUrl: string, ...args: string[]): Promise<{ status: number; stdout: string }> {
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [HERALD, 'schema', 'check', '--system', SYSTEM, ...args],
      {
        env: { ...process.env, HERALD_LOG: logUrl },
      },
    );
    return { status: 0, stdout };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string };
    return { status: failed.code ?? -1, stdout: failed.stdout ?? '' };
  }
}

describe('the order system behind its stored-events gate', { timeout: 120_000 }, () => {
  let folder: TempFolder;

  before(async () => {
    folder = tempFolder();
    const system = await openTestSystem(folder);
    try {
      const app = apiOf(system);
      for (const customerId of ['gate-1', 'gate-2', 'gate-3']) {
        const { orderId } = await placeOrder(app, { customerId, items: [{ sku: 'WIDGET', quantity: 1 }] });
        await settled(app, orderId);
      }
      await caughtUp(system.log, Object.values(GROUPS));
    } finally {
      await system.stop();
    }
  });
  after(() => folder[Symbol.dispose]());

  it('passes: every consumer decodes every event a run of the system stored', async () => {
    const result = await schemaCheck(folder.logUrl);
    assert.equal(result.status, 0, result.stdout);
    assert.match(result.stdout, /^OK: every consumer decodes all \d+ retained events it would receive$/m);
  });

  it('passes on a repeatable sample, and says how to repeat it', async () => {
    const result = await schemaCheck(folder.logUrl, '--sample', '5', '--seed', '11');
    assert.equal(result.status, 0, result.stdout);
    assert.match(result.stdout, /^sample: 5 of \d+ retained events, seed 11 /m);
    assert.match(result.stdout, /^OK: every consumer decodes all 5 sampled events it would receive$/m);
  });
});
