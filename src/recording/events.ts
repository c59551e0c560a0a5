import type { RevisionSettings } from '../config/revisionConfig.js';
import { emptyStat, type Stat, STAT_NUMBER_FIELDS } from '../metrics/stat.js';

/**
 * The events of a recording (docs/recording-format.md, v1): what the
 * autoscaler saw, in time order.
 */
interface EventBase {
  /** Seconds since the Unix epoch. */
  t: number;
  namespace: string;
  name: string;
}
export interface RevisionEvent extends EventBase, Required<RevisionSettings> {
  type: 'revision';
  /** Ready pods: the initial count on creation; on an update, only set when given. */
  ready: number | undefined;
}
export interface StatEvent extends EventBase {
  type: 'stat';
  stat: Stat;
}
export interface ReadyEvent extends EventBase {
  type: 'ready';
  ready: number;
}
export interface TickEvent extends EventBase {
  type: 'tick';
}
/**
 * `count` stat and tick events the recorder dropped from `t` on, because the
 * disk could not keep up (kpa's own, not Knative's): decisions from here may
 * differ from the live ones.
 */
export interface DroppedEvent {
  type: 'dropped';
  t: number;
  count: number;
}
/**
 * The recording service started again here (`kpa run --record-append`): it
 * forgot every revision, and its clock may have been set back.
 */
export interface RestartEvent {
  type: 'restart';
  t: number;
}
export type RecordingEvent = RevisionEvent | StatEvent | ReadyEvent | TickEvent | DroppedEvent | RestartEvent;

/** A line of a recording that is not a valid event; the message names the problem. */
export class RecordingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordingError';
  }
}

const MAX_COUNT = 2147483647;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  const s = JSON.stringify(v);
  return typeof v === 'string' ? `the string ${s.length > 40 ? `${s.slice(0, 40)}…"` : s}` : `${typeof v} ${s?.slice(0, 40)}`;
}

function requireString(obj: Record<string, unknown>, field: string): string {
  if (!(field in obj)) throw new RecordingError(`missing field "${field}"`);
  const v = obj[field];
  if (typeof v !== 'string' || v === '') throw new RecordingError(`field "${field}" must be a non-empty string, got ${describe(v)}`);
  return v;
}

function finiteNumber(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new RecordingError(`field "${field}" must be a finite number, got ${describe(v)}`);
  }
  return v;
}

/** A whole number ≥ 0 that fits Go's int32, as pod counts and containerConcurrency do. */
function count(v: unknown, field: string): number {
  const n = finiteNumber(v, field);
  if (!Number.isInteger(n) || n < 0 || n > MAX_COUNT) {
    throw new RecordingError(`field "${field}" must be a whole number ≥ 0, got ${n}`);
  }
  return n;
}

function stringMap(v: unknown, field: string): Record<string, string> {
  if (v === undefined) return {};
  if (!isObject(v)) throw new RecordingError(`field "${field}" must be an object of strings, got ${describe(v)}`);
  for (const [k, value] of Object.entries(v)) {
    if (typeof value !== 'string') {
      throw new RecordingError(`field "${field}" key "${k}" must be a string, got ${describe(value)}`);
    }
  }
  return v as Record<string, string>;
}

function parseStat(v: unknown): Stat {
  if (v === undefined) throw new RecordingError('missing field "stat"');
  if (!isObject(v)) throw new RecordingError(`field "stat" must be an object, got ${describe(v)}`);
  const podName = v.podName ?? '';
  if (typeof podName !== 'string') throw new RecordingError(`field "stat.podName" must be a string, got ${describe(podName)}`);
  const stat = emptyStat(podName);
  for (const field of STAT_NUMBER_FIELDS) {
    const raw = v[field];
    if (raw === undefined) continue;
    // Any finite number, negative ones included: Knative's collector records a Stat without checking it.
    stat[field] = finiteNumber(raw, `stat.${field}`);
  }
  return stat;
}

/** Validates one parsed JSON value as an event. Throws RecordingError naming the problem. */
export function toEvent(value: unknown): RecordingEvent {
  if (!isObject(value)) throw new RecordingError(`an event must be a JSON object, got ${describe(value)}`);
  if (!('type' in value)) throw new RecordingError('missing field "type"');
  const type = value.type;
  if (!('t' in value)) throw new RecordingError('missing field "t"');
  const t = finiteNumber(value.t, 't');
  // The recorder's own markers belong to no revision.
  if (type === 'restart') return { type, t };
  if (type === 'dropped') {
    if (!('count' in value)) throw new RecordingError('missing field "count"');
    return { type, t, count: count(value.count, 'count') };
  }
  const namespace = requireString(value, 'namespace');
  const name = requireString(value, 'name');
  switch (type) {
    case 'tick':
      return { type, t, namespace, name };
    case 'stat':
      return { type, t, namespace, name, stat: parseStat(value.stat) };
    case 'ready':
      if (!('ready' in value)) throw new RecordingError('missing field "ready"');
      return { type, t, namespace, name, ready: count(value.ready, 'ready') };
    case 'revision': {
      const cc = value.containerConcurrency === undefined ? 0 : count(value.containerConcurrency, 'containerConcurrency');
      if (value.reachable !== undefined && typeof value.reachable !== 'boolean') {
        throw new RecordingError(`field "reachable" must be true or false, got ${describe(value.reachable)}`);
      }
      return {
        type,
        t,
        namespace,
        name,
        config: stringMap(value.config, 'config'),
        annotations: stringMap(value.annotations, 'annotations'),
        containerConcurrency: cc,
        reachable: value.reachable ?? true,
        ready: value.ready === undefined ? undefined : count(value.ready, 'ready'),
      };
    }
    default:
      throw new RecordingError(`unknown event type ${typeof type === 'string' ? JSON.stringify(type) : describe(type)} (expected revision, stat, ready, tick, dropped or restart)`);
  }
}

/** Parses one line of a recording. */
export function parseEventLine(line: string): RecordingEvent {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw new RecordingError(`not valid JSON (${(err as Error).message})`);
  }
  return toEvent(value);
}
