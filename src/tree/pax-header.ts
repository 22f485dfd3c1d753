/**
 * pax extended header records ("<len> <key>=<value>\n", POSIX.1-2001). The length counts bytes
 * of the whole record including itself, so values may hold arbitrary binary data (xattrs).
 */
import { GuestvaultError } from '../errors.js';

export type PaxRecord = [key: string, value: Buffer];

export function paxRecord(key: string, value: Buffer | string): Buffer {
  const v = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const rest = Buffer.byteLength(key, 'utf8') + v.length + 3; // ' ' + '=' + '\n'
  // The length prefix counts its own digits: grow until stable (at most one extra step).
  const digits = String(rest).length;
  let len = rest + digits;
  if (String(len).length !== digits) len = rest + String(len).length;
  return Buffer.concat([Buffer.from(`${len} ${key}=`, 'utf8'), v, Buffer.from('\n')]);
}

export function encodePaxRecords(records: readonly PaxRecord[]): Buffer {
  return Buffer.concat(records.map(([k, v]) => paxRecord(k, v)));
}

/** Parses all records in order (order matters for GNU sparse 0.0, whose offset/numbytes keys repeat). */
export function decodePaxRecords(data: Buffer, offset: number): PaxRecord[] {
  const out: PaxRecord[] = [];
  let pos = 0;
  while (pos < data.length) {
    // Some writers pad the data with NULs.
    if (data[pos] === 0) break;
    const space = data.indexOf(0x20, pos);
    const lenText = space === -1 ? '' : data.toString('ascii', pos, space);
    const len = /^[0-9]{1,12}$/.test(lenText) ? Number(lenText) : NaN;
    if (!(len > 0) || pos + len > data.length || data[pos + len - 1] !== 0x0a) {
      throw new GuestvaultError('E_TAR_CORRUPT', `pax extended header at offset ${offset}: malformed record at byte ${pos}`);
    }
    const record = data.subarray(space + 1, pos + len - 1);
    const eq = record.indexOf(0x3d);
    if (eq <= 0) {
      throw new GuestvaultError('E_TAR_CORRUPT', `pax extended header at offset ${offset}: record at byte ${pos} has no key`);
    }
    out.push([record.toString('utf8', 0, eq), Buffer.from(record.subarray(eq + 1))]);
    pos += len;
  }
  return out;
}

const NS_PER_S = 1_000_000_000n;

/**
 * Formats a nanosecond timestamp as the decimal seconds pax wants ("1700000000.123456789"),
 * trailing zeros of the fraction dropped. Negative times are written as a negative decimal.
 */
export function paxTime(ns: bigint): string {
  const neg = ns < 0n;
  const abs = neg ? -ns : ns;
  const sec = abs / NS_PER_S;
  const frac = (abs % NS_PER_S).toString().padStart(9, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${sec}${frac ? `.${frac}` : ''}`;
}

export function parsePaxNumber(value: Buffer, key: string, offset: number): number {
  const text = value.toString('ascii');
  if (!/^-?[0-9]+(\.[0-9]*)?$/.test(text)) {
    throw new GuestvaultError('E_TAR_CORRUPT', `pax extended header at offset ${offset}: ${key}=${JSON.stringify(text)} is not a number`);
  }
  return Number(text);
}
