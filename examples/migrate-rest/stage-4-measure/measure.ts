// Stage 4: measures the versions side by side under the same open-loop load and the same
// injected fault — the REST application with its polling job (stage 1) and the migrated one
// with the outbox and consumers (stage 3) — with the lab's generator and statistics as a library.
// The migrated version runs twice: its consumers in the API's process, then in a process of
// their own (consumer-process.ts), the API's process then only saving sign-ups and relaying.
//
// Per version: the latency of the sign-up request (what the user waits for), the time from the
// request until its work is done (e-mail, index, points, as seen in the database), how many
// sign-ups were never completed, and how many had an effect twice (a duplicate e-mail or award).
// The fault: the mail service fails the first attempt for every `failEvery`-th user.
//
// The generator runs in this process, beside the API of each version: the numbers compare the
// versions with each other, not with a production deployment. Each version gets a new database
// (SQLite files, or a schema of its own on the Postgres server given), removed afterwards.
//
// Run: ./node_modules/.bin/node examples/migrate-rest/stage-4-measure/measure.ts
//   --rate 50 --duration-ms 5000 --poll-ms 2000 --fail-every 10
//   [--consumers same-process|own-process|both] (default both)
//   [--postgres postgres://…] (default: SQLite)
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { constantArrivals } from '@herald/orders-lab/arrival-schedule.ts';
import { type RequestSample, runOpenLoop } from '@herald/orders-lab/load-generator.ts';
import { type LatencySummary, summarize } from '@herald/orders-lab/percentiles.ts';
import type { FastifyInstance } from 'fastify';
import * as rest from '../stage-1-rest/app.ts';
import * as restDatabase from '../stage-1-rest/database.ts';
import { type WorkflowSteps, createPoller, databaseSteps } from '../stage-1-rest/poller.ts';
import { type SqlDatabase, scratchDatabase } from '../stage-1-rest/sql-database.ts';
import { createConsumers } from '../stage-2-outbox/consumers.ts';
import * as eventsDatabase from '../stage-2-outbox/database.ts';
import { openHerald } from '../stage-2-outbox/herald.ts';
import * as events from '../stage-3-tracing/app.ts';

/** Where the migrated version's consumers run: beside the API, in a process of their own, or each in turn. */
export type ConsumersPlacement = 'same-process' | 'own-process' | 'both';

export interface MeasureOptions {
  readonly rate: number;
  readonly durationMs: number;
  /** How often the REST version's job polls. */
  readonly pollMs: number;
  /** The mail service fails the first attempt for every user whose id is a multiple of it; 0: never. */
  readonly failEvery: number;
  readonly consumers: ConsumersPlacement;
  /** A Postgres server's URL: each version runs on a new schema there. Default: SQLite files. */
  readonly postgres?: string | undefined;
}

export type Version =
  'rest + polling job' | 'outbox + consumers, one process' | 'outbox + consumers, own process';

