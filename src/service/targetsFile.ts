import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../config/errors.js';
import { resolveRevision, type RevisionSettings } from '../config/revisionConfig.js';
import type { RevisionKey } from '../metrics/revisionKey.js';
import type { PodTarget } from '../metrics/scraper.js';
import type { MetricsSource } from './autoscalerService.js';
import { isMap, onlyFields, toStringMap } from '../config/stringMap.js';

/** A revision of a `--targets` file: its settings and the pod metric URLs to scrape. */
export interface StaticTarget {
  key: RevisionKey;
  settings: RevisionSettings;
  pods: PodTarget[];
  metricsSource: MetricsSource;
}

/** A mistake in a targets file; `path` names the field (e.g. `revisions[1].pods[0].url`). */
export class TargetsFileError extends Error {
  constructor(readonly path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = 'TargetsFileError';
  }
}

type Obj = Record<string, unknown>;
const fieldError = (p: string, m: string) => new TargetsFileError(p, m);
const only = (obj: Obj, path: string, allowed: readonly string[]) => onlyFields(obj, path, allowed, fieldError);

function str(obj: Obj, field: string, path: string): string {
  const v = obj[field];
  if (typeof v !== 'string' || v === '') throw new TargetsFileError(`${path}.${field}`, 'must be a non-empty string');
  return v;
}

const stringMap = (v: unknown, path: string) => toStringMap(v, path, fieldError);

function pod(v: unknown, path: string): PodTarget {
  if (!isMap(v)) throw new TargetsFileError(path, 'must be a map with name and url');
  only(v, path, ['name', 'url', 'startedAt']);
  const url = str(v, 'url', path);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TargetsFileError(`${path}.url`, `not a URL: ${url}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new TargetsFileError(`${path}.url`, 'must be an http(s) URL');
  let startedAt = 0; // unknown start: treated as an old pod, preferred like any other
  if (v.startedAt !== undefined) {
    const raw = v.startedAt instanceof Date ? v.startedAt.getTime() : Date.parse(String(v.startedAt));
    if (!Number.isFinite(raw)) throw new TargetsFileError(`${path}.startedAt`, 'must be a date-time such as 2026-01-01T00:00:00Z');
    startedAt = raw / 1000;
  }
  return { name: typeof v.name === 'string' && v.name !== '' ? v.name : parsed.host, url, startedAt };
}

/**
 * Parses a `kpa run --targets` file:
 * ```yaml
 * config: {stable-window: 60s}          # config-autoscaler data for every revision
 * revisions:
 *   - namespace: default
 *     name: hello-00001
 *     config: {}                         # per-revision overrides of the keys above
 *     annotations: {autoscaling.knative.dev/target: "10"}
 *     containerConcurrency: 0
 *     metricsSource: queue-proxy         # or activator: only kpa activator reports, pods are not scraped
 *     pods:
 *       - {name: hello-1, url: http://10.0.0.5:9090/metrics}
 * ```
 * Every revision is resolved with Knative's validation, so a bad value is
 * reported with its revision and key before the service starts.
 */
export function parseTargetsFile(text: string): StaticTarget[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new TargetsFileError('(file)', `not valid YAML: ${(err as Error).message}`);
  }
  if (!isMap(doc)) throw new TargetsFileError('(file)', 'must be a map with a "revisions" list');
  only(doc, '', ['config', 'revisions']);
  const shared = stringMap(doc.config, 'config');
  if (!Array.isArray(doc.revisions) || doc.revisions.length === 0) throw new TargetsFileError('revisions', 'must be a non-empty list');
  const seen = new Set<string>();
  return doc.revisions.map((raw: unknown, i: number) => {
    const path = `revisions[${i}]`;
    if (!isMap(raw)) throw new TargetsFileError(path, 'must be a map');
    only(raw, path, ['namespace', 'name', 'config', 'annotations', 'containerConcurrency', 'reachable', 'metricsSource', 'pods']);
    const key = { namespace: str(raw, 'namespace', path), name: str(raw, 'name', path) };
    const id = `${key.namespace}/${key.name}`;
    if (seen.has(id)) throw new TargetsFileError(`${path}.name`, `revision ${id} is listed twice`);
    seen.add(id);
    const cc = raw.containerConcurrency ?? 0;
    if (typeof cc !== 'number' || !Number.isInteger(cc) || cc < 0) {
      throw new TargetsFileError(`${path}.containerConcurrency`, 'must be a whole number ≥ 0');
    }
    if (raw.reachable !== undefined && typeof raw.reachable !== 'boolean') throw new TargetsFileError(`${path}.reachable`, 'must be true or false');
    const pods = raw.pods ?? [];
    if (!Array.isArray(pods)) throw new TargetsFileError(`${path}.pods`, 'must be a list');
    const metricsSource = raw.metricsSource ?? 'queue-proxy';
    if (metricsSource !== 'queue-proxy' && metricsSource !== 'activator') {
      throw new TargetsFileError(`${path}.metricsSource`, `must be queue-proxy or activator, got ${JSON.stringify(metricsSource)}`);
    }
    const settings: RevisionSettings = {
      config: { ...shared, ...stringMap(raw.config, `${path}.config`) },
      annotations: stringMap(raw.annotations, `${path}.annotations`),
      containerConcurrency: cc,
      reachable: raw.reachable ?? true,
    };
    try {
      resolveRevision(settings);
    } catch (err) {
      if (err instanceof ConfigError) {
        const where = settings.annotations && err.key in settings.annotations ? 'annotations' : 'config';
        throw new TargetsFileError(`${path}.${where}.${err.key}`, err.message);
      }
      throw err;
    }
    return { key, settings, metricsSource, pods: pods.map((p: unknown, j: number) => pod(p, `${path}.pods[${j}]`)) };
  });
}
