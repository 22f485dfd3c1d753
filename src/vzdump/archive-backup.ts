/**
 * One guest into a `dir` storage as a vzdump archive: `<dump>/vzdump-qemu-<vmid>-<local time>.vma[.zst|.gz|.lzo]`,
 * written through a `.dat` temporary that is renamed only when complete, with the task log
 * beside it (`<basename>.log`), notes (`<archive>.notes`) and protection (`<archive>.protected`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { errnoCode, GuestvaultError } from '../errors.js';
import { backupDisks, loadVm } from '../guests/index.js';
import { computePrune, parseKeepOptions } from '../retention/index.js';
import { archiveBasename, compressCommand, COMPRESSOR_EXTENSIONS, parseArchiveName, type CompressOptions, type Compressor } from '../storage/index.js';
import { formatSize } from '../tasks/index.js';
import type { DirBackupStorage } from './backup-storage.js';
import type { BackupTarget, TargetIo } from './targets.js';
import { vmaSink } from './vma-sink.js';

export interface ArchiveOptions extends CompressOptions {
  compress: Compressor;
}

/** Where archives go: a dir storage, a dump directory (`--dumpdir`) or standard output (`--stdout`). */
export interface ArchiveDest {
  /** For messages: `storage 'x'`, `dump directory /path` or `standard output`. */
  label: string;
  /** The storage id (hooks' STOREID); empty when the destination is not a storage. */
  id: string;
  /** The directory archives are written to; none: standard output. */
  dumpDir?: string;
  pruneBackups?: string;
  maxProtected?: number;
}

export function storageDest(s: DirBackupStorage): ArchiveDest {
  return { label: `storage '${s.id}'`, id: s.id, dumpDir: s.dumpDir, pruneBackups: s.pruneBackups, maxProtected: s.maxProtected };
}

/** write(2) all of `b` to `fd`, also when the fd is a non-blocking pipe (standard output may be one). */
function writeAllSync(fd: number, b: Buffer): void {
  for (let done = 0; done < b.length; ) {
    try {
      done += writeSync(fd, b, done, b.length - done);
    } catch (err) {
      if (errnoCode(err) !== 'EAGAIN') throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
    }
  }
}

function volumeOf(volid: string, format?: string): { storage: string; format: string } {
  const storage = volid.includes(':') ? volid.slice(0, volid.indexOf(':')) : 'local';
  return { storage, format: format ?? (/\.qcow2$/.test(volid) ? 'qcow2' : 'raw') };
}

/** Writes into a compressor's stdin (or the file itself); each promise resolves when the buffer may be reused. */
function archiveOutput(fd: number, c: Compressor, opts: CompressOptions): { write: (b: Buffer) => Promise<void>; close: () => Promise<void>; kill: () => void } {
  const cmd = compressCommand(c, opts);
  if (!cmd) {
    return {
      write: async (b) => writeAllSync(fd, b),
      close: async () => undefined,
      kill: () => undefined,
    };
  }
  const child: ChildProcess = spawn(cmd.cmd, cmd.args, { stdio: ['pipe', fd, 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  let failure: Error | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', (err) => {
      failure = new GuestvaultError((err as NodeJS.ErrnoException).code === 'ENOENT' ? 'E_TOOL_MISSING' : 'E_IO', `cannot run ${cmd.cmd}: ${err.message}`);
      resolve(null);
    });
    child.once('close', (code) => resolve(code));
  });
  child.stdin!.on('error', (err) => {
    failure ??= new GuestvaultError('E_IO', `${cmd.cmd} stopped reading: ${stderr.trim() || err.message}`);
  });
  return {
    write: (b) =>
      new Promise((resolve, reject) => {
        if (failure) return reject(failure);
        child.stdin!.write(b, (err) => (err ? reject(failure ?? err) : resolve()));
      }),
    close: async () => {
      child.stdin!.end();
      const code = await exited;
      if (failure) throw failure;
      if (code !== 0) {
        const msg = stderr.trim();
        throw new GuestvaultError(/No space left/i.test(msg) ? 'E_DISK_FULL' : 'E_IO', `${cmd.cmd} failed (exit code ${code}): ${msg || 'no message'}`);
      }
    },
    kill: () => {
      child.kill('SIGKILL');
    },
  };
}

/**
 * Back up `t` (a VM) into an archive. Into a directory it goes through a `.dat` that is renamed
 * when complete, and the archive's path is returned; on any failure the `.dat` is removed and the
 * error says why (a full disk says so). To standard output (`dest.dumpDir` unset) it is streamed
 * as it is made, and the path is `-`.
 */
