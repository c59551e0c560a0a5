import { describe, expect, it } from 'vitest';
import { didYouMean, editDistance, suggestions } from '../../src/config/suggest.js';
import { unknownKeyWarnings } from '../../src/config/unknownKeys.js';

describe('editDistance (optimal string alignment)', () => {
  it.each([
    ['', '', 0], ['run', 'run', 0], ['', 'run', 3], ['rnu', 'run', 1], ['rn', 'run', 1], ['runn', 'run', 1],
    ['ran', 'run', 1], ['stable-windw', 'stable-window', 1], ['kitten', 'sitting', 3], ['ca', 'abc', 3],
  ])('%j → %j: %i', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(editDistance(b, a)).toBe(d);
  });
});

describe('suggestions', () => {
  const commands = ['run', 'activator', 'replay', 'simulate', 'sweep'];
  it('offers the closest names within 2 edits, or those the typed text begins', () => {
    expect(suggestions('rnu', commands)).toEqual(['run']);
    expect(suggestions('swep', commands)).toEqual(['sweep']);
    expect(suggestions('act', commands)).toEqual(['activator']);
    expect(suggestions('status', commands)).toEqual([]);
    expect(suggestions('x', commands)).toEqual([]);
    expect(suggestions('MINSCALE', ['minScale', 'maxScale'])).toEqual(['minScale']);
  });

  it('didYouMean phrases one or several', () => {
    expect(didYouMean('rnu', commands)).toBe(' (did you mean "run"?)');
    expect(didYouMean('xyz', commands)).toBe('');
    expect(didYouMean('ab', ['ac', 'ad'], (n) => `--${n}`)).toBe(' (did you mean --ac or --ad?)');
  });
});

describe('unknownKeyWarnings', () => {
  it('warns of config-autoscaler keys and autoscaling.knative.dev annotations nothing reads, with a suggestion', () => {
    expect(unknownKeyWarnings({
      config: { 'stable-windw': '30s', 'stable-window': '60s', _example: '…', 'totally-else': '1' },
      annotations: { 'autoscaling.knative.dev/minscale': '1', 'autoscaling.knative.dev/target': '5', 'example.com/x': 'y', 'autoscaling.knative.dev/tagret': '1' },
    }).map((w) => `${w.in} ${w.key}: ${w.message}`)).toEqual([
      'config-autoscaler stable-windw: config-autoscaler: unknown key "stable-windw" (did you mean "stable-window"?); ignored',
      'config-autoscaler totally-else: config-autoscaler: unknown key "totally-else"; ignored',
      'annotations autoscaling.knative.dev/minscale: annotation "autoscaling.knative.dev/minscale": unknown autoscaling.knative.dev annotation (did you mean "autoscaling.knative.dev/minScale"?); ignored',
      'annotations autoscaling.knative.dev/tagret: annotation "autoscaling.knative.dev/tagret": unknown autoscaling.knative.dev annotation (did you mean "autoscaling.knative.dev/target"?); ignored',
    ]);
  });

  it('says nothing of known keys, legacy spellings included', () => {
    expect(unknownKeyWarnings({
      config: { 'stable-window': '60s', 'max-scale-limit': '10' },
      annotations: { 'autoscaling.knative.dev/minScale': '1', 'autoscaling.knative.dev/class': 'kpa.autoscaling.knative.dev', 'serving.knative.dev/progress-deadline': '60s' },
    })).toEqual([]);
    expect(unknownKeyWarnings({})).toEqual([]);
  });
});
