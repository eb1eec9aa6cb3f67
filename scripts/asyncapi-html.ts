// The AsyncAPI document as a page: the order system's apps/orders/asyncapi.json, validated with
// @asyncapi/parser and rendered to one self-contained HTML file by @asyncapi/react-component,
// written to docs/asyncapi/ (git-ignored). The page is rendered on the server (readable without
// scripts) and carries the component's standalone bundle, which makes it interactive (expand a
// schema, a header branch) from the file alone, offline. A document with an error or a warning
// is not rendered.
//
// Run: npm run docs:asyncapi [-- --in <asyncapi.json>] [--out <file.html>]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Parser, stringify } from '@asyncapi/parser';
import { AsyncApiComponentWP } from '@asyncapi/react-component';
import { createElement } from 'react';
import { renderToString } from 'react-dom/server';

const REPO = resolve(import.meta.dirname, '..');
const require = createRequire(import.meta.url);

const escapeHtml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * Renders an AsyncAPI document (JSON or YAML text) as one self-contained HTML page. Throws
 * naming each problem when the parser finds an error or a warning.
 *
 * @example writeFileSync('orders.html', await renderAsyncApiHtml(readFileSync('asyncapi.json', 'utf8')));
 */
export async function renderAsyncApiHtml(text: string): Promise<string> {
  const { document, diagnostics } = await new Parser().parse(text);
  // 0 is an error, 1 a warning; hints (2, 3) do not stop the page.
  const problems = diagnostics
    .filter((d) => (d.severity as number) <= 1)
    .map((d) => `${d.path.join('/')}: ${d.message}`);
  if (document === undefined || problems.length > 0) {
    throw new Error(`the AsyncAPI document has problems:\n${problems.join('\n')}`);
  }
  const config = { show: { sidebar: true, errors: true }, sidebar: { showOperations: 'byDefault' as const } };
  const body = renderToString(createElement(AsyncApiComponentWP, { schema: document, config }));
  const asset = (path: string) => readFileSync(require.resolve(`@asyncapi/react-component/${path}`), 'utf8');
  const title = `${document.info().title()} ${document.info().version()}`;
  // The parsed document, as the bundle without a parser takes it; `<` escaped so that no string
  // in the document can end the script element.
  const parsed = JSON.stringify(stringify(document)).replace(/</g, '\\u003c');
  return (
    `<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">\n` +
    `<title>${escapeHtml(title)}</title>\n<style>${asset('styles/default.min.css')}</style>\n</head>\n` +
    `<body>\n<div id="asyncapi">${body}</div>\n` +
    `<script>${asset('browser/standalone/without-parser.js').replace(/<\/script/gi, '<\\/script')}</script>\n` +
    `<script>AsyncApiStandalone.hydrate({ schema: ${parsed}, config: ${JSON.stringify(config)} }, ` +
    `document.getElementById('asyncapi'));</script>\n</body>\n</html>\n`
  );
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      in: { type: 'string', default: join(REPO, 'apps', 'orders', 'asyncapi.json') },
      out: { type: 'string', default: join(REPO, 'docs', 'asyncapi', 'orders.html') },
    },
  });
  const out = resolve(values.out);
  const html = await renderAsyncApiHtml(readFileSync(resolve(values.in), 'utf8'));
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, html);
  const shown = relative(process.cwd(), out);
  console.log(`AsyncAPI page written to ${shown.startsWith('..') ? out : shown}`);
}
