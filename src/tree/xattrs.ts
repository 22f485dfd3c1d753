/**
 * Extended attributes through fs-xattr. Its calls follow symlinks, so callers must never use
 * them on symlinks (the attributes would be read from / written to the link target).
 */
import { getAttributeSync, listAttributesSync, setAttributeSync } from 'fs-xattr';
import { errnoCode } from '../errors.js';

/** Errors meaning "this filesystem or file type has no xattrs", which are not worth a warning. */
const UNSUPPORTED = new Set(['ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/**
 * All attributes of `path` (every namespace the kernel lists to us: user, trusted, security,
 * system ACLs), or a warning text when they could not be read.
 */
export function readXattrs(path: string): { xattrs: Array<[string, Buffer]>; warning?: string } {
  let names: string[];
  try {
    names = listAttributesSync(path);
  } catch (err) {
    const code = errnoCode(err);
    if (code && UNSUPPORTED.has(code)) return { xattrs: [] };
    return { xattrs: [], warning: `${path}: cannot list extended attributes (${code ?? String(err)})` };
  }
  const xattrs: Array<[string, Buffer]> = [];
  for (const name of names) {
    try {
      xattrs.push([name, getAttributeSync(path, name)]);
    } catch (err) {
      // ENODATA: removed between list and get; nothing to keep.
      if (errnoCode(err) === 'ENODATA') continue;
      return { xattrs, warning: `${path}: cannot read extended attribute ${name} (${errnoCode(err) ?? String(err)})` };
    }
  }
  return { xattrs };
}

/** Sets each attribute, returning one warning per attribute that the target refused. */
export function writeXattrs(path: string, xattrs: ReadonlyArray<readonly [string, Buffer]>): string[] {
  const warnings: string[] = [];
  for (const [name, value] of xattrs) {
    try {
      setAttributeSync(path, name, value);
    } catch (err) {
      warnings.push(`${path}: cannot set extended attribute ${name} (${errnoCode(err) ?? String(err)})`);
    }
  }
  return warnings;
}
