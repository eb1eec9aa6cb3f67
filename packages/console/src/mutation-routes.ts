// The write side of the API: redrive, discard, group reset, users. Every call that reaches a
// change is recorded in the audit trail with its outcome (refusals by the authentication hook,
// before any of this runs).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { HeraldError, isHeraldError } from '@herald/core';
import type { GroupResetPlan, ResetTarget, StoredEvent } from '@herald/core';
import { appendAudit, redrive, redriveRecordId } from '@herald/core/ops';
import type { AuditEntry, RedriveOutcome, RedrivePosition } from '@herald/core/ops';
import { type ConsoleContext, parse, sessionOf } from './context.ts';
import { matchesDeadLetter, readEntries, redriveCounts } from './dead-letters.ts';
import { searchEvents } from './event-search.ts';
import { ProblemError } from './problems.ts';
import { deadLetterTopic } from './read-routes.ts';
import { ROLES } from './users.ts';

const position = z.object({
  partition: z.number().int().min(0),
  offset: z.number().int().min(0),
  expectedCount: z.number().int().min(0).optional(),
});
const selection = z
  .object({
    positions: z.array(position).min(1).max(500).optional(),
    filter: z
      .object({ group: z.string().optional(), code: z.string().optional(), type: z.string().optional() })
      .optional(),
    dryRun: z.boolean().default(false),
  })
  .refine((b) => (b.positions === undefined) !== (b.filter === undefined), {
    message: 'give positions or filter, one of them',
  });

const resetBody = z.object({
  to: z.union([
    z.literal('earliest'),
    z.literal('latest'),
    z.object({ timestamp: z.union([z.number().int().min(0), z.iso.datetime({ offset: true })]) }),
    z.object({
      offsets: z
        .array(
          z.object({
            topic: z.string().min(1),
            partition: z.number().int().min(0),
            offset: z.number().int().min(0),
          }),
        )
        .min(1),
    }),
  ]),
  topics: z.array(z.string().min(1)).min(1).optional(),
  partitions: z
    .array(z.object({ topic: z.string().min(1), partition: z.number().int().min(0) }))
    .min(1)
    .optional(),
  dryRun: z.boolean().default(true),
});

const IDEMPOTENCY_KEY = /^[A-Za-z0-9_.:~+/=-]{1,255}$/;

/** Entries a filtered redrive or discard takes at most in one request. */
const MAX_SELECTED = 500;

