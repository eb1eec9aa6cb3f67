import { z } from 'zod';
import { HeraldError, defineEvent, isHeraldError } from '@herald/core';
import type { EventData, EventDefinition, EventLog, StoredEvent } from '@herald/core';
import {
  COMPATIBILITY_MODES,
  DEFAULT_COMPATIBILITY,
  checkCompatibility,
  describeIncompatibilities,
} from './check-compatibility.ts';
import type { CompatibilityMode, Incompatibility } from './check-compatibility.ts';
import { parseEventType, schemaUri } from './event-type.ts';
import { jsonSchemaOf, schemaFingerprint } from './json-schema.ts';
import type { JsonSchema } from './json-schema.ts';

/** The topic the registry lives in, on the same log as the events it describes. */
export const SCHEMA_REGISTRY_TOPIC = 'herald.schemas';

const SOURCE = '/herald/schemas';
const jsonSchema = z.union([z.boolean(), z.record(z.string(), z.unknown())]);
const mode = z.enum(COMPATIBILITY_MODES);

/**
 * A version was registered. `previous` is the latest version the compatibility check compared
 * against and `compatibility` the mode it used: when a concurrent registration or mode change
 * got in first (an earlier offset), this record no longer matches the subject and is ignored.
 */
const SchemaRegistered = defineEvent({
  type: 'dev.herald.schemas.schema-registered.v1',
  schema: z.object({
    subject: z.string().min(1),
    version: z.number().int().positive(),
    type: z.string().min(1),
    schema: jsonSchema,
    fingerprint: z.string(),
    compatibility: mode,
    /** True when the registration also made `compatibility` the subject's mode. */
    setsCompatibility: z.boolean(),
    previous: z.number().int().positive().nullable(),
  }),
});

/** A subject's compatibility mode was set. */
const CompatibilitySet = defineEvent({
  type: 'dev.herald.schemas.compatibility-set.v1',
  schema: z.object({ subject: z.string().min(1), compatibility: mode }),
});

/** One registered version of a subject. Registered versions never change. */
export interface RegisteredSchema {
  readonly subject: string;
  readonly version: number;
  /** The event type this version is: `<subject>.v<version>`. */
  readonly type: string;
  readonly schema: JsonSchema;
  /** SHA-256 of the schema's canonical JSON. */
  readonly fingerprint: string;
  /** `herald:schemas/<subject>/versions/<n>`, the `dataschema` of its events. */
  readonly uri: string;
  /** When the registry accepted it (ms since the epoch). */
  readonly registeredAt: number;
  /** Its position in the registry topic. */
  readonly offset: number;
}

/** A subject: its compatibility mode and versions, oldest first. */
export interface SubjectInfo {
  readonly subject: string;
  readonly compatibility: CompatibilityMode;
  /** False while the subject uses the default mode (BACKWARD). */
  readonly compatibilityConfigured: boolean;
  readonly versions: readonly RegisteredSchema[];
}

/** What can be registered: an event definition (its JSON Schema is derived) or a type with a JSON Schema. */
export type SchemaSource = EventDefinition | { readonly type: string; readonly jsonSchema: JsonSchema };

export interface RegisterOptions {
  /** Make this the subject's mode, and check the registration under it. */
  readonly compatibility?: CompatibilityMode;
}

/**
 * What registering would do: `new` (compatible: it would be registered), `unchanged` (this exact
 * schema is that version already), `incompatible` (refused, see `incompatibilities`), `changed`
 * (that version is registered with another schema — versions never change) or `out-of-order`
 * (a later version is registered already).
 */
export interface RegistrationCheck {
  readonly subject: string;
  readonly version: number;
  readonly type: string;
  readonly compatibility: CompatibilityMode;
  readonly status: 'new' | 'unchanged' | 'incompatible' | 'changed' | 'out-of-order';
  readonly incompatibilities: readonly Incompatibility[];
  /** One line per problem, empty when there is none. */
  readonly explanation: string;
}

/** The outcome of a successful `register`. */
export interface RegistrationResult {
  readonly status: 'registered' | 'unchanged';
  readonly schema: RegisteredSchema;
  readonly compatibility: CompatibilityMode;
}

