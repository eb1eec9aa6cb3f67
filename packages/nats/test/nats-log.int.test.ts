import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { attributesOf, isHeraldError, openEventLog } from '@herald/core';
import type { CloudEvent, ForeignRecordDetails } from '@herald/core';
import { openNatsLog } from '@herald/nats';
import { collect, makeEvent, readPartition, waitFor } from '@herald/testing';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers, nanos } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { startFixture } from './fixtures/children.ts';
import {
  TEST_SERVERS,
  deleteNamespace,
  reportUnavailable,
  serverUnavailable,
  uniqueNamespace,
} from './nats-test-server.ts';

const encoder = new TextEncoder();
const unavailable = await serverUnavailable();

/** A namespace, a log in it, and a plain NATS connection to look at the server directly. */
async function setup() {
  const namespace = uniqueNamespace();
  const log = await openNatsLog({ servers: TEST_SERVERS, namespace });
  const nc: NatsConnection = await connect({ servers: TEST_SERVERS });
  return {
    namespace,
    log,
    nc,
    jsm: await jetstreamManager(nc),
    js: jetstream(nc),
    async [Symbol.asyncDispose]() {
      await log.close();
      await nc.close();
      await deleteNamespace(namespace);
    },
  };
}

if (unavailable !== undefined) {
  reportUnavailable('nats log on a real server', unavailable);
} else {
  describe('nats log on a real server', { timeout: 30_000 }, () => {
    it('declares the largest record the server takes: its max_payload', async () => {
      await using env = await setup();
      assert.equal(env.log.capabilities.maxRecordBytes, env.nc.info?.max_payload);
      assert.equal(env.log.capabilities.durable, true);
    });

    it('names itself nats in telemetry, with the server it was given', async () => {
      await using env = await setup();
      const { system, offsetAttribute, server } = env.log.capabilities.telemetry;
      assert.equal(system, 'nats');
      assert.equal(offsetAttribute, 'herald.offset');
      assert.equal(typeof server?.address, 'string');
      assert.equal(typeof server?.port, 'number');
    });

    it('lays a topic out as one stream per partition, with retention as max_age and max_bytes', async () => {
      await using env = await setup();
      await env.log.createTopic('orders.v1', { partitions: 2, retention: { ms: 60_000, bytes: 1_000_000 } });
      const info = await env.jsm.streams.info(`HERALD_${env.namespace}_orders_dv1_1`);
      assert.deepEqual(info.config.subjects, [`herald.${env.namespace}.orders_dv1.1`]);
      assert.equal(info.config.max_age, nanos(60_000));
      assert.equal(info.config.max_bytes, 1_000_000);
      assert.equal(info.config.duplicate_window, nanos(60_000), 'never longer than the retention');
      assert.equal(info.config.deny_delete, true, 'no holes: offsets stay dense');
      const result = await env.log.append('orders.v1', makeEvent(1), { partition: 1 });
      assert.deepEqual([result.partition, result.offset], [1, 0]);
      assert.equal((await env.jsm.streams.info(`HERALD_${env.namespace}_orders_dv1_1`)).state.last_seq, 1);
    });

    it('deletes the oldest events past retention.bytes, and refuses an event that alone exceeds it', async () => {
      await using env = await setup();
      await env.log.createTopic('tiny', { partitions: 1, retention: { bytes: 2000 } });
      for (let i = 0; i < 10; i++) {
        await env.log.append('tiny', makeEvent(i, undefined, { data: new Uint8Array(300) }));
      }
      const [info] = (await env.log.describeTopic('tiny')).partitionInfo;
      assert.equal(info?.latest, 10);
      assert.ok(info.earliest > 0 && info.earliest < 10, `earliest ${info?.earliest}`);
      const kept = await env.log.read('tiny', { partition: 0, from: 'earliest' });
      assert.deepEqual(
        kept.map((e) => e.offset),
        Array.from({ length: 10 - info.earliest }, (_, i) => info.earliest + i),
      );
      await assert.rejects(
        env.log.append('tiny', makeEvent(99, undefined, { data: new Uint8Array(2000) })),
        (error) => isHeraldError(error, 'TOO_LARGE'),
      );
      assert.equal((await env.log.describeTopic('tiny')).partitionInfo[0]?.latest, 10);
    });

    it('stores a retried append of the same event once, and answers it with the first position', async () => {
      await using env = await setup();
      await env.log.createTopic('orders', { partitions: 1 });
      const event = makeEvent(1, 'order-1');
      const first = await env.log.append('orders', event);
      await env.log.append('orders', makeEvent(2, 'order-1'));
      const retried = await env.log.append('orders', event);
      assert.deepEqual(retried, first);
      assert.deepEqual(
        (await readPartition(env.log, 'orders', 0)).map((e) => e.id),
        ['event-1', 'event-2'],
      );
      const otherSource = await env.log.append('orders', { ...event, source: '/another-service' });
      assert.equal(otherSource.offset, 2, 'the same id from another source is another event');
    });

    it('refuses an event that reuses a source and id with different content with CONFLICT', async () => {
      await using env = await setup();
      await env.log.createTopic('orders', { partitions: 1 });
      await env.log.append('orders', makeEvent(1));
      await assert.rejects(
        env.log.append('orders', makeEvent(1, undefined, { data: encoder.encode('{"i":"changed"}') })),
        (error) => isHeraldError(error, 'CONFLICT'),
      );
      assert.equal((await readPartition(env.log, 'orders', 0)).length, 1);
    });

    it('reads what other NATS clients publish: binary mode with ce- headers, and structured mode', async () => {
      await using env = await setup();
      await env.log.createTopic('inbox', { partitions: 1 });
      const subject = `herald.${env.namespace}.inbox.0`;
      const h = headers();
      for (const [name, value] of [
        ['ce-specversion', '1.0'],
        ['ce-id', 'ext-1'],
        ['ce-source', '/nats-cli'],
        ['ce-type', 'dev.herald.tests.thing-happened.v1'],
        ['ce-tenant', 'acme'],
        ['content-type', 'text/plain'],
      ] as const) {
        h.append(name, value);
      }
      await env.js.publish(subject, encoder.encode('hello'), { headers: h });
      await env.js.publish(
        subject,
        encoder.encode(
          JSON.stringify({
            specversion: '1.0',
            id: 'ext-2',
            source: '/legacy',
            type: 't.v1',
            data: { n: 1 },
          }),
        ),
      );
      const [binary, structured] = await env.log.read('inbox', { partition: 0, from: 'earliest' });
      assert.deepEqual(attributesOf(binary!), {
        specversion: '1.0',
        id: 'ext-1',
        source: '/nats-cli',
        type: 'dev.herald.tests.thing-happened.v1',
        datacontenttype: 'text/plain',
        tenant: 'acme',
      });
      assert.equal(new TextDecoder().decode(binary!.data), 'hello');
      assert.deepEqual(
        [structured!.id, structured!.offset, new TextDecoder().decode(structured!.data)],
        ['ext-2', 1, '{"n":1}'],
      );
    });

    it('throws a message that is not a CloudEvent to the consumer once, in its place, and goes on past it', async () => {
      await using env = await setup();
      await env.log.createTopic('mixed', { partitions: 1 });
      await env.log.append('mixed', makeEvent(0));
      await env.js.publish(`herald.${env.namespace}.mixed.0`, encoder.encode('not an event'));
      await env.log.append('mixed', makeEvent(2));
      await assert.rejects(env.log.read('mixed', { partition: 0, from: 'earliest' }), (error) =>
        isHeraldError(error, 'DECODE_FAILED'),
      );
      await using subscription = await env.log.subscribe({ group: 'g', topics: ['mixed'] });
      const iterator = subscription[Symbol.asyncIterator]();
      const next = async () => {
        const result = await iterator.next();
        return result.done === true ? undefined : result.value;
      };
      assert.equal((await next())?.offset, 0);
      await assert.rejects(next(), (error) => {
        assert.ok(isHeraldError(error, 'DECODE_FAILED'));
        const { topic, partition, offset, record } = error.details as unknown as ForeignRecordDetails;
        assert.deepEqual({ topic, partition, offset }, { topic: 'mixed', partition: 0, offset: 1 });
        assert.equal(
          Buffer.from(record.value!, 'base64').toString(),
          'not an event',
          'the message as stored',
        );
        return true;
      });
      assert.equal((await next())?.offset, 2);
    });

    it('writes events other NATS clients read: percent-encoded ce- headers and the data as the payload', async () => {
      await using env = await setup();
      await env.log.createTopic('outbox', { partitions: 1 });
      const event: CloudEvent = { ...makeEvent(1), subject: 'café au lait' };
      await env.log.append('outbox', event);
      const stored = await env.jsm.streams.getMessage(`HERALD_${env.namespace}_outbox_0`, { seq: 1 });
      assert.equal(stored?.header.get('ce-id'), 'event-1');
      assert.equal(stored?.header.get('ce-subject'), 'caf%C3%A9%20au%20lait');
      assert.equal(stored?.header.get('content-type'), 'application/json');
      assert.equal(stored?.header.get('Nats-Msg-Id'), `${event.source} event-1`);
      assert.equal(new TextDecoder().decode(stored?.data), '{"i":1}');
    });

    it('makes a partition stream that is missing (a crash during createTopic) from the topic record', async () => {
      await using env = await setup();
      await env.log.createTopic('orders', { partitions: 2 });
      await env.jsm.streams.delete(`HERALD_${env.namespace}_orders_1`);
      const other = await openNatsLog({ servers: TEST_SERVERS, namespace: env.namespace });
      try {
        assert.deepEqual((await other.append('orders', makeEvent(1), { partition: 1 })).offset, 0);
        assert.deepEqual(
          (await other.describeTopic('orders')).partitionInfo.map((p) => p.latest),
          [0, 1],
        );
      } finally {
        await other.close();
      }
    });

    it('resets a group: refused while members are live, then rewinds and marks what was handled as a replay', async () => {
      await using env = await setup();
      await env.log.createTopic('orders', { partitions: 1 });
      await env.log.appendBatch(
        'orders',
        Array.from({ length: 6 }, (_, i) => makeEvent(i)),
      );
      const subscription = await env.log.subscribe({ group: 'billing', topics: ['orders'] });
      const events = await collect(subscription, 6, 10_000);
      await subscription.commit(events[4]!);
      await assert.rejects(env.log.resetGroup('billing', { to: 'earliest' }), (error) =>
        isHeraldError(error, 'CONFLICT'),
      );
      await subscription.close();

      assert.deepEqual(await env.log.resetGroup('billing', { to: 'earliest', dryRun: true }), [
        { topic: 'orders', partition: 0, from: 5, to: 0 },
      ]);
      assert.equal(
        (await env.log.describeGroup('billing')).partitions[0]?.committed,
        5,
        'a dry run changes nothing',
      );
      await env.log.resetGroup('billing', { to: 'earliest' });
      const [state] = (await env.log.describeGroup('billing')).partitions;
      assert.deepEqual([state?.committed, state?.replayUntil], [0, 5]);

      await using again = await env.log.subscribe({ group: 'billing', topics: ['orders'] });
      assert.deepEqual(
        (await collect(again, 6, 10_000)).map((e) => e.offset),
        [0, 1, 2, 3, 4, 5],
      );
      await assert.rejects(
        env.log.resetGroup('billing', { to: { offsets: [{ topic: 'orders', partition: 0, offset: 99 }] } }),
        (error) => isHeraldError(error, 'INVALID_ARGUMENT'),
      );
    });

    it('keeps consuming from the committed offsets when the group record was deleted by hand', async () => {
      await using env = await setup();
      await env.log.createTopic('orders', { partitions: 1 });
      await env.log.appendBatch(
        'orders',
        Array.from({ length: 4 }, (_, i) => makeEvent(i)),
      );
      for (let round = 0; round < 3; round++) {
        const subscription = await env.log.subscribe({ group: 'billing', topics: ['orders'] });
        const [event] = await collect(subscription, 1, 10_000);
        await subscription.commit(event!);
        await subscription.close();
      }
      await env.jsm.streams.purge('KV_herald_groups', {
        filter: `$KV.herald_groups.${env.namespace}.g.billing`,
      });
      await using again = await env.log.subscribe({ group: 'billing', topics: ['orders'] });
      assert.deepEqual(
        (await collect(again, 1, 10_000)).map((e) => e.offset),
        [3],
      );
      await again.commit((await env.log.read('orders', { partition: 0, from: { offset: 3 } }))[0]!);
      assert.equal((await env.log.describeGroup('billing')).partitions[0]?.committed, 4);
    });

    it('opens through openEventLog from a nats:// URL', async () => {
      const namespace = uniqueNamespace();
      const log = await openEventLog(`nats://${TEST_SERVERS[0]!}?namespace=${namespace}&clientId=url-test`);
      try {
        await log.createTopic('orders', { partitions: 1 });
        assert.deepEqual(
          (await log.listTopics()).map((t) => t.name),
          ['orders'],
        );
      } finally {
        await log.close();
        await deleteNamespace(namespace);
      }
    });

    it('fails with BACKEND_UNAVAILABLE when no server answers', async () => {
      await assert.rejects(openNatsLog({ servers: ['127.0.0.1:1'], connectTimeoutMs: 1000 }), (error) =>
        isHeraldError(error, 'BACKEND_UNAVAILABLE'),
      );
    });

    it('hands the partitions of a member process killed with SIGKILL to the survivor, with what it never committed', async () => {
      await using env = await setup();
      await env.log.createTopic('shared', { partitions: 2 });
      const child = startFixture('group-member-process.ts', [
        TEST_SERVERS.join(','),
        env.namespace,
        'billing',
        'shared',
        '1000',
      ]);
      try {
        await child.waitFor((line) => line === 'assigned [0,1]');
        await using survivor = await env.log.subscribe({
          group: 'billing',
          topics: ['shared'],
          sessionTimeoutMs: 1000,
        });
        await waitFor(() => survivor.assignment().length === 1, 10_000, 'the survivor to get one partition');
        const mine = survivor.assignment()[0]!.partition;
        const theirs = 1 - mine;
        await child.waitFor((line) => line === `assigned [${theirs}]`);
        for (let i = 0; i < 3; i++) await env.log.append('shared', makeEvent(i), { partition: theirs });
        await child.waitFor((line) => line === `seen ${theirs} 2`);

        child.signal('SIGKILL');
        await child.exited;
        await waitFor(
          () => survivor.assignment().length === 2,
          10_000,
          'the survivor to own both partitions',
        );
        const redelivered = await collect(survivor, 3, 10_000);
        assert.deepEqual(
          redelivered.map((e) => [e.partition, e.offset]),
          [
            [theirs, 0],
            [theirs, 1],
            [theirs, 2],
          ],
        );
        assert.deepEqual(
          (await env.log.describeGroup('billing')).members.map((m) => m.memberId),
          [survivor.memberId],
        );
      } finally {
        child.signal('SIGKILL');
        await child.exited;
      }
    });
  });
}
