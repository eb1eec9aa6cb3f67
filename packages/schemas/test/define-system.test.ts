import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { defineSystem, definitionsOf, loadSystem } from '../src/define-system.ts';
import { ParcelLost, ParcelShippedV1, ParcelShippedV2, ParcelShippedV3 } from './fixtures/parcel-events.ts';
import parcels from './fixtures/parcel-system.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'herald-system-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

void describe('system descriptions', () => {
  void it('loads the system a module exports as default, by a path relative to the working directory', async () => {
    const system = await loadSystem('parcel-system.ts', FIXTURES);
    assert.equal(system, parcels);
  });

  void it('loads a system exported as `system`', async () => {
    const file = join(scratch, 'named.ts');
    const events = new URL('./fixtures/parcel-events.ts', import.meta.url).href;
    writeFileSync(
      file,
      `import { ParcelLost } from ${JSON.stringify(events)};\n` +
        `export const system = { title: 'Named', version: '0.1.0', producers: [], consumers: [{ group: 'a.b', topics: ['t'], reads: [ParcelLost] }] };\n`,
    );
    const system = await loadSystem(file);
    assert.equal(system.title, 'Named');
  });

  void it('says what is wrong with a module that exports no system or does not load', async () => {
    const file = join(scratch, 'empty.ts');
    writeFileSync(file, 'export const nothing = 1;\n');
    await assert.rejects(loadSystem(file), /exports no system description: export default defineSystem/);
    await assert.rejects(loadSystem(join(scratch, 'missing.ts')), /cannot load the system module/);
  });

  void it('refuses duplicate groups, duplicate producers and two definitions of one type', () => {
    const base = { title: 'T', version: '1', producers: [], consumers: [] };
    const consumer = { group: 'a.b', topics: ['t'], reads: [ParcelLost] };
    assert.throws(
      () => defineSystem({ ...base, consumers: [consumer, consumer] }),
      /two consumers use the group a\.b/,
    );
    const producer = { name: 'p', source: '/p', publishes: [] };
    assert.throws(
      () => defineSystem({ ...base, producers: [producer, producer] }),
      /two producers are named p/,
    );
    const impostor = { ...ParcelLost };
    assert.throws(
      () =>
        defineSystem({ ...base, consumers: [consumer, { group: 'c.d', topics: ['t'], reads: [impostor] }] }),
      /two different definitions of dev\.herald\.test\.parcel-lost\.v1/,
    );
  });

  void it('lists every definition once, sorted by type', () => {
    assert.deepEqual(
      definitionsOf(parcels).map((d) => d.type),
      [ParcelLost, ParcelShippedV1, ParcelShippedV2, ParcelShippedV3].map((d) => d.type),
    );
  });
});
