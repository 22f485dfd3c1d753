import { createInterface } from 'node:readline';
import { GuestvaultError } from '../errors.js';
import { keyConfigNeedsPassphrase, openKeyConfig, type CryptConfig } from '../formats/index.js';
import { readKeyConfigFile } from '../vzdump/index.js';

/** Read a passphrase: GUESTVAULT_ENCRYPTION_PASSWORD, else a hidden prompt on the terminal. */
export async function readPassphrase(prompt: string, confirm = false): Promise<string | undefined> {
  const env = process.env.GUESTVAULT_ENCRYPTION_PASSWORD;
  if (env !== undefined) return env;
  if (!process.stdin.isTTY) return undefined;
  const ask = (q: string) => new Promise<string>((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    // Mute echo: readline writes typed characters through _writeToOutput.
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
      if (s.startsWith(q)) process.stderr.write(q);
    };
    rl.question(q, (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
  });
  const first = await ask(prompt);
  if (confirm && (await ask('Verify passphrase: ')) !== first) {
    throw new GuestvaultError('E_PASSPHRASE_MISMATCH', 'the passphrases do not match');
  }
  return first;
}

export async function loadKeyFile(path: string): Promise<CryptConfig> {
  const config = readKeyConfigFile(path);
  const passphrase = keyConfigNeedsPassphrase(config) ? await readPassphrase(`Passphrase for ${path}: `) : undefined;
  return openKeyConfig(config, passphrase, `key file ${path}`);
}
