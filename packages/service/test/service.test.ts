import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { type EventLog, type StoredEvent, ensureTopic, isHeraldError, openEventLog } from '@herald/core';
import { sleep, waitFor } from '@herald/testing';
import { type PauseSignal, type ServiceHost, openLogAndStores, startServices } from '@herald/service';
import { GREETINGS, type GreeterHooks, greeter, signUp } from './fixtures/greeter.ts';
import { tempLog } from './fixtures/temp-log.ts';

/** Starts the greeter on the embedded log file at `logUrl`, without a health server. */
async function startGreeter(
  logUrl: string,
  hooks: GreeterHooks = {},
  overrides: Parameters<typeof greeter>[1] = {},
): Promise<ServiceHost> {
  const resources = await openLogAndStores({ logUrl, env: {}, services: ['greeter'] });
  await ensureTopic(resources.log, 'users', { partitions: 2 });
  return startServices({
    services: [greeter(hooks, overrides)],
    resources,
    health: false,
    restartDelayMs: 20,
  });
}

async function eventsOf(log: EventLog, topic: string): Promise<StoredEvent[]> {
  const { partitions } = await log.describeTopic(topic);
  const events: StoredEvent[] = [];
  for (let partition = 0; partition < partitions; partition++) {
    events.push(...(await log.read(topic, { partition, from: 'earliest' })));
  }
  return events;
}

