import type { Clock } from '../clock.js';
import { resolveRevision, type ResolvedRevision, type RevisionSettings } from '../config/revisionConfig.js';
import type { Decision, ScaleResult } from '../decider/decider.js';
import { MultiScaler, type RevisionAutoscaler } from '../decider/multiScaler.js';
import type { Logger } from '../log.js';
import type { WindowValues } from '../metrics/collection.js';
import { keyString, type RevisionKey } from '../metrics/revisionKey.js';
import type { PodTarget } from '../metrics/scraper.js';
import type { ScrapeTarget } from '../metrics/scrapeLoop.js';
import type { ScrapeTimeliness } from '../metrics/scrapeTimeliness.js';
import type { Stat } from '../metrics/stat.js';
import type { Recorder } from '../recording/recorder.js';
import { type DecisionBasis, DecisionHistory, sameScale, type ScaleStatus, type StoredDecision } from './decisionHistory.js';
import { explainDecision } from './explain.js';
import { unknownKeyWarnings } from '../config/unknownKeys.js';

/** A decision as kept in a revision's history: the decider's result, why, and what the scaler made of it. */
export interface DecisionRecord {
  t: number;
  result: ScaleResult;
  explanation: string;
  /** The scaler's view right after this decision, where a mode applies decisions. */
  scale?: ScaleStatus | null;
  /**
   * Consecutive identical "no data" decisions are kept as one record: the
   * first one's time is `since`, the latest is `t` (an idle revision's
   * history stays a few bytes, not ten minutes of copies).
   */
  since?: number;
}

/**
 * The Knative Configuration and Service a revision belongs to, as its
 * metrics are labelled (`configuration_name`/`kn_configuration_name`,
 * `service_name`/`kn_service_name`), so that dashboards filtering on them work.
 */
export interface RevisionNames {
  configuration: string;
  /** '' when none is known (Knative leaves it empty too; its ≤ 1.18 metrics said "unknown"). */
  service: string;
}

/** Knative's labels on a Revision (and on the pods and Deployment it makes). */
export const CONFIGURATION_LABEL = 'serving.knative.dev/configuration';
export const SERVICE_LABEL = 'serving.knative.dev/service';

/**
 * A revision's names from its (or its Deployment's) labels: Knative's
 * `serving.knative.dev/configuration` and `serving.knative.dev/service` where
 * present. A plain Deployment is its own configuration (it has one revision at
 * a time, rolled in place), so its name is the configuration's; it has no
 * Knative Service.
 */
export function revisionNamesFromLabels(name: string, labels?: Readonly<Record<string, string>>): RevisionNames {
  return { configuration: labels?.[CONFIGURATION_LABEL] || name, service: labels?.[SERVICE_LABEL] ?? '' };
}

/** Everything about one revision the API and the dashboard show. */
export interface RevisionSnapshot {
  namespace: string;
  name: string;
  /** Its Knative configuration and service (metric labels). */
  names: RevisionNames;
  settings: RevisionSettings;
  spec: ResolvedRevision['decider'];
  windows: { stableWindowSeconds: number; panicWindowSeconds: number; aggregationAlgorithm: string; scraped: boolean };
  readyPods: number;
  /** The decider's latest valid desired count; -1 before the first. */
  desiredScale: number;
  excessBurstCapacity: number;
  latest: DecisionRecord | null;
  /** The window values right now, of the scaling metric and the other one. */
  concurrency: WindowValues;
  rps: WindowValues;
  /** Whether an activator has reported stats for this revision over the websocket. */
  activatorSeen: boolean;
  /**
   * Where the revision's load is measured: queue-proxy on each pod (scraped,
   * plus whatever an activator reports), or only the activator in front of it
   * (`kpa activator`: its pods are not scraped).
   */
  metricsSource: MetricsSource;
  podCount: number;
  /** What the scaler made of the decision, where a mode applies decisions (Kubernetes, embedded). */
  scale: ScaleStatus | null;
  /**
   * The service's change sequence number at this revision's latest change a
   * reader can see (settings, pods, scale status, or a tick whose decision or
   * window values differ from the previous tick's). A tick that repeats the
   * same "no data" is not a change: an idle revision keeps its number.
   */
  changeSeq: number;
  /** When that change happened (clock seconds). */
  changedAt: number;
  /** How timely its scrapes were lately, where the live service scrapes it. */
  scrape?: ScrapeTimeliness;
}

