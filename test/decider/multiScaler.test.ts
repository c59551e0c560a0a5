import { describe, expect, it } from 'vitest';
import { resolveRevision } from '../../src/config/revisionConfig.js';
import { MultiScaler } from '../../src/decider/multiScaler.js';
import { REVISION_STATE_SLOTS, WindowStates } from '../../src/metrics/collection.js';
import { stat } from '../helpers/engine.js';

const key = { namespace: 'ns', name: 'rev' };
const A = (k: string) => `autoscaling.knative.dev/${k}`;

// Knative's pkg/autoscaler/scaling/multiscaler_test.go semantics.
describe('MultiScaler', () => {
  it('a new scaler has no desired scale yet and the initial excess burst capacity', () => {
    const m = new MultiScaler();
    const s = m.upsert(key, resolveRevision({}), 0, 0);
    expect(s.desiredScale).toBe(-1);
    // initial-scale 1 × total 100 − TBC 211
    expect(s.excessBurstCapacity).toBe(-111);
    const unlimited = m.upsert({ namespace: 'ns', name: 'b' }, resolveRevision({ annotations: { [A('target-burst-capacity')]: '-1' } }), 0);
    expect(unlimited.excessBurstCapacity).toBe(-1);
  });

  it('a tick without data keeps the last desired scale', () => {
    const m = new MultiScaler();
    const s = m.upsert(key, resolveRevision({ annotations: { [A('window')]: '6s' } }), 0, 1);
    m.record(key, 0, stat(210)); // target 70 per pod
    expect(s.tick(0)).toMatchObject({ valid: true, desiredPodCount: 3 });
    expect(s.tick(20)).toEqual({ valid: false, reason: 'no-data' });
    expect(s.desiredScale).toBe(3);
    expect(s.lastResult).toEqual({ valid: false, reason: 'no-data' });
  });

  it('pokes a revision scaled to zero when a stat shows load', () => {
    const m = new MultiScaler();
    const s = m.upsert(key, resolveRevision({}), 0, 0);
    expect(m.record(key, 0, stat(1))).toBe(false); // no decision yet (-1)
    s.tick(0);
    m.record(key, 1, stat(0));
    // Zero load over a partial window: the decider wanted 0.
    const m2 = new MultiScaler();
    const s2 = m2.upsert(key, resolveRevision({}), 0, 0);
    m2.record(key, 0, stat(0));
    expect(s2.tick(2)).toMatchObject({ desiredPodCount: 0 });
    expect(m2.record(key, 3, stat(0))).toBe(false); // no load: no poke
    expect(m2.record(key, 3, stat(2))).toBe(true);
  });

  it('an update keeps decider state and window data', () => {
    const m = new MultiScaler();
    m.upsert(key, resolveRevision({}), 0, 5); // starts in panic holding 5
    const s = m.upsert(key, resolveRevision({ annotations: { [A('target')]: '50' } }), 1, 5);
    expect(s.decider.inPanic).toBe(true);
    expect(s.resolved.decider.totalValue).toBe(50);
    expect(m.size).toBe(1);
  });

  it('drops stats for unknown revisions and deletes', () => {
    const m = new MultiScaler();
    expect(m.record(key, 0, stat(5))).toBe(false);
    m.upsert(key, resolveRevision({}), 0);
    expect(m.delete(key)).toBe(true);
    expect(m.get(key)).toBeUndefined();
  });

  it('a deleted revision\'s windows stay its own when a new revision takes their place in the shared table', () => {
    const m = new MultiScaler();
    const spec = resolveRevision({ annotations: { [A('window')]: '6s' } });
    const gone = m.upsert(key, spec, 0, 1);
    const beside = m.upsert({ namespace: 'ns', name: 'beside' }, spec, 0, 1);
    for (let t = 0; t < 4; t++) {
      m.record(key, t, stat(140));
      m.record({ namespace: 'ns', name: 'beside' }, t, stat(70));
    }
    expect(m.delete(key)).toBe(true);
    const next = m.upsert({ namespace: 'ns', name: 'next' }, spec, 3, 1);
    // The newcomer starts empty; the deleted one, which somebody holds, keeps its data and still takes stats.
    expect(next.collection.stableAndPanicConcurrency(3)).toEqual({ ok: false, reason: 'no-data' });
    expect(gone.collection.stableAndPanicConcurrency(3)).toEqual({ ok: true, stable: 140, panic: 140 });
    m.record({ namespace: 'ns', name: 'next' }, 4, stat(7));
    gone.record(4, stat(280));
    expect(gone.collection.stableAndPanicConcurrency(4)).toEqual({ ok: true, stable: 168, panic: 280 });
    expect(next.collection.stableAndPanicConcurrency(4)).toEqual({ ok: true, stable: 7, panic: 7 });
    expect(beside.collection.stableAndPanicConcurrency(3)).toEqual({ ok: true, stable: 70, panic: 70 });
  });

  it('revisions that come and go reuse their places in the window-state table: it grows with the revisions alive, not with those ever seen', () => {
    const states = new WindowStates();
    const m = new MultiScaler({ warmUp: false, windowStates: states });
    m.upsert({ namespace: 'ns', name: 'stays' }, resolveRevision({}), 0, 1);
    for (let i = 0; i < 100; i++) {
      const k = { namespace: 'ns', name: `brief-${i}` };
      m.upsert(k, resolveRevision({}), i, 1);
      m.record(k, i, stat(5));
      m.delete(k);
    }
    expect(states.taken).toBe(1);
    expect(states.table.length).toBe(2 * REVISION_STATE_SLOTS);
  });

  it('finds a revision by namespace and name: the same name in another namespace is another revision', () => {
    const m = new MultiScaler();
    const a = m.upsert({ namespace: 'one', name: 'rev' }, resolveRevision({ annotations: { [A('window')]: '6s' } }), 0, 1);
    const b = m.upsert({ namespace: 'two', name: 'rev' }, resolveRevision({ annotations: { [A('window')]: '6s' } }), 0, 1);
    // Fresh strings, as decoded from a stat message: found by value.
    m.record({ namespace: ['o', 'ne'].join(''), name: ['r', 'ev'].join('') }, 0, stat(700));
    m.record({ namespace: 'two', name: 'rev' }, 0, stat(70));
    expect(a.tick(1)).toMatchObject({ valid: true, desiredPodCount: 10 });
    expect(b.tick(1)).toMatchObject({ valid: true, desiredPodCount: 1 });
    expect(m.delete({ namespace: 'one', name: 'rev' })).toBe(true);
    expect(m.get({ namespace: 'one', name: 'rev' })).toBeUndefined();
    expect(m.record({ namespace: 'one', name: 'rev' }, 2, stat(5))).toBe(false);
    expect(m.get({ namespace: 'two', name: 'rev' })).toBe(b);
    expect(m.delete({ namespace: 'one', name: 'rev' })).toBe(false);
    expect(m.size).toBe(1);
  });

  it('keys that make the same "namespace/name" share one autoscaler, whichever of them is used', () => {
    const m = new MultiScaler();
    const first = m.upsert({ namespace: 'a/b', name: 'c' }, resolveRevision({ annotations: { [A('window')]: '6s' } }), 0, 1);
    const alias = { namespace: 'a', name: 'b/c' };
    expect(m.upsert(alias, resolveRevision({ annotations: { [A('window')]: '6s' } }), 0, 1)).toBe(first);
    expect(m.get(alias)).toBe(first);
    m.record(alias, 0, stat(700));
    expect(first.tick(1)).toMatchObject({ valid: true, desiredPodCount: 10 });
    expect(m.size).toBe(1);
    // Deleted through the other key, it is gone under both.
    expect(m.delete(alias)).toBe(true);
    expect(m.get({ namespace: 'a/b', name: 'c' })).toBeUndefined();
    expect(m.record({ namespace: 'a/b', name: 'c' }, 2, stat(5))).toBe(false);
    expect(m.size).toBe(0);
  });
});
