/**
 * Reading a vzdump archive file's bytes, decompressed, into a consumer that parses as they come.
 *
 * Plain and zstd archives are read in this process straight into the consumer's own buffer
 * (`writable`/`commit`): no pipe, no per-read allocation and no copy — on this kind of machine
 * fresh memory and socket copies cost more than decompression itself. gzip and lzo go through
 * the external decompressor as a separate process.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as ZstdBinding from 'zstd-napi/binding.js';
import { GuestvaultError } from '../errors.js';
import { decompressCommand, detectCompression, type Compressor } from './compression.js';

const zstd = createRequire(import.meta.url)('zstd-napi/binding.js') as typeof ZstdBinding;

/** Takes the archive's bytes: `writable()` is where the next ones go (empty: it wants no more). */
export interface ArchiveConsumer {
  writable(): Buffer;
  commit(n: number): void;
  /** When it returns a promise, `writable()` must wait for it (its buffer is still being written out). */
  ready?(): Promise<void> | undefined;
  /** Bytes taken so far. */
  readonly offset: number;
}

const INPUT_SIZE = 1024 * 1024;
/** Give the event loop a turn (signals, timers) after this many bytes of a synchronous read. */
const YIELD_EVERY = 32 * 1024 * 1024;

function openArchive(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new GuestvaultError(code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_IO', `cannot open archive ${path}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
}

/** The compression of an archive file, from its first bytes. */
export function archiveCompression(path: string): Compressor {
  const fd = openArchive(path);
  try {
    const head = Buffer.alloc(16);
    return detectCompression(head.subarray(0, readSync(fd, head, 0, 16, 0)));
  } finally {
    closeSync(fd);
  }
}

function yieldTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Wait until the consumer's buffer is free, without a turn of the event loop when it is already. */
async function whenReady(c: ArchiveConsumer): Promise<void> {
  const wait = c.ready?.();
  if (wait) await wait;
}

async function pumpPlain(fd: number, c: ArchiveConsumer, progress?: (bytes: number) => void): Promise<void> {
  let nextYield = YIELD_EVERY;
  for (;;) {
    await whenReady(c);
    const target = c.writable();
    if (target.length === 0) return;
    const n = readSync(fd, target, 0, target.length, null);
    if (n === 0) return;
    c.commit(n);
    if (c.offset >= nextYield) {
      nextYield = c.offset + YIELD_EVERY;
      progress?.(c.offset);
      await yieldTurn();
    }
  }
}

async function pumpZstd(path: string, fd: number, c: ArchiveConsumer, progress?: (bytes: number) => void): Promise<void> {
  const dctx = new zstd.DCtx();
  const input = Buffer.allocUnsafe(INPUT_SIZE);
  let inLen = 0;
  let inPos = 0;
  let eof = false;
  // Non-zero while a frame is not complete: at the end of the file that means it was cut short.
  let pending = 0;
  let nextYield = YIELD_EVERY;
  for (;;) {
    await whenReady(c);
    const target = c.writable();
    if (target.length === 0) return;
    if (inPos === inLen && !eof) {
      inLen = readSync(fd, input, 0, INPUT_SIZE, null);
      inPos = 0;
      eof = inLen === 0;
    }
    let hint: number;
    let produced: number;
    let consumed: number;
    try {
      [hint, produced, consumed] = dctx.decompressStream(target, input.subarray(inPos, inLen));
    } catch (err) {
      throw new GuestvaultError('E_VMA_FORMAT', `archive ${path}: zstd cannot decompress it after ${c.offset} bytes: ${(err as Error).message}`);
    }
    inPos += consumed;
    // A call that moved nothing says nothing about the frame (it only hints at more input).
    if (consumed > 0 || produced > 0) pending = hint;
    if (produced > 0) c.commit(produced);
    if (eof && produced === 0) {
      if (pending !== 0) throw new GuestvaultError('E_VMA_FORMAT', `archive ${path}: zstd cannot decompress it after ${c.offset} bytes: the compressed stream is cut short`);
      return;
    }
    if (c.offset >= nextYield) {
      nextYield = c.offset + YIELD_EVERY;
      progress?.(c.offset);
      await yieldTurn();
    }
  }
}

async function pumpExternal(path: string, compression: Exclude<Compressor, 'none' | 'zstd'>, c: ArchiveConsumer, progress?: (bytes: number) => void): Promise<void> {
  const { cmd, args } = decompressCommand(compression);
  const input = openArchive(path);
  const child = spawn(cmd, args, { stdio: [input, 'pipe', 'pipe'] });
  closeSync(input);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const exited = new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, error }));
    child.once('close', (code) => resolve({ code }));
  });
  let stopped = false;
  let failure: unknown;
  try {
    for await (const piece of child.stdout!) {
      const data = piece as Buffer;
      for (let pos = 0; pos < data.length; ) {
        await whenReady(c);
        const target = c.writable();
        if (target.length === 0) {
          stopped = true;
          break;
        }
        const n = data.copy(target, 0, pos, Math.min(data.length, pos + target.length));
        pos += n;
        c.commit(n);
      }
      progress?.(c.offset);
      if (stopped) break;
    }
  } catch (err) {
    failure = err;
    stopped = true;
  }
  if (stopped) child.kill('SIGTERM');
  const { code, error } = await exited;
  if (failure) throw failure;
  if (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new GuestvaultError(missing ? 'E_TOOL_MISSING' : 'E_IO', `archive ${path}: cannot run ${cmd} to decompress it${missing ? ` (install ${cmd})` : `: ${error.message}`}`);
  }
  if (code !== 0 && !stopped) {
    // A truncated or corrupt compressed stream: say what the decompressor said.
    const why = stderr.trim().split('\n').pop() || `exit code ${code}`;
    throw new GuestvaultError('E_VMA_FORMAT', `archive ${path}: ${cmd} cannot decompress it after ${c.offset} bytes: ${why}`);
  }
}

/**
 * Feeds the archive's decompressed bytes to `c` until the file ends or `c` wants no more.
 * Returns the compression found.
 */
export async function pumpArchive(path: string, c: ArchiveConsumer, progress?: (bytes: number) => void): Promise<Compressor> {
  const compression = archiveCompression(path);
  if (compression === 'gzip' || compression === 'lzo') {
    await pumpExternal(path, compression, c, progress);
  } else {
    const fd = openArchive(path);
    try {
      if (compression === 'zstd') await pumpZstd(path, fd, c, progress);
      else await pumpPlain(fd, c, progress);
    } finally {
      closeSync(fd);
    }
  }
  progress?.(c.offset);
  return compression;
}
