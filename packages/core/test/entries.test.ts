import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

/**
 * Runs `body` (an ES module) in a fresh Node, inside this package so that `@herald/core` resolves
 * to it, with `missing` packages made impossible to resolve: as if they were not installed.
 * Returns what the script printed.
 */
async function runWithout(missing: readonly string[], body: string): Promise<string> {
  const script = `
    import { registerHooks } from 'node:module';
    const missing = new Set(${JSON.stringify(missing)});
    registerHooks({
      resolve(specifier, context, next) {
        if (missing.has(specifier)) {
          throw Object.assign(new Error(\`Cannot find package '\${specifier}'\`), { code: 'ERR_MODULE_NOT_FOUND' });
        }
        return next(specifier, context);
      },
    });
    ${body}
  `;
  const { stdout } = await run(process.execPath, ['--input-type=module', '--eval', script], {
    cwd: PACKAGE_DIR,
  });
  return stdout.trim();
}

void describe('the entries of @herald/core', () => {
  void it('loads the root without OpenTelemetry or prom-client installed', async () => {
    const out = await runWithout(
      ['@opentelemetry/api', 'prom-client'],
      `const core = await import('@herald/core');
       console.log(typeof core.createRouter, typeof core.retry, typeof core.defineEvent);`,
    );
    assert.equal(out, 'function function function');
  });

  void it('loads the ops entry without OpenTelemetry or prom-client installed', async () => {
    const out = await runWithout(
      ['@opentelemetry/api', 'prom-client'],
      `const ops = await import('@herald/core/ops'); console.log(typeof ops.redrive);`,
    );
    assert.equal(out, 'function');
  });

  void it('says which package the tracing and metrics entries need when it is missing', async () => {
    const out = await runWithout(
      ['@opentelemetry/api', 'prom-client'],
      `for (const entry of ['@herald/core/tracing', '@herald/core/metrics']) {
         try { await import(entry); console.log(entry, 'loaded'); }
         catch (error) { console.log(entry, error.message); }
       }`,
    );
    assert.deepEqual(out.split('\n'), [
      "@herald/core/tracing Cannot find package '@opentelemetry/api'",
      "@herald/core/metrics Cannot find package 'prom-client'",
    ]);
  });

  void it('keeps tracing, metrics and ops names off the root', async () => {
    const root = await import('@herald/core');
    for (const name of [
      'tracing',
      'tracingPublish',
      'metrics',
      'renderMetrics',
      'redrive',
      'deadLetterMetadataOf',
      'auditGroup',
      'startAuditMetrics',
      'timerMetrics',
    ]) {
      assert.equal(name in root, false, `${name} is exported from the root`);
    }
    const tracing = await import('@herald/core/tracing');
    const metrics = await import('@herald/core/metrics');
    const ops = await import('@herald/core/ops');
    assert.deepEqual(Object.keys(tracing).sort(), [
      'extractTraceContext',
      'injectTraceContext',
      'tracing',
      'tracingPublish',
    ]);
    assert.deepEqual(Object.keys(metrics).sort(), [
      'DURATION_BUCKETS',
      'metrics',
      'publishMetrics',
      'registerLagMetrics',
      'registerParkingMetrics',
      'renderMetrics',
      'startAuditMetrics',
      'timerMetrics',
    ]);
    assert.equal(typeof ops.redrive, 'function');
    assert.equal(typeof ops.auditGroup, 'function');
  });

  void it('keeps the backend kit off the root: backend packages reach it through @herald/core/backend', async () => {
    const root = await import('@herald/core');
    const backend = await import('@herald/core/backend');
    for (const name of [
      'ClaimHistory',
      'DeliveryClaim',
      'assignPartitions',
      'murmur2',
      'faultInjection',
      'DEFAULT_READ_LIMIT',
      'DEFAULT_SESSION_TIMEOUT_MS',
      'DeliveryQueue',
      'GroupMembership',
      'PartitionChooser',
    ]) {
      assert.equal(name in root, false, `${name} is exported from the root`);
      assert.equal(name in backend, true, `${name} is missing from @herald/core/backend`);
    }
  });
});
