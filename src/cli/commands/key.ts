import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Command, Option } from 'commander';
import { GuestvaultError } from '../../errors.js';
import { createKeyConfig, parseKeyConfig, type KdfName } from '../../formats/index.js';
import { loadKeyFile, readPassphrase } from '../keys.js';
import { printResult, withOutput, type OutputFormat } from '../output.js';

export function keyCommand(): Command {
  const cmd = new Command('key').description('manage encryption keys (Proxmox Backup Server key file format)');
  withOutput(cmd.command('create')
    .description('create a new encryption key file; keep a copy of it somewhere safe: without it, encrypted backups cannot be restored')
    .argument('<file>', 'where to write the key file')
    .addOption(new Option('--kdf <kdf>', 'protect the key with a passphrase (scrypt, pbkdf2) or not (none)').choices(['scrypt', 'pbkdf2', 'none']).default('scrypt'))
    .option('--hint <text>', 'a passphrase hint stored in the key file'))
    .action(async (file: string, o: { kdf: KdfName; hint?: string; outputFormat: OutputFormat }) => {
      if (existsSync(file)) throw new GuestvaultError('E_KEYFILE_EXISTS', `key file ${file} already exists; refusing to overwrite it`);
      let passphrase: string | undefined;
      if (o.kdf !== 'none') {
        passphrase = await readPassphrase('Encryption key passphrase: ', true);
        if (passphrase === undefined) {
          throw new GuestvaultError('E_PASSPHRASE_REQUIRED', 'no passphrase: set GUESTVAULT_ENCRYPTION_PASSWORD or run in a terminal (or use --kdf none)');
        }
      }
      const config = createKeyConfig(randomBytes(32), { kdf: o.kdf, passphrase, now: Math.floor(Date.now() / 1000), ...(o.hint ? { hint: o.hint } : {}) });
      writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
      printResult(o.outputFormat, { path: file, fingerprint: config.fingerprint, kdf: o.kdf }, () =>
        process.stdout.write(`created key ${file}\nfingerprint: ${config.fingerprint}\n`));
    });
  withOutput(cmd.command('show')
    .description('show a key file: its fingerprint, KDF and dates (asks for the passphrase only with --check)')
    .argument('<file>', 'key file')
    .option('--check', 'also unlock the key, to test the passphrase'))
    .action(async (file: string, o: { check?: boolean; outputFormat: OutputFormat }) => {
      if (o.check) await loadKeyFile(file);
      const k = parseKeyConfig(readFileSync(file, 'utf8'), `key file ${file}`);
      const kdf = k.kdf === null ? 'none' : 'Scrypt' in k.kdf ? 'scrypt' : 'pbkdf2';
      const info = { path: file, fingerprint: k.fingerprint, kdf, created: k.created, modified: k.modified, ...(k.hint ? { hint: k.hint } : {}) };
      printResult(o.outputFormat, info, () => {
        for (const [name, value] of Object.entries(info)) process.stdout.write(`${name}: ${value}\n`);
      });
    });
  return cmd;
}