export type { ScaleStatus } from './decisionHistory.js';

/** Receives every tick's decision; the Kubernetes adapter or a simulated deployment applies it. */
export type DecisionListener = (key: RevisionKey, decision: DecisionRecord, scaler: RevisionAutoscaler) => void;

/** queue-proxy: pods are scraped (Knative's way); activator: the activator in front reports all the load. */
export type MetricsSource = 'queue-proxy' | 'activator';

interface Entry {
  key: RevisionKey;
  names: RevisionNames;
  settings: RevisionSettings;
  pods: PodTarget[];
  history: DecisionHistory;
  /** What the latest decisions were made under; a new object when the revision's spec changes. */
  basis: DecisionBasis;
  activatorSeen: boolean;
  /** When an activator's stat last arrived (clock seconds); -Infinity before the first. */
  lastActivatorStatAt: number;
  metricsSource: MetricsSource;
  scale: ScaleStatus | null;
  changeSeq: number;
  changedAt: number;
  /**
   * The latest tick's decision and the window values of the metric it does
   * not scale on (the decision holds the other's), to tell whether the next
   * tick changed anything.
   */
  lastTick: { result: ScaleResult; otherMetric: WindowValues } | null;
  /** Whether a stat arrived since the latest tick: without one, empty windows stay empty. */
  statsSinceTick: boolean;
}

/** A revision's removal, kept so that a stream client behind it still learns of it. */
interface Removal {
  seq: number;
  key: RevisionKey;
}

/** Removals kept for stream clients; one further behind gets a fresh start instead. */
const MAX_REMOVALS = 10_000;

/** What changed since a reader's cursor: the revisions with a later change, and those removed. */
export interface ChangesSince {
  /** The cursor to pass next time. */
  seq: number;
  changed: readonly RevisionSnapshot[];
  removed: readonly RevisionKey[];
}

export interface AutoscalerServiceOptions {
  clock: Clock;
  logger: Logger;
  recorder?: Recorder;
  /** How long decisions are kept per revision (seconds; default 600, the last 10 minutes). */
  historySeconds?: number;
}

/**
 * The live autoscaler's state, without timers or sockets: revisions with
 * their pods, the multiscaler, each revision's recent decisions. Adapters
 * (stat server, scrape loop, tick timer, Kubernetes informers, the embedded
 * demo) call into it; everything it sees can be written to a recording.
 */
export class AutoscalerService {
  readonly scalers = new MultiScaler();
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<DecisionListener>();
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly recorder: Recorder | undefined;
  private readonly historySeconds: number;
  /** Bumped by every change a reader can see except window values; the read views are rebuilt when it moves. */
  private epoch = 0;
  private view: ReadView | null = null;
  /** Numbers every change a reader can see (see RevisionSnapshot.changeSeq); removals take one too. */
  private changeSeq = 0;
  private readonly removals: Removal[] = [];
  /** Removals up to this sequence number have been forgotten (MAX_REMOVALS). */
  private removalsForgottenUpTo = 0;
  private readonly unknownLogged = new Set<string>();
  /** Unknown config keys and annotations already logged: the shared ConfigMap's once, a revision's own once per revision. */
  private readonly unknownKeysLogged = new Set<string>();
  /** Stats dropped because no revision of that name is known. */
  unknownRevisionStats = 0;
  /** Each scraped revision's recent scrape timeliness, for its snapshot (set by the live service's scrape loop). */
  scrapeTimeliness: ((key: RevisionKey) => ScrapeTimeliness | undefined) | null = null;

  constructor(options: AutoscalerServiceOptions) {
    this.clock = options.clock;
    this.logger = options.logger;
    this.recorder = options.recorder;
    this.historySeconds = options.historySeconds ?? 600;
  }

  /** Knative ignores config keys and annotations it does not know, and so does kpa: with a warning, since a typo leaves a default in force. */
  private warnUnknownKeys(key: RevisionKey, settings: RevisionSettings): void {
    for (const w of unknownKeyWarnings(settings)) {
      const once = w.in === 'config-autoscaler' ? w.message : `${keyString(key)} ${w.message}`;
      if (this.unknownKeysLogged.has(once) || this.unknownKeysLogged.size >= 10_000) continue;
      this.unknownKeysLogged.add(once);
      this.logger.warn({ namespace: key.namespace, revision: key.name, key: w.key }, w.message);
    }
  }

