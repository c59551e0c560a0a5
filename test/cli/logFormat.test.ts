import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { LOG_FORMAT } from '../../src/log.js';
import { AutoscalerService } from '../../src/service/autoscalerService.js';
import { stat } from '../helpers/engine.js';

/** A logger in kpa's format whose lines the test reads. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info', base: { app: 'kpa' }, ...LOG_FORMAT }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { logger, lines };
}

describe('kpa\'s log lines', () => {
  it.skipIf(!existsSync('dist/src/log.js'))('carry the level by name and an ISO 8601 time (the built logger on standard error)', () => {
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', 'const { createLogger } = await import("./dist/src/log.js"); createLogger().warn({ httpPort: 9090 }, "hello"); createLogger().debug("hidden");'], { encoding: 'utf8' });
    const lines = result.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', app: 'kpa', httpPort: 9090, msg: 'hello' });
    expect(lines[0].time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    // The CLI harness finds the HTTP port in the log this way.
    expect(/"httpPort":(\d+)/.exec(result.stderr)?.[1]).toBe('9090');
  });

  it('name a revision by separate namespace and revision fields', () => {
    const { logger, lines } = capture();
    const clock = new ManualClock(100);
    const service = new AutoscalerService({ clock, logger });
    const key = { namespace: 'shop', name: 'web' };
    service.upsertRevision(key, { config: { 'stable-window': '6s' } });
    service.recordStat({ namespace: 'shop', name: 'ghost' }, stat(1, 1), 'activator');
    service.recordStat(key, stat(50, 50), 'activator');
    clock.advance(2);
    service.tick();
    const unknown = lines.find((l) => l.msg === 'dropping stats for an unknown revision');
    expect(unknown).toMatchObject({ level: 'warn', namespace: 'shop', revision: 'ghost' });
    const decision = lines.find((l) => typeof l.desiredPods === 'number');
    expect(decision).toMatchObject({ level: 'info', namespace: 'shop', revision: 'web' });
    expect(lines.every((l) => typeof l.revision !== 'string' || !l.revision.includes('/'))).toBe(true);
  });

  it('warn of a config-autoscaler key or annotation nothing reads, once, with the closest known one', () => {
    const { logger, lines } = capture();
    const service = new AutoscalerService({ clock: new ManualClock(100), logger });
    const settings = { config: { 'stable-windw': '30s' }, annotations: { 'autoscaling.knative.dev/max-sacle': '3' } };
    for (const name of ['a', 'b']) {
      service.upsertRevision({ namespace: 'ns', name }, settings);
      service.upsertRevision({ namespace: 'ns', name }, settings); // every re-sync
    }
    const warnings = lines.filter((l) => l.level === 'warn').map((l) => [l.revision, l.key, l.msg]);
    expect(warnings).toEqual([
      ['a', 'stable-windw', 'config-autoscaler: unknown key "stable-windw" (did you mean "stable-window"?); ignored'],
      ['a', 'autoscaling.knative.dev/max-sacle', 'annotation "autoscaling.knative.dev/max-sacle": unknown autoscaling.knative.dev annotation (did you mean "autoscaling.knative.dev/max-scale"?); ignored'],
      ['b', 'autoscaling.knative.dev/max-sacle', 'annotation "autoscaling.knative.dev/max-sacle": unknown autoscaling.knative.dev annotation (did you mean "autoscaling.knative.dev/max-scale"?); ignored'],
    ]);
  });
});
