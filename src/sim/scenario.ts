import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CONFIG_KEYS } from '../config/autoscalerConfig.js';
import { ConfigError } from '../config/errors.js';
import { NANOS_PER_SECOND, parseGoDurationNanos } from '../config/goParse.js';
import { resolveRevision, type RevisionSettings } from '../config/revisionConfig.js';
import { isMap, toStringMap } from '../config/stringMap.js';
import { type DistributionSpec, lognormalParameters } from './distribution.js';
import { FormulaError, formulaRates } from './formula.js';
import { fileLines, type LineSource } from './lineReader.js';
import { Random } from './random.js';
import { type Azure2019Function, azure2019Busiest, azure2019DurationPercentiles, azure2019PerMinute, parseTimestampCsv, readAzure2021, type Spread, SPREADS, spreadPerMinute, TraceError } from './traces.js';
import type { RateSpec, WorkloadSpec } from './workload.js';
import { DEFAULT_DOWNSCALE_STABILIZATION_SECONDS, DEFAULT_TOLERANCE, defaultScaleDownRules, defaultScaleUpRules, type HpaBehavior, type HpaScalingRules } from '../scaler/hpa.js';

/** A scenario mistake; `path` names the field, e.g. `revisions[0].workload.spikes.peak`. */
export class ScenarioError extends Error {
  constructor(readonly path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = 'ScenarioError';
  }
}

export interface PodModel {
  coldStart: DistributionSpec;
  schedulingDelay: DistributionSpec;
  /** Seconds a terminating pod may take to finish its requests. */
  terminationGracePeriod: number;
  /** Cores: the requests in service share them (processor sharing), each using at most one. */
  cpu: number;
  /** Requests queue-proxy queues beyond containerConcurrency before answering 503 (Knative: 10 × cc; unused at cc 0). */
  queueDepth: number;
}

export interface SimRevision {
  namespace: string;
  name: string;
  settings: RevisionSettings;
  workload: WorkloadSpec;
  serviceTime: DistributionSpec;
  pod: PodModel;
  /** Seconds a request may wait in the activator before it fails. */
  activatorTimeout: number;
  /** Requests the activator buffers before answering 503 (Knative: no practical limit, Infinity). */
  activatorQueueDepth: number;
  /** How the ingress picks a pod when the activator is not in the path (kube-proxy: random). */
  routing: 'random' | 'round-robin';
}

export interface HpaPolicySpec {
  metric: 'concurrency' | 'utilization';
  /** Per-pod target: concurrent requests (`averageValue`), or busy time in percent of the request for utilization (`averageUtilization`, an integer). */
  target: number;
  minReplicas: number;
  maxReplicas: number;
  /** The controller's --horizontal-pod-autoscaler-tolerance (`tolerance`, default 0.1). */
  tolerance: number;
  /** The controller's --horizontal-pod-autoscaler-downscale-stabilization (`scaleDownStabilization`, default 300 s). */
  downscaleStabilizationSeconds: number;
  /**
   * `behavior` with Kubernetes' defaults filled in, or null when the scenario
   * gives none: the controller then takes its nil-behavior path (scale-up
   * capped at max(2 × current, 4) per sync, no scale-down rate limit), not
   * the behavior defaults.
   */
  behavior: HpaBehavior | null;
}

export type PolicySpec =
  | { name: string; kind: 'kpa'; config: Record<string, string>; annotations: Record<string, string> }
  | { name: string; kind: 'hpa'; hpa: HpaPolicySpec }
  | { name: string; kind: 'fixed'; replicas: number };

export interface Scenario {
  name: string;
  duration: number;
  seed: number;
  revisions: SimRevision[];
  policies: PolicySpec[];
  /** Price of one pod for an hour (any currency): reports show pod-hours × this as cost. Unset: no cost column. */
  costPerPodHour?: number;
}

type Obj = Record<string, unknown>;

