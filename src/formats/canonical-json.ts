/**
 * Canonical JSON as PBS signs it: object keys sorted, no whitespace, and no `null` anywhere.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) throw new TypeError('canonical JSON cannot contain null');
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    // Rust sorts `&str` keys by their UTF-8 bytes (code point order), not by UTF-16 code units.
    const keys = Object.keys(obj).filter((k) => obj[k] !== undefined)
      .sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
