// Console sessions, kept in the server's memory: the cookie carries only an opaque random id,
// and each session has its own CSRF token (a synchronizer token) that every mutation must send
// back in the `x-csrf-token` header. A restart logs everyone out.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Role } from './users.ts';

/** A logged-in user's session. */
export interface Session {
  readonly user: { readonly name: string; readonly role: Role };
  readonly csrfToken: string;
  /** When it ends unless used again (ms since the epoch). */
  expiresAt: number;
}

/** Sessions by id, ended after `idleMs` without a request and at most `maxSessions` at once. */
export class SessionStore {
  // Keyed by a hash of the id, so the map never holds what a cookie holds.
  readonly #sessions = new Map<string, Session>();
  readonly #idleMs: number;
  readonly #maxSessions: number;
  readonly #now: () => number;

  constructor(options: { idleMs: number; maxSessions?: number; now?: () => number }) {
    this.#idleMs = options.idleMs;
    this.#maxSessions = options.maxSessions ?? 1000;
    this.#now = options.now ?? Date.now;
  }

  /** Opens a session; returns its id (for the cookie) and the session. */
  open(user: Session['user']): { id: string; session: Session } {
    this.#prune();
    if (this.#sessions.size >= this.#maxSessions) {
      const oldest = [...this.#sessions.entries()].sort((a, b) => a[1].expiresAt - b[1].expiresAt)[0];
      if (oldest !== undefined) this.#sessions.delete(oldest[0]);
    }
    const id = randomBytes(32).toString('base64url');
    const session: Session = {
      user,
      csrfToken: randomBytes(32).toString('base64url'),
      expiresAt: this.#now() + this.#idleMs,
    };
    this.#sessions.set(digest(id), session);
    return { id, session };
  }

  /** The live session of `id`, its idle time restarted; undefined when there is none. */
  get(id: string | undefined): Session | undefined {
    if (id === undefined || id === '') return undefined;
    const key = digest(id);
    const session = this.#sessions.get(key);
    if (session === undefined) return undefined;
    if (session.expiresAt <= this.#now()) {
      this.#sessions.delete(key);
      return undefined;
    }
    session.expiresAt = this.#now() + this.#idleMs;
    return session;
  }

  close(id: string | undefined): void {
    if (id !== undefined) this.#sessions.delete(digest(id));
  }

  /** Ends every session of `name` (a user deleted or whose role or password changed). */
  closeUser(name: string): void {
    for (const [key, session] of this.#sessions) if (session.user.name === name) this.#sessions.delete(key);
  }

  #prune(): void {
    const now = this.#now();
    for (const [key, session] of this.#sessions) if (session.expiresAt <= now) this.#sessions.delete(key);
  }
}

function digest(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}

/** Whether `sent` is `expected`, compared in constant time. */
export function sameToken(sent: string | undefined, expected: string): boolean {
  if (sent === undefined) return false;
  const a = createHash('sha256').update(sent).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
