// Stage 4: measures the two versions side by side under the same open-loop load and the same
// injected fault — the REST application with its polling job (stage 1) and the migrated one
// with the outbox and consumers (stage 3) — with the lab's generator and statistics as a library.
//
// Per version: the latency of the sign-up request (what the user waits for), the time from the
// request until its work is done (e-mail, index, points, as seen in the database), how many
// sign-ups were never completed, and how many had an effect twice (a duplicate e-mail or award).
// The fault: the mail service fails the first attempt for every `failEvery`-th user.
//
// Both versions run in this process, beside the generator: the numbers compare the two
// versions with each other, not with a production deployment.
//
// Run: ./node_modules/.bin/node examples/migrate-rest/stage-4-measure/measure.ts
//   --rate 50 --duration-ms 5000 --poll-ms 2000 --fail-every 10
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { parseArgs } from 'node:util';
import { ensureTopic } from '@herald/core';
import { constantArrivals } from '@herald/orders-lab/arrival-schedule.ts';
import { type RequestSample, runOpenLoop } from '@herald/orders-lab/load-generator.ts';
import { type LatencySummary, summarize } from '@herald/orders-lab/percentiles.ts';
import { openSqliteLog, openSqliteStore } from '@herald/sqlite';
import type { FastifyInstance } from 'fastify';
import * as rest from '../stage-1-rest/app.ts';
import * as restDatabase from '../stage-1-rest/database.ts';
import * as restJob from '../stage-1-rest/poller.ts';
import * as events from '../stage-3-tracing/app.ts';
import { createConsumers } from '../stage-2-outbox/consumers.ts';
import * as eventsDatabase from '../stage-2-outbox/database.ts';
import { USERS_TOPIC } from '../stage-2-outbox/events.ts';
import * as eventsSteps from '../stage-2-outbox/poller.ts';
import { createOutboxRelay } from '../stage-2-outbox/relay.ts';

export interface MeasureOptions {
  readonly rate: number;
  readonly durationMs: number;
  /** How often the REST version's job polls. */
  readonly pollMs: number;
  /** The mail service fails the first attempt for every user whose id is a multiple of it; 0: never. */
  readonly failEvery: number;
}

export interface VersionReport {
  readonly version: 'rest + polling job' | 'outbox + consumers';
  readonly requests: number;
  /** Requests not answered 201. */
  readonly requestErrors: number;
  readonly requestMs: LatencySummary;
  /** From when the request was due until its e-mail, index entry and points were all there. */
  readonly untilDoneMs: LatencySummary;
  /** Sign-ups whose work was still not done when nothing progressed any more. */
  readonly notDone: number;
  /** Sign-ups with a second e-mail or a second award. */
  readonly duplicated: number;
}

/** The sign-up steps with the injected fault, on the steps of either version. */
function faulty<S extends restJob.WorkflowSteps>(steps: S, failEvery: number): S {
  const failed = new Set<number>();
  return {
    ...steps,
    async sendWelcome(user) {
      if (failEvery > 0 && user.id % failEvery === 0 && !failed.has(user.id)) {
        failed.add(user.id);
        throw new Error('mail service unavailable (503)');
      }
      await steps.sendWelcome(user);
    },
  };
}

interface Running {
  readonly app: FastifyInstance;
  readonly db: DatabaseSync;
  stop(): Promise<void>;
}

async function startRest(folder: string, options: MeasureOptions): Promise<Running> {
  const db = restDatabase.openDatabase(join(folder, 'rest.db'));
  const app = rest.buildApp({ db });
  const steps = faulty(restJob.databaseSteps(db), options.failEvery);
  const job = restJob.createPoller({ db, steps }).start(options.pollMs);
  return { app, db, stop: () => job.stop() };
}

async function startEvents(folder: string, options: MeasureOptions): Promise<Running> {
  const db = eventsDatabase.openDatabase(join(folder, 'events.db'));
  const log = await openSqliteLog({ path: join(folder, 'herald.db') });
  const store = await openSqliteStore(log);
  await ensureTopic(log, USERS_TOPIC, { partitions: 4 });
  const app = events.buildApp({ db });
  const relay = createOutboxRelay({ db, log }).start(20);
  const steps = faulty(eventsSteps.databaseSteps(db), options.failEvery);
  const consumers = createConsumers({ log, store, db, steps, retryDelayMs: 50 });
  const running = consumers.map((router) => router.run());
  return {
    app,
    db,
    async stop() {
      await relay.stop();
      await Promise.all(consumers.map((router) => router.stop()));
      await Promise.all(running);
      await store.close();
      await log.close();
    },
  };
}

/** Indexes for the watcher's reads, so that measuring costs both versions little and alike. */
function indexForWatching(db: DatabaseSync): void {
  db.exec(`CREATE INDEX IF NOT EXISTS mailbox_user ON mailbox (user_id);
           CREATE INDEX IF NOT EXISTS points_user ON points (user_id);`);
}

