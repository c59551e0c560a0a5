import type { V1EndpointSlice } from '@kubernetes/client-node';

/** The label the EndpointSlice controller puts on a Service's slices. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/**
 * A Service's EndpointSlices of one address family, each with its ready
 * addresses (a dual-stack Service has a slice per family, each listing every
 * pod: reading one family counts each pod once). Unknown readiness counts as
 * ready, as the EndpointSlice API says consumers should read it.
 */
export function* readySlices(slices: Iterable<V1EndpointSlice>, serviceName: string, family: string): Generator<{ slice: V1EndpointSlice; addresses: string[] }> {
  for (const slice of slices) {
    if (slice.metadata?.labels?.[SERVICE_NAME_LABEL] !== serviceName || slice.addressType !== family) continue;
    const addresses: string[] = [];
    for (const e of slice.endpoints ?? []) if (e.conditions?.ready !== false) addresses.push(...e.addresses);
    yield { slice, addresses };
  }
}
