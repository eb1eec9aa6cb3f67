import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { partitionFor } from '@herald/core';
import type { CloudEvent } from '@herald/core';
import { openKafkaLog } from '@herald/kafka';
import type { KafkaLog } from '@herald/kafka';
import { collect } from '@herald/testing';
import {
  TEST_BROKERS,
  brokerUnavailable,
  deleteNamespace,
  reportUnavailable,
  uniqueNamespace,
} from './kafka-test-broker.ts';

interface KcatRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly ts: number;
  readonly key: string | null;
  readonly payload: string | null;
  /** Alternating names and values, as kcat's JSON envelope prints them. */
  readonly headers?: readonly string[];
}

/** Runs kcat with `args`, writing `input` to its stdin; resolves with stdout, rejects on a non-zero exit. */
function kcat(args: readonly string[], input = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', ['-b', TEST_BROKERS.join(','), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0 && !stderr.includes('Delivery failed')) resolve(stdout);
      else reject(new Error(`kcat ${args.join(' ')} exited with ${String(code)}: ${stderr.trim()}`));
    });
    // kcat in consumer mode never reads its stdin; a closed pipe is not an error here.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

async function kcatMissing(): Promise<string | undefined> {
  try {
    await kcat(['-V']);
    return undefined;
  } catch (error) {
    return `kcat is not installed or does not run (${error instanceof Error ? error.message : String(error)})`;
  }
}

const HERALD_BIN = fileURLToPath(new URL('../../cli/bin/herald.js', import.meta.url));

