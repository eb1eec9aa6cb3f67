// The REST application: sign-ups and profiles over HTTP, on its own database. The work a
// sign-up sets off (a welcome e-mail, the search index, points) is not done here: a job polls
// for new users (poller.ts).
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { z } from 'zod';
import { type User, insertUser, takeUserId } from './database.ts';
import { type Sql, type SqlDatabase, isUniqueViolation } from './sql-database.ts';

const SignUp = z.object({ email: z.email(), name: z.string().min(1).max(200) });

export interface AppOptions {
  readonly db: SqlDatabase;
  /**
   * Checks an address before the user is saved (a remote e-mail verification service in a
   * real application). It runs after the id was taken: while it runs, later sign-ups can
   * commit first. Defaults to accepting every address at once.
   */
  readonly verifyEmail?: (email: string) => Promise<void>;
}

/** What a sign-up comes to: the user created, or the refusal to answer. */
export type SignUpResult =
  | { readonly status: 201; readonly user: User }
  | { readonly status: 400 | 409; readonly refusal: { readonly error: string; readonly issues?: unknown } };

/**
 * Signs a user up from a request body: checks it, takes the id, verifies the address, then
 * `save`s the user (by default, inserts the row); a taken address is refused with 409.
 */
export async function signUp(
  body: unknown,
  { db, verifyEmail = async () => {} }: AppOptions,
  save: (user: User) => Promise<void> = (user) => insertUser(db, user),
): Promise<SignUpResult> {
  const parsed = SignUp.safeParse(body);
  if (!parsed.success) {
    return { status: 400, refusal: { error: 'invalid sign-up', issues: z.treeifyError(parsed.error) } };
  }
  const user: User = { id: await takeUserId(db), ...parsed.data };
  await verifyEmail(user.email);
  try {
    await save(user);
  } catch (error) {
    if (isUniqueViolation(error))
      return { status: 409, refusal: { error: `${user.email} has signed up already` } };
    throw error;
  }
  return { status: 201, user };
}

/** Answers a sign-up: 201 with the user, or the refusal. */
export function answerSignUp(reply: FastifyReply, result: SignUpResult): FastifyReply {
  return result.status === 201
    ? reply.code(201).send(result.user)
    : reply.code(result.status).send(result.refusal);
}

/** The user with the points awarded so far, or undefined when there is no such user. */
function readUser(sql: Sql, id: number): Promise<(User & { points: number }) | undefined> {
  return sql.get(
    `SELECT id, email, name, (SELECT coalesce(sum(amount), 0) FROM points WHERE user_id = users.id) AS points
     FROM users WHERE id = ?`,
    id,
  );
}

/** GET /users/:id: the user and the points awarded so far. */
export function profileRoute(app: FastifyInstance, db: SqlDatabase): void {
  app.get<{ Params: { id: string } }>('/users/:id', async (request, reply) => {
    const id = Number(request.params.id);
    const user = Number.isSafeInteger(id) ? await readUser(db, id) : undefined;
    if (user === undefined) return reply.code(404).send({ error: `no user ${request.params.id}` });
    return user;
  });
}

/** Builds the Fastify application; the caller listens (or injects requests) and closes it. */
export function buildApp(options: AppOptions): FastifyInstance {
  const app = Fastify();
  app.post('/users', async (request, reply) => answerSignUp(reply, await signUp(request.body, options)));
  profileRoute(app, options.db);
  return app;
}
