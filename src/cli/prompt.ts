import { createInterface } from 'node:readline';

/** Ask on the terminal without echoing what is typed (passphrases, passwords). */
export function promptHidden(q: string): Promise<string> {
  return new Promise<string>((resolve) => {
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
}

/** All of standard input as text, without its final line break (`--password-stdin`). */
export async function readStdinText(): Promise<string> {
  let text = '';
  for await (const piece of process.stdin) text += (piece as Buffer).toString('utf8');
  return text.replace(/\r?\n$/, '');
}
