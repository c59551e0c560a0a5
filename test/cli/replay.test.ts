import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KPA_BIN, runCli } from '../helpers/cliHarness.js';
import { tempDir } from '../helpers/tempDir.js';

const REV = '{"type":"revision","t":100,"namespace":"ns","name":"r","config":{"stable-window":"6s"},"ready":1}';
const STAT = (t: number, c: number) =>
  `{"type":"stat","t":${t},"namespace":"ns","name":"r","stat":{"podName":"p","averageConcurrentRequests":${c},"requestCount":${c}}}`;
const TICK = (t: number) => `{"type":"tick","t":${t},"namespace":"ns","name":"r"}`;
const good = [REV, TICK(100), STAT(100.5, 140), TICK(102)];

function tempFile(content: string): string {
  const dir = tempDir('replay');
  const file = join(dir, 'rec.jsonl');
  writeFileSync(file, content);
  return file;
}

describe('kpa replay', () => {
  it('prints one decision per tick', async () => {
    const { code, stdout, stderr } = await runCli(['replay', tempFile(`${good.join('\n')}\n`)]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      { t: 100, namespace: 'ns', name: 'r', valid: false },
      { t: 102, namespace: 'ns', name: 'r', valid: true, desiredPodCount: 2, excessBurstCapacity: -111, panic: false, stableValue: 140, panicValue: 0 },
    ]);
  });

  it('records negative stat values as they are, as Knative\'s collector does', async () => {
    // Knative: stableValue -5, desired 0, excess burst capacity floor(1·100 − 211 − (−5)) = −106.
    const lines = [
      '{"type":"revision","t":100,"namespace":"ns","name":"r","config":{},"annotations":{},"ready":1}',
      '{"type":"stat","t":100.1,"namespace":"ns","name":"r","stat":{"podName":"p","averageConcurrentRequests":-5}}',
      '{"type":"tick","t":101,"namespace":"ns","name":"r"}',
    ];
    const { code, stdout } = await runCli(['replay', '-'], `${lines.join('\n')}\n`);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ t: 101, namespace: 'ns', name: 'r', valid: true, desiredPodCount: 0, excessBurstCapacity: -106, panic: false, stableValue: -5, panicValue: -5 });
  });

  it('reads standard input for "-" and ignores blank lines', async () => {
    const { code, stdout } = await runCli(['replay', '-'], `\n${good.join('\n\n')}\n\n`);
    expect(code).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(2);
  });

  // Each bad line: decisions of the lines before it are printed, then line number + reason, exit 2.
  it.each([
    { name: 'not JSON', line: '{"type":"tick",', reason: /not valid JSON/ },
    { name: 'NaN literal', line: '{"type":"tick","t":NaN,"namespace":"ns","name":"r"}', reason: /not valid JSON/ },
    { name: 'an infinite number', line: STAT(103, 1).replace('"averageConcurrentRequests":1', '"averageConcurrentRequests":1e999'), reason: /stat.averageConcurrentRequests.*finite number.*Infinity/ },
    { name: 'unknown type', line: '{"type":"boom","t":103,"namespace":"ns","name":"r"}', reason: /unknown event type/ },
    { name: 'missing t', line: '{"type":"tick","namespace":"ns","name":"r"}', reason: /missing field "t"/ },
    { name: 'missing name', line: '{"type":"tick","t":103,"namespace":"ns"}', reason: /missing field "name"/ },
    { name: 'fractional ready', line: '{"type":"ready","t":103,"namespace":"ns","name":"r","ready":1.5}', reason: /"ready".*whole number/ },
    { name: 'unknown revision', line: '{"type":"tick","t":103,"namespace":"ns","name":"other"}', reason: /ns\/other.*not created/ },
    { name: 't going backwards', line: TICK(99), reason: /goes backwards/ },
    { name: 'invalid config', line: '{"type":"revision","t":103,"namespace":"ns","name":"x","config":{"stable-window":"5s"}}', reason: /stable-window/ },
    { name: 'invalid annotation', line: '{"type":"revision","t":103,"namespace":"ns","name":"x","annotations":{"autoscaling.knative.dev/min-scale":"-1"}}', reason: /autoscaling.knative.dev\/min-scale/ },
    { name: 'a JSON array', line: '[1,2]', reason: /JSON object/ },
  ])('stops at $name with the line number, exit 2', async ({ line, reason }) => {
    const file = tempFile(`${good.join('\n')}\n${line}\n${TICK(110)}\n`);
    const { code, stdout, stderr } = await runCli(['replay', file]);
    expect(code).toBe(2);
    expect(stdout.trim().split('\n')).toHaveLength(2);
    expect(stderr).toMatch(new RegExp(`^kpa replay: .*rec\\.jsonl:5: `));
    expect(stderr).toMatch(reason);
  });

  it('rejects a 10 MB line without holding it, exit 2', async () => {
    const huge = `{"type":"tick","t":103,"namespace":"ns","name":"${'x'.repeat(10 * 1024 * 1024)}"}`;
    const { code, stdout, stderr } = await runCli(['replay', tempFile(`${good.join('\n')}\n${huge}\n`)]);
    expect(code).toBe(2);
    expect(stdout.trim().split('\n')).toHaveLength(2);
    expect(stderr).toMatch(/:5: .*longer than/);
  });

  it('reports a file that does not exist, exit 2', async () => {
    const { code, stderr } = await runCli(['replay', '/nonexistent/recording.jsonl']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/cannot read \/nonexistent\/recording.jsonl/);
  });

  it('--explain adds the dashboard\'s "why" to each decision, and the line stays JSON', async () => {
    const { code, stdout, stderr } = await runCli(['replay', '--explain', tempFile(`${good.join('\n')}\n`)]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toEqual({ t: 100, namespace: 'ns', name: 'r', valid: false, explain: expect.stringMatching(/^no data: nothing recorded in the last 6 s stable window/) });
    expect(lines[1]).toMatchObject({ valid: true, desiredPodCount: 2, stableValue: 140 });
    expect(lines[1].explain).toBe('stable: 6 s average 140 concurrent requests ÷ target 70 concurrent requests per pod → 2 pods');
  });

  it('warns once on standard error of a config key or annotation nothing reads, and replays on (exit 0)', async () => {
    const typo = '{"type":"revision","t":100,"namespace":"ns","name":"r","config":{"stable-windw":"6s"},"annotations":{"autoscaling.knative.dev/min-scael":"1"},"ready":1}';
    const { code, stdout, stderr } = await runCli(['replay', '-'], `${[typo, TICK(100), typo, TICK(102)].join('\n')}\n`);
    expect(code).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(2);
    expect(stderr).toBe([
      'kpa replay: <stdin>:1: ns/r: config-autoscaler: unknown key "stable-windw" (did you mean "stable-window"?); ignored',
      'kpa replay: <stdin>:1: ns/r: annotation "autoscaling.knative.dev/min-scael": unknown autoscaling.knative.dev annotation (did you mean "autoscaling.knative.dev/min-scale"?); ignored',
      '',
    ].join('\n'));
  });

  it('an unknown option is a usage error on standard error with the closest option', async () => {
    const result = await runCli(['replay', '--explian', '-']);
    expect(result).toMatchObject({ code: 2, stdout: '' });
    expect(result.stderr).toMatch(/^kpa replay: Unknown option '--explian' \(did you mean --explain\?\)\n\nkpa replay \[--explain\]/);
  });

  it('usage errors exit 2', async () => {
    expect((await runCli(['replay'])).code).toBe(2);
    expect((await runCli(['nope'])).stderr).toMatch(/unknown command "nope"/);
    expect(await runCli(['rnu'])).toMatchObject({ code: 2, stdout: '', stderr: expect.stringMatching(/^kpa: unknown command "rnu" \(did you mean "run"\?\)\n/) });
    expect(await runCli(['--verison'])).toMatchObject({ code: 2, stdout: '', stderr: expect.stringMatching(/^kpa: unknown option "--verison" \(did you mean "--version"\?\)\n/) });
  });

  it.skipIf(!existsSync(KPA_BIN))('the built kpa binary replays standard input', () => {
    const result = spawnSync(process.execPath, [KPA_BIN, 'replay', '-'], { input: `${good.join('\n')}\n`, encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(2);
  });
});
