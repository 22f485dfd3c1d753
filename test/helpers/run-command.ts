import { Readable } from 'node:stream';
import type { Command } from 'commander';
import { vi } from 'vitest';

export interface CommandRun {
  stdout: string;
  stderr: string;
  error?: unknown;
}

/**
 * Run a command object in-process (`guestvault <cmd> ARGS` without spawning), capturing what it
 * writes; optional text as stdin. Errors are returned, not thrown, so tests can check their code.
 */
export async function runCommand(cmd: Command, args: string[], stdin?: string): Promise<CommandRun> {
  let stdout = '';
  let stderr = '';
  const setup = (c: Command) => {
    c.exitOverride();
    c.configureOutput({ writeOut: (s) => (stdout += s), writeErr: (s) => (stderr += s) });
    c.commands.forEach(setup);
  };
  setup(cmd);
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((stdout += String(s)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
  const realStdin = Object.getOwnPropertyDescriptor(process, 'stdin')!;
  if (stdin !== undefined) Object.defineProperty(process, 'stdin', { value: Readable.from([Buffer.from(stdin)]), configurable: true });
  try {
    await cmd.parseAsync(args, { from: 'user' });
    return { stdout, stderr };
  } catch (error) {
    return { stdout, stderr, error };
  } finally {
    out.mockRestore();
    err.mockRestore();
    if (stdin !== undefined) Object.defineProperty(process, 'stdin', realStdin);
  }
}