/** Runs the real `herald` command with HERALD_LOG set; resolves with its exit status and output. */
function herald(
  args: readonly string[],
  log: string,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HERALD_BIN, ...args], {
      env: { ...process.env, HERALD_LOG: log },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

function headersOf(record: KcatRecord): Map<string, string> {
  const headers = new Map<string, string>();
  const flat = record.headers ?? [];
  for (let i = 0; i + 1 < flat.length; i += 2) headers.set(flat[i]!, flat[i + 1]!);
  return headers;
}

const unavailable = (await brokerUnavailable()) ?? (await kcatMissing());

if (unavailable !== undefined) {
  reportUnavailable('Kafka interoperability with kcat', unavailable);
} else {
  void describe('Kafka interoperability with kcat (CloudEvents Kafka binary binding)', () => {
    async function withTopic(run: (log: KafkaLog, wireTopic: string) => Promise<void>): Promise<void> {
      const namespace = uniqueNamespace();
      const log = await openKafkaLog({ brokers: TEST_BROKERS, namespace, heartbeatIntervalMs: 200 });
      try {
        await log.createTopic('interop', { partitions: 3 });
        await run(log, `${namespace}interop`);
      } finally {
        await log.close();
        await deleteNamespace(namespace);
      }
    }

    void it(
      'writes events that kcat reads as records with ce_* headers, content-type, key and payload',
      { timeout: 60_000 },
      async () => {
        await withTopic(async (log, wireTopic) => {
          const event: CloudEvent = {
            specversion: '1.0',
            id: 'order-42-placed',
            source: '/orders-service',
            type: 'dev.herald.orders.order-placed.v1',
            time: '2024-05-01T12:00:00.5Z',
            subject: 'orders/42',
            datacontenttype: 'application/json',
            dataschema: 'https://schemas.example.com/order-placed/v1.json',
            partitionkey: 'order-42',
            traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
            tracestate: 'congo=t61rcWkgMzE',
            extensions: { tenant: 'acme', priority: '7' },
            data: new TextEncoder().encode('{"orderId":42,"total":"19.90"}'),
          };
          const appended = await log.append('interop', event);
          assert.equal(appended.partition, partitionFor('order-42', 3));

          const output = await kcat([
            '-C',
            '-t',
            wireTopic,
            '-p',
            String(appended.partition),
            '-o',
            String(appended.offset),
            '-c',
            '1',
            '-e',
            '-J',
          ]);
          const record = JSON.parse(output.trim()) as KcatRecord;
          assert.equal(record.offset, appended.offset);
          assert.equal(record.key, 'order-42', 'the record key is the partition key');
          assert.equal(
            record.payload,
            '{"orderId":42,"total":"19.90"}',
            'the value is the data, byte for byte',
          );
          assert.equal(record.ts, appended.timestamp, "kcat sees the broker's append time Herald reported");
          assert.deepEqual(Object.fromEntries(headersOf(record)), {
            ce_specversion: '1.0',
            ce_id: 'order-42-placed',
            ce_source: '/orders-service',
            ce_type: 'dev.herald.orders.order-placed.v1',
            ce_time: '2024-05-01T12:00:00.5Z',
            ce_subject: 'orders/42',
            ce_dataschema: 'https://schemas.example.com/order-placed/v1.json',
            ce_partitionkey: 'order-42',
            ce_traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
            ce_tracestate: 'congo=t61rcWkgMzE',
            ce_tenant: 'acme',
            ce_priority: '7',
            'content-type': 'application/json',
          });
        });
      },
    );

    void it(
      'reads a record produced by kcat with ce_* headers as the CloudEvent it describes',
      { timeout: 60_000 },
      async () => {
        await withTopic(async (log, wireTopic) => {
          const key = 'customer-7';
          // murmur2_random is librdkafka's name for the Java client's default partitioner; Herald must agree with it.
          await kcat(
            [
              '-P',
              '-t',
              wireTopic,
              '-X',
              'topic.partitioner=murmur2_random',
              '-k',
              key,
              '-H',
              'ce_specversion=1.0',
              '-H',
              'ce_id=kcat-1',
              '-H',
              'ce_source=/kcat',
              '-H',
              'ce_type=dev.herald.interop.record-written.v1',
              '-H',
              'ce_time=2024-05-01T12:00:00Z',
              '-H',
              'ce_subject=customers/7',
              '-H',
              'ce_tenant=acme',
              '-H',
              'content-type=application/json',
              '-H',
              'x-not-cloudevents=ignored',
            ],
            '{"hello":"herald"}',
          );

          const partition = partitionFor(key, 3);
          const [read] = await log.read('interop', { partition, from: 'earliest' });
          assert.ok(
            read !== undefined,
            `the record is in partition ${partition}, the one partitionFor(key) picks`,
          );
          const expected = {
            specversion: '1.0',
            id: 'kcat-1',
            source: '/kcat',
            type: 'dev.herald.interop.record-written.v1',
            time: '2024-05-01T12:00:00Z',
            subject: 'customers/7',
            datacontenttype: 'application/json',
            partitionkey: key,
            extensions: { tenant: 'acme' },
          };
          const check = (event: CloudEvent, via: string): void => {
            const { data, ...attributes } = event;
            const {
              topic,
              partition: p,
              offset,
              timestamp,
              ...rest
            } = attributes as typeof attributes & {
              topic?: string;
              partition?: number;
              offset?: number;
              timestamp?: number;
            };
            assert.deepEqual(rest, expected, `${via}: attributes`);
            assert.equal(new TextDecoder().decode(data), '{"hello":"herald"}', `${via}: data`);
            assert.deepEqual([topic, p, offset], ['interop', partition, 0], `${via}: position`);
            assert.ok(typeof timestamp === 'number' && timestamp > 0, `${via}: timestamp`);
          };
          check(read, 'read');

          await using subscription = await log.subscribe({ group: 'interop-readers', topics: ['interop'] });
          const [delivered] = await collect(subscription, 1, 20_000);
          check(delivered!, 'subscribe');
        });
      },
    );
    void it(
      'herald tail shows a record another producer wrote without CloudEvents headers as it is, marked, and reads on after it',
      { timeout: 120_000 },
      async () => {
        await withTopic(async (log, wireTopic) => {
          const namespace = wireTopic.slice(0, -'interop'.length);
          const placed = (id: string): CloudEvent => ({
            specversion: '1.0',
            id,
            source: '/orders-service',
            type: 'dev.herald.orders.order-placed.v1',
            datacontenttype: 'application/json',
            data: new TextEncoder().encode(JSON.stringify({ id })),
          });
          await log.append('interop', placed('before'), { partition: 0 });
          await kcat(
            ['-P', '-t', wireTopic, '-p', '0', '-k', 'legacy-key'],
            'a line from a legacy producer\n',
          );
          await log.append('interop', placed('after'), { partition: 0 });
          const url = `kafka://${TEST_BROKERS.join(',')}?namespace=${namespace}`;

          for (const start of [['--offset', '0'], ['--from-beginning']]) {
            const text = await herald(['tail', 'interop', '--partition', '0', ...start], url);
            assert.equal(text.status, 0, text.stderr);
            const lines = text.stdout.trim().split('\n');
            assert.equal(lines.length, 3, text.stdout);
            assert.match(lines[0]!, /interop\/0@0 dev\.herald\.orders\.order-placed\.v1 \{"id":"before"\}/);
            assert.match(
              lines[1]!,
              /interop\/0@1 \[not a CloudEvent: .+\] key=legacy-key a line from a legacy producer$/,
            );
            assert.match(lines[2]!, /interop\/0@2 dev\.herald\.orders\.order-placed\.v1 \{"id":"after"\}/);
          }

          const json = await herald(['tail', 'interop', '--json'], url);
          assert.equal(json.status, 0, json.stderr);
          const records = json.stdout
            .trim()
            .split('\n')
            .map((line) => JSON.parse(line) as Record<string, unknown>);
          assert.deepEqual(
            records.map((r) => r['id'] ?? (r['foreign'] === true ? 'foreign' : '?')),
            ['before', 'foreign', 'after'],
          );
          const foreign = records[1]!;
          assert.equal(foreign['offset'], 1);
          assert.equal(Buffer.from(foreign['key_base64'] as string, 'base64').toString(), 'legacy-key');
          assert.equal(
            Buffer.from(foreign['value_base64'] as string, 'base64').toString(),
            'a line from a legacy producer',
          );
        });
      },
    );
  });
}
