import { availableParallelism } from 'node:os';
import { GuestvaultError } from '../errors.js';

/** Archive compressors as vzdump names them (`--compress`). */
export type Compressor = 'none' | 'gzip' | 'lzo' | 'zstd';

export const COMPRESSOR_EXTENSIONS: Record<Compressor, string> = { none: '', gzip: '.gz', lzo: '.lzo', zstd: '.zst' };

/** vzdump's `--compress 0|1|gzip|lzo|zstd` (1 means lzo). */
export function parseCompress(value: string | boolean | undefined): Compressor {
  if (value === undefined || value === false || value === '0') return 'none';
  if (value === true || value === '1' || value === 'lzo') return 'lzo';
  if (value === 'gzip' || value === 'zstd') return value;
  throw new GuestvaultError('E_USAGE', `unknown compressor '${String(value)}' for --compress (use 0, 1, gzip, lzo or zstd)`);
}

export interface CompressOptions {
  /** vzdump `--zstd`: 0 = half the cores, N = N threads (default 1). */
  zstd?: number;
  /** vzdump `--pigz`: 0 = gzip, 1 = pigz with half the cores, N = pigz with N threads. */
  pigz?: number;
}

function halfTheCores(): number {
  return Math.max(1, Math.floor((availableParallelism() + 1) / 2));
}

/**
 * The external program that compresses a stream, as vzdump runs it (a pipeline stage on its own
 * core). zstd runs at level 1: the speed that keeps up with reading a disk.
 */
export function compressCommand(c: Compressor, opts: CompressOptions = {}): { cmd: string; args: string[] } | undefined {
  switch (c) {
    case 'none':
      return undefined;
    case 'zstd': {
      const threads = opts.zstd === undefined ? 1 : opts.zstd === 0 ? halfTheCores() : opts.zstd;
      return { cmd: 'zstd', args: ['-q', '-c', '-1', `--threads=${threads}`] };
    }
    case 'gzip':
      if (opts.pigz && opts.pigz > 0) return { cmd: 'pigz', args: ['-c', '-p', String(opts.pigz === 1 ? halfTheCores() : opts.pigz)] };
      return { cmd: 'gzip', args: ['-c'] };
    case 'lzo':
      return { cmd: 'lzop', args: ['-c'] };
  }
}

export function decompressCommand(c: Exclude<Compressor, 'none'>): { cmd: string; args: string[] } {
  switch (c) {
    case 'zstd':
      return { cmd: 'zstd', args: ['-q', '-d', '-c'] };
    case 'gzip':
      return { cmd: 'gzip', args: ['-d', '-c'] };
    case 'lzo':
      return { cmd: 'lzop', args: ['-d', '-c'] };
  }
}

/** The compression of a file from its first bytes (not its name, which may be anything). */
export function detectCompression(head: Buffer): Compressor {
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x89 && head.subarray(1, 4).toString('latin1') === 'LZO') return 'lzo';
  return 'none';
}
