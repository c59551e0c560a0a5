import { type CoreV1Api, type CoreV1Event, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { KubernetesMetrics } from './k8sMetrics.js';
import { statusOf, withTimeout } from './retry.js';

/**
 * Kubernetes Events about the Deployments kpa scales, as core/v1 Events
 * (what `kubectl describe deployment` lists: it searches core/v1 Events by
 * `involvedObject`), deduplicated, aggregated and rate-limited as client-go's
 * `tools/record` does:
 *
 * - an event identical to one already written (same object, type, reason,
 *   message, source) bumps that Event's `count` and `lastTimestamp` with a
 *   patch instead of creating another;
 * - more than 10 events of one object, type and reason differing only in
 *   their message within 10 minutes are combined into one Event
 *   ("(combined from similar events): …", later ones bump its count);
 * - each source + object has a token bucket of 25 events refilled at one
 *   every 5 minutes; events beyond it are dropped (and counted).
 *
 * The core (EventCorrelator) is pure: it decides, from the clock it is
 * given, what to write. EventRecorder writes it in the background, in order,
 * through an EventSink; recording never blocks or throws.
 */

export type EventType = 'Normal' | 'Warning';

/** The object an Event is about (core/v1 ObjectReference). */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid?: string;
  resourceVersion?: string;
}

/** What the caller reports. */
export interface EventInput {
  object: ObjectRef;
  type: EventType;
  reason: string;
  message: string;
}

/** An Event as it is written (times in clock seconds). */
export interface EventRecord {
  name: string;
  namespace: string;
  involvedObject: ObjectRef;
  type: EventType;
  reason: string;
  message: string;
  count: number;
  firstTimestamp: number;
  lastTimestamp: number;
  source: { component: string; host?: string };
  reportingComponent: string;
  reportingInstance: string;
  resourceVersion?: string;
}

/** What to do with an event: create it, patch an existing one (count, lastTimestamp, message), or drop it. */
export type Correlation =
  | { action: 'create'; event: EventRecord }
  | { action: 'patch'; event: EventRecord; patch: { count: number; lastTimestamp: number; message: string } }
  | { action: 'drop'; event: EventRecord };
/** A correlation that writes something. */
export type EventWrite = Exclude<Correlation, { action: 'drop' }>;

export interface CorrelatorOptions {
  /** `source.component` and `reportingComponent` (kubectl describe's "From"). */
  component: string;
  /** `source.host` and `reportingInstance`: this replica (its pod name). */
  instance: string;
  /** Token bucket per source + object: burst (default 25) and refill per second (default 1/300). */
  burst?: number;
  qps?: number;
  /** Aggregate after this many distinct messages (default 10) within `aggregateIntervalSeconds` (default 600). */
  aggregateMaxEvents?: number;
  aggregateIntervalSeconds?: number;
  /** Entries kept in each cache (default 4096, client-go's). */
  cacheSize?: number;
}

/** Longest message written (events.k8s.io's limit for `note`; client-go's new recorder truncates to it too). */
export const MAX_MESSAGE_LENGTH = 1024;
export const AGGREGATE_PREFIX = '(combined from similar events): ';

/** A Map that forgets its least recently used entries past `size`. */
class Lru<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly size: number) {}

  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  set(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.size) this.map.delete(this.map.keys().next().value as string);
  }

  get length(): number {
    return this.map.size;
  }
}

