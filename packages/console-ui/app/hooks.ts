import { useCallback, useEffect, useRef, useState } from 'react';

export interface Resource<T> {
  readonly data: T | undefined;
  readonly error: Error | undefined;
  readonly loading: boolean;
  /** Loads again now (after a mutation). */
  readonly reload: () => void;
}

/**
 * Loads `load()` when `key` changes, and again every `refreshMs` while the page is open (the
 * console shows live lag and rates). A slow answer never overwrites a newer one.
 */
export function useResource<T>(load: () => Promise<T>, key: string, refreshMs?: number): Resource<T> {
  const [state, setState] = useState<{ data: T | undefined; error: Error | undefined; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: true,
  });
  const loadRef = useRef(load);
  loadRef.current = load;
  const generation = useRef(0);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((n) => n + 1), []);

  useEffect(() => {
    setState({ data: undefined, error: undefined, loading: true });
  }, [key]);

  useEffect(() => {
    const mine = ++generation.current;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const run = (): void => {
      loadRef
        .current()
        .then(
          (data) => {
            if (mine === generation.current) setState({ data, error: undefined, loading: false });
          },
          (error: unknown) => {
            if (mine === generation.current) {
              setState((previous) => ({
                data: previous.data,
                error: error instanceof Error ? error : new Error(String(error)),
                loading: false,
              }));
            }
          },
        )
        .finally(() => {
          if (!stopped && refreshMs !== undefined) timer = setTimeout(run, refreshMs);
        });
    };
    run();
    return () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [key, tick, refreshMs]);

  return { ...state, reload };
}
