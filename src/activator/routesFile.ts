import { parse as parseYaml } from 'yaml';
import { isMap, onlyFields } from '../config/stringMap.js';
import { keyString, type RevisionKey } from '../metrics/revisionKey.js';
import type { TargetConfig } from './router.js';

/** A route of a `--routes` file: a target, its hosts and the static endpoints behind it. */
export interface StaticRoute extends TargetConfig {
  endpoints: { host: string; port: number }[];
}

/** A mistake in a routes file; `path` names the field (`[1].endpoints[0]`). */
export class RoutesFileError extends Error {
  constructor(readonly path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = 'RoutesFileError';
  }
}

type Obj = Record<string, unknown>;
const FIELDS = ['host', 'pathPrefix', 'namespace', 'name', 'endpoints', 'containerConcurrency'];
/** A DNS name or an IPv4 address, as a Host header carries it (no port, no scheme). */
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

function nonEmpty(obj: Obj, field: string, path: string): string {
  const v = obj[field];
  if (typeof v !== 'string' || v.trim() === '') throw new RoutesFileError(`${path}.${field}`, 'must be a non-empty string');
  return v.trim();
}

function endpoint(v: unknown, path: string): { host: string; port: number } {
  if (typeof v !== 'string') throw new RoutesFileError(path, 'must be a URL such as http://127.0.0.1:8080');
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new RoutesFileError(path, `not a URL: ${JSON.stringify(v)}`);
  }
  if (url.protocol !== 'http:') throw new RoutesFileError(path, `must be an http:// URL (the activator speaks HTTP/1.1 to pods), got ${url.protocol}`);
  if (url.pathname !== '/' || url.search !== '' || url.username !== '') {
    throw new RoutesFileError(path, 'must be just http://HOST:PORT: requests keep their own path');
  }
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { host, port: url.port === '' ? 80 : Number(url.port) };
}

/**
 * Parses a `kpa activator --routes` file, a YAML list:
 * ```yaml
 * - host: hello.example.com
 *   pathPrefix: /          # optional; Ingress Prefix matching
 *   namespace: default
 *   name: hello            # the revision (Deployment) kpa autoscales: stats carry namespace/name
 *   endpoints: [http://127.0.0.1:8081, http://127.0.0.1:8082]
 *   containerConcurrency: 10   # optional; 0 = no limit
 * ```
 * The same namespace/name may be listed with several hosts; its endpoints and
 * limit must then agree. Two entries for one host and path are a mistake.
 */
export function parseRoutesFile(text: string): StaticRoute[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new RoutesFileError('(file)', `not valid YAML: ${(err as Error).message}`);
  }
  if (!Array.isArray(doc) || doc.length === 0) throw new RoutesFileError('(file)', 'must be a non-empty YAML list of routes');
  const byKey = new Map<string, StaticRoute>();
  const seenRoutes = new Set<string>();
  doc.forEach((raw: unknown, i: number) => {
    const path = `[${i}]`;
    if (!isMap(raw)) throw new RoutesFileError(path, 'must be a map with host, namespace, name and endpoints');
    onlyFields(raw, path, FIELDS, (p, m) => new RoutesFileError(p, m));
    const host = nonEmpty(raw, 'host', path).toLowerCase();
    if (!HOSTNAME.test(host)) throw new RoutesFileError(`${path}.host`, `must be a host name as in a Host header, without scheme, port or path; got ${JSON.stringify(raw.host)}`);
    const pathPrefix = raw.pathPrefix === undefined ? '/' : nonEmpty(raw, 'pathPrefix', path);
    if (!pathPrefix.startsWith('/')) throw new RoutesFileError(`${path}.pathPrefix`, `must start with "/", got ${JSON.stringify(pathPrefix)}`);
    const key: RevisionKey = { namespace: nonEmpty(raw, 'namespace', path), name: nonEmpty(raw, 'name', path) };
    if (!Array.isArray(raw.endpoints)) throw new RoutesFileError(`${path}.endpoints`, 'must be a list of http://HOST:PORT URLs (it may be empty)');
    const endpoints = raw.endpoints.map((e: unknown, j: number) => endpoint(e, `${path}.endpoints[${j}]`));
    const cc = raw.containerConcurrency ?? 0;
    if (typeof cc !== 'number' || !Number.isInteger(cc) || cc < 0 || cc > 2147483647) {
      throw new RoutesFileError(`${path}.containerConcurrency`, `must be a whole number ≥ 0, got ${JSON.stringify(cc)}`);
    }
    const route = `${host}${pathPrefix}`;
    if (seenRoutes.has(route)) throw new RoutesFileError(`${path}.host`, `${host} with path prefix ${pathPrefix} is routed twice`);
    seenRoutes.add(route);
    const k = keyString(key);
    const existing = byKey.get(k);
    if (!existing) {
      byKey.set(k, { key, hosts: [host], pathPrefix, containerConcurrency: cc, endpoints });
      return;
    }
    const same = existing.containerConcurrency === cc && existing.pathPrefix === pathPrefix &&
      JSON.stringify(existing.endpoints) === JSON.stringify(endpoints);
    if (!same) throw new RoutesFileError(path, `${k} is listed again with a different pathPrefix, endpoints or containerConcurrency`);
    (existing.hosts as string[]).push(host);
  });
  return [...byKey.values()];
}
