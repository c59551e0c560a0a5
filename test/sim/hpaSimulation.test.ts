import { describe, expect, it } from 'vitest';
import { runScenario } from '../../src/sim/run.js';
import { parseScenario } from '../../src/sim/scenario.js';

/** The replicas the HPA set at each 15 s sync. */
function syncs(yaml: string): number[] {
  const out: number[] = [];
  runScenario(parseScenario(yaml), { onSecond: (row) => { if (row.t % 15 === 0) out.push(row.desiredPods); } });
  return out;
}

// The reproductions are of a service whose requests wait rather than compute (1 s each
// whatever else runs): pods with 100 cores, so processor sharing never slows them.
describe('the simulated HPA as the Kubernetes controller computes it', () => {
  it('scales up from the ready pods: starting pods have no metric and count as 0 (replica_calculator.go, missing pods)', () => {
    // One ready pod carries all of 10 concurrent requests; the 9 it asked for take 40 s to start.
    // Kubernetes: 10 pods × (10 + 9 × 0) / 10 = 1 per pod, the target: no change while they start.
    // (Multiplying by all 10 replicas went 10 → 110 → 1000.)
    const got = syncs(`duration: 50
revisions: [{name: a, workload: {constant: {rate: 10}}, serviceTime: {constant: 1}, pod: {coldStart: 40s, cpu: 100}}]
policies: [{hpa: {target: 1, behavior: {scaleUp: {policies: [{type: Percent, value: 1000, periodSeconds: 15}]}}}}]
`);
    expect(got).toEqual([10, 10, 10]);
  });

  it('without behavior, scale-up is capped at max(2 × current, 4) per sync (normalizeDesiredReplicas), not the behavior defaults', () => {
    const got = syncs(`duration: 120
revisions: [{name: a, workload: {constant: {rate: 100}}, serviceTime: {constant: 1}, pod: {coldStart: 0.5, cpu: 100}}]
policies: [{hpa: {target: 1}}]
`);
    // The behavior defaults gave 5, 10, 20, 40, 80 (max(+4 pods, +100 %)).
    expect(got.slice(0, 5)).toEqual([4, 8, 16, 32, 64]);
    // Then at most 2 × 64: about 100 concurrent requests, seen through the 15 s metric window
    // while the 32 pods that held all of them a second before still report part of that load.
    expect(got[5]).toBeGreaterThan(64);
    expect(got[5]).toBeLessThanOrEqual(128);
  });
});

describe('the utilization metric', () => {
  it('scales on the busy fraction of a one-core request, the averageUtilization percent an integer', () => {
    const got = syncs(`duration: 120
revisions: [{name: a, workload: {constant: {rate: 20}}, serviceTime: {constant: 0.5}, pod: {coldStart: 2}}]
policies: [{hpa: {metric: utilization, target: 50, behavior: {}}}]
`);
    // One pod busy 100 % of the time at first; ~10 requests in flight keep about 10 pods busy half the time or more.
    expect(got[0]).toBe(2);
    expect(Math.max(...got)).toBeGreaterThan(8);
    expect(() => parseScenario(`duration: 60
revisions: [{name: a, workload: {constant: {rate: 1}}}]
policies: [{hpa: {metric: utilization, target: 70.5}}]
`)).toThrow(/policies\[0\]\.hpa\.target: must be a whole number/);
  });
});
