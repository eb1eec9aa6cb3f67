// The console mounted in a service built with the service kit: served on its admin listener
// beside /healthz and /metrics, on a real SQLite file, and a redrive through it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PermanentFailure, createProducer, defineEvent, ensureTopic } from '@herald/core';
import { defineService, openLogAndStores, startServices } from '@herald/service';
import { waitFor } from '@herald/testing';
import { z } from 'zod';
import { serviceConsole } from '../src/index.ts';
import { ConsoleClient, expectStatus } from './console-client.ts';
import { PASSWORDS, testUsers } from './fixtures.ts';

const Signed = defineEvent({
  type: 'dev.herald.console-test.user-signed-up.v1',
  schema: z.object({ name: z.string() }),
});

const greeter = defineService({
  name: 'greeter',
  group: 'greeter.welcome',
  consumes: ['users'],
  produces: [{ topic: 'greetings', partitions: 1 }],
  handlers(router) {
    router.on(Signed, async ({ name }) => {
      if (name === 'poison') throw new PermanentFailure(`cannot greet ${name}`);
    });
  },
});

describe(
  'the console mounted on a service kit admin listener (real SQLite file)',
  { timeout: 120_000 },
  () => {
    it('serves the console beside health and metrics, counts failed logins there, and redrives', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'herald-console-kit-'));
      try {
        const resources = await openLogAndStores({
          logUrl: `sqlite:${join(dir, 'herald.db')}`,
          env: {},
          services: ['greeter'],
        });
        await ensureTopic(resources.log, 'users', { partitions: 1 });
        await using host = await startServices({
          services: [greeter],
          resources,
          admin: serviceConsole({ users: await testUsers(), ui: false }),
        });
        const url = host.health!.url;
        assert.match(url, /^http:\/\/127\.0\.0\.1:/);
        assert.equal((await fetch(`${url}/healthz`)).status, 200);

        await createProducer({ sink: host.log, source: '/accounts' }).publish('users', Signed, {
          name: 'poison',
        });
        await waitFor(
          async () => (await host.log.listTopics()).some((t) => t.name === 'users.dead-letter'),
          30_000,
          'the poison event to be dead-lettered',
        );

        const stranger = new ConsoleClient(url);
        expectStatus(await stranger.login('operator', 'wrong password'), 401);
        assert.match(
          await (await fetch(`${url}/metrics`)).text(),
          /herald_console_login_failures_total\{reason="bad-credentials"\} 1/,
        );
        const operator = new ConsoleClient(url);
        expectStatus(await operator.login('operator', PASSWORDS.operator), 200);
        const { entries } = expectStatus(
          await operator.get<{ entries: { partition: number; offset: number }[] }>(
            '/api/dead-letters/users.dead-letter',
          ),
          200,
        );
        assert.equal(entries.length, 1);
        const redriven = expectStatus(
          await operator.send<{ outcomes: { status: string }[] }>(
            'POST',
            '/api/dead-letters/users.dead-letter/redrive',
            {
              positions: [{ partition: entries[0]!.partition, offset: entries[0]!.offset }],
            },
          ),
          200,
        );
        assert.deepEqual(
          redriven.outcomes.map((o) => o.status),
          ['redriven'],
        );
        const trail = expectStatus(
          await operator.get<{ entries: { action: string; outcome: string }[] }>('/api/audit'),
          200,
        );
        assert.deepEqual(
          trail.entries.map((e) => [e.action, e.outcome]),
          [['dlq.redrive', 'done']],
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  },
);
