import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { openSqliteLog } from '@herald/sqlite';
import { openSchemaRegistry } from '../src/schema-registry.ts';

// Several real processes register in one SQLite log file at the same moment: the offset order of
// their records decides, and every process ends up with the same registry.

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL('./fixtures/register-process.ts', import.meta.url));
const SUBJECT = 'dev.herald.test.invoice-issued';
const dir = mkdtempSync(join(tmpdir(), 'herald-registry-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Outcome {
  readonly type: string;
  readonly status: 'registered' | 'unchanged' | 'refused';
  readonly code?: string;
  readonly message?: string;
}

async function register(db: string, type: string, schema: object, compatibility?: string): Promise<Outcome> {
  const args = [
    CHILD,
    db,
    type,
    JSON.stringify(schema),
    ...(compatibility === undefined ? [] : [compatibility]),
  ];
  const { stdout } = await run(process.execPath, args, { timeout: 20_000 });
  return JSON.parse(stdout) as Outcome;
}

const closed = (properties: Record<string, object>, required: string[] = Object.keys(properties)) => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});

void describe('the schema registry shared by processes (real SQLite file)', () => {
  void it('lets exactly one of two processes registering different schemas as the same version win', async () => {
    const db = join(dir, 'race.db');
    await register(db, `${SUBJECT}.v1`, closed({ id: { type: 'string' } }));
    const [a, b] = await Promise.all([
      register(db, `${SUBJECT}.v2`, closed({ id: { type: 'string' }, note: { type: 'string' } }, ['id'])),
      register(db, `${SUBJECT}.v2`, closed({ id: { type: 'string' }, paid: { type: 'boolean' } }, ['id'])),
    ]);
    const outcomes = [a, b].map((o) => o.status).sort();
    assert.deepEqual(outcomes, ['refused', 'registered'], JSON.stringify([a, b]));
    const loser = [a, b].find((o) => o.status === 'refused');
    assert.equal(loser?.code, 'CONFLICT');
    assert.match(loser?.message ?? '', /registered already with another schema/);

    await using log = await openSqliteLog({ path: db });
    const registry = await openSchemaRegistry({ log });
    assert.deepEqual(
      registry.subject(SUBJECT)?.versions.map((v) => v.version),
      [1, 2],
    );
  });

  void it('orders concurrent registrations of successive versions, checking each against the one before', async () => {
    const db = join(dir, 'successive.db');
    await register(db, `${SUBJECT}.v1`, closed({ id: { type: 'string' } }), 'NONE');
    // Version n has n - 1 optional fields more than v1.
    const schemas = [2, 3, 4].map((n) => {
      const properties: Record<string, object> = { id: { type: 'string' } };
      for (let i = 1; i < n; i++) properties[`f${i}`] = { type: 'string' };
      return closed(properties, ['id']);
    });
    const outcomes = await Promise.all(
      schemas.map((schema, i) => register(db, `${SUBJECT}.v${i + 2}`, schema)),
    );
    // A version below one registered meanwhile is refused; the rest are registered in offset order.
    for (const outcome of outcomes) {
      assert.ok(
        outcome.status === 'registered' ||
          /versions are registered in increasing order/.test(outcome.message ?? ''),
        JSON.stringify(outcome),
      );
    }
    await using log = await openSqliteLog({ path: db });
    const registry = await openSchemaRegistry({ log });
    const versions = registry.subject(SUBJECT)?.versions ?? [];
    const registered = outcomes
      .filter((o) => o.status === 'registered')
      .map((o) => o.type)
      .sort();
    assert.deepEqual(
      versions
        .slice(1)
        .map((v) => v.type)
        .sort(),
      registered,
    );
    assert.deepEqual(
      versions.map((v) => v.version),
      [...versions.map((v) => v.version)].sort((x, y) => x - y),
    );
    assert.ok(registered.includes(`${SUBJECT}.v4`), 'the highest version always gets in');
  });
});
