import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { DatabaseSync } from 'node:sqlite';
import { crc32 } from 'node:zlib';

/**
 * The durable-heads record: a small file beside the log (`<log>-heads`) that says, per
 * partition, how far the log was known durable, so a log that comes back shorter is refused at
 * open instead of served. A write-ahead log cut short (a bad copy, a tool that truncated it, a
 * damaged frame: SQLite drops a WAL's frames from the first bad one on, silently) or a database
 * file restored from an older copy holds a consistent but shorter history; nothing inside the
 * file can tell, and a log that re-used the lost offsets would hand consumers different events
 * under offsets they already committed past.
 *
 * Contract:
 * - The record is written only with heads known durable: with `synchronous = full`, after the
 *   WAL sync that covered them (and at open, after the open's own sync); with `normal`, only
 *   when a close checkpointed everything into the database file (the WAL is gone), because
 *   before that a power loss may rightly take back a suffix of acknowledged appends.
 * - It is never synced. After a power loss it may be older than the log (a weaker check, never
 *   a false one); it cannot be newer, since it is written after the sync returned.
 * - Several processes may write it; each writes what it knows durable, so it may move back to
 *   an older view, never beyond the truth. A torn or foreign record fails its checksum or its
 *   log id and is ignored, then overwritten.
 * - It belongs to one log: the log's id (`herald_meta.log_id`, made when the file is created)
 *   is in it, so a stale record beside a new file of the same name is ignored.
 *
 * Layout (little-endian): "HRLDHEAD", u32 format 1, u32 count, 16 bytes of log id, then count ×
 * (u32 topic id, u32 partition, f64 next offset), then u32 CRC-32 of everything before it.
 */
export class DurableHeadsRecord {
  readonly path: string;
  readonly #logId: Buffer;
  #fd: number | undefined;
  #buffer = Buffer.alloc(0);

  constructor(logPath: string, logId: string) {
    this.path = `${logPath}-heads`;
    this.#logId = Buffer.from(logId.replaceAll('-', ''), 'hex');
  }

  /**
   * The heads recorded now, or undefined when there is no record, or it is torn, foreign or of
   * another log. Read it *before* the snapshot `check` compares it with: another process may
   * append and record meanwhile, and a snapshot older than the record would look short.
   */
  read(): RecordedHeads | undefined {
    let bytes: Buffer;
    try {
      bytes = readFileSync(this.path);
    } catch {
      return undefined;
    }
    if (bytes.length < 36 || bytes.toString('latin1', 0, 8) !== 'HRLDHEAD' || bytes.readUInt32LE(8) !== 1) {
      return undefined;
    }
    const count = bytes.readUInt32LE(12);
    const end = 32 + count * 16;
    if (bytes.length < end + 4 || bytes.readUInt32LE(end) !== crc32(bytes.subarray(0, end))) return undefined;
    if (!bytes.subarray(16, 32).equals(this.#logId)) return undefined;
    const heads: [number, number, number][] = [];
    for (let at = 32; at < end; at += 16) {
      heads.push([bytes.readUInt32LE(at), bytes.readUInt32LE(at + 4), bytes.readDoubleLE(at + 8)]);
    }
    return heads;
  }

  /**
   * What `recorded` says that `db` contradicts: one line per partition that ends before its
   * recorded durable head (a topic missing altogether counts too). Run it inside a read
   * transaction begun after `read`, so the heads are one snapshot no older than the record.
   */
  check(db: DatabaseSync, recorded: RecordedHeads | undefined): string[] {
    if (recorded === undefined) return [];
    const heads = new Map<string, number>();
    const names = new Map<number, string>();
    for (const row of db
      .prepare(
        `SELECT p.topic_id, p.partition, p.next_offset, t.name FROM herald_partitions p
         JOIN herald_topics t ON t.id = p.topic_id`,
      )
      .all() as { topic_id: number; partition: number; next_offset: number; name: string }[]) {
      heads.set(`${row.topic_id}/${row.partition}`, row.next_offset);
      names.set(row.topic_id, row.name);
    }
    const problems: string[] = [];
    for (const [topicId, partition, durable] of recorded) {
      const head = heads.get(`${topicId}/${partition}`);
      const where = `${names.get(topicId) ?? `topic #${topicId}`}/${partition}`;
      if (head === undefined) {
        problems.push(`${where}: the partition is missing, but ${durable} events of it were durable`);
      } else if (head < durable) {
        problems.push(
          `${where}: the log ends at offset ${head}, but offsets up to ${durable - 1} were durable`,
        );
      }
    }
    return problems;
  }

  /** Replaces the record with `heads` (every partition's durable next offset). Never syncs. */
  write(heads: Iterable<readonly [topicId: number, partition: number, head: number]>): void {
    const entries = [...heads];
    const size = 32 + entries.length * 16 + 4;
    if (this.#buffer.length < size) this.#buffer = Buffer.alloc(size * 2);
    const buffer = this.#buffer;
    buffer.write('HRLDHEAD', 0, 'latin1');
    buffer.writeUInt32LE(1, 8);
    buffer.writeUInt32LE(entries.length, 12);
    this.#logId.copy(buffer, 16);
    let at = 32;
    for (const [topicId, partition, head] of entries) {
      buffer.writeUInt32LE(topicId, at);
      buffer.writeUInt32LE(partition, at + 4);
      buffer.writeDoubleLE(head, at + 8);
      at += 16;
    }
    buffer.writeUInt32LE(crc32(buffer.subarray(0, at)), at);
    // One positioned write of the whole record; what lies beyond it from a longer earlier one is
    // outside the checksum and ignored.
    this.#fd ??= openSync(this.path, existsSync(this.path) ? 'r+' : 'w+', 0o600);
    writeSync(this.#fd, buffer, 0, size, 0);
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}

/** Per partition: topic id, partition, the durable next offset. */
export type RecordedHeads = readonly (readonly [topicId: number, partition: number, head: number])[];
