/**
 * Which bucket a revision belongs to, by the consistent hashing of
 * knative.dev/pkg/hash (BucketSet.Owner over ChooseSubset with one pick): every
 * bucket gets an angle on a 2,048-slot circle seeded by the key, and the key
 * belongs to the first bucket at or after the key's own start angle. The
 * angles are FNV-1a 64 hashes, as Knative's, so kpa and Knative agree on a
 * key's bucket for the same bucket names.
 *
 * Changing the number of buckets changes their names (`…-of-NN`), and so,
 * as in Knative, where most keys go: size buckets once, for the most
 * replicas you expect (see the README).
 */

const START_SALT = 'start-angle-salt';
/** The circle's slots; a power of two, so an angle is a hash's low 11 bits. */
const UNIVERSE = 2048;
const TWO_32 = 2 ** 32;
const encoder = new TextEncoder();

/** FNV-1a 64 of the UTF-8 bytes of `parts` written one after the other, as [high, low] 32-bit halves. */
export function fnv1a64(...parts: string[]): [number, number] {
  // 64-bit arithmetic on two 32-bit halves: the prime is 2^40 + 0x1b3, so h·prime = h·0x1b3 + (h << 40).
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  for (const part of parts) {
    for (const byte of encoder.encode(part)) {
      lo = (lo ^ byte) >>> 0;
      const low = lo * 0x1b3; // < 2^41: exact in a double
      const carry = Math.floor(low / TWO_32);
      hi = (Math.imul(hi, 0x1b3) + carry + (lo << 8)) >>> 0;
      lo = low >>> 0;
    }
  }
  return [hi, lo];
}

/** Go's strconv.FormatUint(h, 16) of a 64-bit hash. */
function hex64([hi, lo]: [number, number]): string {
  return hi === 0 ? lo.toString(16) : hi.toString(16) + lo.toString(16).padStart(8, '0');
}

/** The bucket of `key` among `buckets` (Knative's ChooseSubset(buckets, 1, key)). */
export function ownerOf(buckets: readonly string[], key: string): string {
  if (buckets.length === 0) throw new RangeError('a bucket set needs at least one bucket');
  if (buckets.length === 1) return buckets[0];
  const start = fnv1a64(key, START_SALT)[1] % UNIVERSE;
  const slots = new Map<number, string>();
  // Sorted, so that two buckets on one slot are resolved the same way on every replica.
  for (const bucket of [...buckets].sort()) {
    let salt = bucket + key;
    let h = fnv1a64(salt);
    // Two buckets on one slot (about 1 in 2,048 per pair): Knative feeds the hash back in as salt until the slot is free.
    while (slots.has(h[1] % UNIVERSE)) {
      salt += hex64(h);
      h = fnv1a64(salt);
    }
    slots.set(h[1] % UNIVERSE, bucket);
  }
  const angles = [...slots.keys()].sort((a, b) => a - b);
  const at = angles.find((a) => a >= start) ?? angles[0];
  return slots.get(at)!;
}

/** Bucket `i` of `count` as its name writes it: "03", two digits at least ("007" past 99). */
export function bucketNumber(i: number, count: number): string {
  return String(i).padStart(Math.max(2, String(count).length), '0');
}

/** `kpa-bucket-00-of-10` …: the bucket names, and so the Lease names, of `count` buckets. */
export function bucketNames(count: number, prefix = 'kpa'): string[] {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`bucket count must be a whole number ≥ 1, not ${count}`);
  return Array.from({ length: count }, (_, i) => `${prefix}-bucket-${bucketNumber(i, count)}-of-${bucketNumber(count, count)}`);
}

/**
 * The buckets, and each revision's bucket, cached: a revision's owner is
 * asked for every stat it gets, and the answer never changes for a given set.
 */
export class BucketSet {
  readonly names: readonly string[];
  private readonly cache = new Map<string, string>();

  constructor(names: readonly string[]) {
    if (names.length === 0) throw new RangeError('a bucket set needs at least one bucket');
    this.names = [...names];
  }

  /** The bucket of a revision, keyed `namespace/name` as Knative's types.NamespacedName.String(). */
  bucketOf(namespace: string, name: string): string {
    const key = `${namespace}/${name}`;
    let bucket = this.cache.get(key);
    if (bucket === undefined) {
      bucket = ownerOf(this.names, key);
      // Bounded: a stat for a revision nobody has is asked about too, and such names are chosen by whoever sends them.
      if (this.cache.size >= 100_000) this.cache.clear();
      this.cache.set(key, bucket);
    }
    return bucket;
  }
}
