import type { RevisionSnapshot } from './autoscalerService.js';

/** What `/api/revisions?filter=` selects. */
export const REVISION_FILTERS = ['panicking', 'scaling', 'zero', 'erroring'] as const;
export type RevisionFilter = (typeof REVISION_FILTERS)[number];

/** `name`: by namespace, then name (stable, as Kubernetes lists). `activity`: most recently changed first, then most load. */
export const REVISION_SORTS = ['activity', 'name'] as const;
export type RevisionSort = (typeof REVISION_SORTS)[number];

export interface RevisionQuery {
  /** A substring of `namespace/name` (case-insensitive). */
  q: string;
  filter: RevisionFilter | null;
  sort: RevisionSort;
}

/** In panic after its latest decision. */
function panicking(s: RevisionSnapshot): boolean {
  return s.latest !== null && s.latest.result.valid && s.latest.result.panic;
}

/**
 * Moving, or about to: where a mode applies decisions, the scaler wants other
 * than the replicas it has, or the replicas are not all ready yet; where
 * decisions are only served (--targets), the decider wants other than ready.
 * (The decider's own count is before min/max bounds, so a mode's view wins.)
 */
function scaling(s: RevisionSnapshot): boolean {
  if (s.scale) return s.scale.wantReplicas >= 0 && (s.scale.wantReplicas !== s.scale.currentReplicas || s.scale.currentReplicas !== s.readyPods);
  return s.desiredScale >= 0 && s.desiredScale !== s.readyPods;
}

/** No ready pods, and none on their way where a mode applies decisions. */
function atZero(s: RevisionSnapshot): boolean {
  return s.readyPods === 0 && (s.scale === null || s.scale.currentReplicas === 0);
}

/**
 * Its latest decision is no decision, for a reason other than a revision at
 * rest: out of range, or no data while it has ready pods (their scrapes or
 * the activator's reports are failing). "No data" at zero is normal and not
 * an error, or every idle revision would be listed.
 */
function erroring(s: RevisionSnapshot): boolean {
  const latest = s.latest?.result;
  return latest !== undefined && !latest.valid && (latest.reason !== 'no-data' || s.readyPods > 0);
}

const FILTERS: Record<RevisionFilter, (s: RevisionSnapshot) => boolean> = { panicking, scaling, zero: atZero, erroring };

export function matches(s: RevisionSnapshot, query: RevisionQuery): boolean {
  if (query.filter !== null && !FILTERS[query.filter](s)) return false;
  return query.q === '' || `${s.namespace}/${s.name}`.toLowerCase().includes(query.q.toLowerCase());
}

/**
 * A revision's load in pods' worth: its scaling metric's larger window value
 * over the per-pod target, so revisions with different targets compare.
 * Finite always (a continue token holds it as JSON).
 */
export function load(s: RevisionSnapshot): number {
  const w = s.spec.scalingMetric === 'rps' ? s.rps : s.concurrency;
  if (!w.ok) return 0;
  const value = Math.max(w.stable, w.panic) / (s.spec.targetValue > 0 ? s.spec.targetValue : 1);
  if (Number.isNaN(value)) return 0;
  return Math.min(Math.max(value, -Number.MAX_VALUE), Number.MAX_VALUE);
}

/** Where a page ended, in the sort's own terms: the next page starts strictly after it. */
type Position = [changedAt: number, load: number, namespace: string, name: string] | [namespace: string, name: string];

function position(s: RevisionSnapshot, sort: RevisionSort): Position {
  return sort === 'activity' ? [s.changedAt, load(s), s.namespace, s.name] : [s.namespace, s.name];
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function comparePositions(a: Position, b: Position): number {
  // Both positions come from one sort (a token of another sort is refused before).
  if (a.length === 4 && b.length === 4) {
    return b[0] - a[0] || b[1] - a[1] || compareStrings(a[2], b[2]) || compareStrings(a[3], b[3]);
  }
  return compareStrings(String(a[0]), String(b[0])) || compareStrings(String(a[1]), String(b[1]));
}

/** The revisions that match, in the query's order. */
export function select(snapshots: readonly RevisionSnapshot[], query: RevisionQuery): RevisionSnapshot[] {
  const keyed = snapshots.filter((s) => matches(s, query)).map((s) => ({ s, at: position(s, query.sort) }));
  keyed.sort((a, b) => comparePositions(a.at, b.at));
  return keyed.map((k) => k.s);
}

export interface RevisionPage {
  revisions: RevisionSnapshot[];
  /** Pass as `continue` for the next page; null on the last. */
  continue: string | null;
  /** How many revisions match the query. */
  total: number;
}

/** A continue token that is not one of ours, or was issued for another query. */
export class ContinueTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContinueTokenError';
  }
}

interface Token {
  q: string;
  filter: RevisionFilter | null;
  sort: RevisionSort;
  after: Position;
}

function encodeToken(token: Token): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodeToken(text: string, query: RevisionQuery): Position {
  let token: unknown;
  try {
    token = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw new ContinueTokenError('is not a continue token of this API');
  }
  if (!isToken(token)) throw new ContinueTokenError('is not a continue token of this API');
  // As Kubernetes: a continuation belongs to the query that issued it (only limit may change).
  if (token.q !== query.q || token.filter !== query.filter || token.sort !== query.sort) {
    throw new ContinueTokenError('was issued for another q, filter or sort: start again without it');
  }
  return token.after;
}

function isToken(t: unknown): t is Token {
  if (typeof t !== 'object' || t === null) return false;
  const o = t as Record<string, unknown>;
  if (typeof o.q !== 'string' || !(o.filter === null || REVISION_FILTERS.includes(o.filter as RevisionFilter))) return false;
  if (!REVISION_SORTS.includes(o.sort as RevisionSort) || !Array.isArray(o.after)) return false;
  const after = o.after as unknown[];
  if (o.sort === 'activity') {
    return after.length === 4 && typeof after[0] === 'number' && typeof after[1] === 'number' && typeof after[2] === 'string' && typeof after[3] === 'string';
  }
  return after.length === 2 && typeof after[0] === 'string' && typeof after[1] === 'string';
}

/**
 * One page of the selected revisions. The continue token holds where the
 * page ended (not an offset), so revisions added or removed meanwhile do not
 * shift the next page; under `activity`, a revision that changes between two
 * pages moves to the front and is not listed again by the later one.
 */
export function page(selected: readonly RevisionSnapshot[], query: RevisionQuery, limit: number, continueToken?: string): RevisionPage {
  let start = 0;
  if (continueToken) {
    const after = decodeToken(continueToken, query);
    // The first revision strictly after the position (binary search: `selected` is in the query's order).
    let lo = 0;
    let hi = selected.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (comparePositions(position(selected[mid], query.sort), after) <= 0) lo = mid + 1;
      else hi = mid;
    }
    start = lo;
  }
  const revisions = selected.slice(start, start + limit);
  const last = revisions.at(-1);
  const more = start + limit < selected.length;
  return {
    revisions,
    continue: more && last ? encodeToken({ q: query.q, filter: query.filter, sort: query.sort, after: position(last, query.sort) }) : null,
    total: selected.length,
  };
}
