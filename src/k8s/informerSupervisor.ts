import type { KubernetesObject, ListWatch } from '@kubernetes/client-node';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log.js';
import { backoffMs, statusOf } from './retry.js';

/** After this long without a watch error, the next error starts the backoff from the beginning again. */
const BACKOFF_RESET_MS = 60_000;

export const OPTIONAL_RETRY_MS = 300_000;

/**
 * A list of a resource that may not be served (a CRD not installed): a 404 is
 * logged once at info when it starts and once when the resource appears,
 * and still rejects so that the informer retries (rarely, see OptionalResource).
 */
export function optionalList<T>(list: () => Promise<T>, logger: Logger, absentMessage: string, servedMessage: string): () => Promise<T> {
  let absent = false;
  return async () => {
    try {
      const result = await list();
      if (absent) logger.info(servedMessage);
      absent = false;
      return result;
    } catch (err) {
      if (statusOf(err) === 404 && !absent) {
        absent = true;
        logger.info(absentMessage);
      }
      throw err;
    }
  };
}

/** For a resource that may not be served at all (a CRD not installed): a 404 on it is expected, and its list says so (optionalList). */
export interface OptionalResource {
  /** How long to wait before looking for it again (default 5 min). */
  retryMs?: number;
}

/**
 * Keeps informers running through API trouble, and stops them all at once.
 * client-node's ListWatch re-lists by itself after 410 Gone and resumes
 * after a watch ends normally, but stops on any other error (a failed list,
 * a watch answered 5xx/429/403, a dropped connection): it is started again
 * after a capped exponential backoff. Errors within a minute of each other
 * count as consecutive (the informer's 'connect' fires before its list, so it
 * cannot tell a recovery).
 */
export class InformerSupervisor {
  private readonly informers: { stop(): Promise<void> }[] = [];
  /** Pending restarts, cancelled on stop so no watch outlives its owner. */
  private readonly restarts = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly logger: Logger, private readonly onApiError: (err: unknown) => void = () => undefined) {}

  /**
   * Restarts `inf` after errors from now on; `start` runs its first list. An
   * optional resource answered 404 is looked for again only rarely, and not
   * logged as a failure.
   */
  supervise<T extends KubernetesObject>(inf: ListWatch<T>, what: string, optional?: OptionalResource): ListWatch<T> {
    this.informers.push(inf);
    let attempt = 0;
    let lastErrorAt = -Infinity;
    inf.on('error', (err: unknown) => {
      if (this.stopped) return;
      this.onApiError(err);
      if (optional && statusOf(err) === 404) {
        attempt = 0;
        this.later(() => void this.start(inf, what), optional.retryMs ?? OPTIONAL_RETRY_MS);
        return;
      }
      const at = performance.now();
      if (at - lastErrorAt > BACKOFF_RESET_MS) attempt = 0;
      lastErrorAt = at;
      const wait = backoffMs(attempt++);
      this.logger.warn({ what, retryInMs: wait, status: statusOf(err), err: (err as Error | undefined)?.message }, `${what} watch failed; re-listing`);
      this.later(() => void this.start(inf, what), wait);
    });
    return inf;
  }

  /** Starts an informer (list, then watch); a failed start is retried with backoff, never thrown. */
  async start(inf: { start(): Promise<void> }, what: string, attempt = 0): Promise<void> {
    try {
      await inf.start();
    } catch (err) {
      this.onApiError(err);
      const wait = backoffMs(attempt);
      this.logger.warn({ what, retryInMs: wait, err: (err as Error).message }, 'informer failed to start; retrying');
      this.later(() => void this.start(inf, what, attempt + 1), wait);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.restarts) clearTimeout(t);
    this.restarts.clear();
    await Promise.all(this.informers.map((inf) => inf.stop()));
  }

  private later(fn: () => void, ms: number): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.restarts.delete(timer);
      if (!this.stopped) fn();
    }, ms);
    this.restarts.add(timer);
  }
}
