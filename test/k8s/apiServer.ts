import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A Kubernetes object as stored here. */
export interface StoredObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

/** One API request as the RBAC test needs it. */
export interface RecordedCall {
  verb: string;
  group: string;
  resource: string;
  namespace: string | undefined;
}

interface Watcher {
  collection: string;
  namespace: string | undefined;
  fieldName: string | undefined;
  res: ServerResponse;
}

interface Route {
  group: string;
  version: string;
  namespace: string | undefined;
  resource: string;
  name: string | undefined;
  subresource: string | undefined;
}

const KINDS: Record<string, { kind: string; apiVersion: string }> = {
  deployments: { kind: 'Deployment', apiVersion: 'apps/v1' },
  pods: { kind: 'Pod', apiVersion: 'v1' },
  configmaps: { kind: 'ConfigMap', apiVersion: 'v1' },
  leases: { kind: 'Lease', apiVersion: 'coordination.k8s.io/v1' },
};

/** /api/v1/..., /apis/GROUP/VERSION/..., optionally namespaced, optionally a name and a subresource. */
function parsePath(pathname: string): Route | null {
  const parts = pathname.split('/').filter(Boolean);
  let group = '';
  let version: string;
  if (parts[0] === 'api') {
    version = parts[1];
    parts.splice(0, 2);
  } else if (parts[0] === 'apis') {
    group = parts[1];
    version = parts[2];
    parts.splice(0, 3);
  } else return null;
  let namespace: string | undefined;
  if ((parts[0] as string) === 'namespaces' && parts.length >= 3) {
    namespace = parts[1];
    parts.splice(0, 2);
  }
  const [resource, name, subresource] = parts;
  if (!resource) return null;
  return { group, version, namespace, resource, name, subresource };
}

/**
 * A small in-memory kube-apiserver for tests, on 127.0.0.1: list and watch
 * (resourceVersions, BOOKMARK events, 410 Gone for expired versions), get,
 * create, update with optimistic concurrency (409), merge-patch of
 * `deployments/{name}/scale`, and fault injection. The real
 * @kubernetes/client-node talks to it over HTTP. Every request is recorded.
 */
export class FakeApiServer {
  readonly calls: RecordedCall[] = [];
  private readonly objects = new Map<string, Map<string, StoredObject>>(); // resource → "ns/name" → object
  private readonly watchers = new Set<Watcher>();
  private revision = 100;
  /** Versions older than this answer 410 Gone (after `expireHistory`). */
  private oldestVersion = 0;
  private readonly history: { rv: number; collection: string; type: string; object: StoredObject }[] = [];
  private faults: { match: (r: Route, method: string) => boolean; status: number; remaining: number; delayMs?: number }[] = [];
  private constructor(private readonly server: Server) {}

