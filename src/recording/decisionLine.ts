import type { RevisionKey } from '../metrics/revisionKey.js';
import type { ScaleResult } from '../decider/decider.js';

/** One output line of `kpa replay` (recording.md, "Output"), without the newline. */
export function decisionLine(t: number, key: RevisionKey, result: ScaleResult): string {
  const head = `{"t":${t},"namespace":${JSON.stringify(key.namespace)},"name":${JSON.stringify(key.name)},"valid":`;
  if (!result.valid) return `${head}false}`;
  return `${head}true,"desiredPodCount":${result.desiredPodCount},"excessBurstCapacity":${result.excessBurstCapacity},`
    + `"panic":${result.panic},"stableValue":${result.stableValue},"panicValue":${result.panicValue}}`;
}
