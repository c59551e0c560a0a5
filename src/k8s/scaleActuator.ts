import { type AppsV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { Logger } from '../log.js';
import { keyString, type RevisionKey } from '../metrics/revisionKey.js';
import type { KubernetesMetrics } from './k8sMetrics.js';
import { backoffMs, isRetryable, statusOf, withTimeout } from './retry.js';

/**
 * Applies replica counts with a merge patch on `deployments/{name}/scale`,
 * retrying conflicts, throttling, 5xx and timeouts with capped exponential
 * backoff. One patch per Deployment at a time; a newer wish replaces a queued
 * one. A 404 (the Deployment is gone) ends the attempt quietly.
 */
/** Why a patch is made, handed back once it is applied (for the Deployment's KPAScaled Event). */
export interface ScaleContext {
  /** The replicas the scaler saw when it decided. */
  fromReplicas: number;
  /** The human "why" of the decision. */
  message: string;
}

export interface ScaleActuatorHooks {
  /** A patch was applied (the API server answered 2xx). Never throws into the actuator. */
  onApplied?: (key: RevisionKey, replicas: number, context: ScaleContext | undefined) => void;
  metrics?: KubernetesMetrics;
}

/** Scale patches on the wire at once, at most (client-go's default client allows 5 a second; Knative raises its QPS to 200 in the autoscaler). */
export const MAX_PATCHES_IN_FLIGHT = 32;

export class ScaleActuator {
  private readonly pending = new Map<string, { key: RevisionKey; replicas: number; context?: ScaleContext }>();
  private readonly running = new Set<string>();
  /** The replicas each running patch (or its retries) sets: the same wish again while it runs is not a second patch. */
  private readonly inFlight = new Map<string, number>();
  /** Deployments dropped or patches withdrawn while in flight: their retries end at the next attempt. */
  private readonly cancelled = new Set<string>();
  /** Backoff waits in progress, cut short by stop() and cancel() so shutdown never waits for a retry. */
  private readonly waits = new Map<NodeJS.Timeout, () => void>();
  private stopped = false;
  /** Replicas the API server confirmed in its answer to a patch, until the Deployment informer catches up. */
  private readonly confirmed = new Map<string, number>();
  /** Patches that succeeded, for tests and the log. */
  applied = 0;
  /** Requests on the wire now, and the patches waiting for one of the MAX_PATCHES_IN_FLIGHT slots. */
  private onTheWire = 0;
  private readonly slotWaiters: (() => void)[] = [];

  constructor(
    private readonly api: AppsV1Api,
    private readonly logger: Logger,
    /** A patch with no answer by then counts as failed and is retried. */
    private readonly requestTimeoutMs = 10_000,
    private readonly maxAttempts = 8,
    /** Checked before every attempt: a replica that lost the revision's bucket stops patching it at once, retries included. */
    private readonly mayActuate: (key: RevisionKey) => boolean = () => true,
    private readonly hooks: ScaleActuatorHooks = {},
  ) {}

  apply(key: RevisionKey, replicas: number, context?: ScaleContext): void {
    const k = keyString(key);
    this.cancelled.delete(k);
    if (this.inFlight.get(k) === replicas) {
      // A tick while the patch is still on its way (the API server is slow): it already asks for this.
      this.pending.delete(k);
      return;
    }
    this.pending.set(k, { key, replicas, context });
    if (!this.running.has(k)) void this.drain(k);
  }

  /**
   * The replicas a patch set, as the API server answered, newer than what the
   * Deployment informer has shown since: so a watch that lags (or is down)
   * does not make the same patch go out again every tick.
   */
  confirmedReplicas(key: RevisionKey): number | undefined {
    return this.confirmed.get(keyString(key));
  }

  /** The Deployment informer delivered a newer version: it is the source of truth again. */
  observed(key: RevisionKey): void {
    this.confirmed.delete(keyString(key));
  }

  /** The scaler no longer wants a change: drop the queued patch and stop retrying one that failed. */
  withdraw(key: RevisionKey): void {
    const k = keyString(key);
    this.pending.delete(k);
    if (this.running.has(k)) {
      this.cancelled.add(k);
      this.wakeAll();
    }
  }

  /** The Deployment is no longer autoscaled (deleted or opted out): drop its queued patch and stop retrying. */
  cancel(key: RevisionKey): void {
    this.confirmed.delete(keyString(key));
    this.withdraw(key);
  }

  stop(): void {
    this.stopped = true;
    this.wakeAll();
  }

  /**
   * Waits for one of MAX_PATCHES_IN_FLIGHT request slots. A burst (3,000
   * revisions woken from zero at once, a takeover) then goes out as a steady
   * stream, and a Lease renewal never queues behind a thousand patches.
   */
  private slot(): Promise<void> {
    if (this.onTheWire < MAX_PATCHES_IN_FLIGHT) {
      this.onTheWire++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.slotWaiters.push(() => {
      this.onTheWire++;
      resolve();
    }));
  }

  private release(): void {
    this.onTheWire--;
    this.slotWaiters.shift()?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waits.delete(timer);
        resolve();
      }, ms);
      this.waits.set(timer, resolve);
    });
  }

  /** Ends every backoff wait now; each retry loop then re-checks whether it should go on. */
  private wakeAll(): void {
    for (const [timer, resolve] of this.waits) {
      clearTimeout(timer);
      resolve();
    }
    this.waits.clear();
  }

  private async drain(k: string): Promise<void> {
    this.running.add(k);
    try {
      for (let next = this.pending.get(k); next && !this.stopped; next = this.pending.get(k)) {
        this.pending.delete(k);
        this.inFlight.set(k, next.replicas);
        await this.patch(next.key, next.replicas, next.context);
        this.inFlight.delete(k);
      }
    } finally {
      this.inFlight.delete(k);
      this.running.delete(k);
      this.cancelled.delete(k);
    }
  }

  private async patch(key: RevisionKey, replicas: number, context: ScaleContext | undefined): Promise<void> {
    const k = keyString(key);
    for (let attempt = 0; attempt < this.maxAttempts && !this.stopped && !this.cancelled.has(k); attempt++) {
      if (!this.mayActuate(key)) {
        this.logger.info({ namespace: key.namespace, deployment: key.name, replicas }, 'no longer its owner: scale patch dropped');
        return;
      }
      await this.slot();
      if (this.stopped || this.cancelled.has(k) || !this.mayActuate(key)) {
        this.release();
        continue; // the loop's own checks end it, and say why
      }
      try {
        let scale;
        try {
          scale = await withTimeout(this.api.patchNamespacedDeploymentScale(
            { name: key.name, namespace: key.namespace, body: { spec: { replicas } } },
            setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
          ), this.requestTimeoutMs, `patch ${keyString(key)}/scale`);
        } finally {
          this.release();
        }
        this.confirmed.set(k, scale.spec?.replicas ?? replicas);
        this.applied++;
        this.hooks.metrics?.scalePatches.inc({ result: 'applied' });
        this.logger.info({ namespace: key.namespace, deployment: key.name, replicas }, `scaled ${keyString(key)} to ${replicas}`);
        try {
          this.hooks.onApplied?.(key, replicas, context);
        } catch (err) {
          this.logger.error({ namespace: key.namespace, deployment: key.name, err: (err as Error).message }, 'after a scale patch: hook failed');
        }
        return;
      } catch (err) {
        this.hooks.metrics?.scalePatches.inc({ result: 'failed' });
        this.hooks.metrics?.apiError(err);
        const status = statusOf(err);
        if (status === 404) {
          this.logger.info({ namespace: key.namespace, deployment: key.name }, 'deployment gone before it could be scaled');
          return;
        }
        if (!isRetryable(status) || this.pending.has(keyString(key))) {
          // Not retryable, or a newer wish is queued: that one goes next.
          if (!isRetryable(status)) this.logger.error({ namespace: key.namespace, deployment: key.name, status, err: (err as Error).message }, 'scale patch rejected');
          return;
        }
        const wait = backoffMs(attempt);
        this.logger.warn({ namespace: key.namespace, deployment: key.name, status, attempt, retryInMs: wait }, `scale patch failed: ${(err as Error).message}`);
        await this.sleep(wait);
      }
    }
  }
}
