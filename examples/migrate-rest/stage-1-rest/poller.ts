// The job that does a sign-up's work: every few seconds it reads the users added since the id it
// saw last, and for each one sends the welcome e-mail, indexes the user and awards points.
// It has the three bugs such jobs have, each shown by a test in stage-1.int.test.ts:
//  - a user whose row commits after a higher id was seen is skipped for ever (`id > last_seen`);
//  - a crash after sending but before saving the cursor sends the same e-mails again;
//  - one slow step holds back every other step and every later user.
import type { User } from './database.ts';
import type { Sql } from './sql-database.ts';

/** What the job does for each new user, in this order. */
export interface WorkflowSteps {
  sendWelcome(user: User): Promise<void>;
  indexUser(user: User): Promise<void>;
  awardPoints(user: User): Promise<void>;
}

/**
 * The steps on the application's own tables (the mailbox stands in for the mail service), or
 * on the copy of them whose names start with `prefix`.
 */
export function databaseSteps(db: Sql, prefix = ''): WorkflowSteps {
  return {
    async sendWelcome(user) {
      await db.run(
        `INSERT INTO ${prefix}mailbox (user_id, recipient, subject) VALUES (?, ?, ?)`,
        user.id,
        user.email,
        `Welcome, ${user.name}!`,
      );
    },
    async indexUser(user) {
      await db.run(
        `INSERT INTO ${prefix}search_index (user_id, terms) VALUES (?, ?)
         ON CONFLICT (user_id) DO UPDATE SET terms = excluded.terms`,
        user.id,
        `${user.name} ${user.email}`.toLowerCase(),
      );
    },
    async awardPoints(user) {
      await db.run(
        `INSERT INTO ${prefix}points (user_id, reason, amount) VALUES (?, ?, ?)`,
        user.id,
        'sign-up',
        100,
      );
    },
  };
}

export interface PollerOptions {
  readonly db: Sql;
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
    const cursor = await db.get<{ last_seen: number }>(
      'SELECT last_seen FROM job_cursors WHERE job = ?',
      JOB,
    );
    const users = await db.all<User>(
      'SELECT id, email, name FROM users WHERE id > ? ORDER BY id LIMIT ?',
      cursor?.last_seen ?? 0,
      batchSize,
    );
    for (const user of users) {
      await steps.sendWelcome(user);
      await steps.indexUser(user);
      await steps.awardPoints(user);
    }
    const last = users.at(-1);
    if (last !== undefined) {
      await db.run(
        `INSERT INTO job_cursors (job, last_seen) VALUES (?, ?)
         ON CONFLICT (job) DO UPDATE SET last_seen = excluded.last_seen`,
        JOB,
        last.id,
      );
    }
    return users.length;
  };

  return { tick, start: (intervalMs) => repeat(tick, intervalMs, 'welcome job') };
}

/**
 * Runs `pass` every `intervalMs`, one pass at a time; a failed pass is logged and the next one
 * comes as usual. stop() ends the repetition and waits for a pass under way.
 */
export function repeat(
  pass: () => Promise<unknown>,
  intervalMs: number,
  what: string,
): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(pass).catch((error: unknown) => console.error(`${what} failed:`, error));
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
