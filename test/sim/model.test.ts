import { describe, expect, it } from 'vitest';
import { runScenario } from '../../src/sim/run.js';
import type { PolicyReport } from '../../src/sim/report.js';
import { parseScenario } from '../../src/sim/scenario.js';
import { erlangC } from '../helpers/queueing.js';

/** The serving model against queueing theory (docs/simulation-model.md has the formulas). */

function run(yaml: string): PolicyReport {
  return runScenario(parseScenario(yaml)).results[0];
}

const relErr = (value: number, theory: number) => Math.abs(value - theory) / theory;

/** One revision, Poisson arrivals at `rate`, exponential service of mean `mean` s, a fixed pool. */
function pool(o: { rate: number; mean: number; replicas: number; duration: number; seed: number; revision?: string }): string {
  return `duration: ${o.duration}
seed: ${o.seed}
revisions:
  - name: r
    workload: {constant: {rate: ${o.rate}}}
    serviceTime: {exponential: {mean: ${o.mean}}}
${o.revision ?? ''}
policies: [{name: fixed, fixed: {replicas: ${o.replicas}}}]
`;
}

describe('pod capacity: the requests in service share the pod’s cores (processor sharing)', () => {
  it('containerConcurrency 0 saturates: 1000 req/s of 10 ms on one 1-core pod is 10 cores of work', () => {
    const one = run(pool({ rate: 1000, mean: 0.01, replicas: 1, duration: 60, seed: 3 }));
    const two = run(pool({ rate: 1000, mean: 0.01, replicas: 2, duration: 60, seed: 3 }));
    // Before: both 46 ms p99 with no queueing, as if a pod served any number of requests at full speed.
    expect(one.latencyMs.p99).toBeGreaterThan(10_000);
    expect(two.latencyMs.p99).toBeGreaterThan(1_000);
    // A saturated pod completes cpu / S = 100 requests a second (exponential work: memoryless), two pods twice that.
    expect(relErr(one.requests.completed, 100 * 60)).toBeLessThan(0.05);
    expect(relErr(two.requests.completed, 200 * 60)).toBeLessThan(0.05);
    // Nothing waits (queue-proxy has no breaker at cc 0) and nothing is refused: it is all slowdown.
    expect([one.queueMs.mean, one.requests.rejected, two.requests.rejected]).toEqual([0, 0, 0]);
  });

  it('two pods halve the load: 80 req/s of 10 ms is M/M/1-PS at ρ 0.8 on one pod, 0.4 on each of two', () => {
    const one = run(pool({ rate: 80, mean: 0.01, replicas: 1, duration: 20_000, seed: 4 }));
    const two = run(pool({ rate: 80, mean: 0.01, replicas: 2, duration: 20_000, seed: 4 }));
    expect(relErr(one.latencyMs.mean, 10 / (1 - 0.8))).toBeLessThan(0.05);
    expect(relErr(two.latencyMs.mean, 10 / (1 - 0.4))).toBeLessThan(0.05);
  });

  it.each([
    { rho: 0.3, seed: 1 },
    { rho: 0.5, seed: 2 },
    { rho: 0.7, seed: 3 },
  ])('one pod, cc 0, ρ $rho: mean response time S/(1 − ρ) within 5 % (M/M/1-PS)', ({ rho, seed }) => {
    const S = 0.01;
    const r = run(pool({ rate: rho / S, mean: S, replicas: 1, duration: 20_000, seed }));
    expect(relErr(r.latencyMs.mean, (S * 1000) / (1 - rho))).toBeLessThan(0.05);
    expect(r.queueMs.mean).toBe(0);
  });

  it('the PS mean is insensitive to the service distribution: lognormal service, ρ 0.6, S/(1 − ρ) within 5 %', () => {
    const r = run(`duration: 20000
seed: 4
revisions:
  - name: r
    workload: {constant: {rate: 60}}
    serviceTime: {lognormal: {mean: 10ms, p99: 50ms}}
policies: [{fixed: {replicas: 1}}]
`);
    expect(relErr(r.latencyMs.mean, 10 / (1 - 0.6))).toBeLessThan(0.05);
  });

  it('pod.cpu 2: each of n requests runs at min(1, 2/n), so one pod is an M/M/2 in the mean (Erlang C)', () => {
    const S = 0.01;
    const lambda = 160;
    const r = run(pool({ rate: lambda, mean: S, replicas: 1, duration: 8000, seed: 5, revision: '    pod: {cpu: 2}' }));
    const theory = (erlangC(2, lambda * S) / (2 / S - lambda) + S) * 1000;
    expect(relErr(r.latencyMs.mean, theory)).toBeLessThan(0.05);
  });

  it('containerConcurrency stays the admission limit: cc 1 with pod.cpu 0.5 is M/M/1 at half the speed', () => {
    // 0.5 cores: a 10 ms request takes 20 ms alone; at 25 req/s ρ = 0.5, T = 20 ms / (1 − 0.5).
    const r = run(pool({ rate: 25, mean: 0.01, replicas: 1, duration: 20_000, seed: 6, revision: '    containerConcurrency: 1\n    pod: {cpu: 0.5, queueDepth: 100000}' }));
    expect(relErr(r.latencyMs.mean, 20 / (1 - 0.5))).toBeLessThan(0.05);
  });
});

