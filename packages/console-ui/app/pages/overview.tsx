import type { ReactNode } from 'react';
import { request } from '../api.ts';
import { ErrorNote, Loading, Page } from '../components.tsx';
import { asLine, formatNumber } from '../format.ts';
import { useResource } from '../hooks.ts';
import { href } from '../route.ts';

interface Overview {
  backend: { system: string; [field: string]: unknown };
  topics: unknown;
  groups: unknown;
  deadLetters: unknown;
}

/** A count from a field the contract leaves open: a number, a list, or an object with a count. */
function countOf(value: unknown): string {
  if (typeof value === 'number') return formatNumber(value);
  if (Array.isArray(value)) return formatNumber(value.length);
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    for (const name of ['count', 'total', 'entries']) {
      if (typeof record[name] === 'number') return formatNumber(record[name]);
    }
  }
  return asLine(value);
}

function details(value: unknown): [string, string][] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  return Object.entries(value as Record<string, unknown>).map(([name, v]) => [name, asLine(v)]);
}

export function OverviewPage(): ReactNode {
  const overview = useResource(() => request<Overview>('overview'), 'overview', 2000);
  const data = overview.data;
  return (
    <Page title="Overview">
      <ErrorNote error={overview.error} />
      <Loading loading={overview.loading} />
      {data === undefined ? null : (
        <>
          <p>
            Backend: <strong data-testid="backend-system">{data.backend.system}</strong>
          </p>
          <div className="cards">
            <a className="card" href={href(['topics'])} data-testid="overview-topics">
              <span className="card-value">{countOf(data.topics)}</span>
              <span className="card-label">topics</span>
            </a>
            <a className="card" href={href(['groups'])} data-testid="overview-groups">
              <span className="card-value">{countOf(data.groups)}</span>
              <span className="card-label">consumer groups</span>
            </a>
            <a className="card" href={href(['dead-letters'])} data-testid="overview-dead-letters">
              <span className="card-value">{countOf(data.deadLetters)}</span>
              <span className="card-label">dead letters</span>
            </a>
          </div>
          {[
            ['Backend', data.backend] as const,
            ['Topics', data.topics] as const,
            ['Groups', data.groups] as const,
            ['Dead letters', data.deadLetters] as const,
          ].map(([title, value]) => {
            const rows = details(value).filter(([name]) => name !== 'system' || title !== 'Backend');
            return rows.length === 0 ? null : (
              <table key={title} aria-label={`${title} details`} className="compact">
                <caption>{title}</caption>
                <tbody>
                  {rows.map(([name, text]) => (
                    <tr key={name}>
                      <th scope="row">{name}</th>
                      <td>{text}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            );
          })}
        </>
      )}
    </Page>
  );
}
