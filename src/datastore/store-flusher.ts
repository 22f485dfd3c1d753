import { syncFs } from './syncfs.js';

/**
 * Chunks are written without fsync; the datastore is synced (syncfs, via `sync -f`) before the
 * manifest is written, as PBS does by default. Syncing in the background every few hundred MiB
 * overlaps the disk writes with hashing and compression, so the final sync has little left to do.
 */
export class StoreFlusher {
  private pending = 0;
  private running: Promise<void> | undefined;

  constructor(private readonly path: string, private readonly every = 256 * 1024 * 1024) {}

  written(bytes: number): void {
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
    await this.running;
    await syncFs(this.path);
    this.pending = 0;
  }
}
