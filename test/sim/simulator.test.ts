import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Recorder } from '../../src/recording/recorder.js';
import { replayStream } from '../../src/recording/replayStream.js';
import { runScenario } from '../../src/sim/run.js';
import { parseScenario } from '../../src/sim/scenario.js';
import type { ScaleResult } from '../../src/decider/decider.js';
import { runCli } from '../helpers/cliHarness.js';
import { tempDir } from '../helpers/tempDir.js';
import { erlangC } from '../helpers/queueing.js';

describe('queueing theory', () => {
  // The activator's revision-wide queue in front of c pods with one slot each (cc 1): M/M/c. Knative keeps
  // the activator in the path with target-burst-capacity -1; min = max = initial scale pins the pool.
  // Cores beyond one do not matter at cc 1: a lone request runs at full speed.
  it.each([1, 4])('a pool behind the activator is an M/M/c queue (pod.cpu %s): mean wait within 5 % of Erlang C', (cpu) => {
    const c = 4;
    const lambda = 3.2;
    const mu = 1;
    const scenario = parseScenario(`
duration: 60000
seed: 11
revisions:
  - name: mmc
    containerConcurrency: 1
    annotations: {autoscaling.knative.dev/target-burst-capacity: "-1", autoscaling.knative.dev/min-scale: "${c}", autoscaling.knative.dev/max-scale: "${c}", autoscaling.knative.dev/initial-scale: "${c}"}
    pod: {cpu: ${cpu}}
    workload: {constant: {rate: ${lambda}}}
    serviceTime: {exponential: {mean: ${1 / mu}}}
`);
    const [r] = runScenario(scenario).results;
    const expectedWaitMs = (erlangC(c, lambda / mu) / (c * mu - lambda)) * 1000;
    expect(Math.abs(r.queueMs.mean - expectedWaitMs) / expectedWaitMs).toBeLessThan(0.05);
    // And the mean time in system is wait + 1/μ.
    expect(Math.abs(r.latencyMs.mean - (expectedWaitMs + 1000 / mu)) / (expectedWaitMs + 1000 / mu)).toBeLessThan(0.03);
  });

  it("Little's law holds for requests in flight", () => {
    const scenario = parseScenario(`
duration: 3600
seed: 5
revisions:
  - name: little
    containerConcurrency: 4
    workload: {sine: {mean: 30, amplitude: 20, period: 600}}
    serviceTime: {lognormal: {mean: 0.3, p99: 2}}
`);
    const [r] = runScenario(scenario).results;
    const lambda = r.requests.completed / scenario.duration;
    expect(Math.abs(r.inFlightMean - lambda * (r.latencyMs.mean / 1000)) / r.inFlightMean).toBeLessThan(0.02);
  });
});

const FLASH = `
name: flash
duration: 900
seed: 42
revisions:
  - name: shop
    containerConcurrency: 10
    config: {stable-window: 60s, scale-to-zero-grace-period: 10s}
    workload: {sum: [{onOff: {rate: 20, on: 300, off: 300}}, {spikes: {base: 0, peak: 150, every: 450, duration: 20, start: 100}}]}
    serviceTime: {lognormal: {mean: 0.2, p99: 1}}
    pod: {coldStart: {exponential: {mean: 3}}, schedulingDelay: 0.5}
policies:
  - {name: kpa, kpa: {}}
  - {name: hpa, hpa: {target: 7, minReplicas: 1}}
`;