/** A token bucket (golang.org/x/time/rate's Limiter, as client-go's spam filter uses): starts full. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly burst: number, private readonly perSecond: number, now: number) {
    this.tokens = burst;
    this.last = now;
  }

  tryAccept(now: number): boolean {
    this.tokens = Math.min(this.burst, this.tokens + Math.max(0, now - this.last) * this.perSecond);
    this.last = Math.max(this.last, now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

function objectKey(o: ObjectRef): string {
  return [o.kind, o.namespace, o.name, o.uid ?? '', o.apiVersion].join('\u0000');
}

function truncate(message: string): string {
  return message.length <= MAX_MESSAGE_LENGTH ? message : `${message.slice(0, MAX_MESSAGE_LENGTH - 3)}...`;
}

interface Observation {
  count: number;
  firstTimestamp: number;
  name: string;
  resourceVersion?: string;
}

/**
 * client-go's EventCorrelator: aggregate, then deduplicate, then the spam
 * filter (in that order, as client-go: an event the filter drops still
 * counts towards its Event's count).
 */
export class EventCorrelator {
  private readonly o: Required<CorrelatorOptions>;
  private readonly buckets: Lru<TokenBucket>;
  private readonly aggregates: Lru<{ messages: Set<string>; last: number }>;
  private readonly observations: Lru<Observation>;
  private lastNameNanos = 0n;

  constructor(options: CorrelatorOptions) {
    this.o = {
      burst: 25, qps: 1 / 300, aggregateMaxEvents: 10, aggregateIntervalSeconds: 600, cacheSize: 4096, ...options,
    };
    this.buckets = new Lru(this.o.cacheSize);
    this.aggregates = new Lru(this.o.cacheSize);
    this.observations = new Lru(this.o.cacheSize);
  }

  /** Decides what to write for `input`, observed at `now` (clock seconds). */
  correlate(input: EventInput, now: number): Correlation {
    const source = { component: this.o.component, host: this.o.instance };
    let event: EventRecord = {
      name: this.eventName(input.object.name, now), namespace: input.object.namespace, involvedObject: { ...input.object },
      type: input.type, reason: input.reason, message: truncate(input.message), count: 1, firstTimestamp: now, lastTimestamp: now,
      source, reportingComponent: this.o.component, reportingInstance: this.o.instance,
    };
    // Aggregation: the same object, type and reason with many different messages becomes one combined Event.
    const aggregateKey = [this.sourceKey(), objectKey(input.object), input.type, input.reason].join('\u0001');
    let key = this.eventKey(event);
    let record = this.aggregates.get(aggregateKey);
    if (!record || now - record.last > this.o.aggregateIntervalSeconds) record = { messages: new Set(), last: now };
    record.messages.add(event.message);
    record.last = now;
    this.aggregates.set(aggregateKey, record);
    if (record.messages.size >= this.o.aggregateMaxEvents) {
      // Keep the set from growing past the threshold (client-go's PopAny).
      record.messages.delete(record.messages.values().next().value as string);
      event = { ...event, message: truncate(AGGREGATE_PREFIX + event.message) };
      key = aggregateKey;
    }
    // Deduplication: a repeat bumps the Event written before.
    const seen = this.observations.get(key);
    let result: Correlation;
    if (seen && seen.count > 0) {
      event = { ...event, name: seen.name, resourceVersion: seen.resourceVersion, firstTimestamp: seen.firstTimestamp, count: seen.count + 1 };
      result = { action: 'patch', event, patch: { count: event.count, lastTimestamp: event.lastTimestamp, message: event.message } };
    } else {
      result = { action: 'create', event };
    }
    this.observations.set(key, { count: event.count, firstTimestamp: event.firstTimestamp, name: event.name, resourceVersion: event.resourceVersion });
    // The spam filter: a token bucket per source + object.
    const spamKey = `${this.sourceKey()}\u0001${objectKey(input.object)}`;
    let bucket = this.buckets.get(spamKey);
    if (!bucket) bucket = new TokenBucket(this.o.burst, this.o.qps, now);
    const accepted = bucket.tryAccept(now);
    this.buckets.set(spamKey, bucket);
    return accepted ? result : { action: 'drop', event };
  }

