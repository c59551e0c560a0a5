import { type KubeConfig, type KubernetesObject, type ListPromise, ListWatch, Watch } from '@kubernetes/client-node';
import { withTimeout } from './retry.js';

type WatchParams = Record<string, string | number | boolean | undefined>;
/** client-node's watch callbacks, as its `Watch.watch` declares them. */
type WatchCallback = Parameters<Watch['watch']>[2];
type WatchDone = Parameters<Watch['watch']>[3];

/** client-go's reflector: each watch asks the server to end it after 5–10 min (random, so informers do not re-watch in step). */
export function reflectorWatchTimeoutSeconds(random: () => number = Math.random): number {
  return Math.floor(300 * (1 + random()));
}

/** A watch request the API server did not answer (not even its headers) in time. */
export class WatchTimeoutError extends Error {
  constructor(readonly path: string, readonly ms: number) {
    super(`watch ${path}: no answer within ${ms} ms`);
    this.name = 'WatchTimeoutError';
  }
}

export interface ResumableWatchOptions {
  /** Server-side watch timeout per request (default: client-go's random 5–10 min). */
  timeoutSeconds?: () => number;
  /** How long past that timeout a silent watch is given before it is ended (default 30 s). */
  watchdogGraceSeconds?: number;
  /** How long a watch may wait for the API server's response headers (default 10 s). */
  headersTimeoutMs?: number;
  /** False once the informer is stopped: a watch it asks for after that is never opened. */
  wanted?: () => boolean;
}

/**
 * client-node's Watch with what client-go's reflector adds: BOOKMARK events
 * (`allowWatchBookmarks`, so a resumed watch starts from a recent
 * resourceVersion instead of an expired one that forces a re-list) and a
 * server-side `timeoutSeconds`. client-node 1.4 sets no client-side timeout on
 * a watch, so a request could stall its informer forever: one that gets no
 * response headers in time is abandoned with a WatchTimeoutError (the
 * informer restarts), and a connection that goes silent is ended by a
 * watchdog shortly after the server should have ended it (the informer
 * resumes from its last resourceVersion).
 */
export class ResumableWatch extends Watch {
  private readonly timeoutSeconds: () => number;
  private readonly watchdogGraceSeconds: number;
  private readonly headersTimeoutMs: number;
  wanted: () => boolean;

  constructor(config: KubeConfig, options: ResumableWatchOptions = {}) {
    super(config);
    this.timeoutSeconds = options.timeoutSeconds ?? reflectorWatchTimeoutSeconds;
    this.watchdogGraceSeconds = options.watchdogGraceSeconds ?? 30;
    this.headersTimeoutMs = options.headersTimeoutMs ?? 10_000;
    this.wanted = options.wanted ?? (() => true);
  }

  override async watch(path: string, queryParams: WatchParams, callback: WatchCallback, done: WatchDone): Promise<AbortController> {
    // client-node 1.4's informer opens a watch after a re-list even when it was stopped meanwhile.
    if (!this.wanted()) return abortedController();
    const timeoutSeconds = this.timeoutSeconds();
    // Once the informer has been told this watch ended, nothing more from it reaches the informer.
    let ended = false;
    let watchdogFired = false;
    let watchdog: NodeJS.Timeout | undefined;
    const end = (err: unknown): void => {
      if (ended) return;
      ended = true;
      clearTimeout(watchdog);
      done(err);
    };
    const request = super.watch(path, { ...queryParams, allowWatchBookmarks: true, timeoutSeconds }, (...event) => {
      if (!ended) callback(...event);
    }, (err: unknown) => end(watchdogFired ? null : err)); // a watchdog abort is a normal end: resume, no error

    let headersTimer: NodeJS.Timeout | undefined;
    const headersTimedOut = new Promise<null>((resolve) => {
      headersTimer = setTimeout(() => resolve(null), this.headersTimeoutMs);
    });
    const controller = await Promise.race([request, headersTimedOut]);
    clearTimeout(headersTimer);
    if (controller === null) {
      // Abandon the request: abort it whenever it answers, and let the informer move on now.
      void request.then((late) => late.abort(), () => undefined);
      const abandoned = abortedController();
      setImmediate(() => end(new WatchTimeoutError(path, this.headersTimeoutMs)));
      return abandoned;
    }
    if (ended) return controller;
    if (!this.wanted()) {
      ended = true;
      controller.abort();
      return controller;
    }
    watchdog = setTimeout(() => {
      watchdogFired = true;
      controller.abort();
    }, (timeoutSeconds + this.watchdogGraceSeconds) * 1000);
    watchdog.unref();
    return controller;
  }
}

function abortedController(): AbortController {
  const controller = new AbortController();
  controller.abort();
  return controller;
}

/** client-node's ListWatch that knows whether it is running, so its watch is not reopened after stop(). */
class ResumableInformer<T extends KubernetesObject> extends ListWatch<T> {
  running = false;

  override async start(): Promise<void> {
    this.running = true;
    await super.start();
  }

  override async stop(): Promise<void> {
    this.running = false;
    await super.stop();
  }
}

/** An informer (list, then watch from the list's resourceVersion) over `path`, not started. */
export function makeResumableInformer<T extends KubernetesObject>(
  kubeConfig: KubeConfig, path: string, list: ListPromise<T>,
  options: { fieldSelector?: string; labelSelector?: string; listTimeoutMs?: number } & Omit<ResumableWatchOptions, 'wanted'> = {},
): ListWatch<T> {
  const watch = new ResumableWatch(kubeConfig, options);
  // A list that never answers would stall the informer: it fails after listTimeoutMs (default 60 s, the API
  // server's own --request-timeout), and the informer restarts.
  const listTimeoutMs = options.listTimeoutMs ?? 60_000;
  // The selectors go on the watch; `list` must ask for the same ones.
  const informer = new ResumableInformer<T>(path, watch, () => withTimeout(list(), listTimeoutMs, `list ${path}`), false, options.labelSelector, options.fieldSelector);
  watch.wanted = () => informer.running;
  return informer;
}
