import { useState, type FormEvent, type ReactNode } from 'react';
import {
  request,
  seg,
  type DeadLetterFilter,
  type DeadLetterPage,
  type DeadLetterPosition,
  type DeadLetterTopic,
  type DeadLetterView,
} from '../api.ts';
import {
  ErrorNote,
  ListTable,
  Loading,
  MutationButton,
  Page,
  rowsOf,
  useTwoStep,
  ValueTable,
} from '../components.tsx';
import { asText, formatNumber, formatTime } from '../format.ts';
import { useResource } from '../hooks.ts';
import { href, navigate, type Route } from '../route.ts';

export function DeadLettersPage(): ReactNode {
  const topics = useResource(() => request<DeadLetterTopic[]>('dead-letters'), 'dead-letters', 3000);
  return (
    <Page title="Dead letters">
      <ErrorNote error={topics.error} />
      <Loading loading={topics.loading} />
      <ListTable
        label="Dead-letter topics"
        rows={topics.data}
        rowKey={(topic) => topic.topic}
        rowTestId={(topic) => `dead-letter-topic-${topic.topic}`}
        empty="No dead-letter topics."
        columns={[
          {
            header: 'Dead-letter topic',
            cell: (topic) => <a href={href(['dead-letters', topic.topic])}>{topic.topic}</a>,
          },
          { header: 'From topics', cell: (topic) => topic.originTopics.join(', ') },
          { header: 'Entries', numeric: true, cell: (topic) => formatNumber(topic.entries) },
        ]}
      />
    </Page>
  );
}

type Action = 'redrive' | 'discard';
/** What a mutation is applied to: the ticked entries, or every entry the filter matches. */
type Scope = { readonly positions: DeadLetterPosition[] } | { readonly filter: DeadLetterFilter };
interface Pending {
  readonly action: Action;
  readonly scope: Scope;
  readonly label: string;
}

const positionOf = (entry: DeadLetterView): DeadLetterPosition => ({
  partition: entry.partition,
  offset: Number(entry.offset),
  expectedCount: entry.redrives,
});
const idOf = (entry: { partition: number; offset: number | string }): string =>
  `${entry.partition}/${entry.offset}`;

