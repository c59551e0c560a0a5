/**
 * A binary min-heap of timed events; ties go in insertion order, so a run
 * is deterministic.
 */
export class EventQueue<T> {
  private times: number[] = [];
  private seqs: number[] = [];
  private items: T[] = [];
  private seq = 0;

  get size(): number {
    return this.items.length;
  }

  peekTime(): number {
    return this.items.length ? this.times[0] : Infinity;
  }

  push(time: number, item: T): void {
    let i = this.items.length;
    const s = this.seq++;
    this.times.push(time);
    this.seqs.push(s);
    this.items.push(item);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.less(p, time, s)) break;
      this.move(p, i);
      i = p;
    }
    this.times[i] = time;
    this.seqs[i] = s;
    this.items[i] = item;
  }

  pop(): T | undefined {
    const n = this.items.length;
    if (n === 0) return undefined;
    const top = this.items[0];
    const time = this.times[n - 1];
    const s = this.seqs[n - 1];
    const item = this.items[n - 1];
    this.times.pop();
    this.seqs.pop();
    this.items.pop();
    if (n > 1) {
      let i = 0;
      const size = n - 1;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= size) break;
        const r = l + 1;
        const c = r < size && this.before(r, l) ? r : l;
        if (!this.beforeValue(c, time, s)) break;
        this.move(c, i);
        i = c;
      }
      this.times[i] = time;
      this.seqs[i] = s;
      this.items[i] = item;
    }
    return top;
  }

  /** Whether slot a comes before slot b. */
  private before(a: number, b: number): boolean {
    return this.times[a] < this.times[b] || (this.times[a] === this.times[b] && this.seqs[a] < this.seqs[b]);
  }

  private beforeValue(a: number, time: number, s: number): boolean {
    return this.times[a] < time || (this.times[a] === time && this.seqs[a] < s);
  }

  /** Whether slot p is at or before (time, s). */
  private less(p: number, time: number, s: number): boolean {
    return this.times[p] < time || (this.times[p] === time && this.seqs[p] <= s);
  }

  private move(from: number, to: number): void {
    this.times[to] = this.times[from];
    this.seqs[to] = this.seqs[from];
    this.items[to] = this.items[from];
  }
}
