import { useState, type ReactNode } from 'react';
import { request, type AuditPage as AuditAnswer } from '../api.ts';
import { ErrorNote, Loading, Page } from '../components.tsx';
import { asLine, asText, formatTime } from '../format.ts';
import { useResource } from '../hooks.ts';

/** The audit trail, newest first: every mutation, allowed or refused. */
export function AuditPage(): ReactNode {
  const [cursors, setCursors] = useState<string[]>([]);
  const before = cursors.at(-1);
  const audit = useResource(
    () => request<AuditAnswer>('audit', { query: { limit: 50, before } }),
    `audit:${before ?? ''}`,
    before === undefined ? 3000 : undefined,
  );
  return (
    <Page title="Audit trail">
      <ErrorNote error={audit.error} />
      <Loading loading={audit.loading} />
      {audit.data === undefined ? null : audit.data.entries.length === 0 ? (
        <p className="muted">No entries.</p>
      ) : (
        <table aria-label="Audit trail">
          <thead>
            <tr>
              <th>When</th>
              <th>Who</th>
              <th>Role</th>
              <th>Action</th>
              <th>Target</th>
              <th>Outcome</th>
              <th>Details</th>
            </tr>
          </thead>
          <tbody>
            {audit.data.entries.map((entry, index) => (
              <tr
                key={`${entry.at}-${index}`}
                data-testid="audit-row"
                data-action={entry.action}
                data-outcome={entry.outcome}
              >
                <td>{formatTime(entry.at)}</td>
                <td>{entry.actor}</td>
                <td>{entry.role ?? '—'}</td>
                <td>{entry.action}</td>
                <td className="wrap">{asLine(entry.target)}</td>
                <td>
                  {entry.outcome}
                  {entry.reason === undefined ? null : <span className="muted"> ({entry.reason})</span>}
                </td>
                <td>
                  {entry.before === undefined && entry.after === undefined ? (
                    '—'
                  ) : (
                    <details>
                      <summary>before / after</summary>
                      <pre className="text-block">{`before: ${asText(entry.before ?? null)}\nafter: ${asText(entry.after ?? null)}`}</pre>
                    </details>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="pager">
        {cursors.length > 0 ? (
          <button type="button" className="button" onClick={() => setCursors(cursors.slice(0, -1))}>
            Newer
          </button>
        ) : null}
        {audit.data?.next === undefined || audit.data.next === null ? null : (
          <button
            type="button"
            className="button"
            onClick={() => setCursors([...cursors, String(audit.data?.next)])}
          >
            Older
          </button>
        )}
      </div>
    </Page>
  );
}
