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
import Fastify, { type FastifyInstance } from 'fastify';
import { z } from 'zod';
import { signUp } from '../stage-1-rest/app.ts';
import type { User } from '../stage-1-rest/database.ts';
import type { Sql } from '../stage-1-rest/sql-database.ts';
import { type TracedAppOptions, metricsRoute, saveTraced, traced } from '../stage-3-tracing/app.ts';

const ProfileQuery = z.object({
  /** The token a sign-up answered with: the profile is read once that sign-up's work is done. */
  consistentWith: z.string().optional(),
  /** How long to wait for it before answering 202; 0 answers at once. */
  waitMs: z.coerce.number().int().min(0).max(30_000).default(0),
});

/** The consistency token of a sign-up: what its answer gives, and what a read may wait for. */
const tokenOf = (userId: number): string => `signup-${userId}`;

/**
 * The profile and whether every step of the sign-up's work is visible yet, read in one
 * statement: the points and the answer to "done" come from the same moment.
 */
async function readProfile(sql: Sql, id: number) {
  const user = await sql.get<User & { points: number; done: number }>(
    `SELECT id, email, name, (SELECT coalesce(sum(amount), 0) FROM points WHERE user_id = users.id) AS points,
       CASE WHEN EXISTS (SELECT 1 FROM mailbox WHERE user_id = users.id)
         AND EXISTS (SELECT 1 FROM search_index WHERE user_id = users.id)
         AND EXISTS (SELECT 1 FROM points WHERE user_id = users.id) THEN 1 ELSE 0 END AS done
     FROM users WHERE id = ?`,
    id,
  );
  if (user === undefined) return undefined;
  const { done, ...profile } = user;
  return { ...profile, workflow: done === 1 ? ('done' as const) : ('pending' as const) };
}

/** Builds the Fastify application; the caller listens (or injects requests) and closes it. */
export function buildApp({ registry, ...options }: TracedAppOptions): FastifyInstance {
  const { db } = options;
  const app = Fastify();

  app.post(
    '/users',
    traced(async (request, reply) => {
      const result = await signUp(request.body, options, saveTraced(db));
      if (result.status !== 201) return reply.code(result.status).send(result.refusal);
      const { user } = result;
      // The user exists now (201); the e-mail, the index and the points follow within moments.
      return reply
        .code(201)
        .header('location', `/users/${user.id}`)
        .send({ ...user, workflow: 'pending', consistencyToken: tokenOf(user.id) });
    }),
  );

  if (registry !== undefined) metricsRoute(app, registry);

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
      const profile = Number.isSafeInteger(id) ? await readProfile(db, id) : undefined;
      if (profile === undefined) return reply.code(404).send({ error: `no user ${request.params.id}` });
      if (consistentWith === undefined || profile.workflow === 'done') return profile;
      // Read your writes: wait, bounded, for the consumers to finish this user's sign-up.
      const deadline = performance.now() + waitMs;
      while (performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        const now = (await readProfile(db, id))!;
        if (now.workflow === 'done') return now;
      }
      return reply
        .code(202)
        .header('retry-after', '1')
        .send(await readProfile(db, id));
    },
  );

  return app;
}
