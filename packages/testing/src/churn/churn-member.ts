// A consumer-group member for churn runs (see churn.ts), in its own process: Herald's router
// with the idempotency middleware over any log and store named by URL. For each event it
// writes, in the transaction that records the event in the group's inbox, one effect row and
// its key's commit counter (the shape `checkHistory` reads):
//
//   churn-keys/<key>                          { applied, seq }   the key's last committed effect
//   churn-effects/<key>/<applied>/<random>    { eventId, key, seq, applied, member, … }
//
// The random suffix makes a second effect of an event a second row, never an overwrite.
//
// argv[2]: MemberSettings as JSON. stdin takes one command per line: `clock <ms>` moves this
// process's wall clock by <ms>, as `Date.now` reads it (the group leases of the embedded log
// are `Date.now` times; `new Date()` is not moved).
// stdout: `ready` once it joined the group; `assigned <partitions JSON>` when the assignment
// changes; `applied <partition> <event id>` after an effect committed; `dedup <event id>` when a
// delivery had no effect because the inbox held the event; `fenced` when the log refused a
// commit; `clock <skew>`; `stopped` after a graceful stop (SIGTERM, or drained when `drain` is
// set).
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';
import {
  type EventLog,
  type Middleware,
  type Store,
  type StoredEvent,
  type Subscription,
  createRouter,
  idempotency,
  isHeraldError,
  openEventLog,
  openStore,
  retry,
} from '@herald/core';
import {
  CHURN_EVENT_TYPE,
  type ChurnEffect,
  type ChurnKeyState,
  type MemberSettings,
} from './churn-shapes.ts';

const settings = JSON.parse(process.argv[2]!) as MemberSettings;

// The wall clock as this process sees it. A jump moves every reader of Date.now at once, as a
// stepped system clock would; timers run on the monotonic clock and are not affected.
const realNow = Date.now.bind(Date);
let skew = 0;
Date.now = () => realNow() + skew;

const say = (line: string) => process.stdout.write(`${line}\n`);

// SIGTERM at any moment is a graceful leave: before the router runs, it stops as soon as it does.
const sigterm = new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));

createInterface({ input: process.stdin }).on('line', (line) => {
  const [command, value] = line.split(' ');
  if (command === 'clock' && value !== undefined) {
    skew += Number(value);
    say(`clock ${skew}`);
  }
});

const log = await openEventLog(settings.logUrl);
const store = await openMemberStore();

/** The store as a service opens it: with its Postgres tuning when it has one. */
async function openMemberStore(): Promise<Store> {
  const tuning = settings.postgres;
  if (tuning === undefined) return openStore(settings.storeUrl, { log, publish: false });
  const { openPostgresStore, parsePostgresStoreUrl } = await import('@herald/postgres');
  const { connectionString, schema } = parsePostgresStoreUrl(settings.storeUrl);
  return openPostgresStore({ connectionString, ...(schema === undefined ? {} : { schema }), ...tuning });
}

let subscription: Subscription | undefined;
/** The log as the router sees it, with the subscription's refused commits reported. */
const observedLog = new Proxy(log, {
  get(target, property) {
    if (property === 'subscribe') {
      return async (...args: Parameters<EventLog['subscribe']>) => {
        const opened = await target.subscribe(...args);
        subscription = opened;
        say('ready');
        return observeCommits(opened);
      };
    }
    const value: unknown = Reflect.get(target, property, target);
    return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
  },
});

function observeCommits(opened: Subscription): Subscription {
  return new Proxy(opened, {
    get(target, property) {
      if (property === 'commit') {
        return async (...args: Parameters<Subscription['commit']>) => {
          try {
            await target.commit(...args);
          } catch (error) {
            if (isHeraldError(error, 'FENCED')) say('fenced');
            throw error;
          }
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Deliveries whose handler committed an effect; the rest were skipped by the inbox. */
const applied = new WeakSet<StoredEvent>();
const reportDuplicates: Middleware = (next) => async (event, context) => {
  await next(event, context);
  if (!applied.has(event)) say(`dedup ${event.id}`);
};

const router = createRouter({
  log: observedLog,
  group: settings.group,
  topics: [settings.topic],
  store,
  sessionTimeoutMs: settings.sessionTimeoutMs,
  maxInFlight: settings.maxInFlight,
  // No dead-letter: an event that cannot be handled stops this member (and fails the run) rather
  // than leaving the history without its effect.
  middleware: [
    reportDuplicates,
    retry({ maxAttempts: 20, initialDelayMs: 10, maxDelayMs: 500 }),
    idempotency({ store }),
  ],
});

router.on(CHURN_EVENT_TYPE, async (event, ctx) => {
  const { key, seq } = JSON.parse(new TextDecoder().decode(event.data)) as { key: string; seq: number };
  // Work before the transaction, not cut short by a stop: kills and pauses land mid-handler. Its
  // length varies (up to twice the setting), as real work does: events of one key that were
  // allowed to run at once would commit out of order.
  if (settings.handlerDelayMs > 0) await sleep(Math.random() * 2 * settings.handlerDelayMs);
  await ctx.transaction(async (tx) => {
    const state = await tx.get<ChurnKeyState>('churn-keys', key);
    const count = (state?.applied ?? 0) + 1;
    const effect: ChurnEffect = {
      eventId: event.id,
      key,
      seq,
      applied: count,
      member: settings.name,
      pid: process.pid,
      partition: event.partition,
      offset: event.offset,
    };
    await tx.put('churn-effects', `${key}/${String(count).padStart(8, '0')}/${randomUUID()}`, effect);
    await tx.put('churn-keys', key, { applied: count, seq } satisfies ChurnKeyState);
  });
  applied.add(event);
  say(`applied ${event.partition} ${event.id}`);
});

let lastAssignment = '';
const watchAssignment = setInterval(() => {
  const now = JSON.stringify(
    (subscription?.assignment() ?? []).map((tp) => tp.partition).sort((a, b) => a - b),
  );
  if (now !== lastAssignment) say(`assigned ${(lastAssignment = now)}`);
}, 20);

let drainCheck: NodeJS.Timeout | undefined;
if (settings.drain) {
  drainCheck = setInterval(() => {
    void log
      .describeGroup(settings.group)
      .then((group) => {
        const ours = group.partitions.filter((p) => p.topic === settings.topic);
        if (ours.length > 0 && ours.every((p) => p.lag === 0)) void router.stop();
      })
      .catch(() => undefined);
  }, 200);
}
const running = router.run();
void sigterm.then(() => router.stop());
try {
  await running;
} catch (error) {
  // What stopped the router, with its causes, short enough for the run's failure message.
  let cause: unknown = error;
  for (let depth = 0; cause !== undefined && depth < 5; depth++) {
    const { stack, code } = cause as { stack?: string; code?: string };
    const text = stack ?? inspect(cause, { depth: 2 });
    process.stderr.write(
      `${depth === 0 ? 'failed' : 'caused by'} [${code}]: ${text.split('\n').slice(0, 8).join('\n')}\n`,
    );
    cause = (cause as { cause?: unknown }).cause;
  }
  process.exit(1);
}
clearInterval(drainCheck);
clearInterval(watchAssignment);
await store.close();
await log.close();
say('stopped');
process.exit(0);
