import { formatDuration, formatSize } from './format-size.js';

export interface ProgressSink {
  /** A progress line (replaces the previous one on a terminal). */
  update(line: string): void;
  /** Clear the progress line before normal output. */
  clear(): void;
}

/** Where progress goes: a redrawn line on a terminal, a periodic log line elsewhere. */
export function stderrSink(): ProgressSink {
  const tty = process.stderr.isTTY === true;
  let lastLog = Date.now();
  return {
    update(line) {
      if (tty) {
        process.stderr.write(`\r\x1b[K${line}`);
      } else if (Date.now() - lastLog >= 10_000) {
        lastLog = Date.now();
        process.stderr.write(`${line}\n`);
      }
    },
    clear() {
      if (tty) process.stderr.write('\r\x1b[K');
    },
  };
}

export const silentSink: ProgressSink = { update() {}, clear() {} };

/** Counts bytes of one long operation and reports done/total, rate and ETA at most every 250 ms. */
export class Progress {
  private done = 0;
  private readonly started = Date.now();
  private lastDraw = 0;

  constructor(private readonly label: string, private readonly total: number | undefined, private readonly sink: ProgressSink) {}

  add(bytes: number): void {
    this.done += bytes;
    const now = Date.now();
    if (now - this.lastDraw >= 250) {
      this.lastDraw = now;
      this.sink.update(this.line());
    }
  }

  line(): string {
    const secs = (Date.now() - this.started) / 1000;
    const rate = secs > 0 ? this.done / secs : 0;
    const parts = [`${this.label}: ${formatSize(this.done)}`];
    if (this.total !== undefined && this.total > 0) {
      parts[0] += ` of ${formatSize(this.total)} (${Math.floor((this.done / this.total) * 100)}%)`;
    }
    parts.push(`${formatSize(rate)}/s`);
    if (this.total !== undefined && rate > 0) parts.push(`ETA ${formatDuration((this.total - this.done) / rate)}`);
    return parts.join(', ');
  }

  finish(): void {
    this.sink.clear();
  }
}

/** Progress into a task log: a line at most every `everyMs` (task logs are read later, not redrawn). */
export function logSink(log: (line: string) => void, everyMs = 5_000): ProgressSink {
  let last = 0;
  return {
    update(line) {
      if (Date.now() - last < everyMs) return;
      last = Date.now();
      log(line);
    },
    clear() {},
  };
}
