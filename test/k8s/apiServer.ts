import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A Kubernetes object as stored here. */
export interface StoredObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

/** One API request, as RBAC sees it (verb on group/resource[/subresource] in a namespace or cluster-wide). */
export interface RecordedCall {
  verb: string;
  group: string;
  resource: string;
  subresource: string | undefined;
  /** The object's name: from the path, or a list/watch's `metadata.name` field selector (RBAC resourceNames). */
  name: string | undefined;
  /** undefined = a cluster-wide request. */
  namespace: string | undefined;
}

/** Which requests a fault applies to; unset fields match anything. */
export interface FaultMatch {
  resource?: string;
  subresource?: string;
  verb?: string;
  namespace?: string;
}

/** What the matched requests get: an error status, optionally after a delay (a delay past the client's timeout is a timeout). */
export interface Fault extends FaultMatch {
  status: number;
  count?: number;
  delayMs?: number;
}

/** Matched requests are served as usual, but only after `delayMs`: a slow answer, or a write that lands after the client gave up. */
export interface Slowdown extends FaultMatch {
  delayMs: number;
  count?: number;
}

interface Watcher {
  route: Route;
  selector: Selector;
  bookmarks: boolean;
  res: ServerResponse;
  timer: NodeJS.Timeout | undefined;
}

interface Route {
  group: string;
  namespace: string | undefined;
  resource: string;
  name: string | undefined;
  subresource: string | undefined;
}

/** fieldSelector (`path=v`, `path==v`, `path!=v` on the fields the resource supports) and equality-based labelSelector (`k=v`, `k!=v`, `k`, `!k`). */
interface Selector {
  /** `metadata.name=` of the field selector: RBAC's resourceNames apply to it. */
  name: string | undefined;
  fields: ((object: StoredObject) => boolean)[];
  labels: ((labels: Record<string, string>) => boolean)[];
  /** A field the resource has no field selector for (the API server answers 400). */
  unsupported: string | undefined;
}