  /**
   * Creates or updates a revision; `settings.config` carries the
   * config-autoscaler data, so a recording holds all a replay needs. Throws
   * ConfigError (naming the key) and keeps the old spec then. A new
   * revision's ready pods can be given: as in Knative, a decider created with
   * more than one ready pod starts in panic holding them, so a restarted
   * autoscaler never scales a busy revision down on its first empty windows.
   * `names` label its metrics (default: its own name as the configuration, no
   * service; see revisionNamesFromLabels).
   */
  upsertRevision(
    key: RevisionKey, settings: RevisionSettings, initialPods: readonly PodTarget[] = [], metricsSource: MetricsSource = 'queue-proxy',
    names: RevisionNames = revisionNamesFromLabels(key.name),
  ): ResolvedRevision {
    const resolved = resolveRevision(settings);
    const now = this.clock.now();
    const k = keyString(key);
    this.warnUnknownKeys(key, settings);
    const existing = this.entries.get(k);
    const ready = existing ? existing.pods.length : initialPods.length;
    this.recorder?.revision(now, key, settings, existing ? undefined : ready);
    this.scalers.upsert(key, resolved, now, existing ? undefined : ready);
    const basis = basisOf(this.scalers.get(key)!.resolved);
    this.epoch++;
    if (existing) {
      existing.names = { ...names };
      existing.settings = settings;
      existing.metricsSource = metricsSource;
      existing.basis = basis;
      this.changed(existing, now);
    } else {
      this.entries.set(k, {
        key: { namespace: key.namespace, name: key.name }, names: { ...names }, settings, pods: [...initialPods],
        history: new DecisionHistory(this.historySeconds), basis,
        activatorSeen: false, lastActivatorStatAt: -Infinity, metricsSource, scale: null,
        changeSeq: ++this.changeSeq, changedAt: now, lastTick: null, statsSinceTick: false,
      });
    }
    this.unknownLogged.delete(k);
    return resolved;
  }

  deleteRevision(key: RevisionKey): boolean {
    const k = keyString(key);
    this.scalers.delete(key);
    this.epoch++;
    const entry = this.entries.get(k);
    if (!entry) return false;
    this.entries.delete(k);
    this.removals.push({ seq: ++this.changeSeq, key: entry.key });
    if (this.removals.length > MAX_REMOVALS) this.removalsForgottenUpTo = this.removals.splice(0, this.removals.length - MAX_REMOVALS).at(-1)!.seq;
    return true;
  }

  /** Gives the revision the next change number: stream clients send it again, activity sorts it first. */
  private changed(entry: Entry, now = this.clock.now()): void {
    entry.changeSeq = ++this.changeSeq;
    entry.changedAt = now;
  }

  has(key: RevisionKey): boolean {
    return this.entries.has(keyString(key));
  }

  /** The revision's ready pods (their metrics URLs); the ready count follows. */
  setPods(key: RevisionKey, pods: readonly PodTarget[]): void {
    const entry = this.entries.get(keyString(key));
    if (!entry) return;
    if (entry.pods.length !== pods.length) {
      this.epoch++;
      this.changed(entry);
    }
    entry.pods = [...pods];
    this.setReadyCount(key, pods.length);
  }

  /** Sets the ready count alone (for revisions whose pods are not scraped). */
  setReadyCount(key: RevisionKey, ready: number): void {
    const scaler = this.scalers.get(key);
    if (!scaler || scaler.readyPods === ready) return;
    this.epoch++;
    const entry = this.entries.get(keyString(key));
    if (entry) this.changed(entry);
    this.recorder?.ready(this.clock.now(), key, ready);
    scaler.readyPods = ready;
  }

