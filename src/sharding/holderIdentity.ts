/**
 * A replica's Lease holder identity, `POD_NAME_POD_IP`, as Knative's
 * autoscaler writes it (bucket.Identity, ExtractPodNameAndIP): the other
 * replicas forward stats to the IP in it.
 */
export function holderIdentity(podName: string, podIP: string): string {
  return `${podName}_${podIP}`;
}

/** The pod name in a holder identity; the whole identity when it has no `_`. */
export function podNameOfHolder(identity: string): string {
  const at = identity.indexOf('_');
  return at < 0 ? identity : identity.slice(0, at);
}

/** The IP in a holder identity; '' when it has none (kpa 0.1 named holders by pod name only). */
export function ipOfHolder(identity: string): string {
  const at = identity.indexOf('_');
  return at < 0 ? '' : identity.slice(at + 1);
}
