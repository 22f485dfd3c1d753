import { Command } from 'commander';
import { formatGroup, formatSnapshot, parseGroupOrSnapshot, parseSnapshot, type Datastore, type GroupRef, type SnapshotInfo } from '../../datastore/index.js';
import { formatBackupTime } from '../../datastore/index.js';
import { formatSize } from '../../tasks/index.js';
import { openStore } from '../context.js';
import { note, printResult, printTable, withOutput, type OutputFormat } from '../output.js';

export function snapshotJson(store: Datastore, s: SnapshotInfo) {
  const m = s.manifest;
  const verify = m.unprotected.verify_state as { state: string; upid: string } | undefined;
  const notes = typeof m.unprotected.notes === 'string' ? m.unprotected.notes : '';
  return {
    snapshot: formatSnapshot(s.ref),
    ns: s.ref.ns.join('/'),
    'backup-type': s.ref.type,
    'backup-id': s.ref.id,
    'backup-time': s.ref.time,
    size: m.files.reduce((a, f) => a + f.size, 0),
    files: m.files.map((f) => ({ filename: f.filename, size: f.size, 'crypt-mode': f['crypt-mode'] })),
    protected: s.protected,
    verification: verify ?? null,
    owner: store.readOwner(s.ref) ?? null,
    comment: notes.split('\n')[0] ?? '',
    fingerprint: (m.unprotected['key-fingerprint'] as string | undefined) ?? null,
  };
}

export function listSnapshotsOf(store: Datastore, groups: GroupRef[]): SnapshotInfo[] {
  return groups.flatMap((g) => store.listSnapshots(g, note));
}

export function snapshotsCommand(): Command {
  return withOutput(new Command('snapshots')
    .description('list the snapshots of a datastore (or of one group), oldest first')
    .argument('[group]', 'a backup group, e.g. vm/100')
    .requiredOption('--store <name>', 'datastore')
    .option('--ns <namespace>', 'namespace'))
    .action((group: string | undefined, o: { store: string; ns?: string; outputFormat: OutputFormat }) => {
      const { store, ns } = openStore(o);
      const groups = group ? [parseGroupOrSnapshot(group, ns)] : store.listGroups(ns);
      const snaps = listSnapshotsOf(store, groups.map((g) => ({ ns: g.ns, type: g.type, id: g.id })));
      const rows = snaps.map((s) => snapshotJson(store, s));
      printResult(o.outputFormat, rows, () => printTable(
        ['snapshot', 'size', 'files', 'protected', 'verify', 'comment'],
        rows.map((r) => [r.snapshot, formatSize(r.size), r.files.map((f) => f.filename.replace(/\.(fidx|didx|blob)$/, '')).join(' '),
          r.protected ? 'yes' : '', r.verification?.state ?? 'none', r.comment]),
      ));
    });
}

export function filesCommand(): Command {
  return withOutput(new Command('files')
    .description('list the archives of a snapshot')
    .argument('<snapshot>', 'e.g. vm/100/2026-11-27T23:00:00Z')
    .requiredOption('--store <name>', 'datastore')
    .option('--ns <namespace>', 'namespace'))
    .action((snapshot: string, o: { store: string; ns?: string; outputFormat: OutputFormat }) => {
      const { store, ns } = openStore(o);
      const ref = parseSnapshot(snapshot, ns);
      const m = store.loadManifest(ref);
      printResult(o.outputFormat, m.files, () => {
        process.stdout.write(`${formatGroup(ref)} at ${formatBackupTime(ref.time)}\n`);
        printTable(['archive', 'size', 'crypt-mode', 'csum'], m.files.map((f) => [f.filename, formatSize(f.size), f['crypt-mode'], f.csum]));
      });
    });
}
