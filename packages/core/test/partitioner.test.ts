import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { partitionFor } from '@herald/core';
import { murmur2 } from '@herald/core/backend';

/**
 * Vectors computed by Apache Kafka's own kafka-clients jar (`Utils.murmur2`, `Utils.toPositive`,
 * cross-checked against the producer's `BuiltInPartitioner.partitionForKey`). Regenerate with
 * `scripts/kafka/kafka.sh vectors`.
 */
interface VectorCase {
  keyHex: string;
  keyText?: string;
  murmur2: number;
  partitions: Record<string, number>;
}

interface Vectors {
  generatedBy: string;
  kafkaClientsVersion: string;
  cases: VectorCase[];
}

const PARTITION_COUNTS = [1, 2, 3, 6, 12, 50, 1000];

function loadVectors(): Vectors {
  const url = new URL('./fixtures/kafka-partitioner-vectors.json', import.meta.url);
  const parsed = JSON.parse(readFileSync(url, 'utf8')) as Vectors;
  assert.ok(Array.isArray(parsed.cases), 'the fixture has a cases array');
  return parsed;
}

const vectors = loadVectors();
const textCases = vectors.cases.filter(
  (c): c is VectorCase & { keyText: string } => typeof c.keyText === 'string',
);
const byteCases = vectors.cases.filter((c) => c.keyText === undefined);

function bytesOf(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

function describeKey(c: VectorCase): string {
  return c.keyText === undefined ? `bytes 0x${c.keyHex}` : `${JSON.stringify(c.keyText)} (0x${c.keyHex})`;
}

describe('the Kafka partitioner vectors', () => {
  it('cover text and byte keys of every tail length for every partition count', () => {
    assert.match(vectors.kafkaClientsVersion, /^\d+\.\d+\.\d+/);
    assert.ok(textCases.length >= 200, `expected at least 200 text keys, got ${textCases.length}`);
    assert.ok(byteCases.length >= 100, `expected at least 100 byte keys, got ${byteCases.length}`);
    const lengths = new Set(vectors.cases.map((c) => c.keyHex.length / 2));
    for (let length = 0; length <= 64; length++) assert.ok(lengths.has(length), `a key of ${length} bytes`);
    assert.ok(
      vectors.cases.some((c) => c.murmur2 < 0),
      'some hashes are negative Java ints',
    );
    const counts = new Set(PARTITION_COUNTS.map(String));
    for (const c of vectors.cases) assert.deepEqual(new Set(Object.keys(c.partitions)), counts, c.keyHex);
  });
});

describe('murmur2', () => {
  it("returns Kafka's Utils.murmur2 for every vector key", () => {
    for (const c of vectors.cases) {
      assert.equal(murmur2(bytesOf(c.keyHex)), c.murmur2, describeKey(c));
    }
  });

  it('reads only the bytes of a view, not the rest of its buffer', () => {
    const c = byteCases.find((v) => v.keyHex.length >= 2 * 13);
    assert.ok(c, 'a byte key of at least 13 bytes');
    const key = bytesOf(c.keyHex);
    const padded = new Uint8Array(key.length + 7).fill(0xab);
    padded.set(key, 3);
    assert.equal(murmur2(padded.subarray(3, 3 + key.length)), c.murmur2);
    assert.equal(murmur2(Buffer.from(key)), c.murmur2);
  });
});

describe('partitionFor', () => {
  it("picks the partition Kafka's default partitioner picks for every byte key", () => {
    for (const c of vectors.cases) {
      const key = bytesOf(c.keyHex);
      for (const n of PARTITION_COUNTS) {
        assert.equal(partitionFor(key, n), c.partitions[String(n)], `${describeKey(c)} among ${n}`);
      }
    }
  });

  it('hashes string keys as their UTF-8 bytes, like Kafka’s StringSerializer', () => {
    for (const c of textCases) {
      assert.equal(Buffer.from(c.keyText, 'utf8').toString('hex'), c.keyHex, 'the fixture key is UTF-8');
      for (const n of PARTITION_COUNTS) {
        assert.equal(partitionFor(c.keyText, n), c.partitions[String(n)], `${describeKey(c)} among ${n}`);
      }
    }
  });

  it('gives a multi-byte string the partition of its UTF-8 bytes, not of its UTF-16 code units', () => {
    const c = textCases.find((v) => v.keyText === 'ünïcødé');
    assert.ok(c, 'the fixture has "ünïcødé"');
    const utf16 = new Uint8Array(Buffer.from(c.keyText, 'utf16le'));
    assert.notEqual(murmur2(utf16), c.murmur2);
    assert.equal(partitionFor(c.keyText, 1000), c.partitions['1000']);
    assert.equal(partitionFor(c.keyText, 1000), partitionFor(new TextEncoder().encode(c.keyText), 1000));
  });

  it('rejects a partition count that is not a positive integer with a RangeError', () => {
    for (const partitions of [0, -0, -1, -12, 1.5, 0.5, Number.NaN, Infinity, -Infinity, 2 ** 53]) {
      assert.throws(
        () => partitionFor('order-1', partitions),
        (error: unknown) => error instanceof RangeError && error.message.includes('partitions'),
        `partitions = ${String(partitions)}`,
      );
    }
  });
});
