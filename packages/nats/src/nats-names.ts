import { createHash } from 'node:crypto';

/*
 * Where Herald's names live on a NATS server. Every topic partition is its own stream, so a
 * stream's sequence gives the partition's dense offsets (offset = sequence − 1):
 *
 *   stream   HERALD_[<namespace>_]<topic>_<partition>
 *   subject  herald.[<namespace>.]<topic>.<partition>
 *   KV       herald_topics  [<namespace>.]<topic>                       topic record
 *            herald_groups  [<namespace>.]g.<group>                     membership and ownership
 *                           [<namespace>.]o.<group>.<topic>.<partition> committed offset + fencing epoch
 *
 * Topic and group names go through `escapeToken`, which is injective, so two different names
 * never share a stream, subject or key.
 */

/** The KV bucket that holds topic records. */
export const TOPICS_BUCKET = 'herald_topics';
/** The KV bucket that holds consumer-group membership, ownership and committed offsets. */
export const GROUPS_BUCKET = 'herald_groups';

/** NATS limits stream names to 255 characters (they are also directory names on the server). */
const MAX_STREAM_NAME = 255;
const NAMESPACE = /^[A-Za-z0-9-]{0,64}$/;
const encoder = new TextEncoder();

/** True when `namespace` may prefix Herald's names: up to 64 letters, digits and `-`. */
export function isValidNamespace(namespace: string): boolean {
  return NAMESPACE.test(namespace);
}

/**
 * One NATS token for any string: letters, digits and `-` stay, `_` becomes `__`, `.` becomes
 * `_d`, and every other character becomes `_` plus two upper-case hex digits per UTF-8 byte.
 * The escapes are prefix-free, so different inputs never give the same token. The result is
 * valid in a stream name, a subject token and a KV key.
 *
 * @example escapeToken('orders.dead-letter') // 'orders_ddead-letter'
 */
export function escapeToken(name: string): string {
  let out = '';
  for (const char of name) {
    if (/^[A-Za-z0-9-]$/.test(char)) out += char;
    else if (char === '_') out += '__';
    else if (char === '.') out += '_d';
    else {
      for (const byte of encoder.encode(char)) out += `_${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  }
  return out;
}

/** The names of one namespace: every stream, subject and key this log touches. */
export class NatsNames {
  readonly namespace: string;

  constructor(namespace: string) {
    this.namespace = namespace;
  }

  /**
   * The stream of one partition. A name too long for NATS gets a digest of the topic name
   * instead (`_h…`, which no escaped name can produce), so any valid topic name fits.
   */
  stream(topic: string, partition: number): string {
    const prefix = `HERALD_${this.namespace === '' ? '' : `${this.namespace}_`}`;
    const suffix = `_${partition}`;
    const plain = prefix + escapeToken(topic) + suffix;
    if (plain.length <= MAX_STREAM_NAME) return plain;
    return `${prefix}_h${createHash('sha256').update(topic).digest('hex').slice(0, 48)}${suffix}`;
  }

  /** The one subject of a partition's stream. */
  subject(topic: string, partition: number): string {
    return `${this.#subjectPrefix()}${escapeToken(topic)}.${partition}`;
  }

  /** A subject filter matching every partition subject of this namespace. */
  allSubjects(): string {
    return this.namespace === '' ? 'herald.>' : `herald.${this.namespace}.>`;
  }

  /** The key of a topic's record in {@link TOPICS_BUCKET}. */
  topicKey(topic: string): string {
    return this.#keyPrefix() + escapeToken(topic);
  }

  /** A key filter matching every topic record of this namespace (and no other). */
  topicKeys(): string {
    return `${this.#keyPrefix()}*`;
  }

  /** The key of a group's membership and ownership record in {@link GROUPS_BUCKET}. */
  groupKey(group: string): string {
    return `${this.#keyPrefix()}g.${escapeToken(group)}`;
  }

  /** A key filter matching every group record of this namespace. */
  groupKeys(): string {
    return `${this.#keyPrefix()}g.*`;
  }

  /** The key of a group's committed offset for one partition. */
  offsetKey(group: string, topic: string, partition: number): string {
    return `${this.#keyPrefix()}o.${escapeToken(group)}.${escapeToken(topic)}.${partition}`;
  }

  /** A key filter matching every key of this namespace in either bucket (for cleanup). */
  allKeys(): string {
    return this.namespace === '' ? '>' : `${this.namespace}.>`;
  }

  #subjectPrefix(): string {
    return this.namespace === '' ? 'herald.' : `herald.${this.namespace}.`;
  }

  #keyPrefix(): string {
    return this.namespace === '' ? '' : `${this.namespace}.`;
  }
}
