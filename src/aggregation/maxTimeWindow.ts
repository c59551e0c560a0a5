/**
 * The maximum of the values recorded over a sliding time window (Knative's
 * max.TimeWindow), used to delay scale-down: the decider holds the highest
 * desired count of the last scale-down-delay. Uses the ascending-minima
 * algorithm: O(1) amortized per record.
 */
export class MaxTimeWindow {
  /** Candidates for the maximum, values strictly descending, indices ascending (a ring). */
  private readonly values: Int32Array;
  private readonly indices: Float64Array;
  private first = 0;
  private length = 0;
  private readonly granularity: number;

  constructor(durationSeconds: number, granularitySeconds: number) {
    const size = Math.ceil(durationSeconds / granularitySeconds);
    this.values = new Int32Array(size);
    this.indices = new Float64Array(size);
    this.granularity = granularitySeconds;
  }

  record(now: number, value: number): void {
    // Go: int(now.Unix()) / int(granularity.Seconds())
    const index = Math.floor(Math.floor(now) / this.granularity);
    const size = this.values.length;
    let v = value | 0;
    // Drop smaller or equal values from the back: the new one outlives and outweighs them.
    while (this.length > 0 && !(v < this.values[(this.first + this.length - 1) % size])) this.length--;
    // Drop values that fell out of the window from the front.
    while (this.length > 0 && index - this.indices[this.first] >= size) {
      this.length--;
      this.first = (this.first + 1) % size;
    }
    // Several values for one index: keep the largest.
    if (this.length > 0) {
      const last = (this.first + this.length - 1) % size;
      if (this.indices[last] === index) {
        if (this.values[last] > v) v = this.values[last];
        this.length--;
      }
    }
    const at = (this.first + this.length) % size;
    this.values[at] = v;
    this.indices[at] = index;
    this.length++;
  }

  /** The maximum over the window; 0 before anything was recorded. */
  current(): number {
    return this.values[this.first];
  }
}
