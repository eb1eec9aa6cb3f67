// Who gets in, and what every answer carries: sessions, throttled logins, secure headers, user
// management, the UI's files. Real HTTP against a console on a real SQLite file.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { EventLog } from '@herald/core';
import { openSqliteLog } from '@herald/sqlite';
import { Registry } from 'prom-client';
import { type ConsoleServer, type StartConsoleOptions, startConsole } from '../src/index.ts';
import { ConsoleClient, expectStatus } from './console-client.ts';
import { PASSWORDS, testUsers } from './fixtures.ts';

describe('console authentication and headers (real HTTP, SQLite file)', () => {
  let dir: string;
  let log: EventLog;
  const servers: ConsoleServer[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'herald-console-auth-'));
    log = await openSqliteLog({ path: join(dir, 'herald.db'), retentionIntervalMs: 0 });
  });
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close();
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const serve = async (options: Partial<StartConsoleOptions> = {}): Promise<ConsoleServer> => {
    const server = await startConsole({ log, users: await testUsers(), ui: false, ...options });
    servers.push(server);
    return server;
  };

  it('listens on 127.0.0.1 unless told otherwise', async () => {
    const server = await serve();
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('opens a session on the right password: an HttpOnly, SameSite=Strict cookie and a CSRF token', async () => {
    const client = new ConsoleClient((await serve()).url);
    const login = await client.login('operator', PASSWORDS.operator);
    const body = expectStatus(login, 200);
    assert.deepEqual(body.user, { name: 'operator', role: 'operator' });
    assert.match(body.csrfToken, /^[A-Za-z0-9_-]{40,}$/);
    const cookie = login.headers.get('set-cookie')!;
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.match(cookie, /Path=\//);
    assert.doesNotMatch(cookie, new RegExp(body.csrfToken), 'the CSRF token is not in the cookie');
    const session = expectStatus(await client.get<{ user: unknown; csrfToken: string }>('/api/session'), 200);
    assert.deepEqual(session, { user: body.user, csrfToken: body.csrfToken });
    expectStatus(await client.get('/api/overview'), 200);
  });

  it('answers a wrong password and an unknown user alike with 401, and nothing without a session', async () => {
    const server = await serve();
    const client = new ConsoleClient(server.url);
    const wrong = expectStatus(await client.login('admin', 'not the password'), 401);
    const unknown = expectStatus(await client.login('nobody', 'not the password'), 401);
    assert.deepEqual(
      { ...(wrong as object), instance: undefined },
      { ...(unknown as object), instance: undefined },
    );
    const anonymous = await client.get<{ code: string; status: number }>('/api/overview');
    assert.equal(expectStatus(anonymous, 401).code, 'UNAUTHORIZED');
    assert.equal(anonymous.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    const forged = new ConsoleClient(server.url);
    forged.cookie = 'herald-console=forged-session-id';
    expectStatus(await forged.get('/api/session'), 401);
  });

  it('throttles failed logins per user name and per address with 429 and Retry-After, and counts them', async () => {
    const registry = new Registry();
    const server = await serve({ loginThrottle: { maxPerUser: 3, maxPerAddress: 5 }, registry });
    const client = new ConsoleClient(server.url);
    for (let i = 0; i < 3; i++) expectStatus(await client.login('viewer', 'wrong password'), 401);
    const throttled = await client.login('viewer', PASSWORDS.viewer);
    assert.equal(
      expectStatus(throttled, 429) && (throttled.body as unknown as { code: string }).code,
      'THROTTLED',
    );
    assert.ok(Number(throttled.headers.get('retry-after')) > 0);
    expectStatus(await client.login('operator', PASSWORDS.operator), 200);
    for (let i = 0; i < 2; i++) expectStatus(await client.login('admin', 'wrong password'), 401);
    expectStatus(await client.login('operator', PASSWORDS.operator), 429);
    const metric = await registry.getSingleMetric('herald_console_login_failures_total')!.get();
    const count = (reason: string) => metric.values.find((v) => v.labels['reason'] === reason)?.value;
    assert.deepEqual([count('bad-credentials'), count('throttled')], [5, 2]);
  });

  it('sends a strict CSP and the secure headers on pages, API answers and problems', async () => {
    const server = await serve({ ui: undefined });
    const client = new ConsoleClient(server.url);
    for (const path of ['/', '/api/overview', '/api/no-such-route']) {
      const answer = await client.get(path);
      const csp = answer.headers.get('content-security-policy') ?? '';
      assert.match(csp, /default-src 'self'/, path);
      assert.match(csp, /script-src 'self'(;|$)/, path);
      assert.match(csp, /frame-ancestors 'none'/, path);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, path);
      assert.equal(answer.headers.get('x-content-type-options'), 'nosniff', path);
      assert.equal(answer.headers.get('x-frame-options'), 'DENY', path);
      assert.equal(answer.headers.get('referrer-policy'), 'no-referrer', path);
    }
    const api = await client.get('/api/overview');
    assert.equal(api.headers.get('cache-control'), 'no-store');
  });

  it('ends the session on logout', async () => {
    const client = new ConsoleClient((await serve()).url);
    expectStatus(await client.login('viewer', PASSWORDS.viewer), 200);
    expectStatus(await client.send('DELETE', '/api/session'), 204);
    expectStatus(await client.get('/api/session'), 401);
  });

  it('lets only an admin manage users, records each change, never answers a hash, and keeps one admin', async () => {
    const server = await serve();
    const admin = new ConsoleClient(server.url);
    expectStatus(await admin.login('admin', PASSWORDS.admin), 200);
    const operator = new ConsoleClient(server.url);
    expectStatus(await operator.login('operator', PASSWORDS.operator), 200);
    expectStatus(await operator.get('/api/users'), 403);
    expectStatus(
      await operator.send('PUT', '/api/users/mallory', { role: 'admin', password: 'mallory-password' }),
      403,
    );

    expectStatus(
      await admin.send('PUT', '/api/users/carol', { role: 'viewer', password: 'carol-password-1' }),
      200,
    );
    const users = expectStatus(await admin.get<{ name: string; role: string }[]>('/api/users'), 200);
    assert.deepEqual(
      users.map((u) => Object.keys(u).sort().join()),
      users.map(() => 'name,role'),
    );
    assert.ok(users.some((u) => u.name === 'carol' && u.role === 'viewer'));
    const carol = new ConsoleClient(server.url);
    expectStatus(await carol.login('carol', 'carol-password-1'), 200);
    expectStatus(await admin.send('PUT', '/api/users/carol', { role: 'operator' }), 200);
    expectStatus(await carol.get('/api/session'), 401);
    expectStatus(await admin.send('PUT', '/api/users/dave', { role: 'viewer', password: 'short' }), 400);
    expectStatus(await admin.send('DELETE', '/api/users/carol'), 204);
    expectStatus(await carol.login('carol', 'carol-password-1'), 401);
    expectStatus(await admin.send('DELETE', '/api/users/admin'), 409);

    type Entry = {
      action: string;
      actor: string;
      target: string;
      outcome: string;
      before?: unknown;
      after?: unknown;
    };
    const trail = expectStatus(await admin.get<{ entries: Entry[] }>('/api/audit'), 200).entries;
    assert.deepEqual(
      trail.map((e) => [e.action, e.actor, e.target, e.outcome]),
      [
        ['user.delete', 'admin', 'admin', 'refused'],
        ['user.delete', 'admin', 'carol', 'done'],
        ['user.put', 'admin', 'dave', 'refused'],
        ['user.put', 'admin', 'carol', 'done'],
        ['user.put', 'admin', 'carol', 'done'],
        ['user.put', 'operator', 'mallory', 'refused'],
      ],
    );
    assert.doesNotMatch(JSON.stringify(trail), /password-1|scrypt\$/);
    assert.deepEqual(trail[3]!.before, { role: 'viewer' });
  });

  it('writes user changes back to the users file, with mode 0600', async () => {
    const { hashPassword, UserDirectory } = await import('../src/index.ts');
    const file = join(dir, 'users.json');
    writeFileSync(
      file,
      JSON.stringify({
        users: [{ name: 'admin', role: 'admin', hash: await hashPassword(PASSWORDS.admin) }],
      }),
    );
    const server = await serve({
      users: new UserDirectory(
        [{ name: 'admin', role: 'admin', hash: await hashPassword(PASSWORDS.admin) }],
        file,
      ),
    });
    const admin = new ConsoleClient(server.url);
    expectStatus(await admin.login('admin', PASSWORDS.admin), 200);
    expectStatus(
      await admin.send('PUT', '/api/users/erin', { role: 'operator', password: 'erin-password-1' }),
      200,
    );
    const { readFileSync, statSync } = await import('node:fs');
    const saved = JSON.parse(readFileSync(file, 'utf8')) as {
      users: { name: string; role: string; hash: string }[];
    };
    assert.deepEqual(
      saved.users.map((u) => [u.name, u.role, u.hash.startsWith('scrypt$')]),
      [
        ['admin', 'admin', true],
        ['erin', 'operator', true],
      ],
    );
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.doesNotMatch(readFileSync(file, 'utf8'), /erin-password-1/);
  });

  it("serves the UI's build, its index.html for the UI's own paths, and a placeholder without one", async () => {
    // With no folder given: the installed @herald/console-ui build, else a placeholder page;
    // either way nothing inline (a script only by its src).
    const page = await new ConsoleClient((await serve({ ui: undefined })).url).get<string>('/');
    assert.equal(page.status, 200);
    assert.match(page.body, /Herald console/);
    assert.doesNotMatch(page.body, /<script(?![^>]*\ssrc=)[^>]*>|<style| style=/);

    const build = join(dir, 'ui');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(build, 'assets'), { recursive: true });
    writeFileSync(
      join(build, 'index.html'),
      '<!doctype html><title>ui</title><script type="module" src="/assets/app.js"></script>',
    );
    writeFileSync(join(build, 'assets', 'app.js'), 'export {};');
    const client = new ConsoleClient((await serve({ ui: build })).url);
    assert.match((await client.get<string>('/')).body, /<title>ui<\/title>/);
    assert.equal((await client.get<string>('/assets/app.js')).body, 'export {};');
    const deep = await client.request<string>('GET', '/groups/billing', { headers: { accept: 'text/html' } });
    assert.match(deep.body, /<title>ui<\/title>/);
    expectStatus(await client.get('/api/nothing-here'), 404);
  });
});
