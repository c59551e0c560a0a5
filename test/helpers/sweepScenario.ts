/** A short scenario with spikes that the sweep tests vary: 300 s, one revision at cc 10. */
export const SWEEP_SCENARIO = `
duration: 300
seed: 9
revisions:
  - name: api
    containerConcurrency: 10
    workload: {spikes: {base: 10, peak: 120, every: 150, duration: 15, start: 30}}
    serviceTime: {exponential: {mean: 0.2}}
`;
