/** Capped exponential backoff with full jitter, in milliseconds (client-go's wait.Backoff with jitter, never under half the base). */
export function backoffMs(attempt: number, baseMs = 200, capMs = 10_000, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** attempt);
  return Math.max(baseMs / 2, Math.floor(random() * ceiling));
}

/** HTTP statuses worth retrying: conflicts, throttling and server errors; undefined = no answer (timeout, connection). */
export function isRetryable(status: number | undefined): boolean {
  return status === undefined || status === 409 || status === 429 || status >= 500;
}

/** The HTTP status of a client-node error (ApiException.code, or a watch error's statusCode), if it had one. */
export function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown; response?: { statusCode?: unknown } } | undefined;
  for (const v of [e?.code, e?.statusCode, e?.response?.statusCode]) if (typeof v === 'number') return v;
  return undefined;
}

/** A request that got no answer in time. client-node 1.4 sets no timeout on API calls, so callers bound them. */
export class RequestTimeoutError extends Error {
  constructor(readonly what: string, readonly ms: number) {
    super(`${what}: no answer within ${ms} ms`);
    this.name = 'RequestTimeoutError';
  }
}

/** Rejects when `promise` has not settled within `ms` (the request may still finish; callers only retry idempotent writes). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what = 'request'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RequestTimeoutError(what, ms)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
