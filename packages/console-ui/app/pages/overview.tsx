import type { ReactNode } from 'react';
import { request, type DeadLetterTopic, type GroupSummary } from '../api.ts';
import { ErrorNote, ListTable, Loading, Page } from '../components.tsx';
import { asLine, formatNumber, formatSeconds } from '../format.ts';
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

/** Groups shown on the overview: the ones most behind. */
const LAGGING_SHOWN = 8;

export function OverviewPage(): ReactNode {
  const overview = useResource(() => request<Overview>('overview'), 'overview', 2000);
  const groups = useResource(() => request<GroupSummary[]>('groups'), 'overview-groups', 2000);
  const deadLetters = useResource(
    () => request<DeadLetterTopic[]>('dead-letters'),
    'overview-dead-letters',
    3000,
  );
  const data = overview.data;
  const lagging = [...(groups.data ?? [])].sort((a, b) => b.lag - a.lag).slice(0, LAGGING_SHOWN);
  const parked = (deadLetters.data ?? []).filter((topic) => topic.entries > 0);
  return (
    <Page title="Overview">
      <ErrorNote error={overview.error ?? groups.error ?? deadLetters.error} />
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
        </>
      )}
      {lagging.length === 0 ? null : (
        <>
          <h2>Groups, most behind first</h2>
          <ListTable
            label="Groups most behind"
            rows={lagging}
            rowKey={(group) => group.group}
            columns={[
              { header: 'Group', cell: (group) => <a href={href(['groups', group.group])}>{group.group}</a> },
              { header: 'State', cell: (group) => group.state },
              { header: 'Lag (events)', numeric: true, cell: (group) => formatNumber(group.lag) },
              { header: 'Lag (time)', numeric: true, cell: (group) => formatSeconds(group.lagSeconds) },
            ]}
          />
        </>
      )}
      {parked.length === 0 ? null : (
        <>
          <h2>Dead letters</h2>
          <ListTable
            label="Dead letters by topic"
            rows={parked}
            rowKey={(topic) => topic.topic}
            columns={[
              {
                header: 'Dead-letter topic',
                cell: (topic) => <a href={href(['dead-letters', topic.topic])}>{topic.topic}</a>,
              },
              { header: 'Entries', numeric: true, cell: (topic) => formatNumber(topic.entries) },
            ]}
          />
        </>
      )}
    </Page>
  );
}
