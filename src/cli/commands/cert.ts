import { Command } from 'commander';
import { certInfo } from '../../server/index.js';
import { printResult, withOutput, type OutputFormat } from '../output.js';

/** `guestvault cert info`: the API certificate, to compare its fingerprint with what a browser shows. */
export function certCommand(): Command {
  const cmd = new Command('cert').description("the daemon's TLS certificate (made at its first start)");
  withOutput(cmd.command('info').description('subject, validity and SHA-256 fingerprint of the API certificate'))
    .action((o: { outputFormat: OutputFormat }) => {
      const info = certInfo();
      printResult(o.outputFormat, info, () => process.stdout.write(
        `certificate: ${info.path}\nsubject:     ${info.subject}\nvalid:       ${info.notBefore} .. ${info.notAfter}\nfingerprint: ${info.fingerprint}\n`));
    });
  return cmd;
}
