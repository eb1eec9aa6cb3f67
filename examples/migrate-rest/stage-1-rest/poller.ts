// The job that does a sign-up's work: every few seconds it reads the users added since the id it
// saw last, and for each one sends the welcome e-mail, indexes the user and awards points.
// It has the three bugs such jobs have, each shown by a test in stage-1.int.test.ts:
//  - a user whose row commits after a higher id was seen is skipped for ever (`id > last_seen`);
//  - a crash after sending but before saving the cursor sends the same e-mails again;
//  - one slow step holds back every other step and every later user.
import type { DatabaseSync } from 'node:sqlite';
import type { User } from './database.ts';

/** What the job does for each new user, in this order. */
export interface WorkflowSteps {
  sendWelcome(user: User): Promise<void>;
  indexUser(user: User): Promise<void>;
  awardPoints(user: User): Promise<void>;
}

/** The steps on the application's own tables (the mailbox stands in for the mail service). */
export function databaseSteps(db: DatabaseSync): WorkflowSteps {
  return {
    async sendWelcome(user) {
      db.prepare('INSERT INTO mailbox (user_id, recipient, subject) VALUES (?, ?, ?)').run(
        user.id,
        user.email,
        `Welcome, ${user.name}!`,
      );
    },
    async indexUser(user) {
      db.prepare(
        `INSERT INTO search_index (user_id, terms) VALUES (?, ?)
         ON CONFLICT (user_id) DO UPDATE SET terms = excluded.terms`,
      ).run(user.id, `${user.name} ${user.email}`.toLowerCase());
    },
    async awardPoints(user) {
      db.prepare('INSERT INTO points (user_id, reason, amount) VALUES (?, ?, ?)').run(
        user.id,
        'sign-up',
        100,
      );
    },
  };
}

export interface PollerOptions {
  readonly db: DatabaseSync;
  readonly steps?: WorkflowSteps;
  /** Users handled per tick; the cursor is saved once per batch, after all of them. */
  readonly batchSize?: number;
}

export interface Poller {
  /** One pass: handles the users above the cursor, then saves it. Resolves with how many. */
  tick(): Promise<number>;
  /** Ticks every `intervalMs` until the returned stop() is called (which waits for a running tick). */
  start(intervalMs: number): { stop(): Promise<void> };
}

const JOB = 'welcome';

export function createPoller({ db, steps = databaseSteps(db), batchSize = 100 }: PollerOptions): Poller {
  const tick = async (): Promise<number> => {
    const cursor = db.prepare('SELECT last_seen FROM job_cursors WHERE job = ?').get(JOB) as
      { last_seen: number } | undefined;
    const users = db
      .prepare('SELECT id, email, name FROM users WHERE id > ? ORDER BY id LIMIT ?')
      .all(cursor?.last_seen ?? 0, batchSize) as unknown as User[];
    for (const user of users) {
      await steps.sendWelcome(user);
      await steps.indexUser(user);
      await steps.awardPoints(user);
    }
    const last = users.at(-1);
    if (last !== undefined) {
      db.prepare(
        `INSERT INTO job_cursors (job, last_seen) VALUES (?, ?)
         ON CONFLICT (job) DO UPDATE SET last_seen = excluded.last_seen`,
      ).run(JOB, last.id);
    }
    return users.length;
  };

  return {
    tick,
    start(intervalMs) {
      let running: Promise<unknown> = Promise.resolve();
      const timer = setInterval(() => {
        running = running.then(tick).catch((error: unknown) => console.error('welcome job failed:', error));
      }, intervalMs);
      return {
        async stop() {
          clearInterval(timer);
          await running;
        },
      };
    },
  };
}
