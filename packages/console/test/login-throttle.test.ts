import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LoginThrottle } from '../src/login-throttle.ts';
import { RingBuffer } from '../src/sampler.ts';
import { SessionStore, sameToken } from '../src/sessions.ts';

describe('failed-login throttling', () => {
  it('refuses a user name after its failures until the window has passed, and a success clears it', () => {
    let now = 1_000_000;
    const throttle = new LoginThrottle({
      maxPerUser: 2,
      maxPerAddress: 10,
      windowMs: 60_000,
      now: () => now,
    });
    throttle.failed('ada', '10.0.0.1');
    assert.equal(throttle.retryAfter('ada', '10.0.0.1'), 0);
    throttle.failed('ada', '10.0.0.2');
    assert.equal(throttle.retryAfter('ada', '10.0.0.3'), 60, 'per user name, from any address');
    now += 30_000;
    assert.equal(throttle.retryAfter('ada', '10.0.0.1'), 30);
    now += 30_001;
    assert.equal(throttle.retryAfter('ada', '10.0.0.1'), 0);
    throttle.failed('bob', '10.0.0.1');
    throttle.succeeded('bob');
    throttle.failed('bob', '10.0.0.1');
    assert.equal(throttle.retryAfter('bob', '10.0.0.1'), 0);
  });

  it('refuses an address after its failures, whatever user name it tries', () => {
    const throttle = new LoginThrottle({ maxPerUser: 100, maxPerAddress: 3, now: () => 0 });
    for (const name of ['a', 'b', 'c']) throttle.failed(name, '10.0.0.9');
    assert.ok(throttle.retryAfter('d', '10.0.0.9') > 0);
    assert.equal(throttle.retryAfter('d', '10.0.0.8'), 0);
  });
});

describe('console sessions', () => {
  it('ends a session after its idle time, and keeps one in use alive', () => {
    let now = 0;
    const sessions = new SessionStore({ idleMs: 1000, now: () => now });
    const { id, session } = sessions.open({ name: 'ada', role: 'viewer' });
    assert.notEqual(id, session.csrfToken);
    now = 900;
    assert.equal(sessions.get(id), session);
    now = 1800;
    assert.equal(sessions.get(id), session, 'using it restarted its idle time');
    now = 2801;
    assert.equal(sessions.get(id), undefined);
    assert.equal(sessions.get('made-up'), undefined);
  });

  it('ends every session of a user whose access changed', () => {
    const sessions = new SessionStore({ idleMs: 60_000 });
    const a = sessions.open({ name: 'ada', role: 'operator' });
    const b = sessions.open({ name: 'bob', role: 'viewer' });
    sessions.closeUser('ada');
    assert.equal(sessions.get(a.id), undefined);
    assert.equal(sessions.get(b.id), b.session);
  });

  it('compares CSRF tokens exactly', () => {
    assert.equal(sameToken('abc', 'abc'), true);
    assert.equal(sameToken('abd', 'abc'), false);
    assert.equal(sameToken(undefined, 'abc'), false);
  });
});

describe('the sampler ring buffer', () => {
  it('keeps the newest items, oldest first', () => {
    const ring = new RingBuffer<number>(3);
    for (let i = 1; i <= 5; i++) ring.push(i);
    assert.deepEqual(ring.toArray(), [3, 4, 5]);
  });
});
