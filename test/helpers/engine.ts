import type { WindowPair } from '../../src/metrics/collection.js';
import type { RevisionMetrics } from '../../src/decider/decider.js';
import type { DeciderSpec } from '../../src/decider/spec.js';
import type { Stat } from '../../src/metrics/stat.js';

/** Fixed window values for the decider: Knative's fake MetricClient. */
export class FakeMetrics implements RevisionMetrics {
  constructor(public stable = 0, public panic = 0, public ok = true) {}
  set(stable: number, panic: number = stable): this {
    this.stable = stable;
    this.panic = panic;
    return this;
  }
  readWindows(_now: number, _rps: boolean, into: WindowPair): boolean {
    into.stable = this.stable;
    into.panic = this.panic;
    return this.ok;
  }
}

/** A decider spec like Knative's test fixture: target 10 per pod, total 100, panic at 2×. */
export function deciderSpec(overrides: Partial<DeciderSpec> = {}): DeciderSpec {
  return {
    maxScaleUpRate: 10,
    maxScaleDownRate: 2,
    scalingMetric: 'concurrency',
    targetValue: 10,
    totalValue: 100,
    targetBurstCapacity: 211,
    activatorCapacity: 100,
    panicThreshold: 2,
    stableWindowSeconds: 60,
    scaleDownDelaySeconds: 0,
    initialScale: 1,
    reachable: true,
    activationScale: 0,
    ...overrides,
  };
}

export function stat(concurrency: number, requests = 0, podName = 'pod-1'): Stat {
  return {
    podName,
    averageConcurrentRequests: concurrency,
    averageProxiedConcurrentRequests: 0,
    requestCount: requests,
    proxiedRequestCount: 0,
    processUptime: 0,
  };
}
