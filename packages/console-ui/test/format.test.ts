// How the console turns what the API answers into text: event data is shown as text, never
// markup, JSON pretty-printed; values of any shape become readable lines.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asLine, asText, dataAsText, formatBytes, formatDuration, formatTime } from '../app/format.ts';

void describe("the console's text formatting", () => {
  void it('pretty-prints JSON data and keeps markup in it as plain characters', () => {
    const { text, note } = dataAsText(
      '{"note":"<img src=x onerror=alert(1)>","n":1}',
      'utf8',
      'application/json',
    );
    assert.equal(text, '{\n  "note": "<img src=x onerror=alert(1)>",\n  "n": 1\n}');
    assert.equal(note, undefined);
  });

  void it('shows data that is not JSON as it is', () => {
    assert.equal(dataAsText('not { json', 'utf8', 'application/json').text, 'not { json');
    assert.equal(dataAsText('<b>hi</b>', 'utf8', 'text/html').text, '<b>hi</b>');
  });

  void it('shows binary data as its base64 text, and says so', () => {
    assert.deepEqual(dataAsText('AAEC', 'base64', 'application/octet-stream'), {
      text: 'AAEC',
      note: 'binary data, shown as base64',
    });
  });

  void it('turns values of any shape into lines and blocks of text', () => {
    assert.equal(asLine(undefined), '—');
    assert.equal(asLine('orders'), 'orders');
    assert.equal(asLine({ topic: 'orders', partition: 1 }), '{"topic":"orders","partition":1}');
    assert.equal(asText({ a: [1] }), '{\n  "a": [\n    1\n  ]\n}');
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    assert.equal(asLine(cyclic), '(object that cannot be shown as JSON)');
  });

  void it('formats times, sizes and durations, with a dash or "unlimited" for none', () => {
    assert.equal(formatTime('2026-12-07T10:00:00.000Z'), '2026-12-07 10:00:00.000 UTC');
    assert.equal(formatTime(null), '—');
    assert.equal(formatTime('soon'), 'soon');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(null), 'unlimited');
    assert.equal(formatDuration(7 * 24 * 3600 * 1000), '168.0 h');
    assert.equal(formatDuration(null), 'unlimited');
  });
});
