import { Writable } from 'node:stream';
import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import {
  AGGREGATE_PREFIX, type Correlation, EventCorrelator, type EventInput, type EventRecord, EventRecorder, type EventSink, MAX_MESSAGE_LENGTH, TokenBucket,
} from '../../src/k8s/events.js';
import { KubernetesMetrics } from '../../src/k8s/k8sMetrics.js';

const web = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'apps', name: 'web', uid: 'u-web' };
const api = { ...web, name: 'api', uid: 'u-api' };
const ev = (message: string, o: Partial<EventInput> = {}): EventInput => ({ object: web, type: 'Normal', reason: 'KPAScaled', message, ...o });

/** Feeds events at the given times; each step's expected action, count, and whether its message is the combined one. */
interface Step { at: number; input: EventInput; action: Correlation['action']; count?: number; combined?: boolean; sameEventAs?: number }

function runSteps(steps: Step[], options: Partial<ConstructorParameters<typeof EventCorrelator>[0]> = {}): void {
  const c = new EventCorrelator({ component: 'kpa', instance: 'kpa-0', ...options });
  const names: string[] = [];
  steps.forEach((s, i) => {
    const r = c.correlate(s.input, s.at);
    names.push(r.event.name);
    expect(r.action, `step ${i}`).toBe(s.action);
    if (s.count !== undefined) expect(r.event.count, `step ${i} count`).toBe(s.count);
    if (s.combined !== undefined) expect(r.event.message.startsWith(AGGREGATE_PREFIX), `step ${i} combined`).toBe(s.combined);
    if (s.sameEventAs !== undefined) expect(r.event.name, `step ${i} name`).toBe(names[s.sameEventAs]);
    if (r.action === 'patch') expect(r.patch).toEqual({ count: r.event.count, lastTimestamp: s.at, message: r.event.message });
    // What the API server would answer: the write lands under the same name.
    if (r.action !== 'drop') c.updateState({ ...r.event, resourceVersion: String(100 + i) });
  });
}