const KINDS: Record<string, { kind: string; apiVersion: string }> = {
  deployments: { kind: 'Deployment', apiVersion: 'apps/v1' },
  pods: { kind: 'Pod', apiVersion: 'v1' },
  configmaps: { kind: 'ConfigMap', apiVersion: 'v1' },
  leases: { kind: 'Lease', apiVersion: 'coordination.k8s.io/v1' },
  services: { kind: 'Service', apiVersion: 'v1' },
  endpointslices: { kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1' },
  events: { kind: 'Event', apiVersion: 'v1' },
  horizontalpodautoscalers: { kind: 'HorizontalPodAutoscaler', apiVersion: 'autoscaling/v2' },
  scaledobjects: { kind: 'ScaledObject', apiVersion: 'keda.sh/v1alpha1' },
};

/** Field selectors every resource supports, and those only some do (the API server's field label conversions). */
const COMMON_FIELDS = ['metadata.name', 'metadata.namespace'];
const EXTRA_FIELDS: Record<string, Record<string, string>> = {
  // core/v1 Events: `source` is source.component, as the API server maps it.
  events: {
    'involvedObject.kind': 'involvedObject.kind', 'involvedObject.namespace': 'involvedObject.namespace', 'involvedObject.name': 'involvedObject.name',
    'involvedObject.uid': 'involvedObject.uid', 'involvedObject.apiVersion': 'involvedObject.apiVersion',
    'involvedObject.resourceVersion': 'involvedObject.resourceVersion', 'involvedObject.fieldPath': 'involvedObject.fieldPath',
    reason: 'reason', reportingComponent: 'reportingComponent', source: 'source.component', type: 'type',
  },
  pods: { 'spec.nodeName': 'spec.nodeName', 'status.phase': 'status.phase', 'status.podIP': 'status.podIP' },
};

function fieldAt(object: unknown, path: string): string {
  let v: unknown = object;
  for (const part of path.split('.')) v = (v as Record<string, unknown> | undefined)?.[part];
  return v === undefined || v === null ? '' : String(v);
}

/** RFC 7386 JSON merge patch: objects merge, null deletes, anything else replaces. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** /api/v1/..., /apis/GROUP/VERSION/..., optionally namespaced, optionally a name and a subresource. */
function parsePath(pathname: string): Route | null {
  const parts = pathname.split('/').filter(Boolean);
  let group = '';
  if (parts[0] === 'api') parts.splice(0, 2);
  else if (parts[0] === 'apis') {
    group = parts[1] ?? '';
    parts.splice(0, 3);
  } else return null;
  let namespace: string | undefined;
  if ((parts[0] as string) === 'namespaces' && parts.length >= 3) {
    namespace = parts[1];
    parts.splice(0, 2);
  }
  const [resource, name, subresource] = parts;
  if (!resource) return null;
  return { group, namespace, resource, name, subresource };
}

function parseSelector(url: URL, resource = ''): Selector {
  const name = /(?:^|,)metadata\.name==?([^,]+)/.exec(url.searchParams.get('fieldSelector') ?? '')?.[1];
  let unsupported: string | undefined;
  const fields = (url.searchParams.get('fieldSelector') ?? '').split(',').filter(Boolean).map((term) => {
    const [, field, op, value] = /^([^!=]+)(!=|==?)(.*)$/.exec(term.trim()) ?? [undefined, term, '=', ''];
    const path = COMMON_FIELDS.includes(field!) ? field! : EXTRA_FIELDS[resource]?.[field!];
    if (path === undefined) unsupported ??= field;
    return (o: StoredObject) => path === undefined || (fieldAt(o, path) === value) !== (op === '!=');
  });
  const labels = (url.searchParams.get('labelSelector') ?? '').split(',').filter(Boolean).map((term) => {
    const [, not, key, op, value] = /^(!?)([^!=]+)(?:(!=|==?)(.*))?$/.exec(term.trim()) ?? [];
    if (op === '!=') return (l: Record<string, string>) => l[key] !== value;
    if (op) return (l: Record<string, string>) => l[key] === value;
    return (l: Record<string, string>) => (key in l) !== Boolean(not);
  });
  return { name, fields, labels, unsupported };
}

const gone = { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 410, reason: 'Expired', message: 'too old resource version' };

/**
 * A small in-memory kube-apiserver for tests, on 127.0.0.1, that the real
 * @kubernetes/client-node talks to over HTTP: list and watch (resourceVersions,
 * BOOKMARKs for `allowWatchBookmarks`, `timeoutSeconds`, label and name
 * selectors, 410 Gone for expired versions), get, create, update with
 * optimistic concurrency (409), merge-patch of `deployments/{name}/scale` and
 * of any object (JSON merge patch, with a resourceVersion precondition),
 * uids and creation timestamps as the API server assigns them, field
 * selectors where the resource has them (Events by involvedObject, as
 * `kubectl describe` lists them; 400 for others), a CRD's resource that is
 * not served (404, as an API server without the CRD), and fault injection.
 * Every request is recorded for the RBAC test.
 */
export class FakeApiServer {
  readonly calls: RecordedCall[] = [];
  private readonly objects = new Map<string, Map<string, StoredObject>>(); // resource → "ns/name" → object
  private readonly watchers = new Set<Watcher>();
  private revision = 100;
  /** Watches from a version older than this get 410 Gone (after `expireWatches`); a fresh list's version is never older. */
  private oldestVersion = 0;
  private history: { rv: number; resource: string; type: string; object: StoredObject }[] = [];
  private readonly faults: (Fault & { remaining: number; slow?: boolean })[] = [];
  private delayed = 0;
  /** Resources whose CRD is not installed: every request on them is a 404. */
  private readonly absent = new Set<string>();
  /** Sees every request (with its body, before any fault applies): tests check what a client asked for. */
  /** Every request as it arrives; `user` is its bearer token (a test gives each replica its own to tell them apart). */
  onRequest: ((call: RecordedCall, body: unknown, user: string) => void) | undefined;
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

  /** Open watch streams (tests check that informers re-watch after a timeout or an expiry). */
  get watchCount(): number {
    return this.watchers.size;
  }

  private store(resource: string): Map<string, StoredObject> {
    let m = this.objects.get(resource);
    if (!m) this.objects.set(resource, (m = new Map()));
    return m;
  }

  get(resource: string, namespace: string, name: string): StoredObject | undefined {
    return this.store(resource).get(`${namespace}/${name}`);
  }

  /** Every stored object of a resource, in a namespace or all (tests read Events this way). */
  objectsOf(resource: string, namespace?: string): StoredObject[] {
    return [...this.store(resource).values()].filter((o) => namespace === undefined || o.metadata.namespace === namespace);
  }

  /**
   * A CRD's resource stops being served, as when the CRD is deleted: its
   * objects go (watchers see them DELETED), its watches end, and every
   * request on it gets 404 until `installCrd`.
   */
  uninstallCrd(resource: string): void {
    for (const o of this.objectsOf(resource)) this.remove(resource, o.metadata.namespace ?? '', o.metadata.name);
    for (const w of this.watchers) if (w.route.resource === resource) this.endWatch(w);
    this.absent.add(resource);
  }

  installCrd(resource: string): void {
    this.absent.delete(resource);
  }

  /** Creates or replaces an object and notifies watchers (as a controller or kubectl would). */
  put(resource: string, object: StoredObject): StoredObject {
    const key = `${object.metadata.namespace ?? ''}/${object.metadata.name}`;
    const existing = this.store(resource).get(key);
    const existed = existing !== undefined;
    const stored = { ...KINDS[resource], ...structuredClone(object) };
    // As the API server: a uid and creation time when an object is created, kept by every update.
    stored.metadata.uid = existing?.metadata.uid ?? stored.metadata.uid ?? randomUUID();
    stored.metadata.creationTimestamp = existing?.metadata.creationTimestamp ?? stored.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z');
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
    this.notify(resource, 'DELETED', { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.revision) } });
  }

  /** The next `count` (default 1) matching requests fail with `status`, after `delayMs` if given. */
  fail(fault: Fault): void {
    this.faults.push({ ...fault, remaining: fault.count ?? 1 });
  }

  /** The next `count` (default 1) matching requests are served normally after `delayMs`. */
  slow(slowdown: Slowdown): void {
    this.faults.push({ ...slowdown, status: 0, slow: true, remaining: slowdown.count ?? 1 });
  }

  /** Drops every injected fault and slowdown not used up yet (requests already delayed still finish). */
  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Requests that injected faults and slowdowns are still waiting for. */
  get faultsPending(): number {
    return this.faults.reduce((sum, f) => sum + f.remaining, 0);
  }

  /** Requests held by an injected delay right now. */
  get delayedRequests(): number {
    return this.delayed;
  }

  /** Cuts every watch connection without a last event, as a dropped TCP connection or a restarted API server does. */
  cutWatches(): void {
    for (const w of this.watchers) {
      clearTimeout(w.timer);
      this.watchers.delete(w);
      w.res.destroy();
    }
  }

  /** Ends every watch with 410 Gone and forgets history, as etcd compaction does: clients must re-list. */
  expireWatches(): void {
    this.oldestVersion = this.revision;
    this.history = [];
    for (const w of this.watchers) this.endWatch(w, { type: 'ERROR', object: gone });
  }

  /** Sends a BOOKMARK with the current resourceVersion to every watcher that allowed bookmarks. */
  bookmark(): void {
    for (const w of this.watchers) if (w.bookmarks) this.sendBookmark(w);
  }

  private sendBookmark(w: Watcher): void {
    const object = { kind: KINDS[w.route.resource]?.kind, apiVersion: KINDS[w.route.resource]?.apiVersion, metadata: { resourceVersion: String(this.revision) } };
    w.res.write(`${JSON.stringify({ type: 'BOOKMARK', object })}\n`);
  }

  private endWatch(w: Watcher, last?: unknown): void {
    if (last) w.res.write(`${JSON.stringify(last)}\n`);
    clearTimeout(w.timer);
    w.res.end();
    this.watchers.delete(w);
  }

  private notify(resource: string, type: string, object: StoredObject): void {
    this.history.push({ rv: Number(object.metadata.resourceVersion), resource, type, object });
    for (const w of this.watchers) {
      if (this.matches(w.route, w.selector, resource, object)) w.res.write(`${JSON.stringify({ type, object })}\n`);
    }
  }

  private matches(route: Route, selector: Selector, resource: string, object: StoredObject): boolean {
    const labels = object.metadata.labels ?? {};
    return route.resource === resource && (route.namespace === undefined || route.namespace === object.metadata.namespace) &&
      selector.fields.every((m) => m(object)) && selector.labels.every((m) => m(labels));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const route = parsePath(url.pathname);
    const method = req.method ?? 'GET';
    if (!route) return void res.writeHead(404).end();
    const watching = url.searchParams.get('watch') === 'true';
    const verb = method === 'GET' ? (watching ? 'watch' : route.name ? 'get' : 'list')
      : ({ POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' } as Record<string, string>)[method] ?? method.toLowerCase();
    const name = route.name ?? parseSelector(url).name;
    const call: RecordedCall = { verb, group: route.group, resource: route.resource, subresource: route.subresource, name, namespace: route.namespace };
    this.calls.push(call);
    const body = method === 'GET' ? undefined : await readBody(req);
    this.onRequest?.(call, body, /^Bearer (.*)$/.exec(req.headers.authorization ?? '')?.[1] ?? '');
    const fault = this.faults.find((f) => f.remaining > 0 && (f.resource ?? route.resource) === route.resource &&
      (f.subresource ?? route.subresource) === route.subresource && (f.verb ?? verb) === verb && (f.namespace ?? route.namespace) === route.namespace);
    if (fault) {
      fault.remaining--;
      if (fault.delayMs) {
        this.delayed++;
        await new Promise((r) => setTimeout(r, fault.delayMs));
        this.delayed--;
      }
      if (!fault.slow) return this.status(res, fault.status, 'InjectedFault', `injected ${fault.status}`);
      if (res.destroyed) return; // the connection is gone (the server closed meanwhile)
    }
    // A group/version/resource nobody serves: the API server's mux answers with a plain 404.
    if (this.absent.has(route.resource)) return void res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
    if (verb === 'list' || verb === 'watch') {
      const unsupported = parseSelector(url, route.resource).unsupported;
      if (unsupported) return this.status(res, 400, 'BadRequest', `field label not supported: ${unsupported}`);
    }
    if (verb === 'list') return this.list(route, parseSelector(url, route.resource), res);
    if (verb === 'watch') return this.watch(route, url, res);
    const store = this.store(route.resource);
    const key = `${route.namespace ?? ''}/${route.name ?? ''}`;
    const current = store.get(key);
    const notFound = () => this.status(res, 404, 'NotFound', `${route.resource} "${route.name}" not found`);
    if (verb === 'get') return current ? this.json(res, 200, route.subresource === 'scale' ? toScale(current) : current) : notFound();
    if (verb === 'patch' && route.resource === 'deployments' && route.subresource === 'scale') {
      if (!String(req.headers['content-type']).startsWith('application/merge-patch+json')) {
        return this.status(res, 415, 'UnsupportedMediaType', `unexpected content type ${req.headers['content-type']}`);
      }
      if (!current) return notFound();
      const replicas = (body as { spec?: { replicas?: unknown } }).spec?.replicas;
      if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) return this.status(res, 422, 'Invalid', 'spec.replicas must be a whole number ≥ 0');
      return this.json(res, 200, toScale(this.put('deployments', { ...current, spec: { ...(current.spec as object), replicas } })));
    }
    if (verb === 'patch' && !route.subresource) {
      if (!String(req.headers['content-type']).startsWith('application/merge-patch+json')) {
        return this.status(res, 415, 'UnsupportedMediaType', `this test server only merge-patches objects, got ${req.headers['content-type']}`);
      }
      if (!current) return notFound();
      const patch = body as { metadata?: { resourceVersion?: string; name?: string; namespace?: string } };
      if (patch.metadata?.resourceVersion !== undefined && patch.metadata.resourceVersion !== current.metadata.resourceVersion) {
        return this.status(res, 409, 'Conflict', 'the object has been modified; please apply your changes to the latest version and try again');
      }
      if ((patch.metadata?.name ?? current.metadata.name) !== current.metadata.name || (patch.metadata?.namespace ?? current.metadata.namespace) !== current.metadata.namespace) {
        return this.status(res, 422, 'Invalid', 'metadata.name and metadata.namespace cannot be changed');
      }
      const patched = mergePatch(current, patch) as StoredObject;
      if (route.resource === 'events') {
        const invalid = invalidEvent(patched);
        if (invalid) return this.status(res, 422, 'Invalid', invalid);
      }
      return this.json(res, 200, this.put(route.resource, patched));
    }
    if (verb === 'create') {
      const obj = body as StoredObject;
      if (obj.metadata.namespace !== undefined && obj.metadata.namespace !== route.namespace) {
        return this.status(res, 400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
      }
      obj.metadata.namespace = route.namespace;
      if (!obj.metadata.name && typeof obj.metadata.generateName === 'string') obj.metadata.name = `${obj.metadata.generateName}${randomUUID().slice(0, 5)}`;
      if (!obj.metadata.name) return this.status(res, 422, 'Invalid', 'metadata.name: Required value: name or generateName is required');
      if (route.resource === 'events') {
        const invalid = invalidEvent(obj);
        if (invalid) return this.status(res, 422, 'Invalid', invalid);
      }
      delete obj.metadata.resourceVersion; // ignored on create
      if (store.has(`${route.namespace ?? ''}/${obj.metadata.name}`)) return this.status(res, 409, 'AlreadyExists', `${route.resource} "${obj.metadata.name}" already exists`);
      return this.json(res, 201, this.put(route.resource, obj));
    }
    if (verb === 'update') {
      const obj = body as StoredObject;
      if (!current) return notFound();
      if (obj.metadata.resourceVersion !== current.metadata.resourceVersion) {
        return this.status(res, 409, 'Conflict', 'the object has been modified; please apply your changes to the latest version and try again');
      }
      return this.json(res, 200, this.put(route.resource, obj));
    }
    if (verb === 'delete' && !route.subresource) {
      if (!current) return notFound();
      this.remove(route.resource, route.namespace ?? '', route.name ?? '');
      // The API server answers a delete without finalizers with a Success Status naming what went.
      return this.json(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name: route.name, kind: route.resource } });
    }
    return this.status(res, 405, 'MethodNotAllowed', `${verb} ${route.resource}${route.subresource ? `/${route.subresource}` : ''}`);
  }

  private list(route: Route, selector: Selector, res: ServerResponse): void {
    const items = [...this.store(route.resource).values()].filter((o) => this.matches(route, selector, route.resource, o));
    const meta = KINDS[route.resource];
    this.json(res, 200, { apiVersion: meta?.apiVersion, kind: `${meta?.kind ?? ''}List`, metadata: { resourceVersion: String(this.revision) }, items });
  }

  private watch(route: Route, url: URL, res: ServerResponse): void {
    const since = Number(url.searchParams.get('resourceVersion') || '0');
    if (since && since < this.oldestVersion) {
      // The API server answers an expired watch with 200 and one ERROR event.
      res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify({ type: 'ERROR', object: gone })}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const w: Watcher = { route, selector: parseSelector(url, route.resource), bookmarks: url.searchParams.get('allowWatchBookmarks') === 'true', res, timer: undefined };
    for (const h of this.history) {
      if (h.rv > since && this.matches(route, w.selector, h.resource, h.object)) res.write(`${JSON.stringify({ type: h.type, object: h.object })}\n`);
    }
    const timeoutSeconds = Number(url.searchParams.get('timeoutSeconds') || '0');
    if (timeoutSeconds > 0) {
      // As the API server does: a bookmark just before the timeout, then a clean end the client resumes from.
      w.timer = setTimeout(() => {
        if (w.bookmarks) this.sendBookmark(w);
        this.endWatch(w);
      }, timeoutSeconds * 1000);
    }
    this.watchers.add(w);
    res.on('close', () => {
      clearTimeout(w.timer);
      this.watchers.delete(w);
    });
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  private status(res: ServerResponse, code: number, reason: string, message: string): void {
    this.json(res, code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message });
  }

  async close(): Promise<void> {
    for (const w of this.watchers) this.endWatch(w);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The API server's checks of a core/v1 Event without eventTime (legacyValidateEvent): an involved object, in the Event's namespace. */
function invalidEvent(e: StoredObject): string | undefined {
  const involved = e.involvedObject as { namespace?: string; name?: string; kind?: string } | undefined;
  if (!involved?.name || !involved.kind) return 'involvedObject: Required value';
  if ((involved.namespace ?? '') !== (e.metadata.namespace ?? '')) return `involvedObject.namespace: Invalid value: "${involved.namespace}": does not match event.namespace`;
  if (typeof e.count === 'number' && (!Number.isInteger(e.count) || e.count < 0)) return 'count: Invalid value';
  return undefined;
}

function toScale(obj: StoredObject) {
  const replicas = (obj.spec as { replicas?: number } | undefined)?.replicas ?? 1;
  return {
    apiVersion: 'autoscaling/v1', kind: 'Scale',
    metadata: { name: obj.metadata.name, namespace: obj.metadata.namespace, resourceVersion: obj.metadata.resourceVersion },
    spec: { replicas }, status: { replicas },
  };
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString();
  return text ? JSON.parse(text) : {};
}
