// The registry is kept in the log, so it works on every backend: the same registrations read
// back from a second client on a real Kafka broker and a real NATS JetStream server.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { type EventLog, isHeraldError, openEventLog } from '@herald/core';
import { openSchemaRegistry } from '../src/schema-registry.ts';
import { PARCEL_SUBJECT, ParcelShippedV1, ParcelShippedV2 } from './fixtures/parcel-events.ts';

const brokers = [
  { name: 'Kafka', url: `kafka://${process.env['HERALD_TEST_KAFKA'] ?? '127.0.0.1:19092'}` },
  { name: 'NATS JetStream', url: `nats://${process.env['HERALD_TEST_NATS'] ?? '127.0.0.1:4222'}` },
];

for (const broker of brokers) {
  describe(`the schema registry on ${broker.name}`, { timeout: 60_000 }, () => {
    it('keeps registered versions in the log, where a second client reads them back', async (t) => {
      let log: EventLog;
      try {
        log = await openEventLog(broker.url);
      } catch (error) {
        if (process.env['CI'] === 'true' || !isHeraldError(error, 'BACKEND_UNAVAILABLE')) throw error;
        t.skip(`${broker.name} is not reachable at ${broker.url}`);
        return;
      }
      const topic = `herald.schemas.test-${randomUUID().slice(0, 8)}`;
      try {
        const registry = await openSchemaRegistry({ log, topic });
        assert.equal((await registry.register(ParcelShippedV1)).status, 'registered');
        assert.equal((await registry.register(ParcelShippedV2)).status, 'registered');
        await using other = await openEventLog(broker.url);
        const reopened = await openSchemaRegistry({ log: other, topic });
        assert.deepEqual(
          reopened.subjects().map((s) => [s.subject, s.versions.map((v) => v.version)]),
          [[PARCEL_SUBJECT, [1, 2]]],
        );
      } finally {
        await log.close();
      }
    });
  });
}
