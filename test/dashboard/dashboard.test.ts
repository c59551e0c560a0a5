import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/log.js';
import { type LiveAutoscaler, startLiveAutoscaler } from '../../src/service/liveAutoscaler.js';
import { stat } from '../helpers/engine.js';

let live: LiveAutoscaler;
const clock = new ManualClock(1_700_000_000);
beforeEach(async () => {
  live = await startLiveAutoscaler({ logger: silentLogger(), clock, host: '127.0.0.1', httpPort: 0, statsPort: 0, tickIntervalMs: 3_600_000, scrapeIntervalMs: 3_600_000 });
});
afterEach(async () => {
  await live.close();
});

describe('dashboard', () => {
  it('serves the page and uPlot locally, with no external URLs', async () => {
    const page = await live.app.inject({ url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toMatch(/<script src="\/dashboard\/uplot.js"><\/script>/);
    expect(page.body).not.toMatch(/https?:\/\//);
    const uplot = await live.app.inject({ url: '/dashboard/uplot.js' });
    expect(uplot.headers['content-type']).toMatch(/javascript/);
    expect(uplot.body).toMatch(/uPlot/);
    expect((await live.app.inject({ url: '/dashboard/app.js' })).body).toMatch(/EventSource\('\/api\/stream'\)/);
    expect((await live.app.inject({ url: '/dashboard/uplot.css' })).statusCode).toBe(200);
  });

  it('streams every revision once per tick over server-sent events', async () => {
    const key = { namespace: 'default', name: 'web' };
    live.service.upsertRevision(key, { config: { 'stable-window': '6s' } });
    const res = await fetch(`http://127.0.0.1:${live.httpPort}/api/stream`);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    const events: { revisions: { name: string; desiredScale: number }[] }[] = [];
    let buffer = '';
    const read = async (): Promise<void> => {
      while (events.length < 2) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += new TextDecoder().decode(value);
        for (;;) {
          const end = buffer.indexOf('\n\n');
          if (end < 0) break;
          const chunk = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (chunk.startsWith('data: ')) events.push(JSON.parse(chunk.slice(6)));
        }
      }
    };
    const reading = read();
    await new Promise((r) => setTimeout(r, 50));
    live.service.recordStat(key, stat(140), 'activator');
    live.tick();
    await reading;
    await reader.cancel();
    expect(events[0].revisions[0].name).toBe('web');
    expect(events[1].revisions[0].desiredScale).toBe(2);
  });
});
