import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { archiveBasename, parseArchiveName } from '../../src/storage/archive-names.js';

interface Case {
  description: string;
  archive: string;
  expected?: Record<string, unknown>;
  error?: string;
}
const cases = (JSON.parse(readFileSync('/work/shared/reference/vzdump-archive-names.json', 'utf8')) as { cases: Case[] }).cases;

describe('vzdump archive names (Proxmox VE archive_info test vectors, TZ=UTC)', () => {
  process.env.TZ = 'UTC';
  for (const c of cases) {
    it(c.description, () => {
      const info = parseArchiveName(c.archive);
      if (c.error) {
        expect(info).toBeUndefined();
        return;
      }
      const e = c.expected!;
      expect(info).toBeDefined();
      expect({
        filename: info!.filename,
        ...(info!.logfilename ? { logfilename: info!.logfilename, notesfilename: info!.notesfilename } : {}),
        type: info!.type,
        format: info!.format,
        ...(info!.compression ? { compression: info!.compression } : {}),
        ...(info!.vmid !== undefined ? { vmid: info!.vmid, ctime: info!.ctime } : {}),
        is_std_name: info!.isStdName ? 1 : 0,
      }).toEqual({
        filename: e.filename,
        ...(e.logfilename ? { logfilename: e.logfilename, notesfilename: e.notesfilename } : {}),
        type: e.type,
        format: e.format,
        ...(e.compression ? { compression: e.compression } : {}),
        ...(e.vmid !== undefined ? { vmid: e.vmid, ctime: e.ctime } : {}),
        is_std_name: e.is_std_name,
      });
    });
  }

  it('our names parse back to the same VMID and time', () => {
    const t = 1_795_000_000;
    const name = `${archiveBasename('qemu', '100', t)}.vma.zst`;
    expect(name).toMatch(/^vzdump-qemu-100-\d{4}_\d\d_\d\d-\d\d_\d\d_\d\d\.vma\.zst$/);
    const info = parseArchiveName(name)!;
    expect([info.vmid, info.ctime, info.compression, info.format, info.isStdName]).toEqual([100, t, 'zst', 'vma', true]);
  });
});
