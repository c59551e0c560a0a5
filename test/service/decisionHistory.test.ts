import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/log.js';
import { type DecisionRecord, AutoscalerService } from '../../src/service/autoscalerService.js';
import { DecisionHistory, type ScaleStatus } from '../../src/service/decisionHistory.js';
import { deciderSpec } from '../helpers/engine.js';
import { stat } from '../helpers/engine.js';

const A = (k: string) => `autoscaling.knative.dev/${k}`;
const basis = { spec: deciderSpec(), panicWindowSeconds: 6 };
const noData = { valid: false, reason: 'no-data' } as const;

describe('DecisionHistory', () => {
  it('keeps decisions by age, not by count', () => {
    const h = new DecisionHistory(600);
    for (let t = 0; t <= 1200; t += 2) h.push(t, noData, basis, { currentReplicas: t, wantReplicas: 1, state: 'active', reason: String(t), dryRun: false });
    const records = h.records();
    expect(records[0].t).toBe(600);
    expect(records.at(-1)!.t).toBe(1200);
    expect(records).toHaveLength(301);
  });

  it('coalesces a run of the same invalid result under the same scale status into one record with since', () => {
    const h = new DecisionHistory(600);
    for (let t = 10; t <= 20; t += 2) h.push(t, noData, basis, null);
    h.push(22, { valid: false, reason: 'out-of-range' }, basis, null);
    expect(h.records().map((r) => [r.t, r.since, r.result])).toEqual([
      [20, 10, noData], [22, undefined, { valid: false, reason: 'out-of-range' }],
    ]);
  });

  it('an idle revision shrinks back to a few entries once its busy minutes age out', () => {
    const h = new DecisionHistory(600);
    const busy = { valid: true, desiredPodCount: 3, excessBurstCapacity: -1, panic: false, stableValue: 25, panicValue: 25,
      readyPods: 3, stablePodsWanted: 3, panicPodsWanted: 3, maxScaleUp: 30, maxScaleDown: 1, delayedFrom: null } as const;
    for (let t = 0; t < 600; t += 2) h.push(t, busy, basis, null);
    for (let t = 600; t < 1800; t += 2) h.push(t, noData, basis, null);
    expect(h.length).toBe(1);
    expect(h.records()[0]).toMatchObject({ t: 1798, since: 600 });
  });

  const status = fc.record({
    currentReplicas: fc.integer({ min: 0, max: 3 }), wantReplicas: fc.integer({ min: -1, max: 3 }),
    state: fc.constantFrom('active', 'inactive'), reason: fc.constantFrom('a', 'b'), dryRun: fc.boolean(),
  });
  it('reads back exactly what was pushed, with runs of specs and statuses, under random pushes', () => {
    const bases = [basis, { spec: deciderSpec({ targetValue: 3, maxScaleUpRate: 2.5, reachable: false }), panicWindowSeconds: 1 }];
    const step = fc.record({
      dt: fc.constantFrom(0.5, 2, 2, 30, 700), basis: fc.constantFrom(0, 1), scale: fc.option(status),
      result: fc.oneof(
        fc.constantFrom(noData, { valid: false, reason: 'out-of-range' } as const),
        fc.record({ stable: fc.double({ min: 0, max: 1e6, noNaN: true }), panic: fc.double({ min: 0, max: 1e6, noNaN: true }),
          desired: fc.integer({ min: 0, max: 1e6 }), ebc: fc.integer(), ready: fc.integer({ min: 0, max: 1000 }),
          delayed: fc.option(fc.integer({ min: 0, max: 1000 })), panicking: fc.boolean() }),
      ),
    });
    fc.assert(fc.property(fc.array(step, { maxLength: 400 }), (steps) => {
      const h = new DecisionHistory(600, 256);
      const model: { t: number; since?: number; result: unknown; scale: ScaleStatus | null; basis: unknown }[] = [];
      let t = 0;
      for (const s of steps) {
        t += s.dt;
        const b = bases[s.basis];
        const spec = b.spec;
        const result = 'valid' in s.result ? s.result : {
          valid: true as const, desiredPodCount: s.result.desired, excessBurstCapacity: s.result.ebc, panic: s.result.panicking,
          stableValue: s.result.stable, panicValue: s.result.panic, readyPods: s.result.ready,
          stablePodsWanted: Math.ceil(s.result.stable / spec.targetValue), panicPodsWanted: Math.ceil(s.result.panic / spec.targetValue),
          maxScaleUp: Math.ceil(spec.maxScaleUpRate * Math.max(1, s.result.ready)),
          maxScaleDown: spec.reachable ? Math.floor(Math.max(1, s.result.ready) / spec.maxScaleDownRate) : 0,
          delayedFrom: s.result.delayed,
        };
        h.push(t, result, b, s.scale);
        while (model.length > 0 && model[0].t < t - 600) model.shift();
        const last = model.at(-1);
        if (last && !result.valid && !(last.result as { valid: boolean }).valid
          && (last.result as { reason: string }).reason === result.reason && JSON.stringify(last.scale) === JSON.stringify(s.scale)) {
          last.since ??= last.t;
          last.t = t;
        } else {
          if (model.length === 256) model.shift();
          model.push({ t, result, scale: s.scale, basis: b });
        }
      }
      expect(h.records().map(({ basis: b, ...r }) => ({ ...r, basis: b }))).toEqual(model.map((m) => (m.since === undefined ? m : m)));
    }), { numRuns: 300 });
  });
});

describe('AutoscalerService history', () => {
  it('serves exactly the decisions the decider made, explanations included', () => {
    const clock = new ManualClock(1_700_000_000);
    const service = new AutoscalerService({ clock, logger: silentLogger() });
    const key = { namespace: 'default', name: 'busy' };
    const config = { 'stable-window': '6s', 'scale-down-delay': '10s' };
    service.upsertRevision(key, { config }, [], 'activator');
    const made: DecisionRecord[] = [];
    for (let s = 0; s < 120; s++) {
      clock.advance(1);
      if (s === 60) service.upsertRevision(key, { config, annotations: { [A('target')]: '7' } });
      if (s < 100) service.recordStat(key, stat(s % 20 < 10 ? 300 : 5, s), 'activator');
      service.setReadyCount(key, 1 + (s % 7));
      if (s % 2 === 0) {
        const d = service.tickRevision(key)!;
        const last = made.at(-1);
        if (last && !d.result.valid && !last.result.valid && last.result.reason === d.result.reason) {
          last.since ??= last.t;
          last.t = d.t;
        } else made.push(d);
      }
    }
    expect(made.some((d) => d.result.valid && d.result.delayedFrom !== null)).toBe(true);
    expect(service.history(key)).toEqual(made);
  });

  // Issue 15: 10,000 revisions kept 300 decisions each, about 192 KB a revision, after load stopped.
  it('drops decisions older than ten minutes once the load stops', () => {
    const clock = new ManualClock(1_700_000_000);
    const service = new AutoscalerService({ clock, logger: silentLogger() });
    const key = { namespace: 'default', name: 'was-busy' };
    service.upsertRevision(key, { config: { 'stable-window': '6s' } }, [], 'activator');
    for (let s = 0; s < 1_500; s++) {
      clock.advance(1);
      if (s < 600) service.recordStat(key, stat(10 + (s % 50)), 'activator');
      if (s % 2 === 0) service.tick();
    }
    expect(service.history(key).length).toBeLessThanOrEqual(2);
  });
});
