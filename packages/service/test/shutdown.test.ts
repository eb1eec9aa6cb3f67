import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ensureTopic, openEventLog, openStore } from '@herald/core';
import { GREETINGS, signUp } from './fixtures/greeter.ts';
import { tempLog } from './fixtures/temp-log.ts';

const GREETER_MAIN = fileURLToPath(new URL('./fixtures/greeter-main.ts', import.meta.url));

/** Starts the greeter program; `lines` fills as it prints, `waitFor` resolves on a matching line. */
function startGreeter(logUrl: string) {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', GREETER_MAIN], {
    env: { ...process.env, HERALD_LOG: logUrl, HERALD_STORE: '', HERALD_HEALTH_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const collect = (line: string) => {
    lines.push(line);
    for (const waiter of waiters) waiter();
  };
  createInterface({ input: child.stdout }).on('line', collect);
  createInterface({ input: child.stderr }).on('line', (line) => collect(`stderr: ${line}`));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      resolve({ code, signal });
      for (const waiter of waiters) waiter();
    }),
  );
  /** Resolves with the first line matching; rejects when the program exits without printing it. */
  const waitFor = (match: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const line = lines.find((l) => match.test(l));
        if (line !== undefined || child.exitCode !== null || child.signalCode !== null) {
          waiters.delete(check);
          if (line !== undefined) resolve(line);
          else reject(new Error(`the greeter exited before printing ${match}:\n${lines.join('\n')}`));
        }
      };
      waiters.add(check);
      check();
    });
  return { child, lines, exited, waitFor };
}

describe('a service process on the kit (real child process)', () => {
  it('on SIGTERM finishes the handler in flight, commits, closes the log and exits 0', async () => {
    using folder = tempLog();
    {
      await using log = await openEventLog(folder.logUrl);
      await ensureTopic(log, 'users', { partitions: 1 });
    }
    const greeter = startGreeter(folder.logUrl);
    try {
      const ready = await greeter.waitFor(/^ready http:/);
      const healthUrl = ready.slice('ready '.length);
      assert.equal((await fetch(`${healthUrl}/readyz`)).status, 200);

      {
        await using log = await openEventLog(folder.logUrl);
        await log.append('users', signUp('ada'));
      }
      await greeter.waitFor(/^handling ada$/);
      greeter.child.kill('SIGTERM');
      const { code, signal } = await greeter.exited;
      assert.deepEqual({ code, signal }, { code: 0, signal: null }, greeter.lines.join('\n'));
      assert.ok(
        greeter.lines.includes('SIGTERM: stopping — no new events; finishing and committing work in flight'),
      );
      assert.equal(greeter.lines.at(-1), 'stopped');
    } finally {
      if (greeter.child.exitCode === null && greeter.child.signalCode === null) greeter.child.kill('SIGKILL');
    }

    // The handler that was running when SIGTERM came finished: its greeting and its event are
    // stored, and the group committed past the event, so a next start does not handle it again.
    await using log = await openEventLog(folder.logUrl);
    await using store = await openStore(folder.logUrl, { log });
    assert.deepEqual(await store.get(GREETINGS, 'ada'), { text: 'Welcome, ada!' });
    assert.equal(
      (await log.describeTopic('greetings')).partitionInfo.reduce((n, p) => n + p.latest, 0),
      1,
    );
    const group = await log.describeGroup('greeter.welcome');
    assert.deepEqual(
      group.partitions.map((p) => [p.topic, p.partition, p.lag]),
      [['users', 0, 0]],
    );
    assert.deepEqual(group.members, []);
  });
});
