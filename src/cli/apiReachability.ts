import type { KubeConfig } from '@kubernetes/client-node';
import { statusOf } from '../k8s/retry.js';

/** What /readyz says in Kubernetes mode while not ready, and why. */
export interface ApiReadiness {
  ready: boolean;
  reason?: string;
}

interface Failure {
  call: string;
  at: number;
  message: string;
}

/** `listNamespacedPod`, `listPodForAllNamespaces` → `pods`, for the reason text. */
function listedKind(method: string): string {
  const kind = /^list(?:Namespaced)?(\w+?)(?:ForAllNamespaces)?$/.exec(method)?.[1] ?? method;
  const lower = kind.toLowerCase();
  return lower.endsWith('s') ? lower : `${lower}s`;
}

/**
 * Whether the API server answers, learnt from the calls kpa makes anyway:
 * every API client made from the kubeConfig it returns (the informers'
 * lists, the scale patches, the elector's lease calls every 2 s) reports to
 * it. An answer of any status counts as reachable; no answer (a refused or
 * reset connection, a timeout) or a 5xx does not. The informers' watches are
 * not seen, but a failed watch is followed by a fresh list, which is.
 *
 * Nothing under src/k8s exposes whether the informers have synced, so "synced"
 * here is "every kind listed so far has had a successful list".
 */
export class ApiReachability {
  /** List calls by kind: whether one has succeeded yet. */
  private readonly listed = new Map<string, boolean>();
  private lastListFailure: Failure | null = null;
  /** The latest call without an answer (or with a 5xx), while no call since has been answered. */
  private unreachable: Failure | null = null;

  constructor(private readonly now: () => number = () => Date.now() / 1000) {}

  /** A KubeConfig whose API clients report to this tracker; everything else is the original's. */
  watch(kubeConfig: KubeConfig): KubeConfig {
    const wrapped = Object.create(kubeConfig) as KubeConfig;
    wrapped.makeApiClient = ((apiClientType: never) => this.client(kubeConfig.makeApiClient(apiClientType) as object)) as KubeConfig['makeApiClient'];
    return wrapped;
  }

  private client<T extends object>(api: T): T {
    return new Proxy(api, {
      get: (target, property, receiver) => {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof value !== 'function' || typeof property !== 'string') return value;
        return (...args: unknown[]) => {
          const result = (value as (...a: unknown[]) => unknown).apply(target, args);
          if (result instanceof Promise) {
            result.then(() => this.answered(property, undefined), (err: unknown) => this.answered(property, err));
          }
          return result;
        };
      },
    });
  }

  private answered(call: string, err: unknown): void {
    const status = err === undefined ? 200 : statusOf(err);
    const isList = call.startsWith('list');
    if (isList) {
      const kind = listedKind(call);
      if (err === undefined) this.listed.set(kind, true);
      else {
        if (!this.listed.has(kind)) this.listed.set(kind, false);
        this.lastListFailure = { call: `${kind} list`, at: this.now(), message: describe(err, status) };
      }
    }
    if (status === undefined || status >= 500) this.unreachable = { call: isList ? `${listedKind(call)} list` : call, at: this.now(), message: describe(err, status) };
    else this.unreachable = null;
  }

  /** Ready as far as the API server goes; the reason when not. */
  readiness(): ApiReadiness {
    if (this.unreachable) {
      const ago = Math.max(0, Math.round(this.now() - this.unreachable.at));
      return { ready: false, reason: `API server unreachable: the last request (${this.unreachable.call}, ${ago} s ago) failed: ${this.unreachable.message}` };
    }
    const waiting = [...this.listed].filter(([, ok]) => !ok).map(([kind]) => kind);
    if (this.listed.size === 0 || waiting.length > 0) {
      const which = waiting.length ? `the first ${waiting.join(', ')} list` : 'the first lists';
      const last = this.lastListFailure ? `; the last failed: ${this.lastListFailure.call}: ${this.lastListFailure.message}` : '';
      return { ready: false, reason: `informers have not synced: waiting for ${which}${last}` };
    }
    return { ready: true };
  }
}

function describe(err: unknown, status: number | undefined): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } } | undefined;
  const cause = e?.cause?.code ?? e?.cause?.message;
  const text = (e?.message ?? String(err)).split('\n')[0].slice(0, 200);
  return `${status === undefined ? '' : `HTTP ${status}: `}${text}${cause && !text.includes(cause) ? ` (${cause})` : ''}`;
}
