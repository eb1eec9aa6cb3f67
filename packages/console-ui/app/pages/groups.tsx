import { useState, type ReactNode } from 'react';
import {
  request,
  seg,
  type GroupDetail,
  type GroupSummary,
  type LagSample,
  type ResetAnswer,
  type ResetTarget,
} from '../api.ts';
import { ErrorNote, ListTable, Loading, MutationButton, Page, useTwoStep } from '../components.tsx';
import { asLine, formatNumber, formatSeconds, formatTime } from '../format.ts';
import { useResource } from '../hooks.ts';
import { LagChart } from '../lag-chart.tsx';
import { href } from '../route.ts';

const memberCount = (members: GroupSummary['members']): number =>
  Array.isArray(members) ? members.length : members;

export function GroupsPage(): ReactNode {
  const groups = useResource(() => request<GroupSummary[]>('groups'), 'groups', 2000);
  return (
    <Page title="Consumer groups">
      <ErrorNote error={groups.error} />
      <Loading loading={groups.loading} />
      <ListTable
        label="Consumer groups"
        rows={groups.data}
        rowKey={(group) => group.group}
        rowTestId={(group) => `group-row-${group.group}`}
        columns={[
          { header: 'Group', cell: (group) => <a href={href(['groups', group.group])}>{group.group}</a> },
          { header: 'State', cell: (group) => group.state },
          { header: 'Members', numeric: true, cell: (group) => memberCount(group.members) },
          {
            header: 'Lag (events)',
            numeric: true,
            testId: 'group-lag',
            cell: (group) => formatNumber(group.lag),
          },
          { header: 'Lag (time)', numeric: true, cell: (group) => formatSeconds(group.lagSeconds) },
        ]}
      />
    </Page>
  );
}

export function GroupPage({ group }: { group: string }): ReactNode {
  const detail = useResource(() => request<GroupDetail>(`groups/${seg(group)}`), `group:${group}`, 2000);
  const history = useResource(
    () => request<LagSample[]>(`groups/${seg(group)}/lag-history`),
    `lag:${group}`,
    2000,
  );
  const totalLag = detail.data?.partitions.reduce((sum, p) => sum + p.lag, 0);
  return (
    <Page title={`Group ${group}`}>
      <ErrorNote error={detail.error} />
      <Loading loading={detail.loading} />
      {detail.data === undefined ? null : (
        <>
          <p>
            State: <strong data-testid="group-state">{detail.data.state}</strong> · lag{' '}
            <strong data-testid="group-total-lag">{totalLag}</strong> events
          </p>
          <h2>Members</h2>
          <ListTable
            label="Members"
            rows={detail.data.members}
            rowKey={(member) => member.memberId}
            empty="No live members."
            emptyTestId="no-members"
            columns={[
              { header: 'Member', className: 'mono', cell: (member) => member.memberId },
              { header: 'Client', cell: (member) => member.clientId ?? '—' },
              { header: 'Last heartbeat', cell: (member) => formatTime(member.lastHeartbeat) },
              { header: 'Partitions', cell: (member) => asLine(member.partitions) },
            ]}
          />
          <h2>Partitions</h2>
          <ListTable
            label="Group partitions"
            rows={detail.data.partitions}
            rowKey={(p) => `${p.topic}/${p.partition}`}
            columns={[
              { header: 'Topic', cell: (p) => p.topic },
              { header: 'Partition', numeric: true, cell: (p) => p.partition },
              { header: 'Committed', numeric: true, cell: (p) => formatNumber(p.committed) },
              { header: 'Latest', numeric: true, cell: (p) => formatNumber(p.latest) },
              { header: 'Lag (events)', numeric: true, cell: (p) => formatNumber(p.lag) },
              { header: 'Lag (time)', numeric: true, cell: (p) => formatSeconds(p.lagSeconds) },
            ]}
          />
        </>
      )}
      <h2>Lag over time</h2>
      <ErrorNote error={history.error} />
      <LagChart samples={history.data ?? []} />
      <ResetForm
        group={group}
        topics={[...new Set(detail.data?.partitions.map((p) => p.topic) ?? [])]}
        onApplied={detail.reload}
      />
    </Page>
  );
}

type ResetKind = 'earliest' | 'latest' | 'timestamp' | 'offsets';

