// The API reference check CI runs: TypeDoc over every public entry, warnings as errors.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { apiEntries, buildApiReference } from '../docs-api.ts';

let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'herald-docs-api-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('the API reference', () => {
  it('builds without a warning and has a page for every public entry of every package', async () => {
    const out = join(scratch, 'api');
    assert.equal(await buildApiReference(out), 0, 'TypeDoc reported problems (see above)');
    const entries = apiEntries();
    assert.ok(entries.some((e) => e.name === '@herald/core'));
    assert.ok(entries.some((e) => e.name === '@herald/core/backend'));
    for (const entry of entries) {
      const page = join(out, 'modules', `${entry.name.replace(/[^a-z0-9-]/gi, '_')}.html`);
      assert.ok(existsSync(page), `no page for ${entry.name}`);
      assert.match(await readFile(page, 'utf8'), new RegExp(`<h1>Module ${entry.name}</h1>`));
    }
  });

  it('fails, writing nothing, on a link to nothing and on an exported type that names an unexported one', async () => {
    const repo = join(scratch, 'broken');
    await mkdir(join(repo, 'packages', 'demo', 'src'), { recursive: true });
    await writeFile(
      join(repo, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'nodenext', strict: true, noEmit: true, types: [] },
        include: ['packages/*/src/**/*.ts'],
      }),
    );
    await writeFile(
      join(repo, 'packages', 'demo', 'package.json'),
      JSON.stringify({ name: '@herald/demo', type: 'module', exports: { '.': './src/index.ts' } }),
    );
    await writeFile(
      join(repo, 'packages', 'demo', 'src', 'index.ts'),
      [
        'interface Hidden {',
        '  readonly value: number;',
        '}',
        '/** Like {@link NoSuchThing}. */',
        'export function hidden(): Hidden {',
        '  return { value: 1 };',
        '}',
        '',
      ].join('\n'),
    );
    const out = join(scratch, 'broken-api');
    assert.ok((await buildApiReference(out, repo)) >= 2);
    assert.equal(existsSync(out), false);
  });
});
