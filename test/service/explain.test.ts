import { describe, expect, it } from 'vitest';
import type { Decision } from '../../src/decider/decider.js';
import { explainDecision } from '../../src/service/explain.js';
import { deciderSpec } from '../helpers/engine.js';

const decision = (d: Partial<Decision>): Decision => ({
  valid: true, desiredPodCount: 3, excessBurstCapacity: 0, panic: false, stableValue: 30, panicValue: 30, readyPods: 3,
  stablePodsWanted: 3, panicPodsWanted: 3, maxScaleUp: 30, maxScaleDown: 2, delayedFrom: null, ...d,
});
const spec = deciderSpec({ targetValue: 10 });

describe('explainDecision: one sentence, the count said once unless something changed it', () => {
  it.each<[string, Partial<Decision>, string]>([
    ['stable, nothing in the way', {}, 'stable: 60 s average 30 concurrent requests ÷ target 10 concurrent requests per pod → 3 pods'],
    ['stable, capped by the scale-up rate', { stableValue: 500, stablePodsWanted: 50, desiredPodCount: 30, maxScaleUp: 30 },
      'stable: 60 s average 500 concurrent requests ÷ target 10 concurrent requests per pod → 50 pods; capped by max-scale-up-rate 10 × 3 ready at 30 → 30 pods'],
    ['panic, the panic count wins', { panic: true, panicValue: 80, panicPodsWanted: 8, stablePodsWanted: 4, stableValue: 40, desiredPodCount: 8 },
      'panic: 6 s average 80 concurrent requests ≥ 2 × target 10 concurrent requests per pod on 3 ready → 8 pods (stable 60 s average 40 → 4)'],
    ['panic, the stable count is higher', { panic: true, panicValue: 40, panicPodsWanted: 4, stablePodsWanted: 6, stableValue: 60, desiredPodCount: 6 },
      'panic (until a 60 s stable window passes without a surge): 6 s average 40 concurrent requests < 2 × target 10 concurrent requests per pod on 3 ready → 4 pods (stable 60 s average 60 → 6) → 6 pods'],
    ['scale-down delay holds the count', { stableValue: 10, stablePodsWanted: 1, desiredPodCount: 3, delayedFrom: 1, maxScaleDown: 2 },
      'stable: 60 s average 10 concurrent requests ÷ target 10 concurrent requests per pod → 1 pod; scale-down-delay 0 s holds 3 instead of 1 → 3 pods'],
  ])('%s', (_what, d, text) => {
    expect(explainDecision(decision(d), spec, 6)).toBe(text);
  });
});
