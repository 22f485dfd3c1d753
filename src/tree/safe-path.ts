/**
 * Archive paths checked before anything touches the disk: a restore must never write outside
 * its target directory, whatever the archive says.
 */
import { GuestvaultError } from '../errors.js';

/**
 * Normalizes an archive path to "a/b/c" ('' for the archive root, as in GNU tar's "./" entry).
 * Absolute paths and '..' components are refused rather than silently rewritten: an archive
 * that contains them was not made by us and restoring it elsewhere than intended would be worse.
 */
export function safeArchivePath(raw: string, offset: number): string {
  if (raw.startsWith('/')) {
    throw new GuestvaultError('E_TAR_UNSAFE_PATH', `tar entry at offset ${offset}: absolute path ${JSON.stringify(raw)} refused`);
  }
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) {
    throw new GuestvaultError('E_TAR_UNSAFE_PATH', `tar entry at offset ${offset}: path ${JSON.stringify(raw)} leaves the target directory`);
  }
  return parts.join('/');
}
