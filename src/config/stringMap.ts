/** A field path and a message, in the caller's error type (a targets, routes or scenario file's). */
export type FieldError = (path: string, message: string) => Error;

/** A YAML map (not null, not a list). */
export function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Refuses a key of `obj` that is not in `allowed`, naming it under `path`: a typo must not pass silently. */
export function onlyFields(obj: Record<string, unknown>, path: string, allowed: readonly string[], fail: FieldError): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw fail(path ? `${path}.${k}` : k, `unknown field (expected one of ${allowed.join(', ')})`);
  }
}

/**
 * A YAML map of ConfigMap-style values (config-autoscaler data, annotations):
 * strings as they are, numbers and booleans as the text a ConfigMap would
 * hold. `fail` builds the caller's error type for a field path.
 */
export function toStringMap(v: unknown, path: string, fail: FieldError): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isMap(v)) throw fail(path, 'must be a map of strings');
  const out: Record<string, string> = {};
  for (const [k, value] of Object.entries(v)) {
    if (typeof value === 'string') out[k] = value;
    else if (typeof value === 'number' || typeof value === 'boolean') out[k] = String(value);
    else throw fail(`${path}.${k}`, 'must be a string');
  }
  return out;
}