describe('a service defined with defineService, on a real SQLite file', () => {
  it('creates the topics it produces, handles what it consumes, and emits in the same transaction as its state', async () => {
    using folder = tempLog();
    await using host = await startGreeter(folder.logUrl);
    assert.deepEqual((await host.log.listTopics()).map((t) => [t.name, t.partitions]).sort(), [
      ['greetings', 2],
      ['users', 2],
    ]);
    await host.log.append('users', signUp('ada'));
    await waitFor(async () => (await eventsOf(host.log, 'greetings')).length === 1, 10_000, 'a greeting');
    const store = host.stores.storeOf('greeter');
    assert.deepEqual(await store.get(GREETINGS, 'ada'), { text: 'Welcome, ada!' });
    const [greeting] = await eventsOf(host.log, 'greetings');
    assert.equal(greeting?.partitionkey, 'ada');
  });

  it('starts again on the same file: its topics are there, its group goes on where it committed', async () => {
    using folder = tempLog();
    const greeted: string[] = [];
    const hooks: GreeterHooks = { before: (userId) => void greeted.push(userId) };
    {
      await using host = await startGreeter(folder.logUrl, hooks);
      await host.log.append('users', signUp('ada'));
      await waitFor(() => greeted.length === 1, 10_000, 'ada greeted');
    }
    await using host = await startGreeter(folder.logUrl, hooks);
    await host.log.append('users', signUp('bob'));
    await waitFor(() => greeted.includes('bob'), 10_000, 'bob greeted');
    assert.deepEqual(greeted, ['ada', 'bob'], 'ada is not greeted twice');
  });

  it('parks an event that fails for good in <topic>.dead-letter with the default middleware and goes on', async () => {
    using folder = tempLog();
    await using host = await startGreeter(folder.logUrl);
    await host.log.append('users', signUp('p-1', 'poison'), { partition: 0 });
    await host.log.append('users', signUp('ada'), { partition: 0 });
    await waitFor(async () => (await eventsOf(host.log, 'greetings')).length === 1, 10_000, 'ada greeted');
    let parked: StoredEvent[] = [];
    await waitFor(
      async () => {
        const topics = (await host.log.listTopics()).map((t) => t.name);
        if (topics.includes('users.dead-letter')) parked = await eventsOf(host.log, 'users.dead-letter');
        return parked.length > 0;
      },
      10_000,
      'p-1 parked',
    );
    assert.equal(parked.length, 1);
    assert.equal(parked[0]?.partitionkey, 'p-1');
  });

  it('builds a router that crashed again from its factory, which handles the event it failed on', async () => {
    using folder = tempLog();
    let attempts = 0;
    await using host = await startGreeter(
      folder.logUrl,
      {
        before: () => {
          attempts++;
          if (attempts === 1) throw new Error('the first attempt fails');
        },
      },
      // No middleware: the error escapes the handler and stops the router.
      { middleware: [] },
    );
    await host.log.append('users', signUp('ada'));
    await waitFor(async () => (await eventsOf(host.log, 'greetings')).length === 1, 10_000, 'ada greeted');
    const [supervisor] = host.supervisors;
    assert.equal(supervisor?.restarts, 1);
    assert.equal(supervisor?.state, 'running');
    assert.equal(attempts, 2);
  });

  it('keeps its routers stopped while its pause signal is on, and consumes again when it goes off', async () => {
    using folder = tempLog();
    const listeners = new Set<(paused: boolean) => void>();
    let paused = true;
    const pause: PauseSignal = {
      get paused() {
        return paused;
      },
      subscribe: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
    await using host = await startGreeter(folder.logUrl, {}, { pause });
    await host.log.append('users', signUp('ada'));
    const [supervisor] = host.supervisors;
    assert.equal(supervisor?.state, 'paused');
    assert.equal(supervisor?.routersRunning, 0);
    assert.deepEqual(await host.readiness(), { ready: true, detail: 'greeter: paused' });

    paused = false;
    for (const listener of listeners) listener(false);
    await waitFor(async () => (await eventsOf(host.log, 'greetings')).length === 1, 10_000, 'ada greeted');
    assert.equal(supervisor?.state, 'running');
  });

  it('refuses to start when a topic it produces exists with another partition count (CONFLICT), and closes the log', async () => {
    using folder = tempLog();
    {
      await using log = await openEventLog(folder.logUrl);
      await log.createTopic('greetings', { partitions: 3 });
    }
    await assert.rejects(startGreeter(folder.logUrl), (error: unknown) => {
      assert.ok(isHeraldError(error, 'CONFLICT'), String(error));
      assert.match(error.message, /"greetings" exists with 3 partitions, not the 2/);
      return true;
    });
    // The failed start released the file: another start with the right count works.
    await using log = await openEventLog(folder.logUrl);
    assert.equal((await log.describeTopic('greetings')).partitions, 3);
  });

  it('refuses a kafka:// log without a store before connecting, and never shows the password', async () => {
    await assert.rejects(
      openLogAndStores({ logUrl: 'kafka://app:s3cret@127.0.0.1:1', env: {}, services: ['greeter'] }),
      (error: unknown) => {
        assert.ok(isHeraldError(error, 'INVALID_ARGUMENT'), String(error));
        assert.match(error.message, /HERALD_LOG must be a sqlite: URL/);
        assert.ok(!error.message.includes('s3cret'), error.message);
        return true;
      },
    );
  });

  it('forgets inbox entries older than its inbox retention, and keeps them when retention is off', async () => {
    using folder = tempLog();
    const inboxEntries = () => {
      const db = new DatabaseSync(join(folder.dir, 'herald.db'), { readOnly: true });
      try {
        return (db.prepare('SELECT count(*) AS n FROM herald_inbox').get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    const start = async (inboxRetentionMs: number | false) => {
      const resources = await openLogAndStores({ logUrl: folder.logUrl, env: {}, services: ['greeter'] });
      await ensureTopic(resources.log, 'users', { partitions: 2 });
      return startServices({ services: [greeter()], resources, health: false, inboxRetentionMs });
    };
    {
      await using host = await start(false);
      await host.log.append('users', signUp('ada'));
      await waitFor(async () => (await eventsOf(host.log, 'greetings')).length === 1, 10_000, 'ada greeted');
      await sleep(100);
      assert.equal(inboxEntries(), 1, 'the handled event is in the inbox, and stays there');
    }
    await using host = await start(50);
    await waitFor(() => inboxEntries() === 0, 10_000, 'the entry to be deleted after 50 ms');
    assert.equal(host.supervisors[0]?.state, 'running');
  });

  it('audits its groups periodically when asked: herald_audit_violations is 0, then counts an inbox entry lost', async () => {
    using folder = tempLog();
    const resources = await openLogAndStores({ logUrl: folder.logUrl, env: {}, services: ['greeter'] });
    await ensureTopic(resources.log, 'users', { partitions: 2 });
    await using host = await startServices({
      services: [greeter()],
      resources,
      health: false,
      auditIntervalMs: 20,
    });
    await host.log.append('users', signUp('ada'));
    await host.log.append('users', signUp('bob', 'poison'));
    const gauge = async (name: string) =>
      new RegExp(`^${name}\\{group="greeter\\.welcome"\\} (\\d+)$`, 'm').exec(
        await host.registry.metrics(),
      )?.[1];
    await waitFor(
      async () => (await gauge('herald_audit_events_checked')) === '2',
      10_000,
      'an audit of both events once handled and dead-lettered',
    );
    assert.equal(await gauge('herald_audit_violations'), '0');
    const db = new DatabaseSync(join(folder.dir, 'herald.db'));
    try {
      db.prepare('DELETE FROM herald_inbox').run();
    } finally {
      db.close();
    }
    await waitFor(
      async () => (await gauge('herald_audit_violations')) === '1',
      10_000,
      'the lost entry counted',
    );
  });
});