function ResetForm({
  group,
  topics,
  onApplied,
}: {
  group: string;
  topics: string[];
  onApplied: () => void;
}): ReactNode {
  const [kind, setKind] = useState<ResetKind>('latest');
  const [timestamp, setTimestamp] = useState('');
  const [offsets, setOffsets] = useState('');
  const [topic, setTopic] = useState('');
  const [formError, setFormError] = useState<Error | undefined>(undefined);

  const target = (): ResetTarget => {
    if (kind === 'earliest' || kind === 'latest') return kind;
    if (kind === 'timestamp') {
      const at = new Date(timestamp);
      if (Number.isNaN(at.getTime())) throw new Error('Give a time to reset to.');
      return { timestamp: at.toISOString() };
    }
    // One "topic partition offset" per line.
    const parsed = offsets
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '')
      .map((line) => {
        const [t, p, o] = line.split(/\s+/);
        const partition = Number(p);
        const offset = Number(o);
        if (t === undefined || !Number.isInteger(partition) || !Number.isInteger(offset)) {
          throw new Error(`Not "topic partition offset": ${line}`);
        }
        return { topic: t, partition, offset };
      });
    if (parsed.length === 0) throw new Error('Give at least one "topic partition offset" line.');
    return { offsets: parsed };
  };

  const reset = useTwoStep<ResetAnswer, { to: ResetTarget; topics?: string[] }>(
    (subject, dryRun) =>
      request<ResetAnswer>(`groups/${seg(group)}/reset`, { method: 'POST', body: { ...subject, dryRun } }),
    onApplied,
  );

  const startDryRun = (): void => {
    try {
      const to = target();
      setFormError(undefined);
      reset.dryRun({ to, ...(topic === '' ? {} : { topics: [topic] }) });
    } catch (error) {
      setFormError(error instanceof Error ? error : new Error(String(error)));
    }
  };

  const locked = reset.phase === 'planned' || reset.phase === 'applying' || reset.phase === 'planning';
  return (
    <section aria-labelledby="reset-title" className="panel">
      <h2 id="reset-title">Reset offsets</h2>
      <p className="muted">
        Only while the group has no live members. The dry run shows the plan; nothing changes until you
        confirm it.
      </p>
      <div className="filters">
        <label>
          Reset to
          <select
            name="reset-to"
            value={kind}
            disabled={locked}
            onChange={(e) => setKind(e.target.value as ResetKind)}
          >
            <option value="earliest">earliest</option>
            <option value="latest">latest</option>
            <option value="timestamp">a time</option>
            <option value="offsets">given offsets</option>
          </select>
        </label>
        <label>
          Topic (all when empty)
          <select
            name="reset-topic"
            value={topic}
            disabled={locked}
            onChange={(e) => setTopic(e.target.value)}
          >
            <option value="">all</option>
            {topics.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        {kind === 'timestamp' ? (
          <label>
            Time
            <input
              name="reset-time"
              type="datetime-local"
              step="1"
              value={timestamp}
              disabled={locked}
              onChange={(e) => setTimestamp(e.target.value)}
            />
          </label>
        ) : null}
        {kind === 'offsets' ? (
          <label>
            Offsets (topic partition offset, one per line)
            <textarea
              name="reset-offsets"
              rows={3}
              value={offsets}
              disabled={locked}
              onChange={(e) => setOffsets(e.target.value)}
            />
          </label>
        ) : null}
        <MutationButton onClick={startDryRun} disabled={locked} testId="reset-dry-run">
          Dry run
        </MutationButton>
      </div>
      <ErrorNote error={formError ?? reset.error} />
      {reset.plan === undefined ? null : (
        <div data-testid="reset-plan">
          <h3>Plan (dry run)</h3>
          <PlanTable plan={reset.plan} label="Reset plan" />
          <MutationButton
            kind="danger"
            onClick={reset.confirm}
            disabled={reset.phase === 'applying'}
            testId="reset-confirm"
          >
            Confirm reset
          </MutationButton>{' '}
          <button type="button" className="button" onClick={reset.cancel}>
            Cancel
          </button>
        </div>
      )}
      {reset.result === undefined ? null : (
        <div data-testid="reset-result" role="status">
          <h3>{reset.result.applied ? 'Reset applied' : 'Reset not applied'}</h3>
          <PlanTable plan={reset.result} label="Reset applied" />
        </div>
      )}
    </section>
  );
}

function PlanTable({ plan, label }: { plan: ResetAnswer; label: string }): ReactNode {
  return (
    <ListTable
      label={label}
      rows={plan.plan}
      rowKey={(step) => `${step.topic}/${step.partition}`}
      empty="Nothing to change."
      columns={[
        { header: 'Topic', cell: (step) => step.topic },
        { header: 'Partition', numeric: true, cell: (step) => step.partition },
        { header: 'From', numeric: true, cell: (step) => formatNumber(step.from) },
        { header: 'To', numeric: true, cell: (step) => formatNumber(step.to) },
      ]}
    />
  );
}