/**
 * Versioned JSON Schemas per subject, kept in the log itself (topic `herald.schemas`, one
 * partition, no retention) so that it works on every backend and travels with the events. A
 * registry topic that deletes records (retention) is refused: a forgotten version could be
 * registered again with another schema.
 * Opening reads the whole topic; `refresh` reads what other processes appended since.
 *
 * Registration appends after the compatibility check. Concurrent registrations are ordered by
 * their offsets: a registration only counts if, at its offset, the subject's latest version and
 * mode are still the ones it was checked against; the loser re-reads, re-checks and tries again
 * (or finds that the same schema was registered meanwhile).
 */
export interface SchemaRegistry {
  readonly topic: string;
  /** Reads registrations appended since the last read (by any process). */
  refresh(): Promise<void>;
  /** Every subject, sorted by name, as last read. */
  subjects(): readonly SubjectInfo[];
  subject(name: string): SubjectInfo | undefined;
  /** The registered version an event type names, as last read. */
  lookup(type: string): RegisteredSchema | undefined;
  /** Refreshes, then says what registering `source` would do, without writing anything. */
  check(source: SchemaSource, options?: RegisterOptions): Promise<RegistrationCheck>;
  /**
   * Registers `source` as version N of its subject (from its type's `.vN`). Resolves `unchanged`
   * when that exact schema is registered already. Throws `CONFLICT` when it is incompatible (the
   * error's `details.incompatibilities` and message explain each problem) or when that version is
   * registered with another schema; `INVALID_ARGUMENT` when a later version is registered.
   */
  register(source: SchemaSource, options?: RegisterOptions): Promise<RegistrationResult>;
  /** Sets a subject's compatibility mode (for the next registrations). */
  setCompatibility(subject: string, compatibility: CompatibilityMode): Promise<void>;
}

export interface SchemaRegistryOptions {
  readonly log: EventLog;
  /** Default {@link SCHEMA_REGISTRY_TOPIC}. */
  readonly topic?: string;
}

interface SubjectState {
  compatibility: CompatibilityMode;
  configured: boolean;
  readonly versions: Map<number, RegisteredSchema>;
}

const MAX_ATTEMPTS = 5;

/**
 * Opens the registry kept in `log` (creating its topic if needed) and reads it fully.
 *
 * @example
 * const registry = await openSchemaRegistry({ log });
 * await registry.register(OrderPlacedV2); // throws CONFLICT, explaining, if v2 breaks v1
 * const producer = createProducer({ log, source: '/orders', middleware: [registryGuard(registry, { definitions })] });
 */
export async function openSchemaRegistry(options: SchemaRegistryOptions): Promise<SchemaRegistry> {
  const registry = new LogSchemaRegistry(options.log, options.topic ?? SCHEMA_REGISTRY_TOPIC);
  await registry.open();
  return registry;
}

class LogSchemaRegistry implements SchemaRegistry {
  readonly topic: string;
  readonly #log: EventLog;
  readonly #subjects = new Map<string, SubjectState>();
  /** The next offset to read. */
  #next = 0;
  #reading: Promise<void> | undefined;

  constructor(log: EventLog, topic: string) {
    this.#log = log;
    this.topic = topic;
  }

