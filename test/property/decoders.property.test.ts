import { fromBinary, fromJson } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WireStatMessageSchema } from '../../src/metrics/gen/stat_pb.js';
import { DEFAULT_STAT_BOUNDS, type StatRejection } from '../../src/metrics/stat.js';
import {
  decodeStat, DEFAULT_DECODE_LIMITS, encodeBinaryFrame, isRejection, openBinaryFrame, openJsonFrame, type PendingFrame, type RevisionStat,
} from '../../src/metrics/wireStats.js';

/** A whole frame decoded at once: what the stat server does a slice at a time. */
function decodeFrame(frame: PendingFrame | StatRejection): { stats: RevisionStat[]; rejected: StatRejection[] } {
  if (!('count' in frame)) return { stats: [], rejected: [frame] };
  const out = { stats: [] as RevisionStat[], rejected: [] as StatRejection[] };
  for (let i = 0; i < frame.count; i++) {
    const m = frame.decode(i);
    if (isRejection(m)) out.rejected.push(m);
    else out.stats.push(m);
  }
  return out;
}

const { maxConcurrency, maxRequestsPerSecond } = DEFAULT_STAT_BOUNDS;

/** Every stat a decoder lets through is finite, ≥ 0 and within the bounds. */
function assertBounded(stats: RevisionStat[]): void {
  for (const { stat } of stats) {
    for (const v of [stat.averageConcurrentRequests, stat.averageProxiedConcurrentRequests]) {
      expect(v >= 0 && v <= maxConcurrency).toBe(true);
    }
    for (const v of [stat.requestCount, stat.proxiedRequestCount]) expect(v >= 0 && v <= maxRequestsPerSecond).toBe(true);
    expect(Number.isFinite(stat.processUptime) && stat.processUptime >= 0).toBe(true);
  }
}

/** Any double, including the ones an attacker picks: huge, tiny, negative zero, NaN, ±Inf. */
const anyDouble = fc.oneof(
  fc.double(),
  fc.constantFrom(1e308, -1e308, 1e20, 1e6, 1e6 + 1, 1e8, 1e8 + 1, Number.MAX_VALUE, Number.MIN_VALUE, -0, NaN, Infinity, -Infinity),
);
const stat = fc.record({
  podName: fc.string(), averageConcurrentRequests: anyDouble, averageProxiedConcurrentRequests: anyDouble,
  requestCount: anyDouble, proxiedRequestCount: anyDouble, processUptime: anyDouble,
});
const message = fc.record({
  key: fc.record({ namespace: fc.constantFrom('', 'ns', 'default'), name: fc.constantFrom('', 'rev', 'r-1') }),
  stat,
});

