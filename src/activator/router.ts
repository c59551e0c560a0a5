import { keyString, type RevisionKey } from '../metrics/revisionKey.js';
import { type PeerView, UNKNOWN_PEERS, validPeerView } from './peers.js';
import { type Endpoint, type EndpointAddress, Target } from './target.js';

/** One routed Deployment as a route source describes it: which hosts (and path) reach it, and its limit. */
export interface TargetConfig {
  key: RevisionKey;
  hosts: readonly string[];
  /** "/" routes every path; "/api" routes /api and /api/… but not /apiary (Kubernetes Ingress `Prefix` matching). */
  pathPrefix: string;
  containerConcurrency: number;
}

/** Two targets claimed the same host and path; the first one (in the source's order) keeps it. */
export interface RouteConflict {
  host: string;
  pathPrefix: string;
  winner: RevisionKey;
  loser: RevisionKey;
}

export interface RouterOptions {
  /** The most requests waiting per target (default 10,000). */
  maxHeld: number;
}

export const DEFAULT_MAX_HELD = 10_000;

interface PrefixRoute {
  pathPrefix: string;
  target: Target;
}

/**
 * The host in a Host header as routes name it: lower case, no port, no
 * trailing dot ("Hello.Example.com.:8080" → "hello.example.com"). IPv6
 * literals keep their brackets.
 */
export function normalizeHost(header: string): string {
  let host = header.trim().toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.indexOf(':');
  if (colon !== -1) host = host.slice(0, colon);
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host;
}

/** Whether `path` (no query) is under `prefix`, element by element as Kubernetes Ingress `Prefix` paths match. */
export function underPrefix(path: string, prefix: string): boolean {
  if (prefix === '/') return true;
  const p = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  return path === p || (path.startsWith(p) && path.charCodeAt(p.length) === 47 /* '/' */);
}

/**
 * Every routed target and the host/path table in front of them. A route
 * source (the routes file, or the Kubernetes informers) says what exists;
 * the proxy asks which target a request is for. Pure.
 */
export class RequestRouter {
  private readonly targets = new Map<string, Target>();
  /** host → its routes, longest path prefix first. */
  private table = new Map<string, PrefixRoute[]>();
  private view: PeerView = UNKNOWN_PEERS;

  constructor(private readonly options: RouterOptions, private readonly now: () => number) {}

  get size(): number {
    return this.targets.size;
  }

  all(): IterableIterator<Target> {
    return this.targets.values();
  }

  /** Where this activator stands among its replicas: every target, new ones too, uses its share of endpoints by it. */
  get peers(): PeerView {
    return this.view;
  }

  /**
   * This activator is `selfIndex` (-1: unknown, every endpoint is used) of
   * `count` replicas. Each target with a containerConcurrency limit then uses
   * only its slice of its ready endpoints (Knative's assignSlice), so that the
   * replicas together never put more than the limit on an endpoint.
   */
  setPeers(selfIndex: number, count: number): void {
    const view = { selfIndex, count };
    if (!validPeerView(view)) throw new RangeError(`peer index ${selfIndex} of ${count} activators: want -1 (unknown) or 0 ≤ index < count`);
    this.view = view;
    for (const t of this.targets.values()) t.setPeers(selfIndex, count);
  }

  get(key: RevisionKey): Target | undefined {
    return this.targets.get(keyString(key));
  }

  /**
   * Makes `configs` the routed targets. Existing targets keep their
   * endpoints, queue and load; targets no longer listed are returned, so the
   * requests still waiting for them can be answered.
   */
  configure(configs: readonly TargetConfig[]): { removed: Target[]; conflicts: RouteConflict[] } {
    const keep = new Map<string, Target>();
    for (const c of configs) {
      const k = keyString(c.key);
      if (keep.has(k)) continue;
      const spec = { key: { namespace: c.key.namespace, name: c.key.name }, containerConcurrency: c.containerConcurrency, maxHeld: this.options.maxHeld };
      const existing = this.targets.get(k);
      if (existing) existing.update(spec);
      let target = existing;
      if (!target) {
        target = new Target(spec, this.now());
        target.setPeers(this.view.selfIndex, this.view.count);
      }
      keep.set(k, target);
    }
    const removed = [...this.targets].filter(([k]) => !keep.has(k)).map(([, t]) => t);
    this.targets.clear();
    for (const [k, t] of keep) this.targets.set(k, t);

    const table = new Map<string, PrefixRoute[]>();
    const conflicts: RouteConflict[] = [];
    for (const c of configs) {
      const target = this.targets.get(keyString(c.key))!;
      for (const raw of c.hosts) {
        const host = normalizeHost(raw);
        const routes = table.get(host) ?? [];
        const taken = routes.find((r) => r.pathPrefix === c.pathPrefix);
        if (taken) {
          if (taken.target !== target) conflicts.push({ host, pathPrefix: c.pathPrefix, winner: taken.target.key, loser: target.key });
          continue;
        }
        routes.push({ pathPrefix: c.pathPrefix, target });
        table.set(host, routes);
      }
    }
    for (const routes of table.values()) routes.sort((a, b) => b.pathPrefix.length - a.pathPrefix.length);
    this.table = table;
    return { removed, conflicts };
  }

  /** The target's endpoints; returns the ones that left (their idle connections can go). */
  setEndpoints(key: RevisionKey, addresses: readonly EndpointAddress[]): Endpoint[] {
    return this.targets.get(keyString(key))?.setEndpoints(addresses) ?? [];
  }

  /** The target for a request's Host header and path (the query, if any, is ignored). */
  match(hostHeader: string, url: string): Target | undefined {
    const routes = this.table.get(normalizeHost(hostHeader));
    if (!routes) return undefined;
    if (routes.length === 1 && routes[0].pathPrefix === '/') return routes[0].target;
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    for (const r of routes) if (underPrefix(path, r.pathPrefix)) return r.target;
    return undefined;
  }
}
