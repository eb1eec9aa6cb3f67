/**
 * The embedded log's tables. One database file holds the log, the consumer groups and (in the
 * runtime) the services' own tables, so a handler's writes, its inbox entry, its emitted events
 * and its offset commit can share one transaction.
 *
 * Bump SCHEMA_VERSION when the layout changes; `openSqliteLog` upgrades the versions listed in
 * SCHEMA_UPGRADES and refuses any other instead of misreading it (version 1 kept attributes as
 * one JSON column).
 */
export const SCHEMA_VERSION = 3;

/**
 * The statements that bring a file of version `from` to the next one, run in the open's write
 * transaction. 2 → 3 adds the record checksum column; rows written before keep NULL there and
 * are read unchecked.
 */
export const SCHEMA_UPGRADES: ReadonlyMap<number, readonly string[]> = new Map([
  [2, ['ALTER TABLE herald_events ADD COLUMN crc INTEGER']],
]);

/**
 * Events, clustered by (topic, partition, offset) so appends go to the end of a partition's
 * range and a partition reads sequentially. The CloudEvents context attributes have their own
 * columns (see `event-row.ts`); `data` holds the payload bytes exactly as produced; `size` is
 * what retention by bytes counts. `timestamp` is the log-append time in ms and never decreases
 * within a partition, which lets timestamp seeks binary-search offsets without a second index.
 * `crc` is the record's CRC-32 (`recordChecksum` in event-row.ts), verified on every read from
 * the file, so a damaged event is reported instead of served.
 */
export const EVENTS_TABLE_DDL = `CREATE TABLE IF NOT EXISTS herald_events (
  topic_id INTEGER NOT NULL,
  partition INTEGER NOT NULL,
  offset INTEGER NOT NULL,
  timestamp INTEGER NOT NULL,
  id TEXT NOT NULL,
  source TEXT NOT NULL,
  type TEXT NOT NULL,
  time TEXT,
  subject TEXT,
  datacontenttype TEXT,
  dataschema TEXT,
  partitionkey TEXT,
  traceparent TEXT,
  tracestate TEXT,
  extensions TEXT,
  data BLOB,
  size INTEGER NOT NULL,
  crc INTEGER,
  PRIMARY KEY (topic_id, partition, offset)
) WITHOUT ROWID`;

/**
 * The store's documents (sqlite-store.ts), by (collection, id): a service's state, redrive
 * records, audit entries. The log writes one itself only when asked to store a record with a
 * group reset.
 */
export const DOCUMENTS_TABLE_DDL = `CREATE TABLE IF NOT EXISTS herald_documents (
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (collection, id)
  ) WITHOUT ROWID`;

export const SCHEMA_DDL = [
  `CREATE TABLE IF NOT EXISTS herald_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS herald_topics (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    partitions INTEGER NOT NULL,
    retention_ms INTEGER,
    retention_bytes INTEGER,
    created_at INTEGER NOT NULL
  )`,
  // Per partition: the next offset to assign, the first retained offset, the bytes retained,
  // and the last append time (so timestamps never go backwards within a partition).
  `CREATE TABLE IF NOT EXISTS herald_partitions (
    topic_id INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL DEFAULT 0,
    low_offset INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0,
    last_timestamp INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (topic_id, partition)
  ) WITHOUT ROWID`,
  EVENTS_TABLE_DDL,
  // generation: bumped on every membership change; assigned_generation: the generation the
  // current target assignment was computed for.
  `CREATE TABLE IF NOT EXISTS herald_groups (
    name TEXT PRIMARY KEY,
    generation INTEGER NOT NULL DEFAULT 0,
    assigned_generation INTEGER NOT NULL DEFAULT -1
  ) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS herald_members (
    group_name TEXT NOT NULL,
    member_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    topics TEXT NOT NULL,
    session_timeout_ms INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (group_name, member_id)
  ) WITHOUT ROWID`,
  // owner: the member that holds the partition now (NULL: free to claim); target: the member
  // the current assignment gives it to. A partition moves only when its owner releases it or
  // expires, so no two live members ever process it. epoch: bumped on every change of owner;
  // commits carry the epoch they were made under, which is how a stale member is fenced.
  `CREATE TABLE IF NOT EXISTS herald_assignments (
    group_name TEXT NOT NULL,
    topic_id INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    owner TEXT,
    target TEXT,
    epoch INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (group_name, topic_id, partition)
  ) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS herald_offsets (
    group_name TEXT NOT NULL,
    topic_id INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    committed INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    replay_until INTEGER,
    PRIMARY KEY (group_name, topic_id, partition)
  ) WITHOUT ROWID`,
];
