import { request } from 'node:http';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/log.js';
import { StatClient } from '../../src/metrics/statClient.js';
import { Recorder } from '../../src/recording/recorder.js';
import { replayStream } from '../../src/recording/replayStream.js';
import { type LiveAutoscaler, startLiveAutoscaler } from '../../src/service/liveAutoscaler.js';
import { stat } from '../helpers/engine.js';
import { until } from '../helpers/wait.js';
import { QueueProxyServer } from '../helpers/queueProxyServer.js';

const A = (k: string) => `autoscaling.knative.dev/${k}`;
const CONFIG = { 'stable-window': '6s' };
let qp: QueueProxyServer;
let live: LiveAutoscaler;
let clock: ManualClock;
let recording: string[];

async function get<T>(path: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`http://127.0.0.1:${live.httpPort}${path}`);
  const text = await res.text();
  return { status: res.status, body: (res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text) as T };
}

/** One virtual second: scrape every revision, then tick on even seconds. */
async function second(): Promise<void> {
  clock.advance(1);
  await live.scrapeLoop.runOnce();
  if (clock.now() % 2 === 0) live.tick();
}


beforeEach(async () => {
  qp = await QueueProxyServer.start();
  clock = new ManualClock(1_700_000_000);
  recording = [];
  live = await startLiveAutoscaler({
    logger: silentLogger(), clock, host: '127.0.0.1', httpPort: 0, statsPort: 0,
    recorder: new Recorder({ write: (line) => void recording.push(line) }),
    tickIntervalMs: 3_600_000, scrapeIntervalMs: 3_600_000, // driven by hand on the virtual clock
  });
});
afterEach(async () => {
  await live.close();
  await qp.close();
});

