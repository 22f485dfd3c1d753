import { describe, expect, it } from 'vitest';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { atimeIsKept, type AtimeOps } from '../../src/datastore/gc.js';

describe('the atime safety check of garbage collection', () => {
  it('passes on this machine\'s real filesystem (ext4 keeps the atimes we set)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gv-atime-'));
    const probe = join(dir, 'probe');
    closeSync(openSync(probe, 'w'));
    try {
      expect(atimeIsKept(probe)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  // This kernel has no vfat (or any filesystem that drops atimes), so FAT's behaviour — access
  // *dates* only — is simulated by a fake here; the real check above runs on ext4.
  it('fails on a fake filesystem that keeps only the access date, as FAT does (fake: no vfat in this kernel)', () => {
    let atime = 0;
    const fat: AtimeOps = {
      setTimes: (_p, a) => {
        atime = Math.floor(a / 86400) * 86400;
      },
      stat: () => ({ atimeMs: atime * 1000, mtime: new Date(0) }),
    };
    expect(atimeIsKept('/nowhere', fat, 1_790_000_000)).toBe(false);
    const ignoresAtime: AtimeOps = { setTimes: () => undefined, stat: () => ({ atimeMs: 1_000_000, mtime: new Date(0) }) };
    expect(atimeIsKept('/nowhere', ignoresAtime, 1_790_000_000)).toBe(false);
  });
});
