import { spawn } from 'node:child_process';
import { closeSync, createReadStream, ftruncateSync, mkdirSync, openSync, readSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { GuestvaultError } from '../errors.js';
import { forEachBlockRun, VmaParser, type VmaDeviceReport, type VmaExtent, type VmaHeader } from '../formats/vma/index.js';
import { decompressCommand, detectCompression, type Compressor } from './compression.js';

export interface VmaReadResult {
  header: VmaHeader;
  compression: Compressor;
  devices: VmaDeviceReport[];
  /** Bytes of the uncompressed archive. */
  bytes: number;
  extents: number;
}

export interface VmaReadHandler {
  header?(h: VmaHeader): void;
  extent?(e: VmaExtent): void;
  /** Uncompressed bytes so far. */
  progress?(bytes: number): void;
}

function readHead(path: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new GuestvaultError(code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_IO', `cannot open archive ${path}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  try {
    const head = Buffer.alloc(16);
    return head.subarray(0, readSync(fd, head, 0, 16, 0));
  } finally {
    closeSync(fd);
  }
}

/** A file's bytes, decompressed by a separate process when it is compressed. */
interface ArchiveStream {
  compression: Compressor;
  pieces: AsyncIterable<Buffer>;
  /** After the pieces ended (`read` bytes of them): why the decompressor failed, if it did. */
  finish(read: number): Promise<GuestvaultError | undefined>;
  /** Stop reading early (the decompressor is killed; `finish` then reports nothing). */
  stop(): void;
}

function openArchiveStream(path: string): ArchiveStream {
  const compression = detectCompression(readHead(path));
  const label = `archive ${path}`;
  if (compression === 'none') {
    const stream = createReadStream(path, { highWaterMark: 1024 * 1024 });
    return { compression, pieces: stream, finish: async () => undefined, stop: () => stream.destroy() };
  }
  const { cmd, args } = decompressCommand(compression);
  const input = openSync(path, 'r');
  const child = spawn(cmd, args, { stdio: [input, 'pipe', 'pipe'] });
  closeSync(input);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  let stopped = false;
  const exited = new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, error }));
    child.once('close', (code) => resolve({ code }));
  });
  return {
    compression,
    pieces: child.stdout!,
    async finish(read) {
      const { code, error } = await exited;
      if (error) {
        const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
        return new GuestvaultError(missing ? 'E_TOOL_MISSING' : 'E_IO', `${label}: cannot run ${cmd} to decompress it${missing ? ` (install ${cmd})` : `: ${error.message}`}`);
      }
      if (code === 0 || stopped) return undefined;
      // A truncated or corrupt compressed stream: say what the decompressor said.
      const why = stderr.trim().split('\n').pop() || `exit code ${code}`;
      return new GuestvaultError('E_VMA_FORMAT', `${label}: ${cmd} cannot decompress it after ${read} bytes: ${why}`);
    },
    stop() {
      stopped = true;
      child.kill('SIGTERM');
    },
  };
}

