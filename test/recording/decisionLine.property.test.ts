import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ScaleResult } from '../../src/decider/decider.js';
import { DecisionLines } from '../../src/recording/decisionLine.js';
import type { RevisionKey } from '../../src/metrics/revisionKey.js';

/** The output line as recording.md gives it, built the plain way: DecisionLines must write exactly these bytes. */
function reference(t: number, key: RevisionKey, result: ScaleResult): string {
  const head = `{"t":${t},"namespace":${JSON.stringify(key.namespace)},"name":${JSON.stringify(key.name)},"valid":`;
  if (!result.valid) return `${head}false}\n`;
  return `${head}true,"desiredPodCount":${result.desiredPodCount},"excessBurstCapacity":${result.excessBurstCapacity},`
    + `"panic":${result.panic},"stableValue":${result.stableValue},"panicValue":${result.panicValue}}\n`;
}

const finite = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: -2_000_000_000, max: 2_000_000_000 }),
  fc.constantFrom(0, -0, 1e21, -1e21, 2 ** 53, 2 ** 53 - 1, -(2 ** 53) + 1, 1_700_000_000.25, 1e-7, 0.1, 123456789012345680000),
);
const int32 = fc.oneof(fc.integer({ min: -2147483648, max: 2147483647 }), fc.constantFrom(0, -0, -1, 1));
const name = fc.oneof(fc.constantFrom('default', 'rev-001', 'a/b'), fc.string({ maxLength: 10 }), fc.string({ unit: 'grapheme', maxLength: 5 }));
const result: fc.Arbitrary<ScaleResult> = fc.oneof(
  fc.constantFrom<ScaleResult>({ valid: false, reason: 'no-data' }, { valid: false, reason: 'out-of-range' }),
  fc.record({
    desiredPodCount: int32, excessBurstCapacity: int32, panic: fc.boolean(), stableValue: finite, panicValue: finite,
  }).map((r) => ({
    valid: true as const, ...r, readyPods: 1, stablePodsWanted: 0, panicPodsWanted: 0, maxScaleUp: 1, maxScaleDown: 0, delayedFrom: null,
  })),
);
const line = fc.record({ t: finite, key: fc.record({ namespace: name, name }), result });

function written(lines: DecisionLines): string {
  return Buffer.concat(lines.take()).toString('utf8');
}

describe('DecisionLines writes the lines of recording.md byte for byte', () => {
  it('for any decision, key and time', () => {
    fc.assert(fc.property(fc.array(line, { maxLength: 50 }), (all) => {
      const out = new DecisionLines();
      for (const l of all) out.add(l.t, l.key, l.result);
      expect(written(out)).toBe(all.map((l) => reference(l.t, l.key, l.result)).join(''));
    }), { numRuns: 2000 });
  });

  it('across pieces, and for a key longer than a piece', () => {
    const out = new DecisionLines();
    const expected: string[] = [];
    const decision: ScaleResult = {
      valid: true, desiredPodCount: 3, excessBurstCapacity: -120, panic: true, stableValue: 14.5, panicValue: 20.25,
      readyPods: 3, stablePodsWanted: 2, panicPodsWanted: 3, maxScaleUp: 30, maxScaleDown: 1, delayedFrom: null,
    };
    const keys = [{ namespace: 'default', name: 'hello-00001' }, { namespace: 'ns', name: `é${'x'.repeat(100_000)}` }];
    for (let i = 0; i < 3000; i++) {
      const key = keys[i % 1000 === 999 ? 1 : 0];
      out.add(1_700_000_000 + i, key, decision);
      expected.push(reference(1_700_000_000 + i, key, decision));
      if (i % 700 === 0) expect(out.full).toBe(i > 0);
    }
    const pieces = out.take();
    expect(pieces.length).toBeGreaterThan(3);
    expect(Buffer.concat(pieces).toString('utf8')).toBe(expected.join(''));
    expect(out.take()).toEqual([]);
  });
});
