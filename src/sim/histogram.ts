/**
 * A log-bucketed histogram of positive values (latencies in ms): buckets grow
 * by 1 %, so any quantile is within 1 % of the true value, with memory flat
 * in the number of samples (a request is never stored).
 */
export class LogHistogram {
  private static readonly GROWTH = 1.01;
  private static readonly LOG_GROWTH = Math.log(LogHistogram.GROWTH);
  /** Values below this (ms) share bucket 0. */
  private static readonly MIN = 0.001;
  private counts = new Float64Array(4096);
  count = 0;
  sum = 0;
  max = 0;

  private index(v: number): number {
    if (v <= LogHistogram.MIN) return 0;
    return 1 + Math.floor(Math.log(v / LogHistogram.MIN) / LogHistogram.LOG_GROWTH);
  }

  record(v: number): void {
    const i = this.index(v);
    if (i >= this.counts.length) {
      const grown = new Float64Array(Math.max(i + 1, this.counts.length * 2));
      grown.set(this.counts);
      this.counts = grown;
    }
    this.counts[i]++;
    this.count++;
    this.sum += v;
    if (v > this.max) this.max = v;
  }

  /** The q-quantile (0..1): the geometric middle of its bucket; 0 when empty. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank) {
        if (i === 0) return LogHistogram.MIN;
        const low = LogHistogram.MIN * LogHistogram.GROWTH ** (i - 1);
        return Math.min(this.max, low * Math.sqrt(LogHistogram.GROWTH));
      }
    }
    return this.max;
  }

  get mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  /** Counts per bucket for charts: [upper bound ms, count] for non-empty buckets. */
  buckets(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i < this.counts.length; i++) {
      if (this.counts[i] > 0) out.push([LogHistogram.MIN * LogHistogram.GROWTH ** i, this.counts[i]]);
    }
    return out;
  }
}
