import { Agent } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { Recorder } from '../../src/recording/recorder.js';
import { type LiveAutoscaler, startLiveAutoscaler } from '../../src/service/liveAutoscaler.js';
import { freePort, hello, send, startApp, startTestActivator, staticTarget } from '../helpers/activatorHarness.js';
import { until } from '../helpers/wait.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface RecordedStat { t: number; name: string; stat: { podName: string; averageConcurrentRequests: number; requestCount: number } }

/** The real kpa service on 127.0.0.1 with its timers off (the test ticks), recording every stat it records. */
async function kpa(statsPort = 0): Promise<{ live: LiveAutoscaler; recorded: RecordedStat[] }> {
  const recorded: RecordedStat[] = [];
  const recorder = new Recorder({
    write: (line) => {
      const e = JSON.parse(line) as { type: string } & RecordedStat;
      if (e.type === 'stat') recorded.push(e);
    },
  });
  const live = await startLiveAutoscaler({
    logger: silentLogger(), host: '127.0.0.1', httpPort: 0, statsPort, recorder, tickIntervalMs: 3_600_000, scrapeIntervalMs: 3_600_000,
  });
  cleanups.push(() => live.close());
  return { live, recorded };
}

const zero = { namespace: 'default', name: 'zero' };
/** As a `kpa run --targets` revision with `pods: []`, whose load only the activator reports. */
const settings = { config: { 'stable-window': '6s' }, annotations: {}, containerConcurrency: 10 };

describe('kpa activator → kpa: stats over the real websocket', () => {
  it('the first held request wakes a revision at zero at once (Knative\'s poke), and every held request is answered once a pod listens', async () => {
    const { live } = await kpa();
    live.service.upsertRevision(zero, settings, [], 'activator');
    const port = await freePort();
    const act = await startTestActivator([staticTarget('zero', [port], { containerConcurrency: 10 })], { statsUrl: `ws://127.0.0.1:${live.statsPort}/` }, 50);
    cleanups.push(() => act.close(1000));
    // The activator reports the idle revision every second: kpa's decision from zero load is 0 pods.
    await until(() => live.service.activatorReporting(zero, 2), 5000);
    live.tick();
    expect(live.service.snapshot(zero)!.desiredScale).toBe(0);

    const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
    cleanups.push(() => agent.destroy());
    const sentAt = Date.now();
    const replies = Promise.all(Array.from({ length: 1000 }, (_, i) => send(act.port, 'zero.example.com', `/${i}`, { agent })));
    // No tick runs (its timer is an hour): only the poke from the first stat can decide.
    await until(() => live.service.snapshot(zero)!.desiredScale > 0, 2000);
    const woke = live.service.history(zero).find((d) => d.result.valid && d.result.desiredPodCount > 0)!;
    expect(woke.t * 1000 - sentAt).toBeLessThan(1000);
    expect(woke.explanation).toMatch(/pod/);

    const pod = await startApp(hello, port);
    cleanups.push(() => pod.close());
    const all = await replies;
    expect(all.filter((r) => r.status !== 200)).toEqual([]);
    expect(new Set(pod.seen.map((s) => s.url)).size).toBe(1000);
    expect(pod.maxInFlight).toBeLessThanOrEqual(10);
  }, 30_000);

  it('two activator replicas each report their own load: what kpa records matches the request-seconds clients saw within 2 %, and kpa adds them up', async () => {
    const { live, recorded } = await kpa();
    live.service.upsertRevision(zero, settings, [], 'activator');
    const port = await freePort();
    const replicas = await Promise.all(['activator-a', 'activator-b'].map(async (podName) => {
      const a = await startTestActivator([staticTarget('zero', [port])], { statsUrl: `ws://127.0.0.1:${live.statsPort}/`, podName }, 50);
      cleanups.push(() => a.close(1000));
      return a;
    }));
    await until(() => replicas.every((r) => r.sender?.connected), 5000);
    const N = 25;
    const holdMs = 8500;
    const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
    cleanups.push(() => agent.destroy());
    const truth = new Map<string, number>();
    const startedAt = Date.now();
    const requests = replicas.flatMap((r, i) => Array.from({ length: N }, async () => {
      const t0 = performance.now();
      const reply = await send(r.port, 'zero.example.com', '/', { agent });
      const podName = i === 0 ? 'activator-a' : 'activator-b';
      truth.set(podName, (truth.get(podName) ?? 0) + (performance.now() - t0) / 1000);
      return reply;
    }));
    // Once the stable window (6 s) lies wholly inside the hold, it reads both replicas' load added up.
    await new Promise((r) => setTimeout(r, holdMs - 300));
    const stableNow = live.service.snapshot(zero)!.concurrency;
    const pod = await startApp(hello, port);
    cleanups.push(() => pod.close());
    expect((await Promise.all(requests)).every((r) => r.status === 200)).toBe(true);
    // Two more reports: the seconds the requests ended in reach kpa.
    await new Promise((r) => setTimeout(r, 2200));
    for (const podName of ['activator-a', 'activator-b']) {
      const seen = recorded.filter((e) => e.stat.podName === podName && e.t * 1000 >= startedAt - 1000)
        .reduce((sum, e) => sum + e.stat.averageConcurrentRequests, 0);
      expect(Math.abs(seen - truth.get(podName)!) / truth.get(podName)!).toBeLessThan(0.02);
    }
    expect(stableNow).toEqual({ ok: true, stable: expect.closeTo(2 * N, 0), panic: expect.any(Number) });
  }, 30_000);

  it('proxies while kpa is away, reconnects when it is back, and never blocks a request on the stats connection', async () => {
    const statsPort = await freePort();
    const app = await startApp();
    cleanups.push(() => app.close());
    const act = await startTestActivator([staticTarget('hello', [app.port])], { statsUrl: `ws://127.0.0.1:${statsPort}/` });
    cleanups.push(() => act.close(1000));
    expect((await send(act.port, 'hello.example.com')).status).toBe(200);
    await until(() => act.sender!.counters.statsDropped > 0, 3000);
    const first = await kpa(statsPort);
    first.live.service.upsertRevision({ namespace: 'default', name: 'hello' }, settings, [], 'activator');
    // Capped backoff: the activator finds kpa within seconds.
    await until(() => first.live.service.activatorReporting({ namespace: 'default', name: 'hello' }, 2), 8000);
    // kpa restarts (a rollout): it closes with 1012 and the activator reconnects at once.
    await first.live.close();
    cleanups.pop();
    expect((await send(act.port, 'hello.example.com')).status).toBe(200);
    const second = await kpa(statsPort);
    second.live.service.upsertRevision({ namespace: 'default', name: 'hello' }, settings, [], 'activator');
    const back = Date.now();
    await until(() => second.live.service.activatorReporting({ namespace: 'default', name: 'hello' }, 2), 5000);
    expect(Date.now() - back).toBeLessThan(3000);
    expect(act.sender!.counters.connects).toBe(2);
  }, 30_000);
});