/** Per e-mail address: how many e-mails, index entries and awards its user has. */
function progress(db: DatabaseSync): Map<string, { mails: number; indexed: number; awards: number }> {
  const rows = db
    .prepare(
      `SELECT email,
         (SELECT count(*) FROM mailbox WHERE user_id = users.id) AS mails,
         (SELECT count(*) FROM search_index WHERE user_id = users.id) AS indexed,
         (SELECT count(*) FROM points WHERE user_id = users.id) AS awards
       FROM users`,
    )
    .all() as unknown as { email: string; mails: number; indexed: number; awards: number }[];
  return new Map(rows.map((row) => [row.email, row]));
}

const emailOf = (index: number): string => `user-${index}@example.com`;

async function measureVersion(
  version: VersionReport['version'],
  start: (folder: string, options: MeasureOptions) => Promise<Running>,
  options: MeasureOptions,
): Promise<VersionReport> {
  const folder = await mkdtemp(join(tmpdir(), 'migrate-rest-measure-'));
  const system = await start(folder, options);
  indexForWatching(system.db);
  try {
    const address = await system.app.listen({ host: '127.0.0.1', port: 0 });
    // When each sign-up's work was first seen done, by a watcher reading the database every 10 ms.
    const doneAt = new Map<string, number>();
    const watch = (): void => {
      const now = performance.now();
      for (const [email, p] of progress(system.db)) {
        if (!doneAt.has(email) && p.mails > 0 && p.indexed > 0 && p.awards > 0) doneAt.set(email, now);
      }
    };
    const watcher = setInterval(watch, 10);
    const { samples } = await runOpenLoop({
      url: `${address}/users`,
      schedule: constantArrivals(options.rate, options.durationMs),
      body: (index) => ({ email: emailOf(index), name: `User ${index}` }),
      timeoutMs: 10_000,
      maxInFlight: 1_000,
    });
    const created = samples.filter((sample: RequestSample) => sample.status === 201);
    // Waits until every sign-up is done, or until nothing finished for a few polling periods.
    const quietMs = Math.max(3 * options.pollMs, 2_000);
    let lastChange = performance.now();
    let seen = doneAt.size;
    while (doneAt.size < created.length && performance.now() - lastChange < quietMs) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (doneAt.size !== seen) [seen, lastChange] = [doneAt.size, performance.now()];
    }
    clearInterval(watcher);
    watch();
    await system.stop();
    const final = progress(system.db);
    return {
      version,
      requests: samples.length,
      requestErrors: samples.length - created.length,
      requestMs: summarize(created.map((sample) => sample.doneAt - sample.dueAt)),
      untilDoneMs: summarize(
        created.flatMap((sample) => {
          const done = doneAt.get(emailOf(sample.index));
          return done === undefined ? [] : [done - sample.dueAt];
        }),
      ),
      notDone: created.length - created.filter((sample) => doneAt.has(emailOf(sample.index))).length,
      duplicated: [...final.values()].filter((p) => p.mails > 1 || p.awards > 1).length,
    };
  } finally {
    await system.app.close();
    system.db.close();
    await rm(folder, { recursive: true, force: true });
  }
}

/** Measures the REST version, then the migrated one, under the same load and fault. */
export async function measure(options: MeasureOptions): Promise<VersionReport[]> {
  return [
    await measureVersion('rest + polling job', startRest, options),
    await measureVersion('outbox + consumers', startEvents, options),
  ];
}

/** The reports as a Markdown table, as the guide shows them. */
export function formatReports(reports: readonly VersionReport[], options: MeasureOptions): string {
  const ms = (value: number | null): string => (value === null ? '–' : `${Math.round(value)}`);
  const lines = [
    `${options.rate} sign-ups/s for ${options.durationMs} ms, job polling every ${options.pollMs} ms, ` +
      (options.failEvery > 0 ? `mail failing once for every ${options.failEvery}th user` : 'no fault'),
    '',
    '| version | requests | errors | request p50 / p99 ms | until done p50 / p99 ms | never done | duplicated |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...reports.map(
      (r) =>
        `| ${r.version} | ${r.requests} | ${r.requestErrors} | ${ms(r.requestMs.p50)} / ${ms(r.requestMs.p99)} | ` +
        `${ms(r.untilDoneMs.p50)} / ${ms(r.untilDoneMs.p99)} | ${r.notDone} | ${r.duplicated} |`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      rate: { type: 'string', default: '50' },
      'duration-ms': { type: 'string', default: '5000' },
      'poll-ms': { type: 'string', default: '2000' },
      'fail-every': { type: 'string', default: '10' },
    },
  });
  const number = (name: keyof typeof values): number => {
    const value = Number(values[name]);
    if (!Number.isFinite(value) || value < 0) {
      console.error(`--${name} must be a non-negative number, not ${values[name]}`);
      process.exit(2);
    }
    return value;
  };
  const options: MeasureOptions = {
    rate: number('rate'),
    durationMs: number('duration-ms'),
    pollMs: number('poll-ms'),
    failEvery: number('fail-every'),
  };
  process.stdout.write(formatReports(await measure(options), options));
}
