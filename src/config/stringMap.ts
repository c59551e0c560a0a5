/**
 * A YAML map of ConfigMap-style values (config-autoscaler data, annotations):
 * strings as they are, numbers and booleans as the text a ConfigMap would
 * hold. `fail` builds the caller's error type for a field path.
 */
export function toStringMap(v: unknown, path: string, fail: (path: string, message: string) => Error): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw fail(path, 'must be a map of strings');
  const out: Record<string, string> = {};
  for (const [k, value] of Object.entries(v)) {
    if (typeof value === 'string') out[k] = value;
    else if (typeof value === 'number' || typeof value === 'boolean') out[k] = String(value);
    else throw fail(`${path}.${k}`, 'must be a string');
  }
  return out;
}
