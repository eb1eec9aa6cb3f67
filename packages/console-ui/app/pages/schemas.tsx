import { useState, type ReactNode } from 'react';
import { request, seg, type SchemaSubject } from '../api.ts';
import { ErrorNote, Loading, Page, TextBlock } from '../components.tsx';
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
      {subjects.data === undefined ? null : subjects.data.length === 0 ? (
        <p className="muted">No schemas registered.</p>
      ) : (
        <table aria-label="Schema subjects">
          <thead>
            <tr>
              <th>Subject</th>
              <th>Versions</th>
              <th>Compatibility</th>
            </tr>
          </thead>
          <tbody>
            {subjects.data.map((subject) => (
              <tr key={subject.subject}>
                <td>
                  <a href={href(['schemas', subject.subject])}>{subject.subject}</a>
                </td>
                <td>{versionList(subject.versions).join(', ')}</td>
                <td>{subject.compatibility}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
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
          {schema.data === undefined ? null : (
            <TextBlock
              text={asText(schema.data)}
              label={`Schema version ${version ?? ''}`}
              testId="schema-text"
            />
          )}
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
                <TextBlock text={asText(diff.data)} label="Schema diff" testId="schema-diff" />
              )}
            </>
          )}
        </>
      )}
    </Page>
  );
}
