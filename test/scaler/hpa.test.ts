import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { defaultHpaSpec, HpaScaler, type HpaScalingRules, type HpaSpec } from '../../src/scaler/hpa.js';

const rules = (overrides: Partial<HpaScalingRules>, base: HpaScalingRules): HpaScalingRules => ({ ...base, ...overrides });
const spec = (min: number, max: number, up: Partial<HpaScalingRules> = {}, down: Partial<HpaScalingRules> = {}): HpaSpec => {
  const d = defaultHpaSpec(min, max);
  return { ...d, scaleUp: rules(up, d.scaleUp), scaleDown: rules(down, d.scaleDown) };
};

// The Kubernetes HPA controller's algorithm (horizontal.go) and the defaults of autoscaling/v2.
describe('HpaScaler with the default behavior', () => {
  it.each([
    { name: 'ratio 2 doubles', current: 4, metric: 200, target: 100, want: 8 },
    { name: 'within 10 % tolerance: no change', current: 4, metric: 108, target: 100, want: 4 },
    { name: 'within 10 % tolerance downwards: no change', current: 4, metric: 91, target: 100, want: 4 },
    { name: 'ceil of the ratio', current: 3, metric: 150, target: 100, want: 5 },
    { name: 'max replicas', current: 8, metric: 1000, target: 100, want: 10 },
    { name: 'scale-up limited to max(+4 pods, +100 %) per 15 s', current: 2, metric: 1000, target: 10, want: 6 },
    { name: 'from zero: min replicas', current: 0, metric: 0, target: 100, want: 2 },
    { name: 'above max: straight to max, no rate limit', current: 40, metric: 100, target: 100, want: 10 },
  ])('$name', ({ current, metric, target, want }) => {
    expect(new HpaScaler(defaultHpaSpec(2, 10)).step(0, current, metric, target)).toBe(want);
  });

  it('stabilizes scale-down to the highest recommendation of the last 300 s', () => {
    const hpa = new HpaScaler(defaultHpaSpec(1, 100));
    expect(hpa.step(0, 10, 100, 100)).toBe(10);
    expect(hpa.step(15, 10, 10, 100)).toBe(10); // wants 1, held by the 10 recommended at t=0
    expect(hpa.step(300, 10, 10, 100)).toBe(1); // t=0 is no longer after the cutoff
  });

  it('counts the pods added within the period: a second scale-up waits for the period to end', () => {
    const hpa = new HpaScaler(defaultHpaSpec(1, 100));
    expect(hpa.step(0, 2, 1000, 10)).toBe(6); // 2 → max(2+4, 2×2)
    expect(hpa.step(5, 6, 1000, 10)).toBe(6); // the period started at 2 replicas: still capped at 6
    expect(hpa.step(15, 6, 1000, 10)).toBe(12); // the t=0 event is out of the period: max(6+4, 6×2)
  });
});

describe('HpaScaler behavior policies', () => {
  it('selectPolicy Min on scale-up picks the smallest increase', () => {
    expect(new HpaScaler(spec(1, 100, { selectPolicy: 'Min' })).step(0, 10, 1000, 10)).toBe(14); // min(10+4, 10×2)
  });

  it('selectPolicy Disabled on scale-down never removes a pod', () => {
    const hpa = new HpaScaler(spec(1, 100, {}, { selectPolicy: 'Disabled', stabilizationWindowSeconds: 0 }));
    expect(hpa.step(0, 10, 0, 10)).toBe(10);
    expect(hpa.step(600, 10, 0, 10)).toBe(10);
  });

  it('a Pods policy of 1 per 60 s removes one pod a minute', () => {
    const hpa = new HpaScaler(spec(1, 100, {}, { stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] }));
    expect(hpa.step(0, 10, 1, 10)).toBe(9);
    expect(hpa.step(30, 9, 1, 10)).toBe(9);
    expect(hpa.step(60, 9, 1, 10)).toBe(8);
  });

  it('a Percent scale-down truncates: 50 % of 5 leaves 2', () => {
    const hpa = new HpaScaler(spec(1, 100, {}, { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 50, periodSeconds: 60 }] }));
    expect(hpa.step(0, 5, 0, 10)).toBe(2);
  });

  it('scale-down selectPolicy Max picks the largest decrease, Min the smallest', () => {
    const policies = [{ type: 'Pods' as const, value: 2, periodSeconds: 60 }, { type: 'Percent' as const, value: 50, periodSeconds: 60 }];
    expect(new HpaScaler(spec(1, 100, {}, { stabilizationWindowSeconds: 0, policies })).step(0, 10, 0, 10)).toBe(5);
    expect(new HpaScaler(spec(1, 100, {}, { stabilizationWindowSeconds: 0, policies, selectPolicy: 'Min' })).step(0, 10, 0, 10)).toBe(8);
  });

  it('a scale-up stabilization window scales up only to the lowest recommendation of the window', () => {
    const hpa = new HpaScaler(spec(1, 100, { stabilizationWindowSeconds: 60 }));
    expect(hpa.step(0, 4, 10, 10)).toBe(4); // at target
    expect(hpa.step(15, 4, 30, 10)).toBe(4); // wants 12, held by the 4 of t=0
    expect(hpa.step(60, 4, 30, 10)).toBe(8); // the window holds only 12s now; +100 % per period
  });

  it('tolerance per direction', () => {
    expect(new HpaScaler(spec(1, 100, { tolerance: 0 })).step(0, 10, 10.5, 10)).toBe(11);
    expect(new HpaScaler(spec(1, 100, { tolerance: 0 })).step(0, 10, 9.5, 10)).toBe(10);
  });
});

describe('HpaScaler invariants', () => {
  const policy = fc.record({ type: fc.constantFrom('Pods' as const, 'Percent' as const), value: fc.integer({ min: 1, max: 200 }), periodSeconds: fc.integer({ min: 1, max: 120 }) });
  const sides = fc.record({
    stabilizationWindowSeconds: fc.integer({ min: 0, max: 300 }),
    selectPolicy: fc.constantFrom('Max' as const, 'Min' as const, 'Disabled' as const),
    policies: fc.array(policy, { minLength: 1, maxLength: 3 }),
    tolerance: fc.constantFrom(0, 0.1),
  });

  it('stays within min/max, moves only in the direction of the metric, never in a disabled direction', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 50 }), sides, sides,
      fc.array(fc.double({ min: 0, max: 500, noNaN: true }), { minLength: 1, maxLength: 40 }),
      (min, extra, up, down, metrics) => {
        const max = min + extra;
        const hpa = new HpaScaler({ minReplicas: min, maxReplicas: max, scaleUp: up, scaleDown: down });
        let current = min;
        metrics.forEach((metric, i) => {
          const next = hpa.step(i * 15, current, metric, 10);
          expect(next).toBeGreaterThanOrEqual(min);
          expect(next).toBeLessThanOrEqual(max);
          if (next > current) expect(metric).toBeGreaterThan(10);
          if (next < current) expect(metric).toBeLessThan(10);
          if (next > current && up.selectPolicy === 'Disabled') throw new Error('scaled up with scale-up disabled');
          if (next < current && down.selectPolicy === 'Disabled') throw new Error('scaled down with scale-down disabled');
          current = next;
        });
      },
    ), { numRuns: 300 });
  });
});
