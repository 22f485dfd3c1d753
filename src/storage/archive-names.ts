/**
 * vzdump archive file names, as Proxmox VE's storage layer reads them: type, VMID and time from
 * a standard name (`vzdump-qemu-100-2026_11_27-23_00_00.vma.zst`, local time), compression from
 * the extension. Archives with other names are still backups, but retention never touches them.
 */
export interface ArchiveInfo {
  filename: string;
  /** `<basename>.log`, without the archive extension (standard names only, as Proxmox). */
  logfilename?: string;
  notesfilename?: string;
  type: 'qemu' | 'lxc' | 'openvz';
  format: 'vma' | 'tar';
  compression?: 'gz' | 'lzo' | 'zst' | 'bz2';
  vmid?: number;
  /** Seconds since the epoch, from the name's local time. */
  ctime?: number;
  isStdName: boolean;
}

const NAME_RE = /^(vzdump-(lxc|openvz|qemu)-.+)\.(tgz|(?:tar|vma)(?:\.(gz|lzo|zst|bz2))?)$/;
const STD_RE = /^vzdump-(?:lxc|openvz|qemu)-([1-9][0-9]{2,8})-(\d{4})_(\d{2})_(\d{2})-(\d{2})_(\d{2})_(\d{2})$/;

/** Parses an archive file name (a path's directories are ignored); undefined if it is not one. */
export function parseArchiveName(path: string): ArchiveInfo | undefined {
  const filename = path.slice(path.lastIndexOf('/') + 1);
  const m = NAME_RE.exec(filename);
  if (!m) return undefined;
  const [, base, type, ext, comp] = m as unknown as [string, string, ArchiveInfo['type'], string, ArchiveInfo['compression']];
  const info: ArchiveInfo = {
    filename,
    type,
    format: ext === 'tgz' || ext.startsWith('tar') ? 'tar' : 'vma',
    isStdName: false,
  };
  if (ext === 'tgz') info.compression = 'gz';
  else if (comp) info.compression = comp;
  const s = STD_RE.exec(base);
  if (s) {
    const [, vmid, y, mo, d, h, mi, sec] = s.map(Number) as number[];
    info.vmid = vmid!;
    info.ctime = Math.floor(new Date(y!, mo! - 1, d!, h!, mi!, sec!).getTime() / 1000);
    info.isStdName = true;
    info.logfilename = `${base}.log`;
    info.notesfilename = `${filename}.notes`;
  }
  return info;
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** `vzdump-<type>-<vmid>-YYYY_MM_DD-HH_MM_SS` in local time. */
export function archiveBasename(type: 'qemu' | 'lxc', vmid: string, time: number): string {
  const d = new Date(time * 1000);
  return `vzdump-${type}-${vmid}-${pad(d.getFullYear(), 4)}_${pad(d.getMonth() + 1)}_${pad(d.getDate())}-${pad(d.getHours())}_${pad(d.getMinutes())}_${pad(d.getSeconds())}`;
}
