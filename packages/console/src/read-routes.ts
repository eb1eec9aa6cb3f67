// The read side of the API: overview, topics, events, groups, dead letters, schemas, audit trail.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { HeraldError } from '@herald/core';
import type { StoredEvent } from '@herald/core';
import { readAuditTrail } from '@herald/core/ops';
import { diffSchemas } from '@herald/schemas';
import { causationAround } from './causation-view.ts';
import { type ConsoleContext, DEFAULT_LIMIT, MAX_LIMIT, parse } from './context.ts';
import {
  DEAD_LETTER_SUFFIX,
  deadLetterView,
  listDeadLetterTopics,
  matchesDeadLetter,
  redriveCounts,
} from './dead-letters.ts';
import { searchEvents } from './event-search.ts';
import { eventView } from './event-view.ts';
import { groupLag } from './group-lag.ts';
import { ProblemError } from './problems.ts';

const limit = z.coerce.number().int().min(1).max(MAX_LIMIT).default(DEFAULT_LIMIT);
const offset = z.coerce.number().int().min(0);
const viewer = { config: { role: 'viewer' as const } };

const EVENTS_QUERY_NAMES = new Set(['partition', 'offset', 'from', 'key', 'type', 'text', 'limit', 'cursor']);
const eventsQuery = z
  .object({
    partition: offset.optional(),
    offset: offset.optional(),
    from: z.iso.datetime({ offset: true }).optional(),
    key: z.string().optional(),
    type: z.string().optional(),
    text: z.string().min(1).optional(),
    limit,
    cursor: z.string().max(100_000).optional(),
  })
  .catchall(z.string())
  .refine((q) => q.offset === undefined || q.partition !== undefined, {
    message: 'offset needs partition',
    path: ['offset'],
  })
  .refine((q) => q.offset === undefined || q.from === undefined, {
    message: 'give offset or from, not both',
    path: ['from'],
  });

const deadLetterQuery = z.object({
  group: z.string().optional(),
  code: z.string().optional(),
  type: z.string().optional(),
  limit,
  cursor: z.string().max(100_000).optional(),
});

