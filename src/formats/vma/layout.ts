/**
 * The VMA archive layout (Proxmox VE's vzdump format for VMs): a header with the configs and
 * the device table, then extents of up to 59 clusters of 64 KiB, each cluster stored as the
 * 4 KiB blocks that are not zero. Header integers are big-endian, except the 2-byte length
 * of each entry in the header's blob buffer, which is little-endian.
 */
import { createHash } from 'node:crypto';
import { GuestvaultError } from '../../errors.js';

export const VMA_MAGIC = Buffer.from('VMA\0', 'latin1');
export const VMA_EXTENT_MAGIC = Buffer.from('VMAE', 'latin1');
export const VMA_VERSION = 1;
export const VMA_BLOCK_SIZE = 4096;
export const VMA_CLUSTER_SIZE = 65536;
export const VMA_BLOCKS_PER_CLUSTER = 16;
/** Slots in an extent header. */
export const VMA_CLUSTERS_PER_EXTENT = 59;
/** Proxmox's writer flushes an extent once this many slots are used; so does ours. */
export const VMA_WRITER_CLUSTERS_PER_EXTENT = 58;
export const VMA_EXTENT_HEADER_SIZE = 512;
export const VMA_MAX_EXTENT_SIZE = VMA_EXTENT_HEADER_SIZE + VMA_CLUSTER_SIZE * VMA_CLUSTERS_PER_EXTENT;
/** Fixed part of the header; the blob buffer follows it. */
export const VMA_HEADER_FIXED_SIZE = 12288;
export const VMA_MAX_CONFIGS = 256;
/** Device ids are 1..254 (0 means "unused slot"). */
export const VMA_MAX_DEVICE_ID = 254;

const OFF_VERSION = 4;
const OFF_UUID = 8;
const OFF_CTIME = 24;
const OFF_MD5 = 32;
const OFF_BLOB_OFFSET = 48;
const OFF_BLOB_SIZE = 52;
const OFF_HEADER_SIZE = 56;
const OFF_CONFIG_NAMES = 2044;
const OFF_CONFIG_DATA = 3068;
const OFF_DEV_INFO = 4096;
const DEV_INFO_SIZE = 32;

export interface VmaConfig {
  name: string;
  data: Buffer;
}

export interface VmaDevice {
  id: number;
  name: string;
  size: number;
}

export interface VmaHeader {
  version: number;
  uuid: Buffer;
  /** Seconds since the epoch. */
  ctime: number;
  configs: VmaConfig[];
  /** In id order. */
  devices: VmaDevice[];
  /** Bytes from the start of the archive to the first extent. */
  headerSize: number;
}

/** One cluster slot of an extent: which device and cluster, and which 4 KiB blocks follow. */
export interface VmaBlockInfo {
  devId: number;
  cluster: number;
  /** Bit i set: block i of the cluster is stored (not zero). */
  mask: number;
}

function formatError(message: string): GuestvaultError {
  return new GuestvaultError('E_VMA_FORMAT', message);
}

