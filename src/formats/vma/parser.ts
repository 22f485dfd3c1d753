import { GuestvaultError } from '../../errors.js';
import {
  clusterCount,
  decodeExtentHeader,
  decodeVmaHeader,
  VMA_BLOCK_SIZE,
  VMA_BLOCKS_PER_CLUSTER,
  VMA_CLUSTER_SIZE,
  VMA_EXTENT_HEADER_SIZE,
  VMA_MAGIC,
  VMA_MAX_EXTENT_SIZE,
  vmaHeaderSize,
  type VmaBlockInfo,
  type VmaDevice,
  type VmaHeader,
} from './layout.js';

/** One extent as read: its slots, and its stored blocks back to back (`blocks`). */
export interface VmaExtent {
  /** Byte offset of the extent in the (uncompressed) archive. */
  offset: number;
  infos: VmaBlockInfo[];
  /** The stored 4 KiB blocks in slot order; valid only during the callback. */
  blocks: Buffer;
}

export interface VmaParserHandler {
  header(h: VmaHeader): void;
  extent(e: VmaExtent): void;
  /**
   * Optional: stored data as soon as it arrives, before its extent is complete — consecutive
   * blocks of one device at once, possibly in several pieces. `bytes` is valid during the call,
   * or until the promise returned settles (see VmaParserOptions.inFlight).
   */
  data?(devId: number, byteOffset: number, bytes: Buffer): void | Promise<void>;
}

export interface VmaParserOptions {
  /** Stop after the header, ignoring everything fed after it (reading only the configs and devices). */
  headerOnly?: boolean;
  /**
   * How many extents' data `data` may still be busy with (its promises not settled) while the
   * next ones are read: the parser then reads into that many buffers in turn, hands the data
   * over in whatever pieces arrive, and `ready()` says when the next buffer is free again. So a
   * restore's writes run beside the decompression instead of after it. Default 1: `data` is
   * done when it returns (a promise it returns is still waited for before the buffer is reused).
   */
  inFlight?: number;
}

/** Stored blocks that are consecutive on one device: where they go, and where they are in the extent's data. */
interface BlockRun {
  devId: number;
  byteOffset: number;
  /** Offset in the extent's data (after its header). */
  from: number;
  len: number;
}

/** While data is handed over as it arrives, it is read in pieces this large: still in the CPU cache when handed over. */
export const VMA_DATA_PIECE = 256 * 1024;

/** With data in flight (VmaParserOptions.inFlight), data is handed over at least this much at a time. */
export const VMA_DATA_BATCH = 1024 * 1024;

export interface VmaDeviceReport {
  device: VmaDevice;
  clusters: number;
  present: number;
  /** Clusters stored as all zero (mask 0). */
  zero: number;
  /** First missing cluster, if any. */
  firstMissing?: number;
}

function formatError(message: string): GuestvaultError {
  return new GuestvaultError('E_VMA_FORMAT', message);
}

/**
 * Reads a VMA archive pushed to it in pieces of any size (`feed`), checks the header, every
 * extent header and that no cluster appears twice, and hands over whole extents. `end` reports
 * per device which clusters never came, or fails when the stream stops inside the header or an
 * extent (with the offset).
 */
export class VmaParser {
  /** The buffers extents are read into, in turn (more than one only with `inFlight`). */
  private readonly bufs: Buffer[] = [Buffer.allocUnsafe(VMA_MAX_EXTENT_SIZE)];
  private cur = 0;
  private buf = this.bufs[0]!;
  /** Per buffer: what `data` is still doing with the data handed over from it. */
  private busy: Array<Array<Promise<void>>>;
  /** What must settle before the current buffer is written to (its previous extent's data). */
  private waitFor: Array<Promise<void>> = [];
  private failure: { err: unknown } | undefined;
  private filled = 0;
  /** Bytes the current piece (header, extent header, extent data) needs. */
  private want = 64;
  private stage: 'head-fixed' | 'head' | 'extent-header' | 'extent-data' | 'stopped' = 'head-fixed';
  private head: VmaHeader | undefined;
  private headBuf: Buffer | undefined;
  private infos: VmaBlockInfo[] = [];
  private runs: BlockRun[] = [];
  private runIndex = 0;
  /** Bytes of the current extent's data already handed to `handler.data`. */
  private delivered = 0;
  private extentOffset = 0;
  private readonly seen = new Map<number, Uint8Array>();
  private readonly counts = new Map<number, { present: number; zero: number }>();
  /** Bytes consumed so far. */
  offset = 0;
  extents = 0;

  constructor(private readonly handler: VmaParserHandler, private readonly opts: VmaParserOptions = {}) {
    this.busy = Array.from({ length: Math.max(1, Math.floor(opts.inFlight ?? 1)) }, () => []);
  }

  get header(): VmaHeader | undefined {
    return this.head;
  }

