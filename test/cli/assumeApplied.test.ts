import { writeFileSync } from 'node:fs';
import { PassThrough, Readable } from 'node:stream';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { assumeAppliedOption, startTargetsRun } from '../../src/cli/runTargets.js';
import { ManualClock } from '../../src/clock.js';
import type { ScaleResult } from '../../src/decider/decider.js';
import { silentLogger } from '../../src/log.js';
import { StatClient } from '../../src/metrics/statClient.js';
import { Recorder } from '../../src/recording/recorder.js';
import { replayStream } from '../../src/recording/replayStream.js';
import type { LiveAutoscaler } from '../../src/service/liveAutoscaler.js';
import type { StaticTarget } from '../../src/service/targetsFile.js';
import { runCli, spawnKpa } from '../helpers/cliHarness.js';
import { stat } from '../helpers/engine.js';
import { tempDir } from '../helpers/tempDir.js';
import { until } from '../helpers/wait.js';

const KEY = { namespace: 'default', name: 'control' };

describe('kpa run --targets --assume-applied, over the stat websocket', () => {
  let run: { live: LiveAutoscaler; close(): Promise<void> } | undefined;
  let activator: StatClient | undefined;
  afterEach(async () => {
    await activator?.close();
    await run?.close();
    activator = run = undefined;
  });

  /** A `pods: []` revision fed only by an activator's stats, as in the reproduction. */
  async function start(assumeAppliedSeconds: number | null, annotations: Record<string, string> = {}) {
    const clock = new ManualClock(1_700_000_000);
    const target: StaticTarget = { key: KEY, settings: { config: { 'stable-window': '6s' }, annotations }, pods: [], metricsSource: 'queue-proxy' };
    const recording: string[] = [];
    run = await startTargetsRun({
      logger: silentLogger(), clock, host: '127.0.0.1', httpPort: 0, statsPort: 0, targets: [target], assumeAppliedSeconds,
      recorder: new Recorder({ write: (line) => void recording.push(line) }),
      tickIntervalMs: 3_600_000, scrapeIntervalMs: 3_600_000, // driven by hand on the virtual clock
    });
    const live = run.live;
    const decided: ScaleResult[] = [];
    live.service.onDecision((_key, decision) => void decided.push(decision.result));
    activator = await StatClient.connect(`ws://127.0.0.1:${live.statsPort}`);
    const client = activator;
    const snapshot = () => live.service.snapshot(KEY)!;
    let sent = 0;
    /** One virtual second at `concurrency` (none: no stat), ticking on even seconds; returns [desired, ready] after a tick. */
    const second = async (concurrency: number | null): Promise<[number, number] | null> => {
      clock.advance(1);
      if (concurrency !== null) {
        await client.send([{ key: KEY, stat: stat(concurrency, 0, 'activator-0') }]);
        sent++;
        await until(() => live.statServer.counters.frames === sent);
      }
      if (clock.now() % 2 !== 0) return null;
      live.tick();
      // An applied count lands on a timer (at once for 0 s): wait for it before the next tick.
      if (assumeAppliedSeconds === 0) await until(() => snapshot().readyPods === (snapshot().scale?.currentReplicas ?? snapshot().readyPods));
      return [snapshot().desiredScale, snapshot().readyPods];
    };
    const seconds = async (n: number, concurrency: number | null) => {
      const out: [number, number][] = [];
      for (let i = 0; i < n; i++) {
        const r = await second(concurrency);
        if (r) out.push(r);
      }
      return out;
    };
    /** What `kpa replay` makes of the recording, beside what the service decided. */
    const replayed = async () => {
      const out = new PassThrough();
      const lines: string[] = [];
      out.on('data', (c: Buffer) => lines.push(...c.toString().split('\n').filter(Boolean)));
      await replayStream(Readable.from([recording.join('')]), out);
      return { live: decided, replay: lines.map((l) => JSON.parse(l) as ScaleResult) };
    };
    return { live, snapshot, seconds, replayed };
  }

  const last = (decisions: [number, number][]) => decisions.at(-1);

  it('a revision that falls from high to low load comes back down (the issue\'s control revision stuck at 29 instead of 2)', async () => {
    const { seconds, live, replayed } = await start(0);
    expect(last(await seconds(6, 2000))).toEqual([29, 29]);
    expect(last(await seconds(30, 140))).toEqual([2, 2]);
    // The assumed ready counts are recorded as ready lines: the replay decides as the service did.
    const { live: decisions, replay } = await replayed();
    expect(replay.map((d) => d.valid && [d.desiredPodCount, d.panic])).toEqual(decisions.map((d) => d.valid && [d.desiredPodCount, d.panic]));
    expect(replay).toHaveLength(18);
    const res = await fetch(`http://127.0.0.1:${live.httpPort}/api/revisions/default/control`);
    const body = (await res.json()) as { readyPods: number; scale: { currentReplicas: number; wantReplicas: number; reason: string } };
    expect(body).toMatchObject({ readyPods: 2, scale: { currentReplicas: 2, wantReplicas: 2, reason: '2 pods; not applied (targets mode): the ready count is assumed to follow at once' } });
  });

  it('with --assume-applied off the ready count stays as the file lists it, and panic holds 29 for good', async () => {
    const { seconds, snapshot } = await start(null);
    expect(last(await seconds(6, 2000))).toEqual([29, 0]);
    expect(last(await seconds(30, 140))).toEqual([29, 0]);
    expect(snapshot().latest?.result).toMatchObject({ valid: true, panic: true });
    expect(snapshot().scale).toBeNull();
  });

  it('applies the revision\'s min and max scale as the scaler would: the decider wants 29 and 2, the ready count is 10 and 3', async () => {
    const A = (k: string) => `autoscaling.knative.dev/${k}`;
    const { seconds, snapshot } = await start(0, { [A('min-scale')]: '3', [A('max-scale')]: '10' });
    expect(last(await seconds(6, 2000))).toEqual([29, 10]);
    expect(snapshot().scale?.reason).toMatch(/^10 pods \(capped at max-scale 10\); not applied/);
    expect(last(await seconds(30, 140))).toEqual([2, 3]);
    expect(snapshot().scale?.reason).toMatch(/^3 pods \(raised to min-scale 3\); not applied/);
  });

  it('ignores invalid decisions: no data leaves the ready count where the last valid one put it', async () => {
    const { seconds, snapshot } = await start(0);
    expect(await seconds(4, null)).toEqual([[-1, 0], [-1, 0]]); // no data yet: the file's count
    expect(last(await seconds(6, 2000))).toEqual([29, 29]);
    // The activator stops reporting: the windows' averages fall (valid decisions, scaling down), then no data.
    await seconds(20, null);
    const { desiredScale, readyPods } = snapshot();
    expect(snapshot().latest?.result.valid).toBe(false);
    expect(readyPods).toBe(desiredScale); // where the last valid decision put it: 14
    await seconds(20, null);
    expect(snapshot().latest).toMatchObject({ result: { valid: false }, since: expect.any(Number) });
    expect(snapshot().readyPods).toBe(readyPods);
  });
});

