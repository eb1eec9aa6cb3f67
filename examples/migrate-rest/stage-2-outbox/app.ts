// The REST application: sign-ups and profiles over HTTP, on its own database. The work a
// sign-up sets off (a welcome e-mail, the search index, points) is not done here: the sign-up
// records a UserSignedUp event in the outbox, in the transaction that saves the user, and
// consumers (consumers.ts) do the work; the polling job still runs, in shadow.
import type { CloudEvent } from '@herald/core';
import Fastify, { type FastifyInstance } from 'fastify';
import { type AppOptions, answerSignUp, profileRoute, signUp } from '../stage-1-rest/app.ts';
import { type User, insertUser } from '../stage-1-rest/database.ts';
import type { SqlDatabase } from '../stage-1-rest/sql-database.ts';
import { USERS_TOPIC, UserSignedUp, recordInOutbox } from './events.ts';

/** The event of a user's sign-up, keyed by the user's id. */
export function signedUp(user: User): CloudEvent {
  return UserSignedUp.create(
    { userId: user.id, email: user.email, name: user.name },
    { source: '/migrate-rest/users', key: String(user.id) },
  );
}

/** Inserts the user and records `event` in the outbox in one transaction: both commit, or neither. */
export function saveWithEvent(db: SqlDatabase, user: User, event = signedUp(user)): Promise<void> {
  return db.transaction(async (tx) => {
    await insertUser(tx, user);
    await recordInOutbox(tx, USERS_TOPIC, event);
  });
}

/** Builds the Fastify application; the caller listens (or injects requests) and closes it. */
export function buildApp(options: AppOptions): FastifyInstance {
  const app = Fastify();
  app.post('/users', async (request, reply) =>
    answerSignUp(reply, await signUp(request.body, options, (user) => saveWithEvent(options.db, user))),
  );
  profileRoute(app, options.db);
  return app;
}
