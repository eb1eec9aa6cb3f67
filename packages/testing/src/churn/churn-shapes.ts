// What a churn run's producer, member processes and checker agree on.

/** The type of the events a churn run appends; data is `{ key, seq }` as JSON. */
export const CHURN_EVENT_TYPE = 'dev.herald.testing.churn-step.v1';

/** What a member process is told on its command line. */
export interface MemberSettings {
  readonly logUrl: string;
  readonly storeUrl: string;
  readonly group: string;
  readonly topic: string;
  /** Written into each effect: which incarnation of which member committed it. */
  readonly name: string;
  readonly sessionTimeoutMs: number;
  /** How long each handler works before its transaction, on average (it varies from 0 to twice this). */
  readonly handlerDelayMs: number;
  readonly maxInFlight: number;
  /** Stop (and exit) once the group has no lag. */
  readonly drain: boolean;
  /** How a `postgres://` store is opened (`openPostgresStore`'s tuning); without it, `openStore`'s defaults. */
  readonly postgres?: PostgresTuning;
}

/** The `openPostgresStore` settings a service chooses for its store. */
export interface PostgresTuning {
  readonly isolation?: 'serializable' | 'repeatable read' | 'read committed';
  readonly groupCommit?: boolean;
}

/** One effect row, `churn-effects/<key>/<applied>/<random>`. */
export interface ChurnEffect {
  readonly eventId: string;
  readonly key: string;
  readonly seq: number;
  /** The key's commit counter after this effect: 1 for its first, and so on. */
  readonly applied: number;
  readonly member: string;
  readonly pid: number;
  readonly partition: number;
  readonly offset: number;
}

/** A key's last committed effect, `churn-keys/<key>`. */
export interface ChurnKeyState {
  readonly applied: number;
  readonly seq: number;
}
