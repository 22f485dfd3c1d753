/**
 * A point-in-time view of a running QEMU's disks (image fleecing), read over NBD.
 *
 * For every disk a qcow2 fleecing image is attached with the live disk as its backing node, and
 * a `blockdev-backup sync=none` job from the disk into it inserts a copy-before-write filter:
 * before the guest overwrites a cluster, QEMU copies the old data into the fleecing image. The
 * fleecing node therefore shows the disk as it was when the job started, and QEMU exports it
 * read-only over NBD. All jobs start in one `transaction`, so every disk has the same point in
 * time, together with the dirty-bitmap operations of fast incremental backups (the bitmap is
 * cut at exactly that moment). This is variant 2 of the recipes: it needs no device paths
 * (no qom-set) and works on a VM that is paused or in prelaunch.
 */
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { GuestvaultError } from '../../errors.js';
import type { QmpClient, QmpEvent } from './qmp-client.js';
import { driveNode } from './command-line.js';
import type { VmPaths } from './vm-paths.js';

const PREFIX = 'gv-fleece-';
/** Bitmap granularity = datastore chunk size, so one dirty bit is one chunk to read. */
export const BITMAP_GRANULARITY = 4 * 1024 * 1024;

export interface DirtyBitmapInfo {
  name: string;
  count: number;
  granularity: number;
  recording: boolean;
  persistent: boolean;
  inconsistent?: boolean;
  busy?: boolean;
}

export interface BlockNodeInfo {
  node: string;
  size: number;
  format: string;
  bitmaps: DirtyBitmapInfo[];
}

interface NamedBlockNode {
  'node-name': string;
  drv: string;
  image: { 'virtual-size': number };
  'dirty-bitmaps'?: DirtyBitmapInfo[];
}

/** Size, format and dirty bitmaps of the named block nodes. */
export async function queryBlockNodes(qmp: QmpClient): Promise<Map<string, BlockNodeInfo>> {
  const nodes = await qmp.execute<NamedBlockNode[]>('query-named-block-nodes', { flat: true });
  return new Map(nodes.map((n) => [n['node-name'], { node: n['node-name'], size: n.image['virtual-size'], format: n.drv, bitmaps: n['dirty-bitmaps'] ?? [] }]));
}

/** What to do with a disk's tracking bitmap when the view is taken. */
export type BitmapPlan =
  | { action: 'none' }
  /** Create the bitmap at the point in time (first backup, or after `reset`). */
  | { action: 'new'; name: string; persistent: boolean; reset?: boolean }
  /** Hand the changes since the last backup to the export (as `<name>-t`) and start afresh. */
  | { action: 'use'; name: string };

export interface ViewDiskRequest {
  key: string;
  bitmap: BitmapPlan;
}

export interface ViewDisk {
  key: string;
  node: string;
  size: number;
  exportName: string;
  /** NBD metadata context with the blocks changed since the last backup (action `use`). */
  dirtyContext?: string;
}

function tmpBitmap(name: string): string {
  return `${name}-t`;
}

/**
 * Remove what a killed backup left in this QEMU: exports, jobs, fleecing nodes. Returns the block
 * nodes as they are then, for the steps that follow (each query of them costs a few ms).
 */
export async function cleanupLeftovers(qmp: QmpClient, paths: VmPaths, log: (m: string) => void): Promise<Map<string, BlockNodeInfo>> {
  // Sent together: QEMU answers in order, and no round trip waits for the one before.
  const [jobs, nodes, exports] = await Promise.all([
    qmp.execute<Array<{ device: string }>>('query-block-jobs'),
    queryBlockNodes(qmp),
    qmp.execute<Array<{ id: string }>>('query-block-exports').catch(() => [] as Array<{ id: string }>),
  ]);
  const stale = jobs.some((j) => j.device.startsWith(PREFIX)) || [...nodes.keys()].some((n) => n.startsWith(PREFIX)) || exports.some((e) => e.id.startsWith(PREFIX));
  if (!stale) {
    rmSync(paths.fleeceDir, { recursive: true, force: true });
    return nodes;
  }
  log('removing the point-in-time view left over by an earlier backup');
  const keys = new Set([...jobs.map((j) => j.device), ...nodes.keys(), ...exports.map((e) => e.id)].filter((n) => n.startsWith(PREFIX)).map((n) => n.slice(PREFIX.length)));
  await teardown(qmp, paths, [...keys], log);
  return queryBlockNodes(qmp);
}

/**
 * Leftover `<name>-t` bitmaps (a killed incremental): merge them back so no change is lost.
 * True when it changed the bitmaps (`nodes` is then out of date).
 */
