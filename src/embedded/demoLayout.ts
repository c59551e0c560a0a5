import { scaleBounds } from '../config/resolve.js';
import { resolveRevision } from '../config/revisionConfig.js';
import type { RevisionKey } from '../metrics/revisionKey.js';
import type { Scenario, SimRevision } from '../sim/scenario.js';

/**
 * How a demo revision's requests reach its pods:
 * - `activator`: through kpa activator (by Host header), which holds them
 *   while no pod is ready and reports the revision's load to kpa; the pods
 *   are not scraped (metrics source activator), so it can scale to zero;
 * - `direct`: straight to a ready pod, as an ingress sends them when no
 *   activator is in the path; each pod serves queue-proxy's stats and kpa
 *   scrapes them, as in Knative. Nothing can bring it back from zero, so it
 *   never goes there.
 */
export type RequestPath = 'activator' | 'direct';

/** One revision of the demo cluster: what it runs and how requests reach it. */
export interface DemoRevisionPlan {
  revision: SimRevision;
  key: RevisionKey;
  path: RequestPath;
  /** Pods the revision may have at once: each has a port of its own, reserved at start. */
  slots: number;
  /** The Host header that routes to it through the activator (also sent on direct requests). */
  host: string;
}

/** Slots of a revision without max-scale (a scenario file may have none). */
export const DEFAULT_SLOTS = 50;
/**
 * The most slots a revision gets, whatever its max-scale: every pod is an
 * HTTP server in this one process and the activator probes every slot twice
 * a second, so a max-scale of 1,000 must not mean 1,000 servers.
 */
export const MAX_SLOTS = 100;

/** The demo's host name for a revision: `NAME.demo.localhost`, the namespace added when it is not "default". */
export function demoHost(key: RevisionKey): string {
  const label = (s: string): string => s.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63) || 'x';
  return key.namespace === 'default' ? `${label(key.name)}.demo.localhost` : `${label(key.name)}.${label(key.namespace)}.demo.localhost`;
}

/** A revision's slots: its max-scale (annotation or config), else DEFAULT_SLOTS; at most MAX_SLOTS. */
export function slotCount(revision: SimRevision): number {
  const { config, revision: spec } = resolveRevision(revision.settings);
  const { max } = scaleBounds(spec, config);
  return Math.min(max > 0 ? max : DEFAULT_SLOTS, MAX_SLOTS);
}

/**
 * The demo cluster's revisions: those named in `direct` are reached
 * directly and scraped, every other one goes through the activator.
 */
export function planRevisions(scenario: Scenario, direct: ReadonlySet<string> = new Set()): DemoRevisionPlan[] {
  return scenario.revisions.map((revision) => {
    const key = { namespace: revision.namespace, name: revision.name };
    return { revision, key, path: direct.has(revision.name) ? 'direct' : 'activator', slots: slotCount(revision), host: demoHost(key) };
  });
}