describe('EventCorrelator (client-go tools/record semantics, no I/O)', () => {
  const cases: { name: string; steps: Step[]; options?: Partial<ConstructorParameters<typeof EventCorrelator>[0]> }[] = [
    {
      name: 'an identical event patches the first one with count + 1, keeping its name and first timestamp',
      steps: [
        { at: 0, input: ev('scaled 1 → 5'), action: 'create', count: 1 },
        { at: 10, input: ev('scaled 1 → 5'), action: 'patch', count: 2, sameEventAs: 0 },
        { at: 20, input: ev('scaled 1 → 5'), action: 'patch', count: 3, sameEventAs: 0 },
      ],
    },
    {
      name: 'a different message, type, reason or object is a different Event',
      steps: [
        { at: 0, input: ev('scaled 1 → 5'), action: 'create' },
        { at: 1, input: ev('scaled 5 → 7'), action: 'create' },
        { at: 2, input: ev('scaled 1 → 5', { type: 'Warning' }), action: 'create' },
        { at: 3, input: ev('scaled 1 → 5', { reason: 'KPAConflict' }), action: 'create' },
        { at: 4, input: ev('scaled 1 → 5', { object: api }), action: 'create' },
        { at: 5, input: ev('scaled 1 → 5'), action: 'patch', count: 2, sameEventAs: 0 },
      ],
    },
    {
      name: 'the object\'s resourceVersion is not part of the key (a Deployment changes with every scale)',
      steps: [
        { at: 0, input: ev('x', { object: { ...web, resourceVersion: '1' } }), action: 'create' },
        { at: 1, input: ev('x', { object: { ...web, resourceVersion: '2' } }), action: 'patch', count: 2 },
      ],
    },
    {
      name: 'the 10th distinct message of one object and reason within 10 minutes starts a combined Event, later ones bump it',
      steps: [
        ...Array.from({ length: 9 }, (_, i): Step => ({ at: i, input: ev(`m${i}`), action: 'create', combined: false })),
        { at: 9, input: ev('m9'), action: 'create', combined: true, count: 1 },
        { at: 10, input: ev('m10'), action: 'patch', combined: true, count: 2, sameEventAs: 9 },
        { at: 11, input: ev('m0'), action: 'patch', combined: true, count: 3, sameEventAs: 9 },
      ],
    },
    {
      name: 'similar events more than 10 minutes apart start counting afresh',
      steps: [
        ...Array.from({ length: 9 }, (_, i): Step => ({ at: i, input: ev(`m${i}`), action: 'create', combined: false })),
        { at: 8 + 601, input: ev('m9'), action: 'create', combined: false },
      ],
    },
    {
      name: 'the token bucket: 25 at once, then one per 5 minutes, per object',
      steps: [
        ...Array.from({ length: 25 }, (_, i): Step => ({ at: 0, input: ev('same'), action: i === 0 ? 'create' : 'patch', count: i + 1 })),
        { at: 0, input: ev('same'), action: 'drop' },
        { at: 0, input: ev('same', { object: api }), action: 'create' }, // another object has its own bucket
        { at: 299, input: ev('same'), action: 'drop' },
        // The drops still counted: the next patch says it happened 28 times, as client-go's does.
        { at: 300, input: ev('same'), action: 'patch', count: 28 },
        { at: 301, input: ev('same'), action: 'drop' },
        { at: 600, input: ev('same'), action: 'patch', count: 30 },
      ],
    },
    {
      name: 'a smaller burst and faster refill are honoured',
      options: { burst: 2, qps: 1 },
      steps: [
        { at: 0, input: ev('a'), action: 'create' },
        { at: 0, input: ev('b'), action: 'create' },
        { at: 0, input: ev('c'), action: 'drop' },
        { at: 1, input: ev('c'), action: 'patch', count: 2 },
      ],
    },
  ];
  for (const c of cases) it(c.name, () => runSteps(c.steps, c.options));

  it('fills in the Event as kubectl describe shows it, and truncates long messages', () => {
    const c = new EventCorrelator({ component: 'kpa', instance: 'kpa-0' });
    const r = c.correlate(ev('x'.repeat(5000)), 1_700_000_000.5);
    expect(r.event).toMatchObject({
      namespace: 'apps', involvedObject: web, type: 'Normal', reason: 'KPAScaled', count: 1,
      firstTimestamp: 1_700_000_000.5, lastTimestamp: 1_700_000_000.5,
      source: { component: 'kpa', host: 'kpa-0' }, reportingComponent: 'kpa', reportingInstance: 'kpa-0',
    });
    expect(r.event.message.length).toBe(MAX_MESSAGE_LENGTH);
    expect(r.event.name).toMatch(/^web\.[0-9a-f]+$/);
  });

  it('never names two Events alike, even when the clock stands still', () => {
    const c = new EventCorrelator({ component: 'kpa', instance: 'kpa-0', burst: 1000 });
    const names = new Set(Array.from({ length: 50 }, (_, i) => c.correlate(ev(`m${i}`, { reason: `R${i}` }), 5).event.name));
    expect(names.size).toBe(50);
  });

  it('TokenBucket refills continuously up to its burst', () => {
    const b = new TokenBucket(2, 0.5, 0);
    expect([b.tryAccept(0), b.tryAccept(0), b.tryAccept(0)]).toEqual([true, true, false]);
    expect(b.tryAccept(1)).toBe(false); // half a token
    expect(b.tryAccept(2)).toBe(true);
    expect([b.tryAccept(100), b.tryAccept(100), b.tryAccept(100)]).toEqual([true, true, false]); // never more than the burst
  });
});

/** A sink that stores Events as the API server would, failing as told. */
class MemorySink implements EventSink {
  readonly events = new Map<string, EventRecord>();
  readonly calls: string[] = [];
  failures: (number | 'network')[] = [];
  gate: Promise<void> | null = null;

  private async maybeFail(): Promise<void> {
    if (this.gate) await this.gate;
    const f = this.failures.shift();
    if (f === 'network') throw new Error('connect ECONNREFUSED');
    if (f !== undefined) throw Object.assign(new Error(`HTTP ${f}`), { code: f });
  }

  async create(event: EventRecord): Promise<EventRecord> {
    this.calls.push(`create ${event.name}`);
    await this.maybeFail();
    if (this.events.has(event.name)) throw Object.assign(new Error('exists'), { code: 409 });
    const stored = { ...event, resourceVersion: '1' };
    this.events.set(event.name, stored);
    return stored;
  }