describe('kpa run --assume-applied DELAY, on the wall clock', () => {
  it('sets the ready count only once DELAY has passed after the decision', async () => {
    const target: StaticTarget = { key: KEY, settings: { config: { 'stable-window': '6s' } }, pods: [], metricsSource: 'activator' };
    const run = await startTargetsRun({
      logger: silentLogger(), host: '127.0.0.1', httpPort: 0, statsPort: 0, targets: [target], assumeAppliedSeconds: 0.3,
      tickIntervalMs: 3_600_000, scrapeIntervalMs: 3_600_000,
    });
    const client = await StatClient.connect(`ws://127.0.0.1:${run.live.statsPort}`);
    try {
      await client.send([{ key: KEY, stat: stat(2000, 0, 'activator-0') }]);
      await until(() => run.live.statServer.counters.frames === 1);
      run.live.tick();
      const snapshot = () => run.live.service.snapshot(KEY)!;
      expect([snapshot().desiredScale, snapshot().readyPods]).toEqual([29, 0]);
      expect(snapshot().scale?.reason).toBe('29 pods; not applied (targets mode): the ready count is assumed to follow 300ms later');
      await until(() => snapshot().readyPods === 29);
    } finally {
      await client.close();
      await run.close();
    }
  });
});

describe('kpa run --assume-applied: the flag', () => {
  it.each([
    { args: ['--targets', 'simulations/targets-example.yaml', '--assume-applied', 'soon'], error: '--assume-applied must be a duration such as 5s, 500ms or 0s, or off; got "soon"' },
    { args: ['--targets', 'simulations/targets-example.yaml', '--assume-applied=-1s'], error: '--assume-applied must be a duration such as 5s, 500ms or 0s, or off; got "-1s"' },
    { args: ['--embedded', '--assume-applied', '0s'], error: '--assume-applied applies to --targets mode, not to the embedded demo (--embedded): the other modes apply their decisions' },
  ])('$error → exit 2', async ({ args, error }) => {
    const { code, stderr } = await runCli(['run', ...args, '--http-port', '0', '--stats-port', '0']);
    expect(code).toBe(2);
    expect(stderr.split('\n')[0]).toBe(`kpa run: ${error}`);
  });

  it.each([['5s', 5], ['500ms', 0.5], ['0s', 0], ['0', 0], ['1m30s', 90], ['off', null], [undefined, 5]])('%s → %s', (value, seconds) => {
    expect(assumeAppliedOption(value)).toBe(seconds);
  });
});

