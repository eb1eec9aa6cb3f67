import { createContext, useCallback, useContext, useRef, useState, type ReactNode } from 'react';
import { ApiError, canOperate, type Session } from './api.ts';
import { asLine } from './format.ts';

/** The signed-in session, for pages that show or hide what a role may do. */
export const SessionContext = createContext<Session | undefined>(undefined);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (session === undefined) throw new Error('useSession outside a signed-in console');
  return session;
}

/** Whether the signed-in user may redrive, discard and reset (the server checks again). */
export function useCanOperate(): boolean {
  return canOperate(useSession().user.role);
}

export function ErrorNote({ error }: { error: Error | undefined }): ReactNode {
  if (error === undefined) return null;
  const status =
    error instanceof ApiError ? `${error.status}${error.code === undefined ? '' : ` ${error.code}`}: ` : '';
  return (
    <p role="alert" className="error" data-testid="error">
      {status}
      {error.message}
    </p>
  );
}

export function Loading({ loading }: { loading: boolean }): ReactNode {
  return loading ? <p className="muted">Loading…</p> : null;
}

export function Page({
  title,
  children,
  actions,
}: {
  title: string;
  children: ReactNode;
  actions?: ReactNode;
}): ReactNode {
  return (
    <section className="page" aria-labelledby="page-title">
      <header className="page-header">
        <h1 id="page-title">{title}</h1>
        {actions}
      </header>
      {children}
    </section>
  );
}

/** A mutation button: disabled, with the reason, for a role that may not do it. */
export function MutationButton(props: {
  readonly children: ReactNode;
  readonly onClick: () => void;
  readonly disabled?: boolean;
  readonly testId?: string;
  readonly kind?: 'primary' | 'danger' | 'plain';
}): ReactNode {
  const allowed = useCanOperate();
  return (
    <button
      type="button"
      className={`button ${props.kind ?? 'plain'}`}
      onClick={props.onClick}
      disabled={!allowed || props.disabled === true}
      title={allowed ? undefined : 'Needs the operator role'}
      data-testid={props.testId}
    >
      {props.children}
    </button>
  );
}

/** One column of a {@link ListTable}: its header and what each row shows in it. */
export interface Column<T> {
  readonly header: string;
  readonly cell: (row: T) => ReactNode;
  /** A figure: header and cells right-aligned. */
  readonly numeric?: boolean;
  /** The cells' own class (`mono`, `wrap`). */
  readonly className?: string;
  readonly testId?: string;
}

/**
 * The console's list table: one header row, then a row per item. Renders nothing while `rows` is
 * undefined (not loaded yet), and `empty` as a muted note, when given, for no rows.
 *
 * @example
 * <ListTable label="Topics" rows={topics.data} rowKey={(t) => t.name}
 *   columns={[{ header: 'Topic', cell: (t) => t.name }, { header: 'Events', numeric: true, cell: (t) => t.events }]} />
 */
