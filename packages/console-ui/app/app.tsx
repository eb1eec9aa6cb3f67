import { useEffect, useState, type ReactNode } from 'react';
import { canAdminister, currentSession, logout, onUnauthorized, setCsrfToken, type Session } from './api.ts';
import { ErrorNote, SessionContext } from './components.tsx';
import { AuditPage } from './pages/audit.tsx';
import { DeadLettersPage, DeadLetterTopicPage } from './pages/dead-letters.tsx';
import { EventPage } from './pages/event.tsx';
import { GroupPage, GroupsPage } from './pages/groups.tsx';
import { LoginPage } from './pages/login.tsx';
import { OverviewPage } from './pages/overview.tsx';
import { SchemaPage, SchemasPage } from './pages/schemas.tsx';
import { TopicPage, TopicsPage } from './pages/topics.tsx';
import { UsersPage } from './pages/users.tsx';
import { href, useRoute, type Route } from './route.ts';

type SessionState =
  { phase: 'checking' } | { phase: 'signed-out'; error?: Error } | { phase: 'signed-in'; session: Session };

export function App(): ReactNode {
  const [state, setState] = useState<SessionState>({ phase: 'checking' });

  useEffect(() => {
    currentSession().then(
      (session) => {
        setCsrfToken(session?.csrfToken);
        setState(session === undefined ? { phase: 'signed-out' } : { phase: 'signed-in', session });
      },
      (error: unknown) =>
        setState({ phase: 'signed-out', error: error instanceof Error ? error : new Error(String(error)) }),
    );
    return onUnauthorized(() => {
      setCsrfToken(undefined);
      setState({ phase: 'signed-out' });
    });
  }, []);

  if (state.phase === 'checking') return <p className="muted">Loading…</p>;
  if (state.phase === 'signed-out') {
    return (
      <>
        <ErrorNote error={state.error} />
        <LoginPage
          onSignedIn={(session) => {
            setCsrfToken(session.csrfToken);
            setState({ phase: 'signed-in', session });
          }}
        />
      </>
    );
  }
  const signOut = (): void => {
    const done = (): void => {
      setCsrfToken(undefined);
      setState({ phase: 'signed-out' });
    };
    logout().then(done, done);
  };
  return (
    <SessionContext.Provider value={state.session}>
      <Shell session={state.session} onSignOut={signOut} />
    </SessionContext.Provider>
  );
}

const NAV: readonly { readonly path: string; readonly label: string; readonly admin?: boolean }[] = [
  { path: '', label: 'Overview' },
  { path: 'topics', label: 'Topics' },
  { path: 'groups', label: 'Consumer groups' },
  { path: 'dead-letters', label: 'Dead letters' },
  { path: 'schemas', label: 'Schemas' },
  { path: 'audit', label: 'Audit trail' },
  { path: 'users', label: 'Users', admin: true },
];

function Shell({ session, onSignOut }: { session: Session; onSignOut: () => void }): ReactNode {
  const route = useRoute();
  const section = route.segments[0] ?? '';
  const section0 = section === 'events' ? 'topics' : section;
  return (
    <div className="shell">
      <nav aria-label="Console" className="nav">
        <span className="brand">Herald</span>
        <ul>
          {NAV.filter((item) => item.admin !== true || canAdminister(session.user.role)).map((item) => (
            <li key={item.path}>
              <a
                href={href(item.path === '' ? [] : [item.path])}
                aria-current={section0 === item.path ? 'page' : undefined}
              >
                {item.label}
              </a>
            </li>
          ))}
        </ul>
        <div className="who">
          <span data-testid="signed-in-user">{session.user.name}</span>{' '}
          <span className="role" data-testid="signed-in-role">
            {session.user.role}
          </span>
          <button type="button" className="button" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </nav>
      <main className="content">
        <Routed route={route} />
      </main>
    </div>
  );
}

function Routed({ route }: { route: Route }): ReactNode {
  const [section, a, b, c] = route.segments;
  // Keyed by the route's path so a page's state starts afresh on another topic or group.
  const key = route.segments.join('/');
  switch (section) {
    case undefined:
      return <OverviewPage />;
    case 'topics':
      return a === undefined ? <TopicsPage /> : <TopicPage key={key} topic={a} route={route} />;
    case 'events':
      if (a !== undefined && b !== undefined && c !== undefined)
        return <EventPage key={key} topic={a} partition={b} offset={c} />;
      break;
    case 'groups':
      return a === undefined ? <GroupsPage /> : <GroupPage key={key} group={a} />;
    case 'dead-letters':
      return a === undefined ? (
        <DeadLettersPage />
      ) : (
        <DeadLetterTopicPage key={key} topic={a} route={route} />
      );
    case 'schemas':
      return a === undefined ? <SchemasPage /> : <SchemaPage key={key} subject={a} />;
    case 'audit':
      return <AuditPage />;
    case 'users':
      return <UsersPage />;
  }
  return (
    <p role="alert">
      No such page. <a href={href([])}>Overview</a>
    </p>
  );
}
