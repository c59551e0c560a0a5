import type { ScaleResult } from '../decider/decider.js';
import type { DeciderSpec } from '../decider/spec.js';
import { pods } from '../format.js';

function n(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(x < 10 ? 2 : 1);
}

/**
 * One sentence saying why the decider wanted what it wanted, in Knative's
 * terms: "panic: 6 s average 412 ≥ 2 × target 10 on 20 ready pods → 42 pods,
 * capped by max-scale-up-rate at 40".
 */
export function explainDecision(result: ScaleResult, spec: DeciderSpec, panicWindowSeconds: number): string {
  if (!result.valid) {
    if (result.reason === 'no-data') {
      return `no data: nothing recorded in the last ${spec.stableWindowSeconds} s stable window; the previous scale stands`;
    }
    return result.reason === 'out-of-range'
      ? 'out of range: the window values overflow the decision arithmetic; the previous scale stands'
      : 'not collecting metrics for this revision';
  }
  const unit = spec.scalingMetric === 'rps' ? 'rps' : 'concurrent requests';
  const target = `target ${n(spec.targetValue)} ${unit} per pod`;
  const ready = Math.max(1, result.readyPods);
  let why: string;
  if (result.panic) {
    // Still panicking below the threshold: an earlier surge, or a decider created with more than one ready pod (Knative's restart guard).
    const over = result.panicPodsWanted / ready >= spec.panicThreshold;
    why = `panic${over ? '' : ` (until a ${spec.stableWindowSeconds} s stable window passes without a surge)`}: ${panicWindowSeconds} s average ${n(result.panicValue)} ${unit}` +
      ` ${over ? '≥' : '<'} ${n(spec.panicThreshold)} × ${target} on ${result.readyPods} ready → ${pods(result.panicPodsWanted)}` +
      ` (stable ${spec.stableWindowSeconds} s average ${n(result.stableValue)} → ${result.stablePodsWanted})`;
  } else {
    why = `stable: ${spec.stableWindowSeconds} s average ${n(result.stableValue)} ${unit} ÷ ${target} → ${pods(result.stablePodsWanted)}`;
  }
  const wanted = result.panic ? Math.max(result.panicPodsWanted, result.stablePodsWanted) : result.stablePodsWanted;
  const notes: string[] = [];
  if (wanted > result.maxScaleUp && result.desiredPodCount === result.maxScaleUp) {
    notes.push(`capped by max-scale-up-rate ${n(spec.maxScaleUpRate)} × ${ready} ready at ${result.maxScaleUp}`);
  }
  if (wanted < result.maxScaleDown && result.desiredPodCount === result.maxScaleDown && result.delayedFrom === null) {
    notes.push(`held by max-scale-down-rate ${n(spec.maxScaleDownRate)} at ${result.maxScaleDown} (${ready} ready)`);
  }
  if (spec.activationScale > 1 && result.desiredPodCount === spec.activationScale && wanted < spec.activationScale && wanted > 0) {
    notes.push(`raised to activation-scale ${spec.activationScale}`);
  }
  if (result.panic && result.desiredPodCount > Math.min(wanted, result.maxScaleUp) && result.delayedFrom === null) {
    notes.push('panic never scales down: holding the highest count of this panic');
  }
  if (result.delayedFrom !== null) {
    notes.push(`scale-down-delay ${spec.scaleDownDelaySeconds} s holds ${result.desiredPodCount} instead of ${result.delayedFrom}`);
  }
  // "… → 3 pods" already says it when nothing changed the count the sentence ends on.
  const said = result.panic ? result.panicPodsWanted : result.stablePodsWanted;
  if (notes.length === 0 && result.desiredPodCount === said) return why;
  return `${why}${notes.length ? `; ${notes.join('; ')}` : ''} → ${pods(result.desiredPodCount)}`;
}