function obj(v: unknown, path: string, allowed: readonly string[]): Obj {
  if (!isMap(v)) throw new ScenarioError(path, 'must be a map');
  for (const k of Object.keys(v)) if (!allowed.includes(k)) throw new ScenarioError(`${path}.${k}`, `unknown key (expected one of ${allowed.join(', ')})`);
  return v;
}

function num(v: unknown, path: string, rule: { min?: number; gt?: number; integer?: boolean } = {}): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ScenarioError(path, `must be a number, got ${JSON.stringify(v)}`);
  if (rule.integer && !Number.isInteger(v)) throw new ScenarioError(path, `must be a whole number, got ${v}`);
  if (rule.min !== undefined && v < rule.min) throw new ScenarioError(path, `must be ≥ ${rule.min}, got ${v}`);
  if (rule.gt !== undefined && v <= rule.gt) throw new ScenarioError(path, `must be > ${rule.gt}, got ${v}`);
  return v;
}

/** Seconds: a number, or a Go duration such as "90s" or "1h30m". */
function seconds(v: unknown, path: string, positive = false): number {
  let s: number;
  if (typeof v === 'string') {
    const nanos = parseGoDurationNanos(v);
    if (nanos === undefined) throw new ScenarioError(path, `must be seconds or a duration such as "90s", got ${JSON.stringify(v)}`);
    s = Number(nanos) / Number(NANOS_PER_SECOND);
  } else s = num(v, path);
  if (s < 0 || (positive && s === 0)) throw new ScenarioError(path, `must be ${positive ? 'positive' : '≥ 0'}, got ${s}`);
  return s;
}

const MAX_DURATION_SECONDS = 31 * 86_400;

const strings = (v: unknown, path: string) => toStringMap(v, path, (p, m) => new ScenarioError(p, m));

/** config-autoscaler data: Knative ignores keys it does not know, but in a scenario one is a typo. */
function configMap(v: unknown, path: string): Record<string, string> {
  const data = strings(v, path);
  for (const key of Object.keys(data)) {
    if (!CONFIG_KEYS.includes(key)) throw new ScenarioError(`${path}.${key}`, `unknown config-autoscaler key (expected one of ${CONFIG_KEYS.join(', ')})`);
  }
  return data;
}

function oneKey(v: unknown, path: string, kinds: readonly string[]): [string, unknown] {
  const o = obj(v, path, kinds);
  const keys = Object.keys(o);
  if (keys.length !== 1) throw new ScenarioError(path, `must have exactly one of ${kinds.join(', ')}`);
  return [keys[0], o[keys[0]]];
}

function distribution(v: unknown, path: string): DistributionSpec {
  if (typeof v === 'number' || typeof v === 'string') return { constant: seconds(v, path) };
  const [kind, body] = oneKey(v, path, ['constant', 'exponential', 'lognormal', 'empirical']);
  const p = `${path}.${kind}`;
  switch (kind) {
    case 'constant': return { constant: seconds(body, p) };
    case 'exponential': return { exponential: { mean: seconds(obj(body, p, ['mean']).mean, `${p}.mean`, true) } };
    case 'lognormal': {
      const o = obj(body, p, ['mean', 'p99']);
      const mean = seconds(o.mean, `${p}.mean`, true);
      const p99 = seconds(o.p99, `${p}.p99`, true);
      try {
        lognormalParameters(mean, p99);
      } catch (err) {
        throw new ScenarioError(`${p}.p99`, (err as Error).message);
      }
      return { lognormal: { mean, p99 } };
    }
    default: {
      if (!Array.isArray(body) || body.length === 0) throw new ScenarioError(p, 'must be a non-empty list of seconds');
      return { empirical: body.map((x, i) => seconds(x, `${p}[${i}]`)) };
    }
  }
}

const RATE_KINDS = ['constant', 'step', 'ramp', 'sine', 'spikes', 'onOff', 'sum', 'rate'] as const;

