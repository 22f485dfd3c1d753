import { Command } from 'commander';
import { statSync } from 'node:fs';
import { formatUuid } from '../../formats/vma/index.js';
import { checkComplete, extractVmaFile, readVmaFile, type VmaReadResult } from '../../storage/index.js';
import { formatSize, Progress, stderrSink } from '../../tasks/index.js';
import { printResult, withOutput, type OutputFormat } from '../output.js';

function summary(path: string, r: VmaReadResult) {
  return {
    archive: path,
    compression: r.compression,
    uuid: formatUuid(r.header.uuid),
    ctime: r.header.ctime,
    configs: r.header.configs.map((c) => ({ name: c.name, size: c.data.length })),
    devices: r.devices.map((d) => ({
      id: d.device.id,
      name: d.device.name,
      size: d.device.size,
      clusters: d.clusters,
      present: d.present,
      zero: d.zero,
      ...(d.firstMissing !== undefined ? { 'first-missing': d.firstMissing } : {}),
    })),
    extents: r.extents,
    bytes: r.bytes,
    complete: r.devices.every((d) => d.firstMissing === undefined),
  };
}

function progressFor(path: string): Progress {
  let total: number | undefined;
  try {
    total = statSync(path).size;
  } catch {
    total = undefined;
  }
  // The total is the file's size; for a compressed archive the count runs past it (uncompressed).
  return new Progress(path, total, stderrSink());
}

function printSummary(s: ReturnType<typeof summary>, withConfig?: VmaReadResult): void {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`archive: ${s.archive} (${s.compression === 'none' ? 'uncompressed' : s.compression})`);
  out(`uuid: ${s.uuid}, created ${new Date(s.ctime * 1000).toISOString()}`);
  for (const c of s.configs) out(`config: ${c.name} (${c.size} bytes)`);
  for (const d of s.devices) {
    const state = d['first-missing'] === undefined ? 'complete' : `${d.clusters - d.present} clusters missing, the first is cluster ${d['first-missing']}`;
    out(`device ${d.id}: ${d.name} ${formatSize(d.size)}, ${d.present} of ${d.clusters} clusters (${d.zero} zero): ${state}`);
  }
  if (withConfig) {
    for (const c of withConfig.header.configs) {
      out(`--- ${c.name}`);
      process.stdout.write(c.data.toString('utf8'));
    }
  }
}

/** `guestvault vma list|verify|extract`: look into vzdump's VM archives (ours and Proxmox's). */
export function vmaCommand(): Command {
  const cmd = new Command('vma').description("read VMA archives (vzdump's VM backup files, also .vma.zst/.gz/.lzo): list, verify, extract");
  cmd.addCommand(
    withOutput(new Command('list'))
      .description('show the configs and devices of an archive and which clusters it holds')
      .argument('<file>', 'archive (.vma, .vma.zst, .vma.gz, .vma.lzo)')
      .option('--config', 'also print the configs')
      .action(async (file: string, opts: { outputFormat: OutputFormat; config?: boolean }) => {
        const r = await readVmaFile(file);
        const s = summary(file, r);
        printResult(opts.outputFormat, opts.config ? { ...s, config: Object.fromEntries(r.header.configs.map((c) => [c.name, c.data.toString('utf8')])) } : s, () =>
          printSummary(s, opts.config ? r : undefined),
        );
      }),
  );
  cmd.addCommand(
    withOutput(new Command('verify'))
      .description('read the whole archive: header and extent checksums, every cluster of every device present exactly once; exit code 1 if not')
      .argument('<file>', 'archive')
      .action(async (file: string, opts: { outputFormat: OutputFormat }) => {
        const progress = progressFor(file);
        let r: VmaReadResult;
        try {
          r = await readVmaFile(file, { progress: totalsTo(progress) });
        } finally {
          progress.finish();
        }
        const s = summary(file, r);
        printResult(opts.outputFormat, s, () => {
          printSummary(s);
          process.stdout.write(s.complete ? `verify: ${file} is complete and consistent\n` : '');
        });
        checkComplete(file, r);
      }),
  );
  cmd.addCommand(
    new Command('extract')
      .description('write the configs and each device as a sparse disk-<name>.raw into a new directory (removed again if the archive is bad)')
      .argument('<file>', 'archive')
      .argument('<dir>', 'target directory (must not exist)')
      .action(async (file: string, dir: string) => {
        const progress = progressFor(file);
        let r: VmaReadResult;
        try {
          r = await extractVmaFile(file, dir, totalsTo(progress));
        } finally {
          progress.finish();
        }
        for (const c of r.header.configs) process.stdout.write(`${dir}/${c.name}\n`);
        for (const d of r.header.devices) process.stdout.write(`${dir}/disk-${d.name}.raw (${formatSize(d.size)})\n`);
      }),
  );
  return cmd;
}

/** The reader reports running totals; Progress counts increments. */
function totalsTo(p: Progress): (bytes: number) => void {
  let last = 0;
  return (bytes) => {
    p.add(bytes - last);
    last = bytes;
  };
}