  /**
   * Records a stat at the clock's now. An activator's stat showing load for
   * a revision last scaled to zero decides it at once (Knative pokes from its
   * stat server only), not at the next tick.
   */
  recordStat(key: RevisionKey, stat: Stat, source: 'activator' | 'scraper'): boolean {
    const k = keyString(key);
    const entry = this.entries.get(k);
    if (!entry) {
      this.unknownRevisionStats++;
      if (!this.unknownLogged.has(k)) {
        this.unknownLogged.add(k);
        this.logger.warn({ namespace: key.namespace, revision: key.name, source }, 'dropping stats for an unknown revision');
      }
      return false;
    }
    const now = this.clock.now();
    if (source === 'activator') {
      if (!entry.activatorSeen) {
        this.epoch++;
        this.changed(entry, now);
      }
      entry.activatorSeen = true;
      entry.lastActivatorStatAt = now;
    }
    entry.statsSinceTick = true;
    this.recorder?.stat(now, key, stat);
    if (this.scalers.record(key, now, stat) && source === 'activator') this.tickRevision(key);
    return true;
  }

  /** Runs every revision's decider at the same now (the 2 s tick). */
  tick(): void {
    this.epoch++;
    for (const entry of this.entries.values()) this.tickRevision(entry.key);
  }

  tickRevision(key: RevisionKey): DecisionRecord | null {
    const entry = this.entries.get(keyString(key));
    const scaler = this.scalers.get(key);
    if (!entry || !scaler) return null;
    const now = this.clock.now();
    this.epoch++;
    this.recorder?.tick(now, key);
    const result = scaler.tick(now);
    const record: DecisionRecord = {
      t: now,
      result,
      explanation: explainDecision(result, entry.basis.spec, entry.basis.panicWindowSeconds),
    };
    const previous = entry.lastTick?.result;
    if (result.valid && (!previous?.valid || changed(previous, result))) {
      this.logger.info({ namespace: key.namespace, revision: key.name, desiredPods: result.desiredPodCount, panic: result.panic }, record.explanation);
    }
    const last = entry.lastTick;
    // An idle revision's windows are read only once: no stat since, and empty before, they are empty still.
    const otherMetric = last && !last.otherMetric.ok && !entry.statsSinceTick ? last.otherMetric
      : scaler.resolved.decider.scalingMetric === 'rps' ? scaler.collection.stableAndPanicConcurrency(now) : scaler.collection.stableAndPanicRps(now);
    if (!last || !sameResult(last.result, result) || !sameWindows(last.otherMetric, otherMetric)) this.changed(entry, now);
    entry.lastTick = { result, otherMetric };
    entry.statsSinceTick = false;
    for (const listener of this.listeners) listener(key, record, scaler);
    record.scale = entry.scale;
    entry.history.push(now, result, entry.basis, entry.scale);
    return record;
  }