export async function recoverTempBitmaps(qmp: QmpClient, key: string, name: string, nodes: Map<string, BlockNodeInfo>, log: (m: string) => void): Promise<boolean> {
  const node = driveNode(key);
  const info = nodes.get(node);
  if (!info?.bitmaps.some((b) => b.name === tmpBitmap(name))) return false;
  try {
    if (info.bitmaps.some((b) => b.name === name && !b.inconsistent)) {
      await qmp.execute('block-dirty-bitmap-merge', { node, target: name, bitmaps: [tmpBitmap(name)] });
    }
  } finally {
    await qmp.execute('block-dirty-bitmap-remove', { node, name: tmpBitmap(name) });
  }
  log(`${key}: merged the changes of an interrupted backup back into dirty bitmap ${name}`);
  return true;
}

/**
 * Attach fleecing images for the disks and start the NBD server (not yet the point in time).
 * Returns the disks with their sizes; `capture` then takes the view. `nodes`: QEMU's block nodes
 * (their sizes are used).
 */
export async function prepareView(qmp: QmpClient, paths: VmPaths, keys: readonly string[], nodes: Map<string, BlockNodeInfo>): Promise<Array<{ key: string; node: string; size: number }>> {
  const out = keys.map((key) => {
    const node = driveNode(key);
    const info = nodes.get(node);
    if (!info) throw new GuestvaultError('E_VM_DISK', `QEMU has no block node ${node} for disk ${key}`);
    return { key, node, size: info.size };
  });
  mkdirSync(paths.fleeceDir, { recursive: true });
  rmSync(paths.nbd, { force: true });
  const files = out.map((d) => {
    const file = join(paths.fleeceDir, `${d.key}.qcow2`);
    copyFileSync(emptyImage(paths, d.size), file);
    return file;
  });
  // Sent together: QEMU answers in order, and no round trip waits for the one before.
  const replies = out.map((d, i) => qmp.execute('blockdev-add', { driver: 'qcow2', 'node-name': `${PREFIX}${d.key}`, file: { driver: 'file', filename: files[i] }, backing: d.node, discard: 'unmap' }));
  replies.push(qmp.execute('nbd-server-start', { addr: { type: 'unix', data: { path: paths.nbd } } }));
  await settleAll(replies);
  return out;
}

