/**
 * Restores a tar stream into a directory with its metadata. Works on whole archives and on a
 * byte range that starts at an entry's header (a subtree from catalogRange). Data goes from the
 * stream to disk piece by piece; per-entry state is small, the only growing state is one record
 * per directory (modes/times applied at the end) and the set of directories already checked.
 */
import { execFile } from 'node:child_process';
import { constants as C } from 'node:fs';
import { lchown, link, lutimes, mkdir, open, symlink, chmod, utimes, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { errnoCode, GuestvaultError } from '../errors.js';
import { ByteSource } from './byte-source.js';
import { safeArchivePath } from './safe-path.js';
import { readSparseMap, sparseDataSize, type SparseRegion } from './sparse-map.js';
import { TargetTree } from './target-tree.js';
import { TarReader, type TarEntry } from './tar-reader.js';
import { writeXattrs } from './xattrs.js';

const run = promisify(execFile);
const WRITE_PIECE = 1024 * 1024;

export interface ExtractOptions {
  onWarning?: (msg: string) => void;
  onEntry?: (path: string) => void;
  /** Stop after this many bytes of the stream (restoring one range out of a longer stream). */
  maxBytes?: number;
}

async function writeAll(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
    done += bytesWritten;
  }
}

class Extractor {
  readonly isRoot = process.getuid?.() === 0;
  bytes = 0;

  constructor(
    private readonly tree: TargetTree,
    private readonly reader: TarReader,
    private readonly warn: (m: string) => void,
  ) {}

  /** Extracts one entry; false when it was skipped (with a warning). */
  async extract(e: TarEntry, rel: string): Promise<boolean> {
    if (e.type === undefined) {
      this.warn(`${e.path}: tar entry type '${e.typeflag}' is not supported, skipped`);
      return false;
    }
    if (rel === '' && e.type !== 'dir') {
      this.warn(`tar entry at offset ${e.offset}: ${e.type} without a name, skipped`);
      return false;
    }
    await this.tree.ensureParents(rel, e.offset);
    const state = await this.tree.clear(rel, e.type === 'dir');
    if (state === 'blocked') return false;
    const abs = this.tree.abs(rel);
    const atime = e.atime ?? e.mtime;
    switch (e.type) {
      case 'dir':
        if (state === 'ready') await mkdir(abs, 0o700);
        this.tree.markDir(rel);
        await this.owner(abs, e);
        this.xattrs(abs, e);
        this.tree.deferDir(rel, e.mode, atime, e.mtime);
        return true;
      case 'file':
        await this.file(abs, e);
        return true;
      case 'symlink':
        await symlink(e.linkpath, abs);
        await this.owner(abs, e);
        await lutimes(abs, atime, e.mtime);
        return true;
      case 'hardlink':
        return this.hardlink(abs, rel, e);
      case 'fifo':
        await run('mkfifo', ['--', abs]);
        break;
      case 'chardev':
      case 'blockdev':
        if (!this.isRoot) {
          this.warn(`${rel}: device nodes can only be created by root, skipped`);
          return false;
        }
        await run('mknod', ['--', abs, e.type === 'chardev' ? 'c' : 'b', String(e.devmajor), String(e.devminor)]);
        break;
    }
    // fifos and devices: metadata by path (opening them could block or have side effects).
    await this.owner(abs, e);
    await chmod(abs, e.mode);
    this.xattrs(abs, e);
    await utimes(abs, atime, e.mtime);
    return true;
  }

  /** Owner before mode: chown clears setuid/setgid bits. Only root may give files away. */
  private async owner(abs: string, e: TarEntry, fh?: FileHandle): Promise<void> {
    if (!this.isRoot) return;
    try {
      if (fh) await fh.chown(e.uid, e.gid);
      else await lchown(abs, e.uid, e.gid);
    } catch (err) {
      this.warn(`${abs}: cannot set owner ${e.uid}:${e.gid} (${errnoCode(err) ?? String(err)})`);
    }
  }

  private xattrs(abs: string, e: TarEntry): void {
    if (e.xattrs.length > 0) for (const w of writeXattrs(abs, e.xattrs)) this.warn(w);
  }

  private async file(abs: string, e: TarEntry): Promise<void> {
    // O_EXCL after clear(): we create a fresh inode and never follow a planted symlink.
    const fh = await open(abs, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
    try {
      if (e.sparse) {
        const regions = e.sparse.regions ?? (await readSparseMap(() => this.reader.block(), e.size, e.offset)).regions;
        this.checkRegions(e, regions, e.sparse.realSize);
        for (const r of regions) await this.copyData(fh, r.offset, r.length);
        // Holes are simply never written; truncate gives the file its full size.
        await fh.truncate(e.sparse.realSize);
        this.bytes += e.sparse.realSize;
      } else {
        this.bytes += await this.copyData(fh, 0, this.reader.dataLeft);
      }
      await this.owner(abs, e, fh);
      await fh.chmod(e.mode);
      this.xattrs(abs, e);
      await fh.utimes(e.atime ?? e.mtime, e.mtime);
    } finally {
      await fh.close();
    }
  }

  private checkRegions(e: TarEntry, regions: readonly SparseRegion[], realSize: number): void {
    const total = sparseDataSize(regions);
    const bad = regions.some((r) => r.offset + r.length > realSize);
    if (bad || total !== this.reader.dataLeft) {
      throw new GuestvaultError(
        'E_TAR_CORRUPT',
        `sparse entry ${JSON.stringify(e.path)} at offset ${e.offset}: map describes ${total} bytes within ${realSize}, entry holds ${this.reader.dataLeft}`,
      );
    }
  }

  private async copyData(fh: FileHandle, position: number, length: number): Promise<number> {
    let done = 0;
    while (done < length) {
      const p = await this.reader.piece(Math.min(WRITE_PIECE, length - done));
      await writeAll(fh, p, position + done);
      done += p.length;
    }
    return done;
  }

  private async hardlink(abs: string, rel: string, e: TarEntry): Promise<boolean> {
    const target = safeArchivePath(e.linkpath, e.offset);
    if (!(await this.tree.restoredThisRun(target))) {
      this.warn(`${rel}: hard link to ${target}, which was not restored (outside the restored range?), skipped`);
      return false;
    }
    await link(this.tree.abs(target), abs);
    return true;
  }
}

export async function extractTar(
  source: AsyncIterable<Buffer>,
  targetDir: string,
  opts: ExtractOptions = {},
): Promise<{ entries: number; bytes: number }> {
  const warn = (m: string): void => opts.onWarning?.(m);
  const tree = new TargetTree(resolve(targetDir), warn);
  const src = new ByteSource(source, opts.maxBytes);
  const reader = new TarReader(src);
  const ex = new Extractor(tree, reader, warn);
  let entries = 0;
  try {
    try {
      await tree.begin();
    } catch (err) {
      throw new GuestvaultError('E_TREE_RESTORE', `${tree.root}: cannot use as restore target (${errnoCode(err) ?? String(err)})`, { cause: err });
    }
    for (;;) {
      const e = await reader.next();
      if (!e) break;
      const rel = safeArchivePath(e.path, e.offset);
      let ok: boolean;
      try {
        ok = await ex.extract(e, rel);
      } catch (err) {
        if (err instanceof GuestvaultError) throw err;
        throw new GuestvaultError('E_TREE_RESTORE', `${tree.abs(rel)}: cannot restore (${errnoCode(err) ?? String(err)})`, { cause: err });
      }
      if (ok) {
        entries++;
        opts.onEntry?.(rel);
      }
    }
    await tree.finish();
  } finally {
    await src.close();
  }
  return { entries, bytes: ex.bytes };
}
