import { describe, expect, it } from 'vitest';
import { resolveRevision } from '../../src/config/revisionConfig.js';
import { MetricCollector } from '../../src/metrics/collector.js';
import { stat } from '../helpers/engine.js';

const key = { namespace: 'default', name: 'hello-00001' };
const A = (k: string) => `autoscaling.knative.dev/${k}`;
const spec = (annotations: Record<string, string> = {}) => resolveRevision({ annotations }).metric;

// Knative's pkg/autoscaler/metrics/collector_test.go semantics.
describe('MetricCollector', () => {
  it('drops stats for revisions it does not collect', () => {
    const c = new MetricCollector();
    expect(c.record(key, 0, stat(5))).toBe(false);
    expect(c.stableAndPanicConcurrency(key, 0)).toEqual({ ok: false, reason: 'not-collecting' });
  });

  it('averages concurrency and RPS over the stable and panic windows', () => {
    const c = new MetricCollector();
    c.createOrUpdate(key, spec({ [A('window')]: '10s' }), 0);
    for (let t = 0; t < 10; t++) c.record(key, t, stat(t < 9 ? 1 : 10, 4));
    expect(c.stableAndPanicConcurrency(key, 9)).toEqual({ ok: true, stable: 1.9, panic: 10 });
    expect(c.stableAndPanicRps(key, 9)).toEqual({ ok: true, stable: 4, panic: 4 });
  });

  it('subtracts what came through the activator, which reports it itself', () => {
    const c = new MetricCollector();
    c.createOrUpdate(key, spec(), 0);
    c.record(key, 0, { ...stat(10, 20), averageProxiedConcurrentRequests: 4, proxiedRequestCount: 15 });
    expect(c.stableAndPanicConcurrency(key, 0)).toMatchObject({ stable: 6, panic: 6 });
    expect(c.stableAndPanicRps(key, 0)).toMatchObject({ stable: 5, panic: 5 });
  });

  it('adds up several stats in one second (one per pod)', () => {
    const c = new MetricCollector();
    c.createOrUpdate(key, spec(), 0);
    c.record(key, 5.1, stat(3, 0, 'a'));
    c.record(key, 5.9, stat(4, 0, 'b'));
    expect(c.stableAndPanicConcurrency(key, 5.9)).toMatchObject({ stable: 7, panic: 7 });
  });

  it('reports no data once the stable window is empty for a scraped revision', () => {
    const c = new MetricCollector();
    c.createOrUpdate(key, spec({ [A('window')]: '6s' }), 0);
    expect(c.stableAndPanicConcurrency(key, 0)).toEqual({ ok: false, reason: 'no-data' });
    c.record(key, 1, stat(2));
    expect(c.stableAndPanicConcurrency(key, 7).ok).toBe(true);
    expect(c.stableAndPanicConcurrency(key, 8)).toEqual({ ok: false, reason: 'no-data' });
  });

  it('an unscraped revision (target-burst-capacity -1) reads an empty window as zero', () => {
    const c = new MetricCollector();
    c.createOrUpdate(key, spec({ [A('target-burst-capacity')]: '-1' }), 0);
    expect(c.stableAndPanicConcurrency(key, 100)).toEqual({ ok: true, stable: 0, panic: 0 });
  });

  it('an update resizes the windows and keeps the data', () => {
    const c = new MetricCollector();
    c.createOrUpdate(key, spec({ [A('window')]: '60s' }), 0);
    c.record(key, 0, stat(6));
    c.createOrUpdate(key, spec({ [A('window')]: '10s' }), 1);
    expect(c.get(key)!.metricSpec.stableWindowSeconds).toBe(10);
    // Knative counts the resized window as full: 6 over the 9 seconds not yet overwritten.
    expect(c.stableAndPanicConcurrency(key, 1)).toMatchObject({ ok: true, stable: 0.666667 });
  });

  it('delete forgets the revision', () => {
    const c = new MetricCollector();
    c.createOrUpdate(key, spec(), 0);
    c.delete(key);
    expect(c.has(key)).toBe(false);
    expect(c.record(key, 0, stat(1))).toBe(false);
  });
});
