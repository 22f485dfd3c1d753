#!/usr/bin/env bash
# Set up guestvault from a checkout and run the main job on the embedded default:
# the default datastore and storages, a small demo VM (created once: the Linux test guest with an
# ext4 data disk holding sample files and qemu-ga), a snapshot-mode backup of the running VM with
# a guest filesystem freeze, a restore as a new VM, and proof that the disks are identical; plus a
# host backup of a sample directory restored and compared.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export GUESTVAULT_HOME="${GUESTVAULT_HOME:-$PWD/var}"
gv() { node bin/guestvault.js "$@"; }
last_snapshot() { gv snapshots --store local "$1" --output-format json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).at(-1).snapshot))'; }
sample="$GUESTVAULT_HOME/sample"
restored="$GUESTVAULT_HOME/restored"
demo=100
copy=900

echo "== embedded default in $GUESTVAULT_HOME"
gv init
echo "== sample data"
node scripts/sample-data.js "$sample" 64

if ! gv vm config "$demo" >/dev/null 2>&1; then
  echo "== creating the demo VM $demo (test guest kernel + qemu-ga; an ext4 disk with the sample files)"
  guest_dir=$(bash scripts/build-test-guest.sh)
  truncate -s 256M "$sample/vm-disk.raw"
  mkfs.ext4 -q -F -d "$sample/dir" "$sample/vm-disk.raw"
  gv vm create "$demo" --name demo --memory 512 --agent 1 --virtio0 "local:0,import-from=$sample/vm-disk.raw" \
    --args "-no-reboot -kernel $guest_dir/vmlinuz -initrd $guest_dir/initrd.img -append \"console=ttyS0 panic=-1 quiet loglevel=3\""
  rm -f "$sample/vm-disk.raw"
fi
if [ "$(gv vm status "$demo" --output-format json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).status))')" != running ]; then
  gv vm start "$demo"
fi
echo "== waiting for the guest agent of VM $demo (the guest boots in about 8 s without KVM)"
node --input-type=module -e "
import { AgentClient } from './dist/guests/index.js';
const sock = process.env.GUESTVAULT_HOME + '/run/qemu/$demo.qga';
for (let i = 0; i < 240; i++) {
  try { const a = await AgentClient.connect(sock, { timeoutMs: 1000 }); await a.ping({ timeoutMs: 1000 }); await a.close(); console.log('guest agent answers'); process.exit(0); }
  catch { await new Promise((r) => setTimeout(r, 500)); }
}
console.log('guest agent not answering: the backup will be crash-consistent');
"

echo "== back up VM $demo in snapshot mode into storage local-store (datastore local)"
gv vzdump "$demo" --mode snapshot --storage local-store
snap=$(last_snapshot "vm/$demo")

echo "== restore $snap as VM $copy"
gv vm stop "$copy" >/dev/null 2>&1 || true
gv qmrestore "local-store:backup/$snap" "$copy" --force
gv vm config "$copy"

echo "== compare: the restored VM's disk against the backed-up disk"
rm -rf "$restored" && mkdir -p "$restored"
gv restore --store local "$snap" drive-virtio0.img "$restored/snapshot-disk.raw"
copy_disk=$(gv vm config "$copy" --output-format json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s).virtio0.split(",")[0];const [st,vol]=v.split(":");console.log(process.env.GUESTVAULT_HOME+"/images/"+vol)})')
qemu-img compare -U "$restored/snapshot-disk.raw" "$copy_disk"

echo "== the same VM as a vzdump archive (VMA, zstd) into storage local (dir: $GUESTVAULT_HOME/dump), restored as VM $((copy + 1))"
gv vzdump "$demo" --mode snapshot --storage local --compress zstd --prune-backups keep-last=2
archive=$(gv storage content local --content backup --vmid "$demo" --output-format json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).at(-1).volid))')
gv storage content local --content backup
gv vma verify "$GUESTVAULT_HOME/dump/${archive#local:backup/}"
gv vm stop "$((copy + 1))" >/dev/null 2>&1 || true
gv qmrestore "$archive" "$((copy + 1))" --force
gv vm config "$((copy + 1))"

echo "== host backup of a directory (host/demo), restored and compared"
gv backup --store local --backup-type host --backup-id demo root.tar:"$sample/dir"
gv restore --store local "$(last_snapshot host/demo)" root.tar "$restored/dir"
echo -n "directory: " && node scripts/compare-trees.js "$sample/dir" "$restored/dir"

echo "== snapshots and verification"
gv snapshots --store local
gv verify --store local
echo "== VMs"
gv vm list
echo "== default backup jobs (run by 'node bin/guestvault.js daemon'): they back up all VMs into local-store"
gv job list

echo "== the daemon: HTTPS API and web GUI on port 8007, and the scheduler of the backup jobs"
pidfile="$GUESTVAULT_HOME/run/guestvault-daemon.pid"
daemon_log="$GUESTVAULT_HOME/log/daemon.log"
mkdir -p "$GUESTVAULT_HOME/log"
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "already running (pid $(cat "$pidfile"); log $daemon_log)"
else
  nohup node bin/guestvault.js daemon >"$daemon_log" 2>&1 </dev/null &
  for _ in $(seq 1 150); do grep -q "API listening" "$daemon_log" && break; sleep 0.2; done
  grep -q "API listening" "$daemon_log" || { cat "$daemon_log"; echo "the daemon did not start (log above)" >&2; exit 1; }
fi
fingerprint=$(gv cert info --output-format json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).fingerprint))')
cat <<EOF

  guestvault is running. Open the web GUI:
    https://$(hostname -f 2>/dev/null || hostname):8007/   (or https://localhost:8007/ on this machine)
  The certificate is self-signed; check that your browser shows this SHA-256 fingerprint:
    $fingerprint
  Log in as root@pam with the password in $GUESTVAULT_HOME/etc/priv/root-password
    (cat it; change it with: GUESTVAULT_HOME=$GUESTVAULT_HOME node bin/guestvault.js user passwd root@pam)
  Then: Guests, VM $demo, Backup now; Storages, local-store, Restore.
  Daemon log: $daemon_log; stop the daemon with: kill \$(cat $pidfile)
  VM $demo keeps running; stop it with: GUESTVAULT_HOME=$GUESTVAULT_HOME node bin/guestvault.js vm shutdown $demo
EOF
