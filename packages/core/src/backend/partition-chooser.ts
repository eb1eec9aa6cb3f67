import type { CloudEvent } from '../envelope.ts';
import { partitionFor } from '../partitioner.ts';
import { checkPartition } from './validation.ts';

/**
 * Picks the partition of each appended event, the same way on every backend: the partition the
 * caller named (checked against the topic, INVALID_ARGUMENT otherwise), else
 * `partitionFor(partitionkey, count)`, else round-robin.
 *
 * Round-robin counts per topic from partition 0 within one client (one chooser per log
 * client): a client's events without a key go to partitions 0, 1, 2, … of their topic in turn,
 * whatever it appends to other topics. Clients in several processes do not coordinate: each
 * spreads its own events evenly, and a client appending one keyless event per process run
 * always picks partition 0 (give such events a key to spread them). Backends choose only once
 * every event of an append was accepted, so a refused append does not move the turn.
 *
 * @example
 * const chooser = new PartitionChooser();
 * const partition = chooser.choose('orders', 4, event, options.partition);
 */
export class PartitionChooser {
  readonly #next = new Map<string, number>();

  /** The partition for `event` in `topic` (of `count` partitions); advances the topic's turn only for keyless events. */
  choose(topic: string, count: number, event: Pick<CloudEvent, 'partitionkey'>, requested?: number): number {
    if (requested !== undefined) return checkPartition(topic, requested, count);
    if (event.partitionkey !== undefined) return partitionFor(event.partitionkey, count);
    const turn = this.#next.get(topic) ?? 0;
    this.#next.set(topic, turn + 1);
    return turn % count;
  }
}
