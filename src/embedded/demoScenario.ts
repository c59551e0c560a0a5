/**
 * The built-in demo of `npm start`: three revisions in the simulator's
 * scenario format, tuned to show within a minute what the autoscaler does —
 * a flash crowd that panics, a compressed diurnal wave scaled on RPS, and a
 * batch that goes idle, scales to zero and comes back. max-scale is also the
 * number of ports each revision's pods may use.
 */
export const DEMO_SCENARIO = `
name: embedded-demo
duration: 24h
seed: 1
revisions:
  - name: flash-crowd
    containerConcurrency: 10
    annotations: {autoscaling.knative.dev/max-scale: "30"}
    config: {stable-window: 30s}
    workload:
      sum:
        - {constant: {rate: 15}}
        - {spikes: {base: 0, peak: 120, every: 90s, duration: 12s, start: 10s}}
    serviceTime: {lognormal: {mean: 200ms, p99: 800ms}}
    pod: {coldStart: {exponential: {mean: 2s}}, schedulingDelay: 300ms, terminationGracePeriod: 10s}
  - name: diurnal
    annotations: {autoscaling.knative.dev/metric: rps, autoscaling.knative.dev/target: "10", autoscaling.knative.dev/max-scale: "20"}
    config: {stable-window: 20s}
    workload: {sine: {mean: 40, amplitude: 35, period: 3m}}
    serviceTime: {exponential: {mean: 100ms}}
    pod: {coldStart: {constant: 2s}, terminationGracePeriod: 10s}
  - name: idle-burst
    containerConcurrency: 5
    annotations: {autoscaling.knative.dev/max-scale: "20"}
    config: {stable-window: 6s, panic-window-percentage: "30", scale-to-zero-grace-period: 6s}
    workload: {onOff: {rate: 20, on: 10s, off: 25s}}
    serviceTime: {exponential: {mean: 150ms}}
    pod: {coldStart: {constant: 1500ms}, terminationGracePeriod: 5s}
`;

/**
 * The demo revision reached without the activator and scraped like a
 * Knative revision's queue-proxy, for Knative users; the others go through
 * kpa activator, which reports their load.
 */
export const DEMO_DIRECT_REVISIONS: ReadonlySet<string> = new Set(['diurnal']);