describe('routing without the activator: the ingress picks a pod, its queue-proxy queues', () => {
  it.each([
    { rho: 0.5, seed: 6 },
    { rho: 0.8, seed: 7 },
  ])('random routing over 4 pods, cc 1, ρ $rho: 4 independent M/M/1 queues at λ/4, T = S/(1 − ρ) within 5 %', ({ rho, seed }) => {
    const S = 0.1;
    const r = run(pool({ rate: (rho * 4) / S, mean: S, replicas: 4, duration: 20_000, seed, revision: '    containerConcurrency: 1\n    pod: {queueDepth: 100000}' }));
    expect(relErr(r.latencyMs.mean, (S * 1000) / (1 - rho))).toBeLessThan(0.05);
  });

  it('round-robin over 4 pods: each pod an E4/M/1 queue (G/M/1: T = 1/(μ(1 − σ)), σ = A*(μ(1 − σ))) within 5 %', () => {
    const S = 0.1;
    const mu = 1 / S;
    const perPod = 8; // ρ 0.8
    // Interarrivals at a pod: Erlang-4 with rate 4·perPod per phase; A*(s) = (4λ/(4λ + s))^4.
    let sigma = 0.5;
    for (let i = 0; i < 200; i++) sigma = ((4 * perPod) / (4 * perPod + mu * (1 - sigma))) ** 4;
    const r = run(pool({ rate: 4 * perPod, mean: S, replicas: 4, duration: 20_000, seed: 9, revision: '    containerConcurrency: 1\n    routing: round-robin\n    pod: {queueDepth: 100000}' }));
    expect(relErr(r.latencyMs.mean, 1000 / (mu * (1 - sigma)))).toBeLessThan(0.05);
    const random = run(pool({ rate: 4 * perPod, mean: S, replicas: 4, duration: 20_000, seed: 9, revision: '    containerConcurrency: 1\n    pod: {queueDepth: 100000}' }));
    expect(r.latencyMs.mean).toBeLessThan(0.8 * random.latencyMs.mean);
  });
});

/** M/M/1/K: blocking probability and mean response time of the admitted requests. */
function mm1k(rho: number, K: number, lambda: number): { block: number; responseS: number } {
  let z = 0;
  let l = 0;
  for (let n = 0; n <= K; n++) {
    z += rho ** n;
    l += n * rho ** n;
  }
  const block = rho ** K / z;
  return { block, responseS: l / z / (lambda * (1 - block)) };
}

describe('limits: full queues answer 503 (requests.rejected)', () => {
  it('queue-proxy holds 10 × cc: cc 1 per pod is M/M/1/11, blocking and response time within 5 %', () => {
    const S = 0.1;
    const r = run(pool({ rate: 32, mean: S, replicas: 4, duration: 20_000, seed: 8, revision: '    containerConcurrency: 1' }));
    const theory = mm1k(0.8, 11, 8);
    expect(r.requests.rejected).toBeGreaterThan(0);
    expect(relErr(r.requests.rejected / r.requests.total, theory.block)).toBeLessThan(0.05);
    expect(relErr(r.latencyMs.mean, theory.responseS * 1000)).toBeLessThan(0.05);
    expect(r.requests.completed + r.requests.rejected + r.requests.failed).toBeLessThanOrEqual(r.requests.total);
  });

  it('the activator buffer: activator.queueDepth 5 in front of one cc-1 pod is M/M/1/6', () => {
    const r = run(`duration: 20000
seed: 10
revisions:
  - name: r
    containerConcurrency: 1
    annotations: {autoscaling.knative.dev/target-burst-capacity: "-1", autoscaling.knative.dev/min-scale: "1", autoscaling.knative.dev/max-scale: "1"}
    activator: {queueDepth: 5}
    workload: {constant: {rate: 8}}
    serviceTime: {exponential: {mean: 0.1}}
`);
    const theory = mm1k(0.8, 6, 8);
    expect(relErr(r.requests.rejected / r.requests.total, theory.block)).toBeLessThan(0.05);
    expect(r.requests.failed).toBe(0);
  });

  it('nothing is refused by default at cc 0, however long the queue of work', () => {
    const r = run(pool({ rate: 300, mean: 0.01, replicas: 1, duration: 30, seed: 2 }));
    expect(r.requests.rejected).toBe(0);
  });
});

describe('the activator in the path, as Knative decides it', () => {
  /** When the desired replicas first reach 0 under each policy. */
  function zeroAt(yaml: string): Record<string, number> {
    const at: Record<string, number> = {};
    const last: Record<string, number> = {};
    runScenario(parseScenario(yaml), {
      onSecond: (row) => {
        if (at[row.policy] === undefined && last[row.policy] > 0 && row.desiredPods === 0) at[row.policy] = row.t;
        last[row.policy] = row.desiredPods;
      },
    });
    return at;
  }

  it('with target-burst-capacity 0 the activator enters the path only as the revision goes inactive: zero a grace period later', () => {
    const at = zeroAt(`duration: 400
seed: 4
revisions:
  - name: r
    containerConcurrency: 10
    workload: {onOff: {rate: 5, on: 120, off: 300}}
    serviceTime: {exponential: {mean: 100ms}}
policies:
  - {name: default, kpa: {}}
  - {name: tbc0, kpa: {annotations: {autoscaling.knative.dev/target-burst-capacity: "0"}}}
`);
    // Default (tbc 200): the activator has been in the path all along, so zero as soon as inactive.
    // tbc 0: pods served directly; the activator only takes the path then, and the 30 s grace runs from there.
    // Before: both at the same second.
    expect(at.default).toBeGreaterThan(120);
    expect(at.tbc0 - at.default).toBeGreaterThanOrEqual(30);
    expect(at.tbc0 - at.default).toBeLessThanOrEqual(34);
  });
});
