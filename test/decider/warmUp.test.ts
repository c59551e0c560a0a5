import { describe, expect, it } from 'vitest';
import { resolveRevision } from '../../src/config/revisionConfig.js';
import type { ScaleResult } from '../../src/decider/decider.js';
import { MultiScaler, warmUpDecisionPath } from '../../src/decider/multiScaler.js';

const A = (k: string) => `autoscaling.knative.dev/${k}`;

/**
 * Every kind of revision the warm-up runs (and window sizes it fills the
 * weight table for), through surges, calm and silence: the decisions of a
 * real MultiScaler, stat by stat.
 */
function decisions(scalers: MultiScaler): ScaleResult[] {
  const out: ScaleResult[] = [];
  const kinds = ['linear', 'weighted-exponential'].flatMap((algorithm) => ['concurrency', 'rps'].flatMap((metric) => [
    resolveRevision({ annotations: { [A('metric-aggregation-algorithm')]: algorithm, [A('metric')]: metric } }),
    resolveRevision({ annotations: { [A('metric-aggregation-algorithm')]: algorithm, [A('metric')]: metric, [A('scale-down-delay')]: '30s', [A('window')]: '6s' } }),
  ]));
  const list = kinds.map((kind, i) => scalers.upsert({ namespace: 'ns', name: `r${i}` }, kind, 1_700_000_000, 2));
  for (let s = 0; s < 400; s++) {
    const now = 1_700_000_000 + s;
    for (let i = 0; i < list.length; i++) {
      if (s % 200 < 170) {
        scalers.record(list[i].key, now, {
          podName: 'p', averageConcurrentRequests: (s % 97 < 15 ? 400 : 20) + ((s * 13 + i) % 17) / 3,
          averageProxiedConcurrentRequests: 0, requestCount: 90 + (s % 7) * 1.25, proxiedRequestCount: 0, processUptime: s,
        });
      }
      if (s % 2 === 0) {
        const result = list[i].tick(now);
        out.push(result);
        if (result.valid) list[i].readyPods = result.desiredPodCount;
      }
    }
  }
  return out;
}

describe('warming up the decision path', () => {
  it('changes no decision: the same revisions decide the same before and after it, bit for bit', () => {
    // Before any warm-up in this process (the file runs in its own module graph).
    const cold = decisions(new MultiScaler({ warmUp: false }));
    warmUpDecisionPath();
    const warm = decisions(new MultiScaler({ warmUp: false }));
    expect(warm).toEqual(cold);
    for (let i = 0; i < cold.length; i++) {
      const [c, w] = [cold[i], warm[i]];
      if (c.valid && w.valid) {
        expect(Object.is(w.stableValue, c.stableValue) && Object.is(w.panicValue, c.panicValue)).toBe(true);
      }
    }
    // The cases the warm-up must cover: valid decisions, panic, and no data.
    expect(cold.some((r) => r.valid && r.panic)).toBe(true);
    expect(cold.some((r) => !r.valid && r.reason === 'no-data')).toBe(true);
  });

  it('leaves no revision behind in the MultiScaler that ran it', () => {
    const scalers = new MultiScaler();
    expect(scalers.size).toBe(0);
    expect([...scalers.all()]).toEqual([]);
  });
});
