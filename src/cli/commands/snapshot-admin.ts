import { Command } from 'commander';
import { forgetSnapshot, getNotes, isProtected, parseSnapshot, setNotes, setProtected } from '../../datastore/index.js';
import { openStore } from '../context.js';
import { printResult, withOutput, type OutputFormat } from '../output.js';

interface SnapOpts {
  store: string;
  ns?: string;
  outputFormat: OutputFormat;
}

export function forgetCommand(): Command {
  return withOutput(new Command('forget')
    .description('remove one snapshot (not if it is protected or the base of a running backup); its chunks go at the next garbage collection')
    .argument('<snapshot>', 'e.g. vm/100/2026-11-27T23:00:00Z')
    .requiredOption('--store <name>', 'datastore')
    .option('--ns <namespace>', 'namespace'))
    .action(async (snapshot: string, o: SnapOpts) => {
      const { store, ns } = openStore(o);
      const ref = parseSnapshot(snapshot, ns);
      await forgetSnapshot(store, ref);
      printResult(o.outputFormat, { snapshot, removed: true }, () => process.stdout.write(`removed snapshot ${snapshot}\n`));
    });
}

export function protectCommand(): Command {
  return withOutput(new Command('protect')
    .description('protect a snapshot from prune and forget (or lift the protection with --off)')
    .argument('<snapshot>', 'e.g. vm/100/2026-11-27T23:00:00Z')
    .requiredOption('--store <name>', 'datastore')
    .option('--ns <namespace>', 'namespace')
    .option('--off', 'remove the protection'))
    .action((snapshot: string, o: SnapOpts & { off?: boolean }) => {
      const { store, ns } = openStore(o);
      const ref = parseSnapshot(snapshot, ns);
      setProtected(store, ref, !o.off);
      const on = isProtected(store, ref);
      printResult(o.outputFormat, { snapshot, protected: on }, () => process.stdout.write(`snapshot ${snapshot} is ${on ? 'protected' : 'not protected'}\n`));
    });
}

export function notesCommand(): Command {
  return withOutput(new Command('notes')
    .description('show or set the notes of a snapshot (kept in its manifest)')
    .argument('<snapshot>', 'e.g. vm/100/2026-11-27T23:00:00Z')
    .requiredOption('--store <name>', 'datastore')
    .option('--ns <namespace>', 'namespace')
    .option('--set <text>', 'replace the notes with this text'))
    .action(async (snapshot: string, o: SnapOpts & { set?: string }) => {
      const { store, ns } = openStore(o);
      const ref = parseSnapshot(snapshot, ns);
      if (o.set !== undefined) await setNotes(store, ref, o.set);
      const notes = getNotes(store, ref);
      printResult(o.outputFormat, { snapshot, notes }, () => process.stdout.write(notes ? `${notes}\n` : ''));
    });
}
