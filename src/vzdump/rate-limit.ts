/**
 * vzdump's `--bwlimit`: reads are scheduled so that, together, they stay at or under a rate.
 * A schedule rather than a bucket, so that several disks read at once share one limit.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export class RateLimiter {
  /** When the next read may start (ms). */
  private next = 0;

  constructor(readonly bytesPerSecond: number) {}

  /** Resolves when `bytes` may be read. */
  async take(bytes: number): Promise<void> {
    const now = Date.now();
    // After an idle spell the schedule restarts: no burst of saved-up credit.
    const start = Math.max(now, this.next);
    this.next = start + (bytes / this.bytesPerSecond) * 1000;
    if (start > now) await sleep(start - now);
  }
}
