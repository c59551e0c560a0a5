import { connect } from 'node:net';
import type { RouteSource, RouteUpdates } from './activator.js';
import type { PeerView } from './peers.js';
import type { StaticRoute } from './routesFile.js';
import type { Endpoint, Target } from './target.js';

export interface StaticRoutesOptions {
  /** How often each endpoint is probed (default 500 ms). */
  intervalMs?: number;
  /** How long a probe's connect may take (default 400 ms). */
  timeoutMs?: number;
  /**
   * This activator's place among the replicas in front of the same endpoints (--peers N
   * --peer-index I). Without it the peers are unknown and every endpoint is used, so with
   * several replicas containerConcurrency holds per replica only. Each replica's prober decides
   * readiness on its own, and shares are cut from the ready endpoints (as Knative's throttler
   * cuts them from the pods its own prober found healthy): while two replicas disagree about an
   * endpoint (one saw a connect fail, the other has not probed yet) their shares can overlap,
   * for up to a probe interval.
   */
  peers?: PeerView;
}

/**
 * The route source of `kpa activator --routes`: the file's targets, each
 * endpoint ready while a TCP connect to it succeeds. Every endpoint is
 * probed every 500 ms, so a pod that starts listening takes the requests
 * held for it within half a second, and one that stops is out as soon as a
 * connect to it fails (the proxy reports those at once).
 */
export class StaticRoutes implements RouteSource {
  private timer: NodeJS.Timeout | null = null;
  /** Probes still running, so a hung endpoint is never probed twice at once. */
  private readonly probing = new Set<string>();
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly peers: PeerView | undefined;
  private stopped = false;
  private started = false;

  constructor(private readonly targets: readonly StaticRoute[], private readonly updates: RouteUpdates, o: StaticRoutesOptions = {}) {
    this.intervalMs = o.intervalMs ?? 500;
    this.timeoutMs = o.timeoutMs ?? 400;
    this.peers = o.peers;
  }

  synced(): boolean {
    return this.started;
  }

  /** Configures the router (every endpoint not ready yet) and resolves after the first round of probes. */
  async start(): Promise<void> {
    const { router } = this.updates;
    // Before the targets exist, so that none ever uses more than its share.
    if (this.peers) this.updates.peers(this.peers);
    this.updates.conflicts(router.configure(this.targets).conflicts);
    for (const t of this.targets) router.setEndpoints(t.key, t.endpoints.map((e) => ({ ...e, ready: false })));
    await this.probeAll();
    this.started = true;
    const tick = (): void => {
      this.timer = setTimeout(() => {
        void this.probeAll();
        if (!this.stopped) tick();
      }, this.intervalMs);
    };
    tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** A connect from the proxy failed: the endpoint is out until a probe reaches it again. */
  connectFailed(target: Target, endpoint: Endpoint): void {
    target.setReady(endpoint, false);
  }

  private async probeAll(): Promise<void> {
    const byId = new Map<string, { target: Target; endpoint: Endpoint }[]>();
    for (const target of this.updates.router.all()) {
      for (const endpoint of target.endpoints) {
        const list = byId.get(endpoint.id) ?? [];
        list.push({ target, endpoint });
        byId.set(endpoint.id, list);
      }
    }
    await Promise.all([...byId].map(async ([id, uses]) => {
      if (this.probing.has(id)) return;
      this.probing.add(id);
      const ok = await this.probe(uses[0].endpoint);
      this.probing.delete(id);
      if (this.stopped) return;
      for (const { target, endpoint } of uses) target.setReady(endpoint, ok);
    }));
  }

  private probe(address: { host: string; port: number }): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = connect({ host: address.host, port: address.port });
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        socket.destroy();
        resolve(ok);
      };
      const timer = setTimeout(() => done(false), this.timeoutMs);
      socket.once('connect', () => done(true));
      socket.once('error', () => done(false));
    });
  }
}
