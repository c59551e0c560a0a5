import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/log.js';
import { type LiveAutoscaler, startLiveAutoscaler } from '../../src/service/liveAutoscaler.js';
import { stat } from '../helpers/engine.js';

interface Page {
  revisions: { namespace: string; name: string; changedAt: number }[];
  continue: string | null;
  total: number;
  replica: { identity: string; buckets: string[]; bucketCount: number };
}

const CONFIG = { 'stable-window': '6s' };
let live: LiveAutoscaler;
let clock: ManualClock;

async function get(query: string): Promise<{ status: number; body: Page & { message?: string } }> {
  const res = await fetch(`http://127.0.0.1:${live.httpPort}/api/revisions${query}`);
  return { status: res.status, body: (await res.json()) as Page & { message?: string } };
}

const names = (p: Page) => p.revisions.map((r) => `${r.namespace}/${r.name}`);

beforeEach(async () => {
  clock = new ManualClock(1_700_000_000);
  live = await startLiveAutoscaler({
    logger: silentLogger(), clock, host: '127.0.0.1', httpPort: 0, statsPort: 0, tickIntervalMs: 3_600_000, scrapeIntervalMs: 3_600_000,
  });
});
afterEach(async () => {
  await live.close();
});

describe('/api/revisions pages', () => {
  it('returns 100 by default and follows continue tokens through every revision in name order, as Kubernetes lists', async () => {
    for (let i = 249; i >= 0; i--) live.service.upsertRevision({ namespace: i % 2 ? 'b' : 'a', name: `r-${String(i).padStart(3, '0')}` }, { config: CONFIG });
    live.tick();
    const first = (await get('')).body;
    expect(first.revisions).toHaveLength(100);
    expect(first.total).toBe(250);
    expect(names(first)[0]).toBe('a/r-000');
    expect(first.replica).toEqual({ identity: 'kpa', buckets: ['all'], bucketCount: 1 });
    const seen: string[] = [];
    let token: string | null = '';
    let pages = 0;
    do {
      const p: Page = (await get(`?limit=60${token ? `&continue=${encodeURIComponent(token)}` : ''}`)).body;
      seen.push(...names(p));
      token = p.continue;
      pages++;
      // A revision added meanwhile does not shift the next page (the token holds a position, not an offset).
      if (pages === 2) live.service.upsertRevision({ namespace: 'a', name: 'r-000a' }, { config: CONFIG });
    } while (token);
    expect(pages).toBe(5);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toHaveLength(250);
    expect(seen).toEqual([...seen].sort());
  });

  it('answers 400 naming the parameter for a bad limit, filter, sort, continue or an unknown parameter', async () => {
    live.service.upsertRevision({ namespace: 'a', name: 'r' }, { config: CONFIG });
    const cases: [string, RegExp][] = [
      ['?limit=501', /limit/], ['?limit=0', /limit/], ['?limit=ten', /limit/], ['?filter=busy', /filter/], ['?sort=age', /sort/],
      ['?continue=bm9wZQ', /continue/], ['?fliter=panicking', /fliter/], [`?q=${'x'.repeat(400)}`, /\bq\b/],
    ];
    for (const [query, parameter] of cases) {
      const { status, body } = await get(query);
      expect(status, query).toBe(400);
      expect(body.message, query).toMatch(parameter);
    }
    for (let i = 0; i < 3; i++) live.service.upsertRevision({ namespace: 'a', name: `s-${i}` }, { config: CONFIG });
    const token = (await get('?limit=1&sort=name')).body.continue!;
    const other = await get(`?limit=1&sort=activity&continue=${token}`);
    expect(other.status).toBe(400);
    expect(other.body.message).toMatch(/continue .*another q, filter or sort/);
  });

  it('searches namespace/name, case-insensitively', async () => {
    for (const [ns, name] of [['shop', 'cart'], ['shop', 'checkout'], ['blog', 'comments'], ['Other', 'x']] as const) {
      live.service.upsertRevision({ namespace: ns.toLowerCase(), name }, { config: CONFIG });
    }
    expect(names((await get('?q=shop/')).body)).toEqual(['shop/cart', 'shop/checkout']);
    expect(names((await get('?q=C')).body)).toEqual(['blog/comments', 'shop/cart', 'shop/checkout']);
    const p = (await get('?q=SH&limit=1')).body;
    expect([p.total, names(p)]).toEqual([2, ['shop/cart']]);
  });

  it('filters panicking, scaling, at zero and erroring revisions', async () => {
    const key = (name: string) => ({ namespace: 'default', name });
    const { service } = live;
    for (const name of ['panics', 'steady', 'zero', 'blind', 'moving']) service.upsertRevision(key(name), { config: CONFIG });
    service.setReadyCount(key('panics'), 1);
    service.recordStat(key('panics'), stat(700), 'scraper'); // 10 pods' worth on 1 ready: panic
    service.setReadyCount(key('steady'), 1);
    service.recordStat(key('steady'), stat(50), 'scraper');
    service.setReadyCount(key('blind'), 2); // ready pods, but no stat: its scrapes fail
    service.setReadyCount(key('moving'), 1);
    service.tick();
    service.setScaleStatus(key('moving'), { currentReplicas: 1, wantReplicas: 3, state: 'active', reason: 'scaling up', dryRun: false });
    service.setScaleStatus(key('steady'), { currentReplicas: 1, wantReplicas: 1, state: 'active', reason: 'steady', dryRun: false });
    const filtered = async (filter: string) => names((await get(`?filter=${filter}`)).body).map((n) => n.slice('default/'.length));
    expect(await filtered('panicking')).toEqual(['panics']);
    expect(await filtered('scaling')).toEqual(['moving', 'panics']); // panics: the decider wants 10, 1 is ready (no scaler here)
    expect(await filtered('zero')).toEqual(['zero']);
    expect(await filtered('erroring')).toEqual(['blind', 'moving']); // "no data" at zero is a revision at rest, not an error
  });

  it('sorts by activity: most recently changed first, then most load', async () => {
    const { service } = live;
    for (const name of ['a', 'b', 'c', 'd']) service.upsertRevision({ namespace: 'default', name }, { config: CONFIG });
    service.setReadyCount({ namespace: 'default', name: 'b' }, 1);
    service.setReadyCount({ namespace: 'default', name: 'c' }, 1);
    service.tick();
    clock.advance(2);
    service.recordStat({ namespace: 'default', name: 'b' }, stat(100), 'scraper');
    service.recordStat({ namespace: 'default', name: 'c' }, stat(300), 'scraper');
    service.tick(); // b and c change now; a and d tick to the same "no data" again
    clock.advance(2);
    service.tick();
    const all = (await get('?sort=activity')).body;
    expect(names(all)).toEqual(['default/c', 'default/b', 'default/a', 'default/d']);
    // Paging by activity, too.
    const one = (await get('?sort=activity&limit=3')).body;
    const rest = (await get(`?sort=activity&limit=3&continue=${one.continue}`)).body;
    expect([...names(one), ...names(rest)]).toEqual(names(all));
    expect(rest.continue).toBeNull();
  });
});

describe('replica', () => {
  it('says which buckets this replica holds, from the provider', async () => {
    await live.close();
    live = await startLiveAutoscaler({
      logger: silentLogger(), clock, host: '127.0.0.1', httpPort: 0, statsPort: 0, tickIntervalMs: 3_600_000, scrapeIntervalMs: 3_600_000,
      replica: () => ({ identity: 'kpa-0', buckets: ['00', '03'], bucketCount: 10 }),
    });
    expect((await get('')).body.replica).toEqual({ identity: 'kpa-0', buckets: ['00', '03'], bucketCount: 10 });
  });
});
