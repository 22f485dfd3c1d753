/**
 * A VM backup as one VMA archive stream (vzdump's file format): the config with `#qmdump#map`
 * lines and one device `drive-<key>` per disk. Disks are read in order, 4 MiB at a time; zero
 * areas (NBD block status) are recorded as zero clusters without being read.
 */
import { randomBytes } from 'node:crypto';
import { VmaWriter, VMA_CLUSTER_SIZE, type VmaSink } from '../formats/vma/index.js';
import { formatSize } from '../tasks/index.js';
import type { VmBackupSink } from './vm-sink.js';

const READ_SIZE = 4 * 1024 * 1024;

/** The config as vzdump puts it into a VMA: one `#qmdump#map:<key>:drive-<key>:<storage>:<format>:` line per disk. */
function vmaConfig(config: Buffer, disks: ReadonlyArray<{ key: string; storage: string; format: string }>): Buffer {
  const text = config.toString('utf8');
  const maps = disks.map((d) => `#qmdump#map:${d.key}:drive-${d.key}:${d.storage}:${d.format}:\n`).join('');
  return Buffer.from(maps + text);
}

export interface VmaSinkOptions {
  time: number;
  target: string;
  /** Storage and format of each disk's volume (for the map lines). */
  volumes: (key: string) => { storage: string; format: string };
  out: VmaSink;
}

export function vmaSink(opts: VmaSinkOptions): VmBackupSink & { bytesWritten(): number } {
  let writer: VmaWriter | undefined;
  const ids = new Map<string, number>();
  return {
    target: opts.target,
    time: opts.time,
    incremental: false,
    previousDisk: () => ({ reason: 'an archive file is always a full backup' }),
    prepare: () => undefined,
    bytesWritten: () => writer?.bytesWritten ?? 0,
    async begin(disks, config) {
      disks.forEach((d, i) => ids.set(d.key, i + 1));
      writer = new VmaWriter(
        {
          uuid: randomBytes(16),
          ctime: opts.time,
          configs: [{ name: 'qemu-server.conf', data: vmaConfig(config, disks.map((d) => ({ key: d.key, ...opts.volumes(d.key) }))) }],
          devices: disks.map((d, i) => ({ id: i + 1, name: `drive-${d.key}`, size: d.size })),
        },
        opts.out,
      );
    },
    async writeDisk(disk, reader) {
      const w = writer!;
      const devId = ids.get(disk.key)!;
      const buf = Buffer.allocUnsafe(READ_SIZE);
      const clustersPerRead = READ_SIZE / VMA_CLUSTER_SIZE;
      let read = 0;
      const started = Date.now();
      // The reader's zero map has 4 MiB granularity: whole zero pieces are not read at all.
      for (let i = 0, offset = 0; offset < disk.size; i++, offset += READ_SIZE) {
        const length = Math.min(READ_SIZE, disk.size - offset);
        const first = i * clustersPerRead;
        const clusters = Math.ceil(length / VMA_CLUSTER_SIZE);
        if (reader.isZero(i)) {
          await w.writeZeroClusters(devId, first, first + clusters);
          continue;
        }
        const data = await reader.read(offset, length, buf);
        read += length;
        for (let c = 0; c < clusters; c++) {
          await w.writeCluster(devId, first + c, data.subarray(c * VMA_CLUSTER_SIZE, Math.min(length, (c + 1) * VMA_CLUSTER_SIZE)));
        }
      }
      const secs = (Date.now() - started) / 1000;
      return { readBytes: read, summary: `drive-${disk.key}: ${formatSize(disk.size)}, read ${formatSize(read)} in ${secs.toFixed(1)}s (${formatSize(read / Math.max(secs, 0.001))}/s)` };
    },
    async end() {
      await writer!.finish();
    },
  };
}
