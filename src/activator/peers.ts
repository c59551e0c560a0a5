import type { V1EndpointSlice } from '@kubernetes/client-node';
import { readySlices } from './endpointSlices.js';

/**
 * Where this activator stands among the activator replicas that share the
 * request path, as Knative's throttler keeps it (`numActivators`,
 * `activatorIndex`): its index in their addresses sorted, and how many there
 * are. `selfIndex` -1 means unknown (not among its Service's ready endpoints
 * yet, or a static setup without --peers): the activator then uses every
 * endpoint, as Knative assigns all pod trackers until it knows its index.
 * `count` 0 means nothing is known about the peers at all.
 */
export interface PeerView {
  selfIndex: number;
  count: number;
}

export const UNKNOWN_PEERS: PeerView = Object.freeze({ selfIndex: -1, count: 0 });

/** Whether `v` is a view setPeers accepts: index -1 (unknown) with any count, or 0 ≤ index < count. */
export function validPeerView(v: PeerView): boolean {
  return Number.isInteger(v.selfIndex) && Number.isInteger(v.count) && v.count >= 0 &&
    (v.selfIndex === -1 || (v.selfIndex >= 0 && v.selfIndex < v.count));
}

export function samePeers(a: PeerView, b: PeerView): boolean {
  return a.selfIndex === b.selfIndex && a.count === b.count;
}

/** Code-unit order, the same on every replica whatever its locale (Knative sorts with Go's string `<`). */
export function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The slice of `endpointCount` sorted endpoints that activator `selfIndex` of
 * `activatorCount` takes, as Knative's `pickIndices`: `[begin, end)` plus how
 * many endpoints are left over at the end of the list (`remnants`). With
 * fewer endpoints than activators each activator takes one, round robin
 * (`selfIndex % endpointCount`), and some endpoints serve several activators.
 */
export function pickIndices(endpointCount: number, selfIndex: number, activatorCount: number): { begin: number; end: number; remnants: number } {
  if (activatorCount > endpointCount) {
    const begin = selfIndex % endpointCount;
    return { begin, end: begin + 1, remnants: 0 };
  }
  const size = Math.floor(endpointCount / activatorCount);
  const begin = selfIndex * size;
  return { begin, end: begin + size, remnants: endpointCount % activatorCount };
}

/**
 * This activator's share of a target's ready endpoints (`sorted` by
 * endpoint id, the same order on every replica), as Knative's `assignSlice`:
 * everything while its index is unknown, with a single endpoint or with a
 * single activator; otherwise an equal slice, and the remnants (the last
 * `endpointCount % activatorCount` endpoints) one each to the first
 * activators, so that with at least as many endpoints as activators the
 * shares are disjoint and cover every endpoint.
 *
 * With fewer endpoints than activators (and always with one endpoint) some
 * endpoints are in several activators' shares, so containerConcurrency is a
 * limit per activator there, as in Knative: up to (activators sharing it) ×
 * cc requests can reach such an endpoint. Knative accepts it because the
 * queue-proxy in the pod enforces cc again; a plain Deployment has none.
 */
export function assignSlice<T>(sorted: readonly T[], selfIndex: number, activatorCount: number): T[] {
  const n = sorted.length;
  if (selfIndex === -1 || n <= 1 || activatorCount <= 1) return [...sorted];
  const { begin, end, remnants } = pickIndices(n, selfIndex, activatorCount);
  const mine = sorted.slice(begin, end);
  // Knative: "If the number of pods is not divisible by the number of activators, we allocate one pod to each
  // activator exclusively" — the tail's i-th endpoint goes to activator i.
  if (remnants > 0 && selfIndex < remnants) mine.push(sorted[n - remnants + selfIndex]);
  return mine;
}

/**
 * The activator's peers from its own Service's EndpointSlices (Knative's
 * activator reads its public Service's Endpoints): the ready addresses of the
 * pod IP's address family (a dual-stack Service lists each pod once per
 * family), sorted, and this pod's index among them (Knative's `inferIndex`),
 * -1 when its IP is not listed (not Ready yet, or draining).
 */
export function peersFromEndpointSlices(slices: readonly V1EndpointSlice[], serviceName: string, podIP: string | undefined): PeerView & { addresses: string[] } {
  const family = podIP?.includes(':') ? 'IPv6' : 'IPv4';
  const addresses = new Set<string>();
  for (const s of readySlices(slices, serviceName, family)) for (const a of s.addresses) addresses.add(a);
  const sorted = [...addresses].sort(byCodeUnits);
  return { addresses: sorted, count: sorted.length, selfIndex: podIP === undefined ? -1 : sorted.indexOf(podIP) };
}

/**
 * The view to use after the activator Service's endpoints changed. As
 * Knative's `handlePubEpsUpdate`, an update that does not list this
 * activator is ignored once it has had an index: a draining replica (its
 * pod terminating, no longer Ready) keeps the share it had for the requests
 * it still gets, rather than taking every endpoint. Before it is first
 * listed, it counts its peers but its index stays unknown.
 */
export function nextPeerView(previous: PeerView, observed: PeerView): PeerView {
  if (observed.selfIndex === -1 && previous.selfIndex !== -1) return previous;
  return { selfIndex: observed.selfIndex, count: observed.count };
}
