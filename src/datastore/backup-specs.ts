import { readFileSync } from 'node:fs';
import { GuestvaultError } from '../errors.js';
import { addTree } from './backup-tree.js';
import type { ArchiveStats, BackupSession } from './backup-session.js';
import { formatDuration, formatSize } from '../tasks/index.js';

/** One thing to back up: `NAME.img:IMAGE`, `NAME.tar:DIRECTORY` or `NAME.conf:FILE`. */
export interface BackupSpec {
  name: string;
  kind: 'img' | 'tar' | 'conf';
  path: string;
}

export function parseBackupSpec(spec: string): BackupSpec {
  const m = /^([A-Za-z0-9_][A-Za-z0-9._-]*)\.(img|tar|conf):(.+)$/.exec(spec);
  if (!m) {
    throw new GuestvaultError('E_USAGE', `invalid backup spec '${spec}': use NAME.img:IMAGE, NAME.tar:DIRECTORY or NAME.conf:FILE`);
  }
  return { name: `${m[1]}.${m[2]}`, kind: m[2] as BackupSpec['kind'], path: m[3]! };
}

/** Add every spec to the session, in order. */
export async function addSpecs(session: BackupSession, specs: readonly BackupSpec[], opts: { skipUnchanged: boolean; warn: (msg: string) => void }): Promise<void> {
  for (const spec of specs) {
    if (spec.kind === 'img') await session.addImage(spec.name, spec.path, opts.skipUnchanged);
    else if (spec.kind === 'tar') await addTree(session, spec.name, spec.path, opts.warn);
    else {
      let data: Buffer;
      try {
        data = readFileSync(spec.path);
      } catch (err) {
        throw new GuestvaultError('E_SOURCE_MISSING', `cannot read ${spec.path}: ${(err as Error).message}`);
      }
      session.addBlob(spec.name, data);
    }
  }
}

/** One line about an archive's backup: size, chunks (new, reused, zero), bytes written, time, rate. */
export function summaryLine(s: ArchiveStats): string {
  if (s.unchanged) return `${s.archive}: unchanged since the previous snapshot (size, inode and times), not read; ${formatSize(s.size)} in ${s.chunks} chunks reused`;
  const rate = s.seconds > 0 ? `${formatSize(s.size / s.seconds)}/s` : '';
  return `${s.archive}: ${formatSize(s.size)} in ${s.chunks} chunks (${s.newChunks} new, ${s.duplicateChunks} reused, ${s.zeroChunks} zero); `
    + `wrote ${formatSize(s.newBytes)} as ${formatSize(s.newEncodedBytes)}; ${formatDuration(s.seconds)}${rate ? `, ${rate}` : ''}`;
}
