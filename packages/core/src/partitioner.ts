/**
 * Key → partition, identical to Apache Kafka's default partitioner for keyed records:
 * `toPositive(murmur2(utf8(key))) % partitions`. Because every backend uses this function, a
 * key lands in the same partition on the embedded log, on Kafka and on NATS, so moving a
 * system between them keeps per-key order.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const encoder = new TextEncoder();
/** Reused for string keys up to its size (UTF-8 needs at most 3 bytes per UTF-16 unit). */
let scratch = new Uint8Array(256);

/** Kafka's 32-bit murmur2 (signed result, as Java's `int`). */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = data[i4]! | (data[i4 + 1]! << 8) | (data[i4 + 2]! << 16) | (data[i4 + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  const tail = length & ~3;
  const rest = length & 3;
  if (rest === 3) h ^= data[tail + 2]! << 16;
  if (rest >= 2) h ^= data[tail + 1]! << 8;
  if (rest >= 1) {
    h ^= data[tail]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * The partition Kafka's default partitioner picks for `key` among `partitions`.
 * Strings are hashed as their UTF-8 bytes.
 *
 * @example partitionFor('order-42', 8) // same answer as a Kafka producer with 8 partitions
 */
export function partitionFor(key: string | Uint8Array, partitions: number): number {
  if (!Number.isSafeInteger(partitions) || partitions < 1) {
    throw new RangeError(`partitions must be a positive integer, got ${String(partitions)}`);
  }
  if (partitions === 1) return 0;
  let bytes: Uint8Array;
  if (typeof key === 'string') {
    if (key.length * 3 > scratch.length) scratch = new Uint8Array(key.length * 3);
    bytes = scratch.subarray(0, encoder.encodeInto(key, scratch).written);
  } else {
    bytes = key;
  }
  return (murmur2(bytes) & 0x7fffffff) % partitions;
}
