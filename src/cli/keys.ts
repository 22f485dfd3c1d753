import { promptHidden } from './prompt.js';
import { GuestvaultError } from '../errors.js';
import { keyConfigNeedsPassphrase, openKeyConfig, type CryptConfig } from '../formats/index.js';
import { readKeyConfigFile } from '../vzdump/index.js';

/** Read a passphrase: GUESTVAULT_ENCRYPTION_PASSWORD, else a hidden prompt on the terminal. */
export async function readPassphrase(prompt: string, confirm = false): Promise<string | undefined> {
  const env = process.env.GUESTVAULT_ENCRYPTION_PASSWORD;
  if (env !== undefined) return env;
  if (!process.stdin.isTTY) return undefined;
  const first = await promptHidden(prompt);
  if (confirm && (await promptHidden('Verify passphrase: ')) !== first) {
    throw new GuestvaultError('E_PASSPHRASE_MISMATCH', 'the passphrases do not match');
  }
  return first;
}

export async function loadKeyFile(path: string): Promise<CryptConfig> {
  const config = readKeyConfigFile(path);
  const passphrase = keyConfigNeedsPassphrase(config) ? await readPassphrase(`Passphrase for ${path}: `) : undefined;
  return openKeyConfig(config, passphrase, `key file ${path}`);
}
