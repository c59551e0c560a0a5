import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { DeploymentAnnotationError, isOptedIn, metricsPort, readyPodTargets, selectorMatches, settingsFor } from '../../src/k8s/deploymentTarget.js';

const dep = (annotations: Record<string, string>): V1Deployment => ({
  metadata: { name: 'web', namespace: 'ns', annotations },
  spec: { selector: { matchLabels: { app: 'web' } }, template: {} },
});
const pod = (name: string, over: Partial<{ ready: string; ip: string; ns: string; app: string; deleting: boolean }> = {}): V1Pod => ({
  metadata: { name, namespace: over.ns ?? 'ns', labels: { app: over.app ?? 'web' }, ...(over.deleting ? { deletionTimestamp: new Date() } : {}) },
  status: { phase: 'Running', podIP: over.ip ?? '10.0.0.1', startTime: new Date('2026-01-01T00:00:00Z'), conditions: [{ type: 'Ready', status: over.ready ?? 'True' }] },
});

describe('Deployment targets', () => {
  it('opts in by class and keeps only autoscaling annotations, as the KPA class', () => {
    const d = dep({ 'autoscaling.knative.dev/class': 'kpa.dev', 'autoscaling.knative.dev/target': '5', 'other/x': 'y', 'kpa.dev/container-concurrency': '8' });
    expect(isOptedIn(d, 'kpa.dev')).toBe(true);
    expect(isOptedIn(d, 'other')).toBe(false);
    expect(settingsFor(d, { 'stable-window': '30s' })).toEqual({
      config: { 'stable-window': '30s' },
      annotations: { 'autoscaling.knative.dev/class': 'kpa.autoscaling.knative.dev', 'autoscaling.knative.dev/target': '5' },
      containerConcurrency: 8,
      reachable: true,
    });
  });

  it.each([
    ['kpa.dev/container-concurrency', '-1'],
    ['kpa.dev/container-concurrency', 'ten'],
    ['kpa.dev/metrics-port', '70000'],
  ])('rejects %s=%s naming the key', (key, value) => {
    const d = dep({ [key]: value });
    expect(() => (key.endsWith('port') ? metricsPort(d) : settingsFor(d, {}))).toThrow(DeploymentAnnotationError);
    expect(() => (key.endsWith('port') ? metricsPort(d) : settingsFor(d, {}))).toThrow(key);
  });

  it('scrapes only ready, running, matching pods of its namespace', () => {
    const targets = readyPodTargets(dep({}), [
      pod('a'), pod('b', { ready: 'False' }), pod('c', { ns: 'other' }), pod('d', { app: 'api' }), pod('e', { deleting: true }), pod('f', { ip: 'fd00::1' }),
    ], 9090);
    expect(targets).toEqual([
      { name: 'a', url: 'http://10.0.0.1:9090/metrics', startedAt: Date.parse('2026-01-01T00:00:00Z') / 1000 },
      { name: 'f', url: 'http://[fd00::1]:9090/metrics', startedAt: Date.parse('2026-01-01T00:00:00Z') / 1000 },
    ]);
  });

  it.each([
    [{ matchLabels: { a: '1' } }, { a: '1', b: '2' }, true],
    [{ matchLabels: { a: '1' } }, { a: '2' }, false],
    [{ matchExpressions: [{ key: 'a', operator: 'In', values: ['1', '2'] }] }, { a: '2' }, true],
    [{ matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['1'] }] }, { a: '1' }, false],
    [{ matchExpressions: [{ key: 'a', operator: 'Exists' }] }, {}, false],
    [{ matchExpressions: [{ key: 'a', operator: 'DoesNotExist' }] }, {}, true],
  ])('selector %j on %j → %s', (selector, labels, want) => {
    expect(selectorMatches(selector, labels)).toBe(want);
  });
});