/** Wait for all; then fail with the first failure (none is left unhandled meanwhile). */
async function settleAll(replies: ReadonlyArray<Promise<unknown>>): Promise<void> {
  const failed = (await Promise.allSettled(replies)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * An empty qcow2 image of exactly `size` bytes (QEMU does not check the copy-before-write
 * target's size), made once per size and copied for every backup: `qemu-img create` takes
 * ~100 ms here, a copy of its few hundred KiB well under 1 ms.
 */
function emptyImage(paths: VmPaths, size: number): string {
  const dir = join(paths.dir, 'fleece-templates');
  const file = join(dir, `empty-${size}.qcow2`);
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.tmp.${process.pid}`;
  const r = spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', tmp, String(size)], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    rmSync(tmp, { force: true });
    throw new GuestvaultError('E_FLEECING', `cannot create fleecing image ${tmp}: ${r.error?.message ?? r.stderr.trim()}`);
  }
  // Renamed only when complete, so a killed run never leaves a template half written.
  renameSync(tmp, file);
  return file;
}

/** The point in time: one transaction for all disks and their bitmaps. Takes milliseconds. */
export async function captureView(qmp: QmpClient, disks: readonly ViewDiskRequest[]): Promise<void> {
  const actions: Array<{ type: string; data: Record<string, unknown> }> = [];
  for (const d of disks) {
    const node = driveNode(d.key);
    const b = d.bitmap;
    if (b.action === 'new') {
      actions.push({ type: 'block-dirty-bitmap-add', data: { node, name: b.name, persistent: b.persistent, granularity: BITMAP_GRANULARITY } });
    } else if (b.action === 'use') {
      actions.push(
        { type: 'block-dirty-bitmap-add', data: { node, name: tmpBitmap(b.name), persistent: false, disabled: true, granularity: BITMAP_GRANULARITY } },
        { type: 'block-dirty-bitmap-merge', data: { node, target: tmpBitmap(b.name), bitmaps: [b.name] } },
        { type: 'block-dirty-bitmap-clear', data: { node, name: b.name } },
      );
    }
    actions.push({ type: 'blockdev-backup', data: { 'job-id': `${PREFIX}${d.key}`, device: node, target: `${PREFIX}${d.key}`, sync: 'none', 'filter-node-name': `gv-cbw-${d.key}`, 'auto-finalize': true } });
  }
  await qmp.execute('transaction', { actions }, { timeoutMs: 30_000 });
}

/** Remove bitmaps before a `new` plan with `reset` (an invalid or inconsistent one). */
export async function removeBitmap(qmp: QmpClient, key: string, name: string): Promise<void> {
  await qmp.execute('block-dirty-bitmap-remove', { node: driveNode(key), name });
}

/** Export every fleecing node read-only on the VM's NBD socket. */
export async function exportView(qmp: QmpClient, disks: ReadonlyArray<{ key: string; node: string; size: number; bitmap: BitmapPlan }>): Promise<ViewDisk[]> {
  const out: ViewDisk[] = [];
  // The NBD server runs since prepareView.
  const replies: Array<Promise<unknown>> = [];
  for (const d of disks) {
    const exportName = d.node;
    const tmp = d.bitmap.action === 'use' ? tmpBitmap(d.bitmap.name) : undefined;
    replies.push(qmp.execute('block-export-add', { type: 'nbd', id: `${PREFIX}${d.key}`, 'node-name': `${PREFIX}${d.key}`, name: exportName, writable: false, ...(tmp ? { bitmaps: [{ node: d.node, name: tmp }] } : {}) }));
    out.push({ key: d.key, node: d.node, size: d.size, exportName, ...(tmp ? { dirtyContext: `qemu:dirty-bitmap:${tmp}` } : {}) });
  }
  await settleAll(replies);
  return out;
}

/**
 * After the backup: on success the handed-over changes are dropped (the bitmap now counts from
 * this backup); on failure they are merged back, so the next backup still sees them.
 */
export async function settleBitmaps(qmp: QmpClient, disks: readonly ViewDiskRequest[], success: boolean): Promise<void> {
  await Promise.all(disks.map(async (d) => {
    if (d.bitmap.action !== 'use') return;
    const node = driveNode(d.key);
    const name = d.bitmap.name;
    if (success) {
      await qmp.execute('block-dirty-bitmap-remove', { node, name: tmpBitmap(name) });
    } else {
      await qmp.execute('transaction', { actions: [
        { type: 'block-dirty-bitmap-merge', data: { node, target: name, bitmaps: [tmpBitmap(name)] } },
        { type: 'block-dirty-bitmap-remove', data: { node, name: tmpBitmap(name) } },
      ] });
    }
  }));
}

/**
 * Remove exports, the NBD server, the jobs (their filters leave the graph with them) and the
 * fleecing nodes and files. Every step runs even when an earlier one fails; failures are logged.
 */
export async function teardown(qmp: QmpClient, paths: VmPaths, keys: readonly string[], log: (m: string) => void): Promise<void> {
  const step = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      const msg = (err as Error).message;
      // Already gone is what we want.
      if (!/not found|does not exist|No such|not running|Cannot find|has not been started/i.test(msg)) log(`teardown: ${what}: ${msg}`);
    }
  };
  const id = (key: string): string => `${PREFIX}${key}`;
  // Exports, NBD server and jobs are sent together: QEMU answers in order, and no round trip
  // waits for the one before (the teardown took ~12 ms here, now ~8). A job may go while
  // its export is still being closed: nothing reads the view any more. Only the fleecing
  // nodes wait for both. What is not there fails with "not found", which `step` ignores (and
  // the wait for its event ends with its timeout or with the connection).
  const gone = (what: string, event: string, match: (e: QmpEvent) => boolean, command: string, args: Record<string, unknown>): Promise<void> => step(what, async () => {
    const done = qmp.waitForEvent(event, match, 10_000).catch(() => undefined);
    await qmp.execute(command, args, { timeoutMs: 10_000 });
    await done;
  });
  await Promise.all([
    ...keys.map((key) => gone(`remove export of ${key}`, 'BLOCK_EXPORT_DELETED', (e) => e.data.id === id(key), 'block-export-del', { id: id(key), mode: 'hard' })),
    step('stop the NBD server', () => qmp.execute('nbd-server-stop', undefined, { timeoutMs: 10_000 })),
    ...keys.map((key) => gone(`cancel the fleecing job of ${key}`, 'BLOCK_JOB_CANCELLED', (e) => e.data.device === id(key), 'block-job-cancel', { device: id(key), force: true })),
  ]);
  await Promise.all(keys.map((key) => step(`detach the fleecing image of ${key}`, () => qmp.execute('blockdev-del', { 'node-name': id(key) }, { timeoutMs: 10_000 }))));
  rmSync(paths.nbd, { force: true });
  rmSync(paths.fleeceDir, { recursive: true, force: true });
}
