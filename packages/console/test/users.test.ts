import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHeraldError } from '@herald/core';
import { UserDirectory, hasRole, hashPassword, usersFromEnv, verifyPassword } from '../src/users.ts';

describe('console users', () => {
  it('hashes with scrypt and a salt of its own per hash, and verifies only the same password', async () => {
    const [a, b] = [await hashPassword('correct horse battery'), await hashPassword('correct horse battery')];
    assert.match(a, /^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    assert.notEqual(a, b, 'two hashes of one password differ by their salt');
    assert.equal(await verifyPassword('correct horse battery', a), true);
    assert.equal(await verifyPassword('correct horse batterY', a), false);
    assert.equal(
      await verifyPassword('anything', 'scrypt$1$1$1$x$y'),
      false,
      'a malformed hash matches nothing',
    );
    assert.equal(await verifyPassword('anything', 'plain-text'), false);
  });

  it('orders roles: an admin may do what an operator may, an operator what a viewer may', () => {
    assert.deepEqual(
      [
        hasRole('admin', 'operator'),
        hasRole('operator', 'viewer'),
        hasRole('viewer', 'operator'),
        hasRole('operator', 'admin'),
      ],
      [true, true, false, false],
    );
  });

  it('authenticates by name and password, and never keeps the last admin from being one', async () => {
    const users = new UserDirectory([
      { name: 'root', role: 'admin', hash: await hashPassword('root-password-1') },
    ]);
    assert.deepEqual(await users.authenticate('root', 'root-password-1'), { name: 'root', role: 'admin' });
    assert.equal(await users.authenticate('root', 'wrong'), undefined);
    assert.equal(await users.authenticate('nobody', 'root-password-1'), undefined);
    await assert.rejects(users.put('root', { role: 'viewer' }), (e) => isHeraldError(e, 'CONFLICT'));
    await assert.rejects(users.delete('root'), (e) => isHeraldError(e, 'CONFLICT'));
    await assert.rejects(users.put('new', { role: 'viewer' }), (e) => isHeraldError(e, 'INVALID_ARGUMENT'));
    await assert.rejects(users.put('bad name!', { role: 'viewer', password: 'long-enough-password' }), (e) =>
      isHeraldError(e, 'INVALID_ARGUMENT'),
    );
  });

  it('takes a first admin from HERALD_CONSOLE_ADMIN_PASSWORD and refuses to start with no users', async () => {
    const users = await usersFromEnv({ HERALD_CONSOLE_ADMIN_PASSWORD: 'first-admin-password' });
    assert.deepEqual(users.list(), [{ name: 'admin', role: 'admin' }]);
    await assert.rejects(usersFromEnv({ HERALD_CONSOLE_ADMIN_PASSWORD: 'short' }), /at least 12/);
    await assert.rejects(usersFromEnv({}), /HERALD_CONSOLE_USERS|HERALD_CONSOLE_ADMIN_PASSWORD/);
  });
});
