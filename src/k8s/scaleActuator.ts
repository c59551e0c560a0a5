import { type AppsV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { Logger } from '../log.js';
import { keyString, type RevisionKey } from '../metrics/revisionKey.js';
import { backoffMs, isRetryable } from './backoff.js';

/** Rejects when `promise` has not settled within `ms` (the request may still finish; a retry is idempotent). */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown; response?: { statusCode?: unknown } };
  for (const v of [e.code, e.statusCode, e.response?.statusCode]) if (typeof v === 'number') return v;
  return undefined;
}

/**
 * Applies replica counts with a merge patch on `deployments/{name}/scale`,
 * retrying conflicts, throttling, 5xx and timeouts with capped exponential
 * backoff. One patch per Deployment at a time; a newer wish replaces a queued
 * one. A 404 (the Deployment is gone) ends the attempt quietly.
 */
export class ScaleActuator {
  private readonly pending = new Map<string, { key: RevisionKey; replicas: number }>();
  private readonly running = new Set<string>();
  private stopped = false;
  /** Patches that succeeded, for tests and the log. */
  applied = 0;

  constructor(
    private readonly api: AppsV1Api,
    private readonly logger: Logger,
    /** A patch with no answer by then counts as failed and is retried. */
    private readonly requestTimeoutMs = 10_000,
    private readonly maxAttempts = 8,
  ) {}

  apply(key: RevisionKey, replicas: number): void {
    const k = keyString(key);
    this.pending.set(k, { key, replicas });
    if (!this.running.has(k)) void this.drain(k);
  }

  stop(): void {
    this.stopped = true;
  }

  private async drain(k: string): Promise<void> {
    this.running.add(k);
    try {
      for (let next = this.pending.get(k); next && !this.stopped; next = this.pending.get(k)) {
        this.pending.delete(k);
        await this.patch(next.key, next.replicas);
      }
    } finally {
      this.running.delete(k);
    }
  }

  private async patch(key: RevisionKey, replicas: number): Promise<void> {
    for (let attempt = 0; attempt < this.maxAttempts && !this.stopped; attempt++) {
      try {
        await withTimeout(this.api.patchNamespacedDeploymentScale(
          { name: key.name, namespace: key.namespace, body: { spec: { replicas } } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        ), this.requestTimeoutMs);
        this.applied++;
        this.logger.info({ deployment: keyString(key), replicas }, `scaled ${keyString(key)} to ${replicas}`);
        return;
      } catch (err) {
        const status = statusOf(err);
        if (status === 404) {
          this.logger.info({ deployment: keyString(key) }, 'deployment gone before it could be scaled');
          return;
        }
        if (!isRetryable(status) || this.pending.has(keyString(key))) {
          // Not retryable, or a newer wish is queued: that one goes next.
          if (!isRetryable(status)) this.logger.error({ deployment: keyString(key), status, err: (err as Error).message }, 'scale patch rejected');
          return;
        }
        const wait = backoffMs(attempt);
        this.logger.warn({ deployment: keyString(key), status, attempt, retryInMs: wait }, `scale patch failed: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }
}