describe('live service over real sockets', () => {
  it('never scrapes the pods of a revision whose load kpa activator reports, and says so in the API', async () => {
    qp.set('p', stat(50));
    const pods = [{ name: 'p', url: qp.url('p'), startedAt: 0 }];
    live.service.upsertRevision({ namespace: 'default', name: 'scraped' }, { config: CONFIG }, pods);
    live.service.upsertRevision({ namespace: 'default', name: 'fronted' }, { config: CONFIG }, pods, 'activator');
    for (let i = 0; i < 4; i++) await second();
    expect(qp.hits.get('p')).toBe(4); // the scraped revision's four scrapes, none for the fronted one
    const { body } = await get<{ revisions: { name: string; metricsSource: string; podCount: number }[] }>('/api/revisions');
    expect(body.revisions.map((r) => [r.name, r.metricsSource, r.podCount])).toEqual([['fronted', 'activator', 1], ['scraped', 'queue-proxy', 1]]); // by name
    expect(live.service.snapshot({ namespace: 'default', name: 'fronted' })!.latest!.result.valid).toBe(false);
  });

  it('scrapes protobuf and text pods, takes activator stats, and serves decisions and metrics', async () => {
    const { service } = live;
    service.upsertRevision({ namespace: 'default', name: 'proto' }, { config: CONFIG, containerConcurrency: 10 });
    service.setPods({ namespace: 'default', name: 'proto' }, [{ name: 'p1', url: qp.url('p1'), startedAt: 0 }, { name: 'p2', url: qp.url('p2'), startedAt: 0 }]);
    service.upsertRevision({ namespace: 'default', name: 'text' }, { config: CONFIG, annotations: { [A('metric')]: 'rps', [A('target')]: '10' } });
    service.setPods({ namespace: 'default', name: 'text' }, [{ name: 't1', url: qp.url('t1'), startedAt: 0 }]);
    service.upsertRevision({ namespace: 'default', name: 'zero' }, { config: { ...CONFIG, 'target-burst-capacity': '-1' } });
    qp.set('p1', stat(14, 0, 'p1'));
    qp.set('p2', stat(14, 0, 'p2'));
    qp.set('t1', stat(1, 35, 't1'), 'text');

    const activator = await StatClient.connect(`ws://127.0.0.1:${live.statsPort}`);
    for (let s = 0; s < 6; s++) {
      await activator.send([{ key: { namespace: 'default', name: 'zero' }, stat: stat(150, 0, 'activator') }], s % 2 ? 'json' : 'protobuf');
      await until(() => live.service.scalers.get({ namespace: 'default', name: 'zero' })!.collection.stableAndPanicConcurrency(clock.now()).ok);
      await second();
    }
    await activator.close();

    const { body } = await get<{ revisions: { name: string; desiredScale: number; latest: { explanation: string } }[] }>('/api/revisions');
    const desired = Object.fromEntries(body.revisions.map((r) => [r.name, r.desiredScale]));
    // proto: 28 concurrent on target 7 → 4 pods; text: 35 rps on target 7 → 5; zero: 150 on target 70 → 3.
    expect(desired).toEqual({ proto: 4, text: 5, zero: 3 });
    expect(body.revisions[0].latest.explanation).toMatch(/→ 4 pods/);

    const one = await get<{ history: unknown[]; activatorSeen: boolean }>('/api/revisions/default/zero');
    expect(one.status).toBe(200);
    expect(one.body.history).toHaveLength(3);
    expect(one.body.activatorSeen).toBe(true);

    const metrics = (await get<string>('/metrics')).body;
    // Knative ≤ 1.18's names and labels, and ≥ 1.19's (both by default); a revision is its own configuration unless told.
    expect(metrics).toMatch(/^autoscaler_desired_pods\{configuration_name="proto",namespace_name="default",revision_name="proto",service_name="unknown"\} 4$/m);
    expect(metrics).toMatch(/^autoscaler_target_requests_per_second\{configuration_name="text",namespace_name="default",revision_name="text",service_name="unknown"\} 7$/m);
    expect(metrics).toMatch(/^kn_revision_pods_desired\{k8s_namespace_name="default",kn_configuration_name="proto",kn_revision_name="proto",kn_service_name=""\} 4$/m);
    expect(metrics).toMatch(/^kn_revision_rps_target_per_second\{k8s_namespace_name="default",kn_configuration_name="text",kn_revision_name="text",kn_service_name=""\} 7$/m);
    expect(metrics).toMatch(/^kpa_build_info\{version="\d+\.\d+\.\d+[^"]*",node_version="v\d+[^"]*"\} 1$/m);
    expect(metrics).toMatch(/^process_resident_memory_bytes \d+$/m);
    expect(metrics).toMatch(/kpa_stats_received_total\{source="activator"\} 6/);
    expect(metrics).toMatch(/kpa_scrape_duration_seconds_count\{result="success"\} \d+/);
  });

  it('keeps scaling every other revision through hostile input', async () => {
    const { service } = live;
    service.upsertRevision({ namespace: 'default', name: 'ok' }, { config: CONFIG });
    service.setPods({ namespace: 'default', name: 'ok' }, [{ name: 'ok1', url: qp.url('ok1'), startedAt: 0 }]);
    service.upsertRevision({ namespace: 'default', name: 'hangs' }, { config: CONFIG });
    service.setPods({ namespace: 'default', name: 'hangs' }, [{ name: 'h1', url: qp.url('h1'), startedAt: 0 }]);
    service.upsertRevision({ namespace: 'default', name: 'fails' }, { config: CONFIG });
    service.setPods({ namespace: 'default', name: 'fails' }, [{ name: 'f1', url: qp.url('f1'), startedAt: 0 }]);
    qp.set('ok1', stat(140, 0, 'ok1'));
    qp.set('h1', stat(1), 'hang');
    qp.set('f1', stat(1), 'error500');

    const hostile = await StatClient.connect(`ws://127.0.0.1:${live.statsPort}`);
    await hostile.sendRaw(new Uint8Array([1, 2, 3, 255]));
    await hostile.sendRaw('{"messages":[{"namespace":"default","name":"ok","stat":{"averageConcurrentRequests":"NaN"}}]}');
    await hostile.send([{ key: { namespace: 'nowhere', name: 'ghost' }, stat: stat(5) }]);
    await until(() => live.statServer.counters.frames === 3);

    for (let s = 0; s < 4; s++) {
      clock.advance(1);
      void live.scrapeLoop.runOnce(); // the hanging pod must not hold up the round for others
      await until(() => service.snapshot({ namespace: 'default', name: 'ok' })!.concurrency.ok);
      await new Promise((r) => setTimeout(r, 20));
      if (s % 2 === 1) live.tick();
    }
    expect(service.snapshot({ namespace: 'default', name: 'ok' })!.desiredScale).toBe(2);
    expect(service.snapshot({ namespace: 'default', name: 'fails' })!.latest!.result).toEqual({ valid: false, reason: 'no-data' });
    const metrics = (await get<string>('/metrics')).body;
    expect(metrics).toMatch(/kpa_stats_rejected_total\{source="activator",reason="malformed"\} 1/);
    expect(metrics).toMatch(/kpa_stats_rejected_total\{source="activator",reason="not-finite"\} 1/);
    expect(metrics).toMatch(/kpa_unknown_revision_stats_total 1/);
    expect(hostile.open).toBe(true);
    await hostile.close();
  });

  // Issue 15: two stats of 1e308 in one second sent desired to MinInt32 "valid", and 1e20 skewed the stable value for good.
  it('refuses huge finite stats at the stat server, so the revision goes on deciding from its real load', async () => {
    const key = { namespace: 'default', name: 'target' };
    live.service.upsertRevision(key, { config: CONFIG }, [], 'activator');
    const hostile = await StatClient.connect(`ws://127.0.0.1:${live.statsPort}`);
    await hostile.send([{ key, stat: stat(1e308, 0, 'a') }, { key, stat: stat(1e308, 0, 'b') }]);
    await hostile.send([{ key, stat: stat(1e20, 0, 'a') }, { key, stat: stat(1, 1e20, 'a') }]);
    await until(() => live.statServer.counters.rejected['above-bound'] === 4);
    let accepted = live.statServer.counters.stats;
    for (let s = 0; s < 8; s++) {
      clock.advance(1);
      await hostile.send([{ key, stat: stat(500, 500, 'a') }]);
      await until(() => live.statServer.counters.stats === accepted + 1);
      accepted++;
      if (clock.now() % 2 === 0) live.tick();
    }
    const latest = live.service.snapshot(key)!.latest!.result;
    expect(latest).toMatchObject({ valid: true, desiredPodCount: 8, stableValue: 500 });
    const metrics = (await get<string>('/metrics')).body;
    expect(metrics).toMatch(/kpa_stats_rejected_total\{source="activator",reason="above-bound"\} 4/);
    await hostile.close();
  });

  it('fails the scrape of a pod reporting past the bounds, counting it, and never records its value', async () => {
    const key = { namespace: 'default', name: 'liar' };
    qp.set('l1', stat(1e20, 0, 'l1'));
    live.service.upsertRevision(key, { config: CONFIG }, [{ name: 'l1', url: qp.url('l1'), startedAt: 0 }]);
    for (let s = 0; s < 2; s++) await second();
    expect(live.service.snapshot(key)!.latest!.result).toEqual({ valid: false, reason: 'no-data' });
    const metrics = (await get<string>('/metrics')).body;
    expect(metrics).toMatch(/kpa_stats_rejected_total\{source="scraper",reason="above-bound"\} 2/);
  });

  it('an activator stat with load decides a revision at zero at once; a scraped one waits for the tick (Knative pokes from its stat server)', () => {
    const key = { namespace: 'default', name: 'sleepy' };
    live.service.upsertRevision(key, { config: { 'stable-window': '6s', 'scale-to-zero-grace-period': '6s' } });
    live.tick(); // no data yet
    live.service.recordStat(key, stat(0), 'activator');
    clock.advance(2);
    live.tick();
    expect(live.service.snapshot(key)!.desiredScale).toBe(0);
    const decisions = () => live.service.history(key).length;
    const before = decisions();
    live.service.recordStat(key, stat(5), 'scraper');
    expect(decisions()).toBe(before);
    live.service.recordStat(key, stat(5), 'activator');
    expect(decisions()).toBe(before + 1);
    expect(live.service.snapshot(key)!.desiredScale).toBeGreaterThan(0);
  });

  it('keeps consecutive "no data" decisions of an idle revision as one record', async () => {
    const key = { namespace: 'default', name: 'idle' };
    live.service.upsertRevision(key, { config: CONFIG });
    for (let i = 0; i < 10; i++) {
      clock.advance(2);
      live.tick();
    }
    const { body } = await get<{ history: { t: number; since?: number; valid: boolean }[] }>('/api/revisions/default/idle');
    expect(body.history).toEqual([expect.objectContaining({ valid: false, since: clock.now() - 18, t: clock.now() })]);
    live.service.recordStat(key, stat(10), 'activator');
    clock.advance(2);
    live.tick();
    expect(live.service.history(key)).toHaveLength(2);
  });

  it('answers health, readiness and bad API requests', async () => {
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/readyz')).status).toBe(200);
    expect((await get('/api/revisions/default/missing')).status).toBe(404);
    const bad = await get<{ message: string }>('/api/revisions/Not_A_Name/x');
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/namespace/);
  });

  it('records a live run that kpa replay reproduces decision for decision', async () => {
    const { service } = live;
    const key = { namespace: 'default', name: 'rec' };
    service.upsertRevision(key, { config: CONFIG, containerConcurrency: 5 });
    service.setPods(key, [{ name: 'r1', url: qp.url('r1'), startedAt: 0 }]);
    const activator = await StatClient.connect(`ws://127.0.0.1:${live.statsPort}`);
    const loads = [3, 8, 20, 45, 45, 30, 10, 2, 0, 0, 0, 0, 0, 0, 6, 9];
    for (const [s, load] of loads.entries()) {
      qp.set('r1', stat(load, load * 2, 'r1'));
      if (s % 3 === 0) {
        await activator.send([{ key, stat: { ...stat(load / 2, load, 'activator'), averageProxiedConcurrentRequests: 0 } }]);
        const before = recording.length;
        await until(() => recording.length > before);
      }
      if (s === 6) service.setPods(key, [{ name: 'r1', url: qp.url('r1'), startedAt: 0 }, { name: 'r2', url: qp.url('r1'), startedAt: 0 }]);
      await second();
    }
    await activator.close();
    const live1 = service.history(key).map((d) => d.result);
    const out = new PassThrough();
    const lines: string[] = [];
    out.on('data', (c: Buffer) => lines.push(...c.toString().split('\n').filter(Boolean)));
    await replayStream(Readable.from([recording.join('')]), out);
    const replayed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(replayed).toHaveLength(live1.length);
    replayed.forEach((r, i) => {
      const d = live1[i];
      expect(r.valid).toBe(d.valid);
      if (d.valid) expect(r).toMatchObject({ desiredPodCount: d.desiredPodCount, excessBurstCapacity: d.excessBurstCapacity, panic: d.panic, stableValue: d.stableValue, panicValue: d.panicValue });
    });
    expect(live1.some((d) => d.valid && d.desiredPodCount > 2)).toBe(true);
  });
});

