import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { TIMELINESS_WINDOW, TimelinessWindow } from '../../src/metrics/scrapeTimeliness.js';
import { Recorder } from '../../src/recording/recorder.js';
import { type LiveAutoscaler, startLiveAutoscaler } from '../../src/service/liveAutoscaler.js';
import { stat } from '../helpers/engine.js';
import { QueueProxyServer } from '../helpers/queueProxyServer.js';

describe('TimelinessWindow', () => {
  it('keeps the last 100 revision-seconds: the latest lateness, a nearest-rank p99 of the stats that arrived, and the seconds missed', () => {
    const w = new TimelinessWindow();
    expect(w.summary()).toEqual({ lastLatenessSeconds: null, latenessP99Seconds: null, missedSeconds: 0, windowSeconds: 0 });
    for (let i = 1; i <= 98; i++) w.record(i / 1000, false);
    w.record(null, true); // failed: no stat
    w.record(1.5, true); // arrived past its second's end
    // 99 stats arrived: the p99 is the 99th of 99 by nearest rank, 1.5 s.
    expect(w.summary()).toEqual({ lastLatenessSeconds: 1.5, latenessP99Seconds: 1.5, missedSeconds: 2, windowSeconds: 100 });
    for (let i = 0; i < TIMELINESS_WINDOW - 2; i++) w.record(0.002, false);
    // The window moved on past the 98 early ones: 0.002 × 98, nothing missed since, then the two misses…
    expect(w.summary()).toMatchObject({ missedSeconds: 2, windowSeconds: 100, lastLatenessSeconds: 0.002 });
    w.record(0.003, false);
    w.record(0.004, false); // …are gone now
    expect(w.summary()).toMatchObject({ missedSeconds: 0, latenessP99Seconds: 0.003, lastLatenessSeconds: 0.004 }); // the 99th of 100
  });
});

describe('scraping on per-revision schedules aligned to the second (real clock and timers)', () => {
  let live: LiveAutoscaler | undefined;
  let qp: QueueProxyServer | undefined;
  afterEach(async () => {
    await live?.close();
    await qp?.close();
  });

  // Issue 11: rounds drifting against the collector's one-second buckets gave about 13 % of seconds two stats or none.
  it('gives each of 17 healthy revisions exactly one stat in every second, while 20 revisions hang; lateness in /metrics and the API', async () => {
    qp = await QueueProxyServer.start();
    const stats: { name: string; t: number }[] = [];
    live = await startLiveAutoscaler({
      logger: silentLogger(), host: '127.0.0.1', httpPort: 0, statsPort: 0, tickIntervalMs: 3_600_000,
      recorder: new Recorder({
        write: (line) => {
          const e = JSON.parse(line) as { type: string; name: string; t: number };
          if (e.type === 'stat') stats.push({ name: e.name, t: e.t });
        },
      }),
    });
    const healthy = Array.from({ length: 17 }, (_, i) => `healthy-${i}`);
    const hung = Array.from({ length: 20 }, (_, i) => `hung-${i}`);
    for (const name of healthy) qp.set(name, stat(3, 3, name));
    qp.set('hung', stat(1), 'hang');
    for (const name of [...hung, ...healthy]) {
      const url = qp.url(name.startsWith('hung') ? 'hung' : name);
      live.service.upsertRevision({ namespace: 'default', name }, { config: { 'stable-window': '6s' } }, [{ name, url, startedAt: 0 }]);
    }
    const added = Date.now() / 1000;
    // The first whole second after the revisions came, to the last one over before looking.
    const first = Math.floor(added) + 1;
    await new Promise((r) => setTimeout(r, (first + 4 - Date.now() / 1000) * 1000 + 300));
    const last = Math.floor(Date.now() / 1000) - 1;
    expect(last - first + 1).toBeGreaterThanOrEqual(3);
    for (const name of healthy) {
      const buckets = new Map<number, number>();
      for (const s of stats) if (s.name === name && s.t >= first && s.t < last + 1) buckets.set(Math.floor(s.t), (buckets.get(Math.floor(s.t)) ?? 0) + 1);
      const perSecond = Array.from({ length: last - first + 1 }, (_, i) => buckets.get(first + i) ?? 0);
      expect({ name, perSecond }).toEqual({ name, perSecond: perSecond.map(() => 1) });
    }
    expect(stats.filter((s) => s.name.startsWith('hung'))).toEqual([]);

    const metrics = await (await fetch(`http://127.0.0.1:${live.httpPort}/metrics`)).text();
    const count = Number(/^kpa_scrape_lateness_seconds_count (\d+)$/m.exec(metrics)?.[1]);
    expect(count).toBeGreaterThanOrEqual(17 * 3);
    expect(metrics).toMatch(/^kpa_scrape_lateness_seconds_bucket\{le="0.001"\} \d+$/m);
    // The hung revisions miss every second they are due while their scrapes are open (3 s timeout).
    expect(Number(/^kpa_scrape_missed_seconds_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(20 * 3);

    live.tick(); // the API's read view is rebuilt on a tick
    const { revisions } = (await (await fetch(`http://127.0.0.1:${live.httpPort}/api/revisions`)).json()) as {
      revisions: { name: string; scrape?: { lastLatenessSeconds: number | null; latenessP99Seconds: number | null; missedSeconds: number; windowSeconds: number } }[];
    };
    for (const r of revisions.filter((r) => r.name.startsWith('healthy'))) {
      expect(r.scrape).toMatchObject({ missedSeconds: 0 });
      expect(r.scrape!.windowSeconds).toBeGreaterThanOrEqual(3);
      expect(r.scrape!.lastLatenessSeconds).toBeGreaterThanOrEqual(0);
      expect(r.scrape!.latenessP99Seconds).toBeLessThan(1);
    }
    for (const r of revisions.filter((r) => r.name.startsWith('hung'))) {
      expect(r.scrape).toMatchObject({ lastLatenessSeconds: null, latenessP99Seconds: null });
      expect(r.scrape!.missedSeconds).toBe(r.scrape!.windowSeconds);
    }
  }, 20_000);
});
