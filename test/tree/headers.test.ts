/** Unit checks of the small codecs: pax records, ustar fields, sparse maps. */
import { describe, expect, it } from 'vitest';
import { decodePaxRecords, paxRecord, paxTime } from '../../src/tree/pax-header.js';
import { encodeSparseMap, readSparseMap } from '../../src/tree/sparse-map.js';
import { decodeUstar, encodeUstar, splitUstarPath } from '../../src/tree/ustar-header.js';

describe('pax records', () => {
  it('count their own length in bytes across digit boundaries', () => {
    // Value sizes around the record lengths 99→100 and 999→1000, where the prefix gains a digit.
    const sizes = [0, 1, 2, 3, 4, 5, 6, 7, 8, 75, 76, 77, 78, 79, 80, 974, 975, 976, 977, 978, 979];
    const bad: number[] = [];
    for (const n of sizes) {
      const value = Buffer.alloc(n, 0xc3); // non-ASCII bytes: lengths must count bytes
      const rec = paxRecord('SCHILY.xattr.user.x', value);
      const [[key, back]] = decodePaxRecords(rec, 0);
      if (Number(rec.toString('latin1').split(' ')[0]) !== rec.length || key !== 'SCHILY.xattr.user.x' || !back.equals(value)) bad.push(n);
    }
    expect(bad).toEqual([]);
    // Every boundary above was actually crossed.
    expect(new Set(sizes.map((n) => String(paxRecord('SCHILY.xattr.user.x', Buffer.alloc(n)).length).length))).toEqual(new Set([2, 3, 4]));
  });

  it('format times as decimal seconds', () => {
    expect(paxTime(1_700_000_000_123_456_789n)).toBe('1700000000.123456789');
    expect(paxTime(1_700_000_000_500_000_000n)).toBe('1700000000.5');
    expect(paxTime(42_000_000_000n)).toBe('42');
    expect(paxTime(-1_500_000_000n)).toBe('-1.5');
  });

  it('reject malformed records', () => {
    for (const bad of ['12 path=abc', '5 x\n', 'abc path=x\n', '99 path=x\n']) {
      expect(() => decodePaxRecords(Buffer.from(bad), 1024)).toThrow(expect.objectContaining({ code: 'E_TAR_CORRUPT' }));
    }
  });
});

describe('ustar header', () => {
  it('round-trips fields, using base-256 where octal does not fit', () => {
    const block = encodeUstar({
      name: Buffer.from('x'),
      mode: 0o4755,
      uid: 3_000_000,
      gid: 7,
      size: 9 * 1024 ** 3,
      mtime: 1_700_000_000,
      typeflag: '0',
    });
    expect(block.toString('ascii', 257, 265)).toBe('ustar\x0000');
    expect(decodeUstar(block, 0)).toMatchObject({ name: 'x', mode: 0o4755, uid: 3_000_000, gid: 7, size: 9 * 1024 ** 3, mtime: 1_700_000_000 });
  });

  it('splits long paths into prefix and name at a slash', () => {
    const path = Buffer.from(`${'p'.repeat(120)}/${'n'.repeat(90)}`);
    const split = splitUstarPath(path);
    expect(split?.prefix.toString()).toBe('p'.repeat(120));
    expect(split?.name.toString()).toBe('n'.repeat(90));
    expect(splitUstarPath(Buffer.from('n'.repeat(101)))).toBeUndefined();
    expect(splitUstarPath(Buffer.from(`${'p'.repeat(156)}/n`))).toBeUndefined();
  });
});

describe('sparse map', () => {
  it('round-trips, adding the end marker when the file ends in a hole', async () => {
    const regions = [
      { offset: 4096, length: 8192 },
      { offset: 1 << 30, length: 100 },
    ];
    const map = encodeSparseMap(regions, 2 * 2 ** 30);
    expect(map.length % 512).toBe(0);
    let pos = 0;
    const next = async (): Promise<Buffer> => map.subarray(pos, (pos += 512));
    const parsed = await readSparseMap(next, map.length + 8292, 0);
    expect(parsed.regions).toEqual([...regions, { offset: 2 * 2 ** 30, length: 0 }]);
    expect(parsed.mapBytes).toBe(map.length);
  });

  it('spans several blocks for many regions', async () => {
    const regions = Array.from({ length: 200 }, (_, i) => ({ offset: i * 1_000_000, length: 4096 }));
    const map = encodeSparseMap(regions, 200 * 1_000_000);
    expect(map.length).toBeGreaterThan(512);
    let pos = 0;
    const parsed = await readSparseMap(async () => map.subarray(pos, (pos += 512)), map.length + 200 * 4096, 0);
    expect(parsed.regions.slice(0, 200)).toEqual(regions);
  });
});
