import { closeSync, ftruncateSync, mkdirSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GuestvaultError } from '../errors.js';
import { VmaParser, type VmaDeviceReport, type VmaExtent, type VmaHeader } from '../formats/vma/index.js';
import { pumpArchive } from './archive-reader.js';
import type { Compressor } from './compression.js';
import { writeAt } from './write-at.js';

export interface VmaReadResult {
  header: VmaHeader;
  compression: Compressor;
  devices: VmaDeviceReport[];
  /** Bytes of the uncompressed archive. */
  bytes: number;
  extents: number;
}

/**
 * Extents whose data a restore may still be writing while the next ones are decompressed. The
 * writes (page cache, on a libuv thread) then run beside the decompression on the main thread;
 * 3 rather than 2 so that a slow write does not stall the decompression at once.
 */
export const VMA_DATA_IN_FLIGHT = 3;

export interface VmaReadHandler {
  header?(h: VmaHeader): void;
  extent?(e: VmaExtent): void;
  /**
   * Stored data as it arrives (see VmaParserHandler.data); cheaper than taking it from `extent`.
   * It may return a promise (a write under way): `bytes` stays valid until it settles, and the
   * archive is read on meanwhile (VMA_DATA_IN_FLIGHT extents at most).
   */
  data?(devId: number, byteOffset: number, bytes: Buffer): void | Promise<void>;
  /** Uncompressed bytes so far. */
  progress?(bytes: number): void;
}

function wrapError(path: string, err: unknown): GuestvaultError {
  const label = `archive ${path}`;
  if (err instanceof GuestvaultError) return err.message.startsWith(label) ? err : new GuestvaultError(err.code, `${label}: ${err.message}`, { cause: err });
  return new GuestvaultError('E_IO', `${label}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

/**
 * Streams a VMA archive (plain, or compressed with zstd, gzip or lzo: found from its first
 * bytes) through the parser. Fails on a corrupt or truncated archive with the offset; missing
 * clusters are reported in `devices`.
 */
export async function readVmaFile(path: string, handler: VmaReadHandler = {}): Promise<VmaReadResult> {
  let header: VmaHeader | undefined;
  const parser = new VmaParser({
    header: (h) => {
      header = h;
      handler.header?.(h);
    },
    extent: (e) => handler.extent?.(e),
    ...(handler.data ? { data: handler.data } : {}),
  }, { inFlight: VMA_DATA_IN_FLIGHT });
  try {
    const compression = await pumpArchive(path, parser, handler.progress);
    await parser.drain();
    const devices = parser.end();
    return { header: header!, compression, devices, bytes: parser.offset, extents: parser.extents };
  } catch (err) {
    // Nothing of `data` may still run when the caller cleans up (closes its files) after this.
    await parser.drain().catch(() => undefined);
    throw wrapError(path, err);
  }
}

/** Only the header of a VMA archive (configs and devices): reading stops right after it. */
export async function readVmaHeader(path: string): Promise<{ header: VmaHeader; compression: Compressor }> {
  const parser = new VmaParser({ header: () => undefined, extent: () => undefined }, { headerOnly: true });
  try {
    const compression = await pumpArchive(path, parser);
    if (parser.header) return { header: parser.header, compression };
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
      data: (devId, at, data) => {
        const t = fds.get(devId)!;
        // The device's last block is zero-padded in the archive: stop at the device's end.
        return writeAt(t.fd, data.subarray(0, Math.min(data.length, t.size - at)), at);
      },
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
