import { type KubeConfig, type KubernetesObject, type ListPromise, ListWatch, Watch } from '@kubernetes/client-node';

type WatchParams = Record<string, string | number | boolean | undefined>;
/** client-node's watch callbacks, as its `Watch.watch` declares them. */
type WatchCallback = Parameters<Watch['watch']>[2];
type WatchDone = Parameters<Watch['watch']>[3];

/** client-go's reflector: each watch asks the server to end it after 5–10 min (random, so informers do not re-watch in step). */
export function reflectorWatchTimeoutSeconds(random: () => number = Math.random): number {
  return Math.floor(300 * (1 + random()));
}

/**
 * client-node's Watch with what client-go's reflector adds: BOOKMARK events
 * (`allowWatchBookmarks`, so a resumed watch starts from a recent
 * resourceVersion instead of an expired one that forces a re-list) and a
 * server-side `timeoutSeconds`. client-node 1.4 sets no client-side timeout on
 * a watch, so a connection that went silent would stall its informer forever:
 * a watchdog ends it shortly after the server should have, and the informer
 * resumes from its last resourceVersion.
 */
export class ResumableWatch extends Watch {
  constructor(
    config: KubeConfig,
    private readonly timeoutSeconds: () => number = reflectorWatchTimeoutSeconds,
    private readonly watchdogGraceSeconds = 30,
  ) {
    super(config);
  }

  override async watch(path: string, queryParams: WatchParams, callback: WatchCallback, done: WatchDone): Promise<AbortController> {
    const timeoutSeconds = this.timeoutSeconds();
    let finished = false;
    let watchdogFired = false;
    let watchdog: NodeJS.Timeout | undefined;
    const controller = await super.watch(path, { ...queryParams, allowWatchBookmarks: true, timeoutSeconds }, callback, (err: unknown) => {
      finished = true;
      clearTimeout(watchdog);
      // A watchdog abort is a normal end: resume from the last resourceVersion, no error.
      done(watchdogFired ? null : err);
    });
    if (!finished) {
      watchdog = setTimeout(() => {
        watchdogFired = true;
        controller.abort();
      }, (timeoutSeconds + this.watchdogGraceSeconds) * 1000);
      watchdog.unref();
    }
    return controller;
  }
}

/** An informer (list, then watch from the list's resourceVersion) over `path`, not started. */
export function makeResumableInformer<T extends KubernetesObject>(
  kubeConfig: KubeConfig, path: string, list: ListPromise<T>,
  options: { fieldSelector?: string; timeoutSeconds?: () => number; watchdogGraceSeconds?: number } = {},
): ListWatch<T> {
  const watch = new ResumableWatch(kubeConfig, options.timeoutSeconds, options.watchdogGraceSeconds);
  return new ListWatch<T>(path, watch, list, false, undefined, options.fieldSelector);
}
