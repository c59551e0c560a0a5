import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { acceptsGzip, SharedBodyCache } from '../../src/service/sharedBody.js';

describe('SharedBodyCache', () => {
  it('builds once per epoch and key however many read, and rebuilds when the epoch moves', async () => {
    const cache = new SharedBodyCache();
    let builds = 0;
    const build = () => `{"n":${++builds}}`;
    const bodies = Array.from({ length: 500 }, () => cache.get(7, 'first page', build));
    expect(builds).toBe(1);
    expect(new Set(bodies).size).toBe(1);
    expect(gunzipSync(await bodies[0].gzip).toString()).toBe('{"n":1}');
    expect(cache.get(7, 'a search', build).text).toBe('{"n":2}');
    expect(cache.get(7, 'first page', build).text).toBe('{"n":1}');
    expect(cache.get(8, 'first page', build).text).toBe('{"n":3}');
  });

  it('keeps a bounded number of bodies per epoch', () => {
    const cache = new SharedBodyCache(2);
    let builds = 0;
    const build = () => String(++builds);
    for (const key of ['a', 'b', 'c', 'a']) cache.get(1, key, build);
    expect(builds).toBe(4); // 'c' made room by dropping the others, so 'a' was built again
  });

  it.each([
    ['gzip, deflate, br', true], ['deflate', false], ['', false], [undefined, false], ['GZIP', true], ['gzip;q=0', false],
    ['br;q=1, gzip;q=0.5', true], ['*', true], [['identity', 'gzip'], true],
  ] as const)('Accept-Encoding %j allows gzip: %s', (header, want) => {
    expect(acceptsGzip(header as string | string[] | undefined)).toBe(want);
  });
});
