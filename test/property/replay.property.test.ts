import { PassThrough, Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { replayStream } from '../../src/recording/replayStream.js';

const A = (k: string) => `autoscaling.knative.dev/${k}`;
/** Stat values an attacker or a broken pod would send, huge finite ones included. */
const value = fc.oneof(fc.double({ min: 0, max: 1e6, noNaN: true }), fc.constantFrom(0, 1e20, 1e300, 1e308, Number.MAX_VALUE, 5e-324));
const event = fc.oneof(
  fc.record({ kind: fc.constant('stat' as const), c: value, r: value, dt: fc.constantFrom(0, 0, 1, 2) }),
  fc.record({ kind: fc.constant('tick' as const), dt: fc.constantFrom(0, 1, 2) }),
  fc.record({ kind: fc.constant('ready' as const), ready: fc.integer({ min: 0, max: 5000 }), dt: fc.constant(0) }),
);
const annotations = fc.constantFrom(
  {}, { [A('metric')]: 'rps', [A('target')]: '0.01' }, { [A('metric-aggregation-algorithm')]: 'weighted-exponential' },
  { [A('max-scale-up-rate')]: '1000' },
);

async function replay(lines: string[]): Promise<string[]> {
  const out = new PassThrough();
  const chunks: string[] = [];
  out.on('data', (c: Buffer) => chunks.push(c.toString()));
  await replayStream(Readable.from([lines.join('')]), out);
  return chunks.join('').split('\n').filter(Boolean);
}

describe('kpa replay under hostile recordings', () => {
  // fast-check's counterexample (seed 242146114): 1e300 and 1e20 in one window; when the 1e300 leaves,
  // the running sum that lost the 1e20 reads −2.5e19, as Knative's windowTotal does. The desired count
  // stays a valid, bounded number: the rate limits clamp it, as in Knative.
  it('a window that lost precision reads below zero as Knative\'s does, and the desired count stays bounded', async () => {
    let t = 1_700_000_000;
    const line = (o: object) => `${JSON.stringify({ t, namespace: 'ns', name: 'r', ...o })}\n`;
    const lines = [line({ type: 'revision', config: { 'max-scale-up-rate': '1000' }, annotations: {}, ready: 3 })];
    const stat = (c: number) => line({ type: 'stat', stat: { podName: 'p', averageConcurrentRequests: c, requestCount: 0 } });
    lines.push(stat(1e300));
    t += 1;
    lines.push(stat(0), stat(1e20));
    t += 2;
    lines.push(line({ type: 'tick' }));
    t += 2;
    lines.push(stat(0));
    t += 2;
    lines.push(line({ type: 'tick' }));
    const out = (await replay(lines)).map((l) => JSON.parse(l) as { valid: boolean; desiredPodCount: number; panicValue: number });
    expect(out.map((d) => [d.valid, d.desiredPodCount])).toEqual([[true, 3000], [true, 3000]]);
    expect(out[1].panicValue).toBe(-25000000000000000000);
  });

  it('every line it prints is JSON, and no decision it calls valid is negative or non-finite', async () => {
    await fc.assert(fc.asyncProperty(annotations, fc.array(event, { minLength: 1, maxLength: 80 }), async (anns, events) => {
      let t = 1_700_000_000;
      const lines = [`${JSON.stringify({ type: 'revision', t, namespace: 'ns', name: 'r', config: { 'max-scale-up-rate': '1000' }, annotations: anns, ready: 3 })}\n`];
      for (const e of events) {
        t += e.dt;
        const base = { t, namespace: 'ns', name: 'r' };
        if (e.kind === 'stat') {
          lines.push(`${JSON.stringify({ type: 'stat', ...base, stat: { podName: 'p', averageConcurrentRequests: e.c, requestCount: e.r } })}\n`);
        } else if (e.kind === 'tick') lines.push(`${JSON.stringify({ type: 'tick', ...base })}\n`);
        else lines.push(`${JSON.stringify({ type: 'ready', ...base, ready: e.ready })}\n`);
      }
      for (const line of await replay(lines)) {
        const d = JSON.parse(line) as { valid: boolean; desiredPodCount?: number; excessBurstCapacity?: number; stableValue?: number; panicValue?: number };
        if (!d.valid) continue;
        expect(Number.isInteger(d.desiredPodCount) && d.desiredPodCount! >= 0).toBe(true);
        // Window values only finite: a window's running sum that held a huge value can read below zero
        // once it leaves (1e300 + 1e20 − 1e300), exactly as Knative's does, and replay reproduces Knative.
        expect(Number.isFinite(d.stableValue)).toBe(true);
        expect(Number.isFinite(d.panicValue)).toBe(true);
        expect(Number.isInteger(d.excessBurstCapacity)).toBe(true);
      }
    }), { numRuns: 400 });
  });
});
