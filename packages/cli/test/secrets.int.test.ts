// No secret in any output: log and store URLs with passwords and tokens, in every form people
// type them (percent-encoded or not, with `/`, `@`, `?` in the password, tokens alone, secret
// query parameters), go through every command of the real `herald` executable, with
// HERALD_DEBUG=1 too (which prints causes); the secret must appear in neither stdout nor stderr.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { redactUrl } from '@herald/core';
import { run } from '../src/main.ts';

const BIN = fileURLToPath(new URL('../bin/herald.js', import.meta.url));
const SECRET = 'Zq7S3CRET';

/** Logs that cannot be reached (port 1 refuses at once) or do not parse, each holding SECRET. */
const LOG_URLS = [
  `kafka://app:${SECRET}@127.0.0.1:1?sasl=scram-sha-256`,
  `kafka://app:${SECRET}@127.0.0.1:1?sasl=plain`,
  `kafka://app:pa/${SECRET}@127.0.0.1:1?sasl=scram-sha-512`,
  `kafka://app:p@ss?${SECRET}@127.0.0.1:1?sasl=scram-sha-512`,
  `nats://${SECRET}@127.0.0.1:1`,
  `nats://app:${SECRET}@127.0.0.1:1`,
  `nats://app:pa/${SECRET}@127.0.0.1:1`,
  `nats://127.0.0.1:1?token=${SECRET}`,
  `bogus://app:${SECRET}@somewhere`,
  `sqlite:./never.db?password=${SECRET}`,
];
const STORE_URLS = [
  `postgres://app:${SECRET}@127.0.0.1:1/shop`,
  `postgres://app:pa/${SECRET}@127.0.0.1:1/shop`,
  `mysql://root:${SECRET}@db/shop`,
];

const COMMANDS: readonly (readonly string[])[] = [
  ['topics', 'list'],
  ['topics', 'create', 'orders', '--partitions', '2'],
  ['topics', 'describe', 'orders'],
  ['publish', 'orders', '--type', 'dev.herald.test.happened.v1', '--data', '{}'],
  ['tail', 'orders'],
  ['groups'],
  ['groups', 'reset', 'g', '--to-earliest', '--topic', 'orders', '--yes'],
  ['dlq', 'list'],
  ['dlq', 'redrive', 'orders.dead-letter', '--all', '--yes', '--best-effort'],
  ['schema', 'list'],
];

async function herald(args: readonly string[], env: Record<string, string>): Promise<string> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  await once(child, 'close');
  return output;
}

void describe('secrets in log and store URLs', () => {
  void it('are hidden by redactUrl in every form: user:password, token alone, unencoded / ? @ in the password, secret query parameters', () => {
    for (const url of [...LOG_URLS, ...STORE_URLS]) {
      const redacted = redactUrl(url);
      assert.ok(!redacted.includes(SECRET), `${redacted} still shows the secret`);
      assert.ok(redacted.includes('***'), `${redacted} says nothing was hidden`);
    }
    assert.equal(redactUrl('kafka://127.0.0.1:19092?namespace=x-'), 'kafka://127.0.0.1:19092?namespace=x-');
    assert.equal(redactUrl('nats://app:s3cret@nats:4222'), 'nats://app:***@nats:4222');
    assert.equal(redactUrl('sqlite:./.herald/herald.db'), 'sqlite:./.herald/herald.db');
  });

  void it('never appear in the output of any herald command, with or without HERALD_DEBUG', async () => {
    const leaks: string[] = [];
    let outputs = 0;
    const check = async (args: readonly string[], env: Record<string, string>) => {
      let output = '';
      await run(args, {
        stdout: (text) => void (output += text),
        stderr: (text) => void (output += text),
        env,
        readStdin: () => Promise.resolve(undefined),
      });
      outputs += output.length > 0 ? 1 : 0;
      if (output.includes(SECRET))
        leaks.push(`herald ${args.join(' ')} with ${JSON.stringify(env)}:\n${output}`);
    };
    for (const debug of ['0', '1']) {
      for (const log of LOG_URLS) {
        await Promise.all(COMMANDS.map((args) => check(args, { HERALD_LOG: log, HERALD_DEBUG: debug })));
      }
      for (const store of STORE_URLS) {
        for (const args of [
          ['dlq', 'redrive', 'orders.dead-letter', '--all', '--yes'],
          ['dlq', 'list'],
        ]) {
          await check(args, { HERALD_LOG: 'memory:', HERALD_STORE: store, HERALD_DEBUG: debug });
        }
      }
    }
    assert.deepEqual(leaks, []);
    assert.equal(
      outputs,
      2 * (LOG_URLS.length * COMMANDS.length + STORE_URLS.length * 2),
      'a command printed nothing',
    );
  });

  void it('never appear in what the herald executable prints, stack traces included', async () => {
    const envs: Record<string, string>[] = [
      ...LOG_URLS.map((log) => ({ HERALD_LOG: log })),
      ...STORE_URLS.map((store) => ({ HERALD_LOG: 'memory:', HERALD_STORE: store })),
    ];
    const outputs = await Promise.all(
      envs.map(async (env) => ({
        env,
        output: await herald(['dlq', 'list'], { ...env, HERALD_DEBUG: '1' }),
      })),
    );
    for (const { env, output } of outputs) {
      assert.ok(output.length > 0, `herald printed nothing with ${JSON.stringify(env)}`);
      assert.ok(!output.includes(SECRET), `herald dlq list with ${JSON.stringify(env)}:\n${output}`);
    }
  });
});
