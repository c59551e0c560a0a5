import type { KubernetesObject } from '@kubernetes/client-node';
import type { ConflictKind } from './k8sMetrics.js';

/** Another controller that scales a Deployment: an HPA, or a KEDA ScaledObject. */
export interface OtherController {
  kind: ConflictKind;
  namespace: string;
  name: string;
}

export function describeController(c: OtherController): string {
  return `${c.kind} ${c.namespace}/${c.name}`;
}

interface ScaleTargetRef {
  apiVersion?: string;
  kind?: string;
  name?: string;
}

interface Scaler extends KubernetesObject {
  spec?: { scaleTargetRef?: ScaleTargetRef };
}

/** Whether a scaleTargetRef names a Deployment (apps/v1, or the long-gone extensions group); kind and apiVersion default as given. */
function targetsDeployment(ref: ScaleTargetRef, defaultKind: string | undefined): boolean {
  const kind = ref.kind ?? defaultKind;
  const group = (ref.apiVersion ?? 'apps/v1').split('/')[0];
  return kind === 'Deployment' && (group === 'apps' || group === 'extensions');
}

/**
 * The Deployment (`namespace/name`) an autoscaling/v2 HorizontalPodAutoscaler
 * or a keda.sh/v1alpha1 ScaledObject scales, or null. An HPA's
 * scaleTargetRef needs its kind; a ScaledObject's kind defaults to
 * Deployment (and apiVersion to apps/v1), as KEDA's.
 */
export function scaledDeployment(kind: ConflictKind, obj: Scaler): string | null {
  const ref = obj.spec?.scaleTargetRef;
  const namespace = obj.metadata?.namespace;
  if (!ref?.name || !namespace) return null;
  if (!targetsDeployment(ref, kind === 'ScaledObject' ? 'Deployment' : undefined)) return null;
  return `${namespace}/${ref.name}`;
}

/**
 * Who else scales which Deployment, from the HPAs and ScaledObjects the
 * informers deliver (pure: no I/O). KEDA scales through an HPA it creates
 * for each ScaledObject (`keda-hpa-NAME`, owned by the ScaledObject): that
 * HPA is reported as its ScaledObject, so one KEDA autoscaler is one
 * controller, whether or not the ScaledObjects themselves can be watched.
 */
export class ConflictTracker {
  /** "Kind/ns/name" of each HPA or ScaledObject → the Deployment it scales and whom to name for it. */
  private readonly sources = new Map<string, { deployment: string; controller: OtherController }>();

  /**
   * Records an added or changed HPA or ScaledObject; returns the Deployments
   * whose set of other controllers may have changed.
   */
  upsert(kind: ConflictKind, obj: Scaler): string[] {
    const id = sourceId(kind, obj);
    const before = this.sources.get(id)?.deployment;
    const deployment = scaledDeployment(kind, obj);
    if (deployment === null) this.sources.delete(id);
    else this.sources.set(id, { deployment, controller: controllerOf(kind, obj) });
    return [...new Set([before, deployment].filter((d): d is string => typeof d === 'string'))];
  }

  /** Forgets a deleted HPA or ScaledObject; returns the Deployment it scaled, if any. */
  remove(kind: ConflictKind, obj: Scaler): string[] {
    const id = sourceId(kind, obj);
    const before = this.sources.get(id)?.deployment;
    this.sources.delete(id);
    return before === undefined ? [] : [before];
  }

  /** The other controllers scaling `deployment` ("ns/name"), each once, in a stable order. */
  controllersOf(deployment: string): OtherController[] {
    const found = new Map<string, OtherController>();
    for (const s of this.sources.values()) if (s.deployment === deployment) found.set(describeController(s.controller), s.controller);
    return [...found.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, c]) => c);
  }
}

function sourceId(kind: ConflictKind, obj: Scaler): string {
  return `${kind}/${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

function controllerOf(kind: ConflictKind, obj: Scaler): OtherController {
  const namespace = obj.metadata?.namespace ?? '';
  if (kind === 'HorizontalPodAutoscaler') {
    const owner = obj.metadata?.ownerReferences?.find((o) => o.kind === 'ScaledObject' && o.apiVersion.startsWith('keda.sh/'));
    if (owner) return { kind: 'ScaledObject', namespace, name: owner.name };
  }
  return { kind, namespace, name: obj.metadata?.name ?? '' };
}
