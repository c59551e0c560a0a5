/** Capped exponential backoff with full jitter, in milliseconds. */
export function backoffMs(attempt: number, baseMs = 200, capMs = 10_000, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** attempt);
  return Math.max(baseMs / 2, Math.floor(random() * ceiling));
}

/** HTTP statuses worth retrying: conflicts, throttling and server errors (timeouts have none). */
export function isRetryable(status: number | undefined): boolean {
  return status === undefined || status === 409 || status === 429 || status >= 500;
}