describe('the simulator and the engine', () => {
  it('scales to zero, comes back with cold starts, panics on the spike', () => {
    const [kpa, hpa] = runScenario(parseScenario(FLASH)).results;
    expect(kpa.requests.total).toBe(hpa.requests.total); // same workload for every policy
    expect(kpa.requests.coldStarts).toBeGreaterThan(0);
    expect(kpa.timeInPanicS).toBeGreaterThan(0);
    expect(kpa.pods.max).toBeGreaterThan(3);
    expect(kpa.requests.completed + kpa.requests.failed).toBeLessThanOrEqual(kpa.requests.total);
    // HPA never goes to zero and its pods are served directly (no activator in the path): the spike queues
    // at the ready pods' queue-proxies, which refuse what is beyond 10 × cc, and no request waits for a new pod.
    expect(hpa.requests.coldStarts).toBe(0);
    expect(hpa.requests.rejected).toBeGreaterThan(0);
  });

  it('counts as cold starts the requests that waited for a pod to start, and only those', () => {
    const scenario = (replicas: number) => parseScenario(`duration: 120
seed: 5
revisions:
  - name: r
    containerConcurrency: 1
    workload: {constant: {rate: 5}}
    serviceTime: {constant: 0.1}
    pod: {coldStart: {constant: 2}}
policies: [{name: fixed, fixed: {replicas: ${replicas}}}]
`);
    // Enough warm pods from the start: nobody waits for a pod to start.
    expect(runScenario(scenario(10)).results[0].requests.coldStarts).toBe(0);
  });

  it('recorded decisions replay identically with kpa replay', async () => {
    const lines: string[] = [];
    const decisions: { t: number; result: ScaleResult }[] = [];
    runScenario(parseScenario(FLASH), { recorder: new Recorder({ write: (l) => void lines.push(l) }), onDecision: (t, result) => decisions.push({ t, result }) });
    const out = new PassThrough();
    const replayed: Record<string, unknown>[] = [];
    out.on('data', (c: Buffer) => replayed.push(...c.toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)));
    await replayStream(Readable.from([lines.join('')]), out);
    expect(replayed).toHaveLength(decisions.length);
    replayed.forEach((r, i) => {
      const d = decisions[i].result;
      expect(r.t).toBe(decisions[i].t);
      expect(r.valid).toBe(d.valid);
      if (d.valid) expect(r).toMatchObject({ desiredPodCount: d.desiredPodCount, panic: d.panic, excessBurstCapacity: d.excessBurstCapacity });
    });
  });

  it('a fixed seed gives byte-identical reports', async () => {
    const dir = tempDir('sim');
    const file = join(dir, 'flash.yaml');
    writeFileSync(file, FLASH);
    for (const out of ['a', 'b']) expect((await runCli(['simulate', file, '--out', join(dir, out)])).code).toBe(0);
    for (const f of ['report.json', 'timeseries.csv', 'report.html']) {
      expect(readFileSync(join(dir, 'a', f)).equals(readFileSync(join(dir, 'b', f))), f).toBe(true);
    }
    const html = readFileSync(join(dir, 'a', 'report.html'), 'utf8');
    expect(html).toMatch(/<svg/);
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/); // self-contained: nothing fetched at view time
  });
});

