import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolveRevision } from '../../src/config/revisionConfig.js';
import { RevisionScaler, type ScalerInput, type ScalerSpec, scalerSpecFor } from '../../src/scaler/index.js';

const spec = (overrides: Partial<ScalerSpec> = {}): ScalerSpec => ({
  minScale: 0, maxScale: 0, initialScale: 1, enableScaleToZero: true, scaleToZeroGracePeriodSeconds: 30,
  scaleToZeroPodRetentionSeconds: 0, stableWindowSeconds: 60, activationTimeoutSeconds: 630, reachable: true, ...overrides,
});
const input = (overrides: Partial<ScalerInput>): ScalerInput => ({
  now: 0, desiredScale: 1, readyPods: 1, currentReplicas: 1, activatorInPath: false, ...overrides,
});

/** A scaler brought to Active with one ready pod at t = 0. */
function activeScaler(s: Partial<ScalerSpec> = {}): RevisionScaler {
  const scaler = new RevisionScaler(spec(s), 0);
  expect(scaler.step(input({ now: 0 })).state).toBe('active');
  return scaler;
}

describe('scalerSpecFor', () => {
  it('derives bounds, retention and activation timeout as Knative', () => {
    const resolved = resolveRevision({
      config: { 'scale-to-zero-grace-period': '45s', 'scale-to-zero-pod-retention-period': '1m', 'max-scale': '9' },
      annotations: { 'autoscaling.knative.dev/min-scale': '2', 'serving.knative.dev/progress-deadline': '120s' },
    });
    expect(scalerSpecFor(resolved)).toEqual({
      minScale: 2, maxScale: 9, initialScale: 1, enableScaleToZero: true, scaleToZeroGracePeriodSeconds: 45,
      scaleToZeroPodRetentionSeconds: 60, stableWindowSeconds: 60, activationTimeoutSeconds: 150, reachable: true,
    });
    expect(scalerSpecFor(resolveRevision({ reachable: false, config: { 'scale-to-zero-pod-retention-period': '1m' } })).scaleToZeroPodRetentionSeconds).toBe(0);
    expect(scalerSpecFor(resolveRevision({})).activationTimeoutSeconds).toBe(630);
  });
});

// Single steps from Knative's scaler_test.go (TestScaler): bounds and applying only on change.
describe('RevisionScaler bounds', () => {
  it.each([
    { name: 'scale up', s: {}, desired: 5, current: 1, replicas: 5 },
    { name: 'no change, no patch', s: {}, desired: 1, current: 1, replicas: null },
    { name: 'min-scale lifts', s: { minScale: 3 }, desired: 1, current: 1, replicas: 3 },
    { name: 'max-scale caps', s: { maxScale: 4 }, desired: 10, current: 1, replicas: 4 },
    { name: 'max 0 is unbounded', s: { maxScale: 0 }, desired: 1000, current: 1, replicas: 1000 },
    { name: 'initial scale until reached', s: { initialScale: 5 }, desired: 1, current: 1, replicas: 5, ready: 1 },
  ])('$name', ({ s, desired, current, replicas, ready }) => {
    const scaler = new RevisionScaler(spec(s), 0);
    expect(scaler.step(input({ desiredScale: desired, currentReplicas: current, readyPods: ready ?? 1 })).replicas).toBe(replicas);
  });

  it('no decision yet leaves an active target alone', () => {
    const scaler = activeScaler();
    expect(scaler.step(input({ now: 2, desiredScale: -1, currentReplicas: 3 }))).toMatchObject({ replicas: null, state: 'active' });
  });

  it('initial scale stops applying once reached', () => {
    const scaler = new RevisionScaler(spec({ initialScale: 3 }), 0);
    expect(scaler.step(input({ desiredScale: 1, readyPods: 1 })).replicas).toBe(3);
    expect(scaler.step(input({ now: 2, desiredScale: 1, readyPods: 3, currentReplicas: 3 })).replicas).toBeNull();
    expect(scaler.scaleTargetInitialized).toBe(true);
    expect(scaler.step(input({ now: 4, desiredScale: 1, readyPods: 3, currentReplicas: 3 })).replicas).toBe(1);
  });
});

