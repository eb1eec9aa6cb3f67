// Every relative link in the repository's Markdown resolves; the checker itself finds what it must.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { brokenLinks, linksOf } from '../markdown-links.ts';

describe('Markdown links', () => {
  it('every relative link in the repository names a file or folder that exists', () => {
    const broken = brokenLinks();
    assert.deepEqual(
      broken.map((b) => `${b.file}:${b.line}: ${b.target}`),
      [],
      'broken links (file:line: target)',
    );
  });

  it('reads inline links, images and reference definitions, but not code', () => {
    const links = linksOf(
      [
        'See [the guide](docs/guide.md#start) and ![a chart](lab/chart.svg "title").',
        '[ref]: ../other.md',
        'Inline `[not](a-link.md)` code.',
        '```md',
        '[also not](fenced.md)',
        '```',
        '[web](https://example.com) [mail](mailto:a@b.c) [here](#anchor)',
      ].join('\n'),
    );
    assert.deepEqual(
      links.map((l) => `${l.line} ${l.target}`),
      [
        '1 docs/guide.md#start',
        '1 lab/chart.svg',
        '2 ../other.md',
        '7 https://example.com',
        '7 mailto:a@b.c',
        '7 #anchor',
      ],
    );
  });

  it('reports a link to a missing file with its file and line, and not one to an existing folder', async () => {
    const root = await mkdtemp(join(tmpdir(), 'herald-links-'));
    try {
      await mkdir(join(root, 'docs', 'lab'), { recursive: true });
      await writeFile(join(root, 'docs', 'a.md'), '# A\n\n[b](b.md) [lab](lab) [gone](../ORDERS.md#x)\n');
      await writeFile(join(root, 'docs', 'b.md'), '[a](./a.md) [web](https://example.com/missing.md)\n');
      await mkdir(join(root, 'node_modules', 'x'), { recursive: true });
      await writeFile(join(root, 'node_modules', 'x', 'README.md'), '[skipped](nowhere.md)\n');
      assert.deepEqual(brokenLinks(root), [
        { file: join('docs', 'a.md'), line: 3, target: '../ORDERS.md#x' },
      ]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