describe('reads served from the shared read view', () => {
  it('500 concurrent /api/revisions and /metrics readers cost one build; gzip when asked, plain otherwise', async () => {
    for (let i = 0; i < 50; i++) live.service.upsertRevision({ namespace: 'default', name: `r-${i}` }, { config: CONFIG });
    live.tick();
    let builds = 0;
    const snapshots = live.service.snapshots.bind(live.service);
    live.service.snapshots = () => {
      builds++;
      return snapshots();
    };
    const bodies = await Promise.all(Array.from({ length: 500 }, async (_, i) => {
      const res = await fetch(`http://127.0.0.1:${live.httpPort}${i % 2 ? '/metrics' : '/api/revisions'}`);
      expect(res.headers.get('content-encoding')).toBe('gzip'); // fetch asks for it, and decompresses
      return res.text();
    }));
    expect(builds).toBe(1);
    expect(JSON.parse(bodies[0]).revisions).toHaveLength(50);
    expect(bodies[1]).toMatch(/autoscaler_actual_pods\{configuration_name="r-49",namespace_name="default",revision_name="r-49",service_name="unknown"\} 0/);
    expect(bodies[1]).toMatch(/kpa_stats_received_total/);
    const plain = await new Promise<{ encoding: string | undefined; body: string }>((resolve, reject) => {
      request({ host: '127.0.0.1', port: live.httpPort, path: '/metrics' }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks).toString() }));
      }).on('error', reject).end();
    });
    expect(plain.encoding).toBeUndefined();
    // The revision series are the shared, once-built part; the service's own (process CPU and memory among them) are read per scrape.
    const revisionPart = (body: string) => body.slice(body.indexOf('# HELP autoscaler_desired_pods'));
    expect(revisionPart(plain.body)).toBe(revisionPart(bodies[1]));
    expect(revisionPart(plain.body)).toMatch(/^# HELP autoscaler_desired_pods/);
  });
});
