// The AsyncAPI page: the order system's document renders offline to one HTML page that shows
// its servers, channels, operations and the headers as they travel; a broken document is refused.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { renderAsyncApiHtml } from '../asyncapi-html.ts';

const ORDERS = new URL('../../apps/orders/asyncapi.json', import.meta.url);

describe('the AsyncAPI page', () => {
  it("renders the order system's document with its servers, channels, operations and wire headers", async () => {
    const text = readFileSync(ORDERS, 'utf8');
    const document = JSON.parse(text) as {
      servers: Record<string, unknown>;
      channels: Record<string, { address: string }>;
      operations: Record<string, unknown>;
    };
    const html = await renderAsyncApiHtml(text);
    assert.match(html, /^<!doctype html>/);
    assert.match(html, /<title>Herald order system 1\.0\.0<\/title>/);
    // What the server rendered, readable without running a script.
    const rendered = html.slice(0, html.indexOf('<script>'));
    for (const server of Object.keys(document.servers))
      assert.ok(rendered.includes(server), `server ${server}`);
    for (const { address } of Object.values(document.channels))
      assert.ok(rendered.includes(address), address);
    for (const operation of Object.keys(document.operations))
      assert.ok(rendered.includes(operation), `operation ${operation}`);
    assert.ok(rendered.includes('"ce_specversion"'), 'the example headers as they travel on Kafka');
    // The same page becomes interactive from the file alone: nothing is loaded from elsewhere.
    assert.ok(html.includes('AsyncApiStandalone.hydrate({ schema: '), 'the page hydrates itself');
    assert.ok(!/<script[^>]+src=/.test(html) && !/<link[^>]+href=/.test(html));
  });

  it('refuses to render a document the parser finds errors in', async () => {
    const broken = JSON.parse(readFileSync(ORDERS, 'utf8')) as { channels: Record<string, unknown> };
    broken.channels['orders'] = { address: 42 };
    await assert.rejects(renderAsyncApiHtml(JSON.stringify(broken)), /the AsyncAPI document has problems/);
  });
});