export function registerReadRoutes(app: FastifyInstance, context: ConsoleContext): void {
  const { log } = context;

  app.get('/api/overview', viewer, async () => {
    const [topics, groups, deadLetters] = await Promise.all([
      log.listTopics(),
      log.listGroups(),
      listDeadLetterTopics(log),
    ]);
    return {
      backend: { system: log.capabilities.telemetry.system },
      topics: topics.length,
      groups: groups.length,
      deadLetters: deadLetters.reduce((sum, t) => sum + t.entries, 0),
    };
  });

  app.get('/api/topics', viewer, async () => {
    const answer = [];
    for (const topic of await log.listTopics()) {
      const description = await log.describeTopic(topic.name);
      answer.push({
        name: topic.name,
        partitions: topic.partitions,
        events: description.partitionInfo.reduce((sum, p) => sum + (p.latest - p.earliest), 0),
        retention: retentionOf(topic.retention),
        ...context.sampler.rates(topic.name),
      });
    }
    return answer.sort((a, b) => a.name.localeCompare(b.name));
  });

  app.get<{ Params: { topic: string } }>('/api/topics/:topic', viewer, async (request) => {
    const description = await log.describeTopic(request.params.topic);
    const partitions = [];
    for (const info of description.partitionInfo) {
      const [last] =
        info.latest > info.earliest
          ? await log
              .read(description.name, {
                partition: info.partition,
                from: { offset: info.latest - 1 },
                limit: 1,
              })
              .catch(() => [] as StoredEvent[])
          : [];
      partitions.push({
        partition: info.partition,
        earliest: info.earliest,
        latest: info.latest,
        lastTimestamp: last === undefined ? null : new Date(last.timestamp).toISOString(),
      });
    }
    return {
      name: description.name,
      retention: retentionOf(description.retention),
      ...context.sampler.rates(description.name),
      partitions,
    };
  });

  app.get<{ Params: { topic: string } }>('/api/topics/:topic/events', viewer, async (request) => {
    const query = parse(eventsQuery, request.query, 'query');
    const attributes: Record<string, string> = {};
    for (const [name, value] of Object.entries(query)) {
      if (name.startsWith('attr.') && typeof value === 'string') attributes[name.slice(5)] = value;
      else if (!EVENTS_QUERY_NAMES.has(name) && typeof value === 'string')
        throw new ProblemError(400, 'INVALID_ARGUMENT', `unknown query parameter ${name}`);
    }
    const page = await searchEvents(log, request.params.topic, {
      filter: {
        ...(query.key === undefined ? {} : { key: query.key }),
        ...(query.type === undefined ? {} : { type: query.type }),
        ...(query.text === undefined ? {} : { text: query.text }),
        attributes,
      },
      ...(query.partition === undefined ? {} : { partition: query.partition }),
      ...(query.offset !== undefined
        ? { from: { offset: query.offset } }
        : query.from !== undefined
          ? { from: { timestamp: Date.parse(query.from) } }
          : {}),
      limit: query.limit,
      scanCap: context.scanCap,
      ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
    });
    return { events: page.events.map(eventView), next: page.next, scanned: page.scanned };
  });

  app.get<{ Params: { topic: string; partition: string; offset: string } }>(
    '/api/events/:topic/:partition/:offset',
    viewer,
    async (request) => {
      const partition = parse(offset, request.params.partition, 'query');
      const at = parse(offset, request.params.offset, 'query');
      const [event] = await log.read(request.params.topic, { partition, from: { offset: at }, limit: 1 });
      if (event?.offset !== at) {
        throw new ProblemError(
          404,
          'NOT_FOUND',
          `${request.params.topic} has no event at ${partition}:${at}`,
        );
      }
      const { causedBy, caused } = await causationAround(log, event, { scanCap: context.scanCap });
      return { event: eventView(event), causedBy: causedBy.map(eventView), caused: caused.map(eventView) };
    },
  );

  app.get('/api/groups', viewer, async () => {
    const answer = [];
    for (const group of await log.listGroups()) {
      const lag = await groupLag(log, group);
      answer.push({
        group,
        state: stateOf(lag.description.members.length),
        members: lag.description.members.length,
        lag: lag.lag,
        lagSeconds: lag.lagSeconds,
      });
    }
    return answer.sort((a, b) => a.group.localeCompare(b.group));
  });

  app.get<{ Params: { group: string } }>('/api/groups/:group', viewer, async (request) => {
    const group = request.params.group;
    if (!(await log.listGroups()).includes(group)) {
      throw new ProblemError(404, 'NOT_FOUND', `no consumer group ${group}`);
    }
    const lag = await groupLag(log, group);
    return {
      group,
      state: stateOf(lag.description.members.length),
      members: lag.description.members.map((m) => ({
        memberId: m.memberId,
        clientId: m.clientId,
        lastHeartbeat: new Date(m.lastHeartbeat).toISOString(),
        partitions: m.partitions,
      })),
      partitions: lag.partitions.map((p) => ({
        topic: p.topic,
        partition: p.partition,
        committed: p.committed,
        latest: p.latest,
        lag: p.lag,
        lagSeconds: p.lagSeconds,
      })),
    };
  });

  app.get<{ Params: { group: string } }>('/api/groups/:group/lag-history', viewer, async (request) =>
    context.sampler.lagHistory(request.params.group),
  );

  app.get('/api/dead-letters', viewer, async () => listDeadLetterTopics(log));

  app.get<{ Params: { topic: string } }>('/api/dead-letters/:topic', viewer, async (request) => {
    const topic = deadLetterTopic(request.params.topic);
    const query = parse(deadLetterQuery, request.query, 'query');
    const filter = {
      ...(query.group === undefined ? {} : { group: query.group }),
      ...(query.code === undefined ? {} : { code: query.code }),
      ...(query.type === undefined ? {} : { type: query.type }),
    };
    const page = await searchEvents(log, topic, {
      filter: { predicate: (entry) => matchesDeadLetter(entry, filter) },
      limit: query.limit,
      scanCap: context.scanCap,
      ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
    });
    const counts = await redriveCounts(context.store, topic);
    const discarded = (await context.discards?.discarded(topic)) ?? new Set<string>();
    const entries = page.events.map((entry) => {
      const id = `${entry.partition}/${entry.offset}`;
      return deadLetterView(entry, counts.get(id) ?? 0, discarded.has(id));
    });
    return { entries, next: page.next };
  });

  app.get('/api/schemas', viewer, async () => {
    const registry = await context.schemas();
    return (registry?.subjects() ?? []).map((subject) => ({
      subject: subject.subject,
      versions: subject.versions.map((v) => v.version),
      compatibility: subject.compatibility,
    }));
  });

  app.get<{ Params: { subject: string; version: string } }>(
    '/api/schemas/:subject/versions/:version',
    viewer,
    async (request) => {
      const version = parse(offset, request.params.version, 'query');
      const found = (await context.schemas())
        ?.subject(request.params.subject)
        ?.versions.find((v) => v.version === version);
      if (found === undefined) {
        throw new ProblemError(404, 'NOT_FOUND', `no version ${version} of schema ${request.params.subject}`);
      }
      return {
        subject: found.subject,
        version: found.version,
        type: found.type,
        uri: found.uri,
        fingerprint: found.fingerprint,
        registeredAt: new Date(found.registeredAt).toISOString(),
        schema: found.schema,
      };
    },
  );

  const diffQuery = z.object({ from: z.coerce.number().int().min(1), to: z.coerce.number().int().min(1) });
  app.get<{ Params: { subject: string } }>('/api/schemas/:subject/diff', viewer, async (request) => {
    const { from, to } = parse(diffQuery, request.query, 'query');
    const subject = (await context.schemas())?.subject(request.params.subject);
    const versionOf = (n: number) => {
      const found = subject?.versions.find((v) => v.version === n);
      if (found === undefined)
        throw new ProblemError(404, 'NOT_FOUND', `no version ${n} of schema ${request.params.subject}`);
      return found;
    };
    const writer = versionOf(from);
    const reader = versionOf(to);
    const differences = diffSchemas(writer.schema, reader.schema);
    return {
      subject: request.params.subject,
      from,
      to,
      compatible: differences.every((d) => d.compatible),
      differences,
    };
  });

  const auditQuery = z.object({ limit, before: offset.optional() });
  app.get('/api/audit', viewer, async (request) => {
    const query = parse(auditQuery, request.query, 'query');
    const page = await readAuditTrail(log, {
      limit: query.limit,
      ...(query.before === undefined ? {} : { before: query.before }),
    });
    return {
      entries: page.entries.map(({ offset: _offset, timestamp: _timestamp, ...entry }) => entry),
      next: page.next ?? null,
    };
  });
}

function retentionOf(retention: {
  ms?: number;
  bytes?: number;
}): { ms: number | null; bytes: number | null } | null {
  if (retention.ms === undefined && retention.bytes === undefined) return null;
  return { ms: retention.ms ?? null, bytes: retention.bytes ?? null };
}

function stateOf(members: number): 'active' | 'empty' {
  return members > 0 ? 'active' : 'empty';
}

/** The topic of a dead-letter route: it must be a dead-letter topic. */
export function deadLetterTopic(topic: string): string {
  if (!topic.endsWith(DEAD_LETTER_SUFFIX)) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      `${topic} is not a dead-letter topic (<topic>${DEAD_LETTER_SUFFIX})`,
      {
        details: { topic },
      },
    );
  }
  return topic;
}
