import { useState, type FormEvent, type ReactNode } from 'react';
import { ApiError, login, type Session } from '../api.ts';

/** The sign-in form; a refused or throttled login says which, never why in more detail. */
export function LoginPage({ onSignedIn }: { onSignedIn: (session: Session) => void }): ReactNode {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  const submit = (event: FormEvent): void => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    login(username, password).then(
      (session) => {
        setPassword('');
        onSignedIn(session);
      },
      (failure: unknown) => {
        setBusy(false);
        if (failure instanceof ApiError && failure.status === 401) setError('Wrong user name or password.');
        else if (failure instanceof ApiError && failure.status === 429)
          setError('Too many attempts; wait a moment and try again.');
        else setError(failure instanceof Error ? failure.message : String(failure));
      },
    );
  };

  return (
    <main className="login">
      <form onSubmit={submit} aria-labelledby="login-title" className="login-form">
        <h1 id="login-title">Herald console</h1>
        <label>
          User name
          <input
            name="username"
            autoComplete="username"
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            required
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
        </label>
        {error === undefined ? null : (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit" className="button primary" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}
