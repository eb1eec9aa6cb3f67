// What a process of the order system does when its engine thread fails while running: nothing
// consumes any more, so it stops gracefully and exits with status 1. main.ts and service-main.ts
// share it.
import type { Logger } from '@herald/service';

/** The hooks that connect `openOrderSystem`'s `onEngineFailure` with the process's shutdown. */
export interface EngineFailureStop {
  /** `openOrderSystem`'s `onEngineFailure`. */
  readonly onEngineFailure: (error: Error) => void;
  /** `stopOnSignals`' `exit`: after a failure, a graceful stop keeps exit status 1. */
  readonly exit: (code: number) => void;
  /** Once shutdown is set up: a failure logs, sets exit status 1 and triggers it. */
  stopOnFailure(shutdown: { trigger(reason: string): void }, logger: Logger): void;
}

export function engineFailureStop(): EngineFailureStop {
  const failure = Promise.withResolvers<Error>();
  return {
    onEngineFailure: (error) => failure.resolve(error),
    exit: (code) => process.exit(code === 0 ? Number(process.exitCode ?? 0) : code),
    stopOnFailure(shutdown, logger) {
      void failure.promise.then((error) => {
        logger.error('the engine thread failed; stopping', error);
        process.exitCode = 1;
        shutdown.trigger('engine thread failed');
      });
    },
  };
}
