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
}

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
  private readonly buf = Buffer.allocUnsafe(VMA_MAX_EXTENT_SIZE);
  private filled = 0;
  /** Bytes the current piece (header, extent header, extent data) needs. */
  private want = 64;
  private stage: 'head-fixed' | 'head' | 'extent-header' | 'extent-data' | 'stopped' = 'head-fixed';
  private head: VmaHeader | undefined;
  private headBuf: Buffer | undefined;
  private infos: VmaBlockInfo[] = [];
  private extentOffset = 0;
  private readonly seen = new Map<number, Uint8Array>();
  private readonly counts = new Map<number, { present: number; zero: number }>();
  /** Bytes consumed so far. */
  offset = 0;
  extents = 0;

  /** `headerOnly`: stop after the header, ignoring everything fed after it (reading only the configs and devices). */
  constructor(private readonly handler: VmaParserHandler, private readonly opts: { headerOnly?: boolean } = {}) {}

  get header(): VmaHeader | undefined {
    return this.head;
  }

  feed(data: Buffer): void {
    let pos = 0;
    while (pos < data.length && this.stage !== 'stopped') {
      const target = this.stage === 'head' ? this.headBuf! : this.buf;
      const n = Math.min(this.want - this.filled, data.length - pos);
      data.copy(target, this.filled, pos, pos + n);
      this.filled += n;
      pos += n;
      this.offset += n;
      if (this.filled === this.want) this.step();
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

/**
 * Calls `fn(devId, byteOffset, data)` for each run of stored blocks that are consecutive on one
 * device, so that a consumer writes a whole run at once instead of block by block.
 */
export function forEachBlockRun(e: VmaExtent, fn: (devId: number, byteOffset: number, data: Buffer) => void): void {
  let at = 0;
  let run: { devId: number; start: number; from: number; len: number } | undefined;
  const flush = () => {
    if (run) fn(run.devId, run.start, e.blocks.subarray(run.from, run.from + run.len));
    run = undefined;
  };
  for (const info of e.infos) {
    for (let b = 0; b < VMA_BLOCKS_PER_CLUSTER; b++) {
      if ((info.mask & (1 << b)) === 0) {
        flush();
        continue;
      }
      const byteOffset = info.cluster * VMA_CLUSTER_SIZE + b * VMA_BLOCK_SIZE;
      if (run && run.devId === info.devId && run.start + run.len === byteOffset) run.len += VMA_BLOCK_SIZE;
      else {
        flush();
        run = { devId: info.devId, start: byteOffset, from: at, len: VMA_BLOCK_SIZE };
      }
      at += VMA_BLOCK_SIZE;
    }
  }
  flush();
}
