import type { MetricSpec } from '../config/resolve.js';
import { Collection, NOT_COLLECTING, type WindowValues } from './collection.js';
import { keyString, type RevisionKey } from './revisionKey.js';
import type { Stat } from './stat.js';

/** What the decider reads (Knative's MetricClient): window averages per revision. */
export interface MetricClient {
  stableAndPanicConcurrency(key: RevisionKey, now: number): WindowValues;
  stableAndPanicRps(key: RevisionKey, now: number): WindowValues;
}

/**
 * The windows of every revision (Knative's MetricCollector, without the scrape
 * loop: scraping is an adapter that calls `record`).
 */
export class MetricCollector implements MetricClient {
  private readonly collections = new Map<string, Collection>();

  /** Creates a revision's windows, or applies a new spec to existing ones. */
  createOrUpdate(key: RevisionKey, spec: MetricSpec, now: number): void {
    const k = keyString(key);
    const existing = this.collections.get(k);
    if (existing) existing.update(spec, now);
    else this.collections.set(k, new Collection(spec));
  }

  delete(key: RevisionKey): void {
    this.collections.delete(keyString(key));
  }

  has(key: RevisionKey): boolean {
    return this.collections.has(keyString(key));
  }

  get(key: RevisionKey): Collection | undefined {
    return this.collections.get(keyString(key));
  }

  /** Records a stat for a revision; stats for revisions not collected are dropped, as in Knative. */
  record(key: RevisionKey, now: number, stat: Stat): boolean {
    const c = this.collections.get(keyString(key));
    if (!c) return false;
    c.record(now, stat);
    return true;
  }

  stableAndPanicConcurrency(key: RevisionKey, now: number): WindowValues {
    return this.collections.get(keyString(key))?.stableAndPanicConcurrency(now) ?? NOT_COLLECTING;
  }

  stableAndPanicRps(key: RevisionKey, now: number): WindowValues {
    return this.collections.get(keyString(key))?.stableAndPanicRps(now) ?? NOT_COLLECTING;
  }
}