  /**
   * What the API server answered for a write: its name and resourceVersion
   * are what the next patch goes to. Events are correlated when recorded,
   * ahead of their writes, so a later observation of the same Event (one
   * queued, or dropped by the rate limit) keeps its higher count.
   */
  updateState(event: EventRecord): void {
    const key = event.message.startsWith(AGGREGATE_PREFIX)
      ? [this.sourceKey(), objectKey(event.involvedObject), event.type, event.reason].join('\u0001')
      : this.eventKey(event);
    const seen = this.observations.get(key);
    const same = seen !== undefined && seen.name === event.name;
    this.observations.set(key, {
      count: same ? Math.max(seen.count, event.count) : event.count, firstTimestamp: same ? seen.firstTimestamp : event.firstTimestamp,
      name: event.name, resourceVersion: event.resourceVersion,
    });
  }

  private sourceKey(): string {
    return `${this.o.component}\u0000${this.o.instance}`;
  }

  private eventKey(e: EventRecord): string {
    return [this.sourceKey(), objectKey(e.involvedObject), e.type, e.reason, e.message].join('\u0001');
  }

  /** client-go's `<object name>.<unix nanoseconds in hex>`, never the same twice (a manual clock may not move). */
  private eventName(objectName: string, now: number): string {
    let nanos = BigInt(Math.round(now * 1e6)) * 1000n;
    if (nanos <= this.lastNameNanos) nanos = this.lastNameNanos + 1n;
    this.lastNameNanos = nanos;
    return `${objectName}.${nanos.toString(16)}`;
  }
}

/** Where Events go: the API server (coreV1EventSink), or a test's list. */
export interface EventSink {
  create(event: EventRecord): Promise<EventRecord>;
  /** Rejects with a 404 (statusOf) when the Event is gone (expired: the API server keeps Events an hour). */
  patch(event: EventRecord, patch: { count: number; lastTimestamp: number; message: string }): Promise<EventRecord>;
}

function toIso(seconds: number): Date {
  return new Date(seconds * 1000);
}

function fromApi(e: CoreV1Event, fallback: EventRecord): EventRecord {
  const secs = (d: Date | string | undefined, dflt: number) => (d === undefined ? dflt : new Date(d).getTime() / 1000);
  return {
    ...fallback,
    name: e.metadata?.name ?? fallback.name,
    resourceVersion: e.metadata?.resourceVersion,
    count: e.count ?? fallback.count,
    message: e.message ?? fallback.message,
    firstTimestamp: secs(e.firstTimestamp, fallback.firstTimestamp),
    lastTimestamp: secs(e.lastTimestamp, fallback.lastTimestamp),
  };
}

/** core/v1 Events through client-node: create, and a JSON merge patch of count, lastTimestamp and message for a repeat. */
export function coreV1EventSink(api: CoreV1Api, requestTimeoutMs = 10_000): EventSink {
  return {
    async create(event) {
      const body: CoreV1Event = {
        apiVersion: 'v1', kind: 'Event',
        metadata: { name: event.name, namespace: event.namespace },
        involvedObject: { ...event.involvedObject },
        type: event.type, reason: event.reason, message: event.message, count: event.count,
        firstTimestamp: toIso(event.firstTimestamp), lastTimestamp: toIso(event.lastTimestamp),
        source: event.source, reportingComponent: event.reportingComponent, reportingInstance: event.reportingInstance,
      };
      const created = await withTimeout(api.createNamespacedEvent({ namespace: event.namespace, body }), requestTimeoutMs, `create event ${event.name}`);
      return fromApi(created, event);
    },
    async patch(event, patch) {
      const body = { count: patch.count, lastTimestamp: toIso(patch.lastTimestamp).toISOString(), message: patch.message };
      const patched = await withTimeout(api.patchNamespacedEvent({ name: event.name, namespace: event.namespace, body },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch)), requestTimeoutMs, `patch event ${event.name}`);
      return fromApi(patched, event);
    },
  };
}