export function formatUuid(uuid: Buffer): string {
  const h = uuid.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function md5(...parts: Buffer[]): Buffer {
  const h = createHash('md5');
  for (const p of parts) h.update(p);
  return h.digest();
}

export function clusterCount(size: number): number {
  return Math.ceil(size / VMA_CLUSTER_SIZE);
}

/** The header as the writer puts it at the start of the archive (its length is `headerSize`). */
export function encodeVmaHeader(h: { uuid: Buffer; ctime: number; configs: readonly VmaConfig[]; devices: readonly VmaDevice[] }): Buffer {
  if (h.uuid.length !== 16) throw new Error('VMA uuid must be 16 bytes');
  if (h.configs.length > VMA_MAX_CONFIGS) throw formatError(`a VMA archive holds at most ${VMA_MAX_CONFIGS} configs, not ${h.configs.length}`);
  // Blob buffer: offset 0 stays unused so that pointer 0 can mean "none".
  const blobs: Buffer[] = [Buffer.alloc(1)];
  let blobSize = 1;
  const addBlob = (data: Buffer, what: string): number => {
    if (data.length > 0xffff) throw formatError(`${what} is ${data.length} bytes; a VMA header entry holds at most 65535`);
    const at = blobSize;
    const len = Buffer.alloc(2);
    len.writeUInt16LE(data.length, 0);
    blobs.push(len, data);
    blobSize += 2 + data.length;
    return at;
  };
  const cstring = (s: string) => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.alloc(1)]);
  const fixed = Buffer.alloc(VMA_HEADER_FIXED_SIZE);
  h.configs.forEach((c, i) => {
    fixed.writeUInt32BE(addBlob(cstring(c.name), `config name '${c.name}'`), OFF_CONFIG_NAMES + 4 * i);
    fixed.writeUInt32BE(addBlob(c.data, `config '${c.name}'`), OFF_CONFIG_DATA + 4 * i);
  });
  const seen = new Set<number>();
  for (const d of h.devices) {
    if (!Number.isInteger(d.id) || d.id < 1 || d.id > VMA_MAX_DEVICE_ID || seen.has(d.id)) throw formatError(`invalid or repeated VMA device id ${d.id}`);
    if (!Number.isSafeInteger(d.size) || d.size <= 0) throw formatError(`device ${d.name}: invalid size ${d.size}`);
    seen.add(d.id);
    const at = OFF_DEV_INFO + DEV_INFO_SIZE * d.id;
    fixed.writeUInt32BE(addBlob(cstring(d.name), `device name '${d.name}'`), at);
    fixed.writeBigUInt64BE(BigInt(d.size), at + 8);
  }
  const headerSize = VMA_HEADER_FIXED_SIZE + Math.ceil(blobSize / 512) * 512;
  VMA_MAGIC.copy(fixed, 0);
  fixed.writeUInt32BE(VMA_VERSION, OFF_VERSION);
  h.uuid.copy(fixed, OFF_UUID);
  fixed.writeBigInt64BE(BigInt(Math.floor(h.ctime)), OFF_CTIME);
  fixed.writeUInt32BE(VMA_HEADER_FIXED_SIZE, OFF_BLOB_OFFSET);
  fixed.writeUInt32BE(blobSize, OFF_BLOB_SIZE);
  fixed.writeUInt32BE(headerSize, OFF_HEADER_SIZE);
  const out = Buffer.alloc(headerSize);
  Buffer.concat([fixed, ...blobs]).copy(out);
  md5(out).copy(out, OFF_MD5);
  return out;
}

/** Bytes needed before `decodeVmaHeader` can run: the fixed part tells the whole size. */
export function vmaHeaderSize(fixed: Buffer): number {
  if (fixed.length < OFF_HEADER_SIZE + 4) throw new Error('need the first 60 bytes');
  if (!fixed.subarray(0, 4).equals(VMA_MAGIC)) {
    throw formatError(`not a VMA archive: the file starts with ${fixed.subarray(0, 4).toString('hex')}, not "VMA\\0"`);
  }
  const size = fixed.readUInt32BE(OFF_HEADER_SIZE);
  if (size < VMA_HEADER_FIXED_SIZE || size > VMA_HEADER_FIXED_SIZE + 64 * 1024 * 1024) throw formatError(`VMA header: invalid header size ${size}`);
  return size;
}

/** Parses and checks the whole header (`buf` holds at least `vmaHeaderSize` bytes). */
export function decodeVmaHeader(buf: Buffer): VmaHeader {
  const headerSize = vmaHeaderSize(buf);
  if (buf.length < headerSize) throw formatError(`VMA header: truncated (${buf.length} of ${headerSize} bytes)`);
  const head = buf.subarray(0, headerSize);
  const version = head.readUInt32BE(OFF_VERSION);
  if (version !== VMA_VERSION) throw formatError(`VMA header: unsupported version ${version}`);
  const zeroed = Buffer.from(head);
  zeroed.fill(0, OFF_MD5, OFF_MD5 + 16);
  if (!md5(zeroed).equals(head.subarray(OFF_MD5, OFF_MD5 + 16))) throw formatError('VMA header: MD5 checksum mismatch (the header is corrupt)');
  const blobOffset = head.readUInt32BE(OFF_BLOB_OFFSET);
  const blobSize = head.readUInt32BE(OFF_BLOB_SIZE);
  if (blobOffset < VMA_HEADER_FIXED_SIZE || blobOffset + blobSize > headerSize) throw formatError(`VMA header: blob buffer [${blobOffset}, +${blobSize}) lies outside the header`);
  const blobBuf = head.subarray(blobOffset, blobOffset + blobSize);
  const blob = (ptr: number, what: string): Buffer => {
    if (ptr < 1 || ptr + 2 > blobSize) throw formatError(`VMA header: ${what} points outside the blob buffer (${ptr})`);
    const len = blobBuf.readUInt16LE(ptr);
    if (ptr + 2 + len > blobSize) throw formatError(`VMA header: ${what} runs past the blob buffer`);
    return blobBuf.subarray(ptr + 2, ptr + 2 + len);
  };
  const cstring = (ptr: number, what: string): string => {
    const b = blob(ptr, what);
    if (b.length === 0 || b[b.length - 1] !== 0) throw formatError(`VMA header: ${what} is not a NUL-terminated string`);
    return b.subarray(0, b.length - 1).toString('utf8');
  };
  const configs: VmaConfig[] = [];
  for (let i = 0; i < VMA_MAX_CONFIGS; i++) {
    const namePtr = head.readUInt32BE(OFF_CONFIG_NAMES + 4 * i);
    const dataPtr = head.readUInt32BE(OFF_CONFIG_DATA + 4 * i);
    if (namePtr === 0 && dataPtr === 0) continue;
    const name = cstring(namePtr, `config ${i} name`);
    configs.push({ name, data: Buffer.from(blob(dataPtr, `config '${name}'`)) });
  }
  const devices: VmaDevice[] = [];
  for (let id = 1; id <= 255; id++) {
    const at = OFF_DEV_INFO + DEV_INFO_SIZE * id;
    const namePtr = head.readUInt32BE(at);
    if (namePtr === 0) continue;
    const name = cstring(namePtr, `device ${id} name`);
    const size = Number(head.readBigUInt64BE(at + 8));
    if (!Number.isSafeInteger(size) || size <= 0) throw formatError(`VMA header: device ${id} (${name}) has an invalid size`);
    devices.push({ id, name, size });
  }
  return { version, uuid: Buffer.from(head.subarray(OFF_UUID, OFF_UUID + 16)), ctime: Number(head.readBigInt64BE(OFF_CTIME)), configs, devices, headerSize };
}

