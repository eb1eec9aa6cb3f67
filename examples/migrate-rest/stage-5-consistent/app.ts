// The REST application: sign-ups and profiles over HTTP, on its own database. The work a
// sign-up sets off (a welcome e-mail, the search index, points) is not done here: the sign-up
// records a UserSignedUp event in the outbox, in the transaction that saves the user, and
// consumers (consumers.ts) do the work.
// Stage 3: the sign-up is a SERVER span whose trace context the event carries, so one trace
// goes from the HTTP request through the outbox to every consumer; GET /metrics serves the
// consumers' metrics (handled, failed, retried, dead-lettered, lag).
// Stage 5: the answer tells the user the work is under way (`workflow: pending`) with a
// consistency token; GET /users/:id?consistentWith=<token>&waitMs=<ms> waits up to waitMs for
// that work (read your writes), then answers 200 when it is done, or 202 while it is not.
import type { DatabaseSync } from 'node:sqlite';
import { SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { renderMetrics } from '@herald/core/metrics';
import { injectTraceContext } from '@herald/core/tracing';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { type User, inTransaction, takeUserId } from './database.ts';
import { USERS_TOPIC, UserSignedUp, recordInOutbox } from '../stage-2-outbox/events.ts';

const SignUp = z.object({ email: z.email(), name: z.string().min(1).max(200) });

export interface AppOptions {
  readonly db: DatabaseSync;
  /**
   * Checks an address before the user is saved (a remote e-mail verification service in a
   * real application). It runs after the id was taken: while it runs, later sign-ups can
   * commit first. Defaults to accepting every address at once.
   */
  readonly verifyEmail?: (email: string) => Promise<void>;
  /** Served at GET /metrics when given: the registry the consumers' metrics live in. */
  readonly registry?: Registry;
}

const tracer = trace.getTracer('migrate-rest');

const ProfileQuery = z.object({
  /** The token a sign-up answered with: the profile is read once that sign-up's work is done. */
  consistentWith: z.string().optional(),
  /** How long to wait for it before answering 202; 0 answers at once. */
  waitMs: z.coerce.number().int().min(0).max(30_000).default(0),
});

/** The consistency token of a sign-up: what its answer gives, and what a read may wait for. */
const tokenOf = (userId: number): string => `signup-${userId}`;

/** Builds the Fastify application; the caller listens (or injects requests) and closes it. */
export function buildApp({ db, verifyEmail = async () => {}, registry }: AppOptions): FastifyInstance {
  const app = Fastify();

  app.post('/users', (request, reply) => {
    // Continues the caller's trace when the request carries a traceparent header.
    const caller = propagation.extract(context.active(), request.headers);
    return tracer.startActiveSpan('POST /users', { kind: SpanKind.SERVER }, caller, async (span) => {
      try {
        return await signUp(request.body, reply);
      } catch (error) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw error;
      } finally {
        span.setAttribute('http.response.status_code', reply.statusCode);
        span.end();
      }
    });
  });

  const signUp = async (body: unknown, reply: FastifyReply) => {
    const parsed = SignUp.safeParse(body);
    if (!parsed.success) {
      return reply.code(400).send({ error: 'invalid sign-up', issues: z.treeifyError(parsed.error) });
    }
    const id = takeUserId(db);
    await verifyEmail(parsed.data.email);
    try {
      inTransaction(db, () => {
        db.prepare('INSERT INTO users (id, email, name, created_at) VALUES (?, ?, ?, ?)').run(
          id,
          parsed.data.email,
          parsed.data.name,
          Date.now(),
        );
        const event = injectTraceContext(
          UserSignedUp.create(
            { userId: id, ...parsed.data },
            { source: '/migrate-rest/users', key: String(id) },
          ),
          context.active(),
        );
        recordInOutbox(db, USERS_TOPIC, event);
      });
    } catch (error) {
      if (/UNIQUE/.test(String(error))) {
        return reply.code(409).send({ error: `${parsed.data.email} has signed up already` });
      }
      throw error;
    }
    const user: User = { id, ...parsed.data };
    // The user exists now (201); the e-mail, the index and the points follow within moments.
    return reply
      .code(201)
      .header('location', `/users/${id}`)
      .send({ ...user, workflow: 'pending', consistencyToken: tokenOf(id) });
  };

  if (registry !== undefined) {
    app.get('/metrics', async (_request, reply) => {
      const { contentType, body } = await renderMetrics(registry);
      return reply.type(contentType).send(body);
    });
  }

  app.get<{ Params: { id: string }; Querystring: Record<string, string | undefined> }>(
    '/users/:id',
    async (request, reply) => {
      const id = Number(request.params.id);
      const query = ProfileQuery.safeParse(request.query);
      if (!query.success) {
        return reply.code(400).send({ error: 'invalid query', issues: z.treeifyError(query.error) });
      }
      const { consistentWith, waitMs } = query.data;
      if (consistentWith !== undefined && consistentWith !== tokenOf(id)) {
        return reply.code(400).send({ error: `${consistentWith} is not a consistency token of user ${id}` });
      }
      const profile = readProfile(id);
      if (profile === undefined) return reply.code(404).send({ error: `no user ${request.params.id}` });
      if (consistentWith === undefined || profile.workflow === 'done') return profile;
      // Read your writes: wait, bounded, for the consumers to finish this user's sign-up.
      const deadline = performance.now() + waitMs;
      while (performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        const now = readProfile(id)!;
        if (now.workflow === 'done') return now;
      }
      return reply.code(202).header('retry-after', '1').send(readProfile(id));
    },
  );

  /** The profile and whether every step of the sign-up's work is visible yet. */
  const readProfile = (id: number) => {
    const user = db
      .prepare(
        `SELECT id, email, name, (SELECT coalesce(sum(amount), 0) FROM points WHERE user_id = users.id) AS points,
           EXISTS (SELECT 1 FROM mailbox WHERE user_id = users.id)
             AND EXISTS (SELECT 1 FROM search_index WHERE user_id = users.id)
             AND EXISTS (SELECT 1 FROM points WHERE user_id = users.id) AS done
         FROM users WHERE id = ?`,
      )
      .get(id) as (User & { points: number; done: number }) | undefined;
    if (user === undefined) return undefined;
    const { done, ...profile } = user;
    return { ...profile, workflow: done === 1 ? ('done' as const) : ('pending' as const) };
  };

  return app;
}
