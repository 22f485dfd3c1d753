import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { GuestvaultError } from '../errors.js';
import type { ChunkTask, ChunkTaskResult, LoadResult, StoreResult, TouchResult, VerifyResult } from './chunk-task.js';

function workerFile(): string {
  const url = new URL('./chunk-worker.js', import.meta.url);
  // Under vitest this module runs from src/*.ts; the worker must be the compiled file in dist/.
  if (import.meta.url.endsWith('.ts')) return fileURLToPath(url).replace(/\/src\/datastore\//, '/dist/datastore/');
  return fileURLToPath(url);
}

/** Worker threads: GUESTVAULT_WORKERS when set (to limit or raise CPU use), else one per core, at least two. */
export function defaultThreads(): number {
  const env = Number(process.env.GUESTVAULT_WORKERS);
  if (Number.isInteger(env) && env >= 1 && env <= 64) return env;
  return Math.max(2, availableParallelism());
}

/**
 * Workers for a source the main thread reads itself (an NBD export): one more than the cores,
 * since the main thread is busy receiving and the workers would otherwise wait for it
 * (measured: 2 GiB VM backup 11.1 s → 9.7 s on 2 cores).
 */
export function streamThreads(): number {
  return process.env.GUESTVAULT_WORKERS ? defaultThreads() : defaultThreads() + 1;
}

/**
 * A bounded pool of chunk workers. `run` waits while `maxInFlight` tasks are queued, which is
 * the back-pressure that keeps memory flat however large the source is.
 *
 * With 0 threads the tasks run in the calling thread: for a backup that will store only a few
 * chunks (a small incremental), starting a worker (~150 ms of CPU, modules loaded again) costs
 * more than the work itself.
 */
export class ChunkPool {
  private readonly piscina: Piscina | undefined;
  private inFlight = 0;
  private readonly waiters: (() => void)[] = [];
  readonly threads: number;
  readonly maxInFlight: number;

  /** `eager`: workers started at once; the others start when tasks queue up. */
  constructor(threads = defaultThreads(), eager = threads) {
    this.threads = threads;
    // In this thread one chunk at a time: each one in flight holds a 4 MiB read buffer.
    this.maxInFlight = threads === 0 ? 1 : threads * 2;
    this.piscina = threads === 0 ? undefined : new Piscina({ filename: workerFile(), minThreads: Math.min(eager, threads), maxThreads: threads, idleTimeout: 60_000 });
  }

  /** Resolves once a slot is free; pair every call with exactly one `run`. */
  async slot(): Promise<void> {
    while (this.inFlight >= this.maxInFlight) await new Promise<void>((r) => this.waiters.push(r));
    this.inFlight++;
  }

  /** Give back a slot that will not be used. */
  cancelSlot(): void {
    this.release();
  }

  private release(): void {
    this.inFlight--;
    this.waiters.shift()?.();
  }

  /** Run a task in a slot obtained with `slot()`. */
  async run(task: Extract<ChunkTask, { op: 'store-range' | 'store-data' }>, transfer?: ArrayBuffer[]): Promise<StoreResult>;
  async run(task: Extract<ChunkTask, { op: 'load' }>): Promise<LoadResult>;
  async run(task: Extract<ChunkTask, { op: 'verify' }>): Promise<VerifyResult>;
  async run(task: Extract<ChunkTask, { op: 'touch' }>): Promise<TouchResult>;
  async run(task: ChunkTask, transfer?: ArrayBuffer[]): Promise<StoreResult | LoadResult | VerifyResult | TouchResult> {
    try {
      const res = this.piscina
        ? ((await this.piscina.run(task, transfer ? { transferList: transfer } : {})) as ChunkTaskResult)
        : (await import('./chunk-worker.js')).default(task);
      if (res.error) throw new GuestvaultError(res.error.code, res.error.message);
      return res.ok;
    } finally {
      this.release();
    }
  }

  async close(): Promise<void> {
    await this.piscina?.destroy();
  }
}

let shared: ChunkPool | undefined;

/**
 * A long-running process (the daemon) keeps one pool of started workers for all the backups it
 * runs: starting workers costs ~150 ms of CPU each, more than a small incremental's work.
 */
export function setSharedChunkPool(pool: ChunkPool | undefined): void {
  shared = pool;
}

export function sharedChunkPool(): ChunkPool | undefined {
  return shared;
}