/** `rate: 50` or `rate: "FORMULA"` (evaluated for each second of the scenario's `horizon`). */
function formulaRate(v: unknown, path: string, horizon: number): RateSpec {
  if (typeof v === 'number') return { constant: { rate: num(v, path, { min: 0 }) } };
  if (typeof v !== 'string') throw new ScenarioError(path, `must be a number or a formula such as "50 + 30*sin(2*pi*t/86400)", got ${JSON.stringify(v)}`);
  try {
    return { formula: { expression: v, perSecond: formulaRates(v, horizon) } };
  } catch (err) {
    if (err instanceof FormulaError) throw new ScenarioError(path, err.message);
    throw err;
  }
}

function rate(v: unknown, path: string, horizon: number): RateSpec {
  const [kind, body] = oneKey(v, path, RATE_KINDS);
  const p = `${path}.${kind}`;
  if (kind === 'rate') return formulaRate(body, p, horizon);
  const r = (o: Obj, k: string) => num(o[k], `${p}.${k}`, { min: 0 });
  const s = (o: Obj, k: string, positive = false) => seconds(o[k], `${p}.${k}`, positive);
  switch (kind) {
    case 'constant': { const o = obj(body, p, ['rate']); return { constant: { rate: r(o, 'rate') } }; }
    case 'step': { const o = obj(body, p, ['from', 'to', 'at']); return { step: { from: r(o, 'from'), to: r(o, 'to'), at: s(o, 'at') } }; }
    case 'ramp': {
      const o = obj(body, p, ['from', 'to', 'start', 'end']);
      const start = s(o, 'start');
      const end = s(o, 'end');
      if (end <= start) throw new ScenarioError(`${p}.end`, `must be after start (${start})`);
      return { ramp: { from: r(o, 'from'), to: r(o, 'to'), start, end } };
    }
    case 'sine': {
      const o = obj(body, p, ['mean', 'amplitude', 'period', 'phase']);
      return { sine: { mean: r(o, 'mean'), amplitude: r(o, 'amplitude'), period: s(o, 'period', true), phase: o.phase === undefined ? 0 : s(o, 'phase') } };
    }
    case 'spikes': {
      const o = obj(body, p, ['base', 'peak', 'every', 'duration', 'start']);
      return { spikes: { base: r(o, 'base'), peak: r(o, 'peak'), every: s(o, 'every', true), duration: s(o, 'duration', true), start: o.start === undefined ? 0 : s(o, 'start') } };
    }
    case 'onOff': { const o = obj(body, p, ['rate', 'on', 'off']); return { onOff: { rate: r(o, 'rate'), on: s(o, 'on', true), off: s(o, 'off') } }; }
    default: {
      if (!Array.isArray(body) || body.length === 0) throw new ScenarioError(p, 'must be a non-empty list of rates');
      return { sum: body.map((part, i) => rate(part, `${p}[${i}]`, horizon)) };
    }
  }
}

/** Reads a trace file through `read`, turning a missing file or a bad line into an error at `path`. */
function readTrace<T>(path: string, file: string, baseDir: string, read: (lines: LineSource) => T): T {
  const full = resolve(baseDir, file);
  try {
    return read(fileLines(full));
  } catch (err) {
    if (err instanceof TraceError) throw new ScenarioError(path, `${file}: ${err.message}`);
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string') throw new ScenarioError(path, `cannot read trace file ${full}: ${code}`);
    throw err;
  }
}

function fileName(v: unknown, path: string): string {
  if (typeof v !== 'string' || v === '') throw new ScenarioError(path, `must be a file name, got ${JSON.stringify(v)}`);
  return v;
}

function spreadOf(v: unknown, path: string): Spread {
  if (v === undefined) return 'uniform';
  if (!SPREADS.includes(v as Spread)) throw new ScenarioError(path, `must be one of ${SPREADS.join(', ')}, got ${JSON.stringify(v)}`);
  return v as Spread;
}

/** A revision's workload as read, with what its serviceTime may take from it. */
interface Load {
  workload: WorkloadSpec;
  /** The trace's durations (seconds), for `serviceTime: trace`. */
  durations?: number[];
  /** The Azure 2019 function it replays, the default for `serviceTime: {azure2019Durations}`. */
  functionHash?: string;
}

