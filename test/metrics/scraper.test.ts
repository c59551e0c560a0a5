import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/wait.js';
import { aggregateScrapedStats, sampleSize, scrapeOrder } from '../../src/metrics/scrapeSampling.js';
import { fetchPodStat, RevisionScraper } from '../../src/metrics/scraper.js';
import { ScrapeLoop } from '../../src/metrics/scrapeLoop.js';
import { checkStat, DEFAULT_STAT_BOUNDS } from '../../src/metrics/stat.js';
import { parsePrometheusText, statFromPrometheusText, statToPrometheusText } from '../../src/metrics/prometheusText.js';
import { ManualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/log.js';
import { stat } from '../helpers/engine.js';
import { QueueProxyServer } from '../helpers/queueProxyServer.js';

// Knative's sample_size_test.go.
describe('sampleSize', () => {
  it.each([[0, 0], [1, 1], [2, 2], [3, 3], [4, 4], [5, 4], [10, 7], [15, 8], [100, 14], [1000, 16], [-1, 0]])(
    'N=%i → %i', (n, want) => expect(sampleSize(n)).toBe(want));
});

describe('scrapeOrder', () => {
  const pods = (ages: number[]) => ages.map((age, i) => ({ name: `p${i}`, startedAt: 1000 - age }));
  it('puts pods older than the stable window first', () => {
    const order = scrapeOrder(pods([5, 100, 10, 200]), 1000, 60, () => 0.3);
    expect(order.slice(0, 2).map((p) => p.name).sort()).toEqual(['p1', 'p3']);
    expect(order).toHaveLength(4);
  });
  it('keeps every pod as a replacement', () => {
    const order = scrapeOrder(pods(Array.from({ length: 50 }, (_, i) => i * 3)), 1000, 60, Math.random);
    expect(new Set(order.map((p) => p.name)).size).toBe(50);
  });
});

describe('aggregateScrapedStats', () => {
  it('scales the sample average up to all ready pods', () => {
    const s = aggregateScrapedStats([stat(2, 10), stat(4, 20)], 10);
    expect(s).toMatchObject({ podName: 'service-scraper', averageConcurrentRequests: 30, requestCount: 150, processUptime: 0 });
  });
});

describe('scrape limits and error logging', () => {
  it('a scrape that outlives the round\'s wait keeps only its own revision\'s slot: the round goes on without it', async () => {
    let released = false;
    const waiting: (() => void)[] = [];
    const release = () => { released = true; waiting.splice(0).forEach((go) => go()); };
    const scraper = new RevisionScraper({
      fetchStat: (pod) => (pod.name === 'a' && !released ? new Promise((resolve) => waiting.push(() => resolve(stat(1)))) : Promise.resolve(stat(1))),
    });
    const scraped: string[] = [];
    const loop = new ScrapeLoop({
      targets: () => ['a', 'b'].map((name) => ({ key: { namespace: 'n', name }, pods: [{ name, url: 'http://x', startedAt: 0 }], stableWindowSeconds: 60 })),
      scraper, clock: new ManualClock(1000), logger: silentLogger(), onStat: (key) => scraped.push(key.name), roundWaitMs: 10,
    });
    await loop.runOnce(); // "a" hangs past the round's wait: the round ends with "b"
    await loop.runOnce(); // "a" is still in flight: skipped, not started twice; "b" again
    expect(scraped).toEqual(['b', 'b']);
    release();
    await loop.stop(); // waits for the scrape that outlived its round
    expect(scraped).toEqual(['b', 'b', 'a']);
  });

  it('logs a failing revision once, whichever pod failed', async () => {
    const warnings: string[] = [];
    const logger = silentLogger();
    logger.warn = ((_o: unknown, msg: string) => void warnings.push(msg)) as typeof logger.warn;
    let n = 0;
    const scraper = new RevisionScraper({ fetchStat: async (pod) => { throw new (await import('../../src/metrics/scraper.js')).ScrapeError(`${pod.url}/${n++}`, 'HTTP status 500'); } });
    const loop = new ScrapeLoop({
      targets: () => [{ key: { namespace: 'n', name: 'r' }, pods: [{ name: 'p', url: 'http://x', startedAt: 0 }], stableWindowSeconds: 60 }],
      scraper, clock: new ManualClock(1000), logger, onStat: () => undefined,
    });
    for (let i = 0; i < 3; i++) await loop.runOnce();
    expect(warnings).toEqual(['scrape failed: too many pods failed scraping for meaningful interpolation: HTTP status 500']);
  });
});

describe('Prometheus text', () => {
  it('takes the first sample of a series and rejects NaN or negative values, as Knative', () => {
    const text = 'queue_average_concurrent_requests{destination_pod="a"} 3\nqueue_average_concurrent_requests{destination_pod="b"} 9\n';
    expect(statFromPrometheusText(text, 'a').averageConcurrentRequests).toBe(3);
    expect(checkStat(statFromPrometheusText('queue_requests_per_second NaN\n', 'a'), DEFAULT_STAT_BOUNDS))
      .toMatchObject({ reason: 'not-finite', field: 'requestCount' });
    expect(checkStat(statFromPrometheusText('queue_requests_per_second -1\n', 'a'), DEFAULT_STAT_BOUNDS))
      .toMatchObject({ reason: 'negative', field: 'requestCount' });
  });

  it('round-trips queue-proxy series', () => {
    const text = statToPrometheusText({ ...stat(3.5, 12, 'pod-"x"'), processUptime: 7 }, { destination_revision: 'r' });
    expect(statFromPrometheusText(text, 'pod')).toMatchObject({ averageConcurrentRequests: 3.5, requestCount: 12, processUptime: 7 });
  });
  it('parses labels with escapes, NaN, +Inf and timestamps', () => {
    const samples = parsePrometheusText('# HELP x y\nx{a="q\\"u\\\\o\\n",b="2"} NaN 1700000000\ny +Inf\nz -1.5e3\n');
    expect(samples[0].labels).toEqual({ a: 'q"u\\o\n', b: '2' });
    expect(samples[0].value).toBeNaN();
    expect(samples[1].value).toBe(Infinity);
    expect(samples[2].value).toBe(-1500);
  });
  // Prometheus reads values with Go's strconv.ParseFloat; prom-client writes NaN as "Nan".
  it.each<[string, number]>([
    ['Nan', Number.NaN], ['nan', Number.NaN], ['NaN', Number.NaN], ['inf', Infinity], ['+inf', Infinity], ['Infinity', Infinity],
    ['-Inf', -Infinity], ['0x1p-2', 0.25], ['1_000', 1000], ['1e3', 1000], ['.5', 0.5], ['5.', 5], ['-0', -0], ['+7', 7],
  ])('reads the value %s as Go does', (text, value) => {
    expect(parsePrometheusText(`x ${text}\n`)[0].value).toBe(value);
  });
  it.each(['0x10', '1__0', 'abc', '1e', '--1', 'NaNx', ' '])('refuses the value %j as Go does', (text) => {
    expect(() => parsePrometheusText(`x ${text}\n`)).toThrow(/bad sample value/);
  });
  it('names the bad line', () => {
    expect(() => parsePrometheusText('ok 1\nbad{a=1} 2')).toThrow(/line 2/);
  });
});

describe('RevisionScraper over HTTP', () => {
  let qp: QueueProxyServer;
  beforeAll(async () => {
    qp = await QueueProxyServer.start();
  });
  afterAll(async () => {
    await qp.close();
  });
  const target = (name: string) => ({ name, url: qp.url(name), startedAt: 0 });

  it('scrapes protobuf and Prometheus text pods and scales to all ready pods', async () => {
    qp.set('a', stat(2, 4, 'a'));
    qp.set('b', stat(4, 8, 'b'), 'text');
    const outcome = await new RevisionScraper().scrape([target('a'), target('b')], 1000, 60);
    expect(outcome).toMatchObject({ kind: 'stat', sampled: 2, stat: { averageConcurrentRequests: 6, requestCount: 12 } });
  });

  it('replaces a failed pod by another from the population', async () => {
    // 10 ready pods → a sample of 7; the failing pod is replaced by one of the other three.
    const pods = Array.from({ length: 10 }, (_, i) => `r${i}`);
    pods.forEach((p, i) => qp.set(p, stat(1, 1, p), i === 0 ? 'error500' : 'protobuf'));
    const outcome = await new RevisionScraper({ random: () => 0.99 }).scrape(pods.map(target), 1000, 60);
    expect(outcome).toMatchObject({ kind: 'stat', sampled: 7, stat: { averageConcurrentRequests: 10 } });
    expect(qp.hits.get('r0')).toBe(1); // the failing pod was tried
  });

  it('too few successes is an error, not a stat', async () => {
    qp.set('x1', stat(1), 'error500');
    qp.set('x2', stat(1));
    const outcome = await new RevisionScraper().scrape([target('x1'), target('x2')], 1000, 60);
    expect(outcome.kind).toBe('error');
    expect(outcome.kind === 'error' && outcome.message).toMatch(/HTTP status 500/);
  });

  it('times out a hanging pod', async () => {
    qp.set('h', stat(1), 'hang');
    const outcome = await new RevisionScraper({ timeoutMs: 150 }).scrape([target('h')], 1000, 60);
    expect(outcome.kind === 'error' && outcome.message).toMatch(/no answer within 150 ms/);
  });

  it('times out a pod that stops in the middle of its body', async () => {
    qp.set('s', stat(1), 'stall');
    const outcome = await new RevisionScraper({ timeoutMs: 150 }).scrape([target('s')], 1000, 60);
    expect(outcome.kind === 'error' && outcome.message).toMatch(/no answer within 150 ms/);
  });

  it('refuses a body past the size limit and closes the stream', async () => {
    qp.set('f', stat(1), 'flood');
    await expect(fetchPodStat(target('f'), 5000, 1024 * 1024)).rejects.toThrow(/response body larger than 1048576 bytes/);
    const outcome = await new RevisionScraper().scrape([target('f')], 1000, 60);
    expect(outcome.kind === 'error' && outcome.message).toMatch(/response body larger than 4194304 bytes/);
  });

  it('no ready pods: nothing to scrape', async () => {
    expect(await new RevisionScraper().scrape([], 1000, 60)).toEqual({ kind: 'no-pods' });
  });

  it('the loop keeps scraping other revisions while one hangs, and logs an error once per change', async () => {
    qp.set('good', stat(5, 5, 'good'));
    qp.set('stuck', stat(1), 'hang');
    const warnings: string[] = [];
    const logger = silentLogger();
    logger.warn = ((_o: unknown, msg: string) => void warnings.push(msg)) as typeof logger.warn;
    const got: string[] = [];
    const loop = new ScrapeLoop({
      targets: () => [
        { key: { namespace: 'n', name: 'stuck' }, pods: [target('stuck')], stableWindowSeconds: 60 },
        { key: { namespace: 'n', name: 'good' }, pods: [target('good')], stableWindowSeconds: 60 },
      ],
      scraper: new RevisionScraper({ timeoutMs: 300 }),
      clock: new ManualClock(1000),
      logger,
      onStat: (key) => got.push(key.name),
    });
    const first = loop.runOnce();
    await until(() => got.length === 1); // "good" answered; "stuck" hangs
    await loop.runOnce(); // "stuck" is still in flight: skipped, "good" scraped again meanwhile
    expect(got).toEqual(['good', 'good']);
    await first;
    await until(() => warnings.some((w) => w.includes('no answer')), 3000); // the hung scrape times out after its round
    await loop.runOnce();
    await loop.stop();
    expect(warnings.filter((w) => w.includes('no answer'))).toHaveLength(1);
  });

  // Issue 11: 16 or more revisions with hung pods filled the global limit, and no healthy revision was scraped.
  it('revisions with hung pods, more than the old loop\'s 16 runners, never keep a healthy revision from its stat', async () => {
    qp.set('healthy', stat(3, 3, 'healthy'));
    qp.set('hung', stat(1), 'hang');
    const got: string[] = [];
    const hung = Array.from({ length: 20 }, (_, i) => ({ key: { namespace: 'n', name: `hung-${i}` }, pods: [target('hung')], stableWindowSeconds: 60 }));
    const loop = new ScrapeLoop({
      targets: () => [...hung, { key: { namespace: 'n', name: 'healthy' }, pods: [target('healthy')], stableWindowSeconds: 60 }],
      scraper: new RevisionScraper({ timeoutMs: 500 }),
      clock: new ManualClock(1000), logger: silentLogger(),
      onStat: (key) => got.push(key.name),
    });
    // The hung revisions come first; each holds only its own revision, and the round waits for them no longer than its 250 ms.
    await loop.runOnce();
    expect(got).toEqual(['healthy']);
    // While the 20 hung scrapes are open, and once they have failed, every round scrapes the healthy one.
    for (let round = 0; round < 6; round++) {
      await loop.runOnce();
      await new Promise((r) => setTimeout(r, 150));
    }
    expect(got).toEqual(Array(7).fill('healthy'));
    await loop.stop();
  }, 15_000);
});
