// `npm run stack`: the full local stack (Kafka, a Postgres schema per service, seven service
// processes, Prometheus) started by its one command, an order placed through its API and
// confirmed, every process scraped by its Prometheus with the rules evaluating, and then
// stopped with nothing left running. It uses a broker of its own (a temporary run folder, free
// ports) so that it never touches a shared one. With CI=true a missing Postgres, JDK or
// Prometheus fails the suite; elsewhere it is skipped with the reason.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import {
  TEST_POSTGRES,
  dropSchemas,
  postgresUnavailable,
  testStoreUrl,
  uniqueSchemaPrefix,
} from '../../apps/orders/test/fixtures/test-postgres.ts';
import { freePorts } from '../kafka/private-kafka.ts';
import { instantQuery, prometheusUnavailable } from '../observability/prometheus.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const STACK = join(REPO, 'scripts', 'stack', 'stack.ts');
const KAFKA_HOME = process.env['HERALD_KAFKA_HOME'] ?? join(REPO, '.cache', 'kafka');

/** Runs `scripts/kafka/kafka.sh fetch`: the jars (and a JDK to run them) are there, or why not. */
function kafkaUnavailable(): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(
      join(REPO, 'scripts', 'kafka', 'kafka.sh'),
      ['fetch'],
      { env: { ...process.env, HERALD_KAFKA_HOME: KAFKA_HOME } },
      (error, stdout, stderr) =>
        resolve(
          error === null ? undefined : `no Kafka to run: ${`${stdout}${stderr}`.trim().split('\n').at(-1)}`,
        ),
    );
  });
}

const reason =
  prometheusUnavailable() ?? (await postgresUnavailable()) ?? (await kafkaUnavailable()) ?? undefined;
const skip = process.env['CI'] === 'true' ? false : (reason ?? false);

interface StackState {
  readonly api: string;
  readonly prometheus: { readonly url: string; readonly pid: number };
  readonly services: readonly { readonly service: string; readonly pid: number }[];
}

function alive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

void describe('npm run stack', { skip, timeout: 600_000 }, () => {
  const folder = mkdtempSync(join(tmpdir(), 'herald-stack-'));
  const prefix = uniqueSchemaPrefix();
  let env: NodeJS.ProcessEnv = {};
  let kafkaPort = 0;

  function stack(command: string): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        process.execPath,
        ['--disable-warning=ExperimentalWarning', STACK, command],
        { env, cwd: REPO, maxBuffer: 4 * 1024 * 1024 },
        (error, stdout, stderr) =>
          error === null
            ? resolve(stdout)
            : reject(new Error(`stack ${command} failed:\n${stdout}${stderr}`, { cause: error })),
      );
    });
  }

  const state = (): StackState =>
    JSON.parse(readFileSync(join(folder, 'stack', 'stack.json'), 'utf8')) as StackState;

  before(() => {
    if (reason !== undefined) throw new Error(reason);
  });

  after(async () => {
    if (existsSync(join(folder, 'stack', 'stack.json'))) await stack('stop').catch(() => undefined);
    const pool = new pg.Pool({ connectionString: TEST_POSTGRES });
    await dropSchemas(pool, prefix).finally(() => pool.end());
    rmSync(folder, { recursive: true, force: true });
  });

  void it('starts Kafka, seven service processes and Prometheus with one command, and an order placed through the API is confirmed', async () => {
    const [kafka, controller, api, prometheus] = (await freePorts(4)) as [number, number, number, number];
    kafkaPort = kafka;
    env = {
      ...process.env,
      HERALD_STACK_DIR: join(folder, 'stack'),
      HERALD_STORE: testStoreUrl(prefix),
      HERALD_KAFKA_HOME: KAFKA_HOME,
      HERALD_KAFKA_RUN: join(folder, 'kafka'),
      HERALD_KAFKA_PORT: String(kafka),
      HERALD_KAFKA_CONTROLLER_PORT: String(controller),
      HERALD_KAFKA_START_TIMEOUT: '120',
      PORT: String(api),
      HERALD_STACK_PROMETHEUS_PORT: String(prometheus),
    };
    const output = await stack('start');
    assert.match(output, new RegExp(`API +http://127\\.0\\.0\\.1:${api}`));
    assert.deepEqual(
      state().services.map((s) => s.service),
      ['orders', 'inventory', 'payment', 'fraud', 'notification', 'loyalty', 'analytics'],
    );

    const placed = await fetch(`${state().api}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        customerId: 'ada',
        items: [{ sku: 'LAMP-01', quantity: 1 }],
        shippingCountry: 'DE',
      }),
    });
    assert.equal(placed.status, 202, await placed.clone().text());
    const { orderId } = (await placed.json()) as { orderId: string };
    let status = 'pending';
    while (status === 'pending') {
      const view = await fetch(`${state().api}/orders/${orderId}?wait=10`);
      status = ((await view.json()) as { status: string }).status;
    }
    assert.equal(status, 'confirmed');
  });

  void it('has Prometheus scrape every process, each up, every group with a member, and every rule evaluating without error', async () => {
    const { prometheus } = state();
    let health: Record<string, string> = {};
    while (Object.values(health).filter((h) => h === 'up').length < 7) {
      const body = (await (await fetch(`${prometheus.url}/api/v1/targets`)).json()) as {
        data: { activeTargets: { labels: Record<string, string>; health: string }[] };
      };
      health = Object.fromEntries(
        body.data.activeTargets.map((t): [string, string] => [t.labels['service'] ?? '', t.health]),
      );
      await sleep(500);
    }
    assert.deepEqual(Object.keys(health).sort(), [
      'analytics',
      'fraud',
      'inventory',
      'loyalty',
      'notification',
      'orders',
      'payment',
    ]);
    // Every group of the seven services has a member on Kafka, as the processes report it.
    let withMembers: string[] = [];
    while (withMembers.length < 8) {
      withMembers = (
        await instantQuery(prometheus.url, 'max by (group) (herald_consumer_group_members) >= 1')
      ).result
        .map((r) => r.metric['group'] ?? '')
        .sort();
      await sleep(500);
    }
    assert.deepEqual(withMembers, [
      'analytics.views',
      'fraud.checks',
      'inventory.reservations',
      'loyalty.points',
      'notification.mailer',
      'orders.saga',
      'orders.view',
      'payment.authorizations',
    ]);
    const rules = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as {
      data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
    };
    const all = rules.data.groups.flatMap((g) => g.rules);
    assert.equal(all.length, 17);
    assert.deepEqual(
      all.filter((r) => r.health === 'err').map((r) => `${r.name}: ${r.lastError ?? ''}`),
      [],
    );
  });

  void it('stops everything it started: no process, no broker and no state left', async () => {
    const before = state();
    const output = await stack('stop');
    assert.match(output, /stopped: .*prometheus, kafka/);
    const left = [...before.services, { service: 'prometheus', pid: before.prometheus.pid }].filter((p) =>
      alive(p.pid),
    );
    assert.deepEqual(left, []);
    assert.equal(existsSync(join(folder, 'stack', 'stack.json')), false);
    const brokerAnswers = await new Promise<boolean>((resolve) => {
      const socket = connect(kafkaPort, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    assert.equal(brokerAnswers, false, `something still listens on the broker's port ${kafkaPort}`);
  });
});