  async open(): Promise<void> {
    const description = await this.#log.describeTopic(this.topic).catch(async (error: unknown) => {
      if (!isHeraldError(error, 'UNKNOWN_TOPIC')) throw error;
      await this.#log.createTopic(this.topic, { partitions: 1 }).catch((cause: unknown) => {
        if (!isHeraldError(cause, 'TOPIC_EXISTS')) throw cause;
      });
      return this.#log.describeTopic(this.topic);
    });
    if (description.partitions !== 1) {
      throw new HeraldError(
        'INVALID_ARGUMENT',
        `the schema registry topic ${this.topic} has ${description.partitions} partitions; it needs exactly 1 (one total order of registrations)`,
      );
    }
    const { ms, bytes } = description.retention;
    if (ms !== undefined || bytes !== undefined) {
      // A registry that forgets versions would accept a different schema under a version that
      // events in the log still carry.
      const limits = [ms === undefined ? '' : `ms=${ms}`, bytes === undefined ? '' : `bytes=${bytes}`]
        .join(' ')
        .trim();
      throw new HeraldError(
        'INVALID_ARGUMENT',
        `the schema registry topic ${this.topic} deletes old records (retention ${limits}); it must keep them forever (on Kafka: kafka-configs --alter --entity-type topics --entity-name ${this.topic} --add-config retention.ms=-1,retention.bytes=-1)`,
        { details: { topic: this.topic, retention: description.retention } },
      );
    }
    await this.refresh();
  }

  refresh(): Promise<void> {
    // One read at a time: folding is order-sensitive.
    this.#reading ??= this.#readAll().finally(() => (this.#reading = undefined));
    return this.#reading;
  }

  async #readAll(): Promise<void> {
    for (;;) {
      const events = await this.#log.read(this.topic, {
        partition: 0,
        from: { offset: this.#next },
        limit: 500,
      });
      if (events.length === 0) return;
      for (const event of events) {
        this.#fold(event);
        this.#next = event.offset + 1;
      }
    }
  }

  /**
   * Applies one record. Records that do not decode (a newer registry's record types, damaged
   * data) are skipped rather than blocking every reader of the registry.
   */
  #fold(event: StoredEvent): void {
    if (SchemaRegistered.is(event)) {
      let record: EventData<typeof SchemaRegistered>;
      try {
        record = SchemaRegistered.decode(event.data);
      } catch {
        return;
      }
      const state = this.#state(record.subject);
      const existing = state.versions.get(record.version);
      if (existing !== undefined) return;
      const latest = latestVersion(state);
      if (record.previous !== latest || record.version <= (latest ?? 0)) return;
      if (!record.setsCompatibility && record.compatibility !== state.compatibility) return;
      state.versions.set(record.version, {
        subject: record.subject,
        version: record.version,
        type: record.type,
        schema: record.schema,
        fingerprint: record.fingerprint,
        uri: schemaUri(record.subject, record.version),
        registeredAt: event.timestamp,
        offset: event.offset,
      });
      if (record.setsCompatibility) {
        state.compatibility = record.compatibility;
        state.configured = true;
      }
    } else if (CompatibilitySet.is(event)) {
      let record: EventData<typeof CompatibilitySet>;
      try {
        record = CompatibilitySet.decode(event.data);
      } catch {
        return;
      }
      const state = this.#state(record.subject);
      state.compatibility = record.compatibility;
      state.configured = true;
    }
  }

  #state(subject: string): SubjectState {
    let state = this.#subjects.get(subject);
    if (state === undefined) {
      state = { compatibility: DEFAULT_COMPATIBILITY, configured: false, versions: new Map() };
      this.#subjects.set(subject, state);
    }
    return state;
  }

  subjects(): readonly SubjectInfo[] {
    return [...this.#subjects.keys()]
      .sort()
      .map((name) => this.subject(name))
      .filter((s): s is SubjectInfo => s !== undefined && s.versions.length > 0);
  }

  subject(name: string): SubjectInfo | undefined {
    const state = this.#subjects.get(name);
    if (state === undefined) return undefined;
    return {
      subject: name,
      compatibility: state.compatibility,
      compatibilityConfigured: state.configured,
      versions: [...state.versions.values()].sort((a, b) => a.version - b.version),
    };
  }

  lookup(type: string): RegisteredSchema | undefined {
    const { subject, version } = parseEventType(type);
    return this.#subjects.get(subject)?.versions.get(version);
  }

  async check(source: SchemaSource, options: RegisterOptions = {}): Promise<RegistrationCheck> {
    await this.refresh();
    return this.#check(resolveSource(source), options);
  }

  #check(source: ResolvedSource, options: RegisterOptions): RegistrationCheck {
    const { subject, version, type, schema, fingerprint } = source;
    const state = this.#subjects.get(subject);
    const compatibility = options.compatibility ?? state?.compatibility ?? DEFAULT_COMPATIBILITY;
    const base = { subject, version, type, compatibility, incompatibilities: [], explanation: '' };
    const existing = state?.versions.get(version);
    if (existing !== undefined) {
      if (existing.fingerprint === fingerprint) return { ...base, status: 'unchanged' };
      return {
        ...base,
        status: 'changed',
        explanation: `${type} is registered already with another schema (version ${version} of ${subject}, fingerprint ${existing.fingerprint.slice(0, 12)}); a registered version never changes: define ${subject}.v${(latestVersion(state!) ?? version) + 1} instead`,
      };
    }
    const latest = state === undefined ? null : latestVersion(state);
    if (latest !== null && version < latest) {
      return {
        ...base,
        status: 'out-of-order',
        explanation: `${subject} is at version ${latest} already; versions are registered in increasing order`,
      };
    }
    const previous = [...(state?.versions.values() ?? [])];
    const incompatibilities = checkCompatibility(compatibility, { version, schema }, previous);
    if (incompatibilities.length > 0) {
      return {
        ...base,
        status: 'incompatible',
        incompatibilities,
        explanation: describeIncompatibilities(compatibility, version, incompatibilities),
      };
    }
    return { ...base, status: 'new' };
  }

  async register(source: SchemaSource, options: RegisterOptions = {}): Promise<RegistrationResult> {
    const resolved = resolveSource(source);
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      await this.refresh();
      const verdict = this.#check(resolved, options);
      const state = this.#state(resolved.subject);
      switch (verdict.status) {
        case 'unchanged':
          if (options.compatibility !== undefined && options.compatibility !== state.compatibility) {
            await this.setCompatibility(resolved.subject, options.compatibility);
          }
          return {
            status: 'unchanged',
            schema: state.versions.get(resolved.version)!,
            compatibility: this.#state(resolved.subject).compatibility,
          };
        case 'changed':
          throw new HeraldError('CONFLICT', verdict.explanation, { details: { ...verdictDetails(verdict) } });
        case 'out-of-order':
          throw new HeraldError('INVALID_ARGUMENT', verdict.explanation, {
            details: { ...verdictDetails(verdict) },
          });
        case 'incompatible':
          throw new HeraldError(
            'CONFLICT',
            `${resolved.type} is not ${verdict.compatibility} compatible with ${resolved.subject}:\n${verdict.explanation}`,
            { details: { ...verdictDetails(verdict), incompatibilities: verdict.incompatibilities } },
          );
        case 'new':
          break;
      }
      const appended = await this.#log.append(
        this.topic,
        SchemaRegistered.create(
          {
            subject: resolved.subject,
            version: resolved.version,
            type: resolved.type,
            schema: resolved.schema,
            fingerprint: resolved.fingerprint,
            compatibility: verdict.compatibility,
            setsCompatibility: options.compatibility !== undefined,
            previous: latestVersion(state),
          },
          { source: SOURCE, key: resolved.subject },
        ),
      );
      await this.refresh();
      const registered = this.#state(resolved.subject).versions.get(resolved.version);
      if (registered?.offset === appended.offset) {
        return { status: 'registered', schema: registered, compatibility: verdict.compatibility };
      }
      // Another registration got in first; the next attempt checks against it.
    }
    throw new HeraldError(
      'CONFLICT',
      `gave up registering ${resolved.type} after ${MAX_ATTEMPTS} concurrent registrations of ${resolved.subject} got in first`,
      { details: { subject: resolved.subject, version: resolved.version } },
    );
  }

  async setCompatibility(subject: string, compatibility: CompatibilityMode): Promise<void> {
    const appended = await this.#log.append(
      this.topic,
      CompatibilitySet.create({ subject, compatibility }, { source: SOURCE, key: subject }),
    );
    await this.refresh();
    if (this.#next <= appended.offset) {
      throw new HeraldError(
        'BACKEND_UNAVAILABLE',
        `the registry did not read back its own write at offset ${appended.offset}`,
      );
    }
  }
}

interface ResolvedSource {
  readonly subject: string;
  readonly version: number;
  readonly type: string;
  readonly schema: JsonSchema;
  readonly fingerprint: string;
}

function resolveSource(source: SchemaSource): ResolvedSource {
  const schema = 'jsonSchema' in source ? source.jsonSchema : jsonSchemaOf(source);
  if (
    typeof schema !== 'boolean' &&
    (schema === null || typeof schema !== 'object' || Array.isArray(schema))
  ) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      `the JSON Schema of ${source.type} must be an object or a boolean`,
    );
  }
  const { subject, version } = parseEventType(source.type);
  return { subject, version, type: source.type, schema, fingerprint: schemaFingerprint(schema) };
}

function latestVersion(state: SubjectState): number | null {
  let latest: number | null = null;
  for (const version of state.versions.keys()) if (latest === null || version > latest) latest = version;
  return latest;
}

function verdictDetails(verdict: RegistrationCheck): Record<string, unknown> {
  return {
    subject: verdict.subject,
    version: verdict.version,
    type: verdict.type,
    compatibility: verdict.compatibility,
    status: verdict.status,
  };
}
