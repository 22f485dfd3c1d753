/**
 * The restore target as seen by the extractor: makes parent directories exist without ever
 * walking through a symlink (an archive could otherwise plant "a -> /etc" and then write
 * "a/passwd"), clears the slot an entry goes into, and applies directory modes and times last.
 */
import { lstat, mkdir, open, rmdir, unlink, utimes, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { errnoCode, GuestvaultError } from '../errors.js';

interface DeferredDir {
  abs: string;
  depth: number;
  mode: number;
  atime: number;
  mtime: number;
}

export class TargetTree {
  /** Relative paths known to be real directories (created or checked by us). */
  private readonly dirs = new Set<string>(['']);
  private readonly deferred: DeferredDir[] = [];
  /** ctime (ns) of a marker made when the restore began; see restoredThisRun. */
  private startCtimeNs = 0n;

  constructor(
    readonly root: string,
    private readonly warn: (m: string) => void,
  ) {}

  abs(rel: string): string {
    return rel === '' ? this.root : join(this.root, rel);
  }

  /**
   * Samples the target filesystem's own clock: the kernel sets ctime on every change and utimes
   * cannot forge it, so a file whose ctime is not older than this marker was written by us.
   */
  async begin(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    const marker = join(this.root, `.guestvault-restore-${process.pid}-${randomBytes(4).toString('hex')}`);
    const fh = await open(marker, 'wx', 0o600);
    try {
      this.startCtimeNs = (await fh.stat({ bigint: true })).ctimeNs;
    } finally {
      await fh.close();
      await unlink(marker);
    }
  }

  /** True if `rel` is a non-directory created during this restore (a valid hard-link target). */
  async restoredThisRun(rel: string): Promise<boolean> {
    try {
      // Parents must be real directories: lstat would otherwise look through a symlink.
      const parts = rel.split('/');
      for (let i = 1; i < parts.length; i++) {
        const prefix = parts.slice(0, i).join('/');
        if (!this.dirs.has(prefix) && !(await lstat(this.abs(prefix))).isDirectory()) return false;
      }
      const st = await lstat(this.abs(rel), { bigint: true });
      return !st.isDirectory() && st.ctimeNs >= this.startCtimeNs;
    } catch {
      return false;
    }
  }

  /** Creates missing parents of `rel`; refuses to pass through a symlink; replaces non-directories. */
  async ensureParents(rel: string, offset: number): Promise<void> {
    const parts = rel.split('/');
    let prefix = '';
    for (let i = 0; i < parts.length - 1; i++) {
      prefix = prefix === '' ? parts[i] : `${prefix}/${parts[i]}`;
      if (this.dirs.has(prefix)) continue;
      const abs = this.abs(prefix);
      let st;
      try {
        st = await lstat(abs);
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
      }
      if (st?.isSymbolicLink()) {
        throw new GuestvaultError(
          'E_TAR_UNSAFE_PATH',
          `tar entry at offset ${offset}: ${JSON.stringify(rel)} would be written through the symlink ${abs}`,
        );
      }
      if (st && !st.isDirectory()) await unlink(abs);
      if (!st?.isDirectory()) await mkdir(abs, 0o755);
      this.dirs.add(prefix);
    }
  }

  /**
   * Makes room for an entry at `rel`: existing non-directories are removed (so we never write
   * through an old symlink or into an old hard link); a directory stays if we want one, else it
   * is removed when empty. Returns 'exists' (directory kept), 'ready', or 'blocked' (warned).
   */
  async clear(rel: string, wantDir: boolean): Promise<'exists' | 'ready' | 'blocked'> {
    const abs = this.abs(rel);
    let st;
    try {
      st = await lstat(abs);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return 'ready';
      throw err;
    }
    if (!st.isDirectory()) {
      await unlink(abs);
      return 'ready';
    }
    if (wantDir) return 'exists';
    try {
      await rmdir(abs);
      this.dirs.delete(rel);
      return 'ready';
    } catch (err) {
      this.warn(`${rel}: a non-empty directory is in the way (${errnoCode(err) ?? String(err)}), entry skipped`);
      return 'blocked';
    }
  }

  markDir(rel: string): void {
    this.dirs.add(rel);
  }

  /** Directory mode and times go on at the very end: writing entries into it would change them. */
  deferDir(rel: string, mode: number, atime: number, mtime: number): void {
    const depth = rel === '' ? 0 : rel.split('/').length;
    this.deferred.push({ abs: this.abs(rel), depth, mode, atime, mtime });
  }

  /** Deepest first, so a read-only parent does not block fixing up its children. */
  async finish(): Promise<void> {
    const list = this.deferred.sort((a, b) => b.depth - a.depth);
    for (const d of list) {
      try {
        await chmod(d.abs, d.mode);
        await utimes(d.abs, d.atime, d.mtime);
      } catch (err) {
        this.warn(`${d.abs}: cannot set directory mode/times (${errnoCode(err) ?? String(err)})`);
      }
    }
    this.deferred.length = 0;
  }
}