describe('kpa run --targets: the built binary', () => {
  it('by default a pods: [] revision\'s ready count follows its decision 5 s later, and the API says it is assumed', async () => {
    const targets = join(tempDir('assume'), 'targets.yaml');
    writeFileSync(targets, 'config: {stable-window: 6s}\nrevisions:\n  - {namespace: default, name: control, metricsSource: activator, pods: []}\n');
    const kpa = await spawnKpa(['run', '--targets', targets, '--host', '127.0.0.1', '--http-port', '0', '--stats-port', '0']);
    const statsPort = Number(/"statsPort":(\d+)/.exec(kpa.stderr())![1]);
    const client = await StatClient.connect(`ws://127.0.0.1:${statsPort}`);
    type Body = { desiredScale: number; readyPods: number; scale: { reason: string } | null };
    const seen: Body[] = [];
    try {
      // An activator reporting 2000 concurrent requests every second (as it does), until the ready count has followed
      // (at most 15 s); the API read four times a second.
      for (let i = 0; i < 60 && seen.at(-1)?.readyPods !== 29; i++) {
        if (i % 4 === 0) await client.send([{ key: KEY, stat: stat(2000, 0, 'activator-0') }]);
        await new Promise((r) => setTimeout(r, 250));
        seen.push((await (await fetch(`http://127.0.0.1:${kpa.port}/api/revisions/default/control`)).json()) as Body);
      }
      expect((await kpa.stop('SIGINT')).code).toBe(0);
    } finally {
      await client.close();
      kpa.kill();
    }
    // The decision came first, then (5 s on) the ready count.
    const decided = seen.findIndex((b) => b.desiredScale === 29);
    expect(decided).toBeGreaterThanOrEqual(0);
    expect(seen[decided]).toMatchObject({ readyPods: 0, scale: { reason: '29 pods; not applied (targets mode): the ready count is assumed to follow 5s later' } });
    expect(seen.at(-1)).toMatchObject({ desiredScale: 29, readyPods: 29 });
  });
});
