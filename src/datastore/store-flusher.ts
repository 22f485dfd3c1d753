import { open } from 'node:fs/promises';
import { syncFs } from './syncfs.js';

/**
 * Chunks are written without fsync; the datastore is synced (syncfs, via `sync -f`) before the
 * manifest is written, as PBS does by default. Syncing in the background every few hundred MiB
 * overlaps the disk writes with hashing and compression, so the final sync has little left to do.
 */
export class StoreFlusher {
  private pending = 0;
  private running: Promise<void> | undefined;
  /** Bytes synced file by file so far, and those syncs. */
  private eachBytes = 0;
  private readonly each = new Set<Promise<void>>();

  constructor(private readonly path: string, private readonly every = 256 * 1024 * 1024, private readonly eachUpTo = 64 * 1024 * 1024) {}

  /**
   * `file` was just written. The first `eachUpTo` bytes are synced file by file at once, on the
   * thread pool: a small backup (an incremental) then has its data on disk by the time its
   * chunks are all stored, instead of waiting for the final sync to write it all.
   */
  written(bytes: number, file?: string): void {
    if (file && this.eachBytes + bytes <= this.eachUpTo) {
      this.eachBytes += bytes;
      const p = datasync(file).finally(() => this.each.delete(p));
      this.each.add(p);
      return;
    }
    this.pending += bytes;
    if (this.pending < this.every || this.running) return;
    this.pending = 0;
    this.running = syncFs(this.path).finally(() => {
      this.running = undefined;
    });
  }

  /**
   * Everything written so far is on disk when this resolves. Not spawnSync: in the daemon, which
   * runs the backups of `guestvault vzdump` too, that would stall the API and every other task
   * for as long as the write-back takes.
   */
  async flush(): Promise<void> {
    // The syncfs does not wait for the file syncs still running: it writes back and waits for
    // everything written before it, theirs included, and shares their journal commit (a small
    // incremental's end: ~5 ms shorter than one after the other).
    await Promise.all([...this.each, this.running, syncFs(this.path)]);
    this.pending = 0;
  }
}

/** fdatasync of one file; a failure is left to the final syncfs, which covers the file too. */
async function datasync(file: string): Promise<void> {
  try {
    const fh = await open(file, 'r');
    try {
      await fh.datasync();
    } finally {
      await fh.close();
    }
  } catch {
    // see above
  }
}
