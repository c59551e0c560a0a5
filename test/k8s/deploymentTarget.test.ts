import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  activatorRoute, DeploymentAnnotationError, isOptedIn, metricsPort, metricsSource, readyPodTargets, selectorMatches, settingsFor,
} from '../../src/k8s/deploymentTarget.js';

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

  it.each([
    [{}, null],
    [{ 'kpa.dev/hosts': 'web.example.com' }, { hosts: ['web.example.com'], pathPrefix: '/', service: { name: 'web', port: 80 }, containerConcurrency: 0 }],
    [{ 'kpa.dev/hosts': ' Web.Example.com , api.example.com,', 'kpa.dev/service': 'web-svc:8080', 'kpa.dev/path-prefix': '/v1', 'kpa.dev/container-concurrency': '4' },
      { hosts: ['web.example.com', 'api.example.com'], pathPrefix: '/v1', service: { name: 'web-svc', port: 8080 }, containerConcurrency: 4 }],
    [{ 'kpa.dev/hosts': 'web.example.com', 'kpa.dev/service': 'web-svc' }, { hosts: ['web.example.com'], pathPrefix: '/', service: { name: 'web-svc', port: 80 }, containerConcurrency: 0 }],
  ])('the activator route of %j is %j', (annotations, route) => {
    expect(activatorRoute(dep(annotations))).toEqual(route);
  });

  it.each([
    [{ 'kpa.dev/hosts': '' }, 'kpa.dev/hosts: lists no host'],
    [{ 'kpa.dev/hosts': 'https://web.example.com' }, 'kpa.dev/hosts: "https://web.example.com" is not a host name'],
    [{ 'kpa.dev/hosts': 'web.example.com:8080' }, 'is not a host name'],
    [{ 'kpa.dev/hosts': 'a.example.com', 'kpa.dev/path-prefix': 'v1' }, 'kpa.dev/path-prefix: must start with "/"'],
    [{ 'kpa.dev/hosts': 'a.example.com', 'kpa.dev/service': 'web:99999' }, 'kpa.dev/service: must be NAME:PORT'],
    [{ 'kpa.dev/hosts': 'a.example.com', 'kpa.dev/service': 'Web_Svc:80' }, 'kpa.dev/service: must be NAME:PORT'],
    [{ 'kpa.dev/hosts': 'a.example.com', 'kpa.dev/container-concurrency': '1.5' }, 'kpa.dev/container-concurrency: must be a whole number'],
  ])('rejects the route %j naming the key', (annotations, message) => {
    expect(() => activatorRoute(dep(annotations))).toThrow(message);
  });

  it.each([
    [{}, 'queue-proxy'],
    [{ 'kpa.dev/hosts': 'web.example.com' }, 'activator'],
    [{ 'kpa.dev/hosts': 'web.example.com', 'kpa.dev/metrics-source': 'queue-proxy' }, 'queue-proxy'],
    [{ 'kpa.dev/metrics-source': 'activator' }, 'activator'],
  ])('the metrics source of %j is %s', (annotations, source) => {
    expect(metricsSource(dep(annotations))).toBe(source);
  });

  it('rejects an unknown metrics source naming the key', () => {
    expect(() => metricsSource(dep({ 'kpa.dev/metrics-source': 'prometheus' }))).toThrow('kpa.dev/metrics-source: must be "activator" or "queue-proxy"');
  });
});