  /** Synchronous: for a `data` that is done when it returns (else use writable/commit with ready). */
  feed(data: Buffer): void {
    let pos = 0;
    while (pos < data.length && this.stage !== 'stopped') {
      const target = this.writable();
      const n = Math.min(target.length, data.length - pos);
      data.copy(target, 0, pos, pos + n);
      pos += n;
      this.commit(n);
    }
  }

  /**
   * Where the next bytes of the archive go: a reader may read or decompress straight into it and
   * then `commit` how many it wrote, which saves the copy `feed` makes. Empty once stopped.
   */
  writable(): Buffer {
    if (this.stage === 'stopped') return this.buf.subarray(0, 0);
    if (this.waitFor.length > 0) throw new Error('VmaParser: the buffer is still in use by data(); await ready() before writable()');
    if (this.stage === 'extent-data' && this.handler.data && this.busy.length === 1) {
      return this.buf.subarray(this.filled, Math.min(this.want, this.filled + VMA_DATA_PIECE));
    }
    return (this.stage === 'head' ? this.headBuf! : this.buf).subarray(this.filled, this.want);
  }

  /**
   * Undefined when `writable()` may be called now; otherwise a promise that resolves once the
   * buffer it returns is no longer in use by `data`. Rejects with the first error of `data`.
   */
  ready(): Promise<void> | undefined {
    if (this.failure) return Promise.reject(this.failure.err);
    if (this.waitFor.length === 0) return undefined;
    const pending = this.waitFor;
    this.waitFor = [];
    return Promise.all(pending).then(() => {
      if (this.failure) throw this.failure.err;
    });
  }

  /** Waits until `data` is done with everything handed to it; throws its first error. */
  async drain(): Promise<void> {
    const pending = [...this.waitFor, ...this.busy.flat()];
    this.waitFor = [];
    this.busy = this.busy.map(() => []);
    await Promise.all(pending);
    if (this.failure) throw this.failure.err;
  }

  /** `n` bytes were written into `writable()`. */
  commit(n: number): void {
    this.filled += n;
    this.offset += n;
    if (this.stage === 'extent-data' && this.handler.data && this.deliverNow()) this.deliver(this.filled - VMA_EXTENT_HEADER_SIZE);
    if (this.filled === this.want) this.step();
  }

  /**
   * Whether to hand over what has arrived: at once with one buffer (it is still in the CPU's
   * cache); with data in flight, at least VMA_DATA_BATCH at a time or the extent's end, so that a
   * reader that delivers small pieces (a pipe's 64 KiB) does not start a write for each.
   */
  private deliverNow(): boolean {
    return this.busy.length === 1 || this.filled === this.want || this.filled - VMA_EXTENT_HEADER_SIZE - this.delivered >= VMA_DATA_BATCH;
  }

  /** Hand the runs' data that has arrived (up to `upTo` bytes of the extent's data) to `handler.data`. */
  private deliver(upTo: number): void {
    while (this.runIndex < this.runs.length) {
      const r = this.runs[this.runIndex]!;
      const start = Math.max(r.from, this.delivered);
      const end = Math.min(r.from + r.len, upTo);
      if (end > start) {
        const busy = this.handler.data!(r.devId, r.byteOffset + (start - r.from), this.buf.subarray(VMA_EXTENT_HEADER_SIZE + start, VMA_EXTENT_HEADER_SIZE + end));
        // Kept with its buffer, and never an unhandled rejection: ready() and drain() report it.
        if (busy) {
          this.busy[this.cur]!.push(busy.catch((err: unknown) => {
            this.failure ??= { err };
          }));
        }
        this.delivered = end;
      }
      if (end < r.from + r.len) return;
      this.runIndex++;
    }
  }

  private deviceName(devId: number): string {
    return this.head?.devices.find((d) => d.id === devId)?.name ?? `device ${devId}`;
  }