export function popcount16(mask: number): number {
  let n = 0;
  for (let m = mask; m; m &= m - 1) n++;
  return n;
}

/** An extent header for `infos` (at most 59), whose stored blocks total `blockCount`. */
export function encodeExtentHeader(uuid: Buffer, infos: readonly VmaBlockInfo[]): Buffer {
  if (infos.length > VMA_CLUSTERS_PER_EXTENT) throw new Error(`an extent holds at most ${VMA_CLUSTERS_PER_EXTENT} clusters`);
  const h = Buffer.alloc(VMA_EXTENT_HEADER_SIZE);
  VMA_EXTENT_MAGIC.copy(h, 0);
  let blocks = 0;
  infos.forEach((b, i) => {
    blocks += popcount16(b.mask);
    h.writeUInt16BE(b.mask, 40 + 8 * i);
    h.writeUInt8(b.devId, 40 + 8 * i + 3);
    h.writeUInt32BE(b.cluster, 40 + 8 * i + 4);
  });
  h.writeUInt16BE(blocks, 6);
  uuid.copy(h, 8);
  md5(h).copy(h, 24);
  return h;
}

/**
 * Checks an extent header (magic, checksum, archive uuid) and returns its used slots and the
 * number of 4 KiB blocks that follow it. `where` names the position for error messages.
 */
export function decodeExtentHeader(h: Buffer, uuid: Buffer, where: string): { infos: VmaBlockInfo[]; blockCount: number } {
  if (!h.subarray(0, 4).equals(VMA_EXTENT_MAGIC)) throw formatError(`${where}: no extent header (found ${h.subarray(0, 4).toString('hex')}, not "VMAE")`);
  if (h.readUInt16BE(4) !== 0) throw formatError(`${where}: extent header reserved field is not zero`);
  const zeroed = Buffer.from(h.subarray(0, VMA_EXTENT_HEADER_SIZE));
  zeroed.fill(0, 24, 40);
  if (!md5(zeroed).equals(h.subarray(24, 40))) throw formatError(`${where}: extent header MD5 checksum mismatch (the extent header is corrupt)`);
  if (!h.subarray(8, 24).equals(uuid)) throw formatError(`${where}: extent belongs to another archive (uuid ${formatUuid(h.subarray(8, 24))})`);
  const blockCount = h.readUInt16BE(6);
  const infos: VmaBlockInfo[] = [];
  let blocks = 0;
  for (let i = 0; i < VMA_CLUSTERS_PER_EXTENT; i++) {
    const at = 40 + 8 * i;
    const devId = h.readUInt8(at + 3);
    if (devId === 0) continue; // unused slot
    const mask = h.readUInt16BE(at);
    blocks += popcount16(mask);
    infos.push({ devId, cluster: h.readUInt32BE(at + 4), mask });
  }
  if (blocks !== blockCount) throw formatError(`${where}: extent header says ${blockCount} blocks, its cluster masks add up to ${blocks}`);
  return { infos, blockCount };
}
