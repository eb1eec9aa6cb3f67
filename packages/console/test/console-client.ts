// A browser's view of the console for tests: it keeps the session cookie and the CSRF token
// the way the web console does, over real HTTP.
import assert from 'node:assert/strict';

export interface Answer<T = unknown> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

export class ConsoleClient {
  readonly url: string;
  cookie: string | undefined;
  csrfToken: string | undefined;

  constructor(url: string) {
    this.url = url;
  }

  async login(
    username: string,
    password: string,
  ): Promise<Answer<{ user: { name: string; role: string }; csrfToken: string }>> {
    const answer = await this.request<{ user: { name: string; role: string }; csrfToken: string }>(
      'POST',
      '/api/session',
      {
        body: { username, password },
      },
    );
    if (answer.status === 200) {
      const setCookie = answer.headers.get('set-cookie');
      assert.ok(setCookie !== null, 'a login sets the session cookie');
      this.cookie = setCookie.split(';')[0];
      this.csrfToken = answer.body.csrfToken;
    }
    return answer;
  }

  get<T = unknown>(path: string): Promise<Answer<T>> {
    return this.request<T>('GET', path);
  }

  /** A mutation with the session's CSRF token (unless `csrf: false`). */
  send<T = unknown>(
    method: 'POST' | 'PUT' | 'DELETE',
    path: string,
    body?: unknown,
    options: { csrf?: boolean; headers?: Record<string, string> } = {},
  ): Promise<Answer<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.csrf !== false && this.csrfToken !== undefined) headers['x-csrf-token'] = this.csrfToken;
    return this.request<T>(method, path, { body, headers });
  }

  async request<T>(
    method: string,
    path: string,
    options: { body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Answer<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (this.cookie !== undefined) headers['cookie'] = this.cookie;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
    const text = await response.text();
    const type = response.headers.get('content-type') ?? '';
    return {
      status: response.status,
      headers: response.headers,
      body: (type.includes('json') && text !== '' ? JSON.parse(text) : text) as T,
    };
  }
}

/** `answer`'s body when its status is `status`; otherwise fails showing the body. */
export function expectStatus<T>(answer: Answer<T>, status: number): T {
  assert.equal(
    answer.status,
    status,
    `expected ${status}, got ${answer.status}: ${JSON.stringify(answer.body)}`,
  );
  return answer.body;
}
