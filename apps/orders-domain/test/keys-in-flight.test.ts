import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeysInFlight } from '../src/keys-in-flight.ts';

describe('keys in flight', () => {
  it('answers key-in-flight to a second request under a key being handled, without running it', async () => {
    const keys = new KeysInFlight();
    let release!: () => void;
    const first = keys.run('k1', () => new Promise<string>((resolve) => (release = () => resolve('first'))));
    assert.equal(keys.has('k1'), true);
    let ran = false;
    const second = await keys.run('k1', async () => {
      ran = true;
      return 'second';
    });
    assert.deepEqual(second, { kind: 'key-in-flight' });
    assert.equal(ran, false);
    release();
    assert.equal(await first, 'first');
  });

  it('lets the key go once the request settled, also when it failed', async () => {
    const keys = new KeysInFlight();
    await assert.rejects(
      keys.run('k1', async () => {
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(keys.has('k1'), false);
    assert.equal(await keys.run('k1', async () => 'again'), 'again');
  });

  it('runs requests without a key side by side', async () => {
    const keys = new KeysInFlight();
    const answers = await Promise.all([
      keys.run(undefined, async () => 1),
      keys.run(undefined, async () => 2),
    ]);
    assert.deepEqual(answers, [1, 2]);
  });
});
