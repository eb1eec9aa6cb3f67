import { useState, type FormEvent, type ReactNode } from 'react';
import { request, seg, type EventPage, type EventView, type TopicDetail, type TopicSummary } from '../api.ts';
import { ErrorNote, ListTable, Loading, Page } from '../components.tsx';
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
      <ListTable
        label="Topics"
        rows={topics.data}
        rowKey={(topic) => topic.name}
        rowTestId={(topic) => `topic-row-${topic.name}`}
        columns={[
          { header: 'Topic', cell: (topic) => <a href={href(['topics', topic.name])}>{topic.name}</a> },
          { header: 'Partitions', numeric: true, cell: (topic) => topic.partitions },
          { header: 'Events', numeric: true, cell: (topic) => formatNumber(topic.events) },
          { header: 'Retention (time / size)', cell: (topic) => <Retention retention={topic.retention} /> },
          { header: 'In (events/s)', numeric: true, cell: (topic) => formatNumber(topic.rateIn, 2) },
          { header: 'Out (events/s)', numeric: true, cell: (topic) => formatNumber(topic.rateOut, 2) },
        ]}
      />
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
          <ListTable
            label="Partitions"
            rows={detail.data.partitions}
            rowKey={(partition) => partition.partition}
            columns={[
              { header: 'Partition', numeric: true, cell: (partition) => partition.partition },
              {
                header: 'Earliest offset',
                numeric: true,
                cell: (partition) => formatNumber(partition.earliest),
              },
              { header: 'Latest offset', numeric: true, cell: (partition) => formatNumber(partition.latest) },
              { header: 'Last event at', cell: (partition) => formatTime(partition.lastTimestamp) },
            ]}
          />
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
  return (
    <ListTable
      label={label}
      rows={events}
      rowKey={(event) => `${event.topic}/${event.partition}/${event.offset}`}
      rowTestId={() => 'event-row'}
      empty="No events."
      columns={[
        { header: 'Topic', cell: (event) => event.topic },
        { header: 'Partition', numeric: true, cell: (event) => event.partition },
        {
          header: 'Offset',
          numeric: true,
          cell: (event) => (
            <a href={href(['events', event.topic, event.partition, event.offset])}>{event.offset}</a>
          ),
        },
        { header: 'Time', cell: (event) => formatTime(event.time ?? event.timestamp) },
        { header: 'Type', cell: (event) => event.type },
        { header: 'Key', cell: (event) => event.key ?? '—' },
        { header: 'Id', className: 'mono', cell: (event) => event.id },
      ]}
    />
  );
}
