// A sign-up's work: the welcome e-mail, the search index, the points. Stage 5: the polling job
// that ran these steps is gone (the comparison showed the consumers do what it did, without its
// bugs); the consumers run them. Each step has one effect however often it runs: the index is an
// upsert, the award is keyed by (user, reason), and the e-mail carries a message id that the
// mailbox refuses twice, so a step that ran before its inbox entry was saved can run again.
import type { DatabaseSync } from 'node:sqlite';
import type { User } from './database.ts';

/** What the consumers do for each new user, one consumer group per step. */
export interface WorkflowSteps {
  sendWelcome(user: User): Promise<void>;
  indexUser(user: User): Promise<void>;
  awardPoints(user: User): Promise<void>;
}

/** The steps on the application's own tables (the mailbox stands in for the mail service). */
export function databaseSteps(db: DatabaseSync): WorkflowSteps {
  return {
    async sendWelcome(user) {
      db.prepare(
        `INSERT INTO mailbox (message_id, user_id, recipient, subject) VALUES (?, ?, ?, ?)
         ON CONFLICT (message_id) DO NOTHING`,
      ).run(`welcome-${user.id}`, user.id, user.email, `Welcome, ${user.name}!`);
    },
    async indexUser(user) {
      db.prepare(
        `INSERT INTO search_index (user_id, terms) VALUES (?, ?)
         ON CONFLICT (user_id) DO UPDATE SET terms = excluded.terms`,
      ).run(user.id, `${user.name} ${user.email}`.toLowerCase());
    },
    async awardPoints(user) {
      db.prepare(
        `INSERT INTO points (user_id, reason, amount) VALUES (?, ?, ?)
         ON CONFLICT (user_id, reason) DO NOTHING`,
      ).run(user.id, 'sign-up', 100);
    },
  };
}
