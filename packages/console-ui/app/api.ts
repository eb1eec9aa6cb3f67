// The console's one way to the admin API (docs/console.md, "Admin API (v1)"). Paths are relative
// (`api/…`), so the console works wherever the server mounts it. The session cookie travels by
// itself (same origin); the CSRF token the session answered with goes on every mutation.

/** The signed-in user, as `GET/POST /api/session` answer it. */
export interface SessionUser {
  readonly name: string;
  readonly role: Role;
}
export type Role = 'viewer' | 'operator' | 'admin';
export interface Session {
  readonly user: SessionUser;
  readonly csrfToken: string;
}

/** A refused or failed request: the server's RFC 9457 problem document, kept whole. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string | undefined;
  readonly problem: Record<string, unknown>;
  constructor(status: number, problem: Record<string, unknown>) {
    const title = typeof problem['title'] === 'string' ? problem['title'] : `HTTP ${status}`;
    const detail = typeof problem['detail'] === 'string' ? `: ${problem['detail']}` : '';
    super(`${title}${detail}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = typeof problem['code'] === 'string' ? problem['code'] : undefined;
    this.problem = problem;
  }
}

let csrfToken: string | undefined;
const unauthorizedListeners = new Set<() => void>();

/** Remembers the CSRF token of the current session (undefined after a logout). */
export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

/** Calls `listener` whenever a request answers 401: the session ended (expired, logged out elsewhere). */
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

export interface RequestOptions {
  readonly method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly body?: unknown;
  readonly query?: Record<string, string | number | undefined>;
  readonly headers?: Record<string, string>;
  /** Whether a 401 means "the session ended" (every call but the login itself). */
  readonly sessionBound?: boolean;
}

/** `api/<path>?<query>`: query entries that are undefined or '' are left out. */
export function apiPath(path: string, query: RequestOptions['query'] = {}): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== '') search.set(name, String(value));
  }
  const qs = search.toString();
  return `api/${path.replace(/^\/+/, '')}${qs === '' ? '' : `?${qs}`}`;
}

/** A path segment, escaped (topic and group names may hold `/` or `#`). */
export const seg = (value: string | number): string => encodeURIComponent(String(value));

/**
 * Sends one request and answers its JSON body (undefined for an empty one). A mutation carries
 * `x-csrf-token`; a non-2xx answer throws `ApiError` with the problem document.
 */
export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const method = options.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken !== undefined) headers['x-csrf-token'] = csrfToken;
  const response = await fetch(apiPath(path, options.query), {
    method,
    headers,
    credentials: 'same-origin',
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await response.text();
  let body: unknown = undefined;
  if (text !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      body = { title: text.slice(0, 200) };
    }
  }
  if (!response.ok) {
    if (response.status === 401 && options.sessionBound !== false) {
      for (const listener of unauthorizedListeners) listener();
    }
    const problem = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    throw new ApiError(response.status, problem);
  }
  return body as T;
}

/** The signed-in session, or undefined when there is none (401). */
export async function currentSession(): Promise<Session | undefined> {
  try {
    return await request<Session>('session', { sessionBound: false });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return undefined;
    throw error;
  }
}

export function login(username: string, password: string): Promise<Session> {
  return request<Session>('session', { method: 'POST', body: { username, password }, sessionBound: false });
}

export function logout(): Promise<void> {
  return request<void>('session', { method: 'DELETE', sessionBound: false });
}

/** What the console's roles may do; the server decides anyway. */
export const canOperate = (role: Role): boolean => role === 'operator' || role === 'admin';
export const canAdminister = (role: Role): boolean => role === 'admin';

// The API's views (docs/console.md). Fields the contract leaves open are typed loosely and shown
// as they come.

export interface EventView {
  topic: string;
  partition: number;
  offset: number | string;
  timestamp: string | number;
  id: string;
  type: string;
  source: string;
  subject?: string;
  time?: string;
  key?: string;
  extensions?: Record<string, unknown>;
  dataContentType?: string;
  data: string;
  dataEncoding: 'utf8' | 'base64';
}

export interface EventPage {
  events: EventView[];
  next?: string | null;
  scanned?: number;
}

export interface EventDetail {
  event: EventView;
  causedBy: EventView[];
  caused: EventView[];
}

export interface TopicSummary {
  name: string;
  partitions: number;
  events: number;
  retention: { ms?: number | null; bytes?: number | null } | null;
  rateIn: number;
  rateOut: number;
}

export interface TopicDetail {
  name: string;
  retention: TopicSummary['retention'];
  rateIn: number;
  rateOut: number;
  partitions: {
    partition: number;
    earliest: number | string;
    latest: number | string;
    lastTimestamp?: string | number | null;
  }[];
}

export interface GroupSummary {
  group: string;
  state: string;
  members: number | unknown[];
  lag: number;
  lagSeconds: number | null;
}

export interface GroupPartition {
  topic: string;
  partition: number;
  committed: number | string | null;
  latest: number | string;
  lag: number;
  lagSeconds: number | null;
}

export interface GroupDetail {
  group: string;
  state: string;
  members: {
    memberId: string;
    clientId?: string;
    lastHeartbeat?: string | number | null;
    partitions?: unknown;
  }[];
  partitions: GroupPartition[];
}

export interface LagSample {
  at: string | number;
  lag: number;
  lagSeconds: number | null;
}

export interface ResetPlanStep {
  topic: string;
  partition: number;
  from: number | string | null;
  to: number | string;
}
export interface ResetAnswer {
  plan: ResetPlanStep[];
  applied: boolean;
}
export type ResetTarget =
  | 'earliest'
  | 'latest'
  | { timestamp: string }
  | { offsets: { topic: string; partition: number; offset: number }[] };

export interface DeadLetterTopic {
  topic: string;
  originTopics: string[];
  entries: number;
}

export interface DeadLetterView {
  partition: number;
  offset: number | string;
  eventId: string;
  type: string;
  key?: string;
  group?: string;
  error?: string;
  code?: string;
  attempts?: number;
  firstFailure?: string;
  lastFailure?: string;
  original: { topic: string; partition?: number; offset?: number | string };
  redrives: number;
  discarded: boolean;
}

export interface DeadLetterPage {
  entries: DeadLetterView[];
  next?: string | null;
}

export interface DeadLetterPosition {
  partition: number;
  offset: number;
  expectedCount?: number;
}

export interface DeadLetterFilter {
  group?: string;
  code?: string;
  type?: string;
}

export interface SchemaSubject {
  subject: string;
  versions: number[] | number;
  compatibility: string;
}

export interface AuditView {
  at: string;
  actor: string;
  role?: string;
  action: string;
  target: unknown;
  before?: unknown;
  after?: unknown;
  outcome: string;
  reason?: string;
}

export interface AuditPage {
  entries: AuditView[];
  next?: string | null;
}

export interface UserView {
  name: string;
  role: Role;
}
