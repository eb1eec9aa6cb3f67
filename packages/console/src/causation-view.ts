// The causes and effects of one event: the events of its correlation, found by scanning the
// log's topics (at most `scanCap` events), arranged by core's `buildChain`.
import { correlationOf, isHeraldError } from '@herald/core';
import type { EventLog, StoredEvent } from '@herald/core';
import { buildChain, byAppend, committedOffsets, readPartition } from '@herald/core/ops';
import type { ChainNode } from '@herald/core/ops';

/**
 * `causedBy`: the chain of causes of `event`, from the start of its correlation down to the
 * event whose handling emitted it. `caused`: the events its handling emitted. Herald's own topics
 * (`herald.*`) are not searched; a scan that reaches `scanCap` answers with what it found.
 */
export async function causationAround(
  log: EventLog,
  event: StoredEvent,
  options: { readonly scanCap: number },
): Promise<{ causedBy: StoredEvent[]; caused: StoredEvent[] }> {
  const correlation = correlationOf(event);
  const members: StoredEvent[] = [];
  let budget = options.scanCap;
  scan: for (const topic of await log.listTopics()) {
    if (topic.name.startsWith('herald.')) continue;
    for (let partition = 0; partition < topic.partitions; partition++) {
      try {
        for await (const candidate of readPartition(log, topic.name, partition)) {
          if (--budget < 0) break scan;
          if (correlationOf(candidate) === correlation) members.push(candidate);
        }
      } catch (error) {
        // A record another producer wrote ends this partition's scan; the others go on.
        if (!isHeraldError(error, 'DECODE_FAILED')) throw error;
      }
    }
  }
  if (
    !members.some(
      (m) => m.topic === event.topic && m.partition === event.partition && m.offset === event.offset,
    )
  ) {
    members.push(event);
  }
  const chain = buildChain(correlation, members.sort(byAppend), await committedOffsets(log));
  const path = pathTo(chain.roots, event.id) ?? [];
  const node = path.at(-1);
  return {
    causedBy: path.slice(0, -1).map((n) => n.event),
    caused: node?.caused.map((n) => n.event) ?? [],
  };
}

function pathTo(nodes: readonly ChainNode[], id: string): ChainNode[] | undefined {
  for (const node of nodes) {
    if (node.event.id === id) return [node];
    const below = pathTo(node.caused, id);
    if (below !== undefined) return [node, ...below];
  }
  return undefined;
}
