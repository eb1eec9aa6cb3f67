// Pages are addressed by the URL's hash (`#/groups/orders.billing`), so the server serves one
// `index.html` whatever page is open, and a link to a page can be shared.
import { useSyncExternalStore } from 'react';

export interface Route {
  /** The path's segments, decoded: `#/topics/orders` → ['topics', 'orders']. */
  readonly segments: readonly string[];
  /** The hash's query (`#/topics/orders?key=o-1`). */
  readonly query: URLSearchParams;
}

function readHash(): string {
  return window.location.hash.replace(/^#/, '') || '/';
}

function subscribe(onChange: () => void): () => void {
  window.addEventListener('hashchange', onChange);
  return () => window.removeEventListener('hashchange', onChange);
}

export function parseRoute(hash: string): Route {
  const [path = '/', search = ''] = hash.split('?', 2);
  const segments = path
    .split('/')
    .filter((part) => part !== '')
    .map((part) => decodeURIComponent(part));
  return { segments, query: new URLSearchParams(search) };
}

/** The current route; re-renders on navigation. */
export function useRoute(): Route {
  const hash = useSyncExternalStore(subscribe, readHash);
  return parseRoute(hash);
}

/** `#/a/b?x=1` from segments (escaped) and an optional query. */
export function href(
  segments: readonly (string | number)[],
  query?: Record<string, string | undefined>,
): string {
  const path = segments.map((part) => encodeURIComponent(String(part))).join('/');
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== '') search.set(name, value);
  }
  const qs = search.toString();
  return `#/${path}${qs === '' ? '' : `?${qs}`}`;
}

export function navigate(to: string): void {
  window.location.hash = to.replace(/^#/, '');
}
