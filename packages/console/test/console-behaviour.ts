// The console's behaviours on a real log and store, run per backend (the embedded log; Kafka and
// NATS with a Postgres store): every read endpoint, redrive with its audit entry, a redrive
// retried that appends once, refusals recorded in the trail, and group reset.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CloudEvent, EventLog, Store } from '@herald/core';
import { readAll } from '@herald/testing';
import { openSchemaRegistry } from '@herald/schemas';
import { type ConsoleServer, startConsole } from '../src/index.ts';
import { ConsoleClient, expectStatus } from './console-client.ts';
import { PASSWORDS, TYPE, names, parkPoison, testUsers } from './fixtures.ts';

/** A log and store opened for one backend's run, and how to close them. */
export interface ConsoleBackend {
  readonly log: EventLog;
  readonly store: Store | undefined;
  /** Waits until what the store emitted in its transactions is in the log (an outbox relay's work). */
  readonly flush?: () => Promise<void>;
  close(): Promise<void>;
}

export interface ConsoleBehaviourOptions {
  readonly open: () => Promise<ConsoleBackend>;
  /** The backend offers `resetGroup`; otherwise reset answers 501 UNSUPPORTED. */
  readonly reset: boolean;
  /** Prefix of the topic and group names (brokers are shared). */
  readonly prefix: string;
}

interface AuditView {
  action: string;
  actor: string;
  role?: string;
  target: string;
  outcome: string;
  reason?: string;
  after?: Record<string, unknown>;
}