  static async start(): Promise<FakeApiServer> {
    let self: FakeApiServer | undefined;
    const server = createServer((req, res) => void self!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    self = new FakeApiServer(server);
    return self;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private store(resource: string): Map<string, StoredObject> {
    let m = this.objects.get(resource);
    if (!m) this.objects.set(resource, (m = new Map()));
    return m;
  }

  get(resource: string, namespace: string, name: string): StoredObject | undefined {
    return this.store(resource).get(`${namespace}/${name}`);
  }

  /** Creates or replaces an object and notifies watchers (as a controller or kubectl would). */
  put(resource: string, object: StoredObject): StoredObject {
    const key = `${object.metadata.namespace ?? ''}/${object.metadata.name}`;
    const existed = this.store(resource).has(key);
    const stored = { ...KINDS[resource], ...structuredClone(object) };
    stored.metadata.resourceVersion = String(++this.revision);
    this.store(resource).set(key, stored);
    this.notify(resource, existed ? 'MODIFIED' : 'ADDED', stored);
    return stored;
  }

  remove(resource: string, namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const obj = this.store(resource).get(key);
    if (!obj) return;
    this.store(resource).delete(key);
    const gone = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.revision) } };
    this.notify(resource, 'DELETED', gone);
  }

  /** The next `count` requests matching → `status` (or a delay before answering). */
  fail(resource: string, method: string, status: number, count = 1, delayMs?: number): void {
    this.faults.push({ match: (r, m) => r.resource === resource && m === method, status, remaining: count, delayMs });
  }

  /** Ends every watch and forgets history: clients must re-list (410 Gone). */
  expireWatches(): void {
    this.oldestVersion = this.revision + 1;
    for (const w of this.watchers) {
      w.res.write(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' } })}\n`);
      w.res.end();
    }
    this.watchers.clear();
  }

  /** Sends a BOOKMARK to every watcher. */
  bookmark(): void {
    for (const w of this.watchers) {
      w.res.write(`${JSON.stringify({ type: 'BOOKMARK', object: { kind: KINDS[w.collection]?.kind, metadata: { resourceVersion: String(this.revision) } } })}\n`);
    }
  }

  private notify(resource: string, type: string, object: StoredObject): void {
    this.history.push({ rv: Number(object.metadata.resourceVersion), collection: resource, type, object });
    for (const w of this.watchers) {
      if (this.matches(w, resource, object)) w.res.write(`${JSON.stringify({ type, object })}\n`);
    }
  }

  private matches(w: { collection: string; namespace: string | undefined; fieldName: string | undefined }, resource: string, object: StoredObject): boolean {
    return w.collection === resource && (w.namespace === undefined || w.namespace === object.metadata.namespace) &&
      (w.fieldName === undefined || w.fieldName === object.metadata.name);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const route = parsePath(url.pathname);
    const method = req.method ?? 'GET';
    if (!route) return void res.writeHead(404).end();
    const watching = url.searchParams.get('watch') === 'true';
    const verb = method === 'GET' ? (watching ? 'watch' : route.name ? 'get' : 'list')
      : method === 'POST' ? 'create' : method === 'PUT' ? 'update' : method === 'PATCH' ? 'patch' : method.toLowerCase();
    this.calls.push({ verb, group: route.group, resource: route.subresource ? `${route.resource}/${route.subresource}` : route.resource, namespace: route.namespace });
    const fault = this.faults.find((f) => f.remaining > 0 && f.match(route, method));
    if (fault) {
      fault.remaining--;
      if (fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
      return this.status(res, fault.status, 'InjectedFault', `injected ${fault.status}`);
    }
    const body = method === 'GET' ? undefined : await readBody(req);
    const fieldSelector = url.searchParams.get('fieldSelector') ?? '';
    const fieldName = /metadata\.name=([^,]+)/.exec(fieldSelector)?.[1];
    if (method === 'GET' && !route.name) {
      return watching ? this.watch(route, url, fieldName, res) : this.list(route, fieldName, res);
    }
    const store = this.store(route.resource);
    const key = `${route.namespace ?? ''}/${route.name ?? ''}`;
    if (method === 'GET') {
      const obj = store.get(key);
      if (!obj) return this.status(res, 404, 'NotFound', `${route.resource} "${route.name}" not found`);
      return this.json(res, 200, route.subresource === 'scale' ? toScale(obj) : obj);
    }
    if (method === 'PATCH' && route.resource === 'deployments' && route.subresource === 'scale') {
      if (!String(req.headers['content-type']).startsWith('application/merge-patch+json')) {
        return this.status(res, 415, 'UnsupportedMediaType', `unexpected content type ${req.headers['content-type']}`);
      }
      const obj = store.get(key);
      if (!obj) return this.status(res, 404, 'NotFound', `deployments.apps "${route.name}" not found`);
      const replicas = (body as { spec?: { replicas?: number } }).spec?.replicas;
      if (typeof replicas !== 'number') return this.status(res, 422, 'Invalid', 'spec.replicas must be a number');
      const updated = this.put('deployments', { ...obj, spec: { ...(obj.spec as object), replicas } });
      return this.json(res, 200, toScale(updated));
    }
    if (method === 'POST') {
      const obj = body as StoredObject;
      obj.metadata.namespace = route.namespace;
      if (store.has(`${route.namespace ?? ''}/${obj.metadata.name}`)) return this.status(res, 409, 'AlreadyExists', `${route.resource} "${obj.metadata.name}" already exists`);
      return this.json(res, 201, this.put(route.resource, obj));
    }
    if (method === 'PUT') {
      const obj = body as StoredObject;
      const current = store.get(key);
      if (!current) return this.status(res, 404, 'NotFound', `${route.resource} "${route.name}" not found`);
      if (obj.metadata.resourceVersion !== current.metadata.resourceVersion) {
        return this.status(res, 409, 'Conflict', 'the object has been modified; please apply your changes to the latest version and try again');
      }
      return this.json(res, 200, this.put(route.resource, obj));
    }
    return this.status(res, 405, 'MethodNotAllowed', method);
  }

  private list(route: Route, fieldName: string | undefined, res: ServerResponse): void {
    const w = { collection: route.resource, namespace: route.namespace, fieldName };
    const items = [...this.store(route.resource).values()].filter((o) => this.matches(w, route.resource, o));
    const meta = KINDS[route.resource];
    this.json(res, 200, { apiVersion: meta?.apiVersion, kind: `${meta?.kind ?? ''}List`, metadata: { resourceVersion: String(this.revision) }, items });
  }

  private watch(route: Route, url: URL, fieldName: string | undefined, res: ServerResponse): void {
    const since = Number(url.searchParams.get('resourceVersion') ?? '0');
    if (since && since < this.oldestVersion) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' } })}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const watcher: Watcher = { collection: route.resource, namespace: route.namespace, fieldName, res };
    for (const h of this.history) {
      if (h.rv > since && this.matches(watcher, h.collection, h.object)) res.write(`${JSON.stringify({ type: h.type, object: h.object })}\n`);
    }
    this.watchers.add(watcher);
    res.on('close', () => this.watchers.delete(watcher));
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  private status(res: ServerResponse, code: number, reason: string, message: string): void {
    this.json(res, code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message });
  }

  async close(): Promise<void> {
    for (const w of this.watchers) w.res.end();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function toScale(obj: StoredObject) {
  const replicas = (obj.spec as { replicas?: number } | undefined)?.replicas ?? 1;
  return { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: obj.metadata.name, namespace: obj.metadata.namespace, resourceVersion: obj.metadata.resourceVersion }, spec: { replicas }, status: { replicas } };
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString();
  return text ? JSON.parse(text) : {};
}