describe('bad scenario files', () => {
  const dir = tempDir('bad');
  it.each([
    { name: 'unknown key', yaml: 'duration: 60\nrevisions: [{name: a, workload: {constant: {rate: 1}}, replicas: 2}]', error: /revisions\[0\]\.replicas: unknown key/ },
    { name: 'negative rate', yaml: 'duration: 60\nrevisions: [{name: a, workload: {constant: {rate: -5}}}]', error: /revisions\[0\]\.workload\.constant\.rate: must be ≥ 0/ },
    { name: 'missing trace file', yaml: 'duration: 60\nrevisions: [{name: a, workload: {trace: {csv: nope.csv}}}]', error: /revisions\[0\]\.workload\.trace\.csv: cannot read trace file .*nope\.csv/ },
    { name: 'unsorted trace', yaml: 'duration: 60\nrevisions: [{name: a, workload: {trace: {csv: unsorted.csv}}}]', error: /trace\.csv: unsorted\.csv: line 3: .*must be sorted/ },
    { name: 'bad duration', yaml: 'duration: soon\nrevisions: [{name: a, workload: {constant: {rate: 1}}}]', error: /duration: must be seconds or a duration/ },
    { name: 'invalid autoscaler config', yaml: 'duration: 60\nrevisions: [{name: a, config: {stable-window: 2s}, workload: {constant: {rate: 1}}}]', error: /revisions\[0\]\.config\.stable-window/ },
    { name: 'impossible lognormal', yaml: 'duration: 60\nrevisions: [{name: a, workload: {constant: {rate: 1}}, serviceTime: {lognormal: {mean: 1, p99: 0.5}}}]', error: /serviceTime\.lognormal\.p99/ },
    { name: 'two workload kinds', yaml: 'duration: 60\nrevisions: [{name: a, workload: {constant: {rate: 1}, ramp: {from: 0, to: 1, start: 0, end: 10}}}]', error: /workload: must have exactly one of/ },
    { name: 'HPA policy type', yaml: 'duration: 60\nrevisions: [{name: a, workload: {constant: {rate: 1}}}]\npolicies: [{hpa: {behavior: {scaleUp: {policies: [{type: Replicas, value: 1, periodSeconds: 15}]}}}}]', error: /policies\[0\]\.hpa\.behavior\.scaleUp\.policies\[0\]\.type: must be Pods or Percent/ },
    { name: 'HPA policy period', yaml: 'duration: 60\nrevisions: [{name: a, workload: {constant: {rate: 1}}}]\npolicies: [{hpa: {behavior: {scaleDown: {policies: [{type: Pods, value: 1, periodSeconds: 3600}]}}}}]', error: /scaleDown\.policies\[0\]\.periodSeconds: must be ≤ 1800/ },
    { name: 'HPA select policy', yaml: 'duration: 60\nrevisions: [{name: a, workload: {constant: {rate: 1}}}]\npolicies: [{hpa: {behavior: {scaleDown: {selectPolicy: max}}}}]', error: /scaleDown\.selectPolicy: must be Max, Min or Disabled/ },
    { name: 'HPA stabilization twice', yaml: 'duration: 60\nrevisions: [{name: a, workload: {constant: {rate: 1}}}]\npolicies: [{hpa: {scaleDownStabilization: 60, behavior: {scaleDown: {stabilizationWindowSeconds: 30}}}}]', error: /hpa\.scaleDownStabilization: give either this or behavior/ },
    { name: 'invalid KPA policy override', yaml: 'duration: 60\nrevisions: [{name: a, workload: {constant: {rate: 1}}}]\npolicies: [{name: fast, kpa: {config: {stable-window: 3s}}}]', error: /policies\[0\]\.kpa\.config\.stable-window: / },
    { name: 'unknown config key', yaml: 'duration: 60\nrevisions: [{name: a, config: {stable-windoww: 30s}, workload: {constant: {rate: 1}}}]', error: /revisions\[0\]\.config\.stable-windoww: unknown config-autoscaler key/ },
    { name: 'endless duration', yaml: 'duration: 1e12\nrevisions: [{name: a, workload: {constant: {rate: 1}}}]', error: /duration: must be at most 31 days/ },
    { name: 'pod cpu zero', yaml: 'duration: 60\nrevisions: [{name: a, workload: {constant: {rate: 1}}, pod: {cpu: 0}}]', error: /revisions\[0\]\.pod\.cpu: must be > 0/ },
    { name: 'queue depth without a concurrency limit', yaml: 'duration: 60\nrevisions: [{name: a, workload: {constant: {rate: 1}}, pod: {queueDepth: 5}}]', error: /revisions\[0\]\.pod\.queueDepth: needs containerConcurrency > 0/ },
    { name: 'fractional queue depth', yaml: 'duration: 60\nrevisions: [{name: a, containerConcurrency: 2, workload: {constant: {rate: 1}}, pod: {queueDepth: 2.5}}]', error: /revisions\[0\]\.pod\.queueDepth: must be a whole number/ },
    { name: 'negative activator queue depth', yaml: 'duration: 60\nrevisions: [{name: a, workload: {constant: {rate: 1}}, activator: {queueDepth: -1}}]', error: /revisions\[0\]\.activator\.queueDepth: must be ≥ 0/ },
    { name: 'unknown routing', yaml: 'duration: 60\nrevisions: [{name: a, workload: {constant: {rate: 1}}, routing: least-loaded}]', error: /revisions\[0\]\.routing: must be random or round-robin/ },
    { name: 'policy twice', yaml: 'duration: 60\nrevisions: [{name: a, workload: {constant: {rate: 1}}}]\npolicies: [{kpa: {}}, {kpa: {}}]', error: /policies\[1\]\.name: "kpa" is used twice/ },
  ])('$name → exit 2 naming the field', async ({ yaml, error }) => {
    writeFileSync(join(dir, 'unsorted.csv'), 'timestamp\n1.5\n0.5\n');
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, yaml);
    const { code, stderr } = await runCli(['simulate', file, '--out', join(dir, 'out')]);
    expect(code).toBe(2);
    expect(stderr).toMatch(error);
  });
});

