import type { FaultInjectable, faultInjection } from '../event-log.ts';

/** What a subscription does when its client is made to crash, stall or resume. */
export interface FaultableSubscription {
  crash(): void;
  freeze(): void;
  thaw(): void;
}

/** How a log client itself goes down when it is made to crash, around its subscriptions. */
export interface CrashSteps {
  /**
   * Marks the client dead, so it refuses further use; returns false when it already was (closed
   * or crashed before), and the crash then does nothing more.
   */
  readonly stop: () => boolean;
  /** Drops the client's own connections and handles after its subscriptions crashed, sending nothing. */
  readonly drop: () => void;
}

/**
 * The fault hooks of a log client whose subscriptions share its fate: `crash` stops the client,
 * crashes every open subscription (they stop without leaving their groups, as in a killed
 * process) and then drops the client's connections; `freeze` and `thaw` stall and resume every
 * open subscription. `subscriptions` is read when a hook runs, so it may change in between.
 *
 * @example
 * this[faultInjection] = faultHooksFor(this.#subscriptions, { stop: () => …, drop: () => … });
 */
export function faultHooksFor(
  subscriptions: Iterable<FaultableSubscription>,
  steps: CrashSteps,
): FaultInjectable[typeof faultInjection] {
  return {
    crash: () => {
      if (!steps.stop()) return;
      for (const subscription of subscriptions) subscription.crash();
      steps.drop();
    },
    freeze: () => {
      for (const subscription of subscriptions) subscription.freeze();
    },
    thaw: () => {
      for (const subscription of subscriptions) subscription.thaw();
    },
  };
}
