import { describe, expect, it } from 'vitest';
import { defaultHpaBehavior, HpaScaler } from '../../src/scaler/hpa.js';

// From the Kubernetes HPA documentation's algorithm and default behavior.
describe('HpaScaler', () => {
  it.each([
    { name: 'ratio 2 doubles', current: 4, metric: 200, target: 100, want: 8 },
    { name: 'within 10 % tolerance: no change', current: 4, metric: 108, target: 100, want: 4 },
    { name: 'ceil of the ratio', current: 3, metric: 150, target: 100, want: 5 },
    { name: 'max replicas', current: 8, metric: 1000, target: 100, want: 10 },
    { name: 'scale-up limited to max(+100 %, +4)', current: 2, metric: 1000, target: 10, want: 6 },
  ])('$name', ({ current, metric, target, want }) => {
    expect(new HpaScaler(defaultHpaBehavior(1, 10)).step(0, current, metric, target)).toBe(want);
  });

  it('stabilizes scale-down to the highest recommendation of the last 300 s', () => {
    const hpa = new HpaScaler(defaultHpaBehavior(1, 100));
    expect(hpa.step(0, 10, 100, 100)).toBe(10);
    expect(hpa.step(15, 10, 10, 100)).toBe(10); // wants 1, held by the 10 recommended at t=0
    expect(hpa.step(301, 10, 10, 100)).toBe(1);
  });

  it('never goes below min replicas', () => {
    expect(new HpaScaler(defaultHpaBehavior(2, 10)).step(0, 0, 0, 100)).toBe(2);
  });
});
