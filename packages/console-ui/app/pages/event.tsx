import type { ReactNode } from 'react';
import { request, seg, type EventDetail, type EventView } from '../api.ts';
import { ErrorNote, Loading, Page, TextBlock } from '../components.tsx';
import { asLine, dataAsText, formatTime } from '../format.ts';
import { useResource } from '../hooks.ts';
import { href } from '../route.ts';
import { EventTable } from './topics.tsx';

/** One event: its CloudEvents attributes and extensions, its data as text, and its causation. */
export function EventPage({
  topic,
  partition,
  offset,
}: {
  topic: string;
  partition: string;
  offset: string;
}): ReactNode {
  const detail = useResource(
    () => request<EventDetail>(`events/${seg(topic)}/${seg(partition)}/${seg(offset)}`),
    `event:${topic}/${partition}/${offset}`,
  );
  return (
    <Page title={`Event ${topic} / ${partition} / ${offset}`}>
      <ErrorNote error={detail.error} />
      <Loading loading={detail.loading} />
      {detail.data === undefined ? null : (
        <>
          <Attributes event={detail.data.event} />
          <EventData event={detail.data.event} />
          <h2>Caused by</h2>
          <EventTable events={detail.data.causedBy} label="Caused by" />
          <h2>Caused</h2>
          <EventTable events={detail.data.caused} label="Caused" />
          <p>
            <a href={href(['topics', topic])}>Back to topic {topic}</a>
          </p>
        </>
      )}
    </Page>
  );
}

function Attributes({ event }: { event: EventView }): ReactNode {
  const rows: [string, string][] = [
    ['id', event.id],
    ['type', event.type],
    ['source', event.source],
    ['subject', event.subject ?? '—'],
    ['time', event.time ?? '—'],
    ['datacontenttype', event.dataContentType ?? '—'],
    ['key', event.key ?? '—'],
    ['stored at', formatTime(event.timestamp)],
  ];
  const extensions = Object.entries(event.extensions ?? {});
  return (
    <>
      <h2>Attributes</h2>
      <table aria-label="Attributes" className="compact" data-testid="event-attributes">
        <tbody>
          {rows.map(([name, value]) => (
            <tr key={name}>
              <th scope="row">{name}</th>
              <td className="mono">{value}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Extensions</h2>
      {extensions.length === 0 ? (
        <p className="muted">None.</p>
      ) : (
        <table aria-label="Extensions" className="compact">
          <tbody>
            {extensions.map(([name, value]) => (
              <tr key={name}>
                <th scope="row">{name}</th>
                <td className="mono">{asLine(value)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function EventData({ event }: { event: EventView }): ReactNode {
  const { text, note } = dataAsText(event.data, event.dataEncoding, event.dataContentType);
  return (
    <>
      <h2>Data</h2>
      {note === undefined ? null : <p className="muted">{note}</p>}
      <TextBlock text={text} label="Event data" testId="event-data" />
    </>
  );
}
