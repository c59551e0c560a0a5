import type { ScaleResult } from '../decider/decider.js';
import type { DeciderSpec } from '../decider/spec.js';

/** The scaler's view of a revision: replicas wanted and applied, activity state, why. */
export interface ScaleStatus {
  /** The target's replicas as last observed. */
  currentReplicas: number;
  /** What the scaler wants (-1: no opinion yet). */
  wantReplicas: number;
  state: string;
  reason: string;
  /** Shadow mode: what would have been applied is only reported. */
  dryRun: boolean;
}

/** What a decision was made under: the decider's spec and the panic window (for its explanation). */
export interface DecisionBasis {
  readonly spec: DeciderSpec;
  readonly panicWindowSeconds: number;
}

/** A decision as the API shows it: the decider's result, when, and what the scaler made of it. */
export interface StoredDecision {
  t: number;
  result: ScaleResult;
  /** The scaler's view right after this decision, where a mode applies decisions. */
  scale: ScaleStatus | null;
  /** Consecutive identical invalid decisions are kept as one: the first one's time (`t` is the latest's). */
  since?: number;
  basis: DecisionBasis;
}

const KIND_VALID = 0;
const INVALID_REASONS = ['no-data', 'out-of-range'] as const;
const PANIC_BIT = 8;
const NO_DELAY = -2147483648;

/** Values that change rarely (spec, scale status), stored once per run of entries that share them. */
interface Run<T> {
  /** The sequence number of the first entry the value applies to. */
  from: number;
  value: T;
}

/** Whether two scale statuses say the same (a decision's scale is stored once per run of equal ones). */
export function sameScale(a: ScaleStatus | null, b: ScaleStatus | null): boolean {
  if (a === b) return true;
  if (a === null || b === null) return false;
  return a.currentReplicas === b.currentReplicas && a.wantReplicas === b.wantReplicas
    && a.state === b.state && a.reason === b.reason && a.dryRun === b.dryRun;
}

/** Bytes per decision in the ring: t, stable, panic (f64); desired, EBC, ready, delayed-from (i32); kind (u8). */
const STRIDE = 41;
const T = 0;
const STABLE = 8;
const PANIC = 16;
const DESIRED = 24;
const EBC = 28;
const READY = 32;
const DELAYED = 36;
const KIND = 40;

/**
 * One revision's recent decisions, kept by age (default the last 10 minutes)
 * and compactly: a ring of 41-byte records in one buffer, with the spec and
 * the scale status stored once per run of decisions that share them. Values
 * the decider derives from the spec (pods wanted per window, the rate limits)
 * are recomputed on read with the decider's own arithmetic, and the
 * explanation is written on read, so a busy revision's ten minutes (300
 * ticks) take about 13 KB and an idle one's, a single coalesced "no data", a
 * few hundred bytes.
 */
export class DecisionHistory {
  private capacity = 0;
  private start = 0;
  private count = 0;
  /** Sequence number of the entry at `start`. */
  private firstSeq = 0;
  private ring = new DataView(new ArrayBuffer(0));
  /** `since` of coalesced entries, by sequence number (few: only runs of the same invalid result). */
  private readonly since = new Map<number, number>();
  private readonly bases: Run<DecisionBasis>[] = [];
  private readonly scales: Run<ScaleStatus | null>[] = [];

  constructor(private readonly maxAgeSeconds = 600, private readonly maxEntries = 2048) {}

  get length(): number {
    return this.count;
  }

  /** Adds a decision, or extends the last one when both are the same invalid result under the same scale status. */
  push(t: number, result: ScaleResult, basis: DecisionBasis, scale: ScaleStatus | null): void {
    this.prune(t);
    const ring = () => this.ring;
    if (this.count > 0 && !result.valid) {
      const last = this.offset(this.count - 1);
      const reason = ring().getUint8(last + KIND);
      if (reason !== KIND_VALID && INVALID_REASONS[reason - 1] === result.reason && sameScale(this.scaleAt(this.count - 1), scale)) {
        const seq = this.firstSeq + this.count - 1;
        if (!this.since.has(seq)) this.since.set(seq, ring().getFloat64(last + T));
        ring().setFloat64(last + T, t);
        return;
      }
    }
    if (this.count === this.maxEntries) this.dropOldest();
    if (this.count === this.capacity) this.resize(this.capacity < 256 ? Math.max(8, this.capacity * 2) : this.capacity + 64);
    const at = this.offset(this.count);
    const seq = this.firstSeq + this.count;
    this.count++;
    const r = ring();
    r.setFloat64(at + T, t);
    if (result.valid) {
      r.setUint8(at + KIND, KIND_VALID | (result.panic ? PANIC_BIT : 0));
      r.setFloat64(at + STABLE, result.stableValue);
      r.setFloat64(at + PANIC, result.panicValue);
      r.setInt32(at + DESIRED, result.desiredPodCount);
      r.setInt32(at + EBC, result.excessBurstCapacity);
      r.setInt32(at + READY, result.readyPods);
      r.setInt32(at + DELAYED, result.delayedFrom ?? NO_DELAY);
    } else {
      r.setUint8(at + KIND, INVALID_REASONS.indexOf(result.reason) + 1);
    }
    const lastBasis = this.bases.at(-1);
    if (lastBasis === undefined || lastBasis.value !== basis) this.bases.push({ from: seq, value: basis });
    const lastScale = this.scales.at(-1);
    if (lastScale === undefined || !sameScale(lastScale.value, scale)) this.scales.push({ from: seq, value: scale });
  }

