import { describe, expect, it } from 'vitest';
import {
  DYNAMIC_ENTRY_SIZE,
  DYNAMIC_INDEX_MAGIC,
  DynamicCsum,
  FIXED_INDEX_MAGIC,
  decodeDynamicIndex,
  dynamicChunkAt,
  dynamicChunkStart,
  dynamicEntryBytes,
  dynamicHeader,
  encodeDynamicIndex,
  type DynamicEntry,
} from '../../src/formats/index.js';
import { expectFormatError, flipByte, sha256 } from './helpers.js';

const CTIME = 1717600000;
const UUID = Buffer.from('ffeeddccbbaa99887766554433221100', 'hex');

function entries(ends: number[]): DynamicEntry[] {
  return ends.map((end, i) => ({ end, digest: sha256(`dyn ${i}`) }));
}

function u64le(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

/** The index csum written out from the definition: sha256(end_0_le || digest_0 || ...). */
function expectedCsum(es: DynamicEntry[]): Buffer {
  return sha256(...es.flatMap((e) => [u64le(e.end), e.digest]));
}

describe('dynamic index constants', () => {
  it('magic = sha256("Proxmox Backup dynamic sized chunk index v1.0")[0..8]', () => {
    expect(DYNAMIC_INDEX_MAGIC.equals(sha256('Proxmox Backup dynamic sized chunk index v1.0').subarray(0, 8))).toBe(true);
    expect([...DYNAMIC_INDEX_MAGIC]).toEqual([28, 145, 78, 165, 25, 186, 179, 205]);
  });

  it('entries are 40 bytes', () => {
    expect(DYNAMIC_ENTRY_SIZE).toBe(40);
  });
});

describe('encodeDynamicIndex', () => {
  const es = entries([1000, 5000, 5001, 2 ** 33 + 7]);
  const buf = encodeDynamicIndex(es, CTIME);

  it('lays out header and entries as PBS does', () => {
    expect(buf.length).toBe(4096 + 4 * 40);
    expect([...buf.subarray(0, 8)]).toEqual([28, 145, 78, 165, 25, 186, 179, 205]);
    expect(buf.subarray(8, 24).length).toBe(16);
    expect(buf.readBigInt64LE(24)).toBe(BigInt(CTIME));
    expect(buf.subarray(32, 64).equals(expectedCsum(es))).toBe(true);
    expect(buf.subarray(64, 4096).every((b) => b === 0)).toBe(true);
    es.forEach((e, i) => {
      const off = 4096 + 40 * i;
      expect(buf.subarray(off, off + 8).equals(u64le(e.end))).toBe(true);
      expect(buf.subarray(off + 8, off + 40).equals(e.digest)).toBe(true);
    });
    // 2^33 + 7 little-endian.
    expect([...buf.subarray(4096 + 3 * 40, 4096 + 3 * 40 + 8)]).toEqual([7, 0, 0, 0, 2, 0, 0, 0]);
  });

  it('uses a random uuid', () => {
    const other = encodeDynamicIndex(es, CTIME);
    expect(other.subarray(8, 24).equals(buf.subarray(8, 24))).toBe(false);
    expect(other.subarray(24).equals(buf.subarray(24))).toBe(true);
  });

  it('dynamicHeader and dynamicEntryBytes build the same bytes', () => {
    const csum = new DynamicCsum();
    const body = es.map((e) => {
      const b = dynamicEntryBytes(e.end, e.digest);
      csum.add(b);
      return b;
    });
    const head = dynamicHeader(CTIME, csum.digest(), UUID);
    expect(head.length).toBe(4096);
    expect(head.subarray(8, 24).equals(UUID)).toBe(true);
    const whole = Buffer.concat([head, ...body]);
    expect(whole.subarray(24).equals(buf.subarray(24))).toBe(true);
    expect(dynamicEntryBytes(0x0102030405, Buffer.alloc(32, 0xaa)).equals(
      Buffer.concat([Buffer.from([5, 4, 3, 2, 1, 0, 0, 0]), Buffer.alloc(32, 0xaa)]),
    )).toBe(true);
  });

  it('csum of an empty index is sha256 of nothing', () => {
    const empty = encodeDynamicIndex([], CTIME);
    expect(empty.length).toBe(4096);
    expect(empty.subarray(32, 64).equals(sha256(''))).toBe(true);
    expect(new DynamicCsum().digest().equals(sha256(''))).toBe(true);
  });
});

describe('decodeDynamicIndex', () => {
  const es = entries([4096, 70000, 70001, 1_000_000]);
  const head = dynamicHeader(CTIME, expectedCsum(es), UUID);
  const buf = Buffer.concat([head, ...es.map((e) => dynamicEntryBytes(e.end, e.digest))]);
  const what = 'ct/101/2024-06-05T15:06:40Z/root.pxar.didx';

  it('round trips', () => {
    const idx = decodeDynamicIndex(buf, what);
    expect(idx.uuid.equals(UUID)).toBe(true);
    expect(idx.ctime).toBe(CTIME);
    expect(idx.size).toBe(1_000_000);
    expect(idx.csum.equals(expectedCsum(es))).toBe(true);
    expect(idx.entries.map((e) => e.end)).toEqual([4096, 70000, 70001, 1_000_000]);
    idx.entries.forEach((e, i) => expect(e.digest.equals(es[i]!.digest)).toBe(true));
    const again = decodeDynamicIndex(encodeDynamicIndex(es, 5), what);
    expect(again.ctime).toBe(5);
    expect(again.entries.map((e) => e.end)).toEqual(idx.entries.map((e) => e.end));
  });

  it('an empty index has size 0', () => {
    const idx = decodeDynamicIndex(encodeDynamicIndex([], CTIME), what);
    expect(idx.entries).toEqual([]);
    expect(idx.size).toBe(0);
  });

  it('truncated header: E_INDEX_TRUNCATED', () => {
    for (const len of [0, 7, 64, 4095]) {
      expectFormatError(() => decodeDynamicIndex(buf.subarray(0, len), what), 'E_INDEX_TRUNCATED', what);
    }
  });

  it('partial entry (truncated or trailing bytes): E_INDEX_TRUNCATED', () => {
    expectFormatError(() => decodeDynamicIndex(buf.subarray(0, buf.length - 1), what), 'E_INDEX_TRUNCATED', what);
    expectFormatError(() => decodeDynamicIndex(buf.subarray(0, buf.length - 39), what), 'E_INDEX_TRUNCATED', what);
    expectFormatError(() => decodeDynamicIndex(Buffer.concat([buf, Buffer.alloc(8)]), what), 'E_INDEX_TRUNCATED', what);
  });

  it('a whole missing or extra entry: E_INDEX_CSUM', () => {
    expectFormatError(() => decodeDynamicIndex(buf.subarray(0, buf.length - 40), what), 'E_INDEX_CSUM', what);
    const extra = Buffer.concat([buf, dynamicEntryBytes(2_000_000, sha256('x'))]);
    expectFormatError(() => decodeDynamicIndex(extra, what), 'E_INDEX_CSUM', what);
  });

  it('wrong magic: E_INDEX_MAGIC (also for a fixed index)', () => {
    expectFormatError(() => decodeDynamicIndex(flipByte(buf, 0), what), 'E_INDEX_MAGIC', what);
    expectFormatError(() => decodeDynamicIndex(flipByte(buf, 5, 0x20), what), 'E_INDEX_MAGIC', what);
    const fixed = Buffer.from(buf);
    FIXED_INDEX_MAGIC.copy(fixed, 0);
    expectFormatError(() => decodeDynamicIndex(fixed, what), 'E_INDEX_MAGIC', what);
  });

  it('flipped digest, end offset or csum byte: E_INDEX_CSUM', () => {
    expectFormatError(() => decodeDynamicIndex(flipByte(buf, 4096 + 8), what), 'E_INDEX_CSUM', what);
    expectFormatError(() => decodeDynamicIndex(flipByte(buf, buf.length - 1), what), 'E_INDEX_CSUM', what);
    // Raise the last end offset by 2^24, so the offsets still increase and only the csum can tell.
    expectFormatError(() => decodeDynamicIndex(flipByte(buf, 4096 + 3 * 40 + 3, 0x01), what), 'E_INDEX_CSUM', what);
    expectFormatError(() => decodeDynamicIndex(flipByte(buf, 32), what), 'E_INDEX_CSUM', what);
  });

  it('end offsets that do not increase (empty or negative chunks): E_INDEX_ORDER', () => {
    for (const ends of [[100, 50], [100, 100], [10, 20, 20], [0, 0], [5, 0]]) {
      expectFormatError(() => decodeDynamicIndex(encodeDynamicIndex(entries(ends), 1), what), 'E_INDEX_ORDER', what);
    }
  });
});

describe('dynamicChunkAt / dynamicChunkStart', () => {
  const es = entries([10, 25, 26, 100]);

  it('finds the chunk for every offset, by brute force', () => {
    for (let pos = 0; pos < 100; pos++) {
      const i = dynamicChunkAt(es, pos);
      expect(dynamicChunkStart(es, i)).toBeLessThanOrEqual(pos);
      expect(es[i]!.end).toBeGreaterThan(pos);
    }
  });

  it('boundary cases', () => {
    expect(dynamicChunkAt(es, 0)).toBe(0);
    expect(dynamicChunkAt(es, 9)).toBe(0);
    expect(dynamicChunkAt(es, 10)).toBe(1);
    expect(dynamicChunkAt(es, 24)).toBe(1);
    expect(dynamicChunkAt(es, 25)).toBe(2);
    expect(dynamicChunkAt(es, 26)).toBe(3);
    expect(dynamicChunkAt(es, 99)).toBe(3);
    expect(dynamicChunkAt(es, 100)).toBe(-1);
    expect(dynamicChunkAt(es, 1e12)).toBe(-1);
  });

  it('empty and single-entry indexes', () => {
    expect(dynamicChunkAt([], 0)).toBe(-1);
    const one = entries([7]);
    expect(dynamicChunkAt(one, 0)).toBe(0);
    expect(dynamicChunkAt(one, 6)).toBe(0);
    expect(dynamicChunkAt(one, 7)).toBe(-1);
  });

  it('works on large indexes (offsets above 2^32)', () => {
    const big = entries(Array.from({ length: 1001 }, (_, i) => (i + 1) * 4 * 1024 * 1024 * 1024 + i));
    for (const i of [0, 1, 499, 500, 999, 1000]) {
      const start = dynamicChunkStart(big, i);
      expect(dynamicChunkAt(big, start)).toBe(i);
      expect(dynamicChunkAt(big, big[i]!.end - 1)).toBe(i);
    }
  });

  it('chunk starts', () => {
    expect(dynamicChunkStart(es, 0)).toBe(0);
    expect(dynamicChunkStart(es, 1)).toBe(10);
    expect(dynamicChunkStart(es, 3)).toBe(26);
  });
});
