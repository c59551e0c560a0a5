import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseTargetsFile } from '../../src/service/targetsFile.js';

describe('parseTargetsFile', () => {
  it('reads the documented example', () => {
    const targets = parseTargetsFile(readFileSync('simulations/targets-example.yaml', 'utf8'));
    expect(targets.map((t) => t.key)).toEqual([{ namespace: 'default', name: 'hello-00001' }, { namespace: 'default', name: 'search-00003' }]);
    expect(targets[0].settings.config).toEqual({ 'stable-window': '60s', 'container-concurrency-target-percentage': '70' });
    expect(targets[1].settings.config).toMatchObject({ 'stable-window': '30s' });
    expect(targets[0].pods[0]).toEqual({ name: 'hello-00001-deployment-abc12', url: 'http://127.0.0.1:9091/metrics', startedAt: Date.parse('2026-11-24T10:00:00Z') / 1000 });
  });

  it('keeps YAML numbers as the strings a ConfigMap would hold', () => {
    const [t] = parseTargetsFile('revisions:\n  - {namespace: a, name: b, config: {max-scale-up-rate: 10}, annotations: {autoscaling.knative.dev/target: 5}}\n');
    expect(t.settings.config).toEqual({ 'max-scale-up-rate': '10' });
    expect(t.settings.annotations).toEqual({ 'autoscaling.knative.dev/target': '5' });
  });

  it('rejects a revision listed twice', () => {
    expect(() => parseTargetsFile('revisions:\n  - {namespace: a, name: b}\n  - {namespace: a, name: b}\n')).toThrow(/revisions\[1\]\.name: revision a\/b is listed twice/);
  });

  it('takes the metrics source of a revision fronted by kpa activator, and names a bad one', () => {
    const [qp, act] = parseTargetsFile('revisions:\n  - {namespace: a, name: b}\n  - {namespace: a, name: c, metricsSource: activator, pods: []}\n');
    expect([qp.metricsSource, act.metricsSource]).toEqual(['queue-proxy', 'activator']);
    expect(() => parseTargetsFile('revisions:\n  - {namespace: a, name: b, metricsSource: scraper}\n')).toThrow(/revisions\[0\]\.metricsSource: must be queue-proxy or activator/);
  });
});
