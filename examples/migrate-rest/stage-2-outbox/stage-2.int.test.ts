// Stage 2: the sign-up emits its fact through the outbox, consumers replace the polling job, and
// the job keeps running in shadow so that both outputs can be compared. The application's
// database is a real SQLite file, then a real Postgres schema; Herald's log is a SQLite file.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { caughtUp } from '../../example-log.ts';
import { gate, onEachDatabase, signUpAt, useDatabase, useHerald } from '../fixtures.ts';
import { eventually, runCommand, runServer } from '../run-server.ts';
import { workflowOutputs } from '../stage-1-rest/database.ts';
import { type WorkflowSteps, createPoller, databaseSteps } from '../stage-1-rest/poller.ts';
import { buildApp, saveWithEvent, signedUp } from './app.ts';
import { compareOutputs, formatDifferences } from './compare.ts';
import { createConsumers } from './consumers.ts';
import { SHADOW, openDatabase } from './database.ts';
import { USERS_TOPIC, recordInOutbox } from './events.ts';
import { createOutboxRelay } from './relay.ts';

onEachDatabase('stage 2: the outbox and consumers, the polling job in shadow', (database) => {
  const the = useDatabase(database, openDatabase);
  const herald = useHerald(the, createConsumers);
  it('records the sign-up and its event in one transaction, and neither for a refused one', async () => {
    the.app = buildApp({ db: the.db });
    await the.signUp('ada@example.com', 'Ada');
    const again = await the.app.inject({
      method: 'POST',
      url: '/users',
      payload: { email: 'ada@example.com', name: 'Ada' },
    });
    assert.equal(again.statusCode, 409);
    const relayed = await herald.relay().relayOnce();
    assert.equal(relayed, 1, 'one user, one event: the refused sign-up left none');
    assert.equal(await herald.relay().relayOnce(), 0, 'the relay deleted what it published');
  });

  it(
    'keeps an outbox row that commits after a later one was published, and publishes it on the next pass',
    {
      skip:
        database.name === 'sqlite' &&
        'SQLite has one writer: no transaction commits while another is open, so the rows of the outbox commit in order',
    },
    async () => {
      // Postgres numbers the rows when they are inserted, not when they commit: the first row
      // may commit last, here while the relay publishes the rows it read. The relay deletes the
      // rows it published, not every row up to the highest seq, and has no cursor to skip it.
      const adaHeld = gate();
      const ada = the.db.transaction(async (tx) => {
        await recordInOutbox(tx, USERS_TOPIC, signedUp({ id: 1, email: 'ada@example.com', name: 'Ada' }));
        await adaHeld.promise;
      });
      await saveWithEvent(the.db, { id: 2, email: 'bob@example.com', name: 'Bob' });
      const publishing = gate();
      const published = gate();
      const slowLog = Object.create(herald.log, {
        appendBatch: {
          value: async (...args: Parameters<typeof herald.log.appendBatch>) => {
            publishing.open();
            await published.promise;
            return herald.log.appendBatch(...args);
          },
        },
      }) as typeof herald.log;
      const relaying = createOutboxRelay({ db: the.db, log: slowLog }).relayOnce();
      await publishing.promise;
      adaHeld.open();
      await ada;
      published.open();
      assert.equal(await relaying, 1, "Bob's event, the one committed when the relay read");
      const relay = herald.relay();
      assert.equal(await relay.relayOnce(), 1, "Ada's event, committed since, with a lower seq");
      assert.equal(await relay.relayOnce(), 0);
    },
  );

  it('has the consumers welcome, index and award points, as the job did', async () => {
    the.app = buildApp({ db: the.db });
    const ada = await the.signUp('ada@example.com', 'Ada');
    await herald.relay().relayOnce();
    await herald.consume(herald.consumers());
    assert.deepEqual(await workflowOutputs(the.db), {
      mailbox: [{ user_id: ada.id, recipient: 'ada@example.com', subject: 'Welcome, Ada!' }],
      search_index: [{ user_id: ada.id, terms: 'ada ada@example.com' }],
      points: [{ user_id: ada.id, reason: 'sign-up', amount: 100 }],
    });
  });

  it('handles a user whose row commits late, which the shadow job misses, and the comparison says so', async () => {
    const adaChecked = gate();
    const adaChecking = gate();
    the.app = buildApp({
      db: the.db,
      verifyEmail: async (email) => {
        if (email !== 'ada@example.com') return;
        adaChecking.open();
        await adaChecked.promise;
      },
    });
    const relay = herald.relay();
    const shadow = createPoller({ db: the.db, steps: databaseSteps(the.db, SHADOW) });
    const adaSigningUp = the.signUp('ada@example.com', 'Ada');
    await adaChecking.promise;
    const bob = await the.signUp('bob@example.com', 'Bob');
    assert.equal(await relay.relayOnce(), 1);
    assert.equal(await shadow.tick(), 1);
    adaChecked.open();
    const ada = await adaSigningUp;
    assert.equal(await relay.relayOnce(), 1, 'the relay has no cursor: Ada is published on the next pass');
    assert.equal(await shadow.tick(), 0, 'the shadow job skips Ada, as in stage 1');
    await herald.consume(herald.consumers());

    assert.deepEqual(
      (await workflowOutputs(the.db)).points.map((award) => award.user_id),
      [ada.id, bob.id],
    );
    const differences = await compareOutputs(the.db);
    assert.deepEqual(
      differences.map((d) => [
        d.table,
        (JSON.parse(d.row) as { user_id: number }).user_id,
        d.consumers,
        d.shadow,
      ]),
      [
        ['mailbox', ada.id, 1, 0],
        ['search_index', ada.id, 1, 0],
        ['points', ada.id, 1, 0],
      ],
    );
    assert.match(formatDifferences(differences), /^mailbox .*"user_id":1.*: consumers 1, polling job 0$/m);
  });

  it('lets a slow step hold back only its own consumer group', async () => {
    the.app = buildApp({ db: the.db });
    const ada = await the.signUp('ada@example.com', 'Ada');
    const bob = await the.signUp('bob@example.com', 'Bob');
    await herald.relay().relayOnce();
    const indexed = gate();
    const steps = databaseSteps(the.db);
    const slowIndex: WorkflowSteps = {
      ...steps,
      async indexUser(user) {
        if (user.id === ada.id) await indexed.promise; // the search cluster is slow today
        await steps.indexUser(user);
      },
    };
    const routers = herald.consumers({ steps: slowIndex });
    const running = routers.map((router) => router.run());
    await caughtUp(herald.log, 'welcome.mail');
    await caughtUp(herald.log, 'rewards.points');
    const during = await workflowOutputs(the.db);
    assert.equal(during.mailbox.length, 2, 'both e-mails went out while Ada was being indexed');
    assert.equal(during.points.length, 2, 'and both users got their points');
    indexed.open();
    await caughtUp(herald.log, 'search.index');
    await Promise.all(routers.map((router) => router.stop()));
    await Promise.all(running);
    assert.deepEqual(
      (await workflowOutputs(the.db)).search_index.map((entry) => entry.user_id),
      [ada.id, bob.id],
    );
  });

  it('retries a failing step and parks one that keeps failing, while other users go on', async () => {
    the.app = buildApp({ db: the.db });
    const ada = await the.signUp('ada@example.com', 'Ada');
    const bob = await the.signUp('bob@example.com', 'Bob');
    await herald.relay().relayOnce();
    const steps = databaseSteps(the.db);
    let adaAttempts = 0;
    const flaky: WorkflowSteps = {
      ...steps,
      async awardPoints(user) {
        if (user.id === ada.id && ++adaAttempts <= 2) throw new Error('rewards service unavailable (503)');
        if (user.id === bob.id) throw new Error('rewards service refuses this account');
        await steps.awardPoints(user);
      },
    };
    await herald.consume(herald.consumers({ steps: flaky, retryDelayMs: 5 }));
    assert.equal(adaAttempts, 3, "Ada's points took three attempts");
    assert.deepEqual(
      (await workflowOutputs(the.db)).points.map((award) => award.user_id),
      [ada.id],
    );
    const parked = (
      await Promise.all(
        [0, 1, 2, 3].map((partition) =>
          herald.log.read('users.dead-letter', { partition, from: 'earliest' }),
        ),
      )
    ).flat();
    assert.equal(parked.length, 1, "Bob's event is parked in users.dead-letter after its last attempt");
    assert.match(String(parked[0]!.extensions?.['dlerror']), /refuses this account/);
  });

  it('runs as a server; afterwards the compare command finds no difference', async () => {
    {
      await using server = await runServer(join(import.meta.dirname, 'server.ts'), {
        APP_DB: the.location,
        HERALD_LOG_FILE: join(herald.folder, 'server-herald.db'),
        POLL_MS: '50',
      });
      const { id } = await signUpAt(server.url, 'ada@example.com', 'Ada');
      await eventually(
        async () => (await (await fetch(`${server.url}/users/${id}`)).json()) as { points: number },
        (user) => user.points === 100,
      );
      // The shadow job writes its own tables; wait for it too before comparing.
      await eventually(
        async () => (await workflowOutputs(the.db, SHADOW)).points.length,
        (n) => n === 1,
      );
    }
    const compared = await runCommand(join(import.meta.dirname, 'compare.ts'), [the.location]);
    assert.equal(
      compared.stdout,
      'no differences: the consumers did what the polling job did\n',
      compared.stderr,
    );
    assert.equal(compared.code, 0);
  });
});
