import { useState, type ReactNode } from 'react';
import { request, seg, type SchemaSubject } from '../api.ts';
import { ErrorNote, ListTable, Loading, Page, TextBlock, ValueTable } from '../components.tsx';
import { asText } from '../format.ts';
import { useResource } from '../hooks.ts';
import { href } from '../route.ts';

/** A subject's versions, whether the API lists them or counts them (then they are 1…n). */
function versionList(versions: SchemaSubject['versions']): number[] {
  if (Array.isArray(versions)) return versions;
  return Array.from({ length: versions }, (_, index) => index + 1);
}

export function SchemasPage(): ReactNode {
  const subjects = useResource(() => request<SchemaSubject[]>('schemas'), 'schemas');
  return (
    <Page title="Schemas">
      <ErrorNote error={subjects.error} />
      <Loading loading={subjects.loading} />
      <ListTable
        label="Schema subjects"
        rows={subjects.data}
        rowKey={(subject) => subject.subject}
        empty="No schemas registered."
        columns={[
          {
            header: 'Subject',
            cell: (subject) => <a href={href(['schemas', subject.subject])}>{subject.subject}</a>,
          },
          { header: 'Versions', cell: (subject) => versionList(subject.versions).join(', ') },
          { header: 'Compatibility', cell: (subject) => subject.compatibility },
        ]}
      />
    </Page>
  );
}

export function SchemaPage({ subject }: { subject: string }): ReactNode {
  const subjects = useResource(() => request<SchemaSubject[]>('schemas'), 'schemas');
  const entry = subjects.data?.find((s) => s.subject === subject);
  const versions = entry === undefined ? [] : versionList(entry.versions);
  const latest = versions.at(-1);
  const [shown, setShown] = useState<number | undefined>(undefined);
  const [from, setFrom] = useState<number | undefined>(undefined);
  const [to, setTo] = useState<number | undefined>(undefined);
  const version = shown ?? latest;
  const diffFrom = from ?? versions.at(-2) ?? latest;
  const diffTo = to ?? latest;

  const schema = useResource(
    () =>
      version === undefined
        ? Promise.resolve(undefined)
        : request<unknown>(`schemas/${seg(subject)}/versions/${seg(version)}`),
    `schema:${subject}:${version ?? ''}`,
  );
  const diff = useResource(
    () =>
      diffFrom === undefined || diffTo === undefined || diffFrom === diffTo
        ? Promise.resolve(undefined)
        : request<unknown>(`schemas/${seg(subject)}/diff`, { query: { from: diffFrom, to: diffTo } }),
    `diff:${subject}:${diffFrom ?? ''}:${diffTo ?? ''}`,
  );

  const versionSelect = (
    name: string,
    label: string,
    value: number | undefined,
    set: (v: number) => void,
  ): ReactNode => (
    <label>
      {label}
      <select name={name} value={value ?? ''} onChange={(e) => set(Number(e.target.value))}>
        {versions.map((v) => (
          <option key={v} value={v}>
            {v}
          </option>
        ))}
      </select>
    </label>
  );

  return (
    <Page title={`Schema ${subject}`}>
      <ErrorNote error={subjects.error} />
      <Loading loading={subjects.loading} />
      {entry === undefined ? null : (
        <>
          <p>
            Compatibility: <strong>{entry.compatibility}</strong>
          </p>
          <div className="filters">{versionSelect('version', 'Version', version, setShown)}</div>
          <ErrorNote error={schema.error} />
          {schema.data === undefined ? null : <SchemaVersion answer={schema.data} />}
          <h2>Diff</h2>
          {versions.length < 2 ? (
            <p className="muted">Only one version.</p>
          ) : (
            <>
              <div className="filters">
                {versionSelect('diff-from', 'From version', diffFrom, setFrom)}
                {versionSelect('diff-to', 'To version', diffTo, setTo)}
              </div>
              <ErrorNote error={diff.error} />
              {diff.data === undefined ? (
                <p className="muted">Pick two different versions.</p>
              ) : (
                <Diff diff={diff.data} />
              )}
            </>
          )}
        </>
      )}
    </Page>
  );
}

/** A version as the API answers it: its facts, then the schema itself as indented text. */
function SchemaVersion({ answer }: { answer: unknown }): ReactNode {
  if (typeof answer !== 'object' || answer === null || !('schema' in answer)) {
    return <TextBlock text={asText(answer)} label="Schema" testId="schema-text" />;
  }
  const { schema, ...facts } = answer as Record<string, unknown>;
  return (
    <>
      <table aria-label="Schema version" className="compact">
        <tbody>
          {Object.entries(facts).map(([name, value]) => (
            <tr key={name}>
              <th scope="row">{name}</th>
              <td className="mono">{typeof value === 'string' ? value : asText(value)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <TextBlock text={asText(schema)} label="Schema" testId="schema-text" />
    </>
  );
}

/** A diff: whether readers of the new version can read the old one's events, and each difference. */
function Diff({ diff }: { diff: unknown }): ReactNode {
  const record = typeof diff === 'object' && diff !== null ? (diff as Record<string, unknown>) : undefined;
  const differences = record?.['differences'];
  if (record === undefined || !Array.isArray(differences))
    return <TextBlock text={asText(diff)} label="Schema diff" testId="schema-diff" />;
  return (
    <div data-testid="schema-diff">
      <p>
        Compatible:{' '}
        <strong>{record['compatible'] === true ? 'yes' : record['compatible'] === false ? 'no' : '—'}</strong>
      </p>
      <ValueTable rows={differences as unknown[]} label="Schema differences" />
    </div>
  );
}