  onDecision(listener: DecisionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Revisions with pods to scrape: not those with target-burst-capacity -1
   * (as Knative, the activator reports those), nor those whose metrics source
   * is the activator (`kpa activator` in front of a plain Deployment).
   */
  *scrapeTargets(): Iterable<ScrapeTarget> {
    for (const entry of this.entries.values()) {
      const scaler = this.scalers.get(entry.key);
      if (!scaler || !scaler.resolved.metric.scraped || entry.metricsSource === 'activator' || entry.pods.length === 0) continue;
      yield { key: entry.key, pods: entry.pods, stableWindowSeconds: scaler.resolved.metric.stableWindowSeconds };
    }
  }

  snapshot(key: RevisionKey): RevisionSnapshot | undefined {
    const entry = this.entries.get(keyString(key));
    const scaler = this.scalers.get(key);
    if (!entry || !scaler) return undefined;
    const now = this.clock.now();
    const scrape = this.scrapeTimeliness?.(entry.key);
    return {
      namespace: entry.key.namespace,
      name: entry.key.name,
      names: entry.names,
      settings: entry.settings,
      spec: scaler.resolved.decider,
      windows: { ...scaler.resolved.metric },
      readyPods: scaler.readyPods,
      desiredScale: scaler.desiredScale,
      excessBurstCapacity: scaler.excessBurstCapacity,
      latest: withExplanation(entry.history.latest()),
      concurrency: scaler.collection.stableAndPanicConcurrency(now),
      rps: scaler.collection.stableAndPanicRps(now),
      activatorSeen: entry.activatorSeen,
      metricsSource: entry.metricsSource,
      podCount: entry.pods.length,
      scale: entry.scale,
      changeSeq: entry.changeSeq,
      changedAt: entry.changedAt,
      ...(scrape ? { scrape } : {}),
    };
  }

  setScaleStatus(key: RevisionKey, status: ScaleStatus): void {
    const entry = this.entries.get(keyString(key));
    if (!entry || sameScale(entry.scale, status)) return;
    this.epoch++;
    this.changed(entry);
    entry.scale = status;
  }

  activatorSeen(key: RevisionKey): boolean {
    return this.entries.get(keyString(key))?.activatorSeen ?? false;
  }

  metricsSource(key: RevisionKey): MetricsSource | undefined {
    return this.entries.get(keyString(key))?.metricsSource;
  }

  scaleStatus(key: RevisionKey): ScaleStatus | null {
    return this.entries.get(keyString(key))?.scale ?? null;
  }

  /** Whether an activator's stat arrived within the last `seconds` (kpa activator reports every target every second). */
  activatorReporting(key: RevisionKey, seconds: number): boolean {
    const entry = this.entries.get(keyString(key));
    return entry !== undefined && this.clock.now() - entry.lastActivatorStatAt <= seconds;
  }

  /** Every revision right now, window values included. */
  snapshots(): RevisionSnapshot[] {
    return [...this.entries.values()].map((e) => this.snapshot(e.key)!);
  }

  /**
   * Every revision as of the last change a reader can see (a tick, a new
   * revision, pods, scale status): built at most once between two such
   * changes however many read it, so 500 concurrent API or /metrics readers
   * cost one build. Window values in it are the ones at the build.
   */
  readView(): ReadView {
    if (this.view?.epoch !== this.epoch) this.view = { epoch: this.epoch, seq: this.changeSeq, snapshots: this.snapshots() };
    return this.view;
  }

  /**
   * What a reader who has seen everything up to change `seq` (a previous
   * answer's `seq`) has not: the revisions changed since, from the read view,
   * and the keys removed since. Null when removals that far back are
   * forgotten: the reader must start afresh.
   */
  changesSince(seq: number): ChangesSince | null {
    if (seq < this.removalsForgottenUpTo) return null;
    const view = this.readView();
    const changed = view.snapshots.filter((s) => s.changeSeq > seq);
    const removed: RevisionKey[] = [];
    for (let i = this.removals.length - 1; i >= 0 && this.removals[i].seq > seq; i--) removed.push(this.removals[i].key);
    return { seq: view.seq, changed, removed: removed.reverse() };
  }

  /** The revision's decisions of the last `historySeconds`, oldest first. */
  history(key: RevisionKey): DecisionRecord[] {
    const entry = this.entries.get(keyString(key));
    if (!entry) return [];
    entry.history.prune(this.clock.now());
    return entry.history.records().map((d) => withExplanation(d)!);
  }
}

/** Every revision as of one epoch; `seq` is the latest change it includes. */
export interface ReadView {
  epoch: number;
  seq: number;
  snapshots: readonly RevisionSnapshot[];
}

function sameResult(a: ScaleResult, b: ScaleResult): boolean {
  if (!a.valid || !b.valid) return !a.valid && !b.valid && a.reason === b.reason;
  return a.desiredPodCount === b.desiredPodCount && a.excessBurstCapacity === b.excessBurstCapacity && a.panic === b.panic
    && Object.is(a.stableValue, b.stableValue) && Object.is(a.panicValue, b.panicValue) && a.readyPods === b.readyPods && a.delayedFrom === b.delayedFrom;
}

function sameWindows(a: WindowValues, b: WindowValues): boolean {
  if (!a.ok || !b.ok) return !a.ok && !b.ok && a.reason === b.reason;
  return Object.is(a.stable, b.stable) && Object.is(a.panic, b.panic);
}

function basisOf(resolved: ResolvedRevision): DecisionBasis {
  return { spec: resolved.decider, panicWindowSeconds: resolved.metric.panicWindowSeconds };
}

function withExplanation(d: StoredDecision | null): DecisionRecord | null {
  if (d === null) return null;
  const record: DecisionRecord = {
    t: d.t, result: d.result, explanation: explainDecision(d.result, d.basis.spec, d.basis.panicWindowSeconds), scale: d.scale,
  };
  if (d.since !== undefined) record.since = d.since;
  return record;
}

function changed(a: Decision, b: Decision): boolean {
  return a.desiredPodCount !== b.desiredPodCount || a.panic !== b.panic;
}
