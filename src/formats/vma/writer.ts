import { GuestvaultError } from '../../errors.js';
import {
  clusterCount,
  encodeExtentHeader,
  encodeVmaHeader,
  VMA_BLOCK_SIZE,
  VMA_BLOCKS_PER_CLUSTER,
  VMA_CLUSTER_SIZE,
  VMA_EXTENT_HEADER_SIZE,
  VMA_WRITER_CLUSTERS_PER_EXTENT,
  type VmaBlockInfo,
  type VmaConfig,
  type VmaDevice,
} from './layout.js';

const ZERO_BLOCK = Buffer.alloc(VMA_BLOCK_SIZE);
const EXTENT_BUFFER_SIZE = VMA_EXTENT_HEADER_SIZE + VMA_WRITER_CLUSTERS_PER_EXTENT * VMA_CLUSTER_SIZE;

/**
 * Receives the archive's bytes in order. The promise resolves once `bytes` may be reused (for a
 * stream: when the write callback ran).
 */
export type VmaSink = (bytes: Buffer) => Promise<void>;

/**
 * Writes a VMA archive as a stream: the header, then clusters in any order, each recorded once,
 * grouped into extents of 58 clusters. Zero blocks are not stored; an all-zero cluster costs
 * only its 8-byte slot. Memory stays at two extent buffers (~7.5 MiB) whatever the disk size.
 */
export class VmaWriter {
  private readonly buffers = [Buffer.allocUnsafe(EXTENT_BUFFER_SIZE), Buffer.allocUnsafe(EXTENT_BUFFER_SIZE)];
  private current = 0;
  private fill = VMA_EXTENT_HEADER_SIZE;
  private infos: VmaBlockInfo[] = [];
  /** The previous extent's write: its buffer is reused only after it resolved. */
  private inFlight: Promise<void> = Promise.resolve();
  private headerWritten = false;
  private readonly devices = new Map<number, VmaDevice & { written: Uint8Array; count: number }>();
  /** Bytes handed to the sink so far. */
  bytesWritten = 0;

  constructor(
    private readonly header: { uuid: Buffer; ctime: number; configs: readonly VmaConfig[]; devices: readonly VmaDevice[] },
    private readonly sink: VmaSink,
  ) {
    for (const d of header.devices) this.devices.set(d.id, { ...d, written: new Uint8Array(clusterCount(d.size)), count: 0 });
  }

  private async emit(bytes: Buffer): Promise<void> {
    await this.inFlight;
    this.bytesWritten += bytes.length;
    const write = this.sink(bytes);
    // A failed write is reported by the next emit or by finish, which await it; until then it
    // must not count as an unhandled rejection (that would end the process).
    write.catch(() => undefined);
    this.inFlight = write;
  }

  private async writeHeader(): Promise<void> {
    if (this.headerWritten) return;
    this.headerWritten = true;
    await this.emit(encodeVmaHeader(this.header));
  }

  private device(devId: number, cluster: number): VmaDevice & { written: Uint8Array; count: number } {
    const dev = this.devices.get(devId);
    if (!dev) throw new GuestvaultError('E_VMA_WRITE', `VMA writer: unknown device id ${devId}`);
    if (!Number.isInteger(cluster) || cluster < 0 || cluster >= dev.written.length) {
      throw new GuestvaultError('E_VMA_WRITE', `VMA writer: cluster ${cluster} is outside device ${dev.name} (${dev.written.length} clusters)`);
    }
    if (dev.written[cluster]) throw new GuestvaultError('E_VMA_WRITE', `VMA writer: cluster ${cluster} of ${dev.name} written twice`);
    dev.written[cluster] = 1;
    dev.count++;
    return dev;
  }

  /**
   * Adds one cluster: `data` holds its bytes (64 KiB, or less for the device's last cluster,
   * which is zero-padded). The bytes are copied: `data` may be reused once this resolves.
   */
  async writeCluster(devId: number, cluster: number, data: Buffer): Promise<void> {
    this.device(devId, cluster);
    if (data.length > VMA_CLUSTER_SIZE) throw new GuestvaultError('E_VMA_WRITE', `VMA writer: a cluster is at most ${VMA_CLUSTER_SIZE} bytes`);
    await this.writeHeader();
    const buf = this.buffers[this.current]!;
    let mask = 0;
    for (let b = 0; b < VMA_BLOCKS_PER_CLUSTER; b++) {
      const start = b * VMA_BLOCK_SIZE;
      if (start >= data.length) break;
      const block = data.subarray(start, Math.min(start + VMA_BLOCK_SIZE, data.length));
      if (block.length === VMA_BLOCK_SIZE ? block.equals(ZERO_BLOCK) : block.equals(ZERO_BLOCK.subarray(0, block.length))) continue;
      mask |= 1 << b;
      block.copy(buf, this.fill);
      if (block.length < VMA_BLOCK_SIZE) buf.fill(0, this.fill + block.length, this.fill + VMA_BLOCK_SIZE);
      this.fill += VMA_BLOCK_SIZE;
    }
    await this.addSlot({ devId, cluster, mask });
  }

  /** Records clusters [from, to) of a device as zero (no data stored). */
  async writeZeroClusters(devId: number, from: number, to: number): Promise<void> {
    await this.writeHeader();
    for (let c = from; c < to; c++) {
      this.device(devId, c);
      await this.addSlot({ devId, cluster: c, mask: 0 });
    }
  }

  private async addSlot(info: VmaBlockInfo): Promise<void> {
    this.infos.push(info);
    if (this.infos.length >= VMA_WRITER_CLUSTERS_PER_EXTENT) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.infos.length === 0) return;
    const buf = this.buffers[this.current]!;
    encodeExtentHeader(this.header.uuid, this.infos).copy(buf, 0);
    const extent = buf.subarray(0, this.fill);
    this.current = 1 - this.current;
    this.infos = [];
    this.fill = VMA_EXTENT_HEADER_SIZE;
    await this.emit(extent);
  }

  /** Writes what is pending; every cluster of every device must have been written. */
  async finish(): Promise<void> {
    await this.writeHeader();
    for (const d of this.devices.values()) {
      if (d.count !== d.written.length) {
        throw new GuestvaultError('E_VMA_WRITE', `VMA writer: device ${d.name} has ${d.written.length - d.count} of ${d.written.length} clusters not written`);
      }
    }
    await this.flush();
    await this.inFlight;
  }
}