/** The workload of a revision that `trace: {azure, top}` made from one function of the file (read once for them all). */
class Azure2019Expanded {
  constructor(readonly fn: Azure2019Function, readonly spread: Spread) {}
}

/** Names for functions: the shortest hash prefix, 8 characters or more, that tells them apart. */
function shortHashes(hashes: string[]): string[] {
  for (let len = 8; len <= 64; len += 4) {
    const short = hashes.map((h) => h.slice(0, len).toLowerCase());
    if (new Set(short).size === short.length) return short;
  }
  return hashes.map((h, i) => `${h.slice(0, 8).toLowerCase()}-${i + 1}`);
}

/**
 * The scenario's revision entries, each with the path its errors are reported
 * under. An entry whose workload is `trace: {azure: FILE, top: N,
 * minInvocations?, spread?}` becomes one revision per function among the N
 * busiest of that 2019 file, named `<name>-<short hash>`, every other field
 * of the entry shared (errors in them name the entry).
 */
function expandRevisions(list: unknown[], baseDir: string): Array<{ raw: unknown; path: string }> {
  return list.flatMap((raw, i) => {
    const path = `revisions[${i}]`;
    if (!isMap(raw) || !isMap(raw.workload) || !isMap(raw.workload.trace) || raw.workload.trace.top === undefined) return [{ raw, path }];
    const tp = `${path}.workload.trace`;
    obj(raw.workload, `${path}.workload`, ['trace']);
    const o = obj(raw.workload.trace, tp, ['azure', 'top', 'minInvocations', 'spread']);
    if (o.azure === undefined) throw new ScenarioError(`${tp}.top`, 'needs azure: FILE (an Azure Functions 2019 invocations file)');
    const file = fileName(o.azure, `${tp}.azure`);
    const top = num(o.top, `${tp}.top`, { min: 1, integer: true });
    const minInvocations = o.minInvocations === undefined ? 0 : num(o.minInvocations, `${tp}.minInvocations`, { min: 0, integer: true });
    const spread = spreadOf(o.spread, `${tp}.spread`);
    if (typeof raw.name !== 'string' || raw.name === '') throw new ScenarioError(`${path}.name`, 'must be a non-empty string (the prefix of the revisions made from the trace)');
    const fns = readTrace(`${tp}.azure`, file, baseDir, (lines) => azure2019Busiest(lines, top, minInvocations));
    const names = shortHashes(fns.map((fn) => fn.function));
    return fns.map((fn, k) => ({ raw: { ...raw, name: `${raw.name}-${names[k]}`, workload: new Azure2019Expanded(fn, spread) }, path }));
  });
}

const TRACE_KINDS = ['csv', 'azure', 'azure2021'] as const;
const TRACE_FIELDS: Record<(typeof TRACE_KINDS)[number], string[]> = {
  csv: ['csv'],
  azure: ['azure', 'function', 'spread', 'top', 'minInvocations'],
  azure2021: ['azure2021', 'app', 'func'],
};