export interface EventRecorderOptions {
  sink: EventSink;
  clock: Clock;
  logger: Logger;
  correlator: CorrelatorOptions;
  metrics?: KubernetesMetrics;
  /** Events waiting to be written beyond this are dropped (default 1000, client-go's queue). */
  maxQueued?: number;
  /** Writes tried per event when the API server does not answer or answers 429/5xx (default 12, 10 s apart, as client-go). */
  maxTries?: number;
  retryDelayMs?: number;
}

/**
 * Records Events in the background: `record` correlates at once (pure, from
 * the injected clock) and queues the write; one writer sends them in order
 * (a repeat's patch after the create it patches). A failed write never
 * touches the caller; failures are logged once per object until a write
 * about it succeeds again.
 */
export class EventRecorder {
  private readonly correlator: EventCorrelator;
  private readonly queue: EventWrite[] = [];
  private writing: Promise<void> | null = null;
  private stopped = false;
  private readonly failingObjects = new Set<string>();
  private wake: (() => void) | null = null;
  private readonly maxQueued: number;
  private readonly maxTries: number;
  private readonly retryDelayMs: number;

  constructor(private readonly o: EventRecorderOptions) {
    this.correlator = new EventCorrelator(o.correlator);
    this.maxQueued = o.maxQueued ?? 1000;
    this.maxTries = o.maxTries ?? 12;
    this.retryDelayMs = o.retryDelayMs ?? 10_000;
  }

  record(input: EventInput): void {
    if (this.stopped) return;
    const c = this.correlator.correlate(input, this.o.clock.now());
    if (c.action === 'drop') {
      this.count(input.reason, 'dropped');
      this.o.logger.debug({ object: `${input.object.namespace}/${input.object.name}`, reason: input.reason }, 'event dropped by the rate limit');
      return;
    }
    if (this.queue.length >= this.maxQueued) {
      this.count(input.reason, 'dropped');
      return;
    }
    this.queue.push(c);
    this.writing ??= this.drain().finally(() => {
      this.writing = null;
    });
  }

  /** Resolves once everything recorded so far was written or given up on. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  /** Stops writing: what is still queued is dropped, a retry wait ends now. */
  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
    this.wake?.();
  }

  private count(reason: string, result: 'sent' | 'dropped' | 'failed'): void {
    this.o.metrics?.events.inc({ reason, result });
  }

  private async drain(): Promise<void> {
    for (let next = this.queue.shift(); next && !this.stopped; next = this.queue.shift()) await this.write(next);
  }

  private async write(c: EventWrite): Promise<void> {
    const { event } = c;
    const object = `${event.involvedObject.kind} ${event.involvedObject.namespace}/${event.involvedObject.name}`;
    let patching = c.action === 'patch';
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        const written = patching && c.action === 'patch' ? await this.o.sink.patch(event, c.patch) : await this.o.sink.create({ ...event, resourceVersion: undefined });
        this.correlator.updateState(written);
        this.count(event.reason, 'sent');
        if (this.failingObjects.delete(object)) this.o.logger.info({ object }, 'events are written again');
        return;
      } catch (err) {
        this.o.metrics?.apiError(err);
        const status = statusOf(err);
        if (patching && status === 404) {
          // The Event expired (or was deleted): create it again, with its count, as client-go does.
          patching = false;
          attempt--;
          continue;
        }
        const retryable = status === undefined || status === 429 || status >= 500;
        if (!retryable || attempt >= this.maxTries) {
          this.count(event.reason, 'failed');
          if (!this.failingObjects.has(object)) {
            this.failingObjects.add(object);
            this.o.logger.warn({ object, reason: event.reason, status, err: (err as Error).message },
              `could not write an event about ${object}; further event failures about it are not logged until one succeeds`);
          }
          return;
        }
        await new Promise<void>((resolve) => {
          // The first wait is random, so replicas that lost the API server together do not retry in step.
          const timer = setTimeout(resolve, attempt === 1 ? Math.random() * this.retryDelayMs : this.retryDelayMs);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = null;
      }
    }
  }
}
