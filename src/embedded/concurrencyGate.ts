/**
 * A pod's containerConcurrency, as queue-proxy's breaker enforces it: at
 * most `limit` requests in service, the rest wait in arrival order and take
 * the first slot that frees. 0 = no limit. Pure: the pod calls in as
 * requests arrive, finish or go away.
 */
export class ConcurrencyGate<T> {
  private serving = 0;
  /** Waiting requests in arrival order (a Set keeps insertion order and removes in O(1)). */
  private readonly queue = new Set<T>();

  constructor(readonly limit: number) {}

  get inService(): number {
    return this.serving;
  }

  get waiting(): number {
    return this.queue.size;
  }

  /** A request arrives: true when it may be served now, false when it waits its turn. */
  enter(job: T): boolean {
    if (this.limit > 0 && this.serving >= this.limit) {
      this.queue.add(job);
      return false;
    }
    this.serving++;
    return true;
  }

  /** A request in service is done: the next waiting one, now in service, if any. */
  leave(): T | undefined {
    this.serving--;
    for (const next of this.queue) {
      this.queue.delete(next);
      this.serving++;
      return next;
    }
    return undefined;
  }

  /** A waiting request went away (its client gave up); false when it was not waiting. */
  cancel(job: T): boolean {
    return this.queue.delete(job);
  }
}
