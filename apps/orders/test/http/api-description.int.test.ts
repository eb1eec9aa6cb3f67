// What the orders API says about itself: the OpenAPI document generated from the routes passes
// `redocly lint` with the recommended rules, without an error or a warning; every problem `type`
// is an absolute URI that answers a page; a wrong method is 405 with Allow; unmatched routes name
// their instance.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { PROBLEM_EXPLANATIONS } from '../../src/http/problem-pages.ts';
import type { OrderSystem } from '../../src/system.ts';
import { type TempFolder, apiOf, openTestSystem, tempFolder } from '../fixtures/order-system.ts';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const REDOCLY = join(REPO, 'node_modules/@redocly/cli/bin/cli.js');
const REDOCLY_CONFIG = fileURLToPath(new URL('../../redocly.yaml', import.meta.url));
const PROBLEM_DOCS = join(REPO, 'docs/problems.md');

interface OpenApi {
  servers: { url: string }[];
  info: { license?: { name: string } };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { additionalProperties?: unknown; properties?: object }> };
}
interface Operation {
  operationId?: string;
  security?: unknown[];
  responses: Record<string, { headers?: Record<string, unknown>; content?: Record<string, unknown> }>;
}
interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
}

const operationsOf = (document: OpenApi) =>
  Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => ({
      name: `${method.toUpperCase()} ${path}`,
      operation,
    })),
  );

describe('the orders API description', { timeout: 60_000 }, () => {
  let folder: TempFolder;
  let system: OrderSystem;
  let app: FastifyInstance;
  let base: string;
  let document: OpenApi;

  before(async () => {
    folder = tempFolder();
    system = await openTestSystem(folder, { services: ['orders'] });
    app = apiOf(system);
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    document = (await (await fetch(`${base}/openapi.json`)).json()) as OpenApi;
  });
  after(async () => {
    await system.stop();
    folder[Symbol.dispose]();
  });

  it('passes redocly lint with the recommended rules, without an error or a warning', async () => {
    const file = join(folder.dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(document, null, 2));
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [REDOCLY, 'lint', '--config', REDOCLY_CONFIG, '--format', 'json', file],
      // Offline and quiet: no usage report, no update check.
      { env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } },
    ).catch((error: Error & { stdout?: string }) => ({ stdout: error.stdout ?? error.message }));
    const report = JSON.parse(stdout) as {
      totals: { errors: number; warnings: number };
      problems: { ruleId: string; message: string; location: { pointer: string }[] }[];
    };
    const problems = report.problems.map((p) => `${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`);
    assert.deepEqual(problems, []);
    assert.deepEqual(report.totals, { errors: 0, warnings: 0, ignored: 0 });
  });

  it('documents every route the server serves, each with an operationId and its security', () => {
    const operations = operationsOf(document);
    assert.ok(operations.length >= 15, `${operations.length} operations`);
    for (const { name, operation } of operations) {
      assert.match(operation.operationId ?? '', /^[a-z][A-Za-z]+$/, name);
      assert.ok(Array.isArray(operation.security), `${name} says whether it needs a token`);
      assert.ok(
        Object.keys(operation.responses).some((status) => status.startsWith('4')),
        `${name} documents a 4xx answer`,
      );
    }
    assert.deepEqual(
      operationsOf(document)
        .filter(({ operation }) => (operation.security ?? []).length > 0)
        .map(({ name }) => name)
        .sort(),
      ['DELETE /admin/faults', 'GET /admin/faults', 'PUT /admin/faults/{service}'],
    );
    assert.equal(document.servers.length, 1);
    assert.equal(document.info.license?.name, 'Apache-2.0');
  });

  it('declares Retry-After on every 429 it documents', () => {
    for (const { name, operation } of operationsOf(document)) {
      const tooMany = operation.responses['429'];
      if (tooMany === undefined) continue;
      assert.ok(tooMany.headers?.['Retry-After'] !== undefined, `${name}: 429 declares Retry-After`);
      assert.ok(tooMany.content?.['application/problem+json'] !== undefined, `${name}: 429 is a problem`);
    }
    assert.ok(document.paths['/orders']?.['post']?.responses['429']?.headers?.['RateLimit-Remaining']);
  });

  it('lets a Problem carry the extension members RFC 9457 allows', () => {
    const problem = document.components.schemas['Problem'];
    assert.ok(problem !== undefined);
    assert.notEqual(problem.additionalProperties, false);
  });

  it('answers every problem type URI with a page that explains it', async () => {
    // A problem as a client sees it: its type is absolute, on the address the client used.
    const unmatched = (await (await fetch(`${base}/no-such-route`)).json()) as ProblemBody;
    assert.equal(unmatched.type, `${base}/problems/not-found`);
    const slugs = Object.keys(PROBLEM_EXPLANATIONS);
    assert.ok(slugs.length >= 25);
    for (const slug of slugs) {
      const page = await fetch(`${base}/problems/${slug}`);
      assert.equal(page.status, 200, slug);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/, slug);
      const html = await page.text();
      assert.ok(html.includes(`<code>${slug}</code>`), `${slug}: the page names its type`);
    }
    const unknown = await fetch(`${base}/problems/no-such-problem`);
    assert.equal(unknown.status, 404);
  });

  it('explains every problem type in docs/problems.md too', () => {
    const docs = readFileSync(PROBLEM_DOCS, 'utf8');
    for (const [slug, text] of Object.entries(PROBLEM_EXPLANATIONS)) {
      const section = docs.split(`## \`${slug}\`\n`)[1]?.split('\n## ')[0] ?? '';
      assert.ok(section.includes(text), `docs/problems.md explains ${slug} as its page does`);
    }
  });

  it('answers a method a path does not take with 405 and Allow listing the ones it does', async () => {
    const answer = await fetch(`${base}/orders`, { method: 'DELETE' });
    assert.equal(answer.status, 405);
    assert.equal(answer.headers.get('allow'), 'POST');
    const problem = (await answer.json()) as ProblemBody;
    assert.equal(problem.type, `${base}/problems/method-not-allowed`);
    assert.equal(problem.instance, '/orders');

    const probe = await fetch(`${base}/healthz`, { method: 'POST' });
    assert.equal(probe.status, 405);
    assert.equal(probe.headers.get('allow'), 'GET, HEAD');
    const order = await fetch(`${base}/orders/00000000-0000-4000-8000-000000000000`, { method: 'PUT' });
    assert.equal(order.status, 405, 'a path with a parameter is matched too');
    assert.equal(order.headers.get('allow'), 'GET, HEAD');
  });

  it('names the request path as the instance of a 404 for an unmatched route', async () => {
    const answer = await fetch(`${base}/no/such/route?x=1`);
    assert.equal(answer.status, 404);
    const problem = (await answer.json()) as ProblemBody;
    assert.equal(problem.instance, '/no/such/route');
    assert.equal(problem.type, `${base}/problems/not-found`);
  });
});
