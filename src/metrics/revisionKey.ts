/** A revision's identity: Kubernetes namespace and name. */
export interface RevisionKey {
  namespace: string;
  name: string;
}

/** "namespace/name", the map key used across the service. */
export function keyString(key: RevisionKey): string {
  return `${key.namespace}/${key.name}`;
}
