import { useState, type FormEvent, type ReactNode } from 'react';
import { request, seg, type EventPage, type EventView, type TopicDetail, type TopicSummary } from '../api.ts';
import { ErrorNote, Loading, Page } from '../components.tsx';
import { formatBytes, formatDuration, formatNumber, formatTime } from '../format.ts';
import { useResource } from '../hooks.ts';
import { href, navigate, type Route } from '../route.ts';

function Retention({ retention }: { retention: TopicSummary['retention'] }): ReactNode {
  if (retention === null || retention === undefined) return <>kept forever</>;
  return (
    <>
      {formatDuration(retention.ms ?? null)} / {formatBytes(retention.bytes ?? null)}
    </>
  );
}

export function TopicsPage(): ReactNode {
  const topics = useResource(() => request<TopicSummary[]>('topics'), 'topics', 3000);
  return (
    <Page title="Topics">
      <ErrorNote error={topics.error} />
      <Loading loading={topics.loading} />
      {topics.data === undefined ? null : (
        <table aria-label="Topics">
          <thead>
            <tr>
              <th>Topic</th>
              <th className="num">Partitions</th>
              <th className="num">Events</th>
              <th>Retention (time / size)</th>
              <th className="num">In (events/s)</th>
              <th className="num">Out (events/s)</th>
            </tr>
          </thead>
          <tbody>
            {topics.data.map((topic) => (
              <tr key={topic.name} data-testid={`topic-row-${topic.name}`}>
                <td>
                  <a href={href(['topics', topic.name])}>{topic.name}</a>
                </td>
                <td className="num">{topic.partitions}</td>
                <td className="num">{formatNumber(topic.events)}</td>
                <td>
                  <Retention retention={topic.retention} />
                </td>
                <td className="num">{formatNumber(topic.rateIn, 2)}</td>
                <td className="num">{formatNumber(topic.rateOut, 2)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}

/** The browser's search, as it sits in the page's URL (so a search can be linked to). */
const SEARCH_FIELDS = [
  'partition',
  'offset',
  'from',
  'key',
  'type',
  'attrName',
  'attrValue',
  'text',
  'limit',
] as const;
type Search = Partial<Record<(typeof SEARCH_FIELDS)[number], string>>;

function searchOf(route: Route): Search {
  const search: Search = {};
  for (const field of SEARCH_FIELDS) {
    const value = route.query.get(field);
    if (value !== null && value !== '') search[field] = value;
  }
  return search;
}

function toQuery(search: Search, next: string | undefined): Record<string, string | undefined> {
  const query: Record<string, string | undefined> = {
    partition: search.partition,
    offset: search.offset,
    from: search.from === undefined ? undefined : new Date(search.from).toISOString(),
    key: search.key,
    type: search.type,
    text: search.text,
    limit: search.limit ?? '50',
    cursor: next,
  };
  if (search.attrName !== undefined && search.attrValue !== undefined)
    query[`attr.${search.attrName}`] = search.attrValue;
  return query;
}

export function TopicPage({ topic, route }: { topic: string; route: Route }): ReactNode {
  const detail = useResource(() => request<TopicDetail>(`topics/${seg(topic)}`), `topic:${topic}`, 3000);
  const search = searchOf(route);
  return (
    <Page title={`Topic ${topic}`}>
      <ErrorNote error={detail.error} />
      <Loading loading={detail.loading} />
      {detail.data === undefined ? null : (
        <>
          <p>
            Retention: <Retention retention={detail.data.retention} /> · in{' '}
            {formatNumber(detail.data.rateIn, 2)} events/s · out {formatNumber(detail.data.rateOut, 2)}{' '}
            events/s
          </p>
          <table aria-label="Partitions">
            <thead>
              <tr>
                <th className="num">Partition</th>
                <th className="num">Earliest offset</th>
                <th className="num">Latest offset</th>
                <th>Last event at</th>
              </tr>
            </thead>
            <tbody>
              {detail.data.partitions.map((partition) => (
                <tr key={partition.partition}>
                  <td className="num">{partition.partition}</td>
                  <td className="num">{formatNumber(partition.earliest)}</td>
                  <td className="num">{formatNumber(partition.latest)}</td>
                  <td>{formatTime(partition.lastTimestamp)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <MessageBrowser topic={topic} search={search} />
    </Page>
  );
}

function MessageBrowser({ topic, search }: { topic: string; search: Search }): ReactNode {
  const [form, setForm] = useState<Search>(search);
  const [pages, setPages] = useState<string[]>([]);
  const next = pages.at(-1);
  const searchKey = JSON.stringify(search);
  const results = useResource(
    () => request<EventPage>(`topics/${seg(topic)}/events`, { query: toQuery(search, next) }),
    `events:${topic}:${searchKey}:${next ?? ''}`,
  );

  const field = (name: keyof Search, label: string, type = 'text', placeholder?: string): ReactNode => (
    <label>
      {label}
      <input
        name={name}
        type={type}
        value={form[name] ?? ''}
        placeholder={placeholder}
        onChange={(e) => setForm({ ...form, [name]: e.target.value })}
      />
    </label>
  );

  const submit = (event: FormEvent): void => {
    event.preventDefault();
    setPages([]);
    navigate(href(['topics', topic], form));
  };

  return (
    <section aria-labelledby="browser-title">
      <h2 id="browser-title">Events</h2>
      <form className="filters" onSubmit={submit} aria-label="Search events">
        {field('partition', 'Partition', 'number')}
        {field('offset', 'From offset', 'number')}
        {field('from', 'From time', 'datetime-local')}
        {field('key', 'Key')}
        {field('type', 'Type')}
        {field('attrName', 'Attribute', 'text', 'e.g. traceparent')}
        {field('attrValue', 'Attribute value')}
        {field('text', 'Text in data')}
        {field('limit', 'Limit', 'number', '50')}
        <button type="submit" className="button primary">
          Search
        </button>
        <button
          type="button"
          className="button"
          onClick={() => {
            setForm({});
            setPages([]);
            navigate(href(['topics', topic]));
          }}
        >
          Clear
        </button>
      </form>
      <ErrorNote error={results.error} />
      <Loading loading={results.loading} />
      {results.data === undefined ? null : (
        <>
          <EventTable events={results.data.events} label="Events found" />
          <p className="muted">
            {results.data.events.length} shown
            {results.data.scanned === undefined ? '' : `, ${formatNumber(results.data.scanned)} scanned`}.
          </p>
          <div className="pager">
            {pages.length > 0 ? (
              <button type="button" className="button" onClick={() => setPages(pages.slice(0, -1))}>
                Previous
              </button>
            ) : null}
            {results.data.next === undefined || results.data.next === null ? null : (
              <button
                type="button"
                className="button"
                onClick={() => setPages([...pages, String(results.data?.next)])}
              >
                Next
              </button>
            )}
          </div>
        </>
      )}
    </section>
  );
}

/** A list of events, each a link to its page (attributes, data, causation). */
export function EventTable({ events, label }: { events: readonly EventView[]; label: string }): ReactNode {
  if (events.length === 0) return <p className="muted">No events.</p>;
  return (
    <table aria-label={label}>
      <thead>
        <tr>
          <th>Topic</th>
          <th className="num">Partition</th>
          <th className="num">Offset</th>
          <th>Time</th>
          <th>Type</th>
          <th>Key</th>
          <th>Id</th>
        </tr>
      </thead>
      <tbody>
        {events.map((event) => (
          <tr key={`${event.topic}/${event.partition}/${event.offset}`} data-testid="event-row">
            <td>{event.topic}</td>
            <td className="num">{event.partition}</td>
            <td className="num">
              <a href={href(['events', event.topic, event.partition, event.offset])}>{event.offset}</a>
            </td>
            <td>{formatTime(event.time ?? event.timestamp)}</td>
            <td>{event.type}</td>
            <td>{event.key ?? '—'}</td>
            <td className="mono">{event.id}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
