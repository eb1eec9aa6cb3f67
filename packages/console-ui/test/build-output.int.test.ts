// What `npm install` built (dist/, through the root `prepare` script) is what the console's CSP
// allows: a page with no inline script or style, loading one module script and one stylesheet
// from its own origin by relative URLs, with no source maps and nothing from another host.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { consoleAssetsDir } from '../src/index.ts';

void describe("the console's build", () => {
  void it('is a page with only same-origin, relative script and stylesheet links', (t) => {
    const index = join(consoleAssetsDir, 'index.html');
    if (!existsSync(index)) {
      // `npm ci` builds it; a checkout installed with --ignore-scripts has not.
      if (process.env['CI'] === 'true')
        assert.fail(`no ${index}: the prepare script did not build the console`);
      t.skip(`no ${index}: npm run build --workspace @herald/console-ui`);
      return;
    }
    const html = readFileSync(index, 'utf8');
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    assert.equal(scripts.length, 1, 'one script');
    assert.match(scripts[0]![1]!, /type="module"/);
    assert.match(scripts[0]![1]!, /src="\.\/assets\/[\w-]+\.js"/);
    assert.equal(scripts[0]![2]!.trim(), '', 'no inline script');
    assert.doesNotMatch(html, /<style\b/, 'no inline stylesheet');
    assert.doesNotMatch(html, /\sstyle=/, 'no style attribute');
    assert.doesNotMatch(html, /\son[a-z]+=/i, 'no inline event handler');
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//, 'nothing from another host');
    assert.doesNotMatch(html, /(src|href)="data:/, 'no data: URL');

    const assets = readdirSync(join(consoleAssetsDir, 'assets'));
    assert.deepEqual(assets.map((name) => name.replace(/-[\w-]+\./, '.')).sort(), ['index.css', 'index.js']);
    for (const name of assets) {
      const text = readFileSync(join(consoleAssetsDir, 'assets', name), 'utf8');
      assert.doesNotMatch(text, /sourceMappingURL/, `${name} points at no source map`);
      assert.doesNotMatch(
        text,
        /@import\s+url\(|url\(\s*["']?https?:/,
        `${name} loads nothing from elsewhere`,
      );
    }
  });
});
