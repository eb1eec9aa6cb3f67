import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parseConsoleArguments } from '../src/console-command.ts';
import { spawnHerald, tempDatabase } from './spawn-herald.ts';

// `herald console` as a real process on a real SQLite file: it prints where it listens and
// nothing secret, answers the admin API, and stops on SIGTERM.

const BIN = fileURLToPath(new URL('../bin/herald.js', import.meta.url));
const PASSWORD = 'first-admin-password';

describe('herald console (real process, SQLite file)', { timeout: 120_000 }, () => {
  it('parses --host and --port, listening on 127.0.0.1:8081 by default', () => {
    assert.deepEqual(parseConsoleArguments([]), { host: '127.0.0.1', port: 8081 });
    assert.deepEqual(parseConsoleArguments(['--host', '0.0.0.0', '--port', '0']), {
      host: '0.0.0.0',
      port: 0,
    });
    assert.equal(parseConsoleArguments(['--help']), undefined);
    assert.throws(() => parseConsoleArguments(['--port', '70000']), /65535/);
  });

  it('refuses to start without users', async () => {
    using db = tempDatabase();
    const result = await spawnHerald(['console', '--port', '0'], db.url, {
      HERALD_CONSOLE_USERS: '',
      HERALD_CONSOLE_ADMIN_PASSWORD: '',
    });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /HERALD_CONSOLE_USERS|HERALD_CONSOLE_ADMIN_PASSWORD/);
  });

  it('serves the API on the address it prints, never printing the password, and stops on SIGTERM', async () => {
    using db = tempDatabase();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HERALD_LOG: db.url,
      HERALD_CONSOLE_ADMIN_PASSWORD: PASSWORD,
    };
    delete env['HERALD_CONSOLE_USERS'];
    delete env['HERALD_STORE'];
    const child = spawn(process.execPath, [BIN, 'console', '--port', '0'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        const found = /serving (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
        if (found) resolve(found[1]!);
      });
      child.once('close', () => reject(new Error(`herald console exited: ${stderr}`)));
    });
    try {
      const login = await fetch(`${url}/api/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: PASSWORD }),
      });
      assert.equal(login.status, 200);
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
      const overview = await fetch(`${url}/api/overview`, { headers: { cookie } });
      assert.equal(overview.status, 200);
      assert.deepEqual(((await overview.json()) as { backend: unknown }).backend, {
        system: 'herald_sqlite',
      });
    } finally {
      child.kill('SIGTERM');
    }
    const [status] = (await once(child, 'close')) as [number | null];
    assert.equal(status, 0, stderr);
    assert.doesNotMatch(stdout + stderr, new RegExp(PASSWORD));
    assert.doesNotMatch(stdout + stderr, /herald-console=/);
  });
});