  async patch(event: EventRecord, patch: { count: number; lastTimestamp: number; message: string }): Promise<EventRecord> {
    this.calls.push(`patch ${event.name}`);
    await this.maybeFail();
    const existing = this.events.get(event.name);
    if (!existing) throw Object.assign(new Error('not found'), { code: 404 });
    const stored = { ...existing, ...patch, resourceVersion: String(Number(existing.resourceVersion) + 1) };
    this.events.set(event.name, stored);
    return stored;
  }
}

function capture() {
  const out: string[] = [];
  const stream = new Writable({ write(chunk: Buffer, _e, done) { out.push(chunk.toString()); done(); } });
  return { logger: pino({ level: 'info' }, stream), lines: () => out.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: number; msg: string }) };
}

function recorder(sink: MemorySink, clock = new ManualClock(1000)) {
  const log = capture();
  const registry = new Registry();
  const metrics = new KubernetesMetrics(registry);
  const r = new EventRecorder({ sink, clock, logger: log.logger, metrics, correlator: { component: 'kpa', instance: 'kpa-0' }, retryDelayMs: 5, maxTries: 3 });
  const count = async (result: string) => (await metrics.events.get()).values.filter((v) => v.labels.result === result).reduce((s, v) => s + v.value, 0);
  return { r, log, metrics, count, clock };
}

describe('EventRecorder', () => {
  it('writes in the background, in order: a repeat becomes a patch of the Event its create wrote', async () => {
    const sink = new MemorySink();
    let open!: () => void;
    sink.gate = new Promise((resolve) => (open = resolve));
    const { r, count } = recorder(sink);
    r.record(ev('scaled 1 → 5'));
    r.record(ev('scaled 1 → 5'));
    expect(sink.events.size).toBe(0); // record() returned before anything was written
    open();
    await r.flush();
    expect(sink.calls.map((c) => c.split(' ')[0])).toEqual(['create', 'patch']);
    expect([...sink.events.values()]).toMatchObject([{ count: 2, message: 'scaled 1 → 5' }]);
    expect(await count('sent')).toBe(2);
  });

  it('re-creates an Event that expired, with its count, when the patch finds it gone', async () => {
    const sink = new MemorySink();
    const { r } = recorder(sink);
    r.record(ev('x'));
    await r.flush();
    sink.events.clear(); // the API server dropped it after its TTL
    r.record(ev('x'));
    await r.flush();
    expect(sink.calls.map((c) => c.split(' ')[0])).toEqual(['create', 'patch', 'create']);
    expect([...sink.events.values()]).toMatchObject([{ count: 2 }]);
  });

  it('retries an unanswered write, gives up on a rejected one, and logs failures once per object until one succeeds', async () => {
    const sink = new MemorySink();
    const { r, log, count, metrics } = recorder(sink);
    sink.failures = ['network', 503];
    r.record(ev('a'));
    await r.flush();
    expect(sink.events.size).toBe(1); // third try
    sink.failures = [403, 403, 403];
    r.record(ev('b'));
    r.record(ev('c'));
    r.record(ev('d', { object: api }));
    await r.flush();
    expect(await count('failed')).toBe(3);
    const warnings = log.lines().filter((l) => l.level === 40);
    expect(warnings.map((w) => w.msg)).toEqual([expect.stringContaining('Deployment apps/web'), expect.stringContaining('Deployment apps/api')]);
    r.record(ev('e'));
    await r.flush();
    expect(log.lines().some((l) => l.level === 30 && /written again/.test(l.msg))).toBe(true);
    sink.failures = [403];
    r.record(ev('f'));
    await r.flush();
    expect(log.lines().filter((l) => l.level === 40)).toHaveLength(3); // a new episode is logged again
    const codes = (await metrics.apiErrors.get()).values.map((v) => [v.labels.code, v.value]);
    expect(Object.fromEntries(codes)).toEqual({ network: 1, 503: 1, 403: 4 });
  });

  it('counts what the rate limit drops, and record() never throws', async () => {
    const sink = new MemorySink();
    const { r, count, clock } = recorder(sink);
    for (let i = 0; i < 30; i++) r.record(ev('same'));
    await r.flush();
    expect(await count('dropped')).toBe(5);
    expect([...sink.events.values()]).toMatchObject([{ count: 25 }]);
    clock.advance(300);
    r.record(ev('same'));
    await r.flush();
    expect([...sink.events.values()]).toMatchObject([{ count: 31 }]); // the drops are in the count, as client-go's
    r.stop();
    expect(() => r.record(ev('after stop'))).not.toThrow();
  });
});