export async function backupToArchive(t: BackupTarget, dest: ArchiveDest, opts: ArchiveOptions, io: TargetIo): Promise<{ path: string; time: number; size: number }> {
  if (t.group.type !== 'vm') throw new GuestvaultError('E_STORAGE_TYPE', `${dest.label} takes archive files: ${t.label} can only be backed up into a datastore storage`);
  const vmid = t.group.id;
  const time = Math.floor(Date.now() / 1000);
  const name = `${archiveBasename('qemu', vmid, time)}.vma${COMPRESSOR_EXTENSIONS[opts.compress]}`;
  const path = dest.dumpDir ? join(dest.dumpDir, name) : '-';
  // vzdump replaces the last extension: .vma.zst → .vma.dat, .vma → .dat.
  const dat = dest.dumpDir ? path.replace(/\.[^.]+$/, '.dat') : undefined;
  const volumes = new Map(backupDisks(loadVm(vmid)).included.map((d) => [d.key, volumeOf(d.volid, d.options.format)]));
  let fd: number | undefined;
  let out: ReturnType<typeof archiveOutput> | undefined;
  try {
    fd = dat ? openSync(dat, 'wx', 0o644) : 1;
    out = archiveOutput(fd, opts.compress, opts);
    const sink = vmaSink({ time, target: dest.dumpDir ? path : name, volumes: (key) => volumes.get(key) ?? { storage: 'local', format: 'raw' }, out: out.write });
    io.log(`creating vzdump archive '${dat ? path : `${name}' on standard output`}${dat ? "'" : ''}${opts.compress !== 'none' ? ` (${opts.compress})` : ''}`);
    await t.backup({ kind: 'archive', vmSink: sink }, dest.id || 'archive', io);
    await out.close();
    out = undefined;
    if (!dat) {
      io.log(`archive written to standard output: ${formatSize(sink.bytesWritten())} uncompressed`);
      return { path, time, size: sink.bytesWritten() };
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(dat, path);
    const size = statSync(path).size;
    io.log(`archive file size: ${formatSize(size)} (${formatSize(sink.bytesWritten())} uncompressed)`);
    return { path, time, size };
  } catch (err) {
    out?.kill();
    if (dat && fd !== undefined) closeSync(fd);
    if (dat) rmSync(dat, { force: true });
    const code = errnoCode(err);
    if (!dat && code === 'EPIPE') throw new GuestvaultError('E_IO', 'standard output was closed before the archive was complete');
    if (code === 'ENOSPC' || code === 'EDQUOT' || (err instanceof GuestvaultError && err.code === 'E_DISK_FULL')) {
      throw new GuestvaultError('E_DISK_FULL', `${dest.label} is full: no space left for ${path}${dat ? `; the incomplete ${dat} was removed` : ''}`);
    }
    if (code === 'EEXIST') throw new GuestvaultError('E_EXISTS', `${dat} exists: another backup of VM ${vmid} is writing it`);
    throw err;
  }
}

/** Notes and protection of an archive, and its task log beside it. */
export function writeArchiveSideFiles(path: string, side: { notes?: string; protected?: boolean; log?: string[] }): void {
  if (side.notes !== undefined) writeFileSync(`${path}.notes`, side.notes);
  if (side.protected) writeFileSync(`${path}.protected`, '');
  if (side.log) {
    const info = parseArchiveName(path);
    if (info?.logfilename) writeFileSync(join(path, '..', info.logfilename), `${side.log.join('\n')}\n`);
  }
}

/**
 * `max-protected-backups`: a new protected archive must not exceed the storage's limit per guest
 * (checked before the backup starts, as Proxmox does).
 */
export function checkProtectedLimit(storage: ArchiveDest, type: 'qemu' | 'lxc', vmid: string): void {
  const dir = storage.dumpDir;
  if (storage.maxProtected === undefined || !dir) return;
  const count = readdirSync(dir)
    .map((f) => parseArchiveName(f))
    .filter((a) => a !== undefined && a.type === type && String(a.vmid) === vmid && existsSync(join(dir, `${a.filename}.protected`))).length;
  if (count >= storage.maxProtected) {
    throw new GuestvaultError(
      'E_PROTECTED_LIMIT',
      `${storage.label} already holds ${count} protected backup(s) of ${type === 'qemu' ? 'VM' : 'CT'} ${vmid} (max-protected-backups ${storage.maxProtected}): unprotect or remove one first`,
    );
  }
}

/**
 * Retention on a dir storage: the guest's archives with standard names (others are never
 * pruned), protected ones kept; a removed archive takes its .log and .notes along.
 */
export function pruneArchives(dumpDir: string, type: 'qemu' | 'lxc', vmid: string, keep: string, dryRun = false): Array<{ file: string; time: number; mark: string; removed: boolean; reason: string }> {
  const archives = readdirSync(dumpDir)
    .map((f) => parseArchiveName(f))
    .filter((a): a is NonNullable<typeof a> => a !== undefined && a.isStdName && a.type === type && String(a.vmid) === vmid);
  const items = archives.map((a) => ({ 'backup-time': a.ctime!, protected: existsSync(join(dumpDir, `${a.filename}.protected`)), finished: true }));
  const decisions = computePrune(items, parseKeepOptions(keep));
  // Decisions name backup times; two archives of one second (say .vma and .vma.zst) share one.
  const byTime = new Map<number, typeof archives>();
  for (const a of archives) byTime.set(a.ctime!, [...(byTime.get(a.ctime!) ?? []), a]);
  return decisions.map((d) => {
    const a = byTime.get(d['backup-time'])!.shift()!;
    const removed = d.mark === 'remove';
    if (removed && !dryRun) {
      for (const f of [a.filename, a.logfilename!, a.notesfilename!]) rmSync(join(dumpDir, f), { force: true });
    }
    return { file: a.filename, time: d['backup-time'], mark: d.mark, removed, reason: d.reason };
  });
}
