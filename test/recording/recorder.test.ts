import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/log.js';
import { Recorder } from '../../src/recording/recorder.js';
import { AutoscalerService } from '../../src/service/autoscalerService.js';
import { ServiceMetrics } from '../../src/service/promMetrics.js';
import { stat } from '../helpers/engine.js';
import { until } from '../helpers/wait.js';

const KEY = { namespace: 'ns', name: 'r' };

/** A disk that takes nothing while stalled: every write waits until `resume()`. */
class StallingDisk extends Writable {
  readonly lines: string[] = [];
  private stalled = true;
  private waiting: (() => void)[] = [];

  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.lines.push(...chunk.toString().split('\n').filter(Boolean));
    if (this.stalled) this.waiting.push(done);
    else done();
  }

  resume(): void {
    this.stalled = false;
    for (const done of this.waiting.splice(0)) done();
  }
}

async function flushed(disk: StallingDisk): Promise<void> {
  disk.resume();
  await until(() => disk.writableLength === 0);
}

const parsed = (lines: string[]) => lines.map((l) => JSON.parse(l) as Record<string, unknown>);

describe('Recorder over a disk that cannot keep up', () => {
  it('drops stats and ticks past the bound, so what waits for the disk stays bounded, and counts every one', async () => {
    const disk = new StallingDisk();
    const recorder = new Recorder(disk, { maxBufferedBytes: 4096 });
    recorder.revision(100, KEY, {}, 1);
    let peak = 0;
    for (let i = 0; i < 20_000; i++) {
      recorder.stat(100 + i / 1000, KEY, stat(i));
      if (i % 10 === 0) recorder.tick(100 + i / 1000, KEY);
      peak = Math.max(peak, disk.writableLength);
    }
    // At most one line past the bound: 20,000 stats would be about 3 MB.
    expect(peak).toBeLessThan(4096 + 300);
    expect(recorder.droppedEvents).toBeGreaterThan(19_000);
    await flushed(disk);
    recorder.reportDropped();
    // Every stat and tick is either in the recording or counted by a dropped line.
    const events = parsed(disk.lines);
    const written = events.filter((e) => e.type === 'stat' || e.type === 'tick').length;
    const counted = events.filter((e) => e.type === 'dropped').reduce((sum, e) => sum + (e.count as number), 0);
    expect(counted).toBe(recorder.droppedEvents);
    expect(written + counted).toBe(22_000);
  });

  it('writes one dropped line, with the first drop\'s t and the count, once the disk takes lines again', async () => {
    const disk = new StallingDisk();
    const recorder = new Recorder(disk, { maxBufferedBytes: 0 });
    recorder.revision(100, KEY, {}, 1);
    recorder.stat(101, KEY, stat(1)); // the revision line is still waiting: dropped
    recorder.tick(102, KEY);
    recorder.ready(103, KEY, 2); // written all the same: without it every later decision would replay wrongly
    recorder.stat(104, KEY, stat(2));
    expect(recorder.droppedEvents).toBe(3);
    await flushed(disk);
    recorder.tick(105, KEY);
    expect(parsed(disk.lines).map((e) => [e.type, e.t, e.count])).toEqual([
      ['revision', 100, undefined],
      ['dropped', 101, 2],
      ['ready', 103, undefined],
      ['dropped', 104, 1],
      ['tick', 105, undefined],
    ]);
    expect(recorder.droppedEvents).toBe(3);
  });

  it('reportDropped writes the pending count even while the disk is stalled (a recording that ends in a stall says so)', async () => {
    const disk = new StallingDisk();
    const recorder = new Recorder(disk, { maxBufferedBytes: 0 });
    recorder.revision(100, KEY, {}, 1);
    for (let i = 0; i < 5; i++) recorder.stat(101 + i, KEY, stat(1));
    recorder.reportDropped();
    recorder.reportDropped(); // nothing new: no second line
    await flushed(disk);
    expect(parsed(disk.lines).at(-1)).toEqual({ type: 'dropped', t: 101, count: 5 });
    expect(disk.lines).toHaveLength(2);
  });

  it('never drops into a sink without a writableLength (a synchronous file)', () => {
    const lines: string[] = [];
    const recorder = new Recorder({ write: (l) => void lines.push(l) }, { maxBufferedBytes: 0 });
    recorder.revision(100, KEY, {}, 1);
    for (let i = 0; i < 100; i++) recorder.stat(100, KEY, stat(i));
    expect(lines).toHaveLength(101);
    expect(recorder.droppedEvents).toBe(0);
  });

  it('when appending, begins with a restart marker at the first event\'s t, before a dropped line', async () => {
    const disk = new StallingDisk();
    disk.write('x'.repeat(100)); // an earlier line still waiting: the first stat is dropped
    const recorder = new Recorder(disk, { maxBufferedBytes: 10, appending: true });
    recorder.stat(50, KEY, stat(1));
    recorder.revision(51, KEY, {}, 0);
    recorder.tick(52, KEY);
    await flushed(disk);
    expect(parsed(disk.lines.slice(1)).map((e) => [e.type, e.t])).toEqual([['restart', 50], ['dropped', 50], ['revision', 51]]);
  });

  it('the service exports the drop count as kpa_recorder_dropped_events_total', async () => {
    const disk = new StallingDisk();
    const recorder = new Recorder(disk, { maxBufferedBytes: 0 });
    const service = new AutoscalerService({ clock: new ManualClock(100), logger: silentLogger(), recorder });
    const metrics = new ServiceMetrics(service, recorder);
    service.upsertRevision(KEY, {});
    for (let i = 0; i < 7; i++) service.recordStat(KEY, stat(1), 'scraper');
    expect(await metrics.registry.getSingleMetricAsString('kpa_recorder_dropped_events_total')).toMatch(/^kpa_recorder_dropped_events_total 7$/m);
    expect(new ServiceMetrics(service).registry.getSingleMetric('kpa_recorder_dropped_events_total')).toBeUndefined();
  });
});