  private step(): void {
    switch (this.stage) {
      case 'head-fixed': {
        const size = vmaHeaderSize(this.buf.subarray(0, this.filled));
        this.headBuf = Buffer.alloc(size);
        this.buf.copy(this.headBuf, 0, 0, this.filled);
        this.stage = 'head';
        this.want = size;
        if (this.filled === size) this.step();
        return;
      }
      case 'head': {
        this.head = decodeVmaHeader(this.headBuf!);
        if (this.head.devices.length === 0) throw formatError('VMA header: the archive has no devices');
        for (const d of this.head.devices) {
          this.seen.set(d.id, new Uint8Array(clusterCount(d.size)));
          this.counts.set(d.id, { present: 0, zero: 0 });
        }
        this.handler.header(this.head);
        if (this.opts.headerOnly) {
          this.stage = 'stopped';
          return;
        }
        return this.nextExtent();
      }
      case 'extent-header': {
        const where = `extent ${this.extents + 1} at byte ${this.extentOffset}`;
        const { infos, blockCount } = decodeExtentHeader(this.buf.subarray(0, VMA_EXTENT_HEADER_SIZE), this.head!.uuid, where);
        for (const info of infos) {
          const seen = this.seen.get(info.devId);
          if (!seen) throw formatError(`${where}: cluster ${info.cluster} belongs to device id ${info.devId}, which the header does not list`);
          if (info.cluster >= seen.length) {
            throw formatError(`${where}: cluster ${info.cluster} lies beyond the end of ${this.deviceName(info.devId)} (${seen.length} clusters)`);
          }
          if (seen[info.cluster]) throw formatError(`${where}: cluster ${info.cluster} of ${this.deviceName(info.devId)} appears twice`);
          seen[info.cluster] = 1;
          const c = this.counts.get(info.devId)!;
          c.present++;
          if (info.mask === 0) c.zero++;
        }
        this.infos = infos;
        if (this.handler.data) {
          this.runs = blockRuns(infos);
          this.runIndex = 0;
          this.delivered = 0;
        }
        this.stage = 'extent-data';
        this.want = VMA_EXTENT_HEADER_SIZE + blockCount * VMA_BLOCK_SIZE;
        if (this.filled === this.want) this.step();
        return;
      }
      case 'extent-data':
        this.extents++;
        this.handler.extent({ offset: this.extentOffset, infos: this.infos, blocks: this.buf.subarray(VMA_EXTENT_HEADER_SIZE, this.want) });
        return this.nextExtent();
    }
  }

  private nextExtent(): void {
    // With several buffers, the next extent goes into the next one; the data handed over from
    // it earlier must be done first (ready()).
    this.cur = (this.cur + 1) % this.busy.length;
    this.bufs[this.cur] ??= Buffer.allocUnsafe(VMA_MAX_EXTENT_SIZE);
    this.buf = this.bufs[this.cur]!;
    this.waitFor = this.busy[this.cur]!;
    this.busy[this.cur] = [];
    this.stage = 'extent-header';
    this.filled = 0;
    this.want = VMA_EXTENT_HEADER_SIZE;
    this.extentOffset = this.offset;
    this.infos = [];
  }

  /**
   * The stream ended: throws when it stopped inside the header or an extent; otherwise returns
   * what each device got (a device with missing clusters is an incomplete archive).
   */
  end(): VmaDeviceReport[] {
    if (this.stage === 'head-fixed' && this.filled >= 4 && !this.buf.subarray(0, 4).equals(VMA_MAGIC)) {
      throw formatError(`not a VMA archive: the file starts with ${this.buf.subarray(0, 4).toString('hex')}, not "VMA\\0"`);
    }
    if (!this.head) throw formatError(`VMA archive truncated inside the header: ${this.offset} bytes${this.stage === 'head' ? ` of ${this.want}` : ''}`);
    if (this.filled > 0) {
      const what = this.stage === 'extent-header' ? 'extent header' : 'extent';
      const devs = [...new Set(this.infos.map((i) => this.deviceName(i.devId)))].join(', ');
      throw formatError(
        `VMA archive truncated at byte ${this.offset}: inside the ${what} ${this.extents + 1} starting at byte ${this.extentOffset} ` +
          `(${this.filled} of ${this.want} bytes)${devs ? `, data of ${devs}` : ''}`,
      );
    }
    return this.head.devices.map((device) => {
      const seen = this.seen.get(device.id)!;
      const c = this.counts.get(device.id)!;
      const report: VmaDeviceReport = { device, clusters: seen.length, present: c.present, zero: c.zero };
      if (c.present < seen.length) report.firstMissing = seen.indexOf(0);
      return report;
    });
  }
}

/** The extent's stored blocks as runs of blocks consecutive on one device, in data order. */
function blockRuns(infos: readonly VmaBlockInfo[]): BlockRun[] {
  const runs: BlockRun[] = [];
  let at = 0;
  let run: BlockRun | undefined;
  for (const info of infos) {
    for (let b = 0; b < VMA_BLOCKS_PER_CLUSTER; b++) {
      if ((info.mask & (1 << b)) === 0) {
        run = undefined;
        continue;
      }
      const byteOffset = info.cluster * VMA_CLUSTER_SIZE + b * VMA_BLOCK_SIZE;
      if (run && run.devId === info.devId && run.byteOffset + run.len === byteOffset) {
        run.len += VMA_BLOCK_SIZE;
      } else {
        run = { devId: info.devId, byteOffset, from: at, len: VMA_BLOCK_SIZE };
        runs.push(run);
      }
      at += VMA_BLOCK_SIZE;
    }
  }
  return runs;
}

/**
 * Calls `fn(devId, byteOffset, data)` for each run of stored blocks that are consecutive on one
 * device, so that a consumer writes a whole run at once instead of block by block.
 */
export function forEachBlockRun(e: VmaExtent, fn: (devId: number, byteOffset: number, data: Buffer) => void): void {
  for (const r of blockRuns(e.infos)) fn(r.devId, r.byteOffset, e.blocks.subarray(r.from, r.from + r.len));
}
