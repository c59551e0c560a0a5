import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { FIRST_EVENT_REVISIONS } from '../../src/dashboard/plugin.js';
import { silentLogger } from '../../src/log.js';
import type { ReplicaBuckets } from '../../src/service/httpApp.js';
import { type LiveAutoscaler, startLiveAutoscaler } from '../../src/service/liveAutoscaler.js';
import { stat } from '../helpers/engine.js';
import { until } from '../helpers/wait.js';

interface StreamEvent {
  t: number;
  seq: number;
  reset?: true;
  total: number;
  revisions: { namespace: string; name: string; desiredScale: number; changeSeq: number }[];
  removed: { namespace: string; name: string }[];
  replica?: ReplicaBuckets;
}

/** An open /api/stream: its events as they arrive, and every byte it carried. */
async function openStream(port: number) {
  const res = await fetch(`http://127.0.0.1:${port}/api/stream`);
  expect(res.headers.get('content-type')).toBe('text/event-stream');
  const reader = res.body!.getReader();
  const events: StreamEvent[] = [];
  const stream = { events, bytes: 0, close: () => reader.cancel() };
  const decoder = new TextDecoder();
  let buffer = '';
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true as const }));
      if (done) return;
      stream.bytes += value.byteLength;
      buffer += decoder.decode(value, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const chunk = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (chunk.startsWith('data: ')) events.push(JSON.parse(chunk.slice(6)) as StreamEvent);
      }
    }
  })();
  await until(() => events.length === 1);
  return stream;
}

const CONFIG = { 'stable-window': '6s' };
const TICK_SECONDS = 2;
let live: LiveAutoscaler;
let clock: ManualClock;
let replica: ReplicaBuckets;

beforeEach(async () => {
  clock = new ManualClock(1_700_000_000);
  replica = { identity: 'kpa-0', buckets: ['00', '03'], bucketCount: 10 };
  live = await startLiveAutoscaler({
    logger: silentLogger(), clock, host: '127.0.0.1', httpPort: 0, statsPort: 0, replica: () => replica,
    tickIntervalMs: 3_600_000, scrapeIntervalMs: 3_600_000, // ticks driven by hand
  });
});
afterEach(async () => {
  await live.close();
});

/** One 2 s tick on the virtual clock, and the stream's event for it. */
async function tick(stream: { events: StreamEvent[] }): Promise<StreamEvent> {
  const before = stream.events.length;
  clock.advance(TICK_SECONDS);
  live.tick();
  await until(() => stream.events.length === before + 1);
  return stream.events.at(-1)!;
}

function addIdle(n: number): void {
  for (let i = 0; i < n; i++) live.service.upsertRevision({ namespace: `team-${i % 10}`, name: `idle-${String(i).padStart(4, '0')}` }, { config: CONFIG });
}