describe('HPA behavior in scenarios', () => {
  it('takes the HorizontalPodAutoscaler field names, with Kubernetes defaults for what is missing', () => {
    const scenario = parseScenario(`duration: 60
revisions: [{name: a, workload: {constant: {rate: 1}}}]
policies:
  - {name: slow-down, hpa: {target: 5, behavior: {scaleDown: {stabilizationWindowSeconds: 60, policies: [{type: Pods, value: 1, periodSeconds: 30}]}}}}
`);
    const policy = scenario.policies[0];
    expect(policy.kind === 'hpa' && policy.hpa).toMatchObject({
      target: 5,
      behavior: {
        scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 4, periodSeconds: 15 }, { type: 'Percent', value: 100, periodSeconds: 15 }], tolerance: 0.1 },
        scaleDown: { stabilizationWindowSeconds: 60, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 1, periodSeconds: 30 }], tolerance: 0.1 },
      },
    });
  });

  it('keeps "no behavior" apart from the behavior defaults: the controller takes another path', () => {
    const scenario = parseScenario(`duration: 60
revisions: [{name: a, workload: {constant: {rate: 1}}}]
policies:
  - {name: none, hpa: {scaleDownStabilization: 60, tolerance: 0.2}}
  - {name: defaults, hpa: {scaleDownStabilization: 60, tolerance: 0.2, behavior: {}}}
`);
    const [none, defaults] = scenario.policies.map((p) => (p.kind === 'hpa' ? p.hpa : null));
    expect(none).toMatchObject({ behavior: null, downscaleStabilizationSeconds: 60, tolerance: 0.2 });
    // The controller's flag fills a scale-down window left out (maybeInitScaleDownStabilizationWindow).
    expect(defaults?.behavior?.scaleDown).toMatchObject({ stabilizationWindowSeconds: 60, tolerance: 0.2 });
    expect(defaults?.behavior?.scaleUp).toMatchObject({ stabilizationWindowSeconds: 0, tolerance: 0.2 });
  });
});

describe('the bundled scenarios', () => {
  it.each(['steady', 'diurnal-day', 'flash-crowd', 'on-off-batch', 'azure-trace', 'formula-day'])('simulations/%s.yaml is valid', async (name) => {
    const { loadScenario } = await import('../../src/sim/scenario.js');
    const scenario = loadScenario(`simulations/${name}.yaml`);
    expect(scenario.revisions.length).toBeGreaterThan(0);
    const report = JSON.parse(readFileSync(`simulations/reports/${name}/report.json`, 'utf8')) as { results: { policy: string }[] };
    expect(report.results.map((r) => r.policy)).toEqual(expect.arrayContaining(scenario.policies.map((p) => p.name)));
  });
});