export function describeConsoleBehaviour(title: string, options: ConsoleBehaviourOptions): void {
  describe(title, { timeout: 300_000 }, () => {
    let backend: ConsoleBackend;
    let server: ConsoleServer;
    let orders: CloudEvent[];
    const n = names(options.prefix);

    before(async () => {
      backend = await options.open();
      orders = await parkPoison(backend.log, backend.store, n);
      server = await startConsole({
        log: backend.log,
        ...(backend.store === undefined ? {} : { store: backend.store }),
        users: await testUsers(),
        ui: false,
        sampleIntervalMs: 200,
      });
    });
    after(async () => {
      await server?.close();
      await backend?.close();
    });

    const as = async (role: keyof typeof PASSWORDS): Promise<ConsoleClient> => {
      const client = new ConsoleClient(server.url);
      expectStatus(await client.login(role, PASSWORDS[role]), 200);
      return client;
    };
    const auditTrail = async (client: ConsoleClient): Promise<AuditView[]> => {
      await backend.flush?.();
      return expectStatus(await client.get<{ entries: AuditView[] }>('/api/audit?limit=500'), 200).entries;
    };

    it('shows the backend, topics, groups and dead letters at a glance', async () => {
      const viewer = await as('viewer');
      const overview = expectStatus(
        await viewer.get<{
          backend: { system: string };
          topics: number;
          groups: number;
          deadLetters: number;
        }>('/api/overview'),
        200,
      );
      assert.equal(overview.backend.system, backend.log.capabilities.telemetry.system);
      assert.ok(overview.topics >= 2 && overview.groups >= 1 && overview.deadLetters >= 2);
    });

    it('lists topics with their events and describes one with its partitions', async () => {
      const viewer = await as('viewer');
      const topics = expectStatus(
        await viewer.get<{ name: string; partitions: number; events: number }[]>('/api/topics'),
        200,
      );
      const topic = topics.find((t) => t.name === n.topic);
      assert.deepEqual(
        { partitions: topic?.partitions, events: topic?.events },
        { partitions: 2, events: 3 },
      );
      const detail = expectStatus(
        await viewer.get<{
          name: string;
          partitions: { partition: number; earliest: number; latest: number; lastTimestamp: string | null }[];
        }>(`/api/topics/${n.topic}`),
        200,
      );
      assert.equal(detail.partitions.length, 2);
      assert.equal(
        detail.partitions.reduce((sum, p) => sum + p.latest - p.earliest, 0),
        3,
      );
      assert.ok(detail.partitions.some((p) => p.lastTimestamp !== null));
      expectStatus(await viewer.get(`/api/topics/no-such-topic-${n.group}`), 404);
    });

    it('browses and searches events by key, type, attribute and text, page by page', async () => {
      const viewer = await as('viewer');
      type Page = {
        events: {
          id: string;
          key?: string;
          data: string;
          dataEncoding: string;
          extensions: Record<string, string>;
        }[];
        next: string | null;
        scanned: number;
      };
      const all = expectStatus(await viewer.get<Page>(`/api/topics/${n.topic}/events`), 200);
      assert.equal(all.events.length, 3);
      assert.equal(all.next, null);
      const byKey = expectStatus(await viewer.get<Page>(`/api/topics/${n.topic}/events?key=customer-1`), 200);
      assert.deepEqual(
        byKey.events.map((e) => e.id).sort(),
        [orders[0]!.id, `confirmed-${orders[0]!.id}`].sort(),
      );
      const byType = expectStatus(await viewer.get<Page>(`/api/topics/${n.topic}/events?type=${TYPE}`), 200);
      assert.equal(byType.events.length, 2);
      const byAttribute = expectStatus(
        await viewer.get<Page>(`/api/topics/${n.topic}/events?attr.causationid=${orders[0]!.id}`),
        200,
      );
      assert.deepEqual(
        byAttribute.events.map((e) => e.id),
        [`confirmed-${orders[0]!.id}`],
      );
      const byText = expectStatus(
        await viewer.get<Page>(`/api/topics/${n.topic}/events?text=${encodeURIComponent('café 2')}`),
        200,
      );
      assert.deepEqual(
        byText.events.map((e) => e.id),
        [orders[1]!.id],
      );
      assert.equal(byText.events[0]!.dataEncoding, 'utf8');
      assert.equal((JSON.parse(byText.events[0]!.data) as { note: string }).note, 'café 2');

      const ids: string[] = [];
      let cursor: string | null = '';
      while (cursor !== null) {
        const page: Page = expectStatus(
          await viewer.get<Page>(
            `/api/topics/${n.topic}/events?limit=1${cursor === '' ? '' : `&cursor=${cursor}`}`,
          ),
          200,
        );
        ids.push(...page.events.map((e) => e.id));
        cursor = page.next;
      }
      assert.deepEqual(ids.sort(), all.events.map((e) => e.id).sort());
      expectStatus(await viewer.get(`/api/topics/${n.topic}/events?nonsense=1`), 400);
    });

    it('shows an event with what caused it and what it caused', async () => {
      const viewer = await as('viewer');
      type Page = { events: { id: string; partition: number; offset: number }[] };
      const [placed] = expectStatus(
        await viewer.get<Page>(`/api/topics/${n.topic}/events?attr.id=${orders[0]!.id}`),
        200,
      ).events;
      const [confirmed] = expectStatus(
        await viewer.get<Page>(`/api/topics/${n.topic}/events?attr.id=confirmed-${orders[0]!.id}`),
        200,
      ).events;
      type Detail = { event: { id: string }; causedBy: { id: string }[]; caused: { id: string }[] };
      const ofPlaced = expectStatus(
        await viewer.get<Detail>(`/api/events/${n.topic}/${placed!.partition}/${placed!.offset}`),
        200,
      );
      assert.deepEqual(
        [ofPlaced.event.id, ofPlaced.causedBy, ofPlaced.caused.map((e) => e.id)],
        [orders[0]!.id, [], [confirmed!.id]],
      );
      const ofConfirmed = expectStatus(
        await viewer.get<Detail>(`/api/events/${n.topic}/${confirmed!.partition}/${confirmed!.offset}`),
        200,
      );
      assert.deepEqual([ofConfirmed.causedBy.map((e) => e.id), ofConfirmed.caused], [[orders[0]!.id], []]);
      expectStatus(await viewer.get(`/api/events/${n.topic}/0/999999`), 404);
    });

    it('lists groups with lag and describes one, with a lag history sampled by the server', async () => {
      const viewer = await as('viewer');
      const groups = expectStatus(
        await viewer.get<{ group: string; state: string; lag: number; lagSeconds: number }[]>('/api/groups'),
        200,
      );
      assert.deepEqual(
        groups.find((g) => g.group === n.group),
        { group: n.group, state: 'empty', members: 0, lag: 0, lagSeconds: 0 },
      );
      const detail = expectStatus(
        await viewer.get<{ partitions: { topic: string; committed: number | null; lag: number }[] }>(
          `/api/groups/${n.group}`,
        ),
        200,
      );
      assert.ok(detail.partitions.filter((p) => p.topic === n.topic).every((p) => p.lag === 0));
      expectStatus(await viewer.get(`/api/groups/no-such-group-${n.group}`), 404);
      let history: unknown[] = [];
      for (let round = 0; round < 500 && history.length === 0; round++) {
        history = expectStatus(await viewer.get<unknown[]>(`/api/groups/${n.group}/lag-history`), 200);
        if (history.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.deepEqual(Object.keys(history[0] as object).sort(), ['at', 'lag', 'lagSeconds']);
    });

    it('lists dead-letter topics and their entries with the failure', async () => {
      const viewer = await as('viewer');
      const topics = expectStatus(
        await viewer.get<{ topic: string; originTopics: string[]; entries: number }[]>('/api/dead-letters'),
        200,
      );
      assert.deepEqual(
        topics.find((t) => t.topic === n.deadLetters),
        { topic: n.deadLetters, originTopics: [n.topic], entries: 2 },
      );
      const { entries } = expectStatus(
        await viewer.get<{
          entries: {
            eventId: string;
            group: string;
            code: string;
            attempts: number;
            original: { topic: string };
            redrives: number;
            discarded: boolean;
          }[];
        }>(`/api/dead-letters/${n.deadLetters}?group=${n.group}`),
        200,
      );
      assert.deepEqual(
        entries
          .map((e) => [e.eventId, e.group, e.attempts, e.original.topic, e.redrives, e.discarded])
          .sort(),
        orders.map((o) => [o.id, n.group, 2, n.topic, 0, false]).sort(),
      );
      const none = expectStatus(
        await viewer.get<{ entries: unknown[] }>(`/api/dead-letters/${n.deadLetters}?group=another`),
        200,
      );
      assert.deepEqual(none.entries, []);
    });

    it('lists schema subjects, shows a version and what changed between two', async () => {
      const registry = await openSchemaRegistry({ log: backend.log });
      const subject = `dev.herald.test.${n.topic}`;
      const v1 = {
        type: 'object',
        properties: { order: { type: 'string' } },
        required: ['order'],
        additionalProperties: false,
      };
      const v2 = { ...v1, properties: { ...v1.properties, note: { type: 'string' } } };
      await registry.register({ type: `${subject}.v1`, jsonSchema: v1 });
      await registry.register({ type: `${subject}.v2`, jsonSchema: v2 });
      const viewer = await as('viewer');
      const subjects = expectStatus(
        await viewer.get<{ subject: string; versions: number[]; compatibility: string }[]>('/api/schemas'),
        200,
      );
      assert.deepEqual(
        subjects.find((s) => s.subject === subject),
        { subject, versions: [1, 2], compatibility: 'BACKWARD' },
      );
      const version = expectStatus(
        await viewer.get<{ version: number; schema: unknown }>(`/api/schemas/${subject}/versions/2`),
        200,
      );
      assert.deepEqual([version.version, version.schema], [2, v2]);
      const diff = expectStatus(
        await viewer.get<{ compatible: boolean; differences: { path: string }[] }>(
          `/api/schemas/${subject}/diff?from=1&to=2`,
        ),
        200,
      );
      assert.equal(diff.compatible, true);
      assert.ok(
        diff.differences.some((d) => d.path.includes('note')),
        JSON.stringify(diff),
      );
      expectStatus(await viewer.get(`/api/schemas/${subject}/versions/9`), 404);
    });

    it('refuses a change without the CSRF token or the role, and records the refusal', async () => {
      const viewer = await as('viewer');
      const operator = await as('operator');
      const body = { positions: [{ partition: 0, offset: 0 }] };
      const noToken = await operator.send('POST', `/api/dead-letters/${n.deadLetters}/redrive`, body, {
        csrf: false,
      });
      assert.equal(expectStatus(noToken, 403) && (noToken.body as { code: string }).code, 'CSRF');
      const refused = await viewer.send('POST', `/api/dead-letters/${n.deadLetters}/redrive`, body);
      assert.equal((expectStatus(refused, 403) as { code: string }).code, 'FORBIDDEN');
      const trail = await auditTrail(viewer);
      assert.ok(
        trail.some(
          (e) =>
            e.action === 'dlq.redrive' &&
            e.actor === 'viewer' &&
            e.role === 'viewer' &&
            e.outcome === 'refused' &&
            e.target === n.deadLetters,
        ),
        JSON.stringify(trail),
      );
      assert.ok(
        trail.some((e) => e.actor === 'operator' && e.outcome === 'refused' && /csrf/i.test(e.reason ?? '')),
      );
      assert.equal(
        (await readAll(backend.log, n.topic)).filter((e) => e.extensions?.['dlredrive'] !== undefined).length,
        0,
      );
    });

    it('redrives a dead letter once however often the request is retried, and records it in the trail', async () => {
      const operator = await as('operator');
      const { entries } = expectStatus(
        await operator.get<{ entries: { partition: number; offset: number; eventId: string }[] }>(
          `/api/dead-letters/${n.deadLetters}`,
        ),
        200,
      );
      const entry = entries.find((e) => e.eventId === orders[0]!.id)!;
      const request = { positions: [{ partition: entry.partition, offset: entry.offset }] };
      const planned = expectStatus(
        await operator.send<{ outcomes: { status: string }[] }>(
          'POST',
          `/api/dead-letters/${n.deadLetters}/redrive`,
          { ...request, dryRun: true },
        ),
        200,
      );
      assert.deepEqual(
        planned.outcomes.map((o) => o.status),
        ['planned'],
      );
      const headers = { 'idempotency-key': `retry-${n.group}` };
      const redrivePath = `/api/dead-letters/${n.deadLetters}/redrive`;
      // The same request twice at once (a double click, a retry racing the first), then once more.
      const racing = await Promise.all([
        operator.send<{ outcomes: { status: string }[] }>('POST', redrivePath, request, { headers }),
        operator.send<{ outcomes: { status: string }[] }>('POST', redrivePath, request, { headers }),
      ]);
      const statuses = racing.map((answer) =>
        expectStatus(answer, 200)
          .outcomes.map((o) => o.status)
          .join(),
      );
      if (backend.store !== undefined) assert.deepEqual(statuses.sort(), ['duplicate', 'redriven']);
      const again = await operator.send<{ outcomes: { status: string }[] }>('POST', redrivePath, request, {
        headers,
      });
      if (backend.store !== undefined) {
        assert.deepEqual(
          expectStatus(again, 200).outcomes.map((o) => o.status),
          ['duplicate'],
        );
      }
      await backend.flush?.();
      const redriven = (await readAll(backend.log, n.topic)).filter(
        (e) => e.extensions?.['dlredrive'] !== undefined,
      );
      assert.deepEqual(
        redriven.map((e) => [e.id, e.extensions?.['dlredrive']]),
        [[orders[0]!.id, '1']],
      );
      const trail = await auditTrail(operator);
      const done = trail.filter((e) => e.action === 'dlq.redrive' && e.outcome === 'done');
      assert.equal(done.length, 1, JSON.stringify(trail));
      assert.deepEqual(
        { actor: done[0]!.actor, role: done[0]!.role, target: done[0]!.target },
        {
          actor: 'operator',
          role: 'operator',
          target: `${n.deadLetters}/${entry.partition}/${entry.offset}`,
        },
      );
      const listed = expectStatus(
        await operator.get<{ entries: { eventId: string; redrives: number }[] }>(
          `/api/dead-letters/${n.deadLetters}`,
        ),
        200,
      );
      if (backend.store !== undefined) {
        assert.equal(listed.entries.find((e) => e.eventId === orders[0]!.id)?.redrives, 1);
      }
    });

    it('discards a dead letter: marked, recorded, and never redriven afterwards', async () => {
      const operator = await as('operator');
      type Listed = { entries: { partition: number; offset: number; eventId: string; discarded: boolean }[] };
      const path = `/api/dead-letters/${n.deadLetters}`;
      const entry = expectStatus(await operator.get<Listed>(path), 200).entries.find(
        (e) => e.eventId === orders[1]!.id,
      )!;
      const positions = [{ partition: entry.partition, offset: entry.offset }];
      const planned = expectStatus(
        await operator.send<{ outcomes: { status: string }[] }>('POST', `${path}/discard`, {
          positions,
          dryRun: true,
        }),
        200,
      );
      assert.deepEqual(
        planned.outcomes.map((o) => o.status),
        ['planned'],
      );
      const done = expectStatus(
        await operator.send<{ outcomes: { status: string }[] }>('POST', `${path}/discard`, { positions }),
        200,
      );
      assert.deepEqual(
        done.outcomes.map((o) => o.status),
        ['discarded'],
      );
      const listed = expectStatus(await operator.get<Listed>(path), 200).entries.find(
        (e) => e.eventId === orders[1]!.id,
      );
      assert.equal(listed?.discarded, true);
      const redrive = await operator.send<{ code: string }>('POST', `${path}/redrive`, { positions });
      assert.equal(expectStatus(redrive, 409).code, 'CONFLICT');
      const byFilter = expectStatus(
        await operator.send<{ outcomes: { eventId: string; status: string }[] }>('POST', `${path}/redrive`, {
          filter: {},
          dryRun: true,
        }),
        200,
      );
      assert.ok(!byFilter.outcomes.some((o) => o.eventId === orders[1]!.id && o.status !== 'refused'));
      await backend.flush?.();
      assert.ok(
        !(await readAll(backend.log, n.topic)).some(
          (e) => e.id === orders[1]!.id && e.extensions?.['dlredrive'] !== undefined,
        ),
      );
      const trail = await auditTrail(operator);
      const target = `${n.deadLetters}/${entry.partition}/${entry.offset}`;
      assert.ok(trail.some((e) => e.action === 'dlq.discard' && e.target === target && e.outcome === 'done'));
      assert.ok(
        trail.some((e) => e.action === 'dlq.redrive' && e.target === target && e.outcome === 'refused'),
      );
    });

    it(
      options.reset
        ? "resets a stopped group's offsets: the dry run's plan first, then applied and recorded"
        : 'answers a group reset with 501 UNSUPPORTED where the backend cannot reset, and records the refusal',
      async () => {
        const operator = await as('operator');
        const path = `/api/groups/${n.group}/reset`;
        if (!options.reset) {
          const answer = await operator.send<{ code: string }>('POST', path, {
            to: 'earliest',
            dryRun: false,
          });
          assert.equal(expectStatus(answer, 501).code, 'UNSUPPORTED');
          const trail = await auditTrail(operator);
          assert.ok(
            trail.some((e) => e.action === 'group.reset' && e.target === n.group && e.outcome === 'refused'),
          );
          return;
        }
        type Reset = {
          plan: { topic: string; partition: number; from: number | null; to: number }[];
          applied: boolean;
        };
        type Group = { partitions: { topic: string; partition: number; committed: number | null }[] };
        const committed = async () =>
          expectStatus(await operator.get<Group>(`/api/groups/${n.group}`), 200).partitions.map((p) => [
            p.topic,
            p.partition,
            p.committed,
          ]);
        const start = await committed();
        const dry = expectStatus(
          await operator.send<Reset>('POST', path, { to: 'earliest', topics: [n.topic], dryRun: true }),
          200,
        );
        assert.equal(dry.applied, false);
        assert.ok(dry.plan.length === 2 && dry.plan.every((p) => p.to === 0));
        assert.deepEqual(await committed(), start, 'a dry run changes nothing');
        const applied = expectStatus(
          await operator.send<Reset>('POST', path, { to: 'earliest', topics: [n.topic], dryRun: false }),
          200,
        );
        assert.deepEqual(applied, { plan: dry.plan, applied: true });
        const afterReset = expectStatus(
          await operator.get<{ partitions: { topic: string; lag: number }[] }>(`/api/groups/${n.group}`),
          200,
        );
        assert.ok(
          afterReset.partitions.filter((p) => p.topic === n.topic).reduce((sum, p) => sum + p.lag, 0) >= 3,
        );
        const trail = await auditTrail(operator);
        assert.ok(
          trail.some((e) => e.action === 'group.reset' && e.target === n.group && e.outcome === 'done'),
        );
      },
    );
  });
}
