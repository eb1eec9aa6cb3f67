// A sign-up's work: the welcome e-mail, the search index, the points. Stage 5: the polling job
// that ran these steps is gone (the comparison showed the consumers do what it did, without its
// bugs); the consumers run them. Each step has one effect however often it runs: the index is an
// upsert, the award is keyed by (user, reason), and the e-mail carries a message id that the
// mailbox refuses twice, so a step that ran before its inbox entry was saved can run again.
import { type WorkflowSteps, databaseSteps as stage1Steps } from '../stage-1-rest/poller.ts';
import type { Sql } from '../stage-1-rest/sql-database.ts';

/** The steps on the application's own tables (the mailbox stands in for the mail service). */
export function databaseSteps(db: Sql): WorkflowSteps {
  const stage1 = stage1Steps(db);
  return {
    async sendWelcome(user) {
      await db.run(
        `INSERT INTO mailbox (message_id, user_id, recipient, subject) VALUES (?, ?, ?, ?)
         ON CONFLICT (message_id) DO NOTHING`,
        `welcome-${user.id}`,
        user.id,
        user.email,
        `Welcome, ${user.name}!`,
      );
    },
    // The index was an upsert already.
    indexUser: (user) => stage1.indexUser(user),
    async awardPoints(user) {
      await db.run(
        `INSERT INTO points (user_id, reason, amount) VALUES (?, ?, ?)
         ON CONFLICT (user_id, reason) DO NOTHING`,
        user.id,
        'sign-up',
        100,
      );
    },
  };
}
