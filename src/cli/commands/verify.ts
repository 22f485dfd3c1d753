import { Command } from 'commander';
import {
  ChunkPool, checkVerifyOptions, parseGroupOrSnapshot, runVerify, type SnapshotRef, type SnapshotVerifyResult, type VerifyReport,
} from '../../datastore/index.js';
import { GuestvaultError } from '../../errors.js';
import { formatDuration, formatSize, makeUpid, stderrSink } from '../../tasks/index.js';
import { currentAuthId, openStore } from '../context.js';
import { note, printResult, withOutput, type OutputFormat } from '../output.js';

/** A decimal number option (commander passes the raw text); anything else is a usage error. */
function numberOption(option: string) {
  return (text: string): number => {
    const v = /^\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*$/.test(text) ? Number(text) : NaN;
    if (!Number.isFinite(v)) throw new GuestvaultError('E_USAGE', `invalid value '${text}' for ${option}: not a number`);
    return v;
  };
}

function chunkLine(r: SnapshotVerifyResult): string {
  const c = r.chunks;
  if (!c) return '';
  const parts = [`${c.read} read`];
  if (c.reused > 0) parts.push(`${c.reused} already checked in this run`);
  if (c.notSampled > 0) parts.push(`${c.notSampled} not in the sample`);
  return ` (${c.referenced} chunks: ${parts.join(', ')})`;
}

function printText(report: VerifyReport): void {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  for (const r of report.snapshots) {
    if (r.state === 'skipped') {
      out(`${r.snapshot}: skipped (${r.reason ?? 'verified before'})`);
      continue;
    }
    out(`${r.snapshot}: ${r.state}${chunkLine(r)}`);
    for (const p of r.problems) {
      out(`  ${p.archive}${p.chunk ? ` chunk ${p.chunk}` : ''}: ${p.message}${p.renamedTo ? ` (moved to ${p.renamedTo})` : ''}`);
    }
  }
  const s = report.summary;
  out(`snapshots: ${s.snapshots.verified} verified, ${s.snapshots.skipped} skipped, ${s.snapshots.failed} failed`);
  const sample = s.sample !== null ? ` (sample ${s.sample}%)` : '';
  out(`chunks: checked ${s.chunks.checked} of ${s.chunks.distinct}${sample}, ${s.chunks.bad} bad; read ${formatSize(s.bytesRead)} in ${formatDuration(s.seconds)}`);
  out(s.snapshots.failed === 0 ? 'verify: all ok' : `verify: ${s.snapshots.failed} snapshot(s) failed`);
}

export function verifyCommand(): Command {
  return withOutput(new Command('verify')
    .description('re-read and check every chunk of the snapshots; corrupt chunks are renamed to <digest>.<n>.bad; exit code 1 when anything is bad')
    .argument('[target]', 'a snapshot (vm/100/TIME) or group (vm/100); default: every snapshot in the namespace and below')
    .requiredOption('--store <name>', 'datastore')
    .option('--ns <namespace>', 'namespace')
    .option('--ignore-verified', 'skip snapshots whose last verification is ok (failed ones, and ones verified only with --sample below 100, are verified again); skipped snapshots do not change the exit code')
    .option('--outdated-after <days>', 'with --ignore-verified: verify an ok snapshot again when its last verification started at least DAYS days ago '
      + '(decimals allowed; 0 = always; an unreadable task id counts as outdated). Given alone, it implies --ignore-verified', numberOption('--outdated-after'))
    .option('--sample <percent>', 'check only a random PERCENT (0 < P <= 100, decimals allowed) of the distinct chunks of this run, each chunk chosen or not once per run; '
      + 'blobs and indexes are always checked fully; the manifest records the verification with "sample": P', numberOption('--sample')))
    .addHelpText('after', `
Each distinct chunk is read at most once per run, however many snapshots share it.
Without --ignore-verified and --outdated-after every selected snapshot is verified.`)
    .action(async (target: string | undefined, o: {
      store: string; ns?: string; ignoreVerified?: boolean; outdatedAfter?: number; sample?: number; outputFormat: OutputFormat;
    }) => {
      checkVerifyOptions({ samplePercent: o.sample, outdatedAfterDays: o.outdatedAfter });
      const { store, ns } = openStore(o);
      let refs: SnapshotRef[];
      if (target) {
        const r = parseGroupOrSnapshot(target, ns);
        refs = 'time' in r ? [r] : store.listSnapshots(r, note).map((s) => s.ref);
        if ('time' in r) store.loadManifest(r); // A typed error when it does not exist.
      } else {
        refs = store.listNamespaces().filter((n) => n.slice(0, ns.length).join('/') === ns.join('/'))
          .flatMap((n) => store.listGroups(n)).flatMap((g) => store.listSnapshots(g, note).map((s) => s.ref));
      }
      const pool = new ChunkPool();
      const upid = makeUpid('verify', store.name, currentAuthId());
      let report: VerifyReport;
      try {
        report = await runVerify(store, refs, {
          pool,
          upid,
          progress: stderrSink(),
          log: o.outputFormat === 'text' ? note : undefined,
          ignoreVerified: o.ignoreVerified === true || o.outdatedAfter !== undefined,
          outdatedAfterDays: o.outdatedAfter,
          samplePercent: o.sample,
        });
      } finally {
        await pool.close();
      }
      const failed = report.summary.snapshots.failed;
      printResult(o.outputFormat, { upid, ok: failed === 0, snapshots: report.snapshots, summary: report.summary }, () => printText(report));
      if (failed > 0) process.exitCode = 1;
    });
}