export function DeadLetterTopicPage({ topic, route }: { topic: string; route: Route }): ReactNode {
  const filter: DeadLetterFilter = {};
  for (const name of ['group', 'code', 'type'] as const) {
    const value = route.query.get(name);
    if (value !== null && value !== '') filter[name] = value;
  }
  const [form, setForm] = useState<DeadLetterFilter>(filter);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [pending, setPending] = useState<Pending | undefined>(undefined);
  const filterKey = JSON.stringify(filter);
  const entries = useResource(
    () => request<DeadLetterPage>(`dead-letters/${seg(topic)}`, { query: { ...filter, limit: 200 } }),
    `dl:${topic}:${filterKey}`,
    3000,
  );

  const mutation = useTwoStep<unknown, Pending>(
    (subject, dryRun, idempotencyKey) =>
      request<unknown>(`dead-letters/${seg(topic)}/${subject.action}`, {
        method: 'POST',
        body: { ...subject.scope, dryRun },
        headers: dryRun ? {} : { 'idempotency-key': idempotencyKey },
      }),
    () => {
      setSelected(new Set());
      entries.reload();
    },
  );

  const start = (action: Action, scope: Scope, label: string): void => {
    const subject = { action, scope, label };
    setPending(subject);
    mutation.dryRun(subject);
  };

  const chosen = (entries.data?.entries ?? []).filter((entry) => selected.has(idOf(entry)));
  const busy = mutation.phase === 'planning' || mutation.phase === 'applying' || mutation.phase === 'planned';

  const submit = (event: FormEvent): void => {
    event.preventDefault();
    setSelected(new Set());
    navigate(href(['dead-letters', topic], { ...form }));
  };

  const toggle = (id: string): void => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSelected(next);
  };

  return (
    <Page title={`Dead letters in ${topic}`}>
      <form className="filters" onSubmit={submit} aria-label="Filter dead letters">
        {(['group', 'code', 'type'] as const).map((name) => (
          <label key={name}>
            {name === 'group' ? 'Group' : name === 'code' ? 'Error code' : 'Event type'}
            <input
              name={name}
              value={form[name] ?? ''}
              onChange={(e) => setForm({ ...form, [name]: e.target.value })}
            />
          </label>
        ))}
        <button type="submit" className="button primary">
          Filter
        </button>
      </form>
      <div className="actions">
        <MutationButton
          disabled={busy || chosen.length === 0}
          onClick={() =>
            start('redrive', { positions: chosen.map(positionOf) }, `Redrive ${chosen.length} selected`)
          }
          testId="redrive-selected"
        >
          Redrive selected ({chosen.length})
        </MutationButton>
        <MutationButton
          disabled={busy || chosen.length === 0}
          onClick={() =>
            start('discard', { positions: chosen.map(positionOf) }, `Discard ${chosen.length} selected`)
          }
          testId="discard-selected"
        >
          Discard selected ({chosen.length})
        </MutationButton>
        <MutationButton
          disabled={busy}
          onClick={() => start('redrive', { filter }, 'Redrive all matching the filter')}
          testId="redrive-matching"
        >
          Redrive all matching
        </MutationButton>
        <MutationButton
          disabled={busy}
          onClick={() => start('discard', { filter }, 'Discard all matching the filter')}
          testId="discard-matching"
        >
          Discard all matching
        </MutationButton>
      </div>
      {pending === undefined || mutation.phase === 'idle' ? null : (
        <section className="panel" aria-label="Dead-letter action" data-testid="dead-letter-action">
          <h2>
            {pending.label}: {mutation.phase === 'applied' ? 'done' : 'dry run'}
          </h2>
          {mutation.phase === 'planning' ? <p className="muted">Asking for a dry run…</p> : null}
          {mutation.plan === undefined ? null : (
            <div data-testid="dead-letter-plan">
              <Outcome answer={mutation.plan} label="Dry-run outcomes" />
              <MutationButton
                kind="danger"
                onClick={mutation.confirm}
                disabled={mutation.phase === 'applying'}
                testId="dead-letter-confirm"
              >
                Confirm {pending.action}
              </MutationButton>{' '}
              <button type="button" className="button" onClick={mutation.cancel}>
                Cancel
              </button>
            </div>
          )}
          {mutation.result === undefined ? null : (
            <div data-testid="dead-letter-result" role="status">
              <Outcome answer={mutation.result} label="Outcomes" />
            </div>
          )}
        </section>
      )}
      <ErrorNote error={mutation.error} />
      <ErrorNote error={entries.error} />
      <Loading loading={entries.loading} />
      {entries.data === undefined ? null : entries.data.entries.length === 0 ? (
        <p className="muted" data-testid="no-dead-letters">
          No entries.
        </p>
      ) : (
        <table aria-label="Dead letters">
          <thead>
            <tr>
              <th>
                <input
                  type="checkbox"
                  aria-label="Select all"
                  checked={chosen.length > 0 && chosen.length === entries.data.entries.length}
                  onChange={(e) =>
                    setSelected(new Set(e.target.checked ? entries.data?.entries.map(idOf) : []))
                  }
                />
              </th>
              <th>Position</th>
              <th>Type</th>
              <th>Key</th>
              <th>Group</th>
              <th>Code</th>
              <th>Error</th>
              <th className="num">Attempts</th>
              <th>Last failure</th>
              <th>Original</th>
              <th className="num">Redrives</th>
              <th>State</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {entries.data.entries.map((entry) => (
              <tr
                key={idOf(entry)}
                data-testid="dead-letter-row"
                data-event-id={entry.eventId}
                data-key={entry.key ?? ''}
              >
                <td>
                  <input
                    type="checkbox"
                    aria-label={`Select ${idOf(entry)}`}
                    checked={selected.has(idOf(entry))}
                    onChange={() => toggle(idOf(entry))}
                  />
                </td>
                <td>
                  <a href={href(['events', topic, entry.partition, entry.offset])}>{idOf(entry)}</a>
                </td>
                <td>{entry.type}</td>
                <td>{entry.key ?? '—'}</td>
                <td>{entry.group ?? '—'}</td>
                <td>{entry.code ?? '—'}</td>
                <td className="wrap">{entry.error ?? '—'}</td>
                <td className="num">{entry.attempts ?? '—'}</td>
                <td>{formatTime(entry.lastFailure)}</td>
                <td>
                  {entry.original.partition === undefined || entry.original.offset === undefined ? (
                    entry.original.topic
                  ) : (
                    <a
                      href={href([
                        'events',
                        entry.original.topic,
                        entry.original.partition,
                        entry.original.offset,
                      ])}
                    >
                      {entry.original.topic}/{entry.original.partition}/{entry.original.offset}
                    </a>
                  )}
                </td>
                <td className="num">{entry.redrives}</td>
                <td data-testid="dead-letter-state">
                  {entry.discarded ? 'discarded' : entry.redrives > 0 ? 'redriven' : 'parked'}
                </td>
                <td>
                  <MutationButton
                    disabled={busy || entry.discarded}
                    onClick={() =>
                      start('redrive', { positions: [positionOf(entry)] }, `Redrive ${idOf(entry)}`)
                    }
                    testId="redrive-one"
                  >
                    Redrive
                  </MutationButton>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}

/** A redrive or discard answer: a table of its outcomes when it has a list, its text otherwise. */
function Outcome({ answer, label }: { answer: unknown; label: string }): ReactNode {
  const rows = rowsOf(answer);
  if (rows !== undefined) return <ValueTable rows={rows} label={label} />;
  return (
    <pre className="text-block" aria-label={label}>
      {asText(answer)}
    </pre>
  );
}