describe('/api/stream at scale', () => {
  it('stays under 50 KB/s with 1,000 idle revisions: after the first event, an idle tick sends no revision', async () => {
    addIdle(1000);
    live.tick(); // every revision's first "no data" is a change; from here on they are idle
    const stream = await openStream(live.httpPort);
    const first = stream.events[0];
    expect(first.reset).toBe(true);
    expect(first.total).toBe(1000);
    expect(first.revisions).toHaveLength(FIRST_EVENT_REVISIONS);
    const TICKS = 30;
    for (let i = 0; i < TICKS; i++) {
      const event = await tick(stream);
      expect(event.revisions).toEqual([]);
      expect(event.removed).toEqual([]);
      expect(event.total).toBe(1000);
    }
    await stream.close();
    const seconds = TICKS * TICK_SECONDS;
    // The first event included: what a dashboard opened for a minute on 1,000 idle revisions costs.
    expect(stream.bytes / seconds).toBeLessThan(50 * 1024);
    // And what it costs to keep open: a few dozen bytes a tick.
    const idleBytes = stream.events.slice(1).reduce((sum, e) => sum + JSON.stringify(e).length + 8, 0);
    expect(idleBytes / seconds).toBeLessThan(100);
  });

  it('sends a revision whose decision changes, and only it; then its removal', async () => {
    addIdle(1000);
    const busy = { namespace: 'default', name: 'busy' };
    live.service.upsertRevision(busy, { config: CONFIG });
    live.tick();
    const stream = await openStream(live.httpPort);
    expect((await tick(stream)).revisions).toEqual([]);

    live.service.recordStat(busy, stat(140), 'activator');
    const changed = await tick(stream);
    expect(changed.revisions.map((r) => [r.name, r.desiredScale])).toEqual([['busy', 2]]);
    // The same windows and decision again: not sent again.
    expect((await tick(stream)).revisions).toEqual([]);
    live.service.recordStat(busy, stat(700), 'activator');
    const next = await tick(stream);
    expect(next.revisions.map((r) => r.name)).toEqual(['busy']);
    expect(next.revisions[0].desiredScale).toBeGreaterThan(2);
    expect(next.seq).toBeGreaterThan(changed.seq);

    live.service.deleteRevision(busy);
    const gone = await tick(stream);
    expect(gone.removed).toEqual([busy]);
    expect(gone.total).toBe(1000);
    await stream.close();
  });

  it('says which buckets the replica holds first, and again only when that changes', async () => {
    addIdle(2);
    live.tick();
    const stream = await openStream(live.httpPort);
    expect(stream.events[0].replica).toEqual({ identity: 'kpa-0', buckets: ['00', '03'], bucketCount: 10 });
    expect((await tick(stream)).replica).toBeUndefined();
    replica = { identity: 'kpa-0', buckets: ['00', '03', '07'], bucketCount: 10 };
    expect((await tick(stream)).replica?.buckets).toEqual(['00', '03', '07']);
    expect((await tick(stream)).replica).toBeUndefined();
    await stream.close();
  });

  it('a new revision, a scale status or a pod count change is sent; the same scale status again is not', async () => {
    addIdle(3);
    live.tick();
    const stream = await openStream(live.httpPort);
    const key = { namespace: 'team-1', name: 'idle-0001' };
    live.service.setReadyCount(key, 2);
    expect((await tick(stream)).revisions.map((r) => r.name)).toEqual(['idle-0001']);
    const status = { currentReplicas: 2, wantReplicas: 2, state: 'active', reason: 'steady', dryRun: false };
    live.service.setScaleStatus(key, status);
    expect((await tick(stream)).revisions.map((r) => r.name)).toEqual(['idle-0001']);
    live.service.setScaleStatus(key, { ...status });
    expect((await tick(stream)).revisions).toEqual([]);
    live.service.upsertRevision({ namespace: 'default', name: 'new' }, { config: CONFIG });
    expect((await tick(stream)).revisions.map((r) => r.name)).toEqual(['new']);
    await stream.close();
  });
});

describe('AutoscalerService.changesSince', () => {
  it('counts a change in the metric a revision does not scale on, too', () => {
    const { service } = live;
    const key = { namespace: 'default', name: 'web' };
    service.upsertRevision(key, { config: CONFIG });
    service.setReadyCount(key, 1);
    const second = (rps: number) => {
      clock.advance(1);
      service.recordStat(key, stat(50, rps), 'scraper');
      if (clock.now() % 2 === 0) service.tick();
    };
    for (let s = 0; s < 10; s++) second(10); // the windows fill with the same load
    const seq = service.readView().seq;
    for (let s = 0; s < 4; s++) second(10);
    expect(service.changesSince(seq)!.changed).toEqual([]); // the same load again: no change
    second(90); // the same concurrency (the decision stays), more requests per second
    second(90);
    expect(service.changesSince(seq)!.changed.map((s) => s.name)).toEqual(['web']);
  });

  it('gives up (null) once the removals behind the cursor are forgotten, so the client starts afresh', () => {
    const { service } = live;
    const start = service.changesSince(0)!.seq;
    for (let i = 0; i < 10_001; i++) {
      const key = { namespace: 'default', name: `short-lived-${i}` };
      service.upsertRevision(key, { config: CONFIG });
      service.deleteRevision(key);
    }
    expect(service.changesSince(start)).toBeNull();
    const recent = service.changesSince(service.readView().seq - 2)!; // the last revision: added, then removed
    expect(recent.removed).toEqual([{ namespace: 'default', name: 'short-lived-10000' }]);
  });
});
