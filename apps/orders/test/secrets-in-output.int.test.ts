// No secret in what `npm start` prints: the order system is started as an operator starts it on
// NATS JetStream with a token and a Postgres store with a password (the local test servers
// accept both), and with no admin token set, so one is generated. Its banner, its log lines and
// its shutdown must show none of the three; the generated token is in a file only the OS user
// can read, and it is the token the admin API takes. The same goes for the operations console's
// generated admin password.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { cleanEnv, findFreePorts, startChildSystem } from '@herald/orders-domain/testing/child-system.ts';
import { tempFolder } from './fixtures/order-system.ts';
import {
  TEST_POSTGRES,
  dropSchemas,
  postgresUnavailable,
  unavailable,
  uniqueSchemaPrefix,
} from './fixtures/test-postgres.ts';

const MAIN = new URL('../src/main.ts', import.meta.url).pathname;
const NATS = (process.env['HERALD_TEST_NATS'] ?? '127.0.0.1:4222').split(',')[0]!.trim();
const NATS_TOKEN = `natsTok${randomBytes(6).toString('hex')}`;
const PG_PASSWORD = `pgPw${randomBytes(6).toString('hex')}`;

void describe('the order system started by an operator', () => {
  const prefix = uniqueSchemaPrefix();
  after(async () => {
    const pool = new pg.Pool({ connectionString: TEST_POSTGRES });
    try {
      await dropSchemas(pool, prefix);
    } finally {
      await pool.end();
    }
  });

  void it('prints neither the log token, nor the store password, nor the admin token or console password it generated, which it keeps in files only its user can read', async (t) => {
    const missing = await postgresUnavailable();
    if (missing !== undefined) return unavailable(t, missing);
    const store = new URL(TEST_POSTGRES);
    store.password = PG_PASSWORD;
    store.searchParams.set('schemaPrefix', prefix);
    using folder = tempFolder();
    const tokenFile = join(folder.dir, 'secrets', 'admin-token');
    const passwordFile = join(folder.dir, 'secrets', 'console-admin-password');
    const port = await findFreePorts(2);
    const consolePort = port + 1;
    const system = await startChildSystem({
      name: 'order system',
      script: MAIN,
      cwd: folder.dir,
      env: cleanEnv({
        HERALD_LOG: `nats://${NATS_TOKEN}@${NATS}?namespace=sec${randomBytes(3).toString('hex')}-`,
        HERALD_STORE: store.toString(),
        HERALD_ADMIN_TOKEN_FILE: tokenFile,
        HERALD_CONSOLE_PASSWORD_FILE: passwordFile,
        HERALD_CONSOLE_PORT: String(consolePort),
        HERALD_PARTITIONS: '2',
        PORT: String(port),
      }),
      readyUrl: `http://127.0.0.1:${port}/readyz`,
    });
    let output: string;
    try {
      const token = readFileSync(tokenFile, 'utf8').trim();
      assert.ok(token.length >= 16, 'a generated token is in the file');
      assert.equal(statSync(tokenFile).mode & 0o777, 0o600, 'only its user can read the token file');
      const admin = await fetch(`http://127.0.0.1:${port}/admin/faults`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(admin.status, 200, 'the admin API takes the token from the file');
      const password = readFileSync(passwordFile, 'utf8').trim();
      assert.equal(statSync(passwordFile).mode & 0o777, 0o600, 'only its user can read the password file');
      const login = await fetch(`http://127.0.0.1:${consolePort}/api/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password }),
      });
      assert.equal(login.status, 200, 'the console takes the password from the file');
      await system.stop();
      output = system.output();
      for (const [what, secret] of [
        ['the NATS token', NATS_TOKEN],
        ['the Postgres password', PG_PASSWORD],
        ['the admin token', token],
        ['the console password', password],
      ] as const) {
        assert.ok(!output.includes(secret), `${what} was printed:\n${output}`);
      }
    } finally {
      await system.stop();
    }
    assert.match(output, /Herald order system on nats:\/\/\*\*\*@/, 'the banner names the log, redacted');
    assert.match(output, new RegExp(tokenFile.replaceAll('/', '\\/')), 'the banner says where the token is');
    assert.match(
      output,
      new RegExp(passwordFile.replaceAll('/', '\\/')),
      'the banner says where the password is',
    );
    assert.match(
      output,
      new RegExp(`console +http://127\\.0\\.0\\.1:${consolePort}`),
      'the banner gives the URL',
    );
  });
});
