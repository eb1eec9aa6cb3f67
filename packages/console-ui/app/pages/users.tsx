import { useState, type FormEvent, type ReactNode } from 'react';
import { canAdminister, request, seg, type Role, type UserView } from '../api.ts';
import { ErrorNote, ListTable, Loading, Page, useSession } from '../components.tsx';
import { useResource } from '../hooks.ts';

/** Who may use the console (admin only; every change is audited). */
export function UsersPage(): ReactNode {
  const session = useSession();
  const admin = canAdminister(session.user.role);
  const users = useResource(() => (admin ? request<UserView[]>('users') : Promise.resolve([])), 'users');
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<Error | undefined>(undefined);
  const [message, setMessage] = useState<string | undefined>(undefined);

  if (!admin) {
    return (
      <Page title="Users">
        <p role="alert">Managing users needs the admin role.</p>
      </Page>
    );
  }

  const fail = (failure: unknown): void =>
    setError(failure instanceof Error ? failure : new Error(String(failure)));

  const save = (event: FormEvent): void => {
    event.preventDefault();
    setError(undefined);
    setMessage(undefined);
    request<unknown>(`users/${seg(name)}`, {
      method: 'PUT',
      body: { role, ...(password === '' ? {} : { password }) },
    }).then(() => {
      setMessage(`Saved ${name}.`);
      setPassword('');
      users.reload();
    }, fail);
  };

  const remove = (user: string): void => {
    if (!window.confirm(`Remove user ${user}?`)) return;
    setError(undefined);
    request<unknown>(`users/${seg(user)}`, { method: 'DELETE' }).then(() => {
      setMessage(`Removed ${user}.`);
      users.reload();
    }, fail);
  };

  return (
    <Page title="Users">
      <ErrorNote error={users.error ?? error} />
      <Loading loading={users.loading} />
      {message === undefined ? null : <p role="status">{message}</p>}
      <ListTable
        label="Users"
        rows={users.data}
        rowKey={(user) => user.name}
        columns={[
          { header: 'User', cell: (user) => user.name },
          { header: 'Role', cell: (user) => user.role },
          {
            header: '',
            cell: (user) => (
              <>
                <button type="button" className="button" onClick={() => setName(user.name)}>
                  Edit
                </button>{' '}
                <button
                  type="button"
                  className="button danger"
                  disabled={user.name === session.user.name}
                  onClick={() => remove(user.name)}
                >
                  Remove
                </button>
              </>
            ),
          },
        ]}
      />
      <form className="filters panel" onSubmit={save} aria-label="Add or change a user">
        <label>
          User name
          <input name="user-name" value={name} onChange={(e) => setName(e.target.value)} required />
        </label>
        <label>
          Role
          <select name="user-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            <option value="viewer">viewer</option>
            <option value="operator">operator</option>
            <option value="admin">admin</option>
          </select>
        </label>
        <label>
          Password (unchanged when empty)
          <input
            name="user-password"
            type="password"
            autoComplete="new-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        <button type="submit" className="button primary">
          Save user
        </button>
      </form>
    </Page>
  );
}