export function registerMutationRoutes(app: FastifyInstance, context: ConsoleContext): void {
  const { log } = context;
  const audit = (request: FastifyRequest, entry: Omit<AuditEntry, 'actor' | 'role' | 'at'>) => {
    const { user } = sessionOf(request);
    return appendAudit(
      { log },
      { ...entry, actor: user.name, role: user.role, at: new Date().toISOString() },
    );
  };
  const operator = (action: string, target: (request: FastifyRequest) => string) => ({
    config: { role: 'operator' as const, action, target },
  });
  const topicTarget = (request: FastifyRequest) => (request.params as { topic: string }).topic;
  const groupTarget = (request: FastifyRequest) => (request.params as { group: string }).group;

  /** The entries a selection names: its positions, or those matching its filter (not discarded, never redriven). */
  const select = async (
    topic: string,
    body: z.infer<typeof selection>,
  ): Promise<{ positions: RedrivePosition[]; entries: StoredEvent[]; discarded: StoredEvent[] }> => {
    const discardedIds = (await context.discards?.discarded(topic)) ?? new Set<string>();
    let entries: StoredEvent[];
    if (body.positions !== undefined) {
      entries = await readEntries(log, topic, body.positions);
    } else {
      const filter = body.filter ?? {};
      const counts = await redriveCounts(context.store, topic);
      const page = await searchEvents(log, topic, {
        filter: {
          predicate: (entry) =>
            matchesDeadLetter(entry, filter) && (counts.get(`${entry.partition}/${entry.offset}`) ?? 0) === 0,
        },
        limit: MAX_SELECTED,
        scanCap: Number.MAX_SAFE_INTEGER,
      });
      entries = [...page.events];
    }
    const isDiscarded = (e: StoredEvent) => discardedIds.has(`${e.partition}/${e.offset}`);
    const expected = new Map(
      (body.positions ?? []).map((p) => [`${p.partition}/${p.offset}`, p.expectedCount]),
    );
    const kept = entries.filter((e) => !isDiscarded(e));
    return {
      entries: kept,
      discarded: entries.filter(isDiscarded),
      positions: kept.map((e) => {
        const count = expected.get(`${e.partition}/${e.offset}`);
        return {
          partition: e.partition,
          offset: e.offset,
          ...(count === undefined ? {} : { expectedCount: count }),
        };
      }),
    };
  };

  app.post<{ Params: { topic: string } }>(
    '/api/dead-letters/:topic/redrive',
    operator('dlq.redrive', topicTarget),
    async (request, reply) => {
      const topic = deadLetterTopic(request.params.topic);
      const body = parse(selection, request.body, 'body');
      const key = request.headers['idempotency-key'];
      if (key !== undefined && (Array.isArray(key) || !IDEMPOTENCY_KEY.test(key))) {
        throw new ProblemError(
          400,
          'INVALID_ARGUMENT',
          'Idempotency-Key is 1-255 letters, digits and _ . : ~ + / = -',
        );
      }
      const { user } = sessionOf(request);
      const { positions, discarded } = await select(topic, body);
      const refusedDiscarded: RedriveOutcome[] = discarded.map((e) => ({
        partition: e.partition,
        offset: e.offset,
        eventId: e.id,
        type: e.type,
        topic: '',
        status: 'refused',
        count: 0,
        idempotencyKey: '',
        reason: 'it was discarded',
      }));
      if (!body.dryRun) {
        for (const e of discarded) {
          await audit(request, {
            action: 'dlq.redrive',
            target: redriveRecordId(topic, e.partition, e.offset),
            outcome: 'refused',
            reason: 'it was discarded',
          });
        }
      }
      if (positions.length === 0) {
        if (refusedDiscarded.length > 0 && !body.dryRun) {
          throw new ProblemError(409, 'CONFLICT', 'every entry asked for was discarded', {
            outcomes: refusedDiscarded,
          });
        }
        return { deadLetterTopic: topic, outcomes: refusedDiscarded, recorded: context.store !== undefined };
      }
      try {
        const result = await redrive({
          log,
          ...(context.store === undefined ? {} : { store: context.store }),
          deadLetterTopic: topic,
          positions,
          dryRun: body.dryRun,
          actor: user.name,
          role: user.role,
          ...(typeof key === 'string' ? { idempotencyKey: key } : {}),
        });
        // Without a store nothing was recorded in a transaction: the trail gets it now.
        if (!result.recorded && !body.dryRun) await auditOutcomes(request, topic, result.outcomes);
        if (refusedDiscarded.length > 0 && !body.dryRun) {
          throw new ProblemError(
            409,
            'CONFLICT',
            `${refusedDiscarded.length} entries were discarded and not redriven`,
            {
              outcomes: [...result.outcomes, ...refusedDiscarded],
            },
          );
        }
        return reply.send({ ...result, outcomes: [...result.outcomes, ...refusedDiscarded] });
      } catch (error) {
        if (context.store === undefined && isHeraldError(error, 'CONFLICT') && !body.dryRun) {
          const outcomes = error.details['outcomes'];
          if (Array.isArray(outcomes)) await auditOutcomes(request, topic, outcomes as RedriveOutcome[]);
        } else if (!(error instanceof ProblemError) && !isHeraldError(error, 'CONFLICT') && !body.dryRun) {
          await audit(request, {
            action: 'dlq.redrive',
            target: topic,
            outcome: 'failed',
            reason: messageOf(error),
          });
        }
        throw error;
      }
    },
  );

  const auditOutcomes = async (
    request: FastifyRequest,
    topic: string,
    outcomes: readonly RedriveOutcome[],
  ) => {
    for (const o of outcomes) {
      if (o.status !== 'redriven' && o.status !== 'refused') continue;
      await audit(request, {
        action: 'dlq.redrive',
        target: redriveRecordId(topic, o.partition, o.offset),
        after: {
          eventId: o.eventId,
          type: o.type,
          topic: o.topic,
          count: o.count,
          ...(o.appended ? { appended: o.appended } : {}),
        },
        outcome: o.status === 'redriven' ? 'done' : 'refused',
        ...(o.reason === undefined ? {} : { reason: o.reason }),
      });
    }
  };

  app.post<{ Params: { topic: string } }>(
    '/api/dead-letters/:topic/discard',
    operator('dlq.discard', topicTarget),
    async (request) => {
      const topic = deadLetterTopic(request.params.topic);
      const body = parse(selection, request.body, 'body');
      const discards = context.discards;
      if (discards === undefined) {
        if (!body.dryRun) {
          await audit(request, {
            action: 'dlq.discard',
            target: topic,
            outcome: 'refused',
            reason: 'no store',
          });
        }
        throw new HeraldError('UNSUPPORTED', 'discarding needs a store (HERALD_STORE) to keep the marks in');
      }
      const { user } = sessionOf(request);
      const { entries, discarded } = await select(topic, body);
      const outcomes = await discards.discard({
        deadLetterTopic: topic,
        entries,
        actor: user.name,
        role: user.role,
        dryRun: body.dryRun,
      });
      return {
        deadLetterTopic: topic,
        outcomes: [
          ...outcomes,
          ...discarded.map((e) => ({
            partition: e.partition,
            offset: e.offset,
            eventId: e.id,
            status: 'duplicate',
          })),
        ],
      };
    },
  );

  app.post<{ Params: { group: string } }>(
    '/api/groups/:group/reset',
    operator('group.reset', groupTarget),
    async (request) => {
      const group = request.params.group;
      const body = parse(resetBody, request.body, 'body');
      const to = targetOf(body.to);
      try {
        if (log.resetGroup === undefined) {
          throw new HeraldError(
            'UNSUPPORTED',
            `this backend (${log.capabilities.telemetry.system}) cannot reset a group's offsets yet`,
            {
              details: { group },
            },
          );
        }
        if (!(await log.listGroups()).includes(group)) {
          throw new ProblemError(404, 'NOT_FOUND', `no consumer group ${group}`);
        }
        const options = body.topics === undefined ? {} : { topics: body.topics };
        let plan = await log.resetGroup(group, { to, ...options, dryRun: true });
        if (body.partitions !== undefined) {
          const wanted = new Set(body.partitions.map((p) => `${p.topic}/${p.partition}`));
          plan = plan.filter((p) => wanted.has(`${p.topic}/${p.partition}`));
        }
        if (body.dryRun) return { plan, applied: false };
        const applied: readonly GroupResetPlan[] =
          body.partitions === undefined
            ? await log.resetGroup(group, { to, ...options })
            : plan.length === 0
              ? []
              : await log.resetGroup(group, {
                  to: {
                    offsets: plan.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.to })),
                  },
                  topics: [...new Set(plan.map((p) => p.topic))],
                });
        await audit(request, {
          action: 'group.reset',
          target: group,
          before: applied.map((p) => ({ topic: p.topic, partition: p.partition, committed: p.from })),
          after: applied.map((p) => ({ topic: p.topic, partition: p.partition, committed: p.to })),
          outcome: 'done',
        });
        return { plan: applied, applied: true };
      } catch (error) {
        if (!body.dryRun) {
          await audit(request, {
            action: 'group.reset',
            target: group,
            outcome:
              isHeraldError(error, 'CONFLICT') || isHeraldError(error, 'UNSUPPORTED') ? 'refused' : 'failed',
            reason: messageOf(error),
          });
        }
        throw error;
      }
    },
  );

  const admin = (action: string) => ({
    config: {
      role: 'admin' as const,
      action,
      target: (request: FastifyRequest) => (request.params as { name: string }).name,
    },
  });
  app.get('/api/users', { config: { role: 'admin' } }, async () => context.users.list());

  const userBody = z.object({
    role: z.enum(ROLES as ['viewer', 'operator', 'admin']),
    password: z.string().max(1024).optional(),
  });
  app.put<{ Params: { name: string } }>('/api/users/:name', admin('user.put'), async (request) => {
    const body = parse(userBody, request.body, 'body');
    const name = request.params.name;
    try {
      const before = await context.users.put(name, body);
      if (before !== undefined && (before.role !== body.role || body.password !== undefined)) {
        context.sessions.closeUser(name);
      }
      await audit(request, {
        action: 'user.put',
        target: name,
        ...(before === undefined ? {} : { before: { role: before.role } }),
        after: { role: body.role, passwordChanged: body.password !== undefined },
        outcome: 'done',
      });
      return context.users.get(name);
    } catch (error) {
      await audit(request, {
        action: 'user.put',
        target: name,
        outcome: 'refused',
        reason: messageOf(error),
      });
      throw error;
    }
  });

  app.delete<{ Params: { name: string } }>(
    '/api/users/:name',
    admin('user.delete'),
    async (request, reply) => {
      const name = request.params.name;
      const before = context.users.get(name);
      try {
        if (!(await context.users.delete(name))) throw new ProblemError(404, 'NOT_FOUND', `no user ${name}`);
        context.sessions.closeUser(name);
        await audit(request, {
          action: 'user.delete',
          target: name,
          before: { role: before?.role },
          outcome: 'done',
        });
        return reply.code(204).send();
      } catch (error) {
        await audit(request, {
          action: 'user.delete',
          target: name,
          outcome: 'refused',
          reason: messageOf(error),
        });
        throw error;
      }
    },
  );
}

function targetOf(to: z.infer<typeof resetBody>['to']): ResetTarget {
  if (typeof to === 'string' || 'offsets' in to) return to;
  return { timestamp: typeof to.timestamp === 'number' ? to.timestamp : Date.parse(to.timestamp) };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