function wrapError(path: string, err: unknown): GuestvaultError {
  const label = `archive ${path}`;
  if (err instanceof GuestvaultError) return err.message.startsWith(label) ? err : new GuestvaultError(err.code, `${label}: ${err.message}`, { cause: err });
  return new GuestvaultError('E_IO', `${label}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

/**
 * Streams a VMA archive (plain, or compressed with zstd, gzip or lzo: found from its first
 * bytes) through the parser; decompression runs as a separate process, so it overlaps with what
 * the handler does. Fails on a corrupt or truncated archive with the offset; missing clusters
 * are reported in `devices`.
 */
export async function readVmaFile(path: string, handler: VmaReadHandler = {}): Promise<VmaReadResult> {
  const stream = openArchiveStream(path);
  let header: VmaHeader | undefined;
  const parser = new VmaParser({
    header: (h) => {
      header = h;
      handler.header?.(h);
    },
    extent: (e) => handler.extent?.(e),
  });
  try {
    for await (const piece of stream.pieces) {
      parser.feed(piece as Buffer);
      handler.progress?.(parser.offset);
    }
  } catch (err) {
    stream.stop();
    await stream.finish(parser.offset);
    throw wrapError(path, err);
  }
  const failed = await stream.finish(parser.offset);
  if (failed) throw failed;
  try {
    const devices = parser.end();
    return { header: header!, compression: stream.compression, devices, bytes: parser.offset, extents: parser.extents };
  } catch (err) {
    throw wrapError(path, err);
  }
}

/** Only the header of a VMA archive (configs and devices): reading stops right after it. */
export async function readVmaHeader(path: string): Promise<{ header: VmaHeader; compression: Compressor }> {
  const stream = openArchiveStream(path);
  const parser = new VmaParser({ header: () => undefined, extent: () => undefined }, { headerOnly: true });
  try {
    for await (const piece of stream.pieces) {
      parser.feed(piece as Buffer);
      if (parser.header) break;
    }
  } catch (err) {
    stream.stop();
    await stream.finish(parser.offset);
    throw wrapError(path, err);
  }
  if (parser.header) {
    stream.stop();
    await stream.finish(parser.offset);
    return { header: parser.header, compression: stream.compression };
  }
  const failed = await stream.finish(parser.offset);
  if (failed) throw failed;
  try {
    parser.end();
  } catch (err) {
    throw wrapError(path, err);
  }
  throw new GuestvaultError('E_VMA_FORMAT', `archive ${path}: no VMA header`);
}

/** "drive-scsi0: 163,724 of 163,840 clusters missing, the first is cluster 23 (byte 1507328)". */
export function describeMissing(r: VmaDeviceReport): string | undefined {
  if (r.firstMissing === undefined) return undefined;
  return `${r.device.name}: ${r.clusters - r.present} of ${r.clusters} clusters missing, the first is cluster ${r.firstMissing} (byte ${r.firstMissing * 65536})`;
}

/** The archive is complete: every cluster of every device is present (else E_VMA_INCOMPLETE). */
export function checkComplete(path: string, result: VmaReadResult): void {
  const missing = result.devices.map(describeMissing).filter((m): m is string => m !== undefined);
  if (missing.length > 0) throw new GuestvaultError('E_VMA_INCOMPLETE', `archive ${path} is incomplete: ${missing.join('; ')}`);
}

/**
 * `vma extract`: the configs as files and each device as a sparse `disk-<name>.raw` in `dir`,
 * which must not exist yet. On any error (including an incomplete archive) `dir` is removed.
 */
export async function extractVmaFile(path: string, dir: string, progress?: (bytes: number) => void): Promise<VmaReadResult> {
  try {
    statSync(dir);
    throw new GuestvaultError('E_EXISTS', `target directory ${dir} already exists`);
  } catch (err) {
    if (err instanceof GuestvaultError) throw err;
  }
  mkdirSync(dir, { recursive: true });
  const fds = new Map<number, { fd: number; size: number }>();
  try {
    const result = await readVmaFile(path, {
      header: (h) => {
        for (const c of h.configs) writeFileSync(join(dir, c.name.replace(/\//g, '_')), c.data);
        for (const d of h.devices) {
          const fd = openSync(join(dir, `disk-${d.name.replace(/\//g, '_')}.raw`), 'wx');
          ftruncateSync(fd, d.size);
          fds.set(d.id, { fd, size: d.size });
        }
      },
      extent: (e) =>
        forEachBlockRun(e, (devId, at, data) => {
          const t = fds.get(devId)!;
          // The device's last block is zero-padded in the archive: stop at the device's end.
          const n = Math.min(data.length, t.size - at);
          for (let done = 0; done < n; ) done += writeSync(t.fd, data, done, n - done, at + done);
        }),
      progress,
    });
    checkComplete(path, result);
    return result;
  } catch (err) {
    for (const { fd } of fds.values()) closeSync(fd);
    fds.clear();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  } finally {
    for (const { fd } of fds.values()) closeSync(fd);
  }
}
