// The kit's Prometheus rules through promtool, the real tool: they parse and pass their unit
// tests (observability/prometheus/herald-rules.test.yml). With CI=true a missing promtool fails
// the suite; elsewhere it is skipped with the reason.
import assert from 'node:assert/strict';
import { dirname } from 'node:path';
import { describe, it } from 'node:test';
import { RULES_FILE, RULES_TEST_FILE, prometheusUnavailable, promtool } from '../observability/prometheus.ts';

const unavailable = prometheusUnavailable();
const skip = process.env['CI'] === 'true' ? false : (unavailable ?? false);

void describe('the observability rules under promtool', { skip }, () => {
  void it('parse, with every recording rule and alert found', () => {
    const output = promtool(['check', 'rules', RULES_FILE], dirname(RULES_FILE));
    assert.match(output, /SUCCESS: 17 rules found/);
  });

  void it('pass their unit tests: each alert fires when it should and stays quiet when it should not', () => {
    const output = promtool(['test', 'rules', RULES_TEST_FILE], dirname(RULES_TEST_FILE));
    assert.match(output, /SUCCESS/);
  });
});
