import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { runHerald } from './run-herald.ts';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

describe('herald', () => {
  it('prints its help on --help and -h with status 0', async () => {
    for (const flag of ['--help', '-h', 'help']) {
      const result = await runHerald([flag]);
      assert.equal(result.status, 0, flag);
      assert.match(result.stdout, /^Usage: herald <command>/);
      assert.equal(result.stderr, '');
    }
  });

  it('prints the help of each command on <command> --help', async () => {
    for (const [argv, first] of [
      [['topics', '--help'], /herald topics create <name> --partitions <n>/],
      [['topics', 'create', '--help'], /herald topics create/],
      [['publish', '--help'], /herald publish <topic> --type <type>/],
      [['tail', '--help'], /herald tail <topic>/],
      [['groups', '--help'], /herald groups \[--json\]/],
      [['groups', 'reset', '--help'], /herald groups reset <group> \(--to-earliest/],
      [['dlq', '--help'], /herald dlq list \[<dlq-topic>\]/],
      [['dlq', 'redrive', '--help'], /herald dlq redrive <dlq-topic>/],
      [['help', 'dlq'], /herald dlq show <dlq-topic> <partition>:<offset>/],
      [['help', 'tail'], /herald tail <topic>/],
    ] as const) {
      const result = await runHerald(argv);
      assert.equal(result.status, 0, argv.join(' '));
      assert.match(result.stdout, first, argv.join(' '));
    }
  });

  it('documents where tail starts and how it orders partitions', async () => {
    const { stdout } = await runHerald(['tail', '--help']);
    assert.match(stdout, /the default is the beginning/);
    assert.match(stdout, /merged by the time the log appended them/);
  });

  it('prints the package version on --version', async () => {
    const result = await runHerald(['--version']);
    assert.deepEqual(result, { status: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('shows the help on stderr with status 2 when called without a command', async () => {
    const result = await runHerald([]);
    assert.equal(result.status, 2);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /^Usage: herald/);
  });

  it('refuses an unknown command or option with one line and status 2', async () => {
    const unknown = await runHerald(['frobnicate']);
    assert.equal(unknown.status, 2);
    assert.match(
      unknown.stderr,
      /^herald: unknown command "frobnicate": expected topics, publish, tail, groups, dlq(, [a-z]+)* \(see 'herald --help'\)\n$/,
    );
    for (const [argv, message] of [
      [['--nope'], `herald: unknown option --nope (see 'herald --help')\n`],
      [['tail', 'orders', '--nope'], `herald: unknown option --nope (see 'herald tail --help')\n`],
      [
        ['topics', 'drop', 'x'],
        `herald: unknown subcommand "drop": expected create, list or describe (see 'herald topics --help')\n`,
      ],
      [['help', 'nope'], `herald: unknown command "nope" (see 'herald --help')\n`],
    ] as const) {
      const result = await runHerald(argv);
      assert.deepEqual(result, { status: 2, stdout: '', stderr: message }, argv.join(' '));
    }
  });

  it('does not treat names of Object.prototype as commands', async () => {
    const result = await runHerald(['constructor']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /^herald: unknown command "constructor"/);
  });

  it('reports a HERALD_LOG no backend handles with the URL, status 1 and no stack trace', async () => {
    const result = await runHerald(['topics', 'list'], { log: 'bogus://somewhere' });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^herald: cannot open HERALD_LOG=bogus:\/\/somewhere: unsupported log URL/);
    assert.equal(result.stderr.split('\n').length, 2, 'one line');
    assert.doesNotMatch(result.stderr, /\bat /);
  });

  it('checks the command line before opening the log', async () => {
    const result = await runHerald(['tail'], { log: 'bogus://somewhere' });
    assert.equal(result.status, 2);
    assert.equal(result.stderr, `herald: missing <topic> (see 'herald tail --help')\n`);
  });
});
