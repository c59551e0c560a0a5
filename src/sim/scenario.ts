import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CONFIG_KEYS } from '../config/autoscalerConfig.js';
import { ConfigError } from '../config/errors.js';
import { NANOS_PER_SECOND, parseGoDurationNanos } from '../config/goParse.js';
import { resolveRevision, type RevisionSettings } from '../config/revisionConfig.js';
import { isMap, toStringMap } from '../config/stringMap.js';
import { type DistributionSpec, lognormalParameters } from './distribution.js';
import { Random } from './random.js';
import { parseAzureTrace, parseTimestampCsv, TraceError } from './traces.js';
import type { RateSpec, WorkloadSpec } from './workload.js';
import { defaultScaleDownRules, defaultScaleUpRules, type HpaScalingRules } from '../scaler/hpa.js';

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
}

export interface HpaPolicySpec {
  metric: 'concurrency' | 'utilization';
  /** Per-pod target: concurrent requests, or busy fraction in percent for utilization. */
  target: number;
  minReplicas: number;
  maxReplicas: number;
  scaleUp: HpaScalingRules;
  scaleDown: HpaScalingRules;
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

const RATE_KINDS = ['constant', 'step', 'ramp', 'sine', 'spikes', 'onOff', 'sum'] as const;

function rate(v: unknown, path: string): RateSpec {
  const [kind, body] = oneKey(v, path, RATE_KINDS);
  const p = `${path}.${kind}`;
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
      return { sum: body.map((part, i) => rate(part, `${p}[${i}]`)) };
    }
  }
}

function workload(v: unknown, path: string, baseDir: string, rng: Random): WorkloadSpec {
  if (isMap(v) && 'trace' in v) {
    const o = obj(obj(v, path, ['trace']).trace, `${path}.trace`, ['csv', 'azure', 'function']);
    const file = o.csv ?? o.azure;
    const key = o.csv !== undefined ? 'csv' : 'azure';
    if (typeof file !== 'string' || (o.csv !== undefined && o.azure !== undefined)) {
      throw new ScenarioError(`${path}.trace`, 'needs exactly one of csv: FILE or azure: FILE');
    }
    const full = resolve(baseDir, file);
    let text: string;
    try {
      text = readFileSync(full, 'utf8');
    } catch (err) {
      throw new ScenarioError(`${path}.trace.${key}`, `cannot read trace file ${full}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    try {
      const timestamps = key === 'csv' ? parseTimestampCsv(text) : parseAzureTrace(text, rng, typeof o.function === 'string' ? o.function : undefined);
      return { trace: { timestamps } };
    } catch (err) {
      if (err instanceof TraceError) throw new ScenarioError(`${path}.trace.${key}`, `${file}: ${err.message}`);
      throw err;
    }
  }
  return rate(v, path);
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
  const tolerance = h.tolerance === undefined ? 0.1 : num(h.tolerance, `${path}.hpa.tolerance`, { min: 0 });
  const behavior = obj(h.behavior ?? {}, `${path}.hpa.behavior`, ['scaleUp', 'scaleDown']);
  const scaleDown = scalingRules(behavior.scaleDown, `${path}.hpa.behavior.scaleDown`, defaultScaleDownRules(), tolerance);
  if (h.scaleDownStabilization !== undefined) {
    if (isMap(behavior.scaleDown) && 'stabilizationWindowSeconds' in behavior.scaleDown) {
      throw new ScenarioError(`${path}.hpa.scaleDownStabilization`, 'give either this or behavior.scaleDown.stabilizationWindowSeconds, not both');
    }
    scaleDown.stabilizationWindowSeconds = stabilizationWindow(h.scaleDownStabilization, `${path}.hpa.scaleDownStabilization`);
  }
  return {
    name, kind: 'hpa',
    hpa: {
      metric, minReplicas, maxReplicas,
      target: h.target === undefined ? (metric === 'utilization' ? 70 : 7) : num(h.target, `${path}.hpa.target`, { gt: 0 }),
      scaleUp: scalingRules(behavior.scaleUp, `${path}.hpa.behavior.scaleUp`, defaultScaleUpRules(), tolerance),
      scaleDown,
    },
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
function scalingRules(v: unknown, path: string, defaults: HpaScalingRules, tolerance: number): HpaScalingRules {
  if (v === undefined) return { ...defaults, tolerance };
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
    tolerance: r.tolerance === undefined ? tolerance : num(r.tolerance, `${path}.tolerance`, { min: 0 }),
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
  const revisions = o.revisions.map((raw: unknown, i: number): SimRevision => {
    const p = `revisions[${i}]`;
    const r = obj(raw, p, ['name', 'namespace', 'config', 'annotations', 'containerConcurrency', 'workload', 'serviceTime', 'pod', 'activator']);
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
    const pod = obj(r.pod ?? {}, `${p}.pod`, ['coldStart', 'schedulingDelay', 'terminationGracePeriod']);
    const activator = obj(r.activator ?? {}, `${p}.activator`, ['timeout']);
    return {
      namespace: r.namespace === undefined ? 'default' : String(r.namespace),
      name: r.name,
      settings,
      workload: workload(r.workload, `${p}.workload`, baseDir, rng),
      serviceTime: r.serviceTime === undefined ? { constant: 0.1 } : distribution(r.serviceTime, `${p}.serviceTime`),
      pod: {
        coldStart: pod.coldStart === undefined ? { constant: 3 } : distribution(pod.coldStart, `${p}.pod.coldStart`),
        schedulingDelay: pod.schedulingDelay === undefined ? { constant: 0.5 } : distribution(pod.schedulingDelay, `${p}.pod.schedulingDelay`),
        terminationGracePeriod: pod.terminationGracePeriod === undefined ? 30 : seconds(pod.terminationGracePeriod, `${p}.pod.terminationGracePeriod`),
      },
      activatorTimeout: activator.timeout === undefined ? 300 : seconds(activator.timeout, `${p}.activator.timeout`, true),
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