  /** The newest decision, or null. */
  latest(): StoredDecision | null {
    return this.count === 0 ? null : this.read(this.count - 1);
  }

  /** Every kept decision, oldest first. */
  records(): StoredDecision[] {
    const out: StoredDecision[] = [];
    for (let n = 0; n < this.count; n++) out.push(this.read(n));
    return out;
  }

  /** Drops what is older than the age limit (a coalesced entry counts by its latest time), and gives back unused room. */
  prune(now: number): void {
    while (this.count > 0 && this.ring.getFloat64(this.offset(0) + T) < now - this.maxAgeSeconds) this.dropOldest();
    if (this.capacity > 2 && this.count <= this.capacity / 4) this.resize(Math.max(2, this.count * 2));
  }

  private offset(n: number): number {
    return ((this.start + n) % this.capacity) * STRIDE;
  }

  private dropOldest(): void {
    this.since.delete(this.firstSeq);
    this.start = (this.start + 1) % this.capacity;
    this.count--;
    this.firstSeq++;
    trimRuns(this.bases, this.firstSeq);
    trimRuns(this.scales, this.firstSeq);
  }

  private resize(capacity: number): void {
    const next = new Uint8Array(capacity * STRIDE);
    const old = new Uint8Array(this.ring.buffer);
    for (let n = 0; n < this.count; n++) {
      const from = this.offset(n);
      next.set(old.subarray(from, from + STRIDE), n * STRIDE);
    }
    this.ring = new DataView(next.buffer);
    this.start = 0;
    this.capacity = capacity;
  }

  private scaleAt(n: number): ScaleStatus | null {
    return runAt(this.scales, this.firstSeq + n);
  }

  private read(n: number): StoredDecision {
    const at = this.offset(n);
    const seq = this.firstSeq + n;
    const basis = runAt(this.bases, seq);
    const record: StoredDecision = { t: this.ring.getFloat64(at + T), result: this.result(at, basis.spec), scale: this.scaleAt(n), basis };
    const since = this.since.get(seq);
    if (since !== undefined) record.since = since;
    return record;
  }

  /** The decider's result, with what it derived from the spec recomputed the way the decider computes it. */
  private result(at: number, spec: DeciderSpec): ScaleResult {
    const r = this.ring;
    const kind = r.getUint8(at + KIND);
    if ((kind & ~PANIC_BIT) !== KIND_VALID) return { valid: false, reason: INVALID_REASONS[kind - 1] };
    const readyPodCount = r.getInt32(at + READY);
    const readyPods = Math.max(1, readyPodCount);
    const stableValue = r.getFloat64(at + STABLE);
    const panicValue = r.getFloat64(at + PANIC);
    const delayed = r.getInt32(at + DELAYED);
    return {
      valid: true,
      desiredPodCount: r.getInt32(at + DESIRED),
      excessBurstCapacity: r.getInt32(at + EBC),
      panic: (kind & PANIC_BIT) !== 0,
      stableValue,
      panicValue,
      readyPods: readyPodCount,
      stablePodsWanted: Math.ceil(stableValue / spec.targetValue),
      panicPodsWanted: Math.ceil(panicValue / spec.targetValue),
      maxScaleUp: Math.ceil(spec.maxScaleUpRate * readyPods),
      maxScaleDown: spec.reachable ? Math.floor(readyPods / spec.maxScaleDownRate) : 0,
      delayedFrom: delayed === NO_DELAY ? null : delayed,
    };
  }
}

/** Drops runs that end before `firstSeq` (the run covering it stays). */
function trimRuns<T>(runs: Run<T>[], firstSeq: number): void {
  let drop = 0;
  while (drop + 1 < runs.length && runs[drop + 1].from <= firstSeq) drop++;
  if (drop > 0) runs.splice(0, drop);
}

function runAt<T>(runs: Run<T>[], seq: number): T {
  let lo = 0;
  let hi = runs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (runs[mid].from <= seq) lo = mid;
    else hi = mid - 1;
  }
  return runs[lo].value;
}
