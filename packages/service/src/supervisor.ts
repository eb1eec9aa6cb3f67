// Runs a service's routers and keeps them running.
import type { Router } from '@herald/core';
import type { Logger, Service } from './service.ts';

/** How long a crashed router waits before it is built again. */
export const RESTART_DELAY_MS = 1_000;

/** `running`, `paused` (its pause signal says so) or `stopped` (not started, or stopping). */
export type ServiceState = 'running' | 'paused' | 'stopped';

/**
 * Runs a service's routers and keeps them running: a router that stops with an error (one that
 * escaped every middleware, e.g. the dead-letter topic could not be written) is logged and built
 * again from its factory after `restartDelayMs`, from its group's committed position. While the
 * service's pause signal is on, its routers are stopped (events wait in the log, lag grows);
 * when it goes off, new ones start.
 */
export class ServiceSupervisor {
  readonly service: Service;
  readonly #logger: Logger;
  readonly #restartDelayMs: number;
  readonly #running = new Map<number, { router: Router; done: Promise<void> }>();
  #stopping = false;
  #started = false;
  #paused = false;
  #restarts = 0;
  #unsubscribe: (() => void) | undefined;
  #transition: Promise<void> = Promise.resolve();

  constructor(service: Service, options: { readonly logger: Logger; readonly restartDelayMs?: number }) {
    this.service = service;
    this.#logger = options.logger;
    this.#restartDelayMs = options.restartDelayMs ?? RESTART_DELAY_MS;
  }

  get state(): ServiceState {
    if (!this.#started || this.#stopping) return 'stopped';
    return this.#paused ? 'paused' : 'running';
  }

  /** Routers running now (fewer than the service has while one waits to be restarted). */
  get routersRunning(): number {
    return this.#running.size;
  }

  /** Routers built again after a crash, since start. */
  get restarts(): number {
    return this.#restarts;
  }

  /** Runs `prepare` (once), then starts every router unless the service is paused. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.service.prepare?.();
    const { pause } = this.service;
    if (pause !== undefined) {
      this.#paused = pause.paused;
      this.#unsubscribe = pause.subscribe((paused) => {
        if (paused === this.#paused) return;
        this.#paused = paused;
        this.#transition = this.#transition.then(() => (paused ? this.#halt() : this.#launchAll()));
      });
    }
    if (!this.#paused) await this.#launchAll();
  }

  /** Stops every router: each stops fetching, finishes its work in flight, commits and leaves its group. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#unsubscribe?.();
    await this.#transition;
    await this.#halt();
  }

  async #launchAll(): Promise<void> {
    if (this.#stopping) return;
    for (let index = 0; index < this.service.routers.length; index++) this.#launch(index);
    this.#logger.info(`${this.service.name}: consuming as ${this.service.groups.join(', ')}`);
  }

  #launch(index: number): void {
    if (this.#stopping || this.#paused || this.#running.has(index)) return;
    const router = this.service.routers[index]!();
    const done = router.run().then(
      () => {
        if (this.#running.get(index)?.router === router) this.#running.delete(index);
      },
      (error: unknown) => {
        if (this.#running.get(index)?.router === router) this.#running.delete(index);
        if (this.#stopping || this.#paused) return;
        this.#logger.error(
          `${this.service.name}: ${router.group} stopped; restarting in ${this.#restartDelayMs} ms`,
          error,
        );
        setTimeout(() => {
          this.#restarts++;
          this.#launch(index);
        }, this.#restartDelayMs).unref();
      },
    );
    this.#running.set(index, { router, done });
  }

  async #halt(): Promise<void> {
    const running = [...this.#running.values()];
    this.#running.clear();
    await Promise.all(
      running.map(async ({ router, done }) => {
        await router.stop();
        await done;
      }),
    );
    if (running.length > 0 && !this.#stopping) this.#logger.info(`${this.service.name}: paused`);
  }
}