export function ListTable<T>({
  label,
  rows,
  columns,
  rowKey,
  rowTestId,
  empty,
  emptyTestId,
}: {
  label: string;
  rows: readonly T[] | undefined;
  columns: readonly Column<T>[];
  rowKey: (row: T) => string | number;
  rowTestId?: (row: T) => string;
  empty?: string;
  emptyTestId?: string;
}): ReactNode {
  if (rows === undefined) return null;
  if (rows.length === 0 && empty !== undefined) {
    return (
      <p className="muted" data-testid={emptyTestId}>
        {empty}
      </p>
    );
  }
  const cellClass = (column: Column<T>): string | undefined =>
    [column.numeric === true ? 'num' : undefined, column.className].filter(Boolean).join(' ') || undefined;
  return (
    <table aria-label={label}>
      <thead>
        <tr>
          {columns.map((column, index) => (
            <th key={index} className={column.numeric === true ? 'num' : undefined}>
              {column.header}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={rowKey(row)} data-testid={rowTestId?.(row)}>
            {columns.map((column, index) => (
              <td key={index} className={cellClass(column)} data-testid={column.testId}>
                {column.cell(row)}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * A table of objects whose shape the contract leaves open (redrive outcomes, schema diffs): one
 * column per key seen, values as one-line text.
 */
export function ValueTable({ rows, label }: { rows: readonly unknown[]; label: string }): ReactNode {
  const objects = rows.map((row) =>
    typeof row === 'object' && row !== null ? (row as Record<string, unknown>) : { value: row },
  );
  const columns = [...new Set(objects.flatMap((row) => Object.keys(row)))];
  if (objects.length === 0) return <p className="muted">None.</p>;
  return (
    <table aria-label={label}>
      <thead>
        <tr>
          {columns.map((column) => (
            <th key={column}>{column}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {objects.map((row, index) => (
          <tr key={index}>
            {columns.map((column) => (
              <td key={column}>{asLine(row[column])}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Rows of a mutation's answer: the array itself, or the first array field of an object. */
export function rowsOf(answer: unknown): unknown[] | undefined {
  if (Array.isArray(answer)) return answer as unknown[];
  if (typeof answer === 'object' && answer !== null) {
    for (const value of Object.values(answer as Record<string, unknown>))
      if (Array.isArray(value)) return value as unknown[];
  }
  return undefined;
}

export type TwoStepPhase = 'idle' | 'planning' | 'planned' | 'applying' | 'applied';

export interface TwoStep<T, A = void> {
  readonly phase: TwoStepPhase;
  readonly plan: T | undefined;
  readonly result: T | undefined;
  readonly error: Error | undefined;
  /** Asks the server for the dry run of `subject` and shows its plan. */
  readonly dryRun: (subject: A) => void;
  /** Applies what the dry run showed (only after a plan). */
  readonly confirm: () => void;
  readonly cancel: () => void;
}

/**
 * A mutation done in two steps, as the console always does them: a dry run whose plan is shown,
 * then a confirm that applies it to the same subject. `run(subject, true)` is the dry run,
 * `run(subject, false)` the change; the `idempotencyKey` stays the same across retries of one
 * confirm, so a retried request is one change.
 */
export function useTwoStep<T, A = void>(
  run: (subject: A, dryRun: boolean, idempotencyKey: string) => Promise<T>,
  onApplied?: (result: T) => void,
): TwoStep<T, A> {
  const [phase, setPhase] = useState<TwoStepPhase>('idle');
  const [plan, setPlan] = useState<T | undefined>(undefined);
  const [result, setResult] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const key = useRef<string>(crypto.randomUUID());
  const subjectRef = useRef<{ value: A } | undefined>(undefined);
  const runRef = useRef(run);
  runRef.current = run;
  const appliedRef = useRef(onApplied);
  appliedRef.current = onApplied;

  const dryRun = useCallback((subject: A) => {
    setPhase('planning');
    setError(undefined);
    setResult(undefined);
    setPlan(undefined);
    key.current = crypto.randomUUID();
    subjectRef.current = { value: subject };
    runRef.current(subject, true, key.current).then(
      (answer) => {
        setPlan(answer);
        setPhase('planned');
      },
      (failure: unknown) => {
        setError(failure instanceof Error ? failure : new Error(String(failure)));
        setPhase('idle');
      },
    );
  }, []);

  const confirm = useCallback(() => {
    const subject = subjectRef.current;
    if (subject === undefined) return;
    setPhase('applying');
    setError(undefined);
    runRef.current(subject.value, false, key.current).then(
      (answer) => {
        setResult(answer);
        setPlan(undefined);
        setPhase('applied');
        appliedRef.current?.(answer);
      },
      (failure: unknown) => {
        setError(failure instanceof Error ? failure : new Error(String(failure)));
        setPhase('planned');
      },
    );
  }, []);

  const cancel = useCallback(() => {
    setPlan(undefined);
    setError(undefined);
    setPhase('idle');
  }, []);

  return { phase, plan, result, error, dryRun, confirm, cancel };
}

/** Text shown as text: a `<pre>` whose content is a text node, never markup. */
export function TextBlock({
  text,
  label,
  testId,
}: {
  text: string;
  label: string;
  testId?: string;
}): ReactNode {
  return (
    <pre className="text-block" aria-label={label} data-testid={testId}>
      {text}
    </pre>
  );
}
