import { describe, expect, it } from 'vitest';
import { BucketSet, bucketNames, fnv1a64, ownerOf } from '../../src/sharding/bucketSet.js';

const hex = (s: string) => fnv1a64(s).map((x) => x.toString(16).padStart(8, '0')).join('');

describe('the bucket of a revision (knative.dev/pkg/hash)', () => {
  it('FNV-1a 64 gives the published test vectors', () => {
    expect([hex(''), hex('a'), hex('foobar')]).toEqual(['cbf29ce484222325', 'af63dc4c8601ec8c', '85944171f73967e8']);
  });

  it("agrees with Knative's own bucketer tests", () => {
    // knative.dev/pkg hash/bucketer_test.go: the set, the keys and the owners it expects.
    const buckets = ['monsoon', 'chubasco', 'aguacero', 'chaparrón'];
    expect(ownerOf(buckets, 'hagel')).toBe('monsoon');
    expect(ownerOf(buckets, 'snow')).toBe('chubasco');
    expect(ownerOf(buckets, 'snow/hail')).toBe('monsoon'); // TestBucketHas: NamespacedName{snow, hail}
    const without = buckets.filter((b) => b !== 'chubasco');
    expect(ownerOf(without, 'hagel')).toBe('monsoon'); // stable when another bucket goes
    expect(ownerOf(without, 'snow')).not.toBe('chubasco');
  });

  it('names buckets as Leases: kpa-bucket-00-of-10 …, three digits past 99', () => {
    expect(bucketNames(10).slice(0, 2)).toEqual(['kpa-bucket-00-of-10', 'kpa-bucket-01-of-10']);
    expect(bucketNames(1)).toEqual(['kpa-bucket-00-of-01']);
    expect(bucketNames(100)[7]).toBe('kpa-bucket-007-of-100');
    expect(() => bucketNames(0)).toThrow(/whole number/);
  });

  const keys = Array.from({ length: 3000 }, (_, i) => `team-${i % 7}/service-${i}`);

  it('spreads 3,000 revisions over 10 buckets evenly enough (each 6–14 %)', () => {
    const set = new BucketSet(bucketNames(10));
    const counts = new Map<string, number>();
    for (const k of keys) {
      const [ns, name] = k.split('/');
      const b = set.bucketOf(ns, name);
      counts.set(b, (counts.get(b) ?? 0) + 1);
    }
    expect(counts.size).toBe(10);
    for (const n of counts.values()) {
      expect(n).toBeGreaterThan(180);
      expect(n).toBeLessThan(420);
    }
  });

  it('a bucket leaving the set moves only its own revisions', () => {
    const names = bucketNames(10);
    const before = keys.map((k) => ownerOf(names, k));
    const after = keys.map((k) => ownerOf(names.filter((n) => n !== names[3]), k));
    const moved = keys.filter((_, i) => before[i] !== after[i]);
    expect(moved.length).toBe(before.filter((b) => b === names[3]).length);
  });

  it('answers the same for the same revision, and from the cache', () => {
    const set = new BucketSet(bucketNames(5));
    const first = set.bucketOf('apps', 'web');
    expect(set.bucketOf('apps', 'web')).toBe(first);
    expect(first).toBe(ownerOf(bucketNames(5), 'apps/web'));
  });
});
