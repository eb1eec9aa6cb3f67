// Fault covered: the disk of the embedded log fills up (F14), with the services in the engine
// thread as `npm start` runs them. While the disk is full `POST /orders` answers 503 and accepts
// nothing; orders accepted before it settle; when space returns the system takes orders again by
// itself, without a restart.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { OrderPlaced } from '@herald/orders-domain/events.ts';
import { mountSmallDisk, smallDiskUnavailable } from '@herald/testing';
import {
  type TempFolder,
  apiOf,
  eventsOf,
  openTestSystem,
  placeOrder,
  postOrder,
  settled,
} from './fixtures/order-system.ts';

const unavailable = smallDiskUnavailable();
const skip = process.env.CI === 'true' ? false : unavailable === undefined ? false : unavailable;

const order = (customerId: string) => ({
  customerId,
  items: [{ sku: 'WIDGET', quantity: 1 }],
  shippingCountry: 'DE',
});

describe('the order system on a full disk', { skip, timeout: 120_000 }, () => {
  it('answers 503 and accepts nothing while the disk is full, and takes orders again by itself once space returns', async () => {
    await using disk = mountSmallDisk(16);
    const dbPath = join(disk.dir, 'herald.db');
    const folder: TempFolder = {
      dir: disk.dir,
      dbPath,
      logUrl: `sqlite:${dbPath}`,
      catalogPath: join(disk.dir, 'catalog.json'),
      [Symbol.dispose]: () => undefined,
    };
    await using system = await openTestSystem(folder, { engineThread: true });
    const app = apiOf(system);
    const before = await placeOrder(app, order('before'));
    await settled(app, before.orderId);

    disk.fill();
    const refused: string[] = [];
    let accepted = 0;
    for (let i = 0; refused.length < 3 && i < 2_000; i++) {
      const response = await postOrder(app, order(`full-${i}`));
      if (response.statusCode === 202) accepted++;
      else {
        assert.equal(response.statusCode, 503, response.body);
        assert.match(String(response.headers['content-type']), /^application\/problem\+json/);
        refused.push(response.body);
      }
    }
    assert.equal(refused.length, 3, 'the full disk refused orders');
    const placed = async () =>
      (await eventsOf(system.log, 'orders')).filter((e) => e.type === OrderPlaced.type).length;
    const placedWhileFull = await placed();

    disk.free();
    const after = await placeOrder(app, order('after'));
    assert.equal((await settled(app, after.orderId)).status, 'confirmed');
    // Every OrderPlaced in the log was answered 202: the refused requests stored nothing.
    assert.equal(placedWhileFull, 1 + accepted);
  });
});
