// `herald migrate --state-to`: the services' documents and inbox move from the embedded log's file
// into a real Postgres database (HERALD_TEST_POSTGRES; the test fails in CI when it is missing),
// one schema per owning service, verified; run again it changes nothing; a target that already
// held something else does not verify; bad --owner rules are refused before anything moves.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { openPostgresStore } from '@herald/postgres';
import { openSqliteLog, openSqliteStore } from '@herald/sqlite';
import pg from 'pg';
import { spawnHerald, tempDatabase } from './spawn-herald.ts';

const POSTGRES = process.env['HERALD_TEST_POSTGRES'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const pool = new pg.Pool({ connectionString: POSTGRES, max: 2 });
pool.on('error', () => undefined);
const prefixes: string[] = [];
after(async () => {
  for (const prefix of prefixes) {
    const { rows } = await pool.query<{ nspname: string }>(
      `SELECT nspname FROM pg_namespace WHERE nspname LIKE $1`,
      [`${prefix}%`],
    );
    for (const { nspname } of rows) await pool.query(`DROP SCHEMA "${nspname}" CASCADE`);
  }
  await pool.end();
});

function uniquePrefix(): string {
  const prefix = `mst${randomBytes(3).toString('hex')}_`;
  prefixes.push(prefix);
  return prefix;
}

/** A source log whose store holds two services' documents and inbox, and two shared collections. */
async function buildSource(path: string): Promise<void> {
  await using log = await openSqliteLog({ path, retentionIntervalMs: 0 });
  const store = await openSqliteStore(log);
  await store.transaction(async (tx) => {
    for (let i = 0; i < 700; i++)
      await tx.put('orders.orders', `o-${i}`, { id: `o-${i}`, total: i, note: 'café' });
    await tx.put('inventory.stock', 'WIDGET', { available: 93, reserved: 7 });
    await tx.put('external.mailbox', 'm-1', { orderId: 'o-1' });
    await tx.put('system.seeded', 'orders', { items: 3 });
    await tx.put('system.seeded', 'inventory', { items: 3 });
    for (let i = 0; i < 650; i++) await tx.recordHandled('orders.saga', `e-${i}`, `fp-${i}`);
    await tx.recordHandled('inventory.reservations', 'e-1', 'fp-1');
  });
  await store.close();
}

const OWNERS = [
  '--owner',
  'external.mailbox=notification',
  '--owner',
  'system.seeded/inventory=inventory',
  '--owner',
  'system=orders',
];

describe('herald migrate --state-to', { timeout: 120_000 }, () => {
  it("moves every document and inbox entry into its service's schema, verified, and a second run changes nothing", async (t) => {
    try {
      await pool.query('SELECT 1');
    } catch (error) {
      if (process.env['CI'] === 'true') throw error;
      return t.skip(`no Postgres at HERALD_TEST_POSTGRES: ${(error as Error).message}`);
    }
    using source = tempDatabase();
    using target = tempDatabase();
    await buildSource(source.path);
    const prefix = uniquePrefix();
    // Trust authentication accepts any password: this one only shows it is never printed.
    const url = new URL(POSTGRES);
    url.password = 's3cret-pw';
    url.searchParams.set('schemaPrefix', prefix);
    const stateTo = url.toString();

    const result = await spawnHerald(
      ['migrate', '--to', target.url, '--state-to', stateTo, ...OWNERS],
      source.url,
    );
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /state migrated and verified: 704 document\(s\), 651 inbox entries/);
    assert.doesNotMatch(result.stdout + result.stderr, /s3cret-pw/, 'no password printed');

    const schema = async (service: string) => openPostgresStore({ pool, schema: `${prefix}${service}` });
    const orders = await schema('orders');
    assert.equal((await orders.list('orders.orders')).length, 700);
    assert.deepEqual(await orders.get('orders.orders', 'o-7'), { id: 'o-7', total: 7, note: 'café' });
    assert.deepEqual(await orders.get('system.seeded', 'orders'), { items: 3 });
    assert.equal(
      await orders.get('system.seeded', 'inventory'),
      undefined,
      "inventory's marker is inventory's",
    );
    assert.equal(await orders.inboxStatus('orders.saga', 'e-649', 'fp-649'), 'duplicate');
    const inventory = await schema('inventory');
    assert.deepEqual(await inventory.get('inventory.stock', 'WIDGET'), { available: 93, reserved: 7 });
    assert.deepEqual(await inventory.get('system.seeded', 'inventory'), { items: 3 });
    assert.equal(await inventory.inboxStatus('inventory.reservations', 'e-1', 'fp-1'), 'duplicate');
    assert.equal(
      await inventory.inboxStatus('orders.saga', 'e-1', 'fp-1'),
      'unseen',
      "orders' inbox stays in orders",
    );
    const notification = await schema('notification');
    assert.deepEqual(await notification.get('external.mailbox', 'm-1'), { orderId: 'o-1' });

    const again = await spawnHerald(
      ['migrate', '--to', target.url, '--state-to', stateTo, ...OWNERS, '--json'],
      source.url,
    );
    assert.equal(again.status, 0, again.stderr);
    const report = JSON.parse(again.stdout) as {
      state: { verified: boolean; owners: { owner: string; documents: number; verified: boolean }[] };
    };
    assert.equal(report.state.verified, true);
    assert.deepEqual(
      report.state.owners.map((o) => [o.owner, o.documents]),
      [
        ['inventory', 2],
        ['notification', 1],
        ['orders', 701],
      ],
    );
    assert.equal((await orders.list('orders.orders')).length, 700, 'nothing doubled');

    // A target schema that holds a document the source does not have does not verify.
    await orders.transaction((tx) => tx.put('orders.orders', 'stranger', { id: 'stranger' }));
    const stale = await spawnHerald(
      ['migrate', '--to', target.url, '--state-to', stateTo, ...OWNERS],
      source.url,
    );
    assert.equal(stale.status, 1, stale.stdout + stale.stderr);
    assert.match(stale.stdout, /orders +701 +650 +DIFFERENT/);
    assert.match(stale.stdout, /STATE NOT VERIFIED/);
    for (const store of [orders, inventory, notification]) await store.close();
  });

  it('refuses --state-to that is not Postgres, and a malformed --owner, before moving anything', async () => {
    using source = tempDatabase();
    using target = tempDatabase();
    await buildSource(source.path);
    const notPostgres = await spawnHerald(
      ['migrate', '--to', target.url, '--state-to', 'sqlite:x.db'],
      source.url,
    );
    assert.equal(notPostgres.status, 2);
    assert.match(notPostgres.stderr, /--state-to must be a postgres:\/\/ URL/);
    const badOwner = await spawnHerald(
      ['migrate', '--to', target.url, '--state-to', POSTGRES, '--owner', 'orders=Bad Name'],
      source.url,
    );
    assert.equal(badOwner.status, 2);
    assert.match(badOwner.stderr, /--owner takes/);
    const ownerAlone = await spawnHerald(['migrate', '--to', target.url, '--owner', 'a=b'], source.url);
    assert.equal(ownerAlone.status, 2);
    await using copied = await openSqliteLog({ path: target.path, retentionIntervalMs: 0 });
    assert.deepEqual(await copied.listTopics(), [], 'nothing was copied');
  });
});