function workload(v: unknown, path: string, ctx: { baseDir: string; rng: Random; duration: number; durations: boolean }): Load {
  const { baseDir, rng } = ctx;
  if (v instanceof Azure2019Expanded) return { workload: { trace: { timestamps: spreadPerMinute(v.fn.perMinute, v.spread, rng) } }, functionHash: v.fn.function };
  if (!isMap(v) || !('trace' in v)) return { workload: rate(v, path, ctx.duration) };
  const tp = `${path}.trace`;
  const body = obj(v, path, ['trace']).trace;
  const kinds = isMap(body) ? TRACE_KINDS.filter((k) => body[k] !== undefined) : [];
  if (kinds.length !== 1) throw new ScenarioError(tp, 'needs exactly one of csv: FILE, azure: FILE or azure2021: FILE');
  const kind = kinds[0];
  const o = obj(body, tp, TRACE_FIELDS[kind]);
  const file = fileName(o[kind], `${tp}.${kind}`);
  const at = `${tp}.${kind}`;
  if (kind === 'csv') {
    const full = resolve(baseDir, file);
    let text: string;
    try {
      text = readFileSync(full, 'utf8');
    } catch (err) {
      throw new ScenarioError(at, `cannot read trace file ${full}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    try {
      return { workload: { trace: { timestamps: parseTimestampCsv(text) } } };
    } catch (err) {
      if (err instanceof TraceError) throw new ScenarioError(at, `${file}: ${err.message}`);
      throw err;
    }
  }
  if (kind === 'azure') {
    if (o.minInvocations !== undefined) throw new ScenarioError(`${tp}.minInvocations`, 'only with top: N (one revision for each of the N busiest functions)');
    if (o.function !== undefined && (typeof o.function !== 'string' || o.function === '')) throw new ScenarioError(`${tp}.function`, 'must be a HashFunction of the file');
    const fn = o.function as string | undefined;
    const spread = spreadOf(o.spread, `${tp}.spread`);
    const perMinute = readTrace(at, file, baseDir, (lines) => azure2019PerMinute(lines, fn));
    return { workload: { trace: { timestamps: spreadPerMinute(perMinute, spread, rng) } }, functionHash: fn };
  }
  for (const key of ['app', 'func']) {
    if (o[key] !== undefined && (typeof o[key] !== 'string' || o[key] === '')) throw new ScenarioError(`${tp}.${key}`, `must be the trace's ${key} id (a string), got ${JSON.stringify(o[key])}`);
  }
  if (o.app === undefined) throw new ScenarioError(`${tp}.app`, 'is required: the app whose invocations to replay (func: narrows it to one function)');
  const trace = readTrace(at, file, baseDir, (lines) => readAzure2021(lines, { app: o.app as string, func: o.func as string | undefined, durations: ctx.durations }));
  return { workload: { trace: { timestamps: trace.starts } }, durations: trace.durations };
}

/**
 * A revision's serviceTime: a distribution, `trace` (the durations of its
 * azure2021 trace, sampled at random), or `{azure2019Durations: FILE,
 * function?}` (that function's percentiles, piecewise linear between them).
 */
function serviceTime(v: unknown, path: string, baseDir: string, load: Load): DistributionSpec {
  if (v === undefined) return { constant: 0.1 };
  if (v === 'trace') {
    if (!load.durations) throw new ScenarioError(path, '"trace" takes the durations of the workload\'s trace, and only trace: {azure2021: FILE, app, func} has them');
    return { empirical: load.durations };
  }
  if (isMap(v) && 'azure2019Durations' in v) {
    const o = obj(v, path, ['azure2019Durations', 'function']);
    const at = `${path}.azure2019Durations`;
    const file = fileName(o.azure2019Durations, at);
    const fn = o.function ?? load.functionHash;
    if (fn === undefined) throw new ScenarioError(`${path}.function`, 'is required (the HashFunction whose durations to use), unless the workload is one function of an Azure 2019 file');
    if (typeof fn !== 'string' || fn === '') throw new ScenarioError(`${path}.function`, `must be a HashFunction, got ${JSON.stringify(fn)}`);
    return { percentiles: readTrace(at, file, baseDir, (lines) => azure2019DurationPercentiles(lines, fn)) };
  }
  return distribution(v, path);
}

function policy(v: unknown, path: string): PolicySpec {
  const o = obj(v, path, ['name', 'kpa', 'hpa', 'fixed']);
  const kinds = ['kpa', 'hpa', 'fixed'].filter((k) => k in o);
  if (kinds.length !== 1) throw new ScenarioError(path, 'needs exactly one of kpa, hpa, fixed');
  const kind = kinds[0];
  const name = o.name === undefined ? kind : o.name;
  if (typeof name !== 'string' || name === '') throw new ScenarioError(`${path}.name`, 'must be a non-empty string');
  if (kind === 'kpa') {
    const k = obj(o.kpa ?? {}, `${path}.kpa`, ['config', 'annotations']);
    return { name, kind, config: configMap(k.config, `${path}.kpa.config`), annotations: strings(k.annotations, `${path}.kpa.annotations`) };
  }
  if (kind === 'fixed') {
    const f = obj(o.fixed, `${path}.fixed`, ['replicas']);
    return { name, kind, replicas: num(f.replicas, `${path}.fixed.replicas`, { min: 1, integer: true }) };
  }
  const h = obj(o.hpa ?? {}, `${path}.hpa`, ['metric', 'target', 'minReplicas', 'maxReplicas', 'tolerance', 'scaleDownStabilization', 'behavior']);
  const metric = h.metric ?? 'concurrency';
  if (metric !== 'concurrency' && metric !== 'utilization') throw new ScenarioError(`${path}.hpa.metric`, 'must be concurrency or utilization');
  const minReplicas = h.minReplicas === undefined ? 1 : num(h.minReplicas, `${path}.hpa.minReplicas`, { min: 1, integer: true });
  const maxReplicas = h.maxReplicas === undefined ? 1000 : num(h.maxReplicas, `${path}.hpa.maxReplicas`, { min: minReplicas, integer: true });
  const tolerance = h.tolerance === undefined ? DEFAULT_TOLERANCE : num(h.tolerance, `${path}.hpa.tolerance`, { min: 0 });
  const downscaleStabilizationSeconds = h.scaleDownStabilization === undefined
    ? DEFAULT_DOWNSCALE_STABILIZATION_SECONDS
    : stabilizationWindow(h.scaleDownStabilization, `${path}.hpa.scaleDownStabilization`);
  let behavior: HpaBehavior | null = null;
  // As the API server's defaulting (SetDefaults_HorizontalPodAutoscalerBehavior): only a given behavior gets defaults.
  if (h.behavior !== undefined && h.behavior !== null) {
    const b = obj(h.behavior, `${path}.hpa.behavior`, ['scaleUp', 'scaleDown']);
    if (h.scaleDownStabilization !== undefined && isMap(b.scaleDown) && 'stabilizationWindowSeconds' in b.scaleDown) {
      throw new ScenarioError(`${path}.hpa.scaleDownStabilization`, 'give either this or behavior.scaleDown.stabilizationWindowSeconds, not both');
    }
    behavior = {
      scaleUp: scalingRules(b.scaleUp, `${path}.hpa.behavior.scaleUp`, defaultScaleUpRules(tolerance)),
      // A scale-down without a window takes the controller's flag (maybeInitScaleDownStabilizationWindow).
      scaleDown: scalingRules(b.scaleDown, `${path}.hpa.behavior.scaleDown`, defaultScaleDownRules(downscaleStabilizationSeconds, tolerance)),
    };
  }
  const target = h.target === undefined
    ? (metric === 'utilization' ? 70 : 7)
    // averageUtilization is an int32 percent; averageValue a quantity.
    : num(h.target, `${path}.hpa.target`, metric === 'utilization' ? { gt: 0, integer: true } : { gt: 0 });
  return {
    name, kind: 'hpa',
    hpa: { metric, target, minReplicas, maxReplicas, tolerance, downscaleStabilizationSeconds, behavior },
  };
}

/** 0..3600 s, as the API server validates `stabilizationWindowSeconds`. */
function stabilizationWindow(v: unknown, path: string): number {
  const s = seconds(v, path);
  if (s > 3600) throw new ScenarioError(path, `must be ≤ 3600 s, got ${s}`);
  return s;
}

/**
 * `behavior.scaleUp` / `behavior.scaleDown` with the HorizontalPodAutoscaler's
 * field names; missing fields take Kubernetes' defaults, values its validation.
 */
function scalingRules(v: unknown, path: string, defaults: HpaScalingRules): HpaScalingRules {
  if (v === undefined || v === null) return defaults;
  const r = obj(v, path, ['stabilizationWindowSeconds', 'selectPolicy', 'policies', 'tolerance']);
  const selectPolicy = r.selectPolicy ?? defaults.selectPolicy;
  if (selectPolicy !== 'Max' && selectPolicy !== 'Min' && selectPolicy !== 'Disabled') throw new ScenarioError(`${path}.selectPolicy`, 'must be Max, Min or Disabled');
  let policies = defaults.policies;
  if (r.policies !== undefined) {
    if (!Array.isArray(r.policies) || r.policies.length === 0) throw new ScenarioError(`${path}.policies`, 'must be a non-empty list');
    policies = r.policies.map((p, i) => {
      const at = `${path}.policies[${i}]`;
      const o = obj(p, at, ['type', 'value', 'periodSeconds']);
      if (o.type !== 'Pods' && o.type !== 'Percent') throw new ScenarioError(`${at}.type`, 'must be Pods or Percent');
      const periodSeconds = num(o.periodSeconds, `${at}.periodSeconds`, { gt: 0, integer: true });
      if (periodSeconds > 1800) throw new ScenarioError(`${at}.periodSeconds`, `must be ≤ 1800, got ${periodSeconds}`);
      return { type: o.type, value: num(o.value, `${at}.value`, { gt: 0, integer: true }), periodSeconds };
    });
  }
  return {
    stabilizationWindowSeconds: r.stabilizationWindowSeconds === undefined ? defaults.stabilizationWindowSeconds : stabilizationWindow(r.stabilizationWindowSeconds, `${path}.stabilizationWindowSeconds`),
    selectPolicy,
    policies,
    tolerance: r.tolerance === undefined ? defaults.tolerance : num(r.tolerance, `${path}.tolerance`, { min: 0 }),
  };
}

/**
 * Parses and validates a scenario (YAML). Unknown keys, negative rates,
 * missing or unsorted traces and invalid autoscaler settings are rejected
 * with the field path. `file` locates trace files relative to the scenario.
 */
export function parseScenario(text: string, file = 'scenario.yaml'): Scenario {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ScenarioError('(file)', `not valid YAML: ${(err as Error).message}`);
  }
  const o = obj(doc, '(file)', ['name', 'duration', 'seed', 'revisions', 'policies', 'costPerPodHour']);
  const seed = o.seed === undefined ? 1 : num(o.seed, 'seed', { min: 0, integer: true });
  const rng = new Random(seed);
  const duration = seconds(o.duration, 'duration', true);
  // Reports keep a point per simulated second: a month is about 1 GB, past that a run would exhaust memory.
  if (duration > MAX_DURATION_SECONDS) throw new ScenarioError('duration', `must be at most 31 days (${MAX_DURATION_SECONDS} s), got ${duration} s`);
  if (!Array.isArray(o.revisions) || o.revisions.length === 0) throw new ScenarioError('revisions', 'must be a non-empty list');
  const baseDir = dirname(file);
  const revisions = expandRevisions(o.revisions, baseDir).map(({ raw, path: p }): SimRevision => {
    const r = obj(raw, p, ['name', 'namespace', 'config', 'annotations', 'containerConcurrency', 'workload', 'serviceTime', 'pod', 'activator', 'routing']);
    if (typeof r.name !== 'string' || r.name === '') throw new ScenarioError(`${p}.name`, 'must be a non-empty string');
    const settings: RevisionSettings = {
      config: configMap(r.config, `${p}.config`),
      annotations: strings(r.annotations, `${p}.annotations`),
      containerConcurrency: r.containerConcurrency === undefined ? 0 : num(r.containerConcurrency, `${p}.containerConcurrency`, { min: 0, integer: true }),
    };
    try {
      resolveRevision(settings);
    } catch (err) {
      if (err instanceof ConfigError) throw new ScenarioError(`${p}.${settings.annotations && err.key in settings.annotations ? 'annotations' : 'config'}.${err.key}`, err.message);
      throw err;
    }
    if (r.workload === undefined) throw new ScenarioError(`${p}.workload`, 'is required');
    const pod = obj(r.pod ?? {}, `${p}.pod`, ['coldStart', 'schedulingDelay', 'terminationGracePeriod', 'cpu', 'queueDepth']);
    const activator = obj(r.activator ?? {}, `${p}.activator`, ['timeout', 'queueDepth']);
    const cc = settings.containerConcurrency ?? 0;
    // queue-proxy has no breaker at containerConcurrency 0: every request is in service at once.
    if (pod.queueDepth !== undefined && cc === 0) throw new ScenarioError(`${p}.pod.queueDepth`, 'needs containerConcurrency > 0 (queue-proxy queues nothing without a limit)');
    const routing = r.routing ?? 'random';
    if (routing !== 'random' && routing !== 'round-robin') throw new ScenarioError(`${p}.routing`, `must be random or round-robin, got ${JSON.stringify(routing)}`);
    const load = workload(r.workload, `${p}.workload`, { baseDir, rng, duration, durations: r.serviceTime === 'trace' });
    return {
      namespace: r.namespace === undefined ? 'default' : String(r.namespace),
      name: r.name,
      settings,
      workload: load.workload,
      serviceTime: serviceTime(r.serviceTime, `${p}.serviceTime`, baseDir, load),
      pod: {
        coldStart: pod.coldStart === undefined ? { constant: 3 } : distribution(pod.coldStart, `${p}.pod.coldStart`),
        schedulingDelay: pod.schedulingDelay === undefined ? { constant: 0.5 } : distribution(pod.schedulingDelay, `${p}.pod.schedulingDelay`),
        terminationGracePeriod: pod.terminationGracePeriod === undefined ? 30 : seconds(pod.terminationGracePeriod, `${p}.pod.terminationGracePeriod`),
        cpu: pod.cpu === undefined ? 1 : num(pod.cpu, `${p}.pod.cpu`, { gt: 0 }),
        queueDepth: pod.queueDepth === undefined ? 10 * cc : num(pod.queueDepth, `${p}.pod.queueDepth`, { min: 0, integer: true }),
      },
      activatorTimeout: activator.timeout === undefined ? 300 : seconds(activator.timeout, `${p}.activator.timeout`, true),
      activatorQueueDepth: activator.queueDepth === undefined ? Infinity : num(activator.queueDepth, `${p}.activator.queueDepth`, { min: 0, integer: true }),
      routing,
    };
  });
  const policies = o.policies === undefined ? [policy({ kpa: {} }, 'policies[0]')]
    : Array.isArray(o.policies) && o.policies.length > 0 ? o.policies.map((v: unknown, i: number) => policy(v, `policies[${i}]`))
      : (() => { throw new ScenarioError('policies', 'must be a non-empty list'); })();
  const names = new Set<string>();
  policies.forEach((pol, i) => {
    if (names.has(pol.name)) throw new ScenarioError(`policies[${i}].name`, `"${pol.name}" is used twice`);
    names.add(pol.name);
    // A KPA policy's overrides must resolve on every revision, before anything runs.
    if (pol.kind !== 'kpa') return;
    for (const revision of revisions) {
      try {
        resolveRevision(policySettings(revision.settings, pol));
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        const where = err.key in pol.annotations ? 'annotations' : err.key in pol.config ? 'config' : null;
        const path = where ? `policies[${i}].kpa.${where}.${err.key}` : `policies[${i}].kpa (on revision ${revision.name})`;
        throw new ScenarioError(path, err.message);
      }
    }
  });
  const costPerPodHour = o.costPerPodHour === undefined ? undefined : num(o.costPerPodHour, 'costPerPodHour', { min: 0 });
  return {
    name: typeof o.name === 'string' ? o.name : file.replace(/^.*\//, '').replace(/\.ya?ml$/, ''), duration, seed, revisions, policies,
    ...(costPerPodHour === undefined ? {} : { costPerPodHour }),
  };
}

/** A revision's settings under a policy: a KPA policy's config and annotations override the revision's. */
export function policySettings(settings: RevisionSettings, policy: PolicySpec): RevisionSettings {
  if (policy.kind !== 'kpa') return settings;
  return { ...settings, config: { ...settings.config, ...policy.config }, annotations: { ...settings.annotations, ...policy.annotations } };
}

export function loadScenario(file: string): Scenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ScenarioError('(file)', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseScenario(text, file);
}
