/**
 * Secret maps (password hashes, token digests) as JSON files under etc/priv: the directory is
 * 0700, the file 0600 from the moment it is written, and it is replaced atomically.
 */
import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { readConfigText } from '../../config-file.js';
import { GuestvaultError } from '../../errors.js';

export function readPrivateJson(file: string): Record<string, string> {
  const text = readConfigText(file);
  if (text === undefined) return {};
  try {
    return JSON.parse(text) as Record<string, string>;
  } catch {
    throw new GuestvaultError('E_CONFIG_SYNTAX', `${file} is not valid JSON`);
  }
}

export function writePrivateJson(file: string, data: Record<string, string>): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  chmodSync(dirname(file), 0o700);
  const tmp = `${file}.tmp.${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(data, null, 1)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}