export interface VersionReport {
  readonly version: Version;
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

/** The sign-up steps with the injected fault: the first e-mail to every `failEvery`-th user fails. */
export function faulty(steps: WorkflowSteps, failEvery: number): WorkflowSteps {
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

/** The retry delay of the measured consumers, wherever they run. */
export const RETRY_DELAY_MS = 50;

interface Running {
  readonly app: FastifyInstance;
  /** Stops what runs beside the API (the job, the relay, the consumers). */
  stop(): Promise<void>;
}

/** Where a version keeps its data: its database, and a folder for Herald's log. */
interface Place {
  readonly db: SqlDatabase;
  /** What the database was opened from, for another process to open it too. */
  readonly location: string;
  readonly folder: string;
}

function startRest({ db }: Place, options: MeasureOptions): Running {
  const job = createPoller({ db, steps: faulty(databaseSteps(db), options.failEvery) }).start(options.pollMs);
  return { app: rest.buildApp({ db }), stop: () => job.stop() };
}

async function startEventsInOneProcess({ db, folder }: Place, options: MeasureOptions): Promise<Running> {
  const steps = faulty(databaseSteps(db), options.failEvery);
  const herald = await openHerald({
    db,
    logFile: join(folder, 'herald.db'),
    relayEveryMs: 20,
    consumers: (log, store) => createConsumers({ log, store, db, steps, retryDelayMs: RETRY_DELAY_MS }),
  });
  return { app: events.buildApp({ db }), stop: () => herald.close() };
}

async function startEventsInTwoProcesses(
  { db, location, folder }: Place,
  options: MeasureOptions,
): Promise<Running> {
  const logFile = join(folder, 'herald.db');
  const herald = await openHerald({ db, logFile, relayEveryMs: 20 });
  let consumers: ChildProcess;
  try {
    consumers = await startConsumerProcess({
      APP_DB: location,
      HERALD_LOG_FILE: logFile,
      FAIL_EVERY: String(options.failEvery),
    });
  } catch (error) {
    await herald.close();
    throw error;
  }
  return {
    app: events.buildApp({ db }),
    async stop() {
      await herald.close();
      if (consumers.exitCode !== null || consumers.signalCode !== null) return;
      const exited = once(consumers, 'exit');
      consumers.kill('SIGTERM');
      await exited;
    },
  };
}

/** Starts consumer-process.ts and resolves once it says its consumers run. */
async function startConsumerProcess(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--disable-warning=ExperimentalWarning', join(import.meta.dirname, 'consumer-process.ts')],
    { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      if (output.includes('consuming')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the consumer process exited with ${code}: ${output}`)));
  });
  return child;
}

/** Per e-mail address: how many e-mails, index entries and awards its user has. */
async function progress(
  db: SqlDatabase,
): Promise<Map<string, { mails: number; indexed: number; awards: number }>> {
  const rows = await db.all<{ email: string; mails: number; indexed: number; awards: number }>(
    `SELECT email,
       (SELECT count(*) FROM mailbox WHERE user_id = users.id) AS mails,
       (SELECT count(*) FROM search_index WHERE user_id = users.id) AS indexed,
       (SELECT count(*) FROM points WHERE user_id = users.id) AS awards
     FROM users`,
  );
  return new Map(rows.map((row) => [row.email, row]));
}

const emailOf = (index: number): string => `user-${index}@example.com`;

const VERSIONS = {
  'rest + polling job': { open: restDatabase.openDatabase, start: startRest },
  'outbox + consumers, one process': { open: eventsDatabase.openDatabase, start: startEventsInOneProcess },
  'outbox + consumers, own process': { open: eventsDatabase.openDatabase, start: startEventsInTwoProcesses },
} satisfies Record<
  Version,
  {
    open: (location: string) => Promise<SqlDatabase>;
    start: (place: Place, options: MeasureOptions) => Running | Promise<Running>;
  }
>;

async function measureVersion(version: Version, options: MeasureOptions): Promise<VersionReport> {
  await using scratch = await scratchDatabase(options.postgres, 'migrate-rest-measure');
  const folder = await mkdtemp(join(tmpdir(), 'migrate-rest-measure-'));
  const db = await VERSIONS[version].open(scratch.location);
  try {
    // Indexes for the watcher's reads, so that measuring costs every version little and alike.
    await db.run('CREATE INDEX IF NOT EXISTS mailbox_user ON mailbox (user_id)');
    await db.run('CREATE INDEX IF NOT EXISTS points_user ON points (user_id)');
    const system = await VERSIONS[version].start({ db, location: scratch.location, folder }, options);
    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => (stopping ??= system.stop());
    try {
      const address = await system.app.listen({ host: '127.0.0.1', port: 0 });
      // When each sign-up's work was first seen done, by a watcher reading the database every 10 ms.
      const doneAt = new Map<string, number>();
      const watch = async (): Promise<void> => {
        const now = performance.now();
        for (const [email, p] of await progress(db)) {
          if (!doneAt.has(email) && p.mails > 0 && p.indexed > 0 && p.awards > 0) doneAt.set(email, now);
        }
      };
      let watching = true;
      const watcher = (async () => {
        while (watching) {
          await watch();
          await sleep(10);
        }
      })();
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
        await sleep(20);
        if (doneAt.size !== seen) [seen, lastChange] = [doneAt.size, performance.now()];
      }
      watching = false;
      await watcher;
      await watch();
      await stop();
      const final = await progress(db);
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
      await stop();
    }
  } finally {
    await db.close();
    await rm(folder, { recursive: true, force: true });
  }
}

/** The versions `options` asks for, in the order they are measured. */
export function versionsOf({ consumers }: Pick<MeasureOptions, 'consumers'>): Version[] {
  return [
    'rest + polling job',
    ...(consumers === 'own-process' ? [] : ['outbox + consumers, one process' as const]),
    ...(consumers === 'same-process' ? [] : ['outbox + consumers, own process' as const]),
  ];
}

/** Measures the REST version, then the migrated one, under the same load and fault. */
export async function measure(options: MeasureOptions): Promise<VersionReport[]> {
  const reports: VersionReport[] = [];
  for (const version of versionsOf(options)) reports.push(await measureVersion(version, options));
  return reports;
}

/** The reports as a Markdown table, as the guide shows them. */
export function formatReports(reports: readonly VersionReport[], options: MeasureOptions): string {
  const ms = (value: number | null): string => (value === null ? '–' : `${Math.round(value)}`);
  const lines = [
    `${options.rate} sign-ups/s for ${options.durationMs} ms on ${options.postgres === undefined ? 'SQLite' : 'Postgres'}, ` +
      `job polling every ${options.pollMs} ms, ` +
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

/** The options from the command line; exits 2 with a clear message on a bad one. */
function optionsFromArgs(): MeasureOptions {
  const refuse = (message: string): never => {
    console.error(message);
    process.exit(2);
  };
  const { values } = parseArgs({
    options: {
      rate: { type: 'string', default: '50' },
      'duration-ms': { type: 'string', default: '5000' },
      'poll-ms': { type: 'string', default: '2000' },
      'fail-every': { type: 'string', default: '10' },
      consumers: { type: 'string', default: 'both' },
      postgres: { type: 'string' },
    },
  });
  const number = (name: 'rate' | 'duration-ms' | 'poll-ms' | 'fail-every'): number => {
    const value = Number(values[name]);
    return Number.isFinite(value) && value >= 0
      ? value
      : refuse(`--${name} must be a non-negative number, not ${values[name]}`);
  };
  const placements = ['same-process', 'own-process', 'both'];
  if (!placements.includes(values.consumers)) {
    refuse(`--consumers must be one of ${placements.join(', ')}, not ${values.consumers}`);
  }
  if (values.postgres !== undefined && !/^postgres(ql)?:\/\//.test(values.postgres)) {
    refuse('--postgres must be a postgres:// URL');
  }
  return {
    rate: number('rate'),
    durationMs: number('duration-ms'),
    pollMs: number('poll-ms'),
    failEvery: number('fail-every'),
    consumers: values.consumers as ConsumersPlacement,
    postgres: values.postgres,
  };
}

if (import.meta.main) {
  const options = optionsFromArgs();
  process.stdout.write(formatReports(await measure(options), options));
}
