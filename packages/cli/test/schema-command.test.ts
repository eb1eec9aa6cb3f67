import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { openEventLog } from '@herald/core';
import { openSchemaRegistry } from '@herald/schemas';
import { ParcelShippedV1, ParcelShippedV2, ParcelShippedV3, SUBJECT } from './fixtures/shipping-system.ts';
import { runHerald, uniqueName } from './run-herald.ts';

const SYSTEM = fileURLToPath(new URL('./fixtures/shipping-system.ts', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'herald-schema-cli-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A memory log shared by the herald runs of one test. */
function sharedLog(): string {
  return `memory:${uniqueName()}`;
}

void describe('herald schema register', () => {
  void it('refuses a breaking version with one line per incompatibility, and registers the rest in order', async () => {
    const log = sharedLog();
    const result = await runHerald(['schema', 'register', '--system', SYSTEM], { log });
    assert.equal(result.status, 1, result.stderr);
    const lines = result.stdout.split('\n');
    assert.equal(lines[0], `registered  ${SUBJECT}.v1  (BACKWARD)`);
    assert.equal(lines[1], `registered  ${SUBJECT}.v2  (BACKWARD)`);
    assert.equal(lines[2], `refused     ${SUBJECT}.v3  (BACKWARD)`);
    assert.match(
      result.stdout,
      /^ {12}BACKWARD: v3 cannot read data written as v2: #\/properties\/weightGrams: property "weightGrams" removed, .*\[PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL\]$/m,
    );
    assert.match(
      result.stdout,
      /^ {12}BACKWARD: v3 cannot read data written as v2: #\/properties\/kilograms: .*$/m,
    );

    const again = await runHerald(['schema', 'register', '--system', SYSTEM, '--type', `${SUBJECT}.v2`], {
      log,
    });
    assert.deepEqual([again.status, again.stdout], [0, `unchanged   ${SUBJECT}.v2  (BACKWARD)\n`]);
  });

  void it('registers a breaking version with --compatibility NONE, and checks without writing on --dry-run', async () => {
    const log = sharedLog();
    const dry = await runHerald(['schema', 'register', '--system', SYSTEM, '--dry-run', '--json'], { log });
    assert.equal(dry.status, 0);
    assert.deepEqual(
      (JSON.parse(dry.stdout) as { type: string; status: string }[]).map((l) => [l.type.slice(-2), l.status]),
      [
        ['v1', 'compatible'],
        ['v2', 'compatible'],
        // Checked against what is registered now (nothing), a dry run cannot refuse v3 either.
        ['v3', 'compatible'],
      ],
    );
    assert.equal((await runHerald(['schema', 'list'], { log })).stdout, 'no schemas registered\n');

    await runHerald(
      ['schema', 'register', '--system', SYSTEM, '--type', `${SUBJECT}.v1`, '--type', `${SUBJECT}.v2`],
      {
        log,
      },
    );
    const breaking = await runHerald(
      ['schema', 'register', '--system', SYSTEM, '--type', `${SUBJECT}.v3`, '--compatibility', 'none'],
      { log },
    );
    assert.deepEqual([breaking.status, breaking.stdout], [0, `registered  ${SUBJECT}.v3  (NONE)\n`]);
    const table = await runHerald(['schema', 'list'], { log });
    assert.equal(
      table.stdout,
      `SUBJECT                             VERSIONS  LATEST  COMPATIBILITY\n${SUBJECT}  1,2,3     3       NONE\n`,
    );
  });

  void it('registers a JSON Schema file for one type', async () => {
    const log = sharedLog();
    const file = join(scratch, 'lost.json');
    writeFileSync(file, JSON.stringify({ type: 'object', properties: { parcelId: { type: 'string' } } }));
    const result = await runHerald(
      ['schema', 'register', '--type', 'dev.herald.cli-test.parcel-lost.v1', '--schema', file],
      { log },
    );
    assert.deepEqual(
      [result.status, result.stdout],
      [0, 'registered  dev.herald.cli-test.parcel-lost.v1  (BACKWARD)\n'],
    );
    const usage = await runHerald(['schema', 'register', '--schema', file], { log });
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /--schema needs exactly one --type/);
  });
});

void describe('herald schema list, show and compatibility', () => {
  void it('shows a version by type or by subject, with its registry URI and schema', async () => {
    const log = sharedLog();
    await runHerald(
      ['schema', 'register', '--system', SYSTEM, '--type', `${SUBJECT}.v1`, '--type', `${SUBJECT}.v2`],
      {
        log,
      },
    );
    const byType = await runHerald(['schema', 'show', `${SUBJECT}.v1`], { log });
    assert.equal(byType.status, 0, byType.stderr);
    assert.match(
      byType.stdout,
      new RegExp(`^uri +herald:schemas/${SUBJECT.replaceAll('.', '\\.')}/versions/1$`, 'm'),
    );
    assert.match(byType.stdout, /^ {2}"required": \[$/m);
    const latest = await runHerald(['schema', 'show', SUBJECT, '--json'], { log });
    const shown = JSON.parse(latest.stdout) as {
      version: number;
      compatibility: string;
      schema: { properties: object };
    };
    assert.deepEqual(
      [shown.version, shown.compatibility, Object.keys(shown.schema.properties)],
      [2, 'BACKWARD', ['parcelId', 'weightGrams', 'carrier']],
    );
    const missing = await runHerald(['schema', 'show', SUBJECT, '--version', '7'], { log });
    assert.deepEqual(
      [missing.status, missing.stderr],
      [1, `herald: no schema registered for version 7 of ${SUBJECT} (see 'herald schema list')\n`],
    );
  });

  void it('prints and sets the compatibility mode of a subject', async () => {
    const log = sharedLog();
    assert.equal(
      (await runHerald(['schema', 'compatibility', SUBJECT], { log })).stdout,
      `${SUBJECT}: BACKWARD (default)\n`,
    );
    assert.equal(
      (await runHerald(['schema', 'compatibility', SUBJECT, 'full_transitive'], { log })).stdout,
      `${SUBJECT}: compatibility set to FULL_TRANSITIVE\n`,
    );
    assert.equal(
      (await runHerald(['schema', 'compatibility', SUBJECT], { log })).stdout,
      `${SUBJECT}: FULL_TRANSITIVE\n`,
    );
    const wrong = await runHerald(['schema', 'compatibility', SUBJECT, 'SIDEWAYS'], { log });
    assert.equal(wrong.status, 2);
    assert.match(wrong.stderr, /unknown compatibility mode "SIDEWAYS"/);
  });

  void it('refuses unknown subcommands and missing arguments with status 2', async () => {
    for (const [argv, message] of [
      [['schema'], /missing subcommand: register, list, show, compatibility or check/],
      [['schema', 'drop'], /unknown subcommand "drop"/],
      [['schema', 'check'], /missing --system <module>/],
      [['schema', 'register'], /missing --system <module>/],
      [['asyncapi'], /missing --system <module>/],
    ] as const) {
      const result = await runHerald(argv);
      assert.equal(result.status, 2, argv.join(' '));
      assert.match(result.stderr, message);
    }
  });
});

void describe('herald schema check', () => {
  async function logWithParcels(extra: readonly (() => ReturnType<typeof ParcelShippedV1.create>)[] = []) {
    const url = sharedLog();
    const log = await openEventLog(url);
    await log.createTopic('parcels', { partitions: 1 });
    await log.append(
      'parcels',
      ParcelShippedV1.create({ parcelId: 'a', weightGrams: 1200 }, { source: '/shipping' }),
    );
    await log.append(
      'parcels',
      ParcelShippedV2.create({ parcelId: 'b', weightGrams: 800, carrier: 'dhl' }, { source: '/shipping' }),
    );
    for (const make of extra) await log.append('parcels', make());
    return { url, log };
  }

  void it('passes when every consumer decodes every retained event', async () => {
    const { url, log } = await logWithParcels();
    try {
      const result = await runHerald(['schema', 'check', '--system', SYSTEM], { log: url });
      assert.equal(result.status, 0, result.stdout + result.stderr);
      assert.equal(
        result.stdout,
        [
          'GROUP              TOPICS   CHECKED  DECODED  FAILED  NOT ROUTED',
          'billing.charges    parcels  2        2        0       0',
          'tracking.timeline  parcels  2        2        0       0',
          '',
          'OK: every consumer decodes all 2 retained events it would receive',
          '',
        ].join('\n'),
      );
    } finally {
      await log.close();
    }
  });

  void it('fails with status 1 and the position of each event a consumer would not decode', async () => {
    const { url, log } = await logWithParcels([
      () =>
        ParcelShippedV3.create(
          { parcelId: 'c', kilograms: 2, carrier: 'ups' },
          { source: '/shipping', id: 'c-3' },
        ),
    ]);
    try {
      const result = await runHerald(['schema', 'check', '--system', SYSTEM], { log: url });
      assert.equal(result.status, 1);
      assert.match(
        result.stdout,
        new RegExp(
          `^tracking\\.timeline: parcels/0@2 ${SUBJECT.replaceAll('.', '\\.')}\\.v3 \\(id c-3\\) read as ${SUBJECT.replaceAll('.', '\\.')}\\.v2: VALIDATION_FAILED: .*weightGrams`,
          'm',
        ),
      );
      assert.match(result.stdout, /^FAILED: 1 stored event would not decode \(1 consumer group\)$/m);
      const json = await runHerald(
        ['schema', 'check', '--system', SYSTEM, '--group', 'billing.charges', '--json'],
        {
          log: url,
        },
      );
      assert.equal(json.status, 0);
      assert.deepEqual(
        (JSON.parse(json.stdout) as { consumers: { group: string; decoded: number }[] }).consumers.map(
          (c) => [c.group, c.decoded],
        ),
        [['billing.charges', 3]],
      );
    } finally {
      await log.close();
    }
  });

  void it('notes the topics that do not exist, and passes with nothing to check', async () => {
    const result = await runHerald(['schema', 'check', '--system', SYSTEM]);
    assert.equal(result.status, 0);
    assert.match(result.stdout, /^note: no topic parcels in this log \(nothing stored there to check\)$/m);
    assert.match(result.stdout, /^OK: every consumer decodes all 0 retained events it would receive$/m);
  });

  void it('says when the system module cannot be loaded or names an unknown group', async () => {
    const missing = await runHerald(['schema', 'check', '--system', join(scratch, 'nope.ts')]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^herald: cannot load the system module/);
    const group = await runHerald(['schema', 'check', '--system', SYSTEM, '--group', 'nobody.home']);
    assert.equal(group.status, 1);
    assert.match(group.stderr, /the system has no consumer group nobody\.home/);
  });
});

void describe('herald asyncapi', () => {
  void it('prints the AsyncAPI document of the system, or writes it to a file', async () => {
    const printed = await runHerald(['asyncapi', '--system', SYSTEM]);
    assert.equal(printed.status, 0, printed.stderr);
    const document = JSON.parse(printed.stdout) as { asyncapi: string; operations: Record<string, unknown> };
    assert.equal(document.asyncapi, '3.0.0');
    assert.deepEqual(Object.keys(document.operations), [
      'billing.charges.consume.parcels',
      'shipping.publish.parcels',
      'tracking.timeline.consume.parcels',
    ]);
    const file = join(scratch, 'asyncapi.json');
    const written = await runHerald(['asyncapi', '--system', SYSTEM, '--output', file]);
    assert.equal(written.stdout, `wrote ${file}\n`);
    assert.equal(readFileSync(file, 'utf8'), printed.stdout);
  });
});

void describe('the registry the CLI writes', () => {
  void it('is the one producers and consumers open', async () => {
    const url = sharedLog();
    await runHerald(['schema', 'register', '--system', SYSTEM, '--type', `${SUBJECT}.v1`], { log: url });
    const log = await openEventLog(url);
    try {
      const registry = await openSchemaRegistry({ log });
      assert.equal(registry.lookup(ParcelShippedV1.type)?.version, 1);
    } finally {
      await log.close();
    }
  });
});
