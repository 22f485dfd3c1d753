/**
 * Canonical JSON as PBS signs it: object keys sorted, no whitespace, and no `null` anywhere.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) throw new TypeError('canonical JSON cannot contain null');
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