describe('RevisionScaler scale to zero', () => {
  it('enable-scale-to-zero false keeps one pod', () => {
    const scaler = activeScaler({ enableScaleToZero: false });
    expect(scaler.step(input({ now: 100, desiredScale: 0, currentReplicas: 2 }))).toMatchObject({ replicas: 1 });
  });

  it('holds one pod for a stable window after activation', () => {
    const scaler = activeScaler();
    const out = scaler.step(input({ now: 30, desiredScale: 0, currentReplicas: 1 }));
    expect(out).toMatchObject({ replicas: null, want: 1, state: 'active' });
    expect(out.reason).toMatch(/stable window/);
  });

  it('goes inactive, then to zero once the activator has been in the path for the grace period', () => {
    const scaler = activeScaler();
    expect(scaler.step(input({ now: 60, desiredScale: 0 }))).toMatchObject({ replicas: null, state: 'inactive' });
    expect(scaler.step(input({ now: 62, desiredScale: 0, activatorInPath: true }))).toMatchObject({ replicas: null, state: 'inactive' });
    const held = scaler.step(input({ now: 80, desiredScale: 0, activatorInPath: true }));
    expect(held.replicas).toBeNull();
    expect(held.reason).toMatch(/grace period, 18 s of 30 s/);
    expect(scaler.step(input({ now: 92, desiredScale: 0, activatorInPath: true }))).toMatchObject({ replicas: 0, state: 'inactive' });
  });

  it('never drops the last pod while no activator is in the path', () => {
    const scaler = activeScaler();
    scaler.step(input({ now: 60, desiredScale: 0 }));
    const out = scaler.step(input({ now: 10_000, desiredScale: 0 }));
    expect(out.replicas).toBeNull();
    expect(out.reason).toMatch(/no activator/);
  });

  it('keeps the last pod for the pod retention period', () => {
    const scaler = activeScaler({ scaleToZeroPodRetentionSeconds: 120 });
    scaler.step(input({ now: 60, desiredScale: 0, activatorInPath: true }));
    expect(scaler.step(input({ now: 150, desiredScale: 0, activatorInPath: true })).replicas).toBeNull();
    expect(scaler.step(input({ now: 180, desiredScale: 0, activatorInPath: true })).replicas).toBe(0);
  });

  it('comes back: load while inactive at zero activates, then active when pods are ready', () => {
    const scaler = activeScaler();
    scaler.step(input({ now: 60, desiredScale: 0, activatorInPath: true }));
    scaler.step(input({ now: 90, desiredScale: 0, activatorInPath: true, currentReplicas: 1 }));
    expect(scaler.state).toBe('inactive');
    expect(scaler.step(input({ now: 200, desiredScale: 2, readyPods: 0, currentReplicas: 0, activatorInPath: true })))
      .toMatchObject({ replicas: 2, state: 'activating' });
    expect(scaler.step(input({ now: 210, desiredScale: 2, readyPods: 2, currentReplicas: 2, activatorInPath: true })))
      .toMatchObject({ replicas: null, state: 'active' });
  });

  it('activation times out after progress deadline + 30 s', () => {
    const scaler = new RevisionScaler(spec({ activationTimeoutSeconds: 630 }), 0);
    expect(scaler.step(input({ now: 100, desiredScale: 0, readyPods: 0, currentReplicas: 1 }))).toMatchObject({ replicas: null, state: 'activating' });
    expect(scaler.step(input({ now: 631, desiredScale: 0, readyPods: 0, currentReplicas: 1 }))).toMatchObject({ replicas: 0, state: 'inactive' });
  });
});

describe('RevisionScaler invariants', () => {
  const steps = fc.array(fc.record({
    dt: fc.integer({ min: 0, max: 40 }),
    desired: fc.integer({ min: -1, max: 60 }),
    ready: fc.integer({ min: 0, max: 60 }),
    activator: fc.boolean(),
  }), { minLength: 1, maxLength: 80 });
  const specs = fc.record({
    minScale: fc.integer({ min: 0, max: 5 }),
    maxScale: fc.integer({ min: 0, max: 30 }),
    initialScale: fc.integer({ min: 1, max: 5 }),
    enableScaleToZero: fc.boolean(),
    scaleToZeroGracePeriodSeconds: fc.integer({ min: 1, max: 120 }),
    scaleToZeroPodRetentionSeconds: fc.integer({ min: 0, max: 120 }),
  }).filter((s) => s.maxScale === 0 || s.maxScale >= s.minScale);

  it('replicas stay within bounds, never 0 without scale-to-zero, never 0 without an activator in the path for the grace period', () => {
    fc.assert(fc.property(specs, steps, (s, seq) => {
      const sp = spec(s);
      const scaler = new RevisionScaler(sp, 0);
      let now = 0;
      let current = 1;
      let activatorSince: number | null = null;
      for (const st of seq) {
        now += st.dt;
        if (st.activator) activatorSince ??= now;
        else activatorSince = null;
        const out = scaler.step({ now, desiredScale: st.desired, readyPods: st.ready, currentReplicas: current, activatorInPath: st.activator });
        if (out.replicas === null) continue;
        if (sp.maxScale > 0) expect(out.replicas).toBeLessThanOrEqual(Math.max(sp.maxScale, 1));
        if (out.replicas === 0) {
          expect(sp.enableScaleToZero).toBe(true);
          // Zero only after the grace period with the activator in the path — or after a failed activation.
          const timedOut = out.reason.includes('activation timed out');
          if (!timedOut) {
            expect(activatorSince).not.toBeNull();
          }
        } else {
          expect(out.replicas).toBeGreaterThanOrEqual(sp.minScale);
        }
        current = out.replicas;
      }
    }));
  });
});