describe('stat decoders under hostile input', () => {
  it('random bytes never throw, and anything accepted is bounded', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
      const frame = openBinaryFrame(bytes);
      assertBounded(decodeFrame(frame).stats);
      expect(() => decodeStat(bytes)).not.toThrow();
    }), { numRuns: 5_000 });
  });

  it('structured frames with huge, negative and non-finite values: accepted iff within the bounds', () => {
    fc.assert(fc.property(fc.array(message, { maxLength: 40 }), (messages) => {
      const { stats, rejected } = decodeFrame(openBinaryFrame(encodeBinaryFrame(messages)));
      assertBounded(stats);
      expect(stats.length + rejected.length).toBe(messages.length);
      // What an activator encodes is never malformed: refused only for its values or missing names.
      for (const r of rejected) expect(r.reason).not.toBe('malformed');
    }), { numRuns: 2_000 });
  });

  it('a frame past the messages cap is refused whole, at any size', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 3 * DEFAULT_DECODE_LIMITS.maxMessagesPerFrame }), (count) => {
      const empties = new Uint8Array(2 * count);
      for (let i = 0; i < empties.length; i += 2) empties[i] = 0x0a;
      const opened = openBinaryFrame(empties);
      if (count > DEFAULT_DECODE_LIMITS.maxMessagesPerFrame) expect(opened).toMatchObject({ reason: 'too-many-messages' });
      else expect('count' in opened && opened.count).toBe(count);
    }), { numRuns: 50 });
  });

  // The hand-written JSON reader must accept exactly what protobuf's JSON mapping accepts.
  const jsonValue = fc.oneof(
    fc.double(), fc.integer(), fc.constantFrom('NaN', 'Infinity', '-Infinity', '1e3', '.5', '-2', '0x10', '', 'lots', null, true, [], {}),
    fc.string({ maxLength: 6 }),
  );
  const statKey = fc.constantFrom(
    'podName', 'pod_name', 'averageConcurrentRequests', 'average_concurrent_requests', 'requestCount', 'request_count',
    'proxiedRequestCount', 'processUptime', 'timestamp', 'unknownField',
  );
  const jsonMessage = fc.record({
    namespace: fc.oneof(fc.constant('ns'), jsonValue),
    name: fc.constant('rev'),
    stat: fc.dictionary(statKey, jsonValue, { maxKeys: 4 }),
  }, { requiredKeys: ['name', 'stat'] });

  it('JSON messages: accepted iff protobuf-es accepts them and the values are within bounds, with the same values', () => {
    fc.assert(fc.property(jsonMessage, (raw) => {
      const ours = decodeFrame(openJsonFrame(JSON.stringify({ messages: [raw] })));
      let reference: ReturnType<typeof fromJson<typeof WireStatMessageSchema>> | null = null;
      try {
        reference = fromJson(WireStatMessageSchema, JSON.parse(JSON.stringify(raw)));
      } catch {
        reference = null;
      }
      if (reference === null) {
        expect(ours.stats).toEqual([]);
        return;
      }
      assertBounded(ours.stats);
      const s = reference.stat;
      const fine = reference.namespace !== '' && s !== undefined
        && [s.averageConcurrentRequests, s.averageProxiedConcurrentRequests].every((v) => v >= 0 && v <= maxConcurrency)
        && [s.requestCount, s.proxiedRequestCount].every((v) => v >= 0 && v <= maxRequestsPerSecond)
        && s.processUptime >= 0 && Number.isFinite(s.processUptime);
      expect(ours.stats.length).toBe(fine ? 1 : 0);
      if (fine) {
        expect(ours.stats[0].stat).toMatchObject({
          podName: s!.podName, averageConcurrentRequests: s!.averageConcurrentRequests, requestCount: s!.requestCount,
          proxiedRequestCount: s!.proxiedRequestCount, processUptime: s!.processUptime,
        });
        expect(ours.stats[0].stat.timestamp ?? 0).toBe(Number(s!.timestamp));
      }
      for (const r of ours.rejected) expect(isRejection(r)).toBe(true);
    }), { numRuns: 3_000 });
  });
});

describe('binary messages: checked before decoding, so nothing throws', () => {
  // Stricter than protobuf-es, which reads a nested message's fields past its length: refusing those is fine.
  it('every message protobuf-es cannot decode is refused as malformed before it is tried, and none throws', () => {
    // A valid frame of one message, then the message's bytes mutated at random.
    const base = encodeBinaryFrame([{ key: { namespace: 'ns', name: 'rev' }, stat: { podName: 'p', averageConcurrentRequests: 1, averageProxiedConcurrentRequests: 0, requestCount: 2, proxiedRequestCount: 0, processUptime: 3, timestamp: 5 } }]);
    const inner = base.subarray(2); // field 1 tag and a one-byte length, then the message
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(inner.length + 4), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat(3), (edits, trim) => {
      const message = Uint8Array.from(inner.subarray(0, Math.max(0, inner.length - trim)));
      const grown = new Uint8Array(message.length + 4);
      grown.set(message);
      let length = message.length;
      for (const [at, byte] of edits) {
        grown[at] = byte;
        length = Math.max(length, at + 1);
      }
      const body = grown.subarray(0, length);
      const frame = new Uint8Array([0x0a, body.length, ...body]);
      if (body.length > 127) return;
      let reference = true;
      try {
        fromBinary(WireStatMessageSchema, body);
      } catch {
        reference = false;
      }
      const opened = openBinaryFrame(frame);
      const decoded = 'count' in opened ? opened.decode(0) : opened;
      if (!reference) expect(decoded).toMatchObject({ reason: 'malformed' });
    }), { numRuns: 5_000 });
  });
});
